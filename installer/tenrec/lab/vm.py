"""Lab nodes that are QEMU VMs with Debian's own kernel, on the same lab networks.

A container node shares this machine's kernel, which lacks the openvswitch module,
device-mapper, LIO and the kernel iSCSI initiator; a VM node has them all, so the production
defaults (OVS's kernel datapath, LVM, LIO, open-iscsi) run there. Each VM is one QEMU
process (daemonized; its pid file, QMP socket, console log and disks live in the lab's
directory), plugged into the podman networks' bridges through tap devices of its own, with
the addresses and SSH key handed over through QEMU's fw_cfg (tenrec.lab.vm_image). KVM where
it really runs a guest, else TCG emulation (this machine's /dev/kvm hangs every guest).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import netaddr

from tenrec.lab.host import LabHostError, podman, run
from tenrec.lab.provider import NodeStatus, node_mac
from tenrec.lab.topology import NetworkSpec, NodeSpec
from tenrec.lab.vm_image import FW_CFG_NAME, ROOT_LABEL, VmImage
from tenrec.paths import tenrec_home

QEMU = "qemu-system-x86_64"
HOST_PACKAGES = ("qemu-system-x86", "qemu-utils")


@dataclass(frozen=True)
class Shape:
    cpus: int
    memory_mib: int
    disks: tuple[tuple[str, str], ...] = ()  # (purpose, size): /dev/vdb, /dev/vdc, ... in order


# What each role needs under emulation: a compute node runs its guests inside (emulated
# again), a storage node gets a disk for Cinder's volume group and one for Swift.
ROLE_SHAPES = {
    "compute": Shape(2, 3072),
    # Four Neutron agents: with one emulated vCPU they missed their reports (all "dead") and
    # sshd its banner once verify had made a few routers.
    "network": Shape(2, 2048),
    "storage": Shape(1, 1536, (("volumes", "16G"), ("objects", "4G"))),
}
# Where the storage role's disks appear in the VM (virtio disks after the root's /dev/vda).
DISK_DEVICES = ("/dev/vdb", "/dev/vdc", "/dev/vdd")
POWERDOWN_SECONDS = 90.0  # an emulated guest's systemd takes a while to stop everything


def shape_of(roles: tuple[str, ...]) -> Shape:
    shapes = [ROLE_SHAPES[role] for role in roles if role in ROLE_SHAPES]
    if not shapes:
        raise LabHostError(f"a VM node needs one of the roles {', '.join(ROLE_SHAPES)} (got {', '.join(roles)})")
    disks = tuple(disk for shape in shapes for disk in shape.disks)
    memory = max(s.memory_mib for s in shapes) + 512 * (len(shapes) - 1)
    return Shape(max(s.cpus for s in shapes), memory, disks)


def disk_devices(roles: tuple[str, ...]) -> dict[str, str]:
    """purpose -> device inside the VM, e.g. {'volumes': '/dev/vdb', 'objects': '/dev/vdc'}."""
    return {purpose: DISK_DEVICES[i] for i, (purpose, _) in enumerate(shape_of(roles).disks)}


def tap_name(lab: str, node: str, purpose: str) -> str:
    """A tap per lab, node and network (15 characters at most for a Linux interface)."""
    return "tv" + hashlib.sha256(f"{lab}/{node}/{purpose}".encode()).hexdigest()[:10]


def kvm_usable() -> bool:
    """Whether KVM runs a guest here. A /dev/kvm alone is not proof: this machine's is a
    PVM-only hypervisor under which a normal guest hangs after the firmware, so KVM is only
    taken when TENREC_LAB_KVM=1 says it was seen to work."""
    return os.environ.get("TENREC_LAB_KVM") == "1" and Path("/dev/kvm").exists()


def qemu_argv(
    image: VmImage, where: Path, name: str, shape: Shape, nics: list[tuple[str, str]], *, kvm: bool
) -> list[str]:
    """The QEMU command of a VM node whose files are in where; nics: (tap, MAC) in the order
    of the node's interfaces (eth0, eth1, ...)."""
    argv = [
        QEMU,
        "-name",
        f"{name},process={name}",
        "-machine",
        "q35",
        "-accel",
        "kvm" if kvm else "tcg,thread=multi",
        # Every feature TCG emulates. Taking features away can break the guest: with QEMU 7.2,
        # "max,-vmx,-svm" garbled the guest kernel's paths (every mount point read "xxx" in
        # /proc/self/mountinfo; systemd failed its mounts, udevd and logind).
        "-cpu",
        "host" if kvm else "max",
        "-smp",
        str(shape.cpus),
        "-m",
        str(shape.memory_mib),
        "-kernel",
        str(image.kernel),
        "-initrd",
        str(image.initrd),
        "-append",
        f"root=LABEL={ROOT_LABEL} rw console=ttyS0 net.ifnames=0 panic=10",
        "-nodefaults",  # no CD-ROM, no default NIC or VGA: only what follows
        # Disks in PCI order: /dev/vda the root, then the role's disks as /dev/vdb, ...
        "-drive",
        f"file={where / 'root.qcow2'},if=none,id=root,format=qcow2,discard=unmap",
        "-device",
        "virtio-blk-pci,drive=root",
    ]
    for purpose, _ in shape.disks:
        argv += [
            "-drive",
            f"file={where / f'{purpose}.qcow2'},if=none,id={purpose},format=qcow2,discard=unmap",
            "-device",
            f"virtio-blk-pci,drive={purpose},serial=tenrec-{purpose}",  # /dev/disk/by-id/virtio-tenrec-…
        ]
    for index, (tap, mac) in enumerate(nics):
        argv += [
            "-netdev",
            f"tap,id=net{index},ifname={tap},script=no,downscript=no",
            "-device",
            f"virtio-net-pci,netdev=net{index},mac={mac}",
        ]
    return [
        *argv,
        "-fw_cfg",
        f"name={FW_CFG_NAME},file={where / 'node.json'}",
        "-object",
        "rng-random,id=rng0,filename=/dev/urandom",
        "-device",
        "virtio-rng-pci,rng=rng0",
        "-display",
        "none",
        "-monitor",
        "none",
        # The console of every boot, one after the other (a reboot's too).
        "-chardev",
        f"file,id=console,path={where / 'console.log'},append=on",
        "-serial",
        "chardev:console",
        "-qmp",
        f"unix:{where / 'qmp.sock'},server=on,wait=off",
        "-pidfile",
        str(where / "qemu.pid"),
        "-daemonize",
    ]


