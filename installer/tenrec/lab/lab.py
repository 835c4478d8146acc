"""tenrec lab up / status / down: real nodes on this machine and a config that deploys onto them."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from tenrec.lab import nfs
from tenrec.lab.host import LabHostError, prepare_host
from tenrec.lab.image import Step, ensure_image
from tenrec.lab.provider import NodeProvider, NodeStatus, PodmanProvider
from tenrec.lab.topology import (
    EXTERNAL_BRIDGE,
    NETWORKS,
    LabSpec,
    NetworkInfo,
    NodeSpec,
    grows,
    place_nodes,
    spec_record,
)
from tenrec.lab.vm import HOST_PACKAGES as VM_HOST_PACKAGES
from tenrec.lab.vm import QemuProvider, disk_devices
from tenrec.lab.vm_image import ensure_vm_image, vm_image
from tenrec.paths import cache_dir, tenrec_home
from tenrec.ssh import SshTarget, wait_for_ssh

SSH_DEADLINE = 60.0
# An emulated VM boots in about 30 s alone; several at once on two cores take longer.
VM_SSH_DEADLINE = 360.0
DEFAULT_LAB = "lab"


@dataclass(frozen=True)
class LabPaths:
    root: Path

    @classmethod
    def named(cls, name: str) -> LabPaths:
        return cls(tenrec_home() / "labs" / name)

    @property
    def config(self) -> Path:
        return self.root / "tenrec.yml"

    @property
    def state(self) -> Path:
        return self.root / "lab.json"

    @property
    def key(self) -> Path:
        return self.root / "ssh" / "id_ed25519"

    @property
    def authorized_keys(self) -> Path:
        return self.root / "ssh" / "authorized_keys"

    @property
    def nfs_key_dir(self) -> Path:
        return self.root / "ssh" / "nfs"


@dataclass(frozen=True)
class LabNode:
    name: str
    roles: tuple[str, ...]
    address: str
    state: str
    kind: str = "podman"  # podman (a container) or qemu (a VM)


def wheel_cache() -> Path:
    """Where lab controllers keep their wheel repository: on this machine, so it outlives the
    lab and the next lab's first deploy downloads nothing (bench: empty it for a cold run)."""
    return cache_dir() / "lab-wheels"


def shared_dirs(node: NodeSpec, paths: LabPaths) -> dict[Path, str]:
    if node.kind == "qemu":
        return {}  # a VM has a kernel NFS client, and VM storage nodes keep volumes in LVM
    # Every container node mounts NFS shares the lab way (tenrec.lab.nfs), with the lab's NFS key.
    found = {paths.nfs_key_dir: nfs.KEY_DIR_IN_NODE}
    if "controller" in node.roles:
        found[wheel_cache()] = "/srv/tenrec/wheels"
    return found


def ensure_key(paths: LabPaths) -> None:
    if not paths.key.exists():
        paths.key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        subprocess.run(
            [
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                f"tenrec-lab@{paths.root.name}",
                "-f",
                str(paths.key),
            ],
            check=True,
            capture_output=True,
        )
    public = paths.key.with_suffix(".pub").read_text() + nfs.ensure_key(paths.nfs_key_dir)
    if not paths.authorized_keys.exists() or paths.authorized_keys.read_text() != public:
        paths.authorized_keys.write_text(public)
        paths.authorized_keys.chmod(0o600)


