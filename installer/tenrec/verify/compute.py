"""Nova: its services up on the right nodes, and a guest's whole life on the tenant network.

compute/boot starts the test guest (guest.py) on network/tenant's network, from an image
without NIC properties (Nova's default, virtio) and with a config drive, and reads its
console until it shows Neutron's address (DHCP) and Nova's server id (metadata over HTTP);
compute/config-drive reads what the guest found on its config drive. The floating IP,
TCP and security group rows need that guest, so they are rows of this family, judged as
neutron's; compute/delete comes last and checks the guest's port goes with it.
"""

from __future__ import annotations

import base64
import os
import socket
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tenrec.verify import dashboard, network, telemetry, volume
from tenrec.verify.core import Check, CheckFailed, Context, Family, one_line
from tenrec.verify.guest import (
    META_DATA,
    SERVED_PORT,
    GuestConsole,
    checkout_builder,
    console_tail,
    drive_verdict,
    guest_verdict,
    read_console,
    resolve_guest,
)
from tenrec.verify.identity import TOKEN
from tenrec.verify.image import ACTIVE_TIMEOUT as IMAGE_TIMEOUT
from tenrec.verify.nodes import host_is, node_names
from tenrec.verify.patience import scaled

SERVICE = "nova"
IMAGE_UPLOAD = "image/upload"
SERVICES = "compute/services"
BOOT = "compute/boot"
DELETE = "compute/delete"
CONSOLE = "compute/console"
CONFIG_DRIVE = "compute/config-drive"

CONTROLLER_BINARIES = ("nova-conductor", "nova-scheduler")
COMPUTE_BINARY = "nova-compute"

# The guest: 256 MiB, 1 vCPU, and a root disk it never touches (its /init lives in the initramfs).
FLAVOR = {"ram": 256, "vcpus": 1, "disk": 1}
DISK_SIZE = 1024 * 1024
# Replaces Nova's default (root=/dev/vda console=tty0 console=ttyS0 console=hvc0): /dev/console
# follows the last console= that exists, and Nova's console log is ttyS0.
KERNEL_ARGS = "console=ttyS0 no_timer_check"
# Seconds: to ACTIVE; from ACTIVE until the console shows lease and metadata; a server's
# deletion; its port's deletion after that.
ACTIVE_TIMEOUT = 120
CONSOLE_TIMEOUT = 120
CONSOLE_INTERVAL = 3
DELETE_TIMEOUT = 120
PORT_TIMEOUT = 30
# Seconds for the console page and the console websocket's first answer.
CONSOLE_PAGE_TIMEOUT = 15

SERVER_KEY = "compute.server"
GUEST_CONSOLE_KEY = "compute.console"
# What compute/boot booted its guest with, for more servers of the same guest (start_on).
BOOT_INPUTS_KEY = "compute.boot-inputs"


# --- services -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceState:
    binary: str
    host: str
    up: bool
    enabled: bool


def service_state(service: Any) -> ServiceState:
    """The parts of an openstacksdk compute Service the row judges."""
    return ServiceState(str(service.binary), str(service.host), service.state == "up", service.status == "enabled")


def judge_services(services: Sequence[ServiceState], controllers: Sequence[str], computes: Sequence[str]) -> str:
    """Which service runs where when all are up (computes also enabled), else CheckFailed."""
    wanted = [(binary, node) for binary in CONTROLLER_BINARIES for node in controllers]
    wanted += [(COMPUTE_BINARY, node) for node in computes]
    problems = [
        f"no {binary} on {node}"
        for binary, node in wanted
        if not any(s.binary == binary and host_is(s.host, node) for s in services)
    ]
    for s in services:
        if not s.up:
            problems.append(f"{s.binary} on {s.host} is down")
        elif s.binary == COMPUTE_BINARY and not s.enabled:
            problems.append(f"{s.binary} on {s.host} is disabled")
    if problems:
        raise CheckFailed("; ".join(problems))
    hosts: dict[str, list[str]] = {}
    for s in services:
        hosts.setdefault(s.binary, []).append(s.host)
    return "; ".join(f"{binary}: {', '.join(sorted(names))}" for binary, names in hosts.items()) + " (all up)"


