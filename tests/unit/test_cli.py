"""The CLI's exit codes, and that a bad config never reaches a node."""

from __future__ import annotations

import copy
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from tenrec.exitcodes import Exit

REPO = Path(__file__).resolve().parents[2]


def tenrec(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tenrec", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "installer"), "HOME": str(cwd or REPO)},
    )


class Listener:
    """A TCP port that counts who connects: a stand-in SSH port nobody should reach."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


def test_help_on_every_verb():
    for verb in (
        ["check"],
        ["inventory"],
        ["deploy"],
        ["secrets"],
        ["lab"],
        ["lab", "up"],
        ["lab", "status"],
        ["lab", "down"],
    ):
        result = tenrec(*verb, "--help")
        assert result.returncode == 0, verb
        assert "usage: tenrec" in result.stdout


def test_six_mistakes_one_run_exit_2_and_no_node_contacted(tmp_path):
    listener = Listener()
    try:
        data = yaml.safe_load((REPO / "inventory/multinode/tenrec.yml").read_text())
        bad = copy.deepcopy(data)
        # Every node's SSH points at the listener, so any contact would be counted.
        bad["ssh"] = {"user": "root", "port": listener.port}
        for node in bad["nodes"]:
            node["address"] = node["address"]  # unchanged: the test uses ssh_port below
            node["ssh_port"] = listener.port
        bad["release"] = "2031.1"  # 1 unknown release
        bad["nodes"][4]["name"] = "cmp2"  # 2 duplicate name
        bad["nodes"][0]["address"] = "192.0.2.999"  # 3 malformed address
        bad["nodes"][1]["roles"] = ["network", "router"]  # 4 unknown role
        bad["networks"]["storage"]["cidr"] = "203.0.113.0/25"  # 5 overlaps the tunnel network
        bad["services"]["ceilometer"] = True  # 6 without gnocchi
        config = tmp_path / "tenrec.yml"
        config.write_text(yaml.safe_dump(bad))
        result = tenrec("check", "--nodes", "-c", str(config), cwd=tmp_path)
    finally:
        listener.close()
    assert result.returncode == Exit.INVALID_CONFIG, result.stdout + result.stderr
    report = result.stderr
    for path in (
        "release",
        "nodes[4].name",
        "nodes[0].address",
        "nodes[1].roles[1]",
        "networks.storage.cidr",
        "services.ceilometer",
    ):
        assert f"{path}:" in report, path
    assert "fix:" in report
    assert listener.connections == 0
    assert not (tmp_path / ".tenrec").exists(), "nothing is generated for an invalid config"


def test_valid_config_check_exit_0(tmp_path):
    result = tenrec("check", "-c", str(REPO / "inventory/aio/tenrec.yml"), cwd=tmp_path)
    assert result.returncode == Exit.OK, result.stderr
    assert "The config is valid." in result.stdout
    assert "cloud1" in result.stdout


def test_check_lists_the_optional_services_it_deploys(tmp_path):
    data = yaml.safe_load((REPO / "inventory/aio/tenrec.yml").read_text())
    data["services"] = {"cinder": True, "swift": False, "horizon": True, "heat": True}
    data["services"] |= {"ceilometer": True, "gnocchi": True}
    config = tmp_path / "tenrec.yml"
    config.write_text(yaml.safe_dump(data))
    result = tenrec("check", "-c", str(config), cwd=tmp_path)
    assert result.returncode == Exit.OK, result.stderr
    assert not [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert "optional services deployed: cinder, horizon, heat, ceilometer, gnocchi" in " ".join(result.stdout.split())


def test_every_service_has_a_role_and_a_tag():
    from tenrec.config.model import OPENSTACK_SERVICES  # noqa: PLC0415
    from tenrec.selection import SERVICES  # noqa: PLC0415

    assert [name for name in OPENSTACK_SERVICES if not (REPO / "roles" / name).is_dir()] == []
    assert sorted(SERVICES) == sorted(OPENSTACK_SERVICES)


def test_no_config_anywhere(tmp_path):
    result = tenrec("check", cwd=tmp_path)
    assert result.returncode == Exit.INVALID_CONFIG
    assert "no deployment config" in result.stderr


def refusing_config(tmp_path: Path) -> Path:
    """A valid all-in-one config whose node refuses SSH (a local port nothing listens on)."""
    data = yaml.safe_load((REPO / "inventory/aio/tenrec.yml").read_text())
    data["networks"]["management"] = {"cidr": "127.0.0.0/8"}
    data["networks"].pop("external")
    data["nodes"][0]["address"] = "127.0.0.1"
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # a port with nothing behind it
    data["ssh"] = {"user": "root", "port": port}
    config = tmp_path / "tenrec.yml"
    config.write_text(yaml.safe_dump(data))
    return config


def run_tenrec(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "tenrec"), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        timeout=300,
    )


def test_unreachable_nodes_exit_3(tmp_path):
    """--nodes on a valid config whose nodes refuse SSH: reported per node, exit 3."""
    result = run_tenrec("check", "--nodes", "-c", str(refusing_config(tmp_path)), cwd=tmp_path)
    assert result.returncode == Exit.NODES_NOT_READY, result.stdout + result.stderr
    assert "cloud1: unreachable" in result.stderr


def test_deploy_onto_a_node_that_refuses_ssh_exits_3(tmp_path):
    """The deploy's precheck cannot reach the node: exit 3 (nodes not ready), naming it."""
    result = run_tenrec("deploy", "-c", str(refusing_config(tmp_path)), cwd=tmp_path)
    assert result.returncode == Exit.NODES_NOT_READY, result.stdout + result.stderr
    assert "1 node(s) unreachable or not ready: cloud1." in " ".join(result.stderr.split())
    assert not (tmp_path / ".tenrec" / "deployed.json").exists()


