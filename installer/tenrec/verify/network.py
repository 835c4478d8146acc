"""Neutron: live agents on the right nodes, a tenant network routed to the external one, and
(once compute/boot has a guest on it) a floating IP that answers ping as its security group
says and carries a TCP connection to the guest's HTTP server."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import random
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tenrec.verify.core import Check, CheckFailed, Context, Family, SkipCheck
from tenrec.verify.identity import TOKEN
from tenrec.verify.nodes import config_cidrs, hosts_on, node_names
from tenrec.verify.patience import scaled

SERVICE = "neutron"
AGENTS = "network/agents"
TENANT = "network/tenant"
FLOATING_IP = "network/floating-ip"
SECURITY_GROUP = "network/security-group"
TCP = "network/tcp"

OVS_AGENT = "Open vSwitch agent"
DHCP_AGENT = "DHCP agent"
L3_AGENT = "L3 agent"
METADATA_AGENT = "Metadata agent"
NETWORK_NODE_AGENTS = (DHCP_AGENT, L3_AGENT, METADATA_AGENT)
AGENT_ORDER = (OVS_AGENT, *NETWORK_NODE_AGENTS)

EXTERNAL_NAME = "public"
NO_EXTERNAL = "no external network: tenrec deploy creates `public` from networks.external"
# Tenant subnets of verify: a free /24 of this range.
TENANT_POOL = ipaddress.IPv4Network("10.199.0.0/16")
PING = ("ping", "-c", "1", "-W", "2")
NO_PING = "no `ping` command on this machine (Debian: apt install iputils-ping)"
# Seconds a new floating IP may take to answer; a security group rule change to take effect.
PING_TIMEOUT = 60
RULE_TIMEOUT = 20
# Seconds the guest's HTTP server may take to answer through its floating IP; one try's timeout.
TCP_TIMEOUT = 60
TCP_TRY_TIMEOUT = 5
# Unanswered pings in a row that count as "stopped answering" (one may just be lost).
SILENT_PINGS = 2
# Seconds a cleanup retries a delete that conflicts with a port still going away.
CONFLICT_TIMEOUT = 60

# scratch keys
TENANT_KEY = "network.tenant"
GUEST_KEY = "network.guest"
FLOATING_KEY = "network.floating-ip"


# --- agents ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentState:
    kind: str
    host: str
    alive: bool
    admin_up: bool


def agent_state(agent: Any) -> AgentState:
    """The parts of an openstacksdk network Agent the row judges."""
    return AgentState(str(agent.agent_type), str(agent.host), bool(agent.is_alive), bool(agent.is_admin_state_up))


def required_agents(network_nodes: Sequence[str], compute_nodes: Sequence[str]) -> list[tuple[str, str]]:
    """(agent type, node) that must exist: OVS everywhere guests or routers live, the rest on network nodes."""
    ovs_nodes = dict.fromkeys([*network_nodes, *compute_nodes])
    return [(OVS_AGENT, node) for node in ovs_nodes] + [
        (kind, node) for kind in NETWORK_NODE_AGENTS for node in network_nodes
    ]


def judge_agents(agents: Sequence[AgentState], network_nodes: Sequence[str], compute_nodes: Sequence[str]) -> str:
    """Counts per agent type when every agent is alive and up and none is missing, else CheckFailed."""
    problems = [
        f"no {kind} on {node}"
        for kind, node in required_agents(network_nodes, compute_nodes)
        if not hosts_on((agent.host for agent in agents if agent.kind == kind), node)
    ]
    for agent in agents:
        if not agent.alive:
            problems.append(f"{agent.kind} on {agent.host} is dead")
        elif not agent.admin_up:
            problems.append(f"{agent.kind} on {agent.host} is administratively down")
    if problems:
        raise CheckFailed("; ".join(problems))
    hosts: dict[str, list[str]] = {}
    for agent in agents:
        hosts.setdefault(agent.kind, []).append(agent.host)
    kinds = sorted(hosts, key=lambda kind: (AGENT_ORDER.index(kind) if kind in AGENT_ORDER else len(AGENT_ORDER), kind))
    counts = "; ".join(f"{kind} ×{len(hosts[kind])} ({', '.join(sorted(hosts[kind]))})" for kind in kinds)
    return f"{len(agents)} agent(s) alive and up: {counts}"


def agents(ctx: Context) -> str:
    network_nodes = node_names(ctx, "network")
    compute_nodes = node_names(ctx, "compute")
    found = [agent_state(agent) for agent in ctx.conn.network.agents()]
    return judge_agents(found, network_nodes, compute_nodes)


# --- the tenant network ---------------------------------------------------------------------


@dataclass(frozen=True)
class TenantNetwork:
    network_id: str
    subnet_id: str
    router_id: str
    cidr: str
    external_network_id: str
    external_name: str


@dataclass(frozen=True)
class GuestPort:
    """What the network rows need of compute/boot's guest."""

    server_id: str
    port_id: str
    fixed_ip: str
    security_group_id: str
    icmp_rule_id: str
    http_port: int  # where the guest serves its metadata answers
    http_path: str  # the meta_data.json it serves


