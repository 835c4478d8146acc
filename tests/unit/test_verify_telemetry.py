"""verify's telemetry rows: what Gnocchi's answers mean, and where the rows run."""

from __future__ import annotations

import pytest

from tenrec.verify import registry, select
from tenrec.verify.core import CheckFailed
from tenrec.verify.telemetry import (
    CPU_METERS,
    IMAGE,
    INSTANCE,
    MEMORY_METERS,
    STATUS,
    judge_status,
    lacking_groups,
)

# What Gnocchi 4.7's GET /v1/status?details=false answered on the lab.
STATUS_ANSWER = {
    "storage": {"summary": {"metrics": 3, "measures": 12}},
    "metricd": {"processors": ["ctl1.1b8b.3f4e"], "statistics": {}},
}
MADE = {"generic", "instance", "image", "volume", "instance_disk"}


def test_status_counts_processors_and_the_backlog():
    assert judge_status(STATUS_ANSWER) == "1 metricd processor(s); backlog 12 measure(s) of 3 metric(s)"


def test_status_without_a_metricd_processor_fails_naming_metricd():
    with pytest.raises(CheckFailed, match="gnocchi-metricd is not running"):
        judge_status({"storage": {"summary": {}}, "metricd": {"processors": []}})


def test_status_of_a_coordinator_without_membership_is_not_a_failure():
    # What Gnocchi 4.7.1 answers when it coordinates through its MySQL index (its default).
    found = {"storage": {"summary": {"metrics": 0, "measures": 0}}, "metricd": {"processors": None, "statistics": {}}}
    assert judge_status(found) == "metricd membership not reported; backlog 0 measure(s) of 0 metric(s)"


def test_status_with_ceilometer_finds_what_ceilometer_upgrade_makes():
    assert judge_status(STATUS_ANSWER, MADE).endswith("ceilometer's resource types exist (5 types)")


def test_status_names_everything_ceilometer_upgrade_has_not_made():
    with pytest.raises(CheckFailed, match=r"has not made the resource types image, volume"):
        judge_status(STATUS_ANSWER, {"generic", "instance"})


def test_a_group_is_lacking_until_one_of_its_meters_has_measures():
    groups = {"cpu": CPU_METERS, "memory": MEMORY_METERS}
    assert lacking_groups({}, groups) == ["cpu", "memory"]
    assert lacking_groups({"cpu": 2, "memory.usage": 0}, groups) == ["memory"]
    # Older libvirt reports only memory (the flavor's), newer memory.usage: either will do.
    assert lacking_groups({"cpu": 2, "memory": 1}, groups) == []


def test_the_rows_run_where_what_they_look_at_exists():
    checks = select(registry(), ["keystone", "glance", "placement", "nova", "neutron", "gnocchi", "ceilometer"])
    order = [check.name for check in checks]  # select raises on a need that is unknown or later
    needs = {check.name: check.needs for check in checks}
    # The instance row looks at compute/boot's server, so it runs before compute/delete.
    assert order.index("compute/boot") < order.index(INSTANCE) < order.index("compute/delete")
    assert set(needs[INSTANCE]) == {STATUS, "compute/boot"}
    assert order.index("image/upload") < order.index(IMAGE)
    assert set(needs[IMAGE]) == {STATUS, "image/upload"}
    services = {check.name: check.service for check in checks}
    assert services[STATUS] == "gnocchi" and services[INSTANCE] == services[IMAGE] == "ceilometer"