def services(ctx: Context) -> str:
    controllers = node_names(ctx, "controller")
    computes = node_names(ctx, "compute")
    found = [service_state(service) for service in ctx.conn.compute.services()]
    return judge_services(found, controllers, computes)


# --- boot -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Booted:
    server: Any  # the openstacksdk Server
    name: str


def _upload(ctx: Context, kind: str, data: bytes, disk_format: str, container_format: str, **properties: str) -> str:
    """An active image of data with properties; its id."""
    conn = ctx.conn
    name = ctx.resource_name(kind)
    image = conn.image.create_image(
        name,
        disk_format=disk_format,
        container_format=container_format,
        allow_duplicates=True,
        tags=["tenrec-verify"],
        **properties,
    )
    image_id = image.id
    ctx.on_cleanup(f"image {name} ({image_id})", lambda: conn.image.delete_image(image_id, ignore_missing=True))
    response = image.upload(conn.image, data=data, size=len(data))
    if response.status_code >= 400:
        raise CheckFailed(f"uploading {name}: HTTP {response.status_code} {one_line(response.text, 200)}")
    conn.image.wait_for_status(image, "active", failures=["killed", "deleted"], interval=1, wait=scaled(IMAGE_TIMEOUT))
    return str(image_id)


def upload_guest(ctx: Context, kernel: bytes, initramfs: bytes, **properties: str) -> str:
    """A kernel + initramfs guest as Glance images; the id of the disk image that boots it.

    aki/ari containers, not bare: Glance inspects only bare uploads, and a bzImage reads as an
    MBR disk that fails the MBR safety check. Nova downloads kernel and ramdisk uninspected.
    """
    kernel_id = _upload(ctx, "kernel", kernel, "aki", "aki", **properties)
    ramdisk_id = _upload(ctx, "ramdisk", initramfs, "ari", "ari", **properties)
    return _upload(
        ctx,
        "disk",
        bytes(DISK_SIZE),
        "raw",
        "bare",
        kernel_id=kernel_id,
        ramdisk_id=ramdisk_id,
        os_command_line=KERNEL_ARGS,
        **properties,
    )


def make_flavor(ctx: Context, kind: str = "flavor", spec: dict[str, int] = FLAVOR) -> str:
    conn = ctx.conn
    name = ctx.resource_name(kind)
    flavor = conn.compute.create_flavor(name=name, **spec)
    flavor_id = flavor.id
    ctx.on_cleanup(f"flavor {name} ({flavor_id})", lambda: conn.compute.delete_flavor(flavor_id, ignore_missing=True))
    return str(flavor_id)


def _security_group(ctx: Context) -> tuple[str, str]:
    """A group letting ICMP and the guest's HTTP port in and everything out: (its id, the ICMP rule's id)."""
    conn = ctx.conn
    name = ctx.resource_name("secgroup")
    group = conn.network.create_security_group(
        name=name, description=f"tenrec verify: ICMP and TCP {SERVED_PORT} in, all out"
    )
    group_id = group.id
    ctx.on_cleanup(
        f"security group {name} ({group_id})",
        lambda: network.retry_conflicts(lambda: conn.network.delete_security_group(group_id, ignore_missing=True)),
    )
    egress = [
        rule
        for rule in group.security_group_rules or []
        if rule.get("direction") == "egress" and rule.get("ethertype") == "IPv4" and not rule.get("protocol")
    ]
    if not egress:  # Neutron adds these to a new group; a policy may not
        conn.network.create_security_group_rule(security_group_id=group_id, direction="egress", ethertype="IPv4")
    conn.network.create_security_group_rule(**network.tcp_rule(group_id, SERVED_PORT))
    rule = conn.network.create_security_group_rule(**network.icmp_rule(group_id))
    return str(group_id), str(rule.id)


def _start(
    ctx: Context, image_id: str, flavor_id: str, network_id: str, group_id: str, *, kind: str = "server", **where: str
) -> Booted:
    conn = ctx.conn
    name = ctx.resource_name(kind)
    server = conn.compute.create_server(
        name=name,
        image_id=image_id,
        flavor_id=flavor_id,
        networks=[{"uuid": network_id}],
        security_groups=[{"name": group_id}],
        config_drive=True,
        **where,
    )

    def remove() -> None:  # a no-op once compute/delete has deleted it
        conn.compute.delete_server(server, ignore_missing=True)
        conn.compute.wait_for_delete(server, interval=2, wait=scaled(DELETE_TIMEOUT))

    ctx.on_cleanup(f"server {name} ({server.id})", remove)
    return Booted(server, name)


