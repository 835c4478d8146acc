"""The upgrade scenario on a multinode lab of its own (`./run-upgrade-test`, about 45 minutes).

A 2026.1 cloud gets what a user keeps in it: an image, a network and router, a server with a
floating IP and an SSH key, an attached volume with data, an object and a stack. Then: a
deploy of 2026.2 is refused; an upgrade whose database is stopped during nova's migrations
fails and `tenrec rollback` returns the 2026.1 cloud with all of it; the upgrade again, with
tenrec.downtime's probe polling every API, pinging the guest and holding an SSH session to
it; everything checked again, every node running 2026.2 code only, `tenrec verify` green; a
second upgrade is a no-op; a backup and its restore.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import paramiko
import pytest
import yaml
from rich.console import Console

from tenrec.downtime import DowntimeProbe, SshGuest, results_table
from tenrec.exitcodes import Exit
from tenrec.lab.lab import LabPaths
from tenrec.paths import StateDir
from tenrec.verify.cloud import connect
from tenrec.verify.compute import DISK_SIZE, FLAVOR, KERNEL_ARGS
from tests.guest_image import build_tempest_guest

LAB = "iupg"
TENREC = str(Path(sys.executable).parent / "tenrec")
REPO = Path(__file__).resolve().parents[2]
SSH_ARGS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
VOLUME_BYTES = 4 * 1024 * 1024
STACK = """heat_template_version: 2018-08-31
parameters:
  length: {type: number, default: 16}
resources:
  word: {type: OS::Heat::RandomString, properties: {length: {get_param: length}}}
outputs:
  word: {value: {get_attr: [word, value]}}
"""
# Run on every node: where each venv link points, the service versions in those venvs, and
# which release's venvs the running processes have files of mapped.
NODE_REPORT = r"""
import glob, json, os, re
links, versions, mapped = {}, {}, {}
for link in glob.glob("/opt/openstack/*"):
    if os.path.islink(link):
        target = os.path.realpath(link)
        links[os.path.basename(link)] = os.path.basename(target)
        for info in glob.glob(target + "/lib/python3*/site-packages/*.dist-info"):
            name, _, version = os.path.basename(info)[: -len(".dist-info")].rpartition("-")
            versions[os.path.basename(link) + ":" + re.sub(r"[-_.]+", "-", name).lower()] = version
for maps in glob.glob("/proc/[0-9]*/maps"):
    try:
        text = open(maps).read()
    except OSError:
        continue
    for venv in set(re.findall(r"/opt/openstack/venvs/([a-z]+-\d{4}\.\d)/", text)):
        mapped.setdefault(venv, 0)
        mapped[venv] += 1
