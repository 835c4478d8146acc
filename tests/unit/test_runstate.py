"""One deploy at a time per deployment, and where an unfinished one stopped."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys

import pytest
from rich.console import Console

from tenrec.runner import Progress, ansible_processes, stop_ansible, stop_requests
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


def _events(play: str, steps: list[tuple[str, str, str]]) -> list[dict]:
    """ansible-runner's events for these (host, role, task) starts, as the free strategy sends
    them: each node's task start, then that node's runner_on_start."""
    events = [{"event": "playbook_on_play_start", "event_data": {"play": play}}]
    for host, role, task in steps:
        context = {"play": play, "task": task, "role": role}
        events.append({"event": "playbook_on_task_start", "event_data": context})
        events.append({"event": "runner_on_start", "event_data": {**context, "host": host}})
    return events


def test_the_roles_each_node_finished_are_recorded_under_the_free_strategy(tmp_path):
    runs = RunState(tmp_path)
    steps = [
        ("ctl1", "tenrec.cloud.common", "Install packages"),
        ("cmp1", "tenrec.cloud.common", "Install packages"),
        ("ctl1", "tenrec.cloud.mariadb", "Install MariaDB"),
        ("cmp1", "tenrec.cloud.common", "Set the time zone"),  # cmp1 is still in common
        ("ctl1", "", "Include RabbitMQ"),  # a play's own task belongs to no role
        ("ctl1", "tenrec.cloud.rabbitmq", "Install RabbitMQ"),
        ("ctl1", "tenrec.cloud.glance", "Lay down glance"),
        # glance includes openstack_service, then goes on: glance is not done yet.
        ("ctl1", "tenrec.cloud.openstack_service", "Lay down the venv"),
        ("cmp1", "tenrec.cloud.openvswitch", "Install Open vSwitch"),
        ("ctl1", "tenrec.cloud.glance", "Register glance"),
    ]
    with pytest.raises(KeyboardInterrupt), runs.running("full") as run:
        progress = Progress(
            Console(file=io.StringIO()), io.StringIO(), (), 2, on_task=run.at, on_host_start=run.host_at, quiet=True
        )
        for event in _events("Deploy every node", steps):
            progress.handle(event)
        raise KeyboardInterrupt
    previous = runs.previous()
    assert previous is not None
    assert previous.roles_done == {"ctl1": ["common", "mariadb", "rabbitmq", "openstack_service"], "cmp1": ["common"]}
    assert previous.role == {"ctl1": "glance", "cmp1": "openvswitch"}
    assert (previous.play, previous.task) == ("Deploy every node", "Register glance")
    message = " ".join(unfinished_message(previous).split())
    assert "The roles each node had finished (cmp1: common; ctl1: common, mariadb, rabbitmq, openstack_service)" in (
        message
    )


def test_a_marker_of_the_older_format_still_says_where_it_stopped(tmp_path):
    runs = RunState(tmp_path)
    older = {"pid": 4242, "started": "2026-12-01 21:00:00", "scope": "full", "play": "P", "task": "T"}
    runs.marker.write_text(json.dumps({**older, "hosts_done": [], "roles_done": ["common"], "role": "mariadb"}))
    previous = runs.previous()
    assert previous is not None and previous.roles_done == {} and previous.role == {}
    message = unfinished_message(previous)
    assert "it stopped in play 'P', task 'T'." in message and "finished (" not in message


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