def _wait_active(conn: Any, booted: Booted) -> Any:
    from openstack import exceptions  # noqa: PLC0415

    try:
        return conn.compute.wait_for_server(
            booted.server, status="ACTIVE", failures=["ERROR"], interval=2, wait=scaled(ACTIVE_TIMEOUT)
        )
    except exceptions.ResourceFailure as error:
        fault = conn.compute.get_server(booted.server.id).fault or {}
        raise CheckFailed(f"{booted.name} went to ERROR: {fault.get('message', 'no fault recorded')}") from error
    except exceptions.ResourceTimeout as error:
        now = conn.compute.get_server(booted.server.id)
        raise CheckFailed(
            f"{booted.name} not ACTIVE within {scaled(ACTIVE_TIMEOUT):.0f} s "
            f"(status {now.status}, task {now.task_state})"
        ) from error


def _port(conn: Any, server_id: str) -> tuple[str, str]:
    """(port id, fixed IPv4) of the server's only port."""
    ports = list(conn.network.ports(device_id=server_id))
    if len(ports) != 1:
        raise CheckFailed(f"the server has {len(ports)} ports, not one")
    port = ports[0]
    addresses = [fixed["ip_address"] for fixed in port.fixed_ips or [] if ":" not in fixed["ip_address"]]
    if not addresses:
        raise CheckFailed(f"port {port.id} has no IPv4 address")
    return str(port.id), addresses[0]


def watch_console(
    conn: Any, booted: Booted, fixed_ip: str, started: float, timeout: float = CONSOLE_TIMEOUT
) -> tuple[str, float, float, GuestConsole]:
    """Poll the console until the guest shows its lease and metadata: (its detail, lease at,
    metadata at, the console read).

    Times are seconds since started (time.monotonic()).
    """
    from openstack import exceptions  # noqa: PLC0415

    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    lease_at: float | None = None
    unanswered = 0
    seen: GuestConsole = read_console("")
    while True:
        try:
            output = conn.compute.get_server_console_output(booted.server).get("output") or ""
        except exceptions.HttpException as error:
            # nova-api asks the compute node over RPC: a busy one can miss the reply's deadline
            # (MessagingTimeout, a 500). The guest's own progress decides, within the timeout.
            if (error.status_code or 0) < 500 or time.monotonic() > deadline:
                raise
            unanswered += 1
            time.sleep(CONSOLE_INTERVAL)
            continue
        seen = read_console(output)
        now = time.monotonic() - started
        if seen.lease is not None and lease_at is None:
            lease_at = now
        verdict = guest_verdict(seen, fixed_ip, booted.server.id)
        if verdict is not None:
            if unanswered:
                verdict += f" (the console request failed {unanswered} time(s) with a server error first)"
            return verdict, lease_at if lease_at is not None else now, now, seen
        if time.monotonic() > deadline:
            missing = "no DHCP lease line" if seen.lease is None else f"no {META_DATA} answer"
            raise CheckFailed(
                f"{booted.name}: {missing} on the console within {timeout:.0f} s of ACTIVE "
                f"(fixed IP {fixed_ip}); last lines: {console_tail(seen)}"
            )
        time.sleep(CONSOLE_INTERVAL)


