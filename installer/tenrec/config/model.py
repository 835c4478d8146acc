"""The deployment config an operator writes (tenrec.yml), as a typed model.

Field validators check one value at a time; rules.py checks how values relate.
Both run on every load so that all problems are reported together.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import netaddr
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

RELEASES: tuple[str, ...] = ("2026.1", "2026.2")
DEFAULT_RELEASE = "2026.2"


def previous_release(release: str) -> str | None:
    """The release an upgrade to `release` comes from (upgrades go one release at a time)."""
    index = RELEASES.index(release)
    return RELEASES[index - 1] if index > 0 else None


NODE_ROLES: tuple[str, ...] = ("controller", "network", "compute", "storage")
OPTIONAL_SERVICES: tuple[str, ...] = ("cinder", "swift", "horizon", "heat", "ceilometer", "gnocchi")
OPENSTACK_SERVICES: tuple[str, ...] = ("keystone", "glance", "placement", "nova", "neutron", *OPTIONAL_SERVICES)

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


_NFS_SHARE = re.compile(r"^(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):(?P<path>/[^\s,]*)$")
_DEVICE = re.compile(r"^/dev/[A-Za-z0-9/_.:-]+$")
_VOLUME_GROUP = re.compile(r"^[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}$")


def _check_nfs_share(value: str) -> str:
    if not _NFS_SHARE.match(value):
        raise invalid(
            f"'{value}' is not an NFS share",
            "write it as HOST:/PATH, the way mount -t nfs takes it (e.g. nas1:/export/cinder)",
        )
    return value


def _check_device(value: str) -> str:
    if not _DEVICE.match(value):
        raise invalid(
            f"'{value}' is not a block device path",
            "give the device as /dev/NAME (e.g. /dev/sdb or /dev/disk/by-id/...)",
        )
    return value


def _check_volume_group(value: str) -> str:
    if not _VOLUME_GROUP.match(value) or value in (".", ".."):
        raise invalid(
            f"'{value}' is not a usable LVM volume group name",
            "use letters, digits and + _ . - (e.g. cinder-volumes)",
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


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"'{value}'" if isinstance(value, str) else str(value)


def _check_option_value(value: Any) -> Any:
    if value is None:
        return value
    in_list = isinstance(value, list)
    for item in value if in_list else [value]:
        if not isinstance(item, str | int | float | bool):
            raise invalid(
                f"{'a list value holds' if in_list else 'an option value is'} text, a number or true/false,"
                f" not {_describe(item)}",
                "give a string, number, true/false or a list of those; `~` removes the option"
                " (under `all` the section comes first: `all: {DEFAULT: {debug: true}}`)",
            )
        if isinstance(item, str) and ("\n" in item or "\r" in item):
            raise invalid(
                "the value has a line break, which oslo.config does not read reliably", "write it on one line"
            )
    return value


def _check_config_name(value: Any, what: str, forbidden: str, not_first: str = "") -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{_describe(value)} is not a usable {what}", f"write the {what} as text (quote it in YAML)")
    bad = sorted({c for c in value if c in forbidden or not c.isprintable()})
    if value[0] in not_first:
        bad.insert(0, value[0])
    if bad or value != value.strip():
        shown = ", ".join(repr(c) for c in bad) or "spaces at an end"
        raise invalid(f"'{value}' is not a usable {what} ({shown})", f"write the {what} as oslo.config spells it")
    return value


def _check_section_name(value: Any) -> str:
    return _check_config_name(value, "section name", "[]")


def _check_option_name(value: Any) -> str:
    return _check_config_name(value, "option name", "=:", not_first="#;[")


def _check_file_name(value: Any) -> str:
    name = _check_config_name(value, "file name", "")
    if "/" in name or name in (".", ".."):
        raise invalid(
            f"'{name}' is not a plain file name",
            "give the file's name only, e.g. nova.conf: tenrec writes it into the service's /etc directory",
        )
    return name


def _mapping_of(what: str, example: str) -> Any:
    """A check that runs before the mapping's own validation, to name the shape expected."""

    def check(value: Any) -> Any:
        if value is not None and not isinstance(value, dict):
            raise invalid(f"must be a mapping of {what}, not {_describe(value)}", f"write it like {example}")
        return value

    return check