def choose_cidr(taken: Iterable[str], rng: random.Random | None = None) -> str:
    """A random /24 of TENANT_POOL overlapping none of taken (CIDRs; IPv6 and junk ignored)."""
    used: list[ipaddress.IPv4Network] = []
    for cidr in taken:
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            continue
        if isinstance(network, ipaddress.IPv4Network):
            used.append(network)
    free = [net for net in TENANT_POOL.subnets(new_prefix=24) if not any(net.overlaps(other) for other in used)]
    if not free:
        raise CheckFailed(
            f"every /24 of {TENANT_POOL} overlaps a subnet of the cloud or a network of the config; "
            "remove leftover tenrec-verify networks"
        )
    return str((rng or random.SystemRandom()).choice(free))


def external_network(conn: Any) -> Any:
    """The external network (router:external): `public` if there are several."""
    found = list(conn.network.networks(is_router_external=True))
    if not found:
        raise CheckFailed(NO_EXTERNAL)
    return next((network for network in found if network.name == EXTERNAL_NAME), found[0])


def retry_conflicts(action: Callable[[], object], timeout: float = CONFLICT_TIMEOUT) -> None:
    """Run a delete, again while Neutron answers 409 (a port of a deleted server still going away)."""
    from openstack import exceptions  # noqa: PLC0415

    deadline = time.monotonic() + scaled(timeout)
    while True:
        try:
            action()
            return
        except exceptions.ConflictException:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


def tenant(ctx: Context) -> str:
    conn = ctx.conn
    external = external_network(conn)
    taken = [subnet.cidr for subnet in conn.network.subnets()] + config_cidrs(ctx)
    cidr = choose_cidr(taken)

    name = ctx.resource_name("network")
    network = conn.network.create_network(name=name)
    network_id = network.id
    ctx.on_cleanup(
        f"network {name} ({network_id})",
        lambda: retry_conflicts(lambda: conn.network.delete_network(network_id, ignore_missing=True)),
    )
    subnet_name = ctx.resource_name("subnet")
    subnet = conn.network.create_subnet(
        name=subnet_name, network_id=network_id, ip_version=4, cidr=cidr, enable_dhcp=True, dns_nameservers=[]
    )
    subnet_id = subnet.id
    ctx.on_cleanup(
        f"subnet {subnet_name} ({subnet_id})",
        lambda: retry_conflicts(lambda: conn.network.delete_subnet(subnet_id, ignore_missing=True)),
    )
    router_name = ctx.resource_name("router")
    router = conn.network.create_router(name=router_name, external_gateway_info={"network_id": external.id})
    router_id = router.id
    ctx.on_cleanup(
        f"router {router_name} ({router_id})",
        lambda: retry_conflicts(lambda: conn.network.delete_router(router_id, ignore_missing=True)),
    )
    conn.network.add_interface_to_router(router, subnet_id)  # positional: older openstacksdk names it subnet_id
    ctx.on_cleanup(
        f"router {router_name} interface on {subnet_name}", lambda: _remove_interface(conn, router, subnet_id)
    )

    ctx.scratch[TENANT_KEY] = TenantNetwork(network_id, subnet_id, router_id, cidr, external.id, external.name)
    kind = network.provider_network_type
    segment = f"{kind} {network.provider_segmentation_id}" if kind else "type hidden"
    gateway = _gateway_address(router)
    return (
        f"{name}: {segment}, MTU {network.mtu}; subnet {cidr} gateway {subnet.gateway_ip}; "
        f"router gateway {gateway} on {external.name}"
    )


