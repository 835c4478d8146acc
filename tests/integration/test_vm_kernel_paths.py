"""The CI part of the VM scenario: the production kernel paths on VM lab nodes, without
OpenStack. A lab whose network, compute and storage nodes are QEMU VMs with Debian's own
kernel gets the node-level roles of a deploy (vm_kernel_paths.yml: precheck, common,
openvswitch, iscsi_target, cinder's volume group, the initiator), twice (the second changes
nothing); then real packets over VXLAN between the kernel datapaths of the network and
compute VMs, a thin logical volume exported by LIO and written from the compute VM through
open-iscsi, and a power cycle of the lab (`lab restart`) after which the storage VM's volume
group and bytes and the kernel datapaths are back.
About ten minutes here; `./run-vm-test --kernel-paths` (README, "Tests"). The whole
scenario with OpenStack on the same kind of lab is test_vm_lab.py.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
import testinfra
import yaml
from rich.console import Console

from tenrec.exitcodes import Exit
from tenrec.lab.lab import LabPaths
from tenrec.paths import StateDir
from tenrec.runner import RunResult, run_playbook
from tests.ovs_vxlan import check_vxlan
from tests.vm_lab import address_of, assert_lab_down_leaves_nothing, node, tenrec, vm_lab

LAB = "ivk"
PLAYBOOK = Path(__file__).with_name("vm_kernel_paths.yml")
VM_NODES = ("net1", "cmp1", "sto1")
VOLUME_GROUP = "cinder-volumes"
POOL, VOLUME = "kernel-paths-pool", "kernel-paths-lun"
TARGET = "iqn.2026-12.dev.tenrec:kernel-paths"
MARKER_BYTES = 4096

pytestmark = [
    pytest.mark.lab,
    pytest.mark.vmpaths,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab runs rootful podman and QEMU: run as root"),
    pytest.mark.skipif(shutil.which("apt-get") is None, reason="the lab host must be Debian with apt"),
]


@pytest.fixture(scope="module")
def lab():
    with vm_lab(LAB, "network,compute,storage") as paths:
        yield paths


@pytest.fixture(scope="module")
def config(lab):
    return yaml.safe_load(lab.config.read_text())


def converge(lab: LabPaths) -> RunResult:
    """vm_kernel_paths.yml through tenrec's own runner, on the inventory tenrec generates."""
    assert tenrec("inventory", "-c", str(lab.config)).returncode == Exit.OK
    state = StateDir.for_config(lab.config)
    result = run_playbook(state, str(PLAYBOOK), Console(), hosts=len(VM_NODES), label="kernel-paths")
    assert result.ok, "\n".join([*(f"{f.host}: {f.task}: {f.message}" for f in result.failures), result.log])
    return result


def read(host: testinfra.host.Host, device: str) -> str:
    # O_DIRECT both ways: LIO's block backend and the initiator's disk bypass the page cache.
    dump = f"dd if={device} bs={MARKER_BYTES} count=1 iflag=direct status=none | od -An -v -tx1 | tr -d ' \\n'"
    return host.check_output(dump).strip()


def test_check_nodes_decides_the_kernel_paths(lab):
    result = tenrec("check", "--nodes", "-c", str(lab.config))
    assert result.returncode == Exit.OK, result.stdout + result.stderr
    nodes = {n["name"]: n for n in json.loads((StateDir.for_config(lab.config).logs / "nodes.json").read_text())}
    for name in VM_NODES:
        facts, decisions = nodes[name]["facts"], nodes[name]["decisions"]
        assert facts["container"] == "" and all(facts["kernel_features"].values()), facts
        assert (decisions["ovs_datapath"], decisions["volume_backend"], decisions["iscsi_target"]) == (
            "system",
            "lvm",
            "lio",
        ), decisions