print(json.dumps({"links": links, "versions": versions, "mapped": mapped}))
"""

pytestmark = [
    pytest.mark.lab,
    pytest.mark.upgrade,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab runs rootful podman: run as root"),
    pytest.mark.skipif(shutil.which("apt-get") is None, reason="the lab host must be Debian with apt"),
]


def tenrec(*args: str, timeout: int = 3600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [TENREC, *args], capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
    )
    print(f"$ tenrec {' '.join(args)}\n{result.stdout[-5000:]}\n{result.stderr[-3000:]}")
    return result


def said(result: subprocess.CompletedProcess[str], words: str) -> bool:
    """words are in the output, however rich wrapped its lines."""
    return " ".join(words.split()) in " ".join((result.stdout + result.stderr).split())


def set_release(path: Path, release: str) -> None:
    text, found = re.subn(r"(?m)^release: .*$", f"release: '{release}'", path.read_text())
    assert found == 1, f"{path}: no release line"
    path.write_text(text)


def nodes(lab: LabPaths) -> dict[str, dict[str, Any]]:
    return {node["name"]: node for node in yaml.safe_load(lab.config.read_text())["nodes"]}


def on_node(lab: LabPaths, name: str, command: str, stdin: str | None = None) -> str:
    argv = ["ssh", *SSH_ARGS, "-i", str(lab.key), f"root@{nodes(lab)[name]['address']}", command]
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, timeout=900)
    assert result.returncode == 0, f"{name}: {command}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
    return result.stdout


def openstack(lab: LabPaths, command: str) -> str:
    """The plain CLI on the controller, as an operator runs it."""
    return on_node(lab, "ctl1", f"openstack --os-cloud tenrec {command}")


def guest_run(address: str, key: Path, command: str) -> str:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # a test guest's key, made at its boot
    client.connect(address, username="root", key_filename=str(key), timeout=10, allow_agent=False, look_for_keys=False)
    try:
        _, out, err = client.exec_command(command, timeout=120)
        text = out.read().decode()
        assert out.channel.recv_exit_status() == 0, f"{command}: {err.read().decode()}"
        return text
    finally:
        client.close()


def upload(conn: Any, name: str, data: bytes, disk_format: str, container_format: str, **properties: str) -> str:
    image = conn.image.create_image(name=name, disk_format=disk_format, container_format=container_format, **properties)
    response = image.upload(conn.image, data=data, size=len(data))
    assert response.status_code < 400, response.text
    conn.image.wait_for_status(image, "active", failures=["killed", "deleted"], interval=2, wait=300)
    return str(image.id)


def releases_running(lab: LabPaths) -> dict[str, dict[str, Any]]:
    return {name: json.loads(on_node(lab, name, "python3 -", stdin=NODE_REPORT)) for name in nodes(lab)}


def assert_everything_runs(lab: LabPaths, release: str) -> None:
    """Every venv link on every node points at release's venv, holding the manifest's service
    version, and no running process has a file of another release's venv mapped."""
    manifest = yaml.safe_load((REPO / f"releases/{release}/manifest.yml").read_text())["services"]
    report = releases_running(lab)
    print(json.dumps(report, indent=1))
    for name, found in report.items():
        assert found["links"], f"{name}: no service venv"
        for lock, venv in found["links"].items():
            assert venv == f"{lock}-{release}", f"{name}: /opt/openstack/{lock} -> {venv}"
            dist = re.sub(r"[-_.]+", "-", manifest[lock]["dist"]).lower()
            assert found["versions"].get(f"{lock}:{dist}") == manifest[lock]["version"], f"{name}: {lock}"
        elsewhere = [venv for venv in found["mapped"] if not venv.endswith(f"-{release}")]
        assert not elsewhere, f"{name}: processes still run code of {elsewhere}"
        assert found["mapped"], f"{name}: no process runs code of a service venv"


@pytest.fixture(scope="module")
def lab():
    paths = LabPaths.named(LAB)
    tenrec("lab", "down", "--name", LAB)
    assert tenrec("lab", "up", "--name", LAB, "--topology", "multinode").returncode == Exit.OK
    set_release(paths.config, "2026.1")
    yield paths
    tenrec("lab", "down", "--name", LAB)


