"""tenrec install on a host of its own: a lab node plays the bare-metal Debian host.

The checkout is copied into an all-in-one lab node and `./tenrec install` runs there as an
operator would run it on a fresh machine (as root, no terminal, connection local): it plans
the node, is killed during its deploy, runs again and finishes from where it stopped, then
is a no-op. What the lab adds is what a real host would have: this machine's CA files and
pip settings (a proxy toward PyPI) and, since lab nodes have no device-mapper, an NFS share
for Cinder (the lab's emulated NFS on the node itself).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tenrec.exitcodes import Exit
from tenrec.lab.lab import LabPaths
from tenrec.lab.nfs import EXPORT_DIR

LAB = "iinst"
NODE = f"tenrec-{LAB}-aio"
CHECKOUT = "/root/tenrec"
REPO = Path(__file__).resolve().parents[2]
TENREC = str(Path(sys.executable).parent / "tenrec")
# What the plan chose on the node (the first test reads it, the later ones use it).
PLANNED: dict[str, str] = {}

pytestmark = [
    pytest.mark.lab,
    pytest.mark.install,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab runs rootful podman: run as root"),
    pytest.mark.skipif(shutil.which("apt-get") is None, reason="the lab host must be Debian with apt"),
]


def on_node(
    command: str, timeout: int = 3600, check: bool = False, secret: bool = False
) -> subprocess.CompletedProcess[str]:
    """A command in the checkout on the node, with no terminal (as CI and scripts run it).
    Its output goes into the test's log unless it is secret."""
    argv = ["podman", "exec", "-w", CHECKOUT, NODE, "bash", "-c", command]
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
    )
    shown = "(secret: not shown)" if secret else f"{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    print(f"$ {command}\n{shown}")
    if check:
        assert result.returncode == 0, "(secret)" if secret else result.stdout[-3000:] + result.stderr[-2000:]
    return result


