"""When CI runs the VM scenario's CI part (./run-vm-test --needed-since), on a clone."""

import subprocess
from pathlib import Path

import pytest

from tests.git_clone import clone_with_script, needed_after_touching


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    return clone_with_script(tmp_path_factory.mktemp("repo"), "run-vm-test")


def needed(clone: Path, touched: str) -> bool:
    return needed_after_touching(clone, "run-vm-test", touched)


@pytest.mark.parametrize(
    "touched",
    [
        "installer/tenrec/lab/vm.py",
        "roles/iscsi_target/tasks/lio.yml",
        "roles/openvswitch/tasks/main.yml",
        "roles/cinder/templates/volume-group.sh.j2",
        "plugins/modules/node_probe.py",
        "tests/integration/vm_kernel_paths.yml",
        "tests/vm_lab.py",
    ],
)
def test_a_change_to_what_it_covers_runs_it(clone, touched):
    assert needed(clone, touched)


@pytest.mark.parametrize(
    "touched",
    [
        "README.md",
        "roles/cinder/tasks/main.yml",
        "roles/glance/defaults/main.yml",
        "plugins/modules/keystone_catalog.py",
    ],
)
def test_other_changes_do_not(clone, touched):
    assert not needed(clone, touched)


def test_an_unknown_commit_runs_it(clone):
    result = subprocess.run(["./run-vm-test", "--needed-since", "0" * 40], cwd=clone, check=False)
    assert result.returncode == 0
