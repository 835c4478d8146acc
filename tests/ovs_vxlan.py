"""A VXLAN tunnel between two Open vSwitch nodes, checked end to end with real packets.

On each node: a temporary bridge with the datapath the node's OVS uses, an internal
port moved into a network namespace with a test address, and a VXLAN port to the other
node's tunnel address; then pings both ways, small and near the tunnel MTU with DF set.
Everything it creates is removed again (try/finally), so it can run on deployed nodes.

Works with any testinfra hosts (molecule's, or the lab's over SSH):

    from tests.ovs_vxlan import check_vxlan
    check_vxlan(net1, "10.x.y.21", cmp1, "10.x.y.31")   # the nodes' tunnel addresses

The VNI (4242) lies outside Neutron's usual tenant range, so a node whose br-tun already
carries tenant tunnels to the same peer keeps them while this runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

BRIDGE = "br-vxtest"
NAMESPACE = "vxtest"
INTERNAL_PORT = "vxt-in"
TUNNEL_PORT = "vxt-tun"
VNI = 4242
ADDRESSES = ("192.168.250.1/24", "192.168.250.2/24")
# 1500 on the underlay minus VXLAN's 50 bytes, as Neutron sets for its VXLAN networks.
INNER_MTU = 1450


def datapath_of(host) -> str:
    """The datapath OVS must use on this node: system where the kernel module is loaded."""
    return "system" if host.file("/sys/module/openvswitch").is_directory else "netdev"


def _remove(host) -> None:
    host.run(f"ovs-vsctl --if-exists del-br {BRIDGE}")
    host.run(f"ip netns delete {NAMESPACE}")


def _create(host, local_ip: str, remote_ip: str, address: str, vni: int) -> None:
    datapath = datapath_of(host)
    for command in (
        f"ovs-vsctl add-br {BRIDGE} -- set Bridge {BRIDGE} datapath_type={datapath}",
        f"ovs-vsctl add-port {BRIDGE} {INTERNAL_PORT} -- set Interface {INTERNAL_PORT} type=internal",
        f"ovs-vsctl add-port {BRIDGE} {TUNNEL_PORT} -- set Interface {TUNNEL_PORT} type=vxlan"
        f" options:remote_ip={remote_ip} options:local_ip={local_ip} options:key={vni}",
        f"ip netns add {NAMESPACE}",
        f"ip link set {INTERNAL_PORT} netns {NAMESPACE}",
        f"ip -n {NAMESPACE} addr add {address} dev {INTERNAL_PORT}",
        f"ip -n {NAMESPACE} link set {INTERNAL_PORT} mtu {INNER_MTU} up",
    ):
        host.check_output(command)


@contextlib.contextmanager
def vxlan_pair(left, left_tunnel_ip: str, right, right_tunnel_ip: str, vni: int = VNI) -> Iterator[None]:
    """Both ends of a test tunnel, removed on exit however the body ends."""
    try:
        _remove(left)
        _remove(right)
        _create(left, left_tunnel_ip, right_tunnel_ip, ADDRESSES[0], vni)
        _create(right, right_tunnel_ip, left_tunnel_ip, ADDRESSES[1], vni)
        yield
    finally:
        _remove(left)
        _remove(right)


def _diagnostics(host) -> str:
    commands = ("ip -br address", "ip route", "ovs-vsctl show", "ovs-appctl ovs/route/show")
    commands += ("ovs-appctl tnl/neigh/show",)
    return "\n".join(f"$ {c}\n{host.run(c).stdout}" for c in commands)


def _ping(source, target_address: str, extra: str = "") -> str:
    # -w: keep trying for a while; with the userspace datapath OVS first resolves the
    # peer's MAC for the tunnel itself, and the first packets go while it does.
    command = f"ip netns exec {NAMESPACE} ping -c 3 -i 0.3 -w 20 {extra} {target_address}"
    result = source.run(command)
    if result.rc != 0:
        raise AssertionError(f"{command} failed:\n{result.stdout}{result.stderr}\n{_diagnostics(source)}")
    return result.stdout


def check_vxlan(
    left, left_tunnel_ip: str, right, right_tunnel_ip: str, vni: int = VNI, while_up: Callable[[], None] | None = None
) -> dict[str, str]:
    """Ping across a VXLAN tunnel between the two nodes both ways; returns the outputs.
    while_up, when given, runs after the pings while the tunnel still exists.

    Raises AssertionError (with the nodes' addresses, OVS layout and tunnel neighbours)
    when a ping does not come back.
    """
    left_address, right_address = (a.split("/")[0] for a in ADDRESSES)
    # The largest packet that fits the tunnel MTU, not fragmented: the underlay takes it.
    full_size = f"-M do -s {INNER_MTU - 28}"
    with vxlan_pair(left, left_tunnel_ip, right, right_tunnel_ip, vni):
        outputs = {
            "left to right": _ping(left, right_address),
            "right to left": _ping(right, left_address),
            "left to right, full size": _ping(left, right_address, full_size),
        }
        if while_up is not None:
            while_up()
        return outputs