def test_the_node_roles_converge_and_a_second_run_changes_nothing(lab):
    started = time.monotonic()
    converge(lab)
    print(f"FIGURE node roles on the VMs: {time.monotonic() - started:.0f} s")
    started = time.monotonic()
    again = converge(lab)
    changed = {host: stats.changed for host, stats in again.stats.items() if stats.changed}
    assert not changed, f"a second run changed something: {changed}; {again.log}"
    print(f"FIGURE no-change run: {time.monotonic() - started:.0f} s")


def check_kernel_vxlan(lab: LabPaths, config: dict) -> None:
    """Pings over VXLAN between net1 and cmp1, both on the kernel's datapath."""
    net1, cmp1 = node(lab, config, "net1"), node(lab, config, "cmp1")
    datapaths: dict[str, str] = {}

    def read_datapaths() -> None:
        for name, vm in (("net1", net1), ("cmp1", cmp1)):
            datapaths[name] = vm.check_output("ovs-appctl dpctl/show")

    pings = check_vxlan(
        net1,
        address_of(config, "net1", "tunnel_address"),
        cmp1,
        address_of(config, "cmp1", "tunnel_address"),
        while_up=read_datapaths,
    )
    assert all(" 0% packet loss" in out or "3 received" in out for out in pings.values()), pings
    for name, shown in datapaths.items():
        # The kernel's datapath, with the kernel's VXLAN port carrying the test tunnel.
        assert "system@ovs-system" in shown and "vxlan_sys_4789" in shown, f"{name}: {shown}"


def test_vxlan_between_the_kernel_datapaths_of_the_network_and_compute_vms(lab, config):
    check_kernel_vxlan(lab, config)


@pytest.fixture(scope="module")
def marker() -> str:
    """What the compute VM writes through open-iscsi, as hex."""
    return os.urandom(MARKER_BYTES).hex()


@pytest.fixture
def lun(lab, config):
    """A thin volume in Cinder's volume group, exported by LIO to the compute VM only (what
    Cinder's LIO helper makes per attachment); the compute VM's disk of it while logged in."""
    sto1, cmp1 = node(lab, config, "sto1"), node(lab, config, "cmp1")
    portal = address_of(config, "sto1", "storage_address")
    initiator = cmp1.check_output("sed -n 's/^InitiatorName=//p' /etc/iscsi/initiatorname.iscsi")
    tpg = f"/iscsi/{TARGET}/tpg1"
    for command in (
        # What Cinder's rtslib does before its first target; the kernel refuses a missing directory.
        "echo /etc/target > /sys/kernel/config/target/dbroot",
        f"lvcreate -q -l 50%VG -T {VOLUME_GROUP}/{POOL}",
        f"lvcreate -q -V 64M -T {VOLUME_GROUP}/{POOL} -n {VOLUME}",
        f"targetcli /backstores/block create name={VOLUME} dev=/dev/{VOLUME_GROUP}/{VOLUME}",
        f"targetcli /iscsi create {TARGET}",
        f"targetcli {tpg}/luns create /backstores/block/{VOLUME}",
        f"targetcli {tpg}/portals create {portal} 3260",
        f"targetcli {tpg}/acls create {initiator}",
    ):
        sto1.check_output(command)
    listening = [line.split()[3] for line in sto1.check_output("ss -Htln 'sport = :3260'").splitlines()]
    assert listening == [f"{portal}:3260"], listening  # the storage address only
    started = time.monotonic()
    cmp1.check_output(f"iscsiadm -m discovery -t sendtargets -p {portal}:3260")
    cmp1.check_output(f"iscsiadm -m node -T {TARGET} -p {portal}:3260 --login")
    disk = f"/dev/disk/by-path/ip-{portal}:3260-iscsi-{TARGET}-lun-0"
    deadline = time.monotonic() + 60
    while not cmp1.file(disk).exists and time.monotonic() < deadline:
        time.sleep(1)
    assert cmp1.file(disk).exists, cmp1.run("iscsiadm -m session -P 3").stdout
    print(f"FIGURE open-iscsi login to LIO until the disk: {time.monotonic() - started:.1f} s")
    yield disk
    # Logged out before the lab's power cycle: a session to a target going down with it
    # holds the compute VM's shutdown.
    cmp1.check_output(f"iscsiadm -m node -T {TARGET} -p {portal}:3260 --logout")


