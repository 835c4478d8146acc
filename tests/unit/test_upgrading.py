"""The upgrade's requests, records and backups as the CLI reads them (tenrec/upgrading.py),
and the downtime probe's counting (tenrec/downtime.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tenrec.config import load_text
from tenrec.downtime import Series
from tenrec.paths import StateDir
from tenrec.upgrading import UpgradeError, UpgradeRecord, restore_release, upgrade_source

CONFIG = {
    "name": "up",
    "networks": {"management": {"cidr": "10.0.0.0/24", "gateway": "10.0.0.1"}},
    "nodes": [{"name": "aio", "address": "10.0.0.5", "roles": ["controller", "network", "compute", "storage"]}],
}


def config(release: str):
    return load_text(yaml.safe_dump(CONFIG | {"release": release}), "up.yml")


def test_an_upgrade_goes_to_the_configs_release_from_the_one_before():
    assert upgrade_source(config("2026.2"), None, Path("up.yml")) == ("2026.1", "2026.2")
    assert upgrade_source(config("2026.2"), "2026.2", Path("up.yml")) == ("2026.1", "2026.2")


def test_to_must_be_the_configs_release_and_the_first_release_has_nothing_before_it():
    with pytest.raises(UpgradeError, match=r"--to 2026\.2, but up\.yml says release '2026\.1': set release: '2026\.2'"):
        upgrade_source(config("2026.1"), "2026.2", Path("up.yml"))
    with pytest.raises(UpgradeError, match="nothing to upgrade from"):
        upgrade_source(config("2026.1"), None, Path("up.yml"))


def test_the_record_copied_to_the_deploy_host_is_read_with_its_backups_copy(tmp_path):
    state = StateDir(tmp_path)
    assert UpgradeRecord.read(state) is None
    (tmp_path / "upgrade.json").write_text(
        json.dumps(
            {
                "from": "2026.1",
                "to": "2026.2",
                "backup": "/var/backups/tenrec/openstack-2026.1-20261206T191600Z.sql.gz",
                "started": "2026-12-06T19:16:00Z",
            }
        )
    )
    record = UpgradeRecord.read(state)
    assert record is not None
    assert (record.source, record.target, record.finished, record.rolled_back) == ("2026.1", "2026.2", None, None)
    assert record.backup_copy(state) == tmp_path / "backups" / "openstack-2026.1-20261206T191600Z.sql.gz"


def test_a_dump_names_its_release_and_another_name_is_refused():
    assert restore_release(Path("/x/openstack-2026.1-20261206T191600Z.sql.gz")) == "2026.1"
    with pytest.raises(UpgradeError, match="not named as `tenrec backup` names its dumps"):
        restore_release(Path("dump.sql"))


def test_the_probe_counts_failed_polls_and_each_outage_with_where_it_began():
    series = Series()
    for ok in [True, False, False, True, False, True, True]:
        series.record(ok)
    assert (series.polls, series.failed, series.longest) == (7, 3, 2)
    assert series.outages == [[1, 2], [4, 1]]
