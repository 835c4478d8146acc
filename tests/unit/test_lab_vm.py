"""VM lab nodes (tenrec.lab.vm): which nodes are VMs, their shape, disks and QEMU command."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tenrec.config.load import validate
from tenrec.lab.lab import lab_config
from tenrec.lab.topology import LabSpec, NetworkInfo, grows, place_nodes, spec_record
from tenrec.lab.vm import disk_devices, qemu_argv, shape_of, tap_name
from tenrec.lab.vm_image import CONFIG_SCRIPT, FW_CFG_NAME, VmImage

NETWORKS = [
    NetworkInfo("management", "tenrec-t-mana", "10.89.4.0/24", "10.89.4.1"),
    NetworkInfo("tunnel", "tenrec-t-tunn", "10.89.5.0/24", None),
    NetworkInfo("external", "tenrec-t-exte", "10.89.6.0/24", "10.89.6.1"),
]


def test_nodes_with_a_vm_role_are_vms_and_the_controller_stays_a_container():
    spec = LabSpec("t", "multinode", computes=2, vm_roles=("network", "compute", "storage"))
    kinds = {node.name: node.kind for node in spec.nodes()}
    assert kinds == {"ctl1": "podman", "net1": "qemu", "cmp1": "qemu", "cmp2": "qemu", "sto1": "qemu"}
    assert {node.kind for node in LabSpec("t", "multinode").nodes()} == {"podman"}


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        (LabSpec("t", "multinode", vm_roles=("controller",)), "the controller stays a container"),
        (LabSpec("t", "aio", vm_roles=("network",)), "needs the multinode topology"),
        (LabSpec("t", "multinode", vm_roles=("compute",)), "give compute and storage together"),
        (LabSpec("t", "multinode", vm_roles=("storage",)), "give compute and storage together"),
    ],
)
def test_impossible_vm_labs_are_refused_with_the_fix(spec, fragment):
    problems = spec.problems()
    assert any(fragment in problem for problem in problems), problems
    assert all(problem.startswith("--vm") for problem in problems)


def test_possible_vm_labs_have_no_problem():
    assert LabSpec("t", "multinode", vm_roles=("network",)).problems() == []
    assert LabSpec("t", "multinode", vm_roles=("compute", "storage")).problems() == []


def test_a_lab_keeps_its_vm_roles_and_older_labs_had_none():
    spec = LabSpec("lab", "multinode", vm_roles=("network", "compute", "storage"))
    recorded = json.loads(json.dumps(spec_record(spec)))  # as lab.json keeps it
    assert grows(recorded, spec)
    assert grows(recorded, LabSpec("lab", "multinode", computes=2, vm_roles=("network", "compute", "storage")))
    assert not grows(recorded, LabSpec("lab", "multinode"))
    before_vms = {key: value for key, value in spec_record(LabSpec("lab", "multinode")).items() if key != "vm_roles"}
    assert grows(before_vms, LabSpec("lab", "multinode"))


def test_vm_storage_nodes_get_real_disks_and_no_nfs_in_the_lab_config():
    spec = LabSpec("t", "multinode", vm_roles=("network", "compute", "storage"))
    data = lab_config(spec, place_nodes(spec.nodes(), NETWORKS), NETWORKS, Path("/k/id_ed25519"))
    sto1 = next(node for node in data["nodes"] if node["name"] == "sto1")
    assert sto1["volume_devices"] == ["/dev/vdb"] and sto1["object_devices"] == ["/dev/vdc"]
    assert "nfs_shares" not in data["volumes"]
    assert data["services"]["ceilometer"] is False  # no kernel path, and slow to build emulated
    _, problems = validate(data)
    assert problems == [], [p.render() for p in problems]


def test_container_storage_keeps_the_labs_nfs():
    spec = LabSpec("t", "multinode", vm_roles=("network",))
    data = lab_config(spec, place_nodes(spec.nodes(), NETWORKS), NETWORKS, Path("/k/id_ed25519"))
    assert data["volumes"]["nfs_shares"]
    assert data["services"]["ceilometer"] is True
    assert all("volume_devices" not in node for node in data["nodes"])


def test_shapes_follow_the_roles():
    assert shape_of(("compute",)).cpus == 2 and shape_of(("compute",)).disks == ()
    storage = shape_of(("storage",))
    assert [purpose for purpose, _ in storage.disks] == ["volumes", "objects"]
    both = shape_of(("compute", "storage"))
    assert both.cpus == 2 and both.memory_mib > shape_of(("compute",)).memory_mib and both.disks == storage.disks
    assert disk_devices(("storage",)) == {"volumes": "/dev/vdb", "objects": "/dev/vdc"}


def test_tap_names_fit_a_linux_interface_name():
    names = {tap_name(lab, node, net) for lab in ("a", "b") for node in ("net1", "cmp1") for net in ("m", "t", "e")}
    assert len(names) == 12 and all(len(name) <= 15 for name in names)


def test_qemu_command_puts_the_root_disk_first_and_each_nic_on_its_tap(tmp_path):
    image = VmImage(tmp_path / "root.img", tmp_path / "vmlinuz", tmp_path / "initrd.img")
    nics = [("tvaaa", "02:00:00:00:00:01"), ("tvbbb", "02:00:00:00:00:02")]
    argv = qemu_argv(image, tmp_path, "tenrec-t-sto1", shape_of(("storage",)), nics, kvm=False)
    drives = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-drive"]
    assert [drive.split(",")[0] for drive in drives] == [
        f"file={tmp_path}/root.qcow2",
        f"file={tmp_path}/volumes.qcow2",
        f"file={tmp_path}/objects.qcow2",
    ]
    devices = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-device"]
    assert devices[0] == "virtio-blk-pci,drive=root"  # PCI order: /dev/vda is the root
    assert "virtio-net-pci,netdev=net1,mac=02:00:00:00:00:02" in devices
    assert "tap,id=net0,ifname=tvaaa,script=no,downscript=no" in argv
    assert argv[argv.index("-cpu") + 1] == "max" and argv[argv.index("-accel") + 1].startswith("tcg")
    assert f"name={FW_CFG_NAME},file={tmp_path}/node.json" in argv
    assert "-nodefaults" in argv and "-daemonize" in argv


def test_the_guest_config_script_sets_names_keys_and_addresses(tmp_path):
    """The script the VM runs at boot, against a stand-in /sys, /etc and `ip`/`hostname`."""
    sys_net = tmp_path / "sys/class/net"
    for name, mac in (("eth0", "02:00:00:00:00:01"), ("eth7", "02:00:00:00:00:02")):
        (sys_net / name).mkdir(parents=True)
        (sys_net / name / "address").write_text(mac + "\n")
    fw_cfg = tmp_path / f"sys/firmware/qemu_fw_cfg/by_name/{FW_CFG_NAME}"
    fw_cfg.mkdir(parents=True)
    node = {
        "hostname": "cmp1",
        "dns": "10.89.4.1",
        "gateway": "10.89.4.1",
        "authorized_keys": "ssh-ed25519 AAAA lab\n",
        "interfaces": [
            {"name": "eth0", "mac": "02:00:00:00:00:01", "address": "10.89.4.31/24"},
            {"name": "eth1", "mac": "02:00:00:00:00:02", "address": "10.89.5.31/24"},
        ],
    }
    (fw_cfg / "raw").write_text(json.dumps(node))
    (tmp_path / "etc").mkdir()
    (tmp_path / "root").mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("ip", "hostname"):
        (bin_dir / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> {tmp_path}/calls\n')
        (bin_dir / tool).chmod(0o755)
    script = CONFIG_SCRIPT.format(name=FW_CFG_NAME)
    for absolute in ("/sys/", "/etc/", "/root/"):
        script = script.replace(f'"{absolute}', f'"{tmp_path}{absolute}')
    result = subprocess.run(
        ["python3", "-c", script], check=False, env={"PATH": f"{bin_dir}:/usr/bin:/bin"}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "etc/hostname").read_text() == "cmp1\n"
    assert (tmp_path / "etc/resolv.conf").read_text() == "nameserver 10.89.4.1\n"
    keys = tmp_path / "root/.ssh/authorized_keys"
    assert keys.read_text() == node["authorized_keys"] and keys.stat().st_mode & 0o777 == 0o600
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == [
        "hostname cmp1",
        "ip link set dev eth0 up",
        "ip address replace 10.89.4.31/24 dev eth0",
        "ip link set dev eth7 down",  # found by its MAC, renamed to the lab's name
        "ip link set dev eth7 name eth1",
        "ip link set dev eth1 up",
        "ip address replace 10.89.5.31/24 dev eth1",
        "ip route replace default via 10.89.4.1 dev eth0",
    ]


def test_a_recorded_vm_lab_reads_back_as_the_same_spec():
    spec = LabSpec("lab", "multinode", computes=2, vm_roles=("compute", "storage"))
    assert LabSpec.from_record(json.loads(json.dumps(spec_record(spec)))) == spec
    older = {key: value for key, value in spec_record(LabSpec("lab", "aio")).items() if key != "vm_roles"}
    assert LabSpec.from_record(older) == LabSpec("lab", "aio")