@pytest.fixture(scope="module")
def cloud(lab):
    """The 2026.1 cloud, and what a user keeps in it."""
    result = tenrec("deploy", "-c", str(lab.config))
    assert result.returncode == Exit.OK, result.stdout[-3000:]
    conn = connect(StateDir.for_config(lab.config))
    key = lab.root / "upgrade-guest-key"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    guest = build_tempest_guest()
    kernel = upload(conn, "upg-kernel", guest.kernel.read_bytes(), "aki", "aki")
    ramdisk = upload(conn, "upg-ramdisk", guest.initramfs.read_bytes(), "ari", "ari")
    machine = upload(
        conn,
        "upg-guest",
        bytes(DISK_SIZE),
        "raw",
        "bare",
        kernel_id=kernel,
        ramdisk_id=ramdisk,
        os_command_line=KERNEL_ARGS,
    )
    # An image with no properties at all: its bytes must come back unchanged.
    plain = bytes(512) + os.urandom(1024 * 1024)
    image = upload(conn, "upg-plain", plain, "raw", "bare")
    net = conn.network.create_network(name="upg-net")
    subnet = conn.network.create_subnet(network_id=net.id, cidr="10.177.0.0/24", ip_version=4, name="upg-subnet")
    public = conn.network.find_network("public")
    router = conn.network.create_router(name="upg-router", external_gateway_info={"network_id": public.id})
    conn.network.add_interface_to_router(router, subnet_id=subnet.id)
    group = conn.network.create_security_group(name="upg-sg")
    for protocol, port in (("icmp", None), ("tcp", 22)):
        conn.network.create_security_group_rule(
            security_group_id=group.id,
            direction="ingress",
            protocol=protocol,
            port_range_min=port,
            port_range_max=port,
            remote_ip_prefix="0.0.0.0/0",
            ethertype="IPv4",
        )
    conn.compute.create_keypair(name="upg-key", public_key=key.with_suffix(".pub").read_text())
    flavor = conn.compute.create_flavor(name="upg-flavor", **FLAVOR)
    server = conn.compute.create_server(
        name="upg-server",
        image_id=machine,
        flavor_id=flavor.id,
        networks=[{"uuid": net.id}],
        key_name="upg-key",
        security_groups=[{"name": group.name}],
    )
    server = conn.compute.wait_for_server(server, wait=600)
    port = next(iter(conn.network.ports(device_id=server.id)))
    address = conn.network.create_ip(floating_network_id=public.id, port_id=port.id).floating_ip_address
    volume = conn.block_storage.create_volume(name="upg-volume", size=1)
    conn.block_storage.wait_for_status(volume, "available", failures=["error"], wait=300)
    conn.compute.create_volume_attachment(server, volume_id=volume.id)
    conn.block_storage.wait_for_status(volume, "in-use", failures=["error"], wait=300)
    deadline = time.monotonic() + 420
    while True:  # the guest's SSH (its key from the metadata service) and its second disk
        try:
            guest_run(address, key, "test -b /dev/vdb")
            break
        except (AssertionError, OSError, paramiko.SSHException) as error:
            assert time.monotonic() < deadline, f"no SSH into the guest with /dev/vdb at {address}: {error}"
            time.sleep(5)
    written = f"dd if=/dev/urandom of=/dev/vdb bs={VOLUME_BYTES} count=1 conv=fsync 2>/dev/null"
    data_sum = guest_run(address, key, f"{written} && head -c {VOLUME_BYTES} /dev/vdb | sha256sum").split()[0]
    body = os.urandom(256 * 1024)
    conn.object_store.create_container(name="upg-container")
    conn.object_store.upload_object(container="upg-container", name="upg-object", data=body)
    on_node(lab, "ctl1", "cat > /root/upg-stack.yaml", stdin=STACK)
    openstack(lab, "stack create --wait -t /root/upg-stack.yaml upg-stack")
    return {
        "key": key,
        "address": address,
        "server": server.id,
        "volume": volume.id,
        "image": image,
        "image_sum": hashlib.sha256(plain).hexdigest(),
        "object_etag": hashlib.md5(body, usedforsecurity=False).hexdigest(),
        "data_sum": data_sum,
    }


def assert_the_users_things_work(lab: LabPaths, cloud: dict[str, Any], stack_length: int) -> None:
    conn = connect(StateDir.for_config(lab.config))
    assert conn.compute.get_server(cloud["server"]).status == "ACTIVE"
    assert openstack(lab, "server show upg-server -f value -c status").strip() == "ACTIVE"
    ping = subprocess.run(["ping", "-c3", "-W2", cloud["address"]], capture_output=True, text=True, check=False)
    assert ping.returncode == 0, ping.stdout
    read = guest_run(cloud["address"], cloud["key"], f"head -c {VOLUME_BYTES} /dev/vdb | sha256sum").split()[0]
    assert read == cloud["data_sum"], "the volume's data changed"
    assert conn.block_storage.get_volume(cloud["volume"]).status == "in-use"
    data = conn.image.download_image(cloud["image"]).content
    assert hashlib.sha256(data).hexdigest() == cloud["image_sum"], "the image's bytes changed"
    stored = conn.object_store.get_object_metadata("upg-object", container="upg-container")
    assert stored.etag == cloud["object_etag"], "the object's checksum changed"
    data = conn.object_store.download_object("upg-object", container="upg-container")
    assert hashlib.md5(data, usedforsecurity=False).hexdigest() == cloud["object_etag"]
    openstack(lab, f"stack update --wait -t /root/upg-stack.yaml --parameter length={stack_length} upg-stack")
    word = openstack(lab, "stack output show upg-stack word -f value -c output_value").strip()
    assert len(word) == stack_length, f"the stack's output after its update: {word!r}"


