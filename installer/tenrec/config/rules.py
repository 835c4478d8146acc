"""Rules that relate one part of the config to another.

They read the raw YAML data, not the validated model, so that they still run when
some fields are malformed: a value that does not parse is skipped here (its field
validator reports it) and every other rule still speaks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import netaddr

from tenrec.config.model import parse_cidr, parse_ipv4
from tenrec.config.problems import Problem

NETWORK_NAMES = ("management", "tunnel", "storage", "external")
# Which network each per-node address field belongs to.
ADDRESS_FIELDS = {"address": "management", "tunnel_address": "tunnel", "storage_address": "storage"}
# Node roles that need an address on a network when that network is declared.
ROLES_NEEDING = {"tunnel": ("network", "compute"), "storage": ("storage",)}

Rule = Callable[[dict[str, Any]], Iterator[Problem]]


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _nodes(data: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    nodes = data.get("nodes")
    if not isinstance(nodes, list):
        return []
    return [(i, node) for i, node in enumerate(nodes) if isinstance(node, dict)]


def _roles(node: dict[str, Any]) -> list[str]:
    roles = node.get("roles")
    return [r for r in roles if isinstance(r, str)] if isinstance(roles, list) else []


def _networks(data: dict[str, Any]) -> dict[str, netaddr.IPNetwork]:
    """Declared networks whose CIDR parses."""
    declared = _mapping(data.get("networks"))
    found = {}
    for name in NETWORK_NAMES:
        cidr = parse_cidr(_mapping(declared.get(name)).get("cidr"))
        if cidr is not None:
            found[name] = cidr
    return found


def duplicate_names(data: dict[str, Any]) -> Iterator[Problem]:
    first_seen: dict[str, int] = {}
    for i, node in _nodes(data):
        name = node.get("name")
        if not isinstance(name, str):
            continue
        key = name.lower()
        if key in first_seen:
            yield Problem(
                f"nodes[{i}].name",
                f"duplicate node name '{name}' (nodes[{first_seen[key]}] has it too)",
                "give every node a name of its own",
            )
        else:
            first_seen[key] = i


def duplicate_addresses(data: dict[str, Any]) -> Iterator[Problem]:
    first_seen: dict[netaddr.IPAddress, str] = {}
    for i, node in _nodes(data):
        for field in ADDRESS_FIELDS:
            address = parse_ipv4(node.get(field))
            if address is None:
                continue
            here = f"nodes[{i}].{field}"
            if address in first_seen:
                yield Problem(
                    here,
                    f"address {address} is already used by {first_seen[address]}",
                    "give every node interface an address of its own",
                )
            else:
                first_seen[address] = here


def addresses_inside_networks(data: dict[str, Any]) -> Iterator[Problem]:
    networks = _networks(data)
    declared = _mapping(data.get("networks"))
    for i, node in _nodes(data):
        roles = _roles(node)
        for field, network in ADDRESS_FIELDS.items():
            here = f"nodes[{i}].{field}"
            raw = node.get(field)
            if raw is None:
                if network in ROLES_NEEDING and network in networks:
                    needing = [r for r in ROLES_NEEDING[network] if r in roles]
                    if needing:
                        yield Problem(
                            here,
                            f"missing: a {needing[0]} node needs an address on the "
                            f"{network} network ({networks[network]})",
                            f"add `{field}:` with a free address in {networks[network]}",
                        )
                continue
            if network != "management" and declared.get(network) is None:
                yield Problem(
                    here,
                    f"set, but networks.{network} is not declared",
                    f"declare networks.{network} with its cidr, or remove `{field}`",
                )
                continue
            address, cidr = parse_ipv4(raw), networks.get(network)
            if address is None or cidr is None:
                continue
            if address not in cidr:
                yield Problem(
                    here,
                    f"{address} is outside the {network} network {cidr}",
                    f"use an address inside {cidr}, or correct networks.{network}.cidr",
                )
            elif cidr.prefixlen < 31 and address in (cidr.network, cidr.broadcast):
                yield Problem(
                    here,
                    f"{address} is the {'network' if address == cidr.network else 'broadcast'} address of {cidr}",
                    f"use a host address inside {cidr}",
                )


def gateways_inside_networks(data: dict[str, Any]) -> Iterator[Problem]:
    declared = _mapping(data.get("networks"))
    for name, cidr in _networks(data).items():
        gateway = parse_ipv4(_mapping(declared.get(name)).get("gateway"))
        if gateway is not None and gateway not in cidr:
            yield Problem(
                f"networks.{name}.gateway",
                f"{gateway} is outside {cidr}",
                f"use a gateway inside {cidr}, or remove `gateway`",
            )


def networks_do_not_overlap(data: dict[str, Any]) -> Iterator[Problem]:
    networks = list(_networks(data).items())
    for i, (name_a, net_a) in enumerate(networks):
        for name_b, net_b in networks[i + 1 :]:
            if net_a.first <= net_b.last and net_b.first <= net_a.last:
                yield Problem(
                    f"networks.{name_b}.cidr",
                    f"{net_b} overlaps networks.{name_a} ({net_a})",
                    f"give the {name_b} network its own range, or leave networks.{name_b} out "
                    "to share the management network",
                )


def required_roles(data: dict[str, Any]) -> Iterator[Problem]:
    nodes = _nodes(data)
    if not nodes:
        return  # the model reports an empty or missing node list
    present = {role for _, node in nodes for role in _roles(node)}
    for role in ("controller", "network", "compute"):
        if role not in present:
            yield Problem(
                "nodes",
                f"no node has the role {role}",
                f"add `{role}` to the roles of a node (one node may hold every role)",
            )
    controllers = [i for i, node in nodes if "controller" in _roles(node)]
    if len(controllers) > 1:
        yield Problem(
            f"nodes[{controllers[1]}].roles",
            f"{len(controllers)} controllers: tenrec deploys one controller for now "
            "(highly available controllers are planned)",
            "keep `controller` on one node only",
        )


def services_have_what_they_need(data: dict[str, Any]) -> Iterator[Problem]:
    services = _mapping(data.get("services"))
    roles = {role for _, node in _nodes(data) for role in _roles(node)}
    defaults = {"cinder": True, "swift": True}
    for service in ("cinder", "swift"):
        if services.get(service, defaults[service]) is True and "storage" not in roles:
            yield Problem(
                f"services.{service}",
                f"{service} is on, but no node has the role storage",
                f"add `storage` to the roles of a node, or set services.{service}: false",
            )
    if services.get("ceilometer") is True and services.get("gnocchi") is not True:
        yield Problem(
            "services.ceilometer",
            "ceilometer is on, but gnocchi (where it stores measures) is off",
            "set services.gnocchi: true, or services.ceilometer: false",
        )


def volume_backends_have_what_they_need(data: dict[str, Any]) -> Iterator[Problem]:
    services = _mapping(data.get("services"))
    if services.get("cinder", True) is not True:
        return
    backend = _mapping(data.get("options")).get("volume_backend", "auto")
    shares = _mapping(data.get("volumes")).get("nfs_shares")
    if backend == "nfs" and not shares:
        yield Problem(
            "volumes.nfs_shares",
            "options.volume_backend is nfs, but no NFS share is listed",
            "list the shares Cinder stores volumes on (e.g. `nfs_shares: [nas1:/export/cinder]`), "
            "or set options.volume_backend: auto",
        )
    for i, node in _nodes(data):
        devices = node.get("volume_devices")
        if not devices:
            continue
        if "storage" not in _roles(node):
            yield Problem(
                f"nodes[{i}].volume_devices",
                "set on a node without the role storage (only storage nodes hold volumes)",
                "move the devices to a storage node, or add `storage` to this node's roles",
            )
        elif backend == "nfs":
            yield Problem(
                f"nodes[{i}].volume_devices",
                "set, but options.volume_backend is nfs (the devices are for LVM)",
                "remove volume_devices, or set options.volume_backend: lvm or auto",
            )
        if isinstance(devices, list) and len(set(map(str, devices))) != len(devices):
            yield Problem(f"nodes[{i}].volume_devices", "a device is listed twice", "list each device once")


def object_devices_are_storage_disks(data: dict[str, Any]) -> Iterator[Problem]:
    storage = [(i, node) for i, node in _nodes(data) if "storage" in _roles(node)]
    for i, node in _nodes(data):
        devices = node.get("object_devices")
        if devices and "storage" not in _roles(node):
            yield Problem(
                f"nodes[{i}].object_devices",
                "set on a node without the role storage (only storage nodes hold objects)",
                "move the devices to a storage node, or add `storage` to this node's roles",
            )
        if node.get("zone") is not None and "storage" not in _roles(node):
            yield Problem(
                f"nodes[{i}].zone",
                "set on a node without the role storage (zones group Swift's storage nodes)",
                "remove zone, or add `storage` to this node's roles",
            )
        if not isinstance(devices, list):
            continue
        if len(set(map(str, devices))) != len(devices):
            yield Problem(f"nodes[{i}].object_devices", "a device is listed twice", "list each device once")
        names = [str(device).rsplit("/", 1)[-1] for device in devices]
        for name in sorted({name for name in names if len(name) > 12}):
            yield Problem(
                f"nodes[{i}].object_devices",
                f"'{name}' is longer than 12 characters: it names the disk's XFS label, which holds 12",
                "give the device by its short name (e.g. /dev/sdb); the deploy mounts it by label",
            )
        if len(set(names)) != len(names):
            yield Problem(
                f"nodes[{i}].object_devices",
                "two devices end in the same name (each names a directory under /srv/node)",
                "list devices whose last path parts differ",
            )
        both = sorted(set(map(str, devices)) & set(map(str, node.get("volume_devices") or [])))
        if both:
            yield Problem(
                f"nodes[{i}].object_devices",
                f"{', '.join(both)} also listed in volume_devices (a disk is Swift's or Cinder's)",
                "give Swift and Cinder different disks",
            )
    services = _mapping(data.get("services"))
    replicas = _mapping(data.get("object_storage")).get("replicas")
    if services.get("swift", True) is True and storage and isinstance(replicas, int):
        devices = sum(len(node.get("object_devices") or []) or 1 for _, node in storage)
        if replicas > devices:
            yield Problem(
                "object_storage.replicas",
                f"{replicas} replicas, but the storage nodes have {devices} Swift device(s)",
                f"set replicas to at most {devices}, add object_devices, or leave replicas out "
                "(min(3, number of zones))",
            )


def external_network_has_interface(data: dict[str, Any]) -> Iterator[Problem]:
    external = _mapping(_mapping(data.get("networks")).get("external"))
    if not external or external.get("interface") or external.get("nat") is True:
        return
    lacking = [i for i, node in _nodes(data) if "network" in _roles(node) and not node.get("external_interface")]
    for i in lacking:
        yield Problem(
            f"nodes[{i}].external_interface",
            "missing: networks.external has no interface, so this network node needs one",
            "set networks.external.interface (all nodes) or external_interface on this node",
        )


def nat_external_network_is_sound(data: dict[str, Any]) -> Iterator[Problem]:
    """With nat, one network node holds the gateway on a bridge without an uplink."""
    external = _mapping(_mapping(data.get("networks")).get("external"))
    if external.get("nat") is not True:
        return
    if external.get("interface"):
        yield Problem(
            "networks.external.interface",
            "set together with nat: a NAT-ed external network has no uplink interface",
            "remove networks.external.interface, or set nat: false to bridge that interface",
        )
    if not external.get("gateway"):
        yield Problem(
            "networks.external.gateway",
            "missing: with nat the network node holds this address on its bridge",
            "add `gateway:` with an address of networks.external.cidr, e.g. its first",
        )
    network_nodes = [i for i, node in _nodes(data) if "network" in _roles(node)]
    if len(network_nodes) > 1:
        yield Problem(
            "networks.external.nat",
            f"{len(network_nodes)} network nodes: only one node can hold a NAT-ed network's gateway",
            "keep one network node, or give networks.external an uplink interface and set nat: false",
        )
    for i, node in _nodes(data):
        if "network" in _roles(node) and node.get("external_interface"):
            yield Problem(
                f"nodes[{i}].external_interface",
                "set, but networks.external.nat leaves the bridge without an uplink",
                "remove external_interface, or set networks.external.nat: false",
            )


def one_local_node(data: dict[str, Any]) -> Iterator[Problem]:
    local = [i for i, node in _nodes(data) if node.get("connection") == "local"]
    for i in local[1:]:
        yield Problem(
            f"nodes[{i}].connection",
            f"local, like nodes[{local[0]}]: only one node can be the machine tenrec runs on",
            "set connection: ssh (the default) on every other node",
        )


def public_endpoint_reachable(data: dict[str, Any]) -> Iterator[Problem]:
    address = parse_ipv4(data.get("public_endpoint"))
    if address is None:
        return
    networks = _networks(data)
    if networks and not any(address in networks[n] for n in ("management", "external") if n in networks):
        yield Problem(
            "public_endpoint",
            f"{address} is on neither the management nor the external network",
            "use a controller address (or a free address on those networks), or leave it "
            "out to use the first controller's address",
        )


RULES: tuple[Rule, ...] = (
    duplicate_names,
    duplicate_addresses,
    addresses_inside_networks,
    gateways_inside_networks,
    networks_do_not_overlap,
    required_roles,
    services_have_what_they_need,
    volume_backends_have_what_they_need,
    object_devices_are_storage_disks,
    external_network_has_interface,
    nat_external_network_is_sound,
    one_local_node,
    public_endpoint_reachable,
)


def check_rules(data: dict[str, Any]) -> list[Problem]:
    return [problem for rule in RULES for problem in rule(data)]
