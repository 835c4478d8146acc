"""The test guest compute/boot starts, and what it prints on its serial console.

The guest is a Debian kernel and a busybox initramfs made by tests/guest_image.py
(verify_script): its /init mounts the config drive and prints its meta_data.json between
`tenrec-configdrive-begin PATH` and `tenrec-configdrive-end PATH`, gets a DHCP lease
(`tenrec-guest: lease ADDR/PREFIX on IF (router ...) driver DRIVER`), fetches metadata
paths and prints each answer between `tenrec-metadata-begin PATH` and `tenrec-metadata-end
PATH` (or `tenrec-metadata-failed PATH`), then serves those answers over HTTP on port 80.
tests/ is not part of the installed package: `--guest DIR` names a built one, else a
checkout builds it.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from tenrec.paths import collection_root
from tenrec.verify.core import CheckFailed, SkipCheck, describe

KERNEL_FILE = "vmlinuz"
INITRAMFS_FILE = "initramfs.gz"
META_DATA = "openstack/latest/meta_data.json"
INSTANCE_ID = "latest/meta-data/instance-id"
# The same paths as `tests/guest_image.py verify`: both build one image.
METADATA_PATHS = (META_DATA, INSTANCE_ID)
# Where the guest serves its metadata answers (guest_image.SERVED_PORT, SERVED_DIR).
SERVED_PORT = 80
BUILDER = Path("tests/guest_image.py")
BUILD_HINT = "python3 tests/guest_image.py verify"
NO_GUEST = (
    f"no test guest: pass --guest DIR, a directory with {KERNEL_FILE} and {INITRAMFS_FILE} "
    f"(`{BUILD_HINT}` in a tenrec checkout builds them and prints where); "
    "this tenrec is installed without tests/guest_image.py to build one"
)
# Console lines kept for a failure's detail.
TAIL_LINES = 3

LEASE = re.compile(
    r"tenrec-guest: lease (?P<address>\d{1,3}(?:\.\d{1,3}){3})/(?P<prefix>\d+) on (?P<interface>\S+)"
    r"(?:.* driver (?P<driver>\S+))?"
)
NO_LEASE = re.compile(r"tenrec-guest: no DHCP lease on (?P<interface>\S+)")
MARKER = re.compile(r"tenrec-(?P<source>metadata|configdrive)-(?P<what>begin|end|failed) (?P<path>\S+)\s*$")
DRIVE = re.compile(r"tenrec-guest: config drive on (?P<device>\S+)")
NO_DRIVE = "tenrec-guest: no config drive"
# printk lines on the serial console ("[    3.141592] e1000: eth0 NIC Link is Up ...").
KERNEL_LINE = re.compile(r"^\[\s*\d+\.\d+\]")


class GuestError(Exception):
    """--guest names no usable guest; the message says what is missing."""


@dataclass(frozen=True)
class GuestFiles:
    kernel: Path
    initramfs: Path
    origin: str  # for the row's detail


def guest_in(directory: Path) -> GuestFiles:
    """The guest in directory (--guest), or GuestError saying what is missing."""
    if not directory.is_dir():
        raise GuestError(f"--guest {directory}: no such directory")
    missing = [name for name in (KERNEL_FILE, INITRAMFS_FILE) if not (directory / name).is_file()]
    if missing:
        raise GuestError(
            f"--guest {directory}: no {' and no '.join(missing)} in it; "
            f"`{BUILD_HINT}` in a tenrec checkout builds them and prints where"
        )
    return GuestFiles(directory / KERNEL_FILE, directory / INITRAMFS_FILE, f"--guest {directory}")


def checkout_builder(root: Path | None = None) -> Path | None:
    """tests/guest_image.py of the checkout tenrec runs from; None when installed (no tests/)."""
    if root is None:
        try:
            root = collection_root()
        except RuntimeError:
            return None
    builder = root / BUILDER
    return builder if builder.is_file() else None


def load_builder(path: Path) -> ModuleType:
    """tests/guest_image.py imported by path (it is no package of the installer)."""
    spec = importlib.util.spec_from_file_location("tenrec_verify_guest_image", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def guest_script(builder: ModuleType) -> str:
    """The init body verify's guest runs: config drive, DHCP, metadata answers, HTTP server."""
    return str(builder.verify_script(paths=METADATA_PATHS))


def build_guest(path: Path) -> GuestFiles:
    """Build (or reuse from its cache) the guest with the checkout's builder."""
    builder = load_builder(path)
    image = builder.build_guest(guest_script(builder), files=getattr(builder, "VERIFY_FILES", {}))
    return GuestFiles(Path(image.kernel), Path(image.initramfs), f"built by {BUILDER} in {image.kernel.parent}")


def resolve_guest(given: Path | None, builder: Path | None) -> GuestFiles:
    """--guest's guest; else one the checkout builds; else SkipCheck saying how to give one."""
    if given is not None:
        try:
            return guest_in(given)
        except GuestError as error:
            raise CheckFailed(str(error)) from error
    if builder is None:
        raise SkipCheck(NO_GUEST)
    try:
        return build_guest(builder)
    except Exception as error:
        raise CheckFailed(
            f"building the test guest with {builder} failed ({describe(error)}); pass --guest DIR instead"
        ) from error


@dataclass(frozen=True)
class Lease:
    address: str
    prefix: int
    interface: str
    driver: str | None = None  # the NIC's kernel driver (virtio_net, e1000)