class QemuProvider:
    """VM nodes: one daemonized QEMU per node, found again through its pid file."""

    kind = "qemu"

    def __init__(self, vm_image: VmImage, labs_root: Path | None = None) -> None:
        self.image = vm_image
        self.labs_root = labs_root or tenrec_home() / "labs"

    def node_dir(self, lab: str, node: str) -> Path:
        return self.labs_root / lab / "vms" / node

    def process_name(self, lab: str, node: str) -> str:
        return f"tenrec-{lab}-{node}"

    def create_node(
        self,
        lab: str,
        spec: NodeSpec,
        networks: list[NetworkSpec],
        authorized_keys: Path,
        *,
        dns: str | None = None,
        shared_dirs: dict[Path, str] | None = None,
    ) -> None:
        if shared_dirs:
            raise LabHostError(f"VM node {spec.name} cannot mount this machine's {', '.join(map(str, shared_dirs))}")
        where = self.node_dir(lab, spec.name)
        where.mkdir(parents=True, exist_ok=True)
        overlay = ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(self.image.root)]
        run([*overlay, str(where / "root.qcow2")], what=f"the root disk of {spec.name}")
        for purpose, size in shape_of(spec.roles).disks:
            run(
                ["qemu-img", "create", "-q", "-f", "qcow2", str(where / f"{purpose}.qcow2"), size],
                what=f"the {purpose} disk of {spec.name}",
            )
        interfaces = []
        gateway = None
        for net in networks:
            info = json.loads(podman("network", "inspect", net.name).stdout)[0]
            subnet = next(s for s in info["subnets"] if "." in s["subnet"])
            prefix = netaddr.IPNetwork(subnet["subnet"]).prefixlen
            address = spec.addresses[net.purpose]
            interfaces.append(
                {
                    "name": net.interface,
                    "purpose": net.purpose,
                    "mac": node_mac(lab, spec.name, net.purpose),
                    "address": f"{address}/{prefix}",
                    "bridge": info["network_interface"],
                    "tap": tap_name(lab, spec.name, net.purpose),
                }
            )
            if net.purpose == "management":
                gateway = subnet["gateway"]
        identity = {
            "hostname": spec.name,
            "dns": dns or gateway,
            "gateway": gateway,
            "authorized_keys": authorized_keys.read_text(),
            "interfaces": interfaces,
            "roles": list(spec.roles),
        }
        config = where / "node.json"
        config.write_text(json.dumps(identity, indent=2))
        config.chmod(0o600)
        self._launch(lab, spec.name)

    def _identity(self, lab: str, node: str) -> dict[str, object]:
        data: dict[str, object] = json.loads((self.node_dir(lab, node) / "node.json").read_text())
        return data

    def _plug(self, lab: str, node: str) -> list[str]:
        """The node's taps, made when missing and (again) attached to their bridges."""
        taps = []
        interfaces = self._identity(lab, node)["interfaces"]
        assert isinstance(interfaces, list)
        for nic in interfaces:
            tap, bridge = nic["tap"], nic["bridge"]
            if not Path(f"/sys/class/net/{bridge}").exists():
                raise LabHostError(
                    f"the bridge {bridge} of lab network {nic['purpose']} is gone: podman makes it for the lab's "
                    "container nodes (start them first, or `tenrec lab down` and up again)"
                )
            if not Path(f"/sys/class/net/{tap}").exists():
                run(["ip", "tuntap", "add", "dev", tap, "mode", "tap"], what=f"tap {tap}")
            run(["ip", "link", "set", "dev", tap, "master", bridge, "up"], what=f"tap {tap} on {bridge}")
            taps.append(tap)
        return taps

    def _launch(self, lab: str, node: str) -> None:
        identity = self._identity(lab, node)
        roles = tuple(identity["roles"])  # type: ignore[arg-type]
        interfaces = identity["interfaces"]
        assert isinstance(interfaces, list)
        taps = self._plug(lab, node)
        nics = [(tap, nic["mac"]) for nic, tap in zip(interfaces, taps, strict=True)]
        where = self.node_dir(lab, node)
        argv = qemu_argv(self.image, where, self.process_name(lab, node), shape_of(roles), nics, kvm=kvm_usable())
        run(argv, what=f"QEMU for {node}")

    def _pid(self, lab: str, node: str) -> int | None:
        pidfile = self.node_dir(lab, node) / "qemu.pid"
        try:
            pid = int(pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if self.process_name(lab, node).encode() in cmdline else None

    def nodes(self, lab: str) -> list[NodeStatus]:
        root = self.labs_root / lab / "vms"
        if not root.is_dir():
            return []
        found = []
        for where in sorted(root.iterdir()):
            if (where / "node.json").exists():
                state = "running" if self._pid(lab, where.name) else "exited"
                found.append(NodeStatus(where.name, state, self.process_name(lab, where.name)))
        return found

    def start_node(self, lab: str, name: str) -> None:
        if self._pid(lab, name) is None:
            self._launch(lab, name)

    def refresh_node(self, lab: str, name: str) -> None:
        self._plug(lab, name)

    def restart_nodes(self, lab: str, names: list[str]) -> None:
        """A reboot of each VM, all at once: ACPI power button (systemd stops the node), a
        hard stop after POWERDOWN_SECONDS, then a fresh QEMU on the same disks."""
        for name in names:
            self._qmp(lab, name, "system_powerdown")
        for name in names:
            self._wait_gone(lab, name, POWERDOWN_SECONDS)
        for name in names:
            self._launch(lab, name)

    def _qmp(self, lab: str, node: str, command: str) -> None:
        path = self.node_dir(lab, node) / "qmp.sock"
        if self._pid(lab, node) is None:
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as qmp:
            qmp.settimeout(10)
            qmp.connect(str(path))
            reader = qmp.makefile("r")
            reader.readline()  # the greeting
            for execute in ("qmp_capabilities", command):
                qmp.sendall(json.dumps({"execute": execute}).encode() + b"\n")
                while True:
                    reply = json.loads(reader.readline())
                    if "return" in reply or "error" in reply:
                        break
                if "error" in reply:
                    raise LabHostError(f"QEMU of {node} refused {execute}: {reply['error'].get('desc')}")

    def _wait_gone(self, lab: str, node: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (pid := self._pid(lab, node)) is not None:
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + 10
            time.sleep(0.5)

    def stop_node(self, lab: str, node: str) -> None:
        """Power off now (the lab is being removed: nothing on the node needs to stop cleanly)."""
        pid = self._pid(lab, node)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            self._wait_gone(lab, node, 10)

    def destroy(self, lab: str) -> list[str]:
        removed = []
        for node in self.nodes(lab):
            self.stop_node(lab, node.name)
            for nic in self._identity(lab, node.name)["interfaces"]:  # type: ignore[attr-defined]
                if Path(f"/sys/class/net/{nic['tap']}").exists():
                    run(["ip", "link", "del", "dev", nic["tap"]], what=f"removing tap {nic['tap']}")
            shutil.rmtree(self.node_dir(lab, node.name))
            removed.append(f"VM node {node.name}")
        if self.nodes(lab):
            raise LabHostError(f"could not remove every VM node of lab {lab}")
        return removed
