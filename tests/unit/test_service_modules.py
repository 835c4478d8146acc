"""service_install, service_start and packages run for real on this machine (files in a temp dir)."""

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile

import pytest

from tests.ansible_local import run_json

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the modules set owners: root only")


def run_module(tmp_path, module, args, check=False):
    (tmp_path / "args.json").write_text(json.dumps({"module_args": args}))
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        f"    - tenrec.cloud.{module}: '{{{{ module_args }}}}'\n"
        f"      check_mode: {str(check).lower()}\n"
        "      vars:\n        ansible_python_interpreter: " + sys.executable + "\n"
    )
    result = run_json("ansible-playbook", ["-e", f"@{tmp_path / 'args.json'}", str(playbook)], tmp_path / "home")
    return result["plays"][0]["tasks"][0]["hosts"]["localhost"]


RING = bytes(range(256)) * 4  # binary content, as Swift's gzipped rings


def layout(root):
    return {
        "directories": [{"path": str(root / "etc"), "mode": "0750"}],
        "files": [
            {"dest": str(root / "etc/a.conf"), "content": "secret = hunter2\n", "mode": "0640"},
            {"dest": str(root / "etc/unit.txt"), "content": "unit\n", "restart": False},
            {"dest": str(root / "etc/copy.txt"), "copy_from": str(root / "source.txt")},
            {"dest": str(root / "etc/ring.gz"), "content_b64": base64.b64encode(RING).decode(), "restart": False},
        ],
        "links": [{"src": "etc/a.conf", "dest": str(root / "link")}],
        "restart_mark": str(root / "restart"),
        "db_marker": str(root / "db-synced"),
        "check_paths": [str(root / "etc/a.conf"), str(root / "nothing")],
        "remove_matching": str(root / "etc/*.old"),
    }


def test_service_install_lays_down_repairs_and_stays_quiet(tmp_path):
    root = tmp_path / "node"
    root.mkdir()
    (root / "source.txt").write_text("from the venv\n")
    (root / "etc").mkdir()
    (root / "etc/stale.old").write_text("old mark\n")
    first = run_module(tmp_path, "service_install", layout(root))
    assert first["changed"], first
    assert (root / "etc/a.conf").read_text() == "secret = hunter2\n"
    assert stat.S_IMODE((root / "etc/a.conf").stat().st_mode) == 0o640
    assert stat.S_IMODE((root / "etc").stat().st_mode) == 0o750
    assert (root / "etc/copy.txt").read_text() == "from the venv\n"
    assert (root / "etc/ring.gz").read_bytes() == RING
    assert os.readlink(root / "link") == "etc/a.conf"
    assert not (root / "etc/stale.old").exists()
    assert (root / "restart").exists(), "a changed config leaves the restart mark"
    assert first["db_sync_needed"] is True
    assert first["paths_present"] == [str(root / "etc/a.conf")]
    assert "hunter2" not in json.dumps(first), "contents are never returned"

    (root / "restart").unlink()
    second = run_module(tmp_path, "service_install", layout(root))
    assert second["changed"] is False, second["changed_files"]
    assert not (root / "restart").exists()

    # Drift: a hand edit, a wrong mode and a deleted link are put back; only the config restarts.
    (root / "etc/a.conf").write_text("secret = edited\n")
    (root / "etc/unit.txt").chmod(0o600)
    (root / "link").unlink()
    third = run_module(tmp_path, "service_install", layout(root))
    assert set(third["changed_files"]) == {str(root / "etc/a.conf"), str(root / "etc/unit.txt"), str(root / "link")}
    assert (root / "etc/a.conf").read_text() == "secret = hunter2\n"
    assert stat.S_IMODE((root / "etc/unit.txt").stat().st_mode) == 0o644
    assert (root / "restart").exists()


def test_service_install_removes_what_a_killed_run_was_writing(tmp_path):
    root = tmp_path / "node"
    root.mkdir()
    (root / "source.txt").write_text("from the venv\n")
    run_module(tmp_path, "service_install", layout(root))
    # A run killed inside write_bytes: its temporary file beside a.conf, the real file intact.
    debris = root / "etc/.tenrec-tmp-k1ll3d"
    debris.write_text("secret = hun")
    again = run_module(tmp_path, "service_install", layout(root))
    assert not debris.exists()
    assert again["changed_files"] == [f"removed {debris} (left by an interrupted run)"]
    assert (root / "etc/a.conf").read_text() == "secret = hunter2\n"
    assert run_module(tmp_path, "service_install", layout(root))["changed"] is False


