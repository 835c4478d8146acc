"""Telemetry: Gnocchi stores, metricd processes, and Ceilometer's samples arrive.

telemetry/status asks Gnocchi's status API for its metricd processors and backlog, and finds
the resource types that ceilometer-upgrade makes. telemetry/instance runs
while compute/boot's server exists: within a polling interval (plus processing) the compute
agent's cpu and memory measures of that server are in Gnocchi. telemetry/image finds the
image that image/upload made as a Gnocchi resource with its image.size measures, which come
from Glance's upload notification through the notification agent.
"""

from __future__ import annotations

import time
from typing import Any

from tenrec.verify.core import Check, CheckFailed, Context, Family, SkipCheck, one_line
from tenrec.verify.identity import TOKEN
from tenrec.verify.patience import scaled

SERVICE = "gnocchi"
AGENTS = "ceilometer"
STATUS = "telemetry/status"
INSTANCE = "telemetry/instance"
IMAGE = "telemetry/image"

METRIC = {"service_type": "metric", "interface": "public"}
RESOURCE_TYPES = ("instance", "image", "volume")
CPU_METERS = ("cpu",)
MEMORY_METERS = ("memory.usage", "memory.resident", "memory")
# Upstream's polling interval, when the check runs against a cloud without tenrec's config.
DEFAULT_POLLING_INTERVAL = 300
# The promise: measures within 10 minutes of a boot, whatever the interval.
MAX_WAIT = 600
# metricd's pass (30 s) and the notification agent's batching, on a busy controller.
PROCESSING_SLACK = 120
NOTIFICATION_TIMEOUT = 180
INTERVAL = 5


def gnocchi_get(ctx: Context, path: str) -> Any:
    """GET on Gnocchi's API as the operator; its JSON, or None on 404."""
    try:
        answer = ctx.conn.session.get(path, endpoint_filter=METRIC, raise_exc=False)
    except Exception as error:  # no endpoint, a refused connection: this row's failure
        if "endpoint" in str(error).lower() and "not found" in str(error).lower():
            raise SkipCheck("the catalog has no metric endpoint") from None
        raise CheckFailed(f"GET {path}: {one_line(str(error), 200)}") from None
    if answer.status_code == 404:
        return None
    if answer.status_code != 200:
        raise CheckFailed(f"GET {path}: HTTP {answer.status_code} {one_line(answer.text, 200)}")
    return answer.json()


def status(ctx: Context) -> str:
    found = gnocchi_get(ctx, "/v1/status?details=false")
    if found is None:
        raise CheckFailed("GET /v1/status: HTTP 404")
    if AGENTS not in ctx_services(ctx):
        return judge_status(found)
    types = {kind.get("name") for kind in gnocchi_get(ctx, "/v1/resource_type") or []}
    return judge_status(found, types)


def judge_status(found: dict[str, Any], types: set[str] | None = None) -> str:
    """The row's detail from Gnocchi's status; with types (Gnocchi's resource types), also
    those ceilometer-upgrade must have made. (Ceilometer's archive policies are made by its
    publisher on its first batch, not by ceilometer-upgrade.)"""
    processors = (found.get("metricd") or {}).get("processors")
    if processors == []:
        raise CheckFailed("Gnocchi reports no metricd processor: gnocchi-metricd is not running")
    summary = (found.get("storage") or {}).get("summary") or {}
    backlog = f"backlog {summary.get('measures', 0)} measure(s) of {summary.get('metrics', 0)} metric(s)"
    # null: the coordination backend keeps no group membership (tooz's MySQL driver, which
    # Gnocchi uses by default; tenrec configures the file driver), so no list of processes.
    members = f"{len(processors)} metricd processor(s)" if processors else "metricd membership not reported"
    detail = f"{members}; {backlog}"
    if types is None:
        return detail
    missing = [name for name in RESOURCE_TYPES if name not in types]
    if missing:
        raise CheckFailed(f"{detail}; ceilometer-upgrade has not made the resource types {', '.join(missing)}")
    return f"{detail}; ceilometer's resource types exist ({len(types)} types)"


