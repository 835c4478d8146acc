"""Lab topologies and the config the lab writes for its nodes."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from tenrec.config.load import validate
from tenrec.lab.lab import lab_config
from tenrec.lab.topology import LabSpec, NetworkInfo, grows, place_nodes

NETWORKS = [
    NetworkInfo("management", "tenrec-t-mana", "10.89.4.0/24", "10.89.4.1"),
    NetworkInfo("tunnel", "tenrec-t-tunn", "10.89.5.0/24", None),
    NetworkInfo("external", "tenrec-t-exte", "10.89.6.0/24", "10.89.6.1"),
]


def test_multinode_has_one_of_each_and_n_computes():
    nodes = LabSpec("t", "multinode", computes=3).nodes()
    assert [n.name for n in nodes] == ["ctl1", "net1", "cmp1", "cmp2", "cmp3", "sto1"]
    assert len({n.host_number for n in nodes}) == len(nodes)


def test_aio_holds_every_role():
    (node,) = LabSpec("t", "aio").nodes()
    assert set(node.roles) == {"controller", "network", "compute", "storage"}


def test_nodes_get_the_same_host_part_on_every_network():
    nodes = place_nodes(LabSpec("t", "multinode").nodes(), NETWORKS)
    cmp1 = next(n for n in nodes if n.name == "cmp1")
    assert cmp1.addresses == {"management": "10.89.4.31", "tunnel": "10.89.5.31", "external": "10.89.6.31"}


def test_network_too_small_is_refused():
    small = [NetworkInfo("management", "m", "10.89.4.0/28", None)]
    with pytest.raises(ValueError, match="too small"):
        place_nodes(LabSpec("t", "multinode").nodes(), small)


@pytest.mark.parametrize("topology", ["aio", "multinode"])
def test_lab_config_passes_validation(topology):
    spec = LabSpec("t", topology, computes=2)
    data = lab_config(spec, place_nodes(spec.nodes(), NETWORKS), NETWORKS, Path("/k/id_ed25519"))
    model, problems = validate(data)
    assert problems == [], [p.render() for p in problems]
    assert model is not None and model.ssh.verify_host_keys is False
    assert model.options.ntp_servers == []
    assert model.networks.external is not None and model.networks.external.interface == "eth2"


def test_a_lab_may_only_grow_compute_and_storage_nodes():
    recorded = asdict(LabSpec("lab", "multinode", computes=2, storage=2))
    assert grows(recorded, LabSpec("lab", "multinode", computes=2, storage=2))
    assert grows(recorded, LabSpec("lab", "multinode", computes=2, storage=3))
    assert grows(recorded, LabSpec("lab", "multinode", computes=3, storage=2))
    assert not grows(recorded, LabSpec("lab", "multinode", computes=2, storage=1))
    assert not grows(recorded, LabSpec("lab", "aio"))