def boot(ctx: Context) -> str:
    conn = ctx.conn
    tenant: network.TenantNetwork = ctx.scratch[network.TENANT_KEY]
    files = resolve_guest(ctx.guest, None if ctx.guest else checkout_builder())
    computes = node_names(ctx, "compute")

    disk_id = upload_guest(ctx, files.kernel.read_bytes(), files.initramfs.read_bytes())
    flavor_id = make_flavor(ctx)
    group_id, rule_id = _security_group(ctx)

    started = time.monotonic()
    ctx.scratch[BOOT_INPUTS_KEY] = (disk_id, flavor_id, tenant.network_id, group_id)
    booted = _start(ctx, disk_id, flavor_id, tenant.network_id, group_id)
    server = _wait_active(conn, booted)
    active = time.monotonic() - started
    host = server.compute_host or server.hypervisor_hostname or "(host hidden)"
    if not any(host_is(host, node) for node in computes):
        raise CheckFailed(
            f"{booted.name} is ACTIVE on {host}, which is no compute node of the config ({', '.join(computes)})"
        )
    port_id, fixed_ip = _port(conn, server.id)
    verdict, lease_at, metadata_at, seen = watch_console(conn, booted, fixed_ip, started)

    ctx.scratch[SERVER_KEY] = booted
    ctx.scratch[GUEST_CONSOLE_KEY] = seen
    ctx.scratch[network.GUEST_KEY] = network.GuestPort(
        server.id, port_id, fixed_ip, group_id, rule_id, SERVED_PORT, META_DATA
    )
    return (
        f"{booted.name} ACTIVE on {host} after {active:.1f}s; {verdict}; "
        f"lease after {lease_at:.1f}s, metadata after {metadata_at:.1f}s; guest {files.origin}"
    )


def start_on(ctx: Context, kind: str, node: str) -> Any:
    """Another server of compute/boot's guest, on compute node `node` (an admin's
    availability zone `nova:HOST`); ACTIVE, not waited for on its console."""
    booted = _start(ctx, *ctx.scratch[BOOT_INPUTS_KEY], kind=kind, availability_zone=f"nova:{node}")
    return _wait_active(ctx.conn, booted)


# --- config drive ---------------------------------------------------------------------------


def config_drive(ctx: Context) -> str:
    """What the guest read from the config drive Nova attached (iso9660, made by genisoimage)."""
    booted: Booted = ctx.scratch[SERVER_KEY]
    seen: GuestConsole = ctx.scratch[GUEST_CONSOLE_KEY]
    return f"{booted.name}: {drive_verdict(seen, booted.server.id)}"


# --- console --------------------------------------------------------------------------------


