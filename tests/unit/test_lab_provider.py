"""The lab provider: what keeps a node like a real machine across restarts."""


def test_each_node_interface_keeps_one_locally_administered_mac():
    from tenrec.lab.provider import node_mac  # noqa: PLC0415

    macs = {node_mac("itest", node, net) for node in ("ctl1", "net1") for net in ("management", "tunnel", "external")}
    assert len(macs) == 6, "one per node and network"
    assert node_mac("itest", "net1", "external") == node_mac("itest", "net1", "external")
    assert node_mac("itest", "net1", "external") != node_mac("other", "net1", "external")
    for mac in macs:
        first = int(mac.split(":")[0], 16)
        assert first & 0b10 and not first & 0b1, f"{mac}: locally administered, unicast"
        assert len(mac.split(":")) == 6


def test_a_node_keeps_the_default_route_of_its_management_network_only():
    from tenrec.lab.provider import extra_default_routes  # noqa: PLC0415

    shown = [
        {"dst": "default", "gateway": "10.89.2.1", "dev": "eth2", "metric": 100},
        {"dst": "default", "gateway": "10.89.0.1", "dev": "eth0", "metric": 100},
        {"dst": "default", "gateway": "10.89.2.1", "dev": "br-ex", "metric": 100},
    ]
    assert [route["dev"] for route in extra_default_routes(shown, "10.89.0.1")] == ["eth2", "br-ex"]
    assert extra_default_routes(shown[1:2], "10.89.0.1") == []