def lab_config(lab: LabSpec, nodes: list[NodeSpec], networks: list[NetworkInfo], key: Path) -> dict[str, Any]:
    """The deployment config for the lab's nodes, in the same form an operator writes."""
    by_purpose = {net.purpose: net for net in networks}

    def network(purpose: str) -> dict[str, Any]:
        net = by_purpose[purpose]
        return {"cidr": net.cidr, **({"gateway": net.gateway} if net.gateway else {})}

    node_entries = []
    storage = [node for node in nodes if "storage" in node.roles]
    for node in nodes:
        entry: dict[str, Any] = {"name": node.name, "address": node.addresses["management"], "roles": list(node.roles)}
        if {"network", "compute"} & set(node.roles):
            entry["tunnel_address"] = node.addresses["tunnel"]
        if node.kind == "qemu" and "storage" in node.roles:
            # A VM storage node has real disks: one for Cinder's LVM, one for Swift.
            disks = disk_devices(node.roles)
            entry["volume_devices"] = [disks["volumes"]]
            entry["object_devices"] = [disks["objects"]]
        node_entries.append(entry)
    # Where the kernel has no device-mapper (container nodes), Cinder keeps its volumes on an
    # NFS share of the first storage node (the lab's NFS: tenrec.lab.nfs).
    nfs_storage = [node for node in storage if node.kind == "podman"]
    vm_computes = any(node.kind == "qemu" and "compute" in node.roles for node in nodes)
    return {
        "name": lab.name,
        "release": "2026.2",
        "ssh": {"user": "root", "private_key": str(key), "verify_host_keys": False},
        "networks": {
            "management": network("management"),
            "tunnel": network("tunnel"),
            "external": {**network("external"), "bridge": EXTERNAL_BRIDGE, "interface": NETWORKS["external"]},
        },
        "nodes": node_entries,
        # Lab nodes reach no NTP server; the controller serves its own clock to the rest.
        "options": {"ntp_servers": []},
        "volumes": {"nfs_shares": [nfs.share_of(nfs_storage[0].addresses["management"])]} if nfs_storage else {},
        # The lab exercises the optional services that are off by default too; a lab of VM
        # compute nodes leaves out Ceilometer, whose compute agent is one more venv to build
        # on emulated CPUs and no kernel path.
        "services": {"heat": True, "ceilometer": not vm_computes, "gnocchi": True},
        # Polled every minute: verify's telemetry rows see a new guest's measures within one.
        "telemetry": {"polling_interval": 60},
        # Nodes trust what this machine trusts beyond Debian's CAs (a proxy toward PyPI).
        "ca_certificates": [str(path) for path in host_extra_cas()],
    }


def host_extra_cas() -> list[Path]:
    return sorted(Path("/usr/local/share/ca-certificates").glob("**/*.crt"))


def node_from_record(record: dict[str, Any]) -> NodeSpec:
    return NodeSpec(
        record["name"],
        tuple(record["roles"]),
        record["host_number"],
        record["addresses"],
        record.get("kind", "podman"),  # labs made before VM nodes existed
    )