@dataclass
class GuestConsole:
    """What the guest's console shows so far."""

    lease: Lease | None = None  # the latest lease line
    no_lease: str | None = None  # the interface udhcpc gave up on
    answers: dict[str, str] = field(default_factory=dict)  # metadata path -> body
    failed: list[str] = field(default_factory=list)  # metadata paths the guest could not fetch
    drive: str | None = None  # the config drive's device
    no_drive: bool = False  # the guest found none
    drive_answers: dict[str, str] = field(default_factory=dict)  # config drive path -> body
    drive_failed: list[str] = field(default_factory=list)  # paths missing on the drive
    tail: list[str] = field(default_factory=list)  # the last non-empty lines

    def meta_data(self) -> dict[str, object] | None:
        """meta_data.json as the guest printed it; None before it did; ValueError if it is no JSON object."""
        return json_object(self.answers.get(META_DATA))

    def drive_meta_data(self) -> dict[str, object] | None:
        """The config drive's meta_data.json, as meta_data() does it."""
        return json_object(self.drive_answers.get(META_DATA))


def json_object(body: str | None) -> dict[str, object] | None:
    if body is None:
        return None
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError(f"{META_DATA} is a {type(data).__name__}, not an object")
    return data


def read_console(text: str) -> GuestConsole:
    """The lease and metadata lines of a console log (serial noise and kernel messages ignored)."""
    seen = GuestConsole()
    collecting: tuple[str, str] | None = None  # (source, path)
    body: list[str] = []
    lines = [line.strip() for line in text.splitlines()]
    for line in lines:
        marker = MARKER.search(line)
        if marker:
            source, what, path = marker["source"], marker["what"], marker["path"]
            answers, failed = (
                (seen.answers, seen.failed) if source == "metadata" else (seen.drive_answers, seen.drive_failed)
            )
            if what == "begin":
                collecting, body = (source, path), []
            elif what == "end" and collecting == (source, path):
                answers[path] = "\n".join(body).strip()
                collecting = None
            elif what == "failed":
                failed.append(path)
            continue
        if collecting is not None:
            if not KERNEL_LINE.match(line):
                body.append(line)
            continue
        lease = LEASE.search(line)
        if lease:
            seen.lease = Lease(lease["address"], int(lease["prefix"]), lease["interface"], lease["driver"])
        drive = DRIVE.search(line)
        if drive:
            seen.drive = drive["device"]
        if NO_DRIVE in line:
            seen.no_drive = True
        no_lease = NO_LEASE.search(line)
        if no_lease:
            seen.no_lease = no_lease["interface"]
    seen.tail = [line for line in lines if line][-TAIL_LINES:]
    return seen


def console_tail(seen: GuestConsole) -> str:
    return " | ".join(seen.tail) if seen.tail else "(the console is empty)"


def guest_verdict(seen: GuestConsole, fixed_ip: str, server_id: str) -> str | None:
    """The guest's part of the detail once it showed lease and metadata; None while it has not yet.

    Raises CheckFailed when the console shows it never will, or shows values other than
    Neutron's fixed IP and Nova's server id.
    """
    if seen.lease is None and seen.no_lease:
        raise CheckFailed(
            f"the guest got no DHCP lease on {seen.no_lease} (Neutron's fixed IP: {fixed_ip}); "
            "look at the DHCP agent and the OVS agents"
        )
    if seen.lease is not None and seen.lease.address != fixed_ip:
        raise CheckFailed(f"the guest leased {seen.lease.address}, but Neutron assigned {fixed_ip}")
    if META_DATA in seen.failed and META_DATA not in seen.answers:
        raise CheckFailed(
            f"the guest has lease {fixed_ip} but could not fetch {META_DATA} from the metadata service "
            "(router's metadata proxy, metadata agent, nova metadata API)"
        )
    if seen.lease is None:
        return None
    try:
        meta = seen.meta_data()
    except ValueError as error:
        raise CheckFailed(f"the guest printed a {META_DATA} that is no JSON object: {error}") from error
    if meta is None:
        return None
    uuid = meta.get("uuid")
    if uuid != server_id:
        raise CheckFailed(f"the guest's {META_DATA} has uuid {uuid!r}, but the server is {server_id}")
    instance_id = seen.answers.get(INSTANCE_ID)
    lease = seen.lease
    nic = f" ({lease.driver})" if lease.driver else ""
    detail = f"guest leased {lease.address}/{lease.prefix} on {lease.interface}{nic}, metadata uuid = server id"
    return f"{detail} (instance-id {instance_id.strip()})" if instance_id else detail


def drive_verdict(seen: GuestConsole, server_id: str) -> str:
    """The config drive's part: the device and its meta_data.json's uuid, or CheckFailed."""
    if seen.drive is None:
        if seen.no_drive:
            raise CheckFailed(
                "the guest found no config drive (no iso9660 disk with openstack/ on it); "
                "look at nova-compute's log for the instance (genisoimage, [DEFAULT] config_drive_format)"
            )
        raise CheckFailed(f"the guest's console shows no config drive line; last lines: {console_tail(seen)}")
    if META_DATA in seen.drive_failed:
        raise CheckFailed(f"the config drive on {seen.drive} has no {META_DATA}")
    try:
        meta = seen.drive_meta_data()
    except ValueError as error:
        raise CheckFailed(f"the config drive's {META_DATA} is no JSON object: {error}") from error
    if meta is None:
        raise CheckFailed(f"the config drive on {seen.drive}: no {META_DATA} on the console; {console_tail(seen)}")
    if meta.get("uuid") != server_id:
        raise CheckFailed(
            f"the config drive's {META_DATA} has uuid {meta.get('uuid')!r}, but the server is {server_id}"
        )
    return f"config drive on {seen.drive}: {META_DATA} uuid = server id"
