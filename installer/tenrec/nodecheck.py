"""tenrec check --nodes: probe every node through the precheck role and show the decisions."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from tenrec.config import Deployment
from tenrec.paths import StateDir
from tenrec.runner import run_playbook

PROBE_ACTION = "tenrec.cloud.node_probe"


@dataclass
class NodeResult:
    name: str
    roles: list[str]
    reachable: bool
    facts: dict[str, Any] = field(default_factory=dict)
    decisions: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@dataclass
class NodeReport:
    nodes: list[NodeResult]
    log: str

    @property
    def ok(self) -> bool:
        return all(n.reachable and not n.problems for n in self.nodes)

    def failed_count(self) -> int:
        return sum(1 for n in self.nodes if not n.reachable or n.problems)

    def problem_lines(self) -> list[str]:
        return [f"{n.name}: {problem}" for n in self.nodes for problem in n.problems]


def check_nodes(state: StateDir, config: Deployment, console: Console) -> NodeReport:
    result = run_playbook(
        state,
        "precheck.yml",
        console,
        hosts=len(config.nodes),
        keep_actions={PROBE_ACTION},
        extravars={"precheck_fail_on_problems": False},
        label="check",
    )
    failures = {f.host: f for f in result.failures}
    nodes = []
    for node in config.nodes:
        probe = result.results.get(node.name, {}).get("ansible_facts", {}).get("tenrec_node")
        if probe is None:
            failure = failures.get(node.name)
            if failure is None:
                problem = "no probe result (see the log)"
            else:
                problem = f"{'unreachable' if failure.unreachable else 'probe failed'}: {failure.message}"
            nodes.append(NodeResult(node.name, list(node.roles), False, problems=[problem]))
            continue
        nodes.append(
            NodeResult(node.name, list(node.roles), True, probe["facts"], probe["decisions"], probe["problems"])
        )
    report = NodeReport(nodes, result.log)
    # The facts and decisions, for scripts and for diagnosing a node later.
    (state.logs / "nodes.json").write_text(json.dumps([asdict(n) for n in nodes], indent=2), encoding="utf-8")
    return report


# The kernel features the production backends need (node_probe's kernel_features), as the
# table names them: where one is missing, the decision falls back (netdev, nfs, tgt).
KERNEL_FEATURE_NAMES = {
    "openvswitch": "ovs module",
    "device_mapper": "device-mapper",
    "lio_target": "lio",
    "iscsi_initiator": "iscsi initiator",
}


def nodes_table(report: NodeReport) -> Table:
    table = Table(title="Nodes and the decisions taken for them")
    for column in (
        "node",
        "roles",
        "os",
        "memory",
        "free disk",
        "kvm",
        "kernel has",
        "virt type",
        "ovs datapath",
        "volumes",
        "iscsi",
        "ready",
    ):
        table.add_column(column)
    for n in report.nodes:
        f = n.facts
        if not n.reachable:
            table.add_row(n.name, ", ".join(n.roles), *["-"] * 9, "[red]not checked[/]")
            continue
        kvm = "usable" if f.get("kvm_usable") else ("present, unusable" if f.get("kvm_device") else "absent")
        container = f" ({f['container']})" if f.get("container") else ""
        features = f.get("kernel_features") or {}
        # One feature a line: the column stays narrow enough for a 140-column log.
        kernel_has = "\n".join(name for key, name in KERNEL_FEATURE_NAMES.items() if features.get(key)) or "-"
        table.add_row(
            n.name,
            ", ".join(n.roles),
            f"{f.get('distribution', '?')} {f.get('distribution_version', '')}{container}",
            f"{f.get('memory_mb', 0)} MiB",
            f"{f.get('disk_free_gb', 0)} GiB",
            kvm,
            kernel_has,
            n.decisions.get("virt_type", "?"),
            n.decisions.get("ovs_datapath", "?"),
            n.decisions.get("volume_backend", "?"),
            n.decisions.get("iscsi_target", "?"),
            "[green]yes[/]" if not n.problems else f"[red]{len(n.problems)} problem(s)[/]",
        )
    return table
