"""What `tenrec deploy --only` and `--limit` may name, checked before any node is touched."""

from __future__ import annotations

from dataclasses import dataclass

from tenrec.config import Deployment

# The roles site.yml tags, in deploy order. --only SERVICE runs the precheck (always), the
# facts later roles read (always), and the tagged role on the hosts that run it.
INFRASTRUCTURE = ("common", "mariadb", "rabbitmq", "memcached", "openvswitch", "libvirt", "iscsi_target")
MACHINERY = ("wheel_repository",)
SERVICES = (
    "keystone",
    "glance",
    "placement",
    "neutron",
    "nova",
    "cinder",
    "swift",
    "heat",
    "gnocchi",
    "ceilometer",
    "horizon",
)
DEPLOYABLE = INFRASTRUCTURE + MACHINERY + SERVICES
GROUPS = ("controller", "network", "compute", "storage")


@dataclass(frozen=True)
class Problem:
    option: str
    message: str
    fix: str


def parse_list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def check_only(names: list[str], config: Deployment) -> list[Problem]:
    problems = []
    optional = set(config.services.model_dump())
    enabled = set(config.enabled_services())
    for name in names:
        if name in DEPLOYABLE and (name not in optional or name in enabled):
            continue
        if name in DEPLOYABLE:
            problems.append(Problem("--only", f"{name!r} is off in this config", f"set services.{name}: true first"))
            continue
        message = f"{name!r} is not a service or role of a deployment"
        problems.append(Problem("--only", message, f"use one or more of: {', '.join(DEPLOYABLE)}"))
    return problems


def check_limit(names: list[str], config: Deployment) -> list[Problem]:
    nodes = [node.name for node in config.nodes]
    return [
        Problem(
            "--limit",
            f"{name!r} is neither a node nor a role of this deployment",
            f"use node names ({', '.join(nodes)}) or roles ({', '.join(GROUPS)}), separated by commas",
        )
        for name in names
        if name not in nodes and name not in GROUPS
    ]