def _remove_interface(conn: Any, router: Any, subnet_id: str) -> None:
    from openstack import exceptions  # noqa: PLC0415

    with contextlib.suppress(exceptions.NotFoundException):  # the router is gone already
        conn.network.remove_interface_from_router(router, subnet_id)


def _gateway_address(router: Any) -> str:
    info = router.external_gateway_info or {}
    addresses = [fixed.get("ip_address") for fixed in info.get("external_fixed_ips") or []]
    return ", ".join(address for address in addresses if address) or "(no address shown)"


# --- the guest's floating IP ------------------------------------------------------------------


def ping_once(address: str) -> bool:
    """Whether address answers one ping from this machine within 2 s."""
    if shutil.which(PING[0]) is None:
        raise SkipCheck(NO_PING)
    result = subprocess.run(
        [*PING, address], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10, check=False
    )
    return result.returncode == 0


def ping_until(
    address: str,
    answering: bool,
    timeout: float,
    *,
    confirm: int = 1,
    probe: Callable[[str], bool] = ping_once,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    interval: float = 1.0,
) -> float | None:
    """Seconds until address began to answer (or, answering False, to stay silent) for confirm pings in a row.

    None when that did not happen within timeout seconds (times verify's patience).
    """
    timeout = scaled(timeout)
    started = clock()
    streak = 0
    since = 0.0
    while True:
        at = clock() - started
        if probe(address) == answering:
            if streak == 0:
                since = at
            streak += 1
            if streak >= confirm:
                return since
        else:
            streak = 0
        if clock() - started >= timeout:
            return None
        sleep(interval)


def unreachable_hint(ctx: Context) -> str:
    external = ctx.config.networks.external if ctx.config else None
    where = f"networks.external {external.cidr}" if external else "the external network"
    return (
        f"this machine must reach {where}: the lab host holds its gateway; on a real deployment "
        "run verify from a host on that network"
    )


def floating_ip(ctx: Context) -> str:
    conn = ctx.conn
    tenant_network: TenantNetwork = ctx.scratch[TENANT_KEY]
    guest: GuestPort = ctx.scratch[GUEST_KEY]
    if shutil.which(PING[0]) is None:
        raise SkipCheck(NO_PING)
    fip = conn.network.create_ip(floating_network_id=tenant_network.external_network_id)
    fip_id = fip.id
    address = fip.floating_ip_address
    ctx.on_cleanup(f"floating IP {address} ({fip_id})", lambda: conn.network.delete_ip(fip_id, ignore_missing=True))
    conn.network.update_ip(fip, port_id=guest.port_id)
    ctx.scratch[FLOATING_KEY] = address
    answered = ping_until(address, True, PING_TIMEOUT)
    status = conn.network.get_ip(fip_id).status
    if answered is None:
        raise CheckFailed(
            f"{address} (on {tenant_network.external_name}, status {status}) → {guest.fixed_ip}: "
            f"no answer to ping within {scaled(PING_TIMEOUT):.0f} s; {unreachable_hint(ctx)}"
        )
    where = f"{address} on {tenant_network.external_name} → {guest.fixed_ip}"
    return f"{where}: answers ping after {answered:.1f}s (status {status})"


