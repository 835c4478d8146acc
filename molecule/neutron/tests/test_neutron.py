"""Neutron on one node: the servers, every agent alive, and a router that reaches the
external network through the provider bridge."""

import json
import time

from tests.node_checks import assert_listens_only_on, assert_running

ADDRESS = "10.201.10.11"
OS = "openstack --os-cloud tenrec"


def test_server_processes_run_and_the_api_listens_on_management_only(host):
    for unit in ("neutron-api", "neutron-rpc-server", "neutron-periodic-workers"):
        assert_running(host, unit)
    assert_listens_only_on(host, ADDRESS, 9696)


def test_every_agent_is_alive(host):
    deadline = time.monotonic() + 60
    while True:
        agents = json.loads(host.check_output(f"{OS} network agent list -f json"))
        kinds = {a["Agent Type"]: a for a in agents}
        alive = all(a["Alive"] in (True, ":-)") and a["State"] in (True, "UP") for a in agents)
        if alive and {"Open vSwitch agent", "DHCP agent", "L3 agent", "Metadata agent"} <= set(kinds):
            return
        assert time.monotonic() < deadline, agents
        time.sleep(2)


def test_agent_bridges_use_the_decided_datapath(host):
    # One datapath for every bridge. A lone network-and-compute node has no br-phy (no VXLAN
    # peer to reach through it), so br-int is the reference.
    datapath = host.check_output("ovs-vsctl get bridge br-int datapath_type").strip('"')
    assert datapath in ("system", "netdev")
    bridges = host.check_output("ovs-vsctl list-br").split()
    assert {"br-int", "br-tun", "br-ex"} <= set(bridges), bridges
    for bridge in bridges:
        assert host.check_output(f"ovs-vsctl get bridge {bridge} datapath_type").strip('"') == datapath


def test_rootwrap_is_root_owned_and_allowed_by_sudo(host):
    for path in ("/etc/neutron/rootwrap.conf", "/etc/neutron/rootwrap.d/rootwrap.filters"):
        conf = host.file(path)
        assert conf.user == "root" and not conf.mode & 0o022
    assert "neutron-rootwrap" in host.check_output("sudo -l -U neutron")


def test_external_network_made_from_the_config(host):
    network = json.loads(host.check_output(f"{OS} network show public -f json"))
    assert network["router:external"] in (True, "External")
    assert network["provider:network_type"] == "flat"
    subnet = json.loads(host.check_output(f"{OS} subnet show public-subnet -f json"))
    assert subnet["cidr"] == "198.51.100.0/24"
    assert subnet["allocation_pools"][0]["start"] == "198.51.100.128"


def test_router_gateway_answers_from_the_outside(host):
    # A router with its gateway on `public` gets an address from the pool; the namespace
    # standing for the outside reaches it through ext0 and br-ex.
    host.check_output(f"{OS} router create mol-router -f value -c id")
    try:
        host.check_output(f"{OS} router set --external-gateway public mol-router")
        info = json.loads(host.check_output(f"{OS} router show mol-router -f json"))
        gateway = info["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
        deadline = time.monotonic() + 60
        while host.run(f"ip netns exec molecule-outside ping -c 1 -W 2 {gateway}").rc != 0:
            assert time.monotonic() < deadline, f"router gateway {gateway} never answered"
    finally:
        host.run(f"{OS} router unset --external-gateway mol-router")
        host.run(f"{OS} router delete mol-router")
