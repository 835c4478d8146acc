"""The precheck's choice of iSCSI target (plugins/modules/node_probe.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "collections"))

from ansible_collections.tenrec.cloud.plugins.modules import node_probe


def test_auto_picks_lio_where_the_kernel_has_it_else_tgt():
    assert node_probe.choose_iscsi_target("auto", True, None) == "lio"
    assert node_probe.choose_iscsi_target("auto", False, None) == "tgt"


def test_auto_keeps_the_target_that_serves_the_nodes_volumes():
    # A node deployed with tgt keeps it when its kernel gains LIO: a switch drops every export.
    assert node_probe.choose_iscsi_target("auto", True, "tgt") == "tgt"
    assert node_probe.choose_iscsi_target("auto", False, "lio") == "lio"


def test_an_explicit_choice_wins():
    assert node_probe.choose_iscsi_target("tgt", True, "lio") == "tgt"
    assert node_probe.choose_iscsi_target("lio", False, None) == "lio"  # the probe then reports the problem


def test_the_target_in_use_is_read_from_cinder_conf(tmp_path: Path):
    conf = tmp_path / "cinder.conf"
    assert node_probe.iscsi_target_in_use(str(conf)) is None  # not deployed
    conf.write_text("[DEFAULT]\nenabled_backends = lvm\n\n[lvm]\nvolume_driver = x\ntarget_helper = lioadm\n")
    assert node_probe.iscsi_target_in_use(str(conf)) == "lio"
    conf.write_text("[lvm]\ntarget_helper = tgtadm\n")
    assert node_probe.iscsi_target_in_use(str(conf)) == "tgt"
    conf.write_text("[nfs]\nvolume_driver = cinder.volume.drivers.nfs.NfsDriver\n")
    assert node_probe.iscsi_target_in_use(str(conf)) is None
    conf.write_text("not an ini file [\n")
    assert node_probe.iscsi_target_in_use(str(conf)) is None