def copy_checkout() -> None:
    """The files of this checkout (tracked and new, not ignored), as a fresh clone would have them."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout
    archive = subprocess.run(
        ["tar", "--null", "-T", "-", "-cf", "-"], cwd=REPO, input=files, capture_output=True, check=True
    ).stdout
    subprocess.run(["podman", "exec", NODE, "mkdir", "-p", CHECKOUT, "/usr/local/share/ca-certificates"], check=True)
    subprocess.run(["podman", "exec", "-i", NODE, "tar", "-C", CHECKOUT, "-xf", "-"], input=archive, check=True)
    for ca in sorted(Path("/usr/local/share/ca-certificates").glob("*.crt")):
        subprocess.run(["podman", "cp", str(ca), f"{NODE}:/usr/local/share/ca-certificates/"], check=True)
    if Path("/etc/pip.conf").exists():
        subprocess.run(["podman", "cp", "/etc/pip.conf", f"{NODE}:/etc/pip.conf"], check=True)
    subprocess.run(["podman", "exec", NODE, "update-ca-certificates"], capture_output=True, check=True)


@pytest.fixture(scope="module")
def node():
    subprocess.run([TENREC, "lab", "down", "--name", LAB], capture_output=True, check=False)
    up = subprocess.run(
        [TENREC, "lab", "up", "--name", LAB, "--topology", "aio"], capture_output=True, text=True, check=False
    )
    assert up.returncode == Exit.OK, up.stderr
    config = yaml.safe_load(LabPaths.named(LAB).config.read_text())
    copy_checkout()
    # ./tenrec installs its own Python dependencies, as on a fresh machine.
    on_node("./tenrec --version", timeout=900, check=True)
    yield config["nodes"][0]["address"]
    subprocess.run([TENREC, "lab", "down", "--name", LAB], capture_output=True, check=False)


def deploy_marker() -> dict:
    result = subprocess.run(
        ["podman", "exec", NODE, "cat", f"{CHECKOUT}/.tenrec/deploy-running.json"],
        capture_output=True,
        text=True,
        check=False,
    )
    return json.loads(result.stdout) if result.returncode == 0 and result.stdout.strip() else {}


def test_install_killed_during_its_deploy_continues_where_it_stopped(node):
    share = f"{node}:{EXPORT_DIR}"
    command = ["podman", "exec", "-w", CHECKOUT, NODE, "./tenrec", "install", "--nfs-share", share, "--with", "heat"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 1800
    # Killed once the deploy has finished a few roles on the node (MariaDB and RabbitMQ among them).
    while not any("rabbitmq" in roles for roles in deploy_marker().get("roles_done", {}).values()):
        assert first.poll() is None, f"install ended before the kill: {first.stdout.read() if first.stdout else ''}"
        assert time.monotonic() < deadline, "the deploy did not get past RabbitMQ in 30 min"
        time.sleep(3)
    subprocess.run(["podman", "exec", NODE, "pkill", "-KILL", "-f", "tenrec install"], check=True)
    output = first.communicate(timeout=60)[0]
    print(output[-4000:])
    assert "✓ plan" in output and "✓ secrets" in output
    written = yaml.safe_load(on_node("cat tenrec.yml", check=True).stdout)
    assert written["networks"]["external"]["nat"] is True
    assert written["nodes"][0]["connection"] == "local"
    # The address of the interface the node's kernel routes outward by (its default route).
    outward = json.loads(on_node("ip -j route get 9.9.9.9", check=True).stdout)[0]
    assert written["nodes"][0]["address"] == outward["prefsrc"]
    PLANNED.update(address=outward["prefsrc"], interface=outward["dev"])

    again = on_node("./tenrec install")
    assert again.returncode == Exit.OK, again.stdout[-5000:] + again.stderr[-3000:]
    out = " ".join((again.stdout + again.stderr).split())  # rich wraps long lines at 140 columns
    assert "did not finish (killed" in out
    # The node's own finished roles, as the marker recorded them from its task starts.
    finished = re.search(r"The roles each node had finished \(([^)]*)\)", out)
    assert finished and "rabbitmq" in finished.group(1) and "mariadb" in finished.group(1), out[:3000]
    assert "Skipped, finished by an earlier run: plan, check, bootstrap, secrets." in out
    for phase in ("deploy", "verify"):
        assert f"✓ {phase}" in out
    assert "Verified:" in out and "none failed" in out
    assert f"Dashboard: http://{PLANNED['address']}/" in out
    assert "clouds.yaml" in out


def test_a_second_install_is_a_no_op_that_says_so():
    result = on_node("./tenrec install")
    assert result.returncode == Exit.OK
    assert "Nothing to do" in result.stdout
    assert "Deploying" not in result.stdout


def test_the_single_nic_host_keeps_its_address_and_nats_the_floating_network():
    interface, address = PLANNED["interface"], PLANNED["address"]
    assert address in on_node(f"ip -j -4 address show dev {interface}", check=True).stdout
    bridge = on_node("ip -j -4 address show dev br-ex", check=True).stdout
    assert "172.24.4.1" in bridge
    assert "masquerade" in on_node("nft list table ip tenrec_external", check=True).stdout
    # The host's interface is no port of any bridge: it stayed the host's.
    assert on_node(f"ovs-vsctl iface-to-br {interface}").returncode != 0


def test_tempest_passes_inside_the_all_in_one_install():
    result = on_node("./tenrec verify --tempest", timeout=3600)
    assert result.returncode == Exit.OK, result.stdout[-6000:]
    report = json.loads(on_node("cat .tenrec/logs/tempest-last.json", check=True).stdout)
    assert report["failed"] == 0 and report["passed"] > 50, {k: report[k] for k in ("passed", "failed", "skipped")}


def test_the_diagnose_tarball_holds_no_secret(tmp_path):
    result = on_node("./tenrec diagnose", timeout=600)
    assert result.returncode == Exit.OK, result.stdout + result.stderr
    path = next(word for word in result.stdout.split() if word.endswith(".tar.gz"))
    local = tmp_path / "diagnose.tar.gz"
    subprocess.run(["podman", "cp", f"{NODE}:{path}", str(local)], check=True)
    secrets = yaml.safe_load(on_node("cat .tenrec/secrets.yml", check=True, secret=True).stdout)["tenrec_secrets"]
    values = [value for value in secrets.values() if isinstance(value, str) and len(value) >= 6]
    assert len(values) > 20
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    subprocess.run(["tar", "-C", str(unpacked), "-xzf", str(local)], check=True)
    files = [p for p in unpacked.rglob("*") if p.is_file()]
    # It holds what it says: configs, journals, OVS, libvirt, iSCSI.
    names = {p.name for p in files}
    assert {"nova.conf", "keystone.conf", "ovs.txt", "libvirt.txt", "iscsi.txt", "services.txt"} <= names
    assert any(p.parent.name == "journal" and p.name.startswith("nova-compute") for p in files)
    leaks = [
        (p.name, name) for p in files for name, value in secrets.items() if str(value) in p.read_text(errors="replace")
    ]
    assert not leaks, leaks