def test_service_install_check_mode_changes_nothing(tmp_path):
    root = tmp_path / "node"
    root.mkdir()
    (root / "source.txt").write_text("x\n")
    result = run_module(tmp_path, "service_install", layout(root), check=True)
    assert result["changed"] is True
    assert not (root / "etc").exists()


def test_service_install_refuses_a_file_that_fails_validation(tmp_path):
    dest = tmp_path / "sudoers"
    args = {"files": [{"dest": str(dest), "content": "not sudoers syntax ((\n", "validate": "/bin/false %s"}]}
    result = run_module(tmp_path, "service_install", args)
    assert result.get("failed"), result
    assert "validation failed" in result["msg"]
    assert not dest.exists(), "nothing half-written is left"


def test_packages_reads_dpkg_and_installs_nothing_when_present(tmp_path):
    result = run_module(tmp_path, "packages", {"names": ["dpkg", "coreutils"]})
    assert result["changed"] is False and result["installed"] == []
    missing = run_module(tmp_path, "packages", {"names": ["dpkg", "tenrec-no-such-package"]}, check=True)
    assert missing["changed"] is True and missing["installed"] == ["tenrec-no-such-package"]


DUMMY_PACKAGE = "tenrec-test-dummy"


@pytest.fixture
def dummy_package(tmp_path):
    """A real package with no files and no dependencies, installed on this machine by dpkg
    for the test and purged after it."""
    if shutil.which("dpkg-deb") is None:
        pytest.skip("no dpkg on this machine")
    control = tmp_path / "deb" / "DEBIAN" / "control"
    control.parent.mkdir(parents=True)
    control.write_text(
        f"Package: {DUMMY_PACKAGE}\nVersion: 1.0\nArchitecture: all\nMaintainer: tenrec tests <ci@tenrec.invalid>\n"
        "Description: removed again by the packages module's test\n"
    )
    deb = tmp_path / "dummy.deb"
    subprocess.run(["dpkg-deb", "--build", str(tmp_path / "deb"), str(deb)], check=True, capture_output=True)
    subprocess.run(["dpkg", "-i", str(deb)], check=True, capture_output=True)
    try:
        yield DUMMY_PACKAGE
    finally:
        subprocess.run(["dpkg", "--purge", DUMMY_PACKAGE], check=False, capture_output=True)


def dpkg_status(package: str) -> str:
    result = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False)
    return result.stdout.strip()


def test_packages_removes_what_is_absent_and_then_stays_quiet(tmp_path, dummy_package):
    # A name only provided by an installed package is no package to remove (Debian's awk).
    args = {"absent": [dummy_package, "awk"]}
    checked = run_module(tmp_path, "packages", args, check=True)
    assert checked["changed"] is True and checked["removed"] == [dummy_package]
    assert dpkg_status(dummy_package) == "install ok installed", "check mode removed it"
    removed = run_module(tmp_path, "packages", args)
    assert removed["changed"] is True and removed["removed"] == [dummy_package] and removed["installed"] == []
    assert dpkg_status(dummy_package) != "install ok installed"
    again = run_module(tmp_path, "packages", args)
    assert again["changed"] is False and again["removed"] == []


def test_packages_refuses_a_package_wanted_both_ways(tmp_path):
    result = run_module(tmp_path, "packages", {"names": ["dpkg", "tgt"], "absent": ["tgt"]})
    assert result.get("failed") and "wanted both installed and absent: tgt" in result["msg"]


def test_service_start_reports_a_unit_that_cannot_start(tmp_path):
    if not os.path.isdir("/run/systemd/system"):
        pytest.skip("no systemd on this machine")
    result = run_module(tmp_path, "service_start", {"units": ["tenrec-no-such-unit"]})
    assert result.get("failed")


