"""What this host is, read the way the precheck reads a node (the collection's node_probe
functions), plus what only a plan needs: its default route, addresses, DNS and spare disks."""

from __future__ import annotations

import importlib
import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import netaddr

from tenrec.paths import cache_dir, collection_root

# Any address outside the host's networks: the kernel's route to it is the default route in use.
OUTSIDE = "9.9.9.9"
# A disk smaller than this is not worth planning volumes or objects onto.
MIN_SPARE_DISK_GB = 10


class ProbeError(Exception):
    """This host cannot be planned for (no default route, ...): the message says what to do."""


def node_probe() -> ModuleType:
    """The collection's node_probe module, importable as Ansible would load it."""
    root = cache_dir() / "collections"
    link = root / "ansible_collections" / "tenrec" / "cloud"
    target = collection_root()
    if not (link.is_symlink() and Path(os.readlink(link)) == target):
        link.parent.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(target)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module("ansible_collections.tenrec.cloud.plugins.modules.node_probe")


@dataclass(frozen=True)
class Disk:
    path: str
    size_gb: int
    model: str = ""


@dataclass
class HostFacts:
    hostname: str
    interface: str
    address: str
    prefixlen: int
    gateway: str
    dns: list[str]
    memory_mb: int
    cpus: int
    disk_free_gb: float
    container: str
    kvm_usable: bool
    kvm_reason: str
    kernel_features: dict[str, bool]
    spare_disks: list[Disk] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)  # every network this host reaches directly

    @property
    def management_cidr(self) -> str:
        return str(netaddr.IPNetwork(f"{self.address}/{self.prefixlen}").cidr)


def ip_json(*args: str) -> list[dict[str, Any]]:
    out = subprocess.run(["ip", "-j", "-4", *args], check=True, capture_output=True, text=True).stdout
    data: list[dict[str, Any]] = json.loads(out or "[]")
    return data


def nameservers(path: Path = Path("/etc/resolv.conf")) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [line.split()[1] for line in lines if line.startswith("nameserver") and len(line.split()) > 1]


def spare_disks(lsblk: dict[str, Any]) -> list[Disk]:
    """Whole disks with no partition, filesystem, holder or mount: free to give to the cloud."""
    found = []
    for device in lsblk.get("blockdevices", []):
        if device.get("type") != "disk" or device.get("children") or device.get("fstype"):
            continue
        if device.get("ro") or device.get("rm") or any(device.get("mountpoints") or []):
            continue
        size_gb = int(device.get("size") or 0) // 1024**3
        if size_gb >= MIN_SPARE_DISK_GB:
            found.append(Disk(device["path"], size_gb, (device.get("model") or "").strip()))
    return found


def read_disks() -> list[Disk]:
    columns = "NAME,PATH,TYPE,SIZE,FSTYPE,MOUNTPOINTS,RO,RM,MODEL"
    result = subprocess.run(["lsblk", "-J", "-b", "-o", columns], check=False, capture_output=True, text=True)
    if result.returncode != 0:
        return []
    return spare_disks(json.loads(result.stdout or "{}"))


def probe_host() -> HostFacts:
    defaults = ip_json("route", "show", "default")
    if not defaults:
        raise ProbeError(
            "this host has no IPv4 default route, so there is no interface to plan the cloud on; "
            "configure the host's network first, or write a config and use `tenrec install -c FILE`"
        )
    # The route the kernel really takes outward: with several default routes of one metric,
    # `ip route show default` lists them in no fixed order.
    route = ip_json("route", "get", OUTSIDE)[0]
    interface = route["dev"]
    gateway = route.get("gateway") or next((r.get("gateway", "") for r in defaults if r.get("dev") == interface), "")
    addresses = [a for link in ip_json("addr", "show", "dev", interface) for a in link.get("addr_info", [])]
    if route.get("prefsrc"):
        addresses.sort(key=lambda a: a["local"] != route["prefsrc"])
    if not addresses:
        raise ProbeError(f"{interface} (the default route's interface) has no IPv4 address")
    probe = node_probe()
    kvm = probe.cached_probe_kvm()
    container = probe.container_kind()
    reached = [r["dst"] for r in ip_json("route", "show") if r.get("dst", "default") != "default"]
    return HostFacts(
        hostname=socket.gethostname().split(".")[0],
        interface=interface,
        address=addresses[0]["local"],
        prefixlen=int(addresses[0]["prefixlen"]),
        gateway=gateway,
        dns=nameservers(),
        memory_mb=probe.memory_mb(),
        cpus=os.cpu_count() or 0,
        disk_free_gb=probe.free_disk_gb("/var/lib"),
        container=container,
        kvm_usable=kvm.usable,
        kvm_reason=kvm.reason,
        kernel_features=probe.kernel_features(),
        # A container sees the host's disks: none of them is its own to give away.
        spare_disks=[] if container else read_disks(),
        routes=reached,
    )
