"""An all-in-one cloud planned for this host, written as a normal deployment config."""

from __future__ import annotations

import re
import socket
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import netaddr
import yaml
from rich.table import Table

from tenrec.config.model import DEFAULT_RELEASE, NODE_ROLES, OPTIONAL_SERVICES, Services, parse_cidr
from tenrec.install.probe import Disk, HostFacts

# Floating IPs live on a network of their own behind the host's NAT: the first of these that
# the host does not already reach (DevStack's 172.24.4.0/24 first).
FLOATING_CANDIDATES = [f"172.24.{n}.0/24" for n in range(4, 32)] + [f"10.254.{n}.0/24" for n in range(0, 32)]
# What an all-in-one cloud with every service needs besides its volumes and objects.
ALL_IN_ONE_MEMORY_MB = 8192
ALL_IN_ONE_BASE_DISK_GB = 20
NTP_POOL = ["0.debian.pool.ntp.org", "1.debian.pool.ntp.org"]


class PlanError(Exception):
    pass


@dataclass
class InstallChoices:
    """What the operator said on the command line; the rest is detected."""

    nfs_shares: list[str] = field(default_factory=list)
    floating_cidr: str | None = None
    enable: list[str] = field(default_factory=list)
    disable: list[str] = field(default_factory=list)


@dataclass
class Plan:
    config: dict[str, Any]
    rows: list[tuple[str, str]]  # (what, where/how and why)
    warnings: list[str]

    def table(self, path: Path) -> Table:
        table = Table(title=f"The plan for this host ({path})")
        table.add_column("what")
        table.add_column("decision")
        for what, decision in self.rows:
            table.add_row(what, decision)
        return table

    def yaml(self) -> str:
        header = (
            "# Planned by `tenrec install` for this host. Edit it and run `tenrec install` again\n"
            "# (or `tenrec deploy -c` this file): the next run uses it as it is.\n"
        )
        return header + yaml.safe_dump(self.config, default_flow_style=False, sort_keys=False)


def ntp_reachable(server: str, timeout: float = 2.0) -> bool:
    """One SNTP query: does an answer come back?"""
    request = b"\x1b" + 47 * b"\0"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.sendto(request, (server, 123))
            answer = sock.recv(48)
    except OSError:
        return False
    return len(answer) == 48 and struct.unpack("!B", answer[:1])[0] & 0x07 == 4


def deployment_name(hostname: str) -> str:
    name = re.sub(r"[^a-z0-9-]", "-", hostname.split(".", maxsplit=1)[0].lower()).strip("-")[:31]
    return name if re.fullmatch(r"[a-z][a-z0-9-]{0,30}", name) else "tenrec"


def node_name(hostname: str) -> str:
    name = re.sub(r"[^a-z0-9-]", "-", hostname.split(".", maxsplit=1)[0].lower()).strip("-")[:63].rstrip("-")
    return name if re.fullmatch(r"[a-z]([a-z0-9-]*[a-z0-9])?", name) else "aio"


def floating_network(facts: HostFacts, wanted: str | None) -> netaddr.IPNetwork:
    taken = [netaddr.IPNetwork(route) for route in facts.routes] + [netaddr.IPNetwork(facts.management_cidr)]
    if wanted and parse_cidr(wanted) is None:
        raise PlanError(f"--floating-cidr '{wanted}' is not an IPv4 network: give NETWORK/PREFIX, e.g. 172.24.4.0/24")
    candidates = [wanted] if wanted else FLOATING_CANDIDATES
    for text in candidates:
        network = netaddr.IPNetwork(text)
        clash = [str(t) for t in taken if network in t or t in network or network.first <= t.first <= network.last]
        if not clash:
            return network
        if wanted:
            raise PlanError(f"--floating-cidr {wanted}: this host already reaches {', '.join(clash)} there")
    raise PlanError("no free private /24 for floating IPs; give one with --floating-cidr")


def choose_services(choices: InstallChoices, warnings: list[str]) -> dict[str, bool]:
    unknown = [s for s in choices.enable + choices.disable if s not in OPTIONAL_SERVICES]
    if unknown:
        raise PlanError(f"unknown service(s) {', '.join(unknown)}: choose from {', '.join(OPTIONAL_SERVICES)}")
    services = {name: getattr(Services(), name) for name in OPTIONAL_SERVICES}
    services |= dict.fromkeys(choices.enable, True)
    services |= dict.fromkeys(choices.disable, False)
    if services["ceilometer"] != services["gnocchi"]:
        services["ceilometer"] = services["gnocchi"] = True
        warnings.append("ceilometer and gnocchi go together: both are on")
    return services


