"""The deployment config an operator writes (tenrec.yml), as a typed model.

Field validators check one value at a time; rules.py checks how values relate.
Both run on every load so that all problems are reported together.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import netaddr
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

RELEASES: tuple[str, ...] = ("2026.1", "2026.2")
DEFAULT_RELEASE = "2026.2"
NODE_ROLES: tuple[str, ...] = ("controller", "network", "compute", "storage")
OPTIONAL_SERVICES: tuple[str, ...] = ("cinder", "swift", "horizon", "heat", "ceilometer", "gnocchi")

_HOSTNAME = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z][a-z0-9-]{0,61}$")
_IFNAME = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")


def invalid(message: str, fix: str) -> PydanticCustomError:
    """A field error that carries its fix through pydantic to the report."""
    return PydanticCustomError("tenrec_invalid", message, {"fix": fix})


def parse_ipv4(value: str) -> netaddr.IPAddress | None:
    """The address, or None when the text is not a plain dotted IPv4 address."""
    if not isinstance(value, str):
        return None
    try:
        address = netaddr.IPAddress(value, flags=netaddr.INET_PTON)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None
    return address if address.version == 4 else None


def parse_cidr(value: str) -> netaddr.IPNetwork | None:
    if not isinstance(value, str) or "/" not in value:
        return None
    try:
        net = netaddr.IPNetwork(value)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None
    return net if net.version == 4 and net.ip == net.network else None


def _check_address(value: str) -> str:
    if parse_ipv4(value) is None:
        raise invalid(
            f"'{value}' is not an IPv4 address",
            "write four dotted numbers, e.g. 192.0.2.10",
        )
    return value


def _check_cidr(value: str) -> str:
    if parse_cidr(value) is not None:
        return value
    if isinstance(value, str) and "/" in value:
        try:
            net = netaddr.IPNetwork(value)
        except (netaddr.AddrFormatError, ValueError, TypeError):
            pass
        else:
            if net.version == 4:
                raise invalid(
                    f"'{value}' has host bits set",
                    f"use the network address: {net.cidr}",
                )
    raise invalid(
        f"'{value}' is not an IPv4 network in CIDR notation",
        "write NETWORK/PREFIX, e.g. 192.0.2.0/24",
    )


def _check_hostname(value: str) -> str:
    if not _HOSTNAME.match(value):
        raise invalid(
            f"'{value}' is not a usable host name",
            "use lower-case letters, digits and '-', starting with a letter (e.g. ctl1)",
        )
    return value


def _check_endpoint(value: str) -> str:
    if parse_ipv4(value) is None and not _DNS_NAME.match(value):
        raise invalid(
            f"'{value}' is neither an IPv4 address nor a DNS name",
            "give the address or name clients use to reach the APIs",
        )
    return value


def _check_ifname(value: str) -> str:
    if not _IFNAME.match(value):
        raise invalid(
            f"'{value}' is not a network interface name",
            "use the interface's name as `ip link` shows it (at most 15 characters)",
        )
    return value


def _check_release(value: str) -> str:
    if value not in RELEASES:
        raise invalid(
            f"unknown release '{value}'",
            f'use one of {", ".join(RELEASES)} (quote it in YAML: "{DEFAULT_RELEASE}")',
        )
    return value


def _check_roles(value: list[str]) -> list[str]:
    duplicates = sorted({role for role in value if value.count(role) > 1})
    if duplicates:
        raise invalid(
            f"role {', '.join(duplicates)} listed more than once",
            "list each role once",
        )
    return value


Address = Annotated[str, AfterValidator(_check_address)]
Cidr = Annotated[str, AfterValidator(_check_cidr)]
HostName = Annotated[str, AfterValidator(_check_hostname)]
InterfaceName = Annotated[str, AfterValidator(_check_ifname)]
Release = Annotated[str, AfterValidator(_check_release)]
Role = Literal["controller", "network", "compute", "storage"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Network(Strict):
    cidr: Cidr
    gateway: Address | None = None


class ExternalNetwork(Network):
    """The provider network behind floating IPs, reached through an OVS bridge."""

    bridge: InterfaceName = "br-ex"
    interface: InterfaceName | None = None
    physical_network: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = "physnet1"


class Networks(Strict):
    management: Network
    tunnel: Network | None = None
    storage: Network | None = None
    external: ExternalNetwork | None = None


class SshSettings(Strict):
    user: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_-]{0,31}$")] = "root"
    port: Annotated[int, Field(ge=1, le=65535)] = 22
    private_key: str | None = None
    # Only the lab sets this: its nodes get new host keys every time they are created.
    verify_host_keys: bool = True


class Node(Strict):
    name: HostName
    address: Address
    roles: Annotated[list[Role], Field(min_length=1), AfterValidator(_check_roles)]
    tunnel_address: Address | None = None
    storage_address: Address | None = None
    external_interface: InterfaceName | None = None
    ssh_port: Annotated[int, Field(ge=1, le=65535)] | None = None


class Options(Strict):
    virt_type: Literal["auto", "kvm", "qemu"] = "auto"
    ovs_datapath: Literal["auto", "system", "netdev"] = "auto"
    volume_backend: Literal["auto", "lvm", "file"] = "auto"
    iscsi_target: Literal["auto", "tgt", "lio"] = "auto"
    ntp_servers: list[str] = Field(default_factory=lambda: ["0.debian.pool.ntp.org", "1.debian.pool.ntp.org"])


class Services(Strict):
    """Optional services; keystone, glance, placement, nova and neutron are always on."""

    cinder: bool = True
    swift: bool = True
    horizon: bool = True
    heat: bool = False
    ceilometer: bool = False
    gnocchi: bool = False


class Deployment(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")] = "tenrec"
    release: Release = DEFAULT_RELEASE
    ssh: SshSettings = SshSettings()
    networks: Networks
    public_endpoint: Annotated[str, AfterValidator(_check_endpoint)] | None = None
    nodes: Annotated[list[Node], Field(min_length=1)]
    options: Options = Options()
    services: Services = Services()

    def nodes_with(self, role: str) -> list[Node]:
        return [node for node in self.nodes if role in node.roles]

    @property
    def endpoint(self) -> str:
        """Where clients reach the APIs: the configured name, else the first controller."""
        if self.public_endpoint:
            return self.public_endpoint
        return self.nodes_with("controller")[0].address

    def enabled_services(self) -> list[str]:
        return [name for name in OPTIONAL_SERVICES if getattr(self.services, name)]
