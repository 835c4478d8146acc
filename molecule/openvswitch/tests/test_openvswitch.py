"""openvswitch: running, bridges on the node's datapath, addresses moved without losing
the node, and a real VXLAN tunnel between the nodes - also after OVS restarts, a stop
and start, and a reboot of a node.

The nodes are reached with `podman exec` (testinfra's podman backend): the VXLAN check
runs some thirty commands, each one a whole Ansible run through molecule's inventory.
"""

import json
import socket
import subprocess
import time

import pytest
import testinfra

from tests.ovs_vxlan import check_vxlan, datapath_of

NET, CMP = "mol-openvswitch-net", "mol-openvswitch-cmp"
NODES = {
    NET: {"management": "10.201.4.21", "tunnel": "10.201.14.21"},
    CMP: {"management": "10.201.4.31", "tunnel": "10.201.14.31"},
}
TUNNEL_INTERFACE, TUNNEL_PREFIX, TUNNEL_GATEWAY = "eth1", 24, "10.201.14.1"
EXTERNAL = {"interface": "ext0", "address": "198.51.100.21/24", "outside": "198.51.100.1"}


def node(name):
    return testinfra.get_host(f"podman://{name}")


def ipv4(host, device):
    return host.check_output(f"ip -4 -o address show dev {device} | awk '{{print $4}}'").split()


def mac(host, device):
    return host.file(f"/sys/class/net/{device}/address").content_string.strip()


def ovs(host, command):
    return host.check_output(f"ovs-vsctl {command}").strip().strip('"')


def tunnel_is_on_its_bridge(host, name):
    """With netdev the tunnel address lives on br-phy; with system it stays put."""
    address = f"{NODES[name]['tunnel']}/{TUNNEL_PREFIX}"
    if datapath_of(host) == "system":
        return address in ipv4(host, TUNNEL_INTERFACE)
    return address in ipv4(host, "br-phy") and ipv4(host, TUNNEL_INTERFACE) == []


def wait_until(predicate, seconds=30):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


@pytest.mark.parametrize("name", NODES)
def test_installed_running_enabled(name):
    host = node(name)
    assert host.package("openvswitch-switch").is_installed
    assert host.service("openvswitch-switch").is_enabled
    for unit in ("ovsdb-server", "ovs-vswitchd"):
        service = host.service(unit)
        assert service.is_running and service.is_enabled, unit
    mover = host.service("tenrec-ovs-addresses")
    assert mover.is_enabled and host.run("systemctl is-active tenrec-ovs-addresses").stdout.strip() == "active"


@pytest.mark.parametrize("name", NODES)
def test_module_load_is_a_no_op_only_where_the_kernel_has_none(name):
    host = node(name)
    noop = host.file("/etc/modprobe.d/tenrec-openvswitch.conf")
    if datapath_of(host) == "netdev" and not host.file("/sys/module/openvswitch").exists:
        # ovs-ctl runs this at every start of ovs-vswitchd: it must succeed.
        assert noop.contains("^install openvswitch /bin/true$")
        assert host.run("modprobe openvswitch").rc == 0
    else:
        assert not noop.exists


@pytest.mark.parametrize("name", NODES)
def test_bridges_use_the_datapath_of_the_node(name):
    host = node(name)
    datapath = datapath_of(host)
    bridges = set(host.check_output("ovs-vsctl list-br").split())
    expected = ({"br-phy"} if datapath == "netdev" else set()) | ({"br-ex"} if name == NET else set())
    assert bridges == expected
    for bridge in bridges:
        assert ovs(host, f"get Bridge {bridge} datapath_type") == datapath, bridge


@pytest.mark.parametrize("name", NODES)
def test_tunnel_address_moved_onto_br_phy_with_its_route(name):
    host = node(name)
    if datapath_of(host) == "system":
        pytest.skip("the kernel datapath terminates VXLAN on the interface itself")
    assert host.check_output("ovs-vsctl list-ports br-phy").split() == [TUNNEL_INTERFACE]
    assert tunnel_is_on_its_bridge(host, name)
    # Same MAC as the interface, so neighbours' ARP entries stay right.
    assert ovs(host, "get Bridge br-phy other_config:hwaddr") == mac(host, TUNNEL_INTERFACE) == mac(host, "br-phy")
    assert f"default via {TUNNEL_GATEWAY} dev br-phy" in host.check_output("ip -4 route show default")
    for key, value in (("ipv4.conf.%s.rp_filter", 1), ("ipv4.conf.%s.arp_ignore", 1), ("ipv6.conf.%s.disable_ipv6", 1)):
        assert host.sysctl("net." + key % TUNNEL_INTERFACE) == value, key


