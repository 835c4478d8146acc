#!/usr/bin/python
"""Probe a node for what tenrec needs and decide the backends it can use."""

from __future__ import annotations

DOCUMENTATION = r"""
module: node_probe
short_description: Probe a node's OS, resources and kernel features; decide backends
description:
  - Reads the distribution, memory, disk, CPU virtualization (by running guest code
    through the KVM API, since /dev/kvm can exist where no guest OS runs), whether the
    node is a container, and which kernel features exist (Open vSwitch datapath,
    device-mapper, LIO target, iSCSI initiator).
  - Resolves each C(auto) option to what the node supports and reports, instead of
    failing, every requirement the node misses, so a caller can show them all at once.
  - First waits (up to O(leftover_timeout)) for Ansible steps an earlier, killed run left
    running on the node, so that nothing this run starts races them.
  - Changes nothing on the node.
version_added: "0.1.0"
author: tenrec developers
options:
  roles:
    description: The node roles this node holds.
    type: list
    elements: str
    required: true
  management_address:
    description: The address the deployment config gives this node; it must be on an interface.
    type: str
    required: true
  virt_type:
    description: Requested hypervisor type.
    type: str
    choices: [auto, kvm, qemu]
    default: auto
  ovs_datapath:
    description: Requested Open vSwitch datapath.
    type: str
    choices: [auto, system, netdev]
    default: auto
  volume_backend:
    description:
      - Requested Cinder volume backend of a storage node; C(auto) is lvm where the kernel has
        device-mapper, else nfs.
    type: str
    choices: [auto, lvm, nfs]
    default: auto
  volumes_wanted:
    description: Whether Cinder is deployed (off - no volume backend is judged).
    type: bool
    default: false
  nfs_shares_listed:
    description: Whether the config lists NFS shares (the nfs backend needs them).
    type: bool
    default: false
  volume_devices:
    description: Block devices the config gives the node's LVM volume group.
    type: list
    elements: str
    default: []
  iscsi_target:
    description:
      - Requested iSCSI target of a storage node's LVM volumes; C(auto) keeps the target
        cinder-volume already uses on the node, else picks lio where the kernel has the LIO
        target, else tgt.
    type: str
    choices: [auto, tgt, lio]
    default: auto
  min_memory_mb:
    description: Memory the node needs for its roles, in MiB.
    type: int
    default: 0
  min_disk_gb:
    description: Free space the node needs under /var/lib, in GiB.
    type: int
    default: 0
  leftover_timeout:
    description:
      - Seconds to wait for Ansible steps of another run still running on the node (a killed
        deploy's module goes on to its end). C(0) only reports them. Steps still running
        after the wait are a problem.
    type: int
    default: 0
  release:
    description:
      - The OpenStack release this run deploys. A node whose release mark (written by every
        deploy) names another one is a problem - a deploy never changes releases.
    type: str
    default: ""
  other_release:
    description: During an upgrade or its rollback, the other release of the two (also accepted).
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Probe the node
  tenrec.cloud.node_probe:
    roles: [compute]
    management_address: 192.0.2.21
    virt_type: auto
"""

RETURN = r"""
ansible_facts:
  description: C(tenrec_node) with keys facts, decisions and problems.
  returned: always
  type: dict
"""

import configparser
import dataclasses
import json
import os
import platform
import shutil
import socket
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.tenrec.cloud.plugins.module_utils import leftover_steps
from ansible_collections.tenrec.cloud.plugins.module_utils.kvm_probe import KvmProbeResult, probe_kvm