def plan_network(facts: HostFacts, choices: InstallChoices, rows: list[tuple[str, str]]) -> dict[str, Any]:
    rows.append(("management network", f"{facts.management_cidr}, gateway {facts.gateway or 'none'}"))
    rows.append(("APIs and dashboard", f"http://{facts.address}/ (Keystone at :5000)"))
    floating = floating_network(facts, choices.floating_cidr)
    gateway = str(floating.network + 1)
    first, last = floating[floating.size // 2], floating[-2]
    rows.append(
        (
            "floating IPs",
            f"{first} - {last} on {floating} behind br-ex, a bridge of its own: this host is its gateway "
            f"({gateway}) and NATs it out of {facts.interface}. {facts.interface} and {facts.address} stay as they "
            "are (single-NIC safe); floating IPs are reached from this host, not from the LAN",
        )
    )
    rows.append(
        ("hypervisor", "KVM" if facts.kvm_usable else f"QEMU emulation, slow: no usable KVM ({facts.kvm_reason})")
    )
    datapath = "kernel (system)" if facts.kernel_features.get("openvswitch") else "userspace (netdev): no kernel module"
    rows.append(("Open vSwitch datapath", datapath))
    return {
        "management": {"cidr": facts.management_cidr, **({"gateway": facts.gateway} if facts.gateway else {})},
        "external": {"cidr": str(floating), "gateway": gateway, "nat": True},
    }


@dataclass
class StoragePlan:
    node: dict[str, Any] = field(default_factory=dict)  # volume_devices, object_devices
    volumes: dict[str, Any] = field(default_factory=dict)
    object_storage: dict[str, Any] = field(default_factory=dict)


def plan_volumes(facts: HostFacts, choices: InstallChoices, disks: list[Disk], found: StoragePlan) -> str | None:
    """Cinder's backend; the reason it is off, or None."""
    budget = max(0.0, facts.disk_free_gb - ALL_IN_ONE_BASE_DISK_GB)
    if facts.kernel_features.get("device_mapper"):
        if disks:
            disk = disks.pop(0)
            found.node["volume_devices"] = [disk.path]
            return None
        found.volumes["backing_file_gb"] = int(max(2, min(20, budget // 3)))
        return None
    if choices.nfs_shares:
        found.volumes["nfs_shares"] = list(choices.nfs_shares)
        return None
    return "this kernel has no device-mapper (LVM) and no --nfs-share was given"


def volume_row(found: StoragePlan) -> str:
    if "volume_devices" in found.node:
        return f"LVM on {found.node['volume_devices'][0]} (an empty disk), exported by tgt"
    if "nfs_shares" in found.volumes:
        return f"NFS: {', '.join(found.volumes['nfs_shares'])} (no device-mapper for LVM)"
    return f"LVM on a {found.volumes['backing_file_gb']} GiB sparse file (no spare disk), exported by tgt"


def plan_storage(
    facts: HostFacts, choices: InstallChoices, services: dict[str, bool], rows: list[tuple[str, str]]
) -> tuple[StoragePlan, list[str]]:
    found, warnings = StoragePlan(), []
    # A container sees its host's disks: none of them is its own to give away.
    disks = [] if facts.container else list(facts.spare_disks)
    if services["cinder"]:
        off = plan_volumes(facts, choices, disks, found)
        if off:
            services["cinder"] = False
            rows.append(("volumes (Cinder)", f"off: {off}"))
            warnings.append("Cinder is off: give --nfs-share HOST:/PATH, or a kernel with device-mapper")
        else:
            rows.append(("volumes (Cinder)", volume_row(found)))
    else:
        rows.append(("volumes (Cinder)", "off (--without cinder)"))
    if services["swift"]:
        if disks:
            disk = disks.pop(0)
            found.node["object_devices"] = [disk.path]
            rows.append(("objects (Swift)", f"XFS on {disk.path} ({disk.size_gb} GiB, empty)"))
        else:
            size = int(max(2, min(10, max(0.0, facts.disk_free_gb - ALL_IN_ONE_BASE_DISK_GB) // 6)))
            found.object_storage["loop_file_gb"] = size
            rows.append(("objects (Swift)", f"XFS in a loop-mounted file of {size} GiB (no spare disk)"))
    if facts.container:
        rows.append(("disks", f"none used: this host is a {facts.container} container and sees its host's disks"))
    return found, warnings


def plan_for(facts: HostFacts, choices: InstallChoices, ntp_ok: bool | None = None) -> Plan:
    rows: list[tuple[str, str]] = []
    warnings: list[str] = []
    services = choose_services(choices, warnings)
    name = node_name(facts.hostname)
    roles = ", ".join(NODE_ROLES)
    rows.append(("node", f"{name}: this host, {facts.address} on {facts.interface}, every role ({roles})"))
    networks = plan_network(facts, choices, rows)
    storage, more = plan_storage(facts, choices, services, rows)
    warnings += more

    options: dict[str, Any] = {}
    if ntp_ok is None:
        ntp_ok = ntp_reachable(NTP_POOL[0])
    if ntp_ok:
        rows.append(("time", f"chrony from {', '.join(NTP_POOL)}"))
    else:
        options["ntp_servers"] = []
        rows.append(("time", f"this host's own clock ({NTP_POOL[0]} did not answer)"))
    on = [s for s, wanted in services.items() if wanted]
    rows.append(("services", "keystone, glance, placement, nova, neutron" + "".join(f", {s}" for s in on)))
    memory = f"{facts.memory_mb // 1024} GiB memory, {facts.cpus} CPUs, {facts.disk_free_gb:g} GiB free under /var/lib"
    rows.append(("resources", memory))
    if facts.memory_mb < ALL_IN_ONE_MEMORY_MB:
        warnings.append(f"{facts.memory_mb} MiB of memory: an all-in-one cloud wants {ALL_IN_ONE_MEMORY_MB} MiB")
    if facts.dns:
        rows.append(("DNS", f"{', '.join(facts.dns)} (this host's resolvers, from /etc/resolv.conf)"))

    node = {"name": name, "address": facts.address, "roles": list(NODE_ROLES), "connection": "local", **storage.node}
    config: dict[str, Any] = {
        "name": deployment_name(facts.hostname),
        "release": DEFAULT_RELEASE,
        "networks": networks,
        "nodes": [node],
    }
    for key, value in (("options", options), ("volumes", storage.volumes), ("object_storage", storage.object_storage)):
        if value:
            config[key] = value
    defaults = {name: getattr(Services(), name) for name in OPTIONAL_SERVICES}
    changed = {s: v for s, v in services.items() if v != defaults[s]}
    if changed:
        config["services"] = changed
    extra_cas = sorted(str(p) for p in Path("/usr/local/share/ca-certificates").glob("**/*.crt"))
    if extra_cas:
        config["ca_certificates"] = extra_cas
    return Plan(config, rows, warnings)