def test_external_interface_in_br_ex_and_its_address_still_works():
    host = node(NET)
    assert host.check_output("ovs-vsctl iface-to-br ext0") == "br-ex"
    assert ipv4(host, "ext0") == [] and EXTERNAL["address"] in ipv4(host, "br-ex")
    assert ovs(host, "get Bridge br-ex other_config:hwaddr") == mac(host, "ext0")
    # Out through br-ex and ext0 to the namespace standing for the outside.
    assert host.run(f"ping -c 2 -w 10 -I br-ex {EXTERNAL['outside']}").rc == 0
    assert not node(CMP).run("ovs-vsctl br-exists br-ex").succeeded


@pytest.mark.parametrize("name", NODES)
def test_management_address_still_answers(name):
    address = NODES[name]["management"]
    with socket.create_connection((address, 22), timeout=5) as ssh:
        assert ssh.recv(64).startswith(b"SSH-2.0-")
    other = CMP if name == NET else NET
    assert node(other).run(f"ping -c 2 -w 5 {address}").rc == 0


@pytest.mark.parametrize("name", NODES)
def test_address_moves_survive_in_the_movers_configuration(name):
    host = node(name)
    moves = json.loads(host.file("/etc/tenrec/openvswitch-addresses.json").content_string)
    netdev = datapath_of(host) == "netdev"
    expected = [{"bridge": "br-phy", "interface": TUNNEL_INTERFACE, "restore_on_stop": True}] if netdev else []
    if name == NET:
        expected.append({"bridge": "br-ex", "interface": EXTERNAL["interface"], "restore_on_stop": netdev})
    assert moves == expected


def test_vxlan_between_the_nodes():
    outputs = check_vxlan(node(NET), NODES[NET]["tunnel"], node(CMP), NODES[CMP]["tunnel"])
    assert all(" 0% packet loss" in out or "3 received" in out for out in outputs.values())


def test_stop_returns_the_addresses_and_start_takes_them_again():
    host = node(CMP)
    host.check_output("systemctl stop openvswitch-switch")
    try:
        assert not host.service("ovs-vswitchd").is_running
        if datapath_of(host) == "netdev":
            # Back on the interface while nothing forwards for br-phy.
            assert f"{NODES[CMP]['tunnel']}/{TUNNEL_PREFIX}" in ipv4(host, TUNNEL_INTERFACE)
            assert f"default via {TUNNEL_GATEWAY} dev {TUNNEL_INTERFACE}" in host.check_output("ip -4 route")
    finally:
        host.check_output("systemctl start openvswitch-switch")
    wait_until(lambda: tunnel_is_on_its_bridge(host, CMP))


def test_tunnel_works_after_ovs_restarts():
    # Both ways in: the whole service, and the forwarding daemon alone.
    node(NET).check_output("systemctl restart openvswitch-switch")
    node(CMP).check_output("systemctl restart ovs-vswitchd")
    for name in NODES:
        wait_until(lambda name=name: tunnel_is_on_its_bridge(node(name), name))
    check_vxlan(node(NET), NODES[NET]["tunnel"], node(CMP), NODES[CMP]["tunnel"])


def test_tunnel_works_after_a_reboot():
    subprocess.run(["podman", "restart", "--time", "20", CMP], check=True, capture_output=True)
    host = node(CMP)
    wait_until(lambda: host.run("systemctl is-system-running --wait").stdout.strip() in ("running", "degraded"), 120)
    wait_until(lambda: tunnel_is_on_its_bridge(host, CMP))
    assert host.run("systemctl is-active tenrec-ovs-addresses").stdout.strip() == "active"
    check_vxlan(node(NET), NODES[NET]["tunnel"], node(CMP), NODES[CMP]["tunnel"])