# tenrec.yml `overrides`: {all: {SECTION: {OPTION: VALUE}}, SERVICE: {FILE: {SECTION: {OPTION: VALUE}}}}
_FILE_FIRST = "`nova: {nova.conf: {DEFAULT: {debug: true}}}` (under a service the file comes first)"
_Options = dict[Annotated[Any, AfterValidator(_check_option_name)], Annotated[Any, AfterValidator(_check_option_value)]]
_SectionName = Annotated[Any, AfterValidator(_check_section_name)]
Sections = Annotated[
    dict[_SectionName, Annotated[_Options | None, BeforeValidator(_mapping_of("options", "`DEFAULT: {debug: true}`"))]],
    BeforeValidator(_mapping_of("sections", "`all: {DEFAULT: {debug: true}}`")),
]
Files = Annotated[
    dict[
        Annotated[Any, AfterValidator(_check_file_name)],
        Annotated[
            dict[_SectionName, Annotated[_Options | None, BeforeValidator(_mapping_of("options", _FILE_FIRST))]] | None,
            BeforeValidator(_mapping_of("sections", _FILE_FIRST)),
        ],
    ],
    BeforeValidator(_mapping_of("config files", _FILE_FIRST)),
]


def _check_setting_name(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Z][A-Z0-9_]*", value):
        raise invalid(
            f"{_describe(value)} is not a Django setting name",
            "write it as Horizon's settings spell it, upper case: `horizon: {SESSION_TIMEOUT: 7200}`",
        )
    return value


def _check_setting_value(value: Any, where: str = "the value") -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise invalid(f"{where} has the key {_describe(key)}", "give mapping keys as text (quote them)")
            _check_setting_value(item, where)
    elif isinstance(value, list):
        for item in value:
            _check_setting_value(item, where)
    elif value is not None and not isinstance(value, str | int | float | bool):
        raise invalid(
            f"{where} holds {_describe(value)}",
            "give text, numbers, true/false, null, or lists and mappings of those",
        )
    return value


# tenrec.yml `overrides: {horizon: {SETTING: value}}`: Django settings after tenrec's own.
DashboardSettings = Annotated[
    dict[Annotated[Any, AfterValidator(_check_setting_name)], Annotated[Any, AfterValidator(_check_setting_value)]],
    BeforeValidator(_mapping_of("Django settings", "`horizon: {SESSION_TIMEOUT: 7200}`")),
]

