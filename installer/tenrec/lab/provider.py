"""How lab nodes come to exist: podman containers here, QEMU VMs in tenrec.lab.vm, behind one interface."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tenrec.lab.host import LabHostError, podman
from tenrec.lab.topology import NetworkInfo, NetworkSpec, NodeSpec

LAB_LABEL = "tenrec.lab"
NODE_LABEL = "tenrec.node"
# Tasks (processes and threads) a node may run: the nproc ulimit of its processes too.
PIDS_LIMIT = 32768


@dataclass(frozen=True)
class NodeStatus:
    name: str
    state: str  # running, exited, ...
    handle: str  # the provider's own name for the node


class NodeProvider(Protocol):
    """Everything the lab asks of a kind of node."""

    kind: str

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
        """shared_dirs: host directory -> path in the node, kept when the node is destroyed."""
        ...

    def nodes(self, lab: str) -> list[NodeStatus]: ...

    def start_node(self, lab: str, name: str) -> None: ...

    def restart_nodes(self, lab: str, names: list[str]) -> None: ...

    def refresh_node(self, lab: str, name: str) -> None: ...

    def destroy(self, lab: str) -> list[str]:
        """Remove every node and network of the lab; return what was removed."""
        ...


def node_mac(lab: str, node: str, purpose: str) -> str:
    """A fixed, locally administered MAC per lab, node and network. podman would pick a new
    one at every start, and a real NIC keeps its own: the openvswitch role gives a bridge
    its interface's MAC, so a restarted node would otherwise differ from its deploy."""
    digest = hashlib.sha256(f"{lab}/{node}/{purpose}".encode()).digest()
    return ":".join(f"{byte:02x}" for byte in (0x02, *digest[:5]))


def boot_command(management_gateway: str) -> list[str]:
    """The node's first process: it leaves the management network's default route only, then
    becomes systemd (exec: PID 1). podman gives every routed network a default route of the
    same metric and the kernel takes whichever came first, so a node's way out (and the
    interface `tenrec install` plans on) changed from one start to the next; a host has one
    gateway. Run at every start, before any service of the node can see the other routes."""
    script = (
        "ip -4 route show default | while read -r _ _ gateway _ device _; do "
        f'[ "$gateway" = "{management_gateway}" ] || ip route del default via "$gateway" dev "$device"; '
        "done; exec /sbin/init"
    )
    return ["/bin/sh", "-c", script]


