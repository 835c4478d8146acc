"""The test guest compute/boot starts, and what it prints on its serial console.

The guest is a Debian kernel and a busybox initramfs made by tests/guest_image.py: its
/init gets a DHCP lease, prints `tenrec-guest: lease ADDR/PREFIX on IF (router ...)`,
then fetches metadata paths and prints each answer between `tenrec-metadata-begin PATH`
and `tenrec-metadata-end PATH` (or `tenrec-metadata-failed PATH`). tests/ is not part of
the installed package: `--guest DIR` names a built one, else a checkout builds it.
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
# The same paths as `tests/guest_image.py metadata` without --path: both build one image.
METADATA_PATHS = (META_DATA, INSTANCE_ID)
BUILDER = Path("tests/guest_image.py")
BUILD_HINT = "python3 tests/guest_image.py metadata"
NO_GUEST = (
    f"no test guest: pass --guest DIR, a directory with {KERNEL_FILE} and {INITRAMFS_FILE} "
    f"(`{BUILD_HINT}` in a tenrec checkout builds them and prints where); "
    "this tenrec is installed without tests/guest_image.py to build one"
)
# Console lines kept for a failure's detail.
TAIL_LINES = 3

LEASE = re.compile(r"tenrec-guest: lease (?P<address>\d{1,3}(?:\.\d{1,3}){3})/(?P<prefix>\d+) on (?P<interface>\S+)")
NO_LEASE = re.compile(r"tenrec-guest: no DHCP lease on (?P<interface>\S+)")
MARKER = re.compile(r"tenrec-metadata-(?P<what>begin|end|failed) (?P<path>\S+)\s*$")
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
    """The init body verify's guest runs: DHCP, then the metadata answers between markers."""
    return str(builder.metadata_script(paths=METADATA_PATHS))


def build_guest(path: Path) -> GuestFiles:
    """Build (or reuse from its cache) the guest with the checkout's builder."""
    builder = load_builder(path)
    image = builder.build_guest(guest_script(builder))
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


@dataclass
class GuestConsole:
    """What the guest's console shows so far."""

    lease: Lease | None = None  # the latest lease line
    no_lease: str | None = None  # the interface udhcpc gave up on
    answers: dict[str, str] = field(default_factory=dict)  # metadata path -> body
    failed: list[str] = field(default_factory=list)  # metadata paths the guest could not fetch
    tail: list[str] = field(default_factory=list)  # the last non-empty lines

    def meta_data(self) -> dict[str, object] | None:
        """meta_data.json as the guest printed it; None before it did; ValueError if it is no JSON object."""
        body = self.answers.get(META_DATA)
        if body is None:
            return None
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError(f"{META_DATA} is a {type(data).__name__}, not an object")
        return data


def read_console(text: str) -> GuestConsole:
    """The lease and metadata lines of a console log (serial noise and kernel messages ignored)."""
    seen = GuestConsole()
    collecting: str | None = None
    body: list[str] = []
    lines = [line.strip() for line in text.splitlines()]
    for line in lines:
        marker = MARKER.search(line)
        if marker:
            what, path = marker["what"], marker["path"]
            if what == "begin":
                collecting, body = path, []
            elif what == "end" and collecting == path:
                seen.answers[path] = "\n".join(body)
                collecting = None
            elif what == "failed":
                seen.failed.append(path)
            continue
        if collecting is not None:
            if not KERNEL_LINE.match(line):
                body.append(line)
            continue
        lease = LEASE.search(line)
        if lease:
            seen.lease = Lease(lease["address"], int(lease["prefix"]), lease["interface"])
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
    detail = f"guest leased {lease.address}/{lease.prefix} on {lease.interface}, metadata uuid = server id"
    return f"{detail} (instance-id {instance_id.strip()})" if instance_id else detail