Address = Annotated[str, AfterValidator(_check_address)]
Cidr = Annotated[str, AfterValidator(_check_cidr)]
HostName = Annotated[str, AfterValidator(_check_hostname)]
InterfaceName = Annotated[str, AfterValidator(_check_ifname)]
Release = Annotated[str, AfterValidator(_check_release)]
Role = Literal["controller", "network", "compute", "storage"]
NfsShare = Annotated[str, AfterValidator(_check_nfs_share)]
BlockDevice = Annotated[str, AfterValidator(_check_device)]
VolumeGroup = Annotated[str, AfterValidator(_check_volume_group)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Network(Strict):
    cidr: Cidr
    gateway: Address | None = None


class ExternalNetwork(Network):
    """The provider network behind floating IPs, reached through an OVS bridge."""

    bridge: InterfaceName = "br-ex"
    interface: InterfaceName | None = None
    # No uplink: the network node holds the gateway address on the bridge and masquerades the
    # network's traffic out of its own default route (a single-NIC host keeps its interface).
    nat: bool = False
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


class ConfigOverrides(Strict):
    """Layers over the service roles' config files: `all` goes into each service's main file."""

    all: Sections | None = None
    keystone: Files | None = None
    glance: Files | None = None
    placement: Files | None = None
    nova: Files | None = None
    neutron: Files | None = None
    cinder: Files | None = None
    swift: Files | None = None
    horizon: DashboardSettings | None = None  # Python settings, not INI files
    heat: Files | None = None
    ceilometer: Files | None = None
    gnocchi: Files | None = None

    def layers(self) -> dict[str, Any]:
        """The layers given, as playbooks read them (null options stay: they remove)."""
        return {name: value for name, value in self if value is not None}


class Node(Strict):
    name: HostName
    address: Address
    roles: Annotated[list[Role], Field(min_length=1), AfterValidator(_check_roles)]
    tunnel_address: Address | None = None
    storage_address: Address | None = None
    external_interface: InterfaceName | None = None
    # Block devices of Cinder's LVM volume group on a storage node; none: a backing file.
    volume_devices: list[BlockDevice] = Field(default_factory=list)
    # Swift's disks on a storage node (formatted XFS by the deploy); none: a loop-mounted file.
    object_devices: list[BlockDevice] = Field(default_factory=list)
    # Swift's failure domain; none: each storage node is its own zone (1, 2, ... in node order).
    zone: Annotated[int, Field(ge=1, le=100)] | None = None
    ssh_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    # local: this node is the machine tenrec runs on (tenrec install), reached without SSH.
    connection: Literal["ssh", "local"] = "ssh"
    overrides: ConfigOverrides | None = None


class Options(Strict):
    virt_type: Literal["auto", "kvm", "qemu"] = "auto"
    ovs_datapath: Literal["auto", "system", "netdev"] = "auto"
    # Per storage node: lvm where the kernel has device-mapper, else nfs (volumes.nfs_shares).
    volume_backend: Literal["auto", "lvm", "nfs"] = "auto"
    iscsi_target: Literal["auto", "tgt", "lio"] = "auto"
    ntp_servers: list[str] = Field(default_factory=lambda: ["0.debian.pool.ntp.org", "1.debian.pool.ntp.org"])


class Volumes(Strict):
    """Cinder's backends: an LVM volume group on each storage node, or NFS shares."""

    volume_group: VolumeGroup = "cinder-volumes"
    # The volume group's size on a storage node without volume_devices (a sparse file).
    backing_file_gb: Annotated[int, Field(ge=1, le=65536)] = 20
    nfs_shares: list[NfsShare] = Field(default_factory=list)
    # Passed to mount -o by cinder-volume and nova-compute; none: the client's defaults.
    nfs_mount_options: Annotated[str, Field(pattern=r"^[A-Za-z0-9_=.,:/-]+$")] | None = None


class ObjectStorage(Strict):
    """Swift's rings (built by tenrec, kept in .tenrec/swift) and its devices."""

    # 2**part_power partitions per ring: about 100 per device of the largest cloud planned.
    part_power: Annotated[int, Field(ge=6, le=22)] = 10
    # Copies of each object; none: min(3, number of zones).
    replicas: Annotated[int, Field(ge=1, le=6)] | None = None
    # A partition moves at most once in this many hours: one replica at a time.
    min_part_hours: Annotated[int, Field(ge=0, le=168)] = 1
    # The file a storage node without object_devices stores objects in (sparse, XFS).
    loop_file_gb: Annotated[int, Field(ge=1, le=65536)] = 10


class Telemetry(Strict):
    """Ceilometer's polling (services.ceilometer) into Gnocchi (services.gnocchi)."""

    # Seconds between two polls of the guests and of the APIs: upstream's 300 matches the
    # 5-minute granularity of the default archive policy (ceilometer-low).
    polling_interval: Annotated[int, Field(ge=10, le=3600)] = 300


class Services(Strict):
    """Optional services; keystone, glance, placement, nova and neutron are always on."""

    cinder: bool = True
    swift: bool = True
    horizon: bool = True
    heat: bool = False
    ceilometer: bool = False
    gnocchi: bool = False


def _check_ca_file(value: str) -> str:
    path = Path(value).expanduser()
    if not path.is_absolute():
        raise invalid(f"'{value}' is a relative path", "give the absolute path of the PEM file on this machine")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise invalid(f"cannot read '{value}': {error.strerror}", "give a readable PEM file on this machine") from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise invalid(f"'{value}' holds no PEM certificate", "give a file with -----BEGIN CERTIFICATE----- blocks")
    return str(path)


CaFile = Annotated[str, AfterValidator(_check_ca_file)]


class Deployment(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")] = "tenrec"
    release: Release = DEFAULT_RELEASE
    ssh: SshSettings = SshSettings()
    networks: Networks
    public_endpoint: Annotated[str, AfterValidator(_check_endpoint)] | None = None
    nodes: Annotated[list[Node], Field(min_length=1)]
    options: Options = Options()
    volumes: Volumes = Volumes()
    object_storage: ObjectStorage = ObjectStorage()
    services: Services = Services()
    telemetry: Telemetry = Telemetry()
    overrides: ConfigOverrides | None = None
    # CAs the nodes must trust besides Debian's, e.g. a TLS-intercepting proxy's toward PyPI.
    ca_certificates: list[CaFile] = Field(default_factory=list)

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