def ctx_services(ctx: Context) -> list[str]:
    from tenrec.verify import deployed_services  # noqa: PLC0415 (the package imports this module)

    return deployed_services(ctx.config) if ctx.config is not None else [SERVICE, AGENTS]


def polling_interval(ctx: Context) -> int:
    return ctx.config.telemetry.polling_interval if ctx.config is not None else DEFAULT_POLLING_INTERVAL


def measured(ctx: Context, kind: str, resource_id: str, meters: tuple[str, ...]) -> dict[str, int]:
    """Meter name to its number of measures, for those of meters the resource has measures of.
    refresh=true makes Gnocchi aggregate what metricd has not processed yet."""
    resource = gnocchi_get(ctx, f"/v1/resource/{kind}/{resource_id}")
    if resource is None:
        return {}
    counts = {}
    for meter in meters:
        metric_id = (resource.get("metrics") or {}).get(meter)
        if metric_id is None:
            continue
        points = gnocchi_get(ctx, f"/v1/metric/{metric_id}/measures?refresh=true") or []
        if points:
            counts[meter] = len(points)
    return counts


def lacking_groups(counts: dict[str, int], groups: dict[str, tuple[str, ...]]) -> list[str]:
    """The groups none of whose meters has measures yet."""
    return [group for group, meters in groups.items() if not any(counts.get(meter) for meter in meters)]


def wait_for_measures(
    ctx: Context, kind: str, resource_id: str, groups: dict[str, tuple[str, ...]], timeout: float
) -> tuple[dict[str, int], float]:
    """Poll until the resource has measures of one meter of each group; (counts, seconds)."""
    timeout = scaled(timeout)
    started = time.monotonic()
    every = tuple(meter for meters in groups.values() for meter in meters)
    while True:
        counts = measured(ctx, kind, resource_id, every)
        lacking = lacking_groups(counts, groups)
        if not lacking:
            return counts, time.monotonic() - started
        if time.monotonic() - started > timeout:
            have = ", ".join(f"{meter} ({n})" for meter, n in counts.items()) or "none"
            raise CheckFailed(
                f"{kind} {resource_id}: no {' or '.join(lacking)} measures in Gnocchi after {timeout:.0f} s "
                f"(measures of: {have})"
            )
        time.sleep(INTERVAL)


def instance(ctx: Context) -> str:
    from tenrec.verify import compute  # noqa: PLC0415 (compute's family imports this module)

    booted = ctx.scratch[compute.SERVER_KEY]
    interval = polling_interval(ctx)
    timeout = min(MAX_WAIT, interval + PROCESSING_SLACK)
    counts, waited = wait_for_measures(
        ctx, "instance", booted.server.id, {"cpu": CPU_METERS, "memory": MEMORY_METERS}, timeout
    )
    shown = ", ".join(f"{meter} {n}" for meter, n in sorted(counts.items()))
    return f"{booted.name}: measures of {shown} (polled every {interval} s; found after {waited:.0f}s more)"


def image(ctx: Context) -> str:
    from tenrec.verify import image as image_checks  # noqa: PLC0415

    uploaded = ctx.scratch[image_checks.UPLOADED_KEY]
    counts, waited = wait_for_measures(ctx, "image", uploaded.id, {"image.size": ("image.size",)}, NOTIFICATION_TIMEOUT)
    found = counts["image.size"]
    return f"{uploaded.name}: a Gnocchi image resource with {found} image.size measure(s) after {waited:.0f}s"


INSTANCE_CHECK = Check(INSTANCE, AGENTS, instance, needs=(STATUS, "compute/boot"))

FAMILY = Family(
    SERVICE,
    ("metric",),
    (
        Check(STATUS, SERVICE, status, needs=(TOKEN,)),
        Check(IMAGE, AGENTS, image, needs=(STATUS, "image/upload")),
    ),
)
