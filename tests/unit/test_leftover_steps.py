"""The precheck's wait for steps a killed run left on a node, on a made-up /proc and on this one."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "collections"))

from ansible_collections.tenrec.cloud.plugins.module_utils import leftover_steps


def fake_process(proc: Path, pid: int, parent: int, *argv: str) -> None:
    entry = proc / str(pid)
    entry.mkdir()
    (entry / "stat").write_bytes(f"{pid} (x) S {parent} 1 1 0".encode())
    (entry / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")


def test_finds_other_runs_steps_by_what_they_do_now_and_not_its_own(tmp_path):
    fake_process(tmp_path, 1, 0, "/sbin/init")
    fake_process(tmp_path, 132, 1, "sshd: root@notty")
    # A killed run's module, restarting MariaDB.
    fake_process(tmp_path, 2119, 132, "/bin/sh", "-c", "/usr/bin/python3 && sleep 0")
    fake_process(tmp_path, 2120, 2119, "/usr/bin/python3")
    fake_process(tmp_path, 2746, 2120, "systemctl", "restart", "mariadb")
    # This probe's own chain.
    fake_process(tmp_path, 3000, 132, "/bin/sh", "-c", "/usr/bin/python3 && sleep 0")
    fake_process(tmp_path, 3001, 3000, "/usr/bin/python3")
    # Something else entirely.
    fake_process(tmp_path, 900, 1, "/usr/sbin/chronyd", "-F", "1")
    # This node is also the deploy host: the run's connection to another node runs a step there.
    fake_process(tmp_path, 4000, 1, "/usr/bin/ssh", "-C", "root@10.0.0.31", "/bin/sh -c '/usr/bin/python3 && sleep 0'")
    assert leftover_steps.find(3001, proc=str(tmp_path)) == {2119: "systemctl restart mariadb"}


def test_only_looking_reports_without_waiting(tmp_path):
    fake_process(tmp_path, 1, 0, "/sbin/init")
    fake_process(tmp_path, 50, 1, "/usr/bin/python3", "/root/.ansible/tmp/ansible-tmp-1/AnsiballZ_command.py")
    result = leftover_steps.wait(0, own_pid=1, proc=str(tmp_path))
    found = {"50": "/usr/bin/python3 /root/.ansible/tmp/ansible-tmp-1/AnsiballZ_command.py"}
    assert result == {"found": found, "waited": 0.0, "still_running": {}}


def started_as_a_step(pid: int) -> None:
    """Until the shell runs its command (a child of its own, exec'd): before, the step's
    deepest command is the shell or this test (a loaded machine outlasts any fixed sleep)."""
    deadline = time.monotonic() + 10
    shell = Path(f"/proc/{pid}/cmdline")
    while time.monotonic() < deadline:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if any(Path(f"/proc/{child}/cmdline").read_bytes() != shell.read_bytes() for child in children):
            return
        time.sleep(0.01)


def test_waits_for_a_real_step_to_end():
    # Named as Ansible runs a module; it ends after 1.5 s.
    step = subprocess.Popen(["/bin/sh", "-c", f"{sys.executable} -c 'import time; time.sleep(1.5)' && sleep 0"])
    try:
        started_as_a_step(step.pid)
        started = time.monotonic()
        result = leftover_steps.wait(15, poll=0.1)
        took = time.monotonic() - started
    finally:
        step.wait()
    assert str(step.pid) in result["found"]
    assert str(step.pid) not in result["still_running"]
    assert took > 1.0, took
    # A lab's container nodes beside this test run Ansible's steps in this /proc too; the
    # wait is for them as well, so its end is only ours to judge when it found ours alone.
    if list(result["found"]) == [str(step.pid)]:
        assert took < 10, took


def test_gives_up_after_the_timeout_and_names_what_still_runs():
    step = subprocess.Popen(["/bin/sh", "-c", "sleep 30 && sleep 0"])
    try:
        started_as_a_step(step.pid)
        result = leftover_steps.wait(1, poll=0.2)
    finally:
        step.kill()
        step.wait()
    assert result["still_running"][str(step.pid)] == "sleep 30"
    assert result["waited"] >= 1
