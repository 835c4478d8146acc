"""When CI runs the all-in-one install test (./run-install-test --needed-since), on a clone."""

import subprocess
from pathlib import Path

import pytest

from tests.git_clone import clone_with_script, needed_after_touching


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    return clone_with_script(tmp_path_factory.mktemp("repo"), "run-install-test")


def needed(clone: Path, touched: str) -> bool:
    return needed_after_touching(clone, "run-install-test", touched)


@pytest.mark.parametrize(
    "touched",
    ["installer/tenrec/install/plan.py", "roles/openvswitch/tasks/main.yml", "installer/tenrec/config/model.py"],
)
def test_a_change_to_what_it_covers_runs_it(clone, touched):
    assert needed(clone, touched)


@pytest.mark.parametrize("touched", ["README.md", "roles/glance/defaults/main.yml", "installer/tenrec/verify/image.py"])
def test_other_changes_do_not(clone, touched):
    assert not needed(clone, touched)


def test_an_unknown_commit_runs_it(clone):
    result = subprocess.run(["./run-install-test", "--needed-since", "0" * 40], cwd=clone, check=False)
    assert result.returncode == 0


def test_of_pyproject_only_what_installing_tenrec_reads_runs_it(clone):
    git = ["git", "-C", str(clone)]
    pyproject = clone / "pyproject.toml"
    original = pyproject.read_text()
    base = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()

    def after(text: str) -> bool:
        pyproject.write_text(text)
        subprocess.run([*git, "commit", "-qam", "pyproject"], check=True)
        return subprocess.run(["./run-install-test", "--needed-since", base], cwd=clone, check=False).returncode == 0

    assert "markers = [" in original and '"rich>=' in original
    assert not after(original.replace("markers = [", 'markers = [\n  "new: a marker of pytest",'))
    assert after(original.replace('"rich>=', '"rich>=14,<16",\n  "rich>='))
