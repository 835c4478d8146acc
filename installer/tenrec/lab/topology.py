"""What a lab consists of: its networks and nodes, independent of how nodes are made."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import netaddr

Topology = Literal["aio", "multinode"]
TOPOLOGIES: tuple[str, ...] = ("aio", "multinode")
# Network purpose -> interface name inside every node, in attachment order.
NETWORKS = {"management": "eth0", "tunnel": "eth1", "external": "eth2"}
EXTERNAL_BRIDGE = "br-ex"
# Roles whose nodes may be VMs (tenrec.lab.vm); the controller stays a container: its many
# services would run about 11 times slower under emulation.
VM_ROLES: tuple[str, ...] = ("network", "compute", "storage")


@dataclass(frozen=True)
class NetworkSpec:
    purpose: str  # management, tunnel or external
    name: str  # the provider's name for it, unique per lab
    interface: str
    routed: bool  # has a gateway on the host (NAT for apt, the "outside" for floating IPs)


@dataclass(frozen=True)
class NetworkInfo:
    """A network as created: the provider picked a free range."""

    purpose: str
    name: str
    cidr: str
    gateway: str | None


@dataclass(frozen=True)
class NodeSpec:
    name: str
    roles: tuple[str, ...]
    host_number: int  # last part of the node's address on every lab network
    addresses: dict[str, str] = field(default_factory=dict)  # purpose -> address
    kind: str = "podman"  # the provider that makes it: podman (a container) or qemu (a VM)


@dataclass(frozen=True)
class LabSpec:
    name: str
    topology: Topology
    computes: int = 1
    storage: int = 1
    vm_roles: tuple[str, ...] = ()  # nodes holding one of these roles are VMs

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> LabSpec:
        """The spec lab.json keeps (spec_record), labs made before VM nodes included."""
        return cls(**{**record, "vm_roles": tuple(record.get("vm_roles", ()))})

    def problems(self) -> list[str]:
        """What makes this lab impossible, each with its fix."""
        found = []
        unknown = sorted(set(self.vm_roles) - set(VM_ROLES))
        if unknown:
            found.append(
                f"--vm {','.join(unknown)}: VM nodes may hold the roles {', '.join(VM_ROLES)} "
                "(the controller stays a container: its services would run about 11 times slower emulated)"
            )
        if self.vm_roles and self.topology == "aio":
            found.append("--vm needs the multinode topology (the all-in-one node is a controller)")
        if ("compute" in self.vm_roles) != ("storage" in self.vm_roles):
            found.append(
                "--vm: give compute and storage together: a VM storage node keeps volumes in LVM, which "
                "container compute nodes cannot attach (no iSCSI initiator), and container storage nodes "
                "serve the lab's NFS, which VM compute nodes do not mount"
            )
        return found

    def networks(self) -> list[NetworkSpec]:
        return [
            NetworkSpec(purpose, f"tenrec-{self.name}-{purpose[:4]}", iface, purpose != "tunnel")
            for purpose, iface in NETWORKS.items()
        ]

    def nodes(self) -> list[NodeSpec]:
        if self.topology == "aio":
            return [NodeSpec("aio", ("controller", "network", "compute", "storage"), 11)]
        nodes = [NodeSpec("ctl1", ("controller",), 11), NodeSpec("net1", ("network",), 21)]
        nodes += [NodeSpec(f"cmp{i}", ("compute",), 30 + i) for i in range(1, self.computes + 1)]
        nodes += [NodeSpec(f"sto{i}", ("storage",), 40 + i) for i in range(1, self.storage + 1)]
        return [replace(node, kind=self.kind_of(node.roles)) for node in nodes]

    def kind_of(self, roles: tuple[str, ...]) -> str:
        return "qemu" if set(roles) & set(self.vm_roles) else "podman"


def spec_record(spec: LabSpec) -> dict[str, Any]:
    """The spec as lab.json keeps it (lists, not tuples)."""
    record = asdict(spec)
    record["vm_roles"] = list(spec.vm_roles)
    return record


def grows(recorded: dict[str, Any], spec: LabSpec) -> bool:
    """Whether spec is the recorded lab, or it with more compute or storage nodes."""
    wanted = spec_record(spec)
    recorded = {**recorded, "vm_roles": list(recorded.get("vm_roles", []))}  # none in labs made before VMs
    same = {key: value for key, value in recorded.items() if key not in ("computes", "storage")}
    return (
        same == {key: value for key, value in wanted.items() if key not in ("computes", "storage")}
        and wanted["computes"] >= recorded.get("computes", 1)
        and wanted["storage"] >= recorded.get("storage", 1)
    )


def place_nodes(nodes: list[NodeSpec], networks: list[NetworkInfo]) -> list[NodeSpec]:
    """Give each node its address on every network: host number N is the Nth address."""
    placed = []
    for node in nodes:
        addresses = {}
        for net in networks:
            cidr = netaddr.IPNetwork(net.cidr)
            if node.host_number >= cidr.size - 1:
                raise ValueError(f"{net.cidr} is too small for node {node.name}")
            addresses[net.purpose] = str(cidr.network + node.host_number)
        placed.append(replace(node, addresses=addresses))
    return placed