def test_a_deploy_of_the_next_release_is_refused(lab, cloud):
    set_release(lab.config, "2026.2")
    result = tenrec("deploy", "-c", str(lab.config))
    assert result.returncode == Exit.NODES_NOT_READY
    assert said(result, "upgrade with `tenrec upgrade --to 2026.2`")
    assert_everything_runs(lab, "2026.1")


def test_an_upgrade_whose_database_stops_during_novas_migrations_is_rolled_back(lab, cloud):
    command = [TENREC, "upgrade", "-c", str(lab.config)]
    # A line per task, unwrapped, as it starts.
    env = {**os.environ, "COLUMNS": "400"}
    runner = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, env=env
    )
    assert runner.stdout is not None
    # A hang fails the test instead of holding it (a stopped database once hung a migration).
    watchdog = threading.Timer(2400, runner.kill)
    watchdog.start()
    stopped = False
    for line in runner.stdout:
        print(line, end="")
        if not stopped and "Run the schema migrations of nova" in line:
            on_node(lab, "ctl1", "systemctl stop mariadb")
            stopped = True
    assert stopped, "the upgrade never ran nova's migrations"
    watchdog.cancel()
    assert runner.wait(timeout=60) == Exit.FAILED, "the upgrade did not fail by itself within 40 minutes"
    result = tenrec("rollback", "-c", str(lab.config))
    assert result.returncode == Exit.OK, result.stdout[-3000:]
    assert said(result, "Rolled back: every node runs 2026.1 again")
    for name in nodes(lab):
        assert on_node(lab, name, "cat /var/lib/tenrec/release").strip() == "2026.1", name
    assert_everything_runs(lab, "2026.1")
    assert_the_users_things_work(lab, cloud, 20)


def test_the_upgrade_keeps_the_guest_and_every_api_answering(lab, cloud):
    conn = connect(StateDir.for_config(lab.config))
    probe = DowntimeProbe(conn, ping=cloud["address"], ssh=SshGuest(cloud["address"], "root", cloud["key"]))
    probe.start()
    result = tenrec("upgrade", "-c", str(lab.config))
    figures = probe.stop()
    print(json.dumps(figures, indent=1))
    Console(width=140).print(results_table(figures))
    (lab.root / "upgrade-probe.json").write_text(json.dumps(figures, indent=1))
    assert result.returncode == Exit.OK, result.stdout[-3000:]
    assert said(result, "Upgraded from 2026.1 to 2026.2")
    assert figures["ping"]["lost"] <= 5, figures["ping"]
    assert figures["ssh"]["breaks"] == 0, figures["ssh"]
    assert len(figures["apis"]) >= 10, "every API of the catalog is polled"


def test_after_the_upgrade_everything_runs_2026_2_and_still_works(lab, cloud):
    assert_everything_runs(lab, "2026.2")
    for name in nodes(lab):
        assert on_node(lab, name, "cat /var/lib/tenrec/release").strip() == "2026.2", name
    assert_the_users_things_work(lab, cloud, 24)
    result = tenrec("verify", "-c", str(lab.config))
    assert result.returncode == Exit.OK, result.stdout[-4000:]


def test_a_second_upgrade_is_a_no_op(lab, cloud):
    result = tenrec("upgrade", "-c", str(lab.config))
    assert result.returncode == Exit.OK
    assert said(result, "Nothing to do: every node runs 2026.2")


def test_a_restore_returns_the_databases_of_its_backup(lab, cloud):
    backups = StateDir.for_config(lab.config).root / "backups"
    known = set(backups.glob("*.sql.gz"))
    assert tenrec("backup", "-c", str(lab.config)).returncode == Exit.OK
    (dump,) = set(backups.glob("openstack-2026.2-*.sql.gz")) - known
    assert dump.stat().st_mode & 0o777 == 0o600
    openstack(lab, "network create upg-after-the-backup")
    result = tenrec("restore", "-c", str(lab.config), "--yes", str(dump))
    assert result.returncode == Exit.OK, result.stdout[-3000:]
    assert "upg-after-the-backup" not in openstack(lab, "network list -f value -c Name")
    assert_everything_runs(lab, "2026.2")
    assert_the_users_things_work(lab, cloud, 28)
