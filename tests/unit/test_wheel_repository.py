"""The wheel repository module: lock parsing, and a real run of pip against a local index."""

import hashlib
import importlib.util
import io
import json
import sys
import zipfile
from pathlib import Path

import pytest

from tests.ansible_local import run_json

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("wheel_repository", REPO / "plugins/modules/wheel_repository.py")
assert _spec and _spec.loader
wheel_repository = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(wheel_repository)


def test_parse_lock_reads_every_pin_of_a_real_lock():
    text = (REPO / "releases/2026.2/locks/keystone.txt").read_text()
    pins = wheel_repository.parse_lock(text)
    expected = sum(1 for line in text.splitlines() if line[:1].isalnum() and "==" in line)
    assert len(pins) == expected
    by_name = {name: (version, hashes) for name, version, hashes in pins}
    assert by_name["keystone"][0] == "30.0.0"
    assert by_name["oslo-db"][1], "hashes are read from the continuation lines"
    assert all(len(h) == 64 for _, _, hashes in pins for h in hashes)


def test_wheel_pin_normalises_the_file_name():
    assert wheel_repository.wheel_pin("oslo_db-17.0.0-py3-none-any.whl") == ("oslo-db", "17.0.0")
    assert wheel_repository.wheel_pin("PyMySQL-1.1.2-py3-none-any.whl") == ("pymysql", "1.1.2")


def test_batches_never_repeat_a_project():
    pins = [("a", "1", set()), ("a", "2", set()), ("b", "1", set()), ("a", "3", set())]
    groups = wheel_repository.batches(pins)
    assert sorted(p for g in groups for p in g) == sorted(pins)
    assert all(len({p[0] for p in g}) == len(g) for g in groups)


def make_wheel(directory: Path, name: str, version: str) -> Path:
    """A minimal valid pure-Python wheel (pip only copies it)."""
    dist = f"{name.replace('-', '_')}-{version}"
    path = directory / f"{dist}-py3-none-any.whl"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{name.replace('-', '_')}/__init__.py", f"VERSION = '{version}'\n")
        archive.writestr(f"{dist}.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        archive.writestr(
            f"{dist}.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr(f"{dist}.dist-info/RECORD", "")
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture
def index(tmp_path):
    """A PEP 503 index on disk with two projects."""
    simple = tmp_path / "index" / "simple"
    files = tmp_path / "index" / "files"
    files.mkdir(parents=True)
    wheels = {name: make_wheel(files, name, "1.0") for name in ("alpha-pkg", "beta")}
    for name, wheel in wheels.items():
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        (simple / name).mkdir(parents=True)
        (simple / name / "index.html").write_text(f'<a href="{wheel.as_uri()}#sha256={digest}">{wheel.name}</a>\n')
    return simple, {name: hashlib.sha256(w.read_bytes()).hexdigest() for name, w in wheels.items()}


def run_module(tmp_path, args):
    (tmp_path / "args.json").write_text(json.dumps({"module_args": args}))
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - tenrec.cloud.wheel_repository: '{{ module_args }}'\n"
        "      vars:\n        ansible_python_interpreter: " + sys.executable + "\n"
    )
    result = run_json("ansible-playbook", ["-e", f"@{tmp_path / 'args.json'}", str(playbook)], tmp_path / "home")
    return result["plays"][0]["tasks"][0]["hosts"]["localhost"]


def lock(pins):
    return "".join(f"{name}==1.0 \\\n    --hash=sha256:{digest}\n    # via test\n" for name, digest in pins)


def test_fills_once_serves_file_hashes_and_is_idempotent(tmp_path, index):
    simple, digests = index
    repository = tmp_path / "repo"
    args = {
        "path": str(repository),
        "pip": str(Path(sys.executable).parent / "pip"),
        "index_url": simple.as_uri(),
        "locks": {
            "one": lock([("alpha-pkg", digests["alpha-pkg"]), ("beta", digests["beta"])]),
            "two": lock([("beta", digests["beta"])]),
        },
    }
    first = run_module(tmp_path, args)
    assert first["changed"] is True, first
    assert sorted(first["fetched"]) == ["alpha-pkg==1.0", "beta==1.0"]  # beta fetched once for both locks
    served = (repository / "locks" / "one.txt").read_text()
    for name in ("alpha-pkg", "beta"):
        wheel = next(repository.glob(f"{name.replace('-', '_')}-1.0-*.whl"))
        assert f"{name}==1.0 --hash=sha256:{hashlib.sha256(wheel.read_bytes()).hexdigest()}" in served
    recorded = json.loads((repository / "index.json").read_text())
    assert set(recorded) == {"alpha-pkg==1.0", "beta==1.0"}

    second = run_module(tmp_path, args)
    assert second["changed"] is False
    assert second["fetched"] == []


def test_a_hash_mismatch_fails_and_adds_nothing(tmp_path, index):
    simple, _ = index
    repository = tmp_path / "repo"
    result = run_module(
        tmp_path,
        {
            "path": str(repository),
            "pip": str(Path(sys.executable).parent / "pip"),
            "index_url": simple.as_uri(),
            "locks": {"bad": lock([("alpha-pkg", "0" * 64)])},
        },
    )
    assert result.get("failed") is True
    assert "hash" in (result.get("stderr", "") + result.get("msg", "")).lower()
    assert not list(repository.glob("*.whl"))
    assert not (repository / "index.json").exists()


def test_without_a_builder_it_lists_the_missing_pins_and_then_serves_what_is_there(tmp_path, index):
    simple, digests = index
    repository = tmp_path / "repo"
    locks = {"one": lock([("alpha-pkg", digests["alpha-pkg"]), ("beta", digests["beta"])])}
    args = {"path": str(repository), "pip": str(tmp_path / "no-builder/bin/pip"), "index_url": simple.as_uri()}
    unbuilt = run_module(tmp_path, {**args, "locks": locks})
    assert unbuilt["changed"] is False, unbuilt
    assert sorted(unbuilt["unfetched"]) == ["alpha-pkg==1.0", "beta==1.0"]
    assert not (repository / "locks" / "one.txt").exists()  # no lock a node could install from half

    # Filled by a run with a builder, the repository needs none again.
    run_module(tmp_path, {**args, "pip": str(Path(sys.executable).parent / "pip"), "locks": locks})
    served = run_module(tmp_path, {**args, "locks": locks})
    assert served["changed"] is False and served["unfetched"] == [], served
    assert (repository / "locks" / "one.txt").exists()
