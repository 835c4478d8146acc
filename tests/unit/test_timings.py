"""The timings callback and the per-phase and per-service figures made from it."""

import os
import subprocess
import sys
from pathlib import Path

from tenrec import timings
from tests.ansible_local import REPO, ansible_env


def test_callback_attributes_tasks_to_plays_and_outermost_roles(tmp_path):
    roles = tmp_path / "roles"
    (roles / "outer/tasks").mkdir(parents=True)
    (roles / "inner/tasks").mkdir(parents=True)
    (roles / "outer/tasks/main.yml").write_text(
        "- name: Outer's own task\n  ansible.builtin.command: 'true'\n  changed_when: false\n"
        "- name: Include inner\n  ansible.builtin.include_role: {name: inner}\n"
    )
    (roles / "inner/tasks/main.yml").write_text(
        "- name: Inner's task\n  ansible.builtin.debug: {msg: hi}\n"
        "- name: Inner's skipped task\n  ansible.builtin.debug: {msg: never}\n  when: false\n"
    )
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- name: First phase\n  hosts: localhost\n  gather_facts: false\n  roles: [outer]\n"
        "- name: Second phase\n  hosts: localhost\n  gather_facts: false\n"
        "  tasks:\n    - name: A play task\n      ansible.builtin.debug: {msg: x}\n"
    )
    output = tmp_path / "timings.json"
    env = {
        **ansible_env(tmp_path / "home"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
        "ANSIBLE_CALLBACKS_ENABLED": "tenrec.cloud.timings",
        "ANSIBLE_ROLES_PATH": str(roles),
        "TENREC_TIMINGS_FILE": str(output),
    }
    done = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
         "-e", f"ansible_python_interpreter={sys.executable}", str(playbook)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    document = timings.load(output)
    assert [play["name"] for play in document["plays"]] == ["First phase", "Second phase"]
    by_task = {task["task"].split(" : ")[-1]: task for task in document["tasks"]}
    assert by_task["Inner's task"]["service"] == "outer" and by_task["Inner's task"]["role"] == "inner"
    assert by_task["Inner's skipped task"]["status"] == "skipped"
    assert by_task["A play task"]["service"] == ""
    phases = {cost.name: cost for cost in timings.by_phase(document)}
    assert phases["First phase"].ran == 3 and phases["First phase"].skipped == 1
    services = {cost.name: cost for cost in timings.by_service(document)}
    assert services["outer"].ran == 3
    assert all(task["seconds"] >= 0 for task in document["tasks"])
    assert os.path.getsize(output) > 0