class Lab:
    def __init__(self, name: str = DEFAULT_LAB, provider: PodmanProvider | None = None) -> None:
        self.name = name
        self.paths = LabPaths.named(name)
        self._provider = provider
        self._vm_provider: QemuProvider | None = None

    def provider(self, step: Step) -> PodmanProvider:
        """Container nodes, and the lab's networks (VM nodes plug into their bridges)."""
        if self._provider is None:
            self._provider = PodmanProvider(ensure_image(step))
        return self._provider

    def vm_provider(self, step: Step) -> QemuProvider:
        if self._vm_provider is None:
            self._vm_provider = QemuProvider(ensure_vm_image(step), self.paths.root.parent)
        return self._vm_provider

    def provider_for(self, node: NodeSpec, step: Step) -> NodeProvider:
        return self.provider_of(node.kind, step)

    def provider_of(self, kind: str, step: Step) -> NodeProvider:
        return self.vm_provider(step) if kind == "qemu" else self.provider(step)

    def _existing(self) -> list[NodeStatus]:
        """Every node of the lab that exists, without building any image."""
        podman_nodes = (self._provider or PodmanProvider(image="")).nodes(self.name)
        return podman_nodes + (self._vm_provider or QemuProvider(vm_image(), self.paths.root.parent)).nodes(self.name)

    def recorded(self) -> dict[str, Any] | None:
        if not self.paths.state.exists():
            return None
        data: dict[str, Any] = json.loads(self.paths.state.read_text())
        return data

    def up(self, spec: LabSpec, step: Step) -> list[LabNode]:
        problems = spec.problems()
        if problems:
            raise LabHostError("; ".join(problems))
        step("preparing podman" + (" and QEMU" if spec.vm_roles else "") + " on this machine")
        for change in prepare_host(VM_HOST_PACKAGES if spec.vm_roles else ()):
            step(change)
        provider = self.provider(step)
        if spec.vm_roles:
            self.vm_provider(step)
        existing = self._existing()
        recorded = self.recorded()
        if existing or recorded:
            return self._resume(spec, existing, recorded, step)
        self._destroy()  # leftovers of an interrupted `up`, if any
        ensure_key(self.paths)
        try:
            step("creating networks")
            networks = [provider.create_network(self.name, net) for net in spec.networks()]
            nodes = place_nodes(spec.nodes(), networks)
            step(f"creating {len(nodes)} node(s)")
            self._create_nodes(spec, nodes, networks, step)
        except BaseException:
            self._destroy()  # no half-made lab
            raise
        self._write_state(spec, nodes, networks)
        return self._wait(nodes, step)

    def _resume(
        self,
        spec: LabSpec,
        existing: list[NodeStatus],
        recorded: dict[str, Any] | None,
        step: Step,
    ) -> list[LabNode]:
        if recorded is None or not grows(recorded["spec"], spec):
            was = f"{recorded['spec']['topology']}" if recorded else "unknown"
            raise LabHostError(
                f"lab '{self.name}' already exists (topology {was}); run `tenrec lab down` first "
                "or pick another name with --name (a lab may only gain compute and storage nodes)"
            )
        nodes = [node_from_record(n) for n in recorded["nodes"]]
        if LabSpec.from_record(recorded["spec"]) != spec:
            nodes += self._add_nodes(spec, nodes, recorded, step)
            existing = self._existing()
        states = {n.name: n.state for n in existing}
        # Containers first: they bring the networks' bridges back, which VMs plug into.
        for node in sorted(nodes, key=lambda n: n.kind != "podman"):
            if node.name not in states:
                raise LabHostError(f"lab node {node.name} is gone; run `tenrec lab down` and `tenrec lab up` again")
            provider = self.provider_for(node, step)
            if states[node.name] != "running":
                step(f"starting {node.name}")
                provider.start_node(self.name, node.name)
            else:
                provider.refresh_node(self.name, node.name)
        return self._wait(nodes, step)

    def _create_nodes(self, spec: LabSpec, nodes: list[NodeSpec], networks: list[NetworkInfo], step: Step) -> None:
        dns = next(n.gateway for n in networks if n.purpose == "management")
        # Containers first: podman makes a network's bridge when its first container joins.
        for node in sorted(nodes, key=lambda n: n.kind != "podman"):
            if node.kind == "qemu":
                step(f"starting VM {node.name}")
            self.provider_for(node, step).create_node(
                self.name,
                node,
                spec.networks(),
                self.paths.authorized_keys,
                dns=dns,
                shared_dirs=shared_dirs(node, self.paths),
            )

    def _add_nodes(self, spec: LabSpec, nodes: list[NodeSpec], recorded: dict[str, Any], step: Step) -> list[NodeSpec]:
        """The nodes spec has and the lab lacks, created on its networks; the state and config rewritten."""
        networks = [NetworkInfo(**n) for n in recorded["networks"]]
        known = {node.name for node in nodes}
        added = place_nodes([node for node in spec.nodes() if node.name not in known], networks)
        step(f"adding {len(added)} node(s): {', '.join(node.name for node in added)}")
        self._create_nodes(spec, added, networks, step)
        self._write_state(spec, nodes + added, networks)
        return added

    def restart(self, step: Step) -> list[LabNode]:
        """Reboot every node at once (as a power cycle of the machines would), then wait for SSH."""
        recorded = self.recorded()
        if recorded is None:
            raise LabHostError(f"no lab '{self.name}': `tenrec lab up` creates it")
        nodes = [node_from_record(n) for n in recorded["nodes"]]
        step(f"restarting {len(nodes)} node(s)")
        kinds = {node.kind for node in nodes}
        # Both kinds at once, as one power cycle (a VM's taps keep its bridges while the
        # containers restart, and its new QEMU plugs them in again).
        providers = {kind: self.provider_of(kind, step) for kind in kinds}
        with ThreadPoolExecutor(max_workers=len(kinds)) as pool:
            restarts = [
                pool.submit(provider.restart_nodes, self.name, [n.name for n in nodes if n.kind == kind])
                for kind, provider in providers.items()
            ]
            for done in restarts:
                done.result()
        return self._wait(nodes, step)

    def _write_state(self, spec: LabSpec, nodes: list[NodeSpec], networks: list[NetworkInfo]) -> None:
        self.paths.root.mkdir(parents=True, exist_ok=True)
        state = {
            "spec": spec_record(spec),
            "networks": [asdict(n) for n in networks],
            "nodes": [asdict(n) for n in nodes],
        }
        self.paths.state.write_text(json.dumps(state, indent=2))
        config = lab_config(spec, nodes, networks, self.paths.key)
        header = f"# The deployment config of lab '{spec.name}' ({spec.topology}), written by `tenrec lab up`.\n"
        self.paths.config.write_text(header + yaml.safe_dump(config, sort_keys=False))

    def _wait(self, nodes: list[NodeSpec], step: Step) -> list[LabNode]:
        emulated = " (VMs boot emulated: a minute or more)" if self._has_vms(nodes) else ""
        step("waiting for SSH on every node" + emulated)
        started = time.monotonic()

        def wait(node: NodeSpec) -> str | None:
            seconds = VM_SSH_DEADLINE if node.kind == "qemu" else SSH_DEADLINE
            return wait_for_ssh(SshTarget(node.addresses["management"], key=self.paths.key), started + seconds)

        with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
            errors = dict(zip([n.name for n in nodes], pool.map(wait, nodes), strict=True))
        failed = {name: err for name, err in errors.items() if err}
        if failed:
            details = "; ".join(f"{name}: {err}" for name, err in failed.items())
            where = "`podman logs` for containers" + (
                f", {self.paths.root / 'vms' / 'NODE' / 'console.log'} for VMs" if self._has_vms(nodes) else ""
            )
            raise LabHostError(f"no SSH in time: {details} (see {where})")
        if self._has_vms(nodes):
            step(f"every node answers SSH after {time.monotonic() - started:.0f}s")
        return [LabNode(n.name, n.roles, n.addresses["management"], "running", n.kind) for n in nodes]

    @staticmethod
    def _has_vms(nodes: list[NodeSpec]) -> bool:
        return any(node.kind == "qemu" for node in nodes)

    def status(self) -> list[LabNode]:
        recorded = self.recorded()
        if recorded is None:
            return []
        states = {n.name: n.state for n in self._existing()}
        nodes = [node_from_record(n) for n in recorded["nodes"]]
        return [
            LabNode(n.name, n.roles, n.addresses["management"], states.get(n.name, "missing"), n.kind) for n in nodes
        ]

    def _destroy(self) -> list[str]:
        # VMs first: a bridge that still holds a tap outlives its last container (netavark
        # then keeps the bridge and its firewall rules).
        removed = (self._vm_provider or QemuProvider(vm_image(), self.paths.root.parent)).destroy(self.name)
        return removed + (self._provider or PodmanProvider(image="")).destroy(self.name)

    def down(self) -> list[str]:
        removed = self._destroy()
        if self.paths.root.exists():
            shutil.rmtree(self.paths.root)
            removed.append(f"lab directory {self.paths.root}")
        return removed
