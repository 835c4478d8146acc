"""Which molecule scenarios CI runs for a change (./run-molecule --changed-since), on a clone."""

import os
import subprocess
from pathlib import Path

import pytest

from tests.git_clone import clone_with_script

HERE = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    return clone_with_script(tmp_path_factory.mktemp("repo"), "run-molecule")


def selection(clone: Path, *touched: str) -> list[str]:
    git = ["git", "-C", str(clone)]
    base = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout
    for name in touched:
        with open(clone / name, "a", encoding="utf-8") as handle:
            handle.write("\n")
    if touched:
        subprocess.run(["git", "-C", str(clone), "commit", "-qam", "touch"], check=True)
    result = subprocess.run(
        ["./run-molecule", "--changed-since", base.strip()],
        cwd=clone,
        capture_output=True,
        text=True,
        env={**os.environ, "TENREC_MOLECULE_LIST": "1", "TENREC_VENV": str(HERE / ".venv")},
        check=True,
    )
    return sorted(line for line in result.stdout.splitlines() if not line.startswith("molecule:"))


def test_a_role_change_runs_that_role_scenario_only(clone):
    assert selection(clone, "roles/mariadb/defaults/main.yml") == ["mariadb"]


def test_a_used_role_does_not_pull_in_the_scenarios_that_use_it(clone):
    # nova's scenario runs openvswitch too: the integration test covers them together.
    assert selection(clone, "roles/openvswitch/defaults/main.yml") == ["openvswitch"]


def test_a_scenario_change_runs_that_scenario(clone):
    assert selection(clone, "molecule/nova/converge.yml", "roles/libvirt/defaults/main.yml") == ["libvirt", "nova"]


def test_shared_machinery_runs_the_canary(clone):
    assert selection(clone, "plugins/modules/packages.py", "roles/openstack_service/defaults/main.yml") == ["placement"]


def test_documentation_runs_no_scenario(clone):
    assert selection(clone, "README.md") == []


def test_an_unknown_commit_runs_every_scenario(clone):
    result = subprocess.run(
        ["./run-molecule", "--changed-since", "0" * 40],
        cwd=clone,
        capture_output=True,
        text=True,
        env={**os.environ, "TENREC_MOLECULE_LIST": "1", "TENREC_VENV": str(HERE / ".venv")},
        check=True,
    )
    every = sorted(p.parent.name for p in (HERE / "molecule").glob("*/molecule.yml"))
    assert sorted(result.stdout.split()) == every and len(every) >= 11