def fetch_over_tcp(url: str, timeout: float = TCP_TRY_TIMEOUT) -> bytes:
    with urllib.request.urlopen(url, timeout=scaled(timeout)) as answer:
        return bytes(answer.read(1 << 16))


def tcp(ctx: Context, fetch: Callable[[str], bytes] = fetch_over_tcp) -> str:
    """A TCP connection from this machine to the guest through its floating IP: the guest's
    HTTP server hands back the meta_data.json it fetched itself, with its own server id."""
    guest: GuestPort = ctx.scratch[GUEST_KEY]
    address: str = ctx.scratch[FLOATING_KEY]
    url = f"http://{address}:{guest.http_port}/{guest.http_path}"
    started = time.monotonic()
    last = "no try"
    while True:
        try:
            body = fetch(url)
            break
        except OSError as error:  # refused, reset, timed out (urllib's errors are OSErrors)
            last = str(getattr(error, "reason", error))
        if time.monotonic() - started >= scaled(TCP_TIMEOUT):
            raise CheckFailed(
                f"{url}: no HTTP answer within {scaled(TCP_TIMEOUT):.0f} s ({last}); ping works, so TCP to or from "
                "the guest is lost (security group rule for the port, OVS firewall, checksum offload)"
            )
        time.sleep(1)
    took = time.monotonic() - started
    try:
        uuid = json.loads(body).get("uuid")
    except (ValueError, AttributeError) as error:
        raise CheckFailed(f"{url} answered {len(body)} bytes that are no meta_data.json: {error}") from error
    if uuid != guest.server_id:
        raise CheckFailed(f"{url} answered uuid {uuid!r}, but the guest is {guest.server_id}")
    return f"{url} answered after {took:.1f}s with the guest's meta_data.json (uuid = server id)"


def tcp_rule(security_group_id: str, port: int) -> dict[str, str | int]:
    """The ingress rule that lets TCP in on port."""
    return {
        "security_group_id": security_group_id,
        "direction": "ingress",
        "ethertype": "IPv4",
        "protocol": "tcp",
        "port_range_min": port,
        "port_range_max": port,
        "remote_ip_prefix": "0.0.0.0/0",
    }


def icmp_rule(security_group_id: str) -> dict[str, str]:
    """The ingress rule that lets ping in."""
    return {
        "security_group_id": security_group_id,
        "direction": "ingress",
        "ethertype": "IPv4",
        "protocol": "icmp",
        "remote_ip_prefix": "0.0.0.0/0",
    }


def security_group(ctx: Context) -> str:
    conn = ctx.conn
    guest: GuestPort = ctx.scratch[GUEST_KEY]
    address: str = ctx.scratch[FLOATING_KEY]
    conn.network.delete_security_group_rule(guest.icmp_rule_id, ignore_missing=False)
    silent = ping_until(address, False, RULE_TIMEOUT, confirm=SILENT_PINGS)
    rule = conn.network.create_security_group_rule(**icmp_rule(guest.security_group_id))
    ctx.scratch[GUEST_KEY] = replace(guest, icmp_rule_id=rule.id)
    if silent is None:
        raise CheckFailed(
            f"{address} still answers ping {scaled(RULE_TIMEOUT):.0f} s after its ICMP ingress rule was removed "
            "(OVS firewall: conntrack entries of the userspace datapath may outlive the rule)"
        )
    again = ping_until(address, True, RULE_TIMEOUT)
    if again is None:
        raise CheckFailed(
            f"ICMP rule removed: {address} silent after {silent:.1f}s; rule added back: "
            f"no answer within {scaled(RULE_TIMEOUT):.0f} s"
        )
    return f"ICMP rule removed: {address} silent after {silent:.1f}s; rule added back: answers after {again:.1f}s"


FAMILY = Family(
    SERVICE,
    ("network",),
    (
        Check(AGENTS, SERVICE, agents, needs=(TOKEN,)),
        Check(TENANT, SERVICE, tenant, needs=(TOKEN,)),
    ),
)
