"""Which molecule scenarios CI runs for a change (./run-molecule --changed-since), on a clone."""

import os
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    path = tmp_path_factory.mktemp("repo") / "tenrec"
    subprocess.run(["git", "clone", "-q", "--shared", str(HERE), str(path)], check=True)
    for key, value in {"user.email": "ci@tenrec.invalid", "user.name": "ci"}.items():
        subprocess.run(["git", "-C", str(path), "config", key, value], check=True)
    # The run-molecule of the working tree, which may not be committed yet.
    (path / "run-molecule").write_text((HERE / "run-molecule").read_text())
    subprocess.run(["git", "-C", str(path), "commit", "-qam", "working tree", "--allow-empty"], check=True)
    return path


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
