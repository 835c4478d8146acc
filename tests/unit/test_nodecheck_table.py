"""`tenrec check --nodes`: the table says what each node's kernel has, beside the decisions."""

from __future__ import annotations

from rich.console import Console

from tenrec.nodecheck import NodeReport, NodeResult, nodes_table


def rendered(report: NodeReport) -> str:
    console = Console(width=300, record=True)
    console.print(nodes_table(report))
    return console.export_text()


def kernel_has_column(text: str, name: str) -> list[str]:
    """The "kernel has" cell of a node's row, a line of the cell an item."""
    rows = [line.split("│") for line in text.splitlines() if line.startswith("│")]
    header = next(line for line in text.splitlines() if "kernel" in line).split("┃")
    column = next(i for i, cell in enumerate(header) if "kernel" in cell)
    start = next(i for i, row in enumerate(rows) if row[1].strip() == name)
    cell = [rows[start][column].strip()]
    for row in rows[start + 1 :]:
        if row[1].strip():
            break
        cell.append(row[column].strip())
    return [line for line in cell if line]


EVERY_FEATURE = {"openvswitch": True, "device_mapper": True, "lio_target": True, "iscsi_initiator": True}


def test_a_vm_node_shows_every_production_feature_and_a_container_none():
    vm = NodeResult(
        "sto1",
        ["storage"],
        True,
        facts={
            "distribution": "debian",
            "distribution_version": "12",
            "kvm_usable": True,
            "kernel_features": EVERY_FEATURE,
        },
        decisions={"virt_type": "kvm", "ovs_datapath": "system", "volume_backend": "lvm", "iscsi_target": "lio"},
    )
    container = NodeResult(
        "ctl1",
        ["controller"],
        True,
        facts={"container": "podman", "kvm_device": True, "kernel_features": dict.fromkeys(EVERY_FEATURE, False)},
        decisions={"virt_type": "qemu", "ovs_datapath": "netdev", "volume_backend": "nfs", "iscsi_target": "tgt"},
    )
    text = rendered(NodeReport([vm, container], ""))
    assert kernel_has_column(text, "sto1") == ["ovs module", "device-mapper", "lio", "iscsi initiator"]
    lines = {line.split("│")[1].strip(): line for line in text.splitlines() if "│" in line}
    assert all(word in lines["sto1"] for word in ("system", "lvm", "lio", "usable"))
    cells = [cell.strip() for cell in lines["ctl1"].split("│")]
    assert "-" in cells and "present, unusable" in cells and "netdev" in cells


def test_an_unreachable_node_fills_every_column():
    text = rendered(NodeReport([NodeResult("cmp1", ["compute"], False)], ""))
    row = next(line for line in text.splitlines() if "cmp1" in line)
    assert row.count("│") == 13 and "not checked" in row
