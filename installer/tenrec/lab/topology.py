"""What a lab consists of: its networks and nodes, independent of how nodes are made."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import netaddr

Topology = Literal["aio", "multinode"]
TOPOLOGIES: tuple[str, ...] = ("aio", "multinode")
# Network purpose -> interface name inside every node, in attachment order.
NETWORKS = {"management": "eth0", "tunnel": "eth1", "external": "eth2"}
EXTERNAL_BRIDGE = "br-ex"


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


@dataclass(frozen=True)
class LabSpec:
    name: str
    topology: Topology
    computes: int = 1
    storage: int = 1

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
        return nodes


def grows(recorded: dict[str, Any], spec: LabSpec) -> bool:
    """Whether spec is the recorded lab, or it with more compute or storage nodes."""
    wanted = asdict(spec)
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
        placed.append(NodeSpec(node.name, node.roles, node.host_number, addresses))
    return placed