RELEASE_MARK = "/var/lib/tenrec/release"
CINDER_CONF = "/etc/cinder/cinder.conf"
TARGET_HELPERS = {"tgtadm": "tgt", "lioadm": "lio"}
UPGRADE_RECORD = "/var/lib/tenrec/upgrade.json"
SUPPORTED_DISTRIBUTION = ("debian", "12")
# Kernel modules behind each feature, and a /proc or /sys trace that shows it present.
KERNEL_FEATURES = {
    "openvswitch": ("openvswitch", None),
    "device_mapper": ("dm_mod", "/dev/mapper/control"),
    "lio_target": ("target_core_mod", "/sys/kernel/config/target"),
    "iscsi_initiator": ("iscsi_tcp", "/sys/class/iscsi_transport/tcp"),
}


def os_release():
    found = {}
    try:
        with open("/etc/os-release", encoding="utf-8") as handle:
            for line in handle:
                key, sep, value = line.strip().partition("=")
                if sep:
                    found[key] = value.strip('"')
    except OSError:
        pass
    return found.get("ID", "unknown"), found.get("VERSION_ID", "unknown"), found.get("PRETTY_NAME", "")


def memory_mb():
    with open("/proc/meminfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 0


def free_disk_gb(path):
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return round(shutil.disk_usage(path).free / 1024**3, 1)


def container_kind():
    """systemd records the container manager for PID 1; empty on real hosts and VMs."""
    try:
        with open("/run/systemd/container", encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def cpu_flags():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def module_available(name):
    """Loaded, built in, or installed for the running kernel (so modprobe can load it)."""
    if os.path.isdir(os.path.join("/sys/module", name)):
        return True
    release = platform.release()
    for index in ("modules.builtin", "modules.dep"):
        try:
            with open(os.path.join("/lib/modules", release, index), encoding="utf-8") as handle:
                for line in handle:
                    path = line.split(":", 1)[0]
                    base = os.path.basename(path).split(".ko", 1)[0]
                    if base.replace("-", "_") == name:
                        return True
        except OSError:
            continue
    return False


def kernel_features():
    found = {}
    for feature, (module, trace) in KERNEL_FEATURES.items():
        found[feature] = module_available(module) or bool(trace and os.path.exists(trace))
    return found


def local_addresses():
    """IPv4 addresses on this node's interfaces, via the kernel's own table."""
    addresses = set()
    try:
        with open("/proc/net/fib_trie", encoding="utf-8") as handle:
            previous = ""
            for line in handle:
                text = line.strip()
                if text == "/32 host LOCAL":
                    addresses.add(previous.rsplit(maxsplit=1)[-1])
                previous = text
    except OSError:
        pass
    return sorted(addresses)


def decide(requested, available, feature_name, fallback, production, option):
    """Return (decision, problem or None) for one auto/explicit option."""
    if requested == "auto":
        return (production if available else fallback), None
    if requested == production and not available:
        return requested, (
            f"options.{option} is {requested}, but this node lacks {feature_name}; "
            f"set options.{option}: auto (picks {fallback} here) or fix the node"
        )
    return requested, None


def volume_problems(backend, decide_problem, shares_listed, devices):
    """What keeps a storage node from holding Cinder's volumes with the chosen backend."""
    if decide_problem:
        return [decide_problem]
    if backend == "nfs" and not shares_listed:
        return [
            "has no device-mapper, so Cinder's LVM backend cannot run here, and volumes.nfs_shares "
            "is empty; list NFS shares in volumes.nfs_shares, give the node a kernel with "
            "device-mapper, or set services.cinder: false"
        ]
    if backend == "lvm":
        missing = [device for device in devices if not stat.S_ISBLK(_mode(device))]
        if missing:
            return [
                f"volume_devices {', '.join(missing)}: no such block device on this node; "
                "correct the node's volume_devices (ls -l /dev/disk/by-id shows the disks)"
            ]
    return []


def _mode(path):
    try:
        return os.stat(path).st_mode
    except OSError:
        return 0


# The KVM probe runs test guests for up to a second; its answer holds until the next boot, and
# /run is emptied at every boot.
KVM_CACHE = "/run/tenrec/kvm-probe.json"


def cached_probe_kvm():
    try:
        with open(KVM_CACHE, encoding="utf-8") as handle:
            return KvmProbeResult(**json.load(handle))
    except (OSError, ValueError, TypeError):
        pass
    result = probe_kvm()
    try:
        os.makedirs(os.path.dirname(KVM_CACHE), mode=0o755, exist_ok=True)
        with open(KVM_CACHE + ".new", "w", encoding="utf-8") as handle:
            json.dump(dataclasses.asdict(result), handle)
        os.replace(KVM_CACHE + ".new", KVM_CACHE)
    except OSError:
        pass
    return result


def iscsi_target_in_use(path=CINDER_CONF):
    """The target helper this node's cinder-volume was configured with (tgt, lio), or None."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, configparser.Error):
        return None
    for section in parser.sections():
        helper = parser.get(section, "target_helper", fallback="")
        if helper in TARGET_HELPERS:
            return TARGET_HELPERS[helper]
    return None


def choose_iscsi_target(requested, lio_available, in_use):
    """auto: the target already serving this node's volumes (a switch would drop every
    export), else LIO where the kernel has it (the target in the kernel, as on any host with
    Debian's kernel), else tgt (userspace)."""
    if requested != "auto":
        return requested
    if in_use:
        return in_use
    return "lio" if lio_available else "tgt"


def deployed_release():
    """The release the last deploy or upgrade of this node finished with (None: never deployed)."""
    try:
        with open(RELEASE_MARK, encoding="utf-8") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def upgrade_record():
    """The record of the last upgrade on this node (the first controller keeps one), or None."""
    try:
        with open(UPGRADE_RECORD, encoding="utf-8") as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def release_problem(deployed, wanted, other_release):
    if not wanted or not deployed or deployed in (wanted, other_release):
        return None
    # Release names (2026.1, 2026.2) sort as they were published.
    if deployed < wanted:
        return (
            f"runs OpenStack {deployed} and the config says release {wanted}: a deploy does not change "
            f"releases; upgrade with `tenrec upgrade --to {wanted}`"
        )
    return (
        f"runs OpenStack {deployed} and the config says release {wanted}: set release: '{deployed}' in the "
        f"config (`tenrec rollback` returns to the release the cloud was upgraded from)"
    )


def main():
    module = AnsibleModule(
        argument_spec={
            "roles": {"type": "list", "elements": "str", "required": True},
            "management_address": {"type": "str", "required": True},
            "virt_type": {"type": "str", "choices": ["auto", "kvm", "qemu"], "default": "auto"},
            "ovs_datapath": {"type": "str", "choices": ["auto", "system", "netdev"], "default": "auto"},
            "volume_backend": {"type": "str", "choices": ["auto", "lvm", "nfs"], "default": "auto"},
            "volumes_wanted": {"type": "bool", "default": False},
            "nfs_shares_listed": {"type": "bool", "default": False},
            "volume_devices": {"type": "list", "elements": "str", "default": []},
            "iscsi_target": {"type": "str", "choices": ["auto", "tgt", "lio"], "default": "auto"},
            "min_memory_mb": {"type": "int", "default": 0},
            "min_disk_gb": {"type": "int", "default": 0},
            "leftover_timeout": {"type": "int", "default": 0},
            "release": {"type": "str", "default": ""},
            "other_release": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    params = module.params
    leftovers = leftover_steps.wait(params["leftover_timeout"])
    roles = params["roles"]
    dist_id, dist_version, pretty = os_release()
    flags = cpu_flags()
    kvm = cached_probe_kvm()
    features = kernel_features()
    facts = {
        "hostname": socket.gethostname(),
        "distribution": dist_id,
        "distribution_version": dist_version,
        "distribution_pretty": pretty,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "container": container_kind(),
        "pid1": os.path.basename(os.readlink("/proc/1/exe")) if os.path.exists("/proc/1/exe") else "",
        "cpus": os.cpu_count() or 0,
        "memory_mb": memory_mb(),
        "disk_free_gb": free_disk_gb("/var/lib"),
        "cpu_virtualization": "vmx" if "vmx" in flags else ("svm" if "svm" in flags else ""),
        "kvm_device": os.path.exists("/dev/kvm"),
        "kvm_usable": kvm.usable,
        "kvm_reason": kvm.reason,
        "kernel_features": features,
        "addresses": local_addresses(),
        "leftover_steps": leftovers,
        "deployed_release": deployed_release(),
        "upgrade_record": upgrade_record(),
    }

    problems = []
    if leftovers["still_running"]:
        steps = "; ".join(f"pid {pid}: {what}" for pid, what in leftovers["still_running"].items())
        problems.append(
            f"steps an earlier run left running have not ended within {params['leftover_timeout']} s ({steps}); "
            "wait for them or stop them (kill PID), then deploy again"
        )
    if (dist_id, dist_version.split(".")[0]) != SUPPORTED_DISTRIBUTION:
        problems.append(f"runs {pretty or dist_id + ' ' + dist_version}; tenrec supports Debian 12 (bookworm)")
    if facts["pid1"] != "systemd":
        problems.append(f"PID 1 is {facts['pid1'] or 'unknown'}, not systemd; boot the node with systemd")
    if tuple(int(x) for x in platform.python_version_tuple()[:2]) < (3, 11):
        problems.append(f"python3 is {facts['python']}; OpenStack 2026.x needs 3.11 or newer")
    if facts["memory_mb"] < params["min_memory_mb"]:
        problems.append(
            f"has {facts['memory_mb']} MiB of memory; its roles ({', '.join(roles)}) need {params['min_memory_mb']} MiB"
        )
    if facts["disk_free_gb"] < params["min_disk_gb"]:
        problems.append(
            f"has {facts['disk_free_gb']} GiB free under /var/lib; its roles need {params['min_disk_gb']} GiB"
        )
    if params["management_address"] not in facts["addresses"]:
        problems.append(
            f"management address {params['management_address']} is on none of its interfaces "
            f"(it has {', '.join(facts['addresses']) or 'none'}); correct the node's address in the config"
        )

    problem = release_problem(facts["deployed_release"], params["release"], params["other_release"])
    if problem:
        problems.append(problem)

    virt_type, problem = decide(
        params["virt_type"], kvm.usable, f"usable KVM ({kvm.reason})", "qemu", "kvm", "virt_type"
    )
    if "compute" in roles and problem:
        problems.append(problem)
    datapath, problem = decide(
        params["ovs_datapath"],
        features["openvswitch"],
        "the openvswitch kernel module",
        "netdev",
        "system",
        "ovs_datapath",
    )
    if problem and {"network", "compute"} & set(roles):
        problems.append(problem)
    volume_backend, problem = decide(
        params["volume_backend"], features["device_mapper"], "device-mapper (LVM)", "nfs", "lvm", "volume_backend"
    )
    if "storage" in roles and params["volumes_wanted"]:
        problems += volume_problems(volume_backend, problem, params["nfs_shares_listed"], params["volume_devices"])
    in_use = iscsi_target_in_use()
    iscsi_target = choose_iscsi_target(params["iscsi_target"], features["lio_target"], in_use)
    if iscsi_target == "lio" and not features["lio_target"] and "storage" in roles:
        problems.append(
            "options.iscsi_target is lio, but this node lacks the LIO target (target_core_mod); "
            "set options.iscsi_target: auto (tgt here) or fix the node"
        )

    decisions = {
        "virt_type": virt_type,
        "ovs_datapath": datapath,
        "volume_backend": volume_backend,
        "iscsi_target": iscsi_target,
    }
    module.exit_json(
        changed=False,
        ansible_facts={"tenrec_node": {"facts": facts, "decisions": decisions, "problems": problems}},
    )


if __name__ == "__main__":
    main()