def test_bytes_written_through_open_iscsi_land_on_the_thin_volume(lab, config, lun, marker):
    sto1, cmp1 = node(lab, config, "sto1"), node(lab, config, "cmp1")
    portal = address_of(config, "sto1", "storage_address")
    sessions = cmp1.check_output("iscsiadm -m session")  # "tcp: [1] ADDRESS:3260,1 TARGET (non-flash)"
    assert f"tcp: [1] {portal}:3260,1 {TARGET} " in sessions, sessions
    write = f"import sys; sys.stdout.buffer.write(bytes.fromhex('{marker}'))"
    cmp1.check_output(f'python3 -c "{write}" | dd of={lun} bs={MARKER_BYTES} count=1 oflag=direct status=none')
    assert read(sto1, f"/dev/{VOLUME_GROUP}/{VOLUME}") == marker
    assert read(cmp1, lun) == marker


def test_a_power_cycle_keeps_the_volume_group_the_bytes_and_the_kernel_paths(lab, config, marker):
    """`tenrec lab restart`: each VM's power button, then a fresh QEMU on the same disks."""
    boot_ids = {name: node(lab, config, name).check_output("cat /proc/sys/kernel/random/boot_id") for name in VM_NODES}
    started = time.monotonic()
    result = tenrec("lab", "restart", "--name", LAB)
    assert result.returncode == Exit.OK, result.stdout + result.stderr
    print(f"FIGURE lab restart (power cycle until SSH): {time.monotonic() - started:.0f} s")
    for name in VM_NODES:
        vm = node(lab, config, name)
        assert vm.check_output("cat /proc/sys/kernel/random/boot_id") != boot_ids[name], f"{name} did not reboot"
        assert vm.check_output("systemctl is-system-running --wait") in ("running", "degraded")
        assert vm.check_output("systemctl --failed --no-legend") == "", f"{name} has failed units"
    sto1 = node(lab, config, "sto1")
    assert sto1.service("tenrec-cinder-volume-group").is_enabled
    assert sto1.check_output(f"pvs --noheadings -o pv_name -S vg_name={VOLUME_GROUP}").split() == ["/dev/vdb"]
    assert sto1.check_output(f"lvs --noheadings -o lv_active {VOLUME_GROUP}/{VOLUME}").strip() == "active"
    assert read(sto1, f"/dev/{VOLUME_GROUP}/{VOLUME}") == marker
    # LIO's modules are back at boot (Cinder re-creates its exports when cinder-volume starts).
    for module in ("target_core_mod", "iscsi_target_mod"):
        assert sto1.file(f"/sys/module/{module}").is_directory, module
    assert sto1.file("/sys/kernel/config/target/core").is_directory  # configfs mounted
    # Cinder restores its own targets; Debian's restore unit stays masked.
    assert sto1.run("systemctl is-enabled rtslib-fb-targetctl").stdout.strip() == "masked"
    check_kernel_vxlan(lab, config)


def test_lab_up_on_the_running_lab_leaves_its_vms_running(lab, config):
    boot_ids = {name: node(lab, config, name).check_output("cat /proc/sys/kernel/random/boot_id") for name in VM_NODES}
    result = tenrec("lab", "up", "--name", LAB, "--vm", "network,compute,storage")
    assert result.returncode == Exit.OK, result.stdout + result.stderr
    for name in VM_NODES:
        assert node(lab, config, name).check_output("cat /proc/sys/kernel/random/boot_id") == boot_ids[name], name


def test_lab_down_leaves_no_vm_tap_or_network(lab):
    assert_lab_down_leaves_nothing(lab, LAB)