class PodmanProvider:
    """Rootful podman containers with systemd as PID 1, and the lab's networks: one podman
    bridge network per lab network (VM nodes plug into the same bridges)."""

    kind = "podman"

    def __init__(self, image: str) -> None:
        self.image = image

    @staticmethod
    def container_name(lab: str, node: str) -> str:
        return f"tenrec-{lab}-{node}"

    def create_network(self, lab: str, spec: NetworkSpec) -> NetworkInfo:
        args = ["network", "create", "--label", f"{LAB_LABEL}={lab}"]
        if not spec.routed:
            args.append("--internal")  # tunnel traffic stays between the nodes
        podman(*args, spec.name)
        data = json.loads(podman("network", "inspect", spec.name).stdout)[0]
        subnet = next(s for s in data.get("subnets", []) if "." in s["subnet"])
        return NetworkInfo(spec.purpose, spec.name, subnet["subnet"], subnet.get("gateway") if spec.routed else None)

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
        args = [
            "run",
            "--detach",
            "--name",
            self.container_name(lab, spec.name),
            "--hostname",
            spec.name,
            "--label",
            f"{LAB_LABEL}={lab}",
            "--label",
            f"{NODE_LABEL}={spec.name}",
            "--privileged",
            "--systemd=always",
            # podman's default, 2048 tasks, is what an all-in-one node with every service
            # reaches under Tempest (its threads then fail to start: fork's EAGAIN).
            "--pids-limit",
            str(PIDS_LIMIT),
            # Let the node own /etc/hosts like a real host does (the common role manages it).
            "--no-hosts",
            "--volume",
            f"{authorized_keys}:/root/.ssh/authorized_keys:ro",
        ]
        for host_dir, node_dir in (shared_dirs or {}).items():
            host_dir.mkdir(parents=True, exist_ok=True)
            args += ["--volume", f"{host_dir}:{node_dir}"]
        if dns:
            # One resolver, on the management network: an interface that OVS takes over
            # (the external one on a network node) must not carry the node's DNS.
            args += ["--dns", dns]
        for net in networks:
            address = spec.addresses[net.purpose]
            mac = node_mac(lab, spec.name, net.purpose)
            args += ["--network", f"{net.name}:ip={address},mac={mac},interface_name={net.interface}"]
        management = next(net for net in networks if net.purpose == "management")
        subnets = json.loads(podman("network", "inspect", management.name).stdout)[0]["subnets"]
        gateway = next(subnet["gateway"] for subnet in subnets if "." in subnet["subnet"])
        podman(*args, self.image, *boot_command(gateway))
        self._complete_checksums(lab, spec.name)

    def nodes(self, lab: str) -> list[NodeStatus]:
        out = podman("ps", "--all", "--filter", f"label={LAB_LABEL}={lab}", "--format", "json").stdout
        found = []
        for item in json.loads(out or "[]"):
            labels = item.get("Labels") or {}
            found.append(NodeStatus(labels.get(NODE_LABEL, "?"), item.get("State", "?"), item["Names"][0]))
        return sorted(found, key=lambda n: n.name)

    def start_node(self, lab: str, name: str) -> None:
        podman("start", self.container_name(lab, name))
        self._complete_checksums(lab, name)

    def restart_nodes(self, lab: str, names: list[str]) -> None:
        """A reboot of each node, all at once: systemd stops (30 s, then SIGKILL) and boots again."""
        podman("restart", "--time", "30", *(self.container_name(lab, name) for name in names))
        for name in names:
            self._complete_checksums(lab, name)

    def refresh_node(self, lab: str, name: str) -> None:
        """Put back what a restart outside tenrec (a plain `podman restart`) lost: podman makes
        new veth pairs, whose host ends compute no checksums again."""
        self._complete_checksums(lab, name)

    def _complete_checksums(self, lab: str, node: str) -> None:
        """Make this machine's end of each node interface send complete checksums.

        A veth leaves TCP and UDP checksums for the receiver to finish; Open vSwitch's
        userspace datapath inside the node forwards such packets as they are, so TCP through
        a node's netdev bridges (br-ex, br-phy) fails until this end computes them itself.
        """
        container = self.container_name(lab, node)
        peers = {}
        for name in podman("exec", container, "ls", "/sys/class/net").stdout.split():
            if name.startswith("eth"):
                peers[podman("exec", container, "cat", f"/sys/class/net/{name}/iflink").stdout.strip()] = name
        links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
        for line in links.splitlines():
            number, name = (part.strip() for part in line.split(":", 2)[:2])
            if number in peers:
                subprocess.run(["ethtool", "-K", name.split("@")[0], "tx", "off"], capture_output=True, check=True)

    def networks(self, lab: str) -> list[str]:
        out = podman("network", "ls", "--filter", f"label={LAB_LABEL}={lab}", "--format", "{{.Name}}").stdout
        return sorted(line for line in out.splitlines() if line)

    def destroy(self, lab: str) -> list[str]:
        removed = []
        for node in self.nodes(lab):
            podman("rm", "--force", "--time", "5", "--volumes", node.handle)
            removed.append(f"node {node.name}")
        for network in self.networks(lab):
            podman("network", "rm", "--force", network)
            removed.append(f"network {network}")
        leftovers = self.nodes(lab)
        if leftovers or self.networks(lab):
            raise LabHostError(f"could not remove everything of lab {lab}: {leftovers}")
        return removed
