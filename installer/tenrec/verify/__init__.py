"""`tenrec verify`: checks against the deployed cloud, one row each, cleaned up afterwards.

A service adds its checks in a module of this package holding a Family (the tenrec
service it belongs to, its catalog service types, its checks) and one line in FAMILIES.
"""

from __future__ import annotations

from collections.abc import Sequence

from tenrec.config import Deployment
from tenrec.verify import (
    compute,
    dashboard,
    identity,
    image,
    network,
    objects,
    orchestration,
    placement,
    telemetry,
    volume,
)
from tenrec.verify.core import Check, Context, Family, Outcome, Row, SelectionError, run, select

__all__ = [
    "ALWAYS_DEPLOYED",
    "FAMILIES",
    "Check",
    "Context",
    "Family",
    "Outcome",
    "Row",
    "SelectionError",
    "deployed_services",
    "registry",
    "run",
    "select",
]

# The services every deployment has (the config's `services` adds the optional ones).
ALWAYS_DEPLOYED: tuple[str, ...] = ("keystone", "glance", "placement", "nova", "neutron")

# In run order; identity comes first: everything else needs its token. network before
# compute: the guest compute/boot starts needs network/tenant's network; orchestration after
# compute: its stack boots compute/boot's image; dashboard before compute: compute's
# dashboard/instances needs dashboard/login; telemetry before compute: compute's
# telemetry/instance needs telemetry/status.
FAMILIES: tuple[Family, ...] = (
    identity.FAMILY,
    image.FAMILY,
    placement.FAMILY,
    network.FAMILY,
    volume.FAMILY,
    objects.FAMILY,
    dashboard.FAMILY,
    telemetry.FAMILY,
    compute.FAMILY,
    orchestration.FAMILY,
)


def deployed_services(config: Deployment) -> list[str]:
    return [*ALWAYS_DEPLOYED, *config.enabled_services()]


def registry(families: Sequence[Family] = FAMILIES) -> list[Check]:
    """Every check in run order: identity's own, each service type's endpoints, then each family's checks."""
    first, *rest = families
    checks = list(first.checks)
    checks += [identity.endpoints_check(kind, family.service) for family in families for kind in family.catalog]
    for family in rest:
        checks += family.checks
    return checks
