"""The checked-in release data: manifests, upper-constraints, overrides and per-service locks.

Offline and fast: reads releases/ only (tools/lock-release writes the locks from PyPI).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.markers import Marker
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
RELEASES_DIR = REPO / "releases"
RELEASES = ("2026.1", "2026.2")
LOCK_TOOL = REPO / "tools" / "lock-release"
# Debian 12 on x86_64, where the locks are installed.
TARGET_ENV = {
    "python_version": "3.11",
    "python_full_version": "3.11.2",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
}

REQ_RE = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[(?P<extras>[^\]]*)\])?\s*(?P<op>===?)\s*(?P<version>[^\s;#]+)"
    r"(?:\s*;\s*(?P<marker>[^#]+?))?\s*(?:#.*)?$"
)
HASH_RE = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def manifest(release):
    return yaml.safe_load((RELEASES_DIR / release / "manifest.yml").read_text())


def constraint_pins(path):
    """name -> (version, raw line) of a constraints file, markers evaluated for the target."""
    pins = {}
    for raw in path.read_text().splitlines():
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        match = REQ_RE.match(text)
        assert match, f"{path.name}: not a pin: {raw!r}"
        if match["marker"] and not Marker(match["marker"]).evaluate(TARGET_ENV):
            continue
        pins[canonical(match["name"])] = (match["version"], raw)
    return pins


def lock_entries(path):
    """Logical requirement lines of a lock (continuations joined): list of (line, options)."""
    entries = []
    logical = ""
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if not logical and (not stripped or stripped.startswith("#")):
            continue
        logical += " " + stripped.rstrip("\\").strip()
        if not stripped.endswith("\\"):
            entries.append(logical.strip())
            logical = ""
    assert not logical, f"{path}: ends inside a continued line"
    return entries


def lock_pins(path):
    """name -> version of every requirement in a lock."""
    pins = {}
    for entry in lock_entries(path):
        match = REQ_RE.match(entry.split(" --hash", 1)[0])
        assert match, f"{path.name}: not a pinned requirement: {entry[:100]!r}"
        name = canonical(match["name"])
        assert pins.get(name, match["version"]) == match["version"], f"{path.name}: {name} pinned twice differently"
        pins[name] = match["version"]
    return pins


def services(release):
    return manifest(release)["services"]


ALL_LOCKS = [(release, name) for release in RELEASES for name in services(release)]


def lock_path(release, name):
    return RELEASES_DIR / release / "locks" / f"{name}.txt"


@pytest.mark.parametrize("release", RELEASES)
def test_manifest_shape(release):
    data = manifest(release)
    assert str(data["release"]) == release
    assert data["python"] == "3.11"
    assert (RELEASES_DIR / release / data["constraints"]["file"]).is_file()
    for name, spec in data["services"].items():
        assert re.fullmatch(r"[a-z][a-z0-9-]*", name), name
        assert spec["dist"] and Version(str(spec["version"])) == Version(str(spec["version"]))
        assert re.fullmatch(r"\d+(\.\d+)+", str(spec["version"])), f"{name}: exact release version"
        for package, why in (spec.get("packages") or {}).items():
            assert isinstance(why, str) and why.strip(), f"{release} {name}: {package} needs a reason"
        assert all(isinstance(note, str) for note in spec.get("notes", []))


def test_both_releases_list_the_same_services():
    assert list(services("2026.1")) == list(services("2026.2"))


def test_the_deployed_core_is_there():
    for release in RELEASES:
        assert {"keystone", "glance", "placement", "nova", "neutron"} <= set(services(release))


@pytest.mark.parametrize("release", RELEASES)
def test_every_service_has_a_lock_and_no_lock_is_stray(release):
    locks = {p.stem for p in (RELEASES_DIR / release / "locks").glob("*.txt")}
    assert locks == set(services(release))


@pytest.mark.parametrize(("release", "name"), ALL_LOCKS)
def test_lock_pins_the_manifest_version_and_its_packages(release, name):
    spec = services(release)[name]
    path = lock_path(release, name)
    pins = lock_pins(path)
    assert pins.get(canonical(spec["dist"])) == str(spec["version"]), f"{path}: {spec['dist']}=={spec['version']}"
    for package in spec.get("packages") or {}:
        assert canonical(re.split(r"[\[<>=!~; ]", package, maxsplit=1)[0]) in pins, f"{path}: extra package {package}"
    header = path.read_text().splitlines()[0]
    assert f"OpenStack {release}, service {name} " in header


@pytest.mark.parametrize(("release", "name"), ALL_LOCKS)
def test_every_lock_line_is_pinned_and_hashed(release, name):
    path = lock_path(release, name)
    entries = lock_entries(path)
    assert len(entries) > 20
    for entry in entries:
        requirement, _, options = entry.partition(" --hash")
        match = REQ_RE.match(requirement.strip())
        assert match and match["op"] == "==", f"{path.name}: not pinned with ==: {requirement!r}"
        assert not match["marker"], f"{path.name}: markers make a lock platform-dependent: {requirement!r}"
        hashes = HASH_RE.findall("--hash" + options)
        assert hashes, f"{path.name}: {requirement} has no --hash=sha256:"
        leftover = HASH_RE.sub("", "--hash" + options).strip()
        assert not leftover, f"{path.name}: unexpected options after {requirement}: {leftover!r}"


@pytest.mark.parametrize(("release", "name"), ALL_LOCKS)
def test_extras_lines_have_a_bare_twin(release, name):
    """pip 23 (Debian 12's venv pip) needs `name==V` beside `name[extra]==V` with --require-hashes."""
    entries = lock_entries(lock_path(release, name))
    bare = {canonical(m["name"]) for e in entries if (m := REQ_RE.match(e)) and not m["extras"]}
    with_extras = {canonical(m["name"]) for e in entries if (m := REQ_RE.match(e)) and m["extras"]}
    assert with_extras <= bare


def overrides(release):
    spec = manifest(release)["constraints"].get("overrides")
    if not spec:
        return {}
    result = {}
    for raw in (RELEASES_DIR / release / spec).read_text().splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        requirement, _, reason = raw.partition("#")
        match = REQ_RE.match(requirement.strip())
        assert match, f"override is not a pin: {raw!r}"
        assert reason.strip(), f"override without a reason: {raw!r}"
        result[canonical(match["name"])] = match["version"]
    return result


@pytest.mark.parametrize("release", RELEASES)
def test_overrides_only_raise_upstream_pins(release):
    upper = constraint_pins(RELEASES_DIR / release / manifest(release)["constraints"]["file"])
    for name, version in overrides(release).items():
        assert name in upper, f"{release}: override {name} replaces no upstream pin"
        assert Version(version) > Version(upper[name][0]), f"{release}: override {name} does not relax the pin"


def test_2026_1_relaxes_nothing():
    assert overrides("2026.1") == {}


@pytest.mark.parametrize(("release", "name"), ALL_LOCKS)
def test_locks_respect_upper_constraints(release, name):
    """Every pin of upper-constraints holds, except the recorded overrides and the service's own pin."""
    spec = services(release)[name]
    upper = constraint_pins(RELEASES_DIR / release / manifest(release)["constraints"]["file"])
    allowed = {name: (version, "override") for name, version in overrides(release).items()}
    allowed[canonical(spec["dist"])] = (str(spec["version"]), "manifest")
    wrong = []
    for package, version in lock_pins(lock_path(release, name)).items():
        expected = allowed.get(package) or upper.get(package)
        if expected and Version(version) != Version(expected[0]):
            wrong.append(f"{package}=={version} (constraint: {expected[1]})")
    assert not wrong, f"{release}/{name} breaks its constraints: {wrong}"


def test_libvirt_python_only_in_the_locks_of_the_compute_node_agents():
    # Built once by the wheel repository against Debian's libvirt, at upper-constraints' pin:
    # nova-compute and ceilometer's compute agent import it, nothing else does.
    for release, name in ALL_LOCKS:
        pins = lock_pins(lock_path(release, name))
        if name in ("nova", "ceilometer"):
            constraints = (REPO / "releases" / release / "upper-constraints.txt").read_text()
            assert f"libvirt-python==={pins['libvirt-python']}" in constraints
        else:
            assert "libvirt-python" not in pins


def load_lock_tool():
    loader = importlib.machinery.SourceFileLoader("lock_release", str(LOCK_TOOL))
    spec = importlib.util.spec_from_loader("lock_release", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["lock_release"] = module  # dataclasses look their module up there
    loader.exec_module(module)
    return module


def test_lock_tool_effective_constraints():
    tool = load_lock_tool()
    service = tool.Service(name="openstackclient", dist="python-openstackclient", version="10.3.1")
    upper = ["oslo.db===1.0", "python-openstackclient===10.2.1", "openstacksdk===4.18.0", "pbr===7.0.3"]
    lines, changes = tool.effective_constraints(upper, ["openstacksdk===4.19.1"], service)
    assert lines == ["oslo.db===1.0", "pbr===7.0.3", "openstacksdk===4.19.1"]
    assert changes and "python-openstackclient===10.2.1" in changes[0]
    same = tool.Service(name="horizon", dist="horizon", version="25.7.3")
    assert tool.effective_constraints(["horizon===25.7.3"], [], same) == (["horizon===25.7.3"], [])


def test_lock_tool_adds_bare_pins_for_extras():
    tool = load_lock_tool()
    body = (
        "alembic==1.0 \\\n    --hash=sha256:" + "a" * 64 + "\n    # via oslo-db\n"
        "sqlalchemy[asyncio]==2.0.52 \\\n    --hash=sha256:" + "b" * 64 + " \\\n    --hash=sha256:" + "c" * 64 + "\n"
        "    # via oslo-db\n"
    )
    out = tool.add_bare_pins(body)
    assert "sqlalchemy==2.0.52 \\\n    --hash=sha256:" + "b" * 64 + " \\\n    --hash=sha256:" + "c" * 64 + "\n" in out
    assert out.count("sqlalchemy[asyncio]==2.0.52") == 1
    assert tool.add_bare_pins(out) == out, "idempotent"


def test_lock_tool_help_and_unknown_service():
    run = subprocess.run([sys.executable, str(LOCK_TOOL), "--help"], capture_output=True, text=True, check=False)
    assert run.returncode == 0 and "releases/RELEASE/locks/SERVICE.txt" in run.stdout
    run = subprocess.run(
        [sys.executable, str(LOCK_TOOL), "2026.2", "no-such-service"], capture_output=True, text=True, check=False
    )
    assert run.returncode == 2 and "unknown service" in run.stderr
