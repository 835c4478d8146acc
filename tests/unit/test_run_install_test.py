"""When CI runs the all-in-one install test (./run-install-test --needed-since), on a clone."""

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
    # The run-install-test of the working tree, which may not be committed yet.
    script = path / "run-install-test"
    script.write_text((HERE / "run-install-test").read_text())
    script.chmod(0o755)
    subprocess.run(["git", "-C", str(path), "add", "run-install-test"], check=True)
    subprocess.run(["git", "-C", str(path), "commit", "-qam", "working tree", "--allow-empty"], check=True)
    return path


def needed(clone: Path, touched: str) -> bool:
    git = ["git", "-C", str(clone)]
    base = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    with open(clone / touched, "a", encoding="utf-8") as handle:
        handle.write("\n")
    subprocess.run([*git, "commit", "-qam", f"touch {touched}"], check=True)
    result = subprocess.run(["./run-install-test", "--needed-since", base], cwd=clone, check=False)
    return result.returncode == 0


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