def test_service_install_manages_a_block_and_keeps_the_rest_of_the_file(tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n127.0.1.1 old-name\n10.0.0.9 operator-entry\n")
    hosts.chmod(0o644)
    args = {
        "blocks": [
            {
                "path": str(hosts),
                "marker": "tenrec nodes",
                "block": "10.0.0.1 ctl1\n10.0.0.2 cmp1\n",
                "drop_lines": r"^127\.0\.1\.1\s",
            }
        ]
    }
    first = run_module(tmp_path, "service_install", args)
    assert first["changed"] and first["changed_files"] == [str(hosts)]
    assert hosts.read_text() == (
        "127.0.0.1 localhost\n10.0.0.9 operator-entry\n"
        "# BEGIN tenrec nodes\n10.0.0.1 ctl1\n10.0.0.2 cmp1\n# END tenrec nodes\n"
    )
    assert run_module(tmp_path, "service_install", args)["changed"] is False

    # A hand edit inside the block is put back; what the operator added after it stays.
    hosts.write_text(hosts.read_text().replace("10.0.0.2 cmp1", "10.9.9.9 cmp1") + "10.0.0.8 later\n")
    third = run_module(tmp_path, "service_install", args)
    assert third["changed"]
    assert "10.0.0.2 cmp1\n# END tenrec nodes\n10.0.0.8 later\n" in hosts.read_text()
    assert not (tmp_path / "restart").exists()


def test_packages_never_leaves_its_policy_rc_d_behind(tmp_path):
    policy = "/usr/sbin/policy-rc.d"
    saved = policy + ".tenrec-test"
    own = os.path.lexists(policy)
    if own:  # this machine's own (a container image's) is put back afterwards
        os.rename(policy, saved)
    try:
        result = run_module(tmp_path, "packages", {"names": ["tenrec-no-such-package"], "update_cache_max_age": 10**9})
        assert result.get("failed") and "tenrec-no-such-package" in result["msg"]
        assert not os.path.lexists(policy), "a failed install must not keep services from starting"
    finally:
        if own:
            os.rename(saved, policy)


def test_service_install_reports_a_unit_that_cannot_start(tmp_path):
    if not os.path.isdir("/run/systemd/system"):
        pytest.skip("no systemd on this machine")
    result = run_module(tmp_path, "service_install", {"start": ["tenrec-no-such-unit"]})
    assert result.get("failed") and "tenrec-no-such-unit" in result["msg"]


def test_service_install_makes_first_fernet_keys_only_in_an_empty_repository(tmp_path):
    repository = tmp_path / "fernet-keys"
    args = {
        "directories": [{"path": str(repository), "mode": "0700"}],
        "key_repositories": [{"path": str(repository), "owner": "root", "group": "root"}],
    }
    first = run_module(tmp_path, "service_install", args)
    assert first["changed"]
    assert sorted(p.name for p in repository.iterdir()) == ["0", "1"]
    keys = {p.name: p.read_bytes() for p in repository.iterdir()}
    for key in keys.values():
        assert len(base64.urlsafe_b64decode(key)) == 32, "a Fernet key: 32 bytes, URL-safe base64"
    assert keys["0"] != keys["1"]
    assert stat.S_IMODE((repository / "0").stat().st_mode) == 0o600
    assert run_module(tmp_path, "service_install", args)["changed"] is False

    # After rotations the numbers have gaps: nothing is added.
    (repository / "1").rename(repository / "3")
    assert run_module(tmp_path, "service_install", args)["changed"] is False
    assert sorted(p.name for p in repository.iterdir()) == ["0", "3"]


def hand_built_wheel(directory, name="tenrec_probe", version="1.0"):
    """A real wheel (zip, METADATA, WHEEL, RECORD) of one module, and its lock line with the hash."""
    files = {
        f"{name}.py": "ANSWER = 42\n",
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{name}-{version}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: tenrec-test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = f"{name}-{version}.dist-info/RECORD"
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
        archive.writestr(record, "".join(f"{path},,\n" for path in [*files, record]))
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return f"{name}=={version} --hash=sha256:{digest}\n"


def test_service_install_compiles_a_venv_once_per_lock_and_after_a_repair(tmp_path, monkeypatch):
    """Services run as their own users and cannot write __pycache__ into root's venv: the venv is
    compiled when installed, a no-change run does not compile again, a repair is compiled."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    lock = tmp_path / "lock.txt"
    lock.write_text(hand_built_wheel(wheels))
    monkeypatch.setenv("PATH", f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}")  # the pinned uv
    venv = tmp_path / "venv"
    args = {
        "venvs": [{"path": str(venv), "lock_url": lock.as_uri(), "find_links": str(wheels)}],
        "uv_environment": {"UV_CACHE_DIR": str(tmp_path / "uv-cache")},
    }
    first = run_module(tmp_path, "service_install", args)
    assert first["changed"] and first["venv_changed"], first
    site = next((venv / "lib").glob("python3*/site-packages"))
    compiled = list((site / "__pycache__").glob("tenrec_probe.*.pyc"))
    assert compiled, "the module is compiled at install time"
    assert (venv / "tenrec-compiled.txt").exists()

    second = run_module(tmp_path, "service_install", args)
    assert second["changed"] is False, second["changed_files"]

    # A package uninstalled by hand: sync puts it back, and it is compiled again.
    shutil.rmtree(site / "tenrec_probe-1.0.dist-info")
    (site / "tenrec_probe.py").unlink()
    compiled[0].unlink()
    third = run_module(tmp_path, "service_install", args)
    assert third["venv_changed"] is True
    assert (site / "tenrec_probe.py").read_text() == "ANSWER = 42\n"
    assert list((site / "__pycache__").glob("tenrec_probe.*.pyc")), "the repair is compiled too"
