"""One deploy at a time per deployment, and where an unfinished one stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tenrec.runner import ansible_processes, stop_ansible, stop_requests
from tenrec.runstate import DeployRunning, RunState, unfinished_message


def test_a_finished_run_leaves_no_marker(tmp_path):
    runs = RunState(tmp_path)
    with runs.running("full") as run:
        run.at("Deploy every node", "Install neutron")
        data = json.loads(runs.marker.read_text())
        assert (data["pid"], data["scope"], data["task"]) == (os.getpid(), "full", "Install neutron")
    assert runs.previous() is None


def test_an_interrupted_run_says_where_it_stopped(tmp_path):
    runs = RunState(tmp_path)
    with pytest.raises(KeyboardInterrupt), runs.running("only glance") as run:
        run.at("Deploy every node", "Fill the wheel repositories")
        raise KeyboardInterrupt
    previous = runs.previous()
    assert previous is not None and previous.interrupted
    message = unfinished_message(previous)
    assert "only glance) was interrupted: it stopped in play 'Deploy every node', task 'Fill the wheel" in message


def test_the_roles_every_node_finished_are_recorded_for_the_next_run(tmp_path):
    runs = RunState(tmp_path)
    with pytest.raises(KeyboardInterrupt), runs.running("full") as run:
        run.at("Deploy", "Install MariaDB", "tenrec.cloud.mariadb")
        run.at("Deploy", "Install RabbitMQ", "tenrec.cloud.rabbitmq")
        run.at("Deploy", "Lay down glance", "tenrec.cloud.glance")
        # glance includes openstack_service, then goes on: glance is not done yet.
        run.at("Deploy", "Lay down the venv", "tenrec.cloud.openstack_service")
        run.at("Deploy", "Register glance", "tenrec.cloud.glance")
        run.at("Deploy", "Lay down nova", "tenrec.cloud.nova")
        raise KeyboardInterrupt
    previous = runs.previous()
    assert previous is not None
    assert previous.roles_done == ["mariadb", "rabbitmq", "openstack_service", "glance"]
    assert "finished 4 role(s) on every node (mariadb, rabbitmq, openstack_service, glance)" in (
        unfinished_message(previous)
    )


def test_a_killed_run_is_told_apart_from_an_interrupted_one(tmp_path):
    runs = RunState(tmp_path)
    runs.marker.write_text(json.dumps({"pid": 4242, "started": "2026-12-01 21:00:00", "scope": "full", "play": "P"}))
    message = unfinished_message(runs.previous())
    assert "did not finish (killed, or this machine went down): it stopped in play 'P'" in message
    # The next run starts anyway (the marker is no lock) and clears it when it ends.
    with runs.running("full"):
        pass
    assert runs.previous() is None


def test_a_second_deploy_on_the_same_deployment_is_refused(tmp_path):
    first = RunState(tmp_path)
    with first.running("full"):
        with (
            pytest.raises(
                DeployRunning, match=f"another tenrec deploy is running on this deployment \\(pid {os.getpid()}"
            ),
            RunState(tmp_path).running("full"),
        ):
            pass
        assert first.previous() is not None  # the refused one did not touch the running one's marker


def test_sigint_and_sigterm_become_a_stop_request_while_ansible_runs():
    with stop_requests() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.is_set()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_what_a_killed_run_left_of_ansible_is_stopped_even_if_it_ignores_sigterm(tmp_path):
    inventory = tmp_path / ".tenrec" / "inventory"
    fake = tmp_path / "bin" / "ansible-playbook"
    fake.parent.mkdir()
    # Like a worker busy with its task: it ignores SIGTERM.
    fake.write_text(
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\ntime.sleep(60)\n"
    )
    other = subprocess.Popen([sys.executable, str(fake), "-i", str(tmp_path / "elsewhere"), "site.yml"])
    proc = subprocess.Popen([sys.executable, str(fake), "-i", str(inventory), "site.yml"], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"up\n"
        assert ansible_processes(inventory) == [proc.pid]
        assert stop_ansible(inventory, grace=1.0) == [proc.pid]
        assert proc.wait(timeout=10) == -signal.SIGKILL
        assert ansible_processes(inventory) == []
        assert other.poll() is None, "another deployment's Ansible is left alone"
    finally:
        for child in (proc, other):
            child.kill()
            child.wait()


def test_a_step_the_killed_run_had_started_ends_before_ansible_is_stopped(tmp_path):
    """With connection local a step runs here, as Ansible's child: it is let finish (not cut
    mid-dpkg), and no new step starts meanwhile."""
    inventory = tmp_path / ".tenrec" / "inventory"
    done = tmp_path / "step-done"
    fake = tmp_path / "bin" / "ansible-playbook"
    fake.parent.mkdir()
    step = f"import time, pathlib; time.sleep(2); pathlib.Path({str(done)!r}).write_text('ok')"
    fake.write_text(
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', {step!r}])\n"
        "print('up', flush=True)\n"
        "child.wait()\n"
        f"open({str(tmp_path / 'next-step')!r}, 'w').write('started')\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, str(fake), "-i", str(inventory), "site.yml"], stdout=subprocess.PIPE)
    waits: list[str] = []
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"up\n"
        assert stop_ansible(inventory, grace=1.0, on_wait=waits.append) == [proc.pid]
        assert done.read_text() == "ok", "the running step finished"
        assert not (tmp_path / "next-step").exists(), "no step started after the freeze"
        assert proc.wait(timeout=10) < 0
        assert waits and "1 step process(es)" in waits[0]
    finally:
        proc.kill()
        proc.wait()