def test_lab_needs_root_and_says_so(tmp_path):
    """Not root: a clear error and exit 4, before anything is installed or created."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("needs unshare to run without root")
    # A new user namespace without a mapping: the process is uid 65534, files stay readable.
    result = subprocess.run(
        [unshare, "--user", sys.executable, "-m", "tenrec", "lab", "up"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "installer"), "HOME": str(tmp_path)},
    )
    if "Operation not permitted" in result.stderr and "unshare" in result.stderr:
        pytest.skip("user namespaces are not allowed here")
    assert result.returncode == Exit.HOST_UNSUITABLE, result.stdout + result.stderr
    assert "run `tenrec lab up` as root" in result.stderr
    assert not (tmp_path / ".local/share/tenrec/labs").exists()


def test_only_and_limit_are_checked_before_any_node(tmp_path):
    listener = Listener()
    data = yaml.safe_load((REPO / "inventory/aio/tenrec.yml").read_text())
    data["ssh"] = {"user": "root", "port": listener.port}
    data["services"] = {**data.get("services", {}), "cinder": False}
    config = tmp_path / "tenrec.yml"
    config.write_text(yaml.safe_dump(data))
    try:
        result = tenrec("deploy", "-c", str(config), "--only", "glance,glanse,cinder", "--limit", "nowhere")
    finally:
        listener.close()
    assert result.returncode == Exit.INVALID_CONFIG, result.stdout + result.stderr
    assert "--only: 'glanse' is not a service or role" in result.stderr
    assert "--only: 'cinder' is off in this config" in result.stderr
    assert "--limit: 'nowhere' is neither a node nor a role" in result.stderr
    assert listener.connections == 0


def test_only_needs_a_deployed_cloud(tmp_path):
    config = tmp_path / "tenrec.yml"
    shutil.copy(REPO / "inventory/aio/tenrec.yml", config)
    result = tenrec("deploy", "-c", str(config), "--only", "glance")
    assert result.returncode == Exit.NOT_DEPLOYED, result.stdout + result.stderr
    assert "run a full `tenrec deploy` first" in result.stderr
