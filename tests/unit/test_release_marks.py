"""The release mark of a node and the precheck's judgement of it (plugins/modules/node_probe.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "collections"))

from ansible_collections.tenrec.cloud.plugins.modules import node_probe


def test_a_node_never_deployed_or_at_the_configs_release_is_fine():
    assert node_probe.release_problem(None, "2026.2", "") is None
    assert node_probe.release_problem("2026.2", "2026.2", "") is None


def test_a_deploy_of_a_newer_release_points_to_the_upgrade():
    problem = node_probe.release_problem("2026.1", "2026.2", "")
    assert problem == (
        "runs OpenStack 2026.1 and the config says release 2026.2: a deploy does not change releases; "
        "upgrade with `tenrec upgrade --to 2026.2`"
    )


def test_a_deploy_of_an_older_release_names_the_release_to_set_and_the_rollback():
    problem = node_probe.release_problem("2026.2", "2026.1", "")
    assert problem is not None
    assert "set release: '2026.2'" in problem
    assert "tenrec rollback" in problem


def test_during_an_upgrade_or_rollback_both_releases_are_accepted():
    assert node_probe.release_problem("2026.1", "2026.2", "2026.1") is None
    assert node_probe.release_problem("2026.2", "2026.1", "2026.2") is None


def test_the_mark_is_read_stripped_and_missing_means_never_deployed(tmp_path, monkeypatch):
    mark = tmp_path / "release"
    monkeypatch.setattr(node_probe, "RELEASE_MARK", str(mark))
    assert node_probe.deployed_release() is None
    mark.write_text("2026.1\n")
    assert node_probe.deployed_release() == "2026.1"


def test_the_upgrade_record_is_read_and_a_broken_one_is_none(tmp_path, monkeypatch):
    record = tmp_path / "upgrade.json"
    monkeypatch.setattr(node_probe, "UPGRADE_RECORD", str(record))
    assert node_probe.upgrade_record() is None
    record.write_text('{"from": "2026.1", "to": "2026.2"}')
    assert node_probe.upgrade_record() == {"from": "2026.1", "to": "2026.2"}
    record.write_text("{half")
    assert node_probe.upgrade_record() is None