def console_token(url: str) -> str:
    """The token of a noVNC console URL: ?path=%3Ftoken%3D... (nova's current form) or ?token=..."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    if "token" in query:
        return query["token"][0]
    for path in query.get("path", []):
        inner = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        if "token" in inner:
            return inner["token"][0]
    raise CheckFailed(f"nova's console URL carries no token: {url.split('?', maxsplit=1)[0]}?...")


def _read_until(sock: socket.socket, data: bytes, done: Callable[[bytes], bool]) -> bytes:
    while not done(data):
        chunk = sock.recv(4096)
        if not chunk:
            raise CheckFailed("the console proxy closed the connection")
        data += chunk
    return data


def vnc_greeting(url: str, timeout: float = CONSOLE_PAGE_TIMEOUT) -> str:
    """Opens the console's websocket as noVNC does and returns the first thing the VNC server
    says through the proxy (its RFB version)."""
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    token = urllib.parse.quote(console_token(url))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /?token={token} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: binary\r\nOrigin: {parts.scheme}://{host}:{port}\r\n\r\n"
    )
    with socket.create_connection((host, port), timeout=scaled(timeout)) as sock:
        sock.sendall(request.encode())
        data = _read_until(sock, b"", lambda d: b"\r\n\r\n" in d)
        head, _, rest = data.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0].decode("latin-1")
        if " 101 " not in status + " ":
            raise CheckFailed(f"the console proxy refused the websocket: {status}")
        rest = _read_until(sock, rest, lambda d: len(d) >= 2)
        length, header = rest[1] & 0x7F, 2  # a server frame is not masked
        if length == 126:
            rest = _read_until(sock, rest, lambda d: len(d) >= 4)
            length, header = int.from_bytes(rest[2:4], "big"), 4
        rest = _read_until(sock, rest, lambda d: len(d) >= header + length)
    return rest[header : header + length].decode("ascii", "replace").strip()


def console(ctx: Context) -> str:
    """The guest's console as a user opens it: the URL from Nova, noVNC's page from the proxy,
    and the guest's VNC server answering through the proxy's websocket."""
    booted: Booted = ctx.scratch[SERVER_KEY]
    remote = ctx.conn.compute.create_server_remote_console(booted.server, protocol="vnc", type="novnc")
    url = str(remote.url)
    page_url = url.split("?", 1)[0]
    try:
        with urllib.request.urlopen(url, timeout=scaled(CONSOLE_PAGE_TIMEOUT)) as answer:
            page = answer.read(1 << 20).decode("utf-8", "replace")
    except OSError as error:
        raise CheckFailed(f"{booted.name}'s console page {page_url} did not load: {error}") from error
    if "noVNC" not in page:
        raise CheckFailed(f"{page_url} answered, but with no noVNC page ({len(page)} bytes)")
    try:
        greeting = vnc_greeting(url)
    except OSError as error:
        raise CheckFailed(f"{booted.name}'s console websocket at {page_url} failed: {error}") from error
    if not greeting.startswith("RFB "):
        raise CheckFailed(f"{booted.name}'s console answered {greeting[:40]!r} instead of a VNC greeting")
    return f"{booted.name}: noVNC page from {page_url}; the guest's VNC server greets {greeting} through the proxy"


# --- delete ---------------------------------------------------------------------------------


def _existing_ports(conn: Any, port_ids: Sequence[str]) -> list[str]:
    """Those of port_ids Neutron still has (by id: a port merely unbound would still count)."""
    from openstack import exceptions  # noqa: PLC0415

    left = []
    for port_id in port_ids:
        try:
            conn.network.get_port(port_id)
        except exceptions.NotFoundException:
            continue
        left.append(port_id)
    return left


def delete(ctx: Context) -> str:
    from openstack import exceptions  # noqa: PLC0415

    conn = ctx.conn
    booted: Booted = ctx.scratch[SERVER_KEY]
    server_id = booted.server.id
    ports = [port.id for port in conn.network.ports(device_id=server_id)]
    if not ports:
        raise CheckFailed(f"{booted.name} has no port before its deletion")
    started = time.monotonic()
    conn.compute.delete_server(booted.server)
    try:
        conn.compute.wait_for_delete(booted.server, interval=1, wait=scaled(DELETE_TIMEOUT))
    except exceptions.ResourceTimeout as error:
        raise CheckFailed(f"{booted.name} still there {scaled(DELETE_TIMEOUT):.0f} s after its deletion") from error
    gone = time.monotonic() - started
    deadline = time.monotonic() + scaled(PORT_TIMEOUT)
    while left := _existing_ports(conn, ports):
        if time.monotonic() > deadline:
            raise CheckFailed(
                f"{booted.name} gone after {gone:.1f}s, but its port(s) {', '.join(left)} "
                f"still exist {scaled(PORT_TIMEOUT):.0f} s later"
            )
        time.sleep(1)
    port_gone = time.monotonic() - started - gone
    return f"{booted.name} gone after {gone:.1f}s; its port {', '.join(ports)} gone {port_gone:.1f}s later"


FAMILY = Family(
    SERVICE,
    ("compute",),
    (
        Check(SERVICES, SERVICE, services, needs=(TOKEN,)),
        Check(BOOT, SERVICE, boot, needs=(SERVICES, network.AGENTS, network.TENANT, IMAGE_UPLOAD)),
        Check(CONFIG_DRIVE, SERVICE, config_drive, needs=(BOOT,)),
        Check(CONSOLE, SERVICE, console, needs=(BOOT,)),
        Check(network.FLOATING_IP, network.SERVICE, network.floating_ip, needs=(BOOT,)),
        Check(network.TCP, network.SERVICE, network.tcp, needs=(network.FLOATING_IP,)),
        Check(network.SECURITY_GROUP, network.SERVICE, network.security_group, needs=(network.FLOATING_IP,)),
        volume.ATTACH_CHECK,
        # While the server exists: the dashboard lists it.
        Check(dashboard.INSTANCES, dashboard.SERVICE, dashboard.instances, needs=(BOOT, dashboard.LOGIN)),
        # Late among the server's rows: by now a poll of the compute agent has seen it.
        telemetry.INSTANCE_CHECK,
        Check(DELETE, SERVICE, delete, needs=(BOOT,)),
    ),
)
