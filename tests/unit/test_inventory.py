"""The generated inventory carries what the model decided, and only that."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import yaml

from tenrec.config import load_config
from tenrec.inventory import write_inventory
from tenrec.paths import StateDir
from tenrec.secrets import ensure_secrets

REPO = Path(__file__).resolve().parents[2]


def generate(tmp_path: Path, sample: str) -> tuple[dict, dict, StateDir]:
    config = load_config(REPO / "inventory" / sample / "tenrec.yml")
    state = StateDir(tmp_path / ".tenrec")
    state.create()
    ensure_secrets(state.secrets)
    root = write_inventory(config, state, source="test")
    hosts = yaml.safe_load((root / "hosts.yml").read_text())
    group = yaml.safe_load((root / "group_vars/all/tenrec.yml").read_text())
    return hosts, group, state


def test_groups_follow_roles(tmp_path):
    hosts, _, _ = generate(tmp_path, "multinode")
    children = hosts["all"]["children"]
    assert set(children["controller"]["hosts"]) == {"ctl1"}
    assert set(children["network"]["hosts"]) == {"net1"}
    assert set(children["compute"]["hosts"]) == {"cmp1", "cmp2"}
    assert set(children["storage"]["hosts"]) == {"sto1"}


def test_all_in_one_node_is_in_every_group(tmp_path):
    hosts, _, _ = generate(tmp_path, "aio")
    for group in ("controller", "network", "compute", "storage"):
        assert set(hosts["all"]["children"][group]["hosts"]) == {"cloud1"}


def test_host_vars(tmp_path):
    hosts, _, _ = generate(tmp_path, "multinode")
    cmp1 = hosts["all"]["hosts"]["cmp1"]
    assert cmp1["ansible_host"] == "192.0.2.31"
    assert cmp1["ansible_user"] == "debian" and cmp1["ansible_become"] is True
    assert cmp1["tenrec_tunnel_address"] == "203.0.113.31"
    assert cmp1["tenrec_storage_address"] == "203.0.113.95"
    assert cmp1["ansible_ssh_private_key_file"] == os.path.expanduser("~/.ssh/tenrec_ed25519")
    assert "tenrec_external_interface" not in cmp1  # only network nodes plug the provider bridge
    assert hosts["all"]["hosts"]["net1"]["tenrec_external_interface"] == "eno2"
    # Undeclared per-node addresses fall back to the management address.
    assert hosts["all"]["hosts"]["ctl1"]["tenrec_tunnel_address"] == "192.0.2.10"


def test_group_vars_carry_decisions(tmp_path):
    _, group, _ = generate(tmp_path, "aio")
    assert group["tenrec_release"] == "2026.2"
    assert group["tenrec_public_endpoint"] == "192.0.2.10"
    # aio declares no tunnel or storage network: they share the management network.
    assert group["tenrec_networks"]["tunnel"] == group["tenrec_networks"]["management"]
    assert group["tenrec_options"]["virt_type"] == "auto"
    assert group["tenrec_services"] == ["cinder", "swift", "horizon"]
    assert "ansible_ssh_common_args" not in group  # host keys are verified off the lab


def test_secrets_linked_not_copied(tmp_path):
    _, _, state = generate(tmp_path, "aio")
    link = state.inventory / "group_vars/all/secrets.yml"
    assert link.is_symlink()
    assert link.resolve() == state.secrets.resolve()
    assert stat.S_IMODE(state.root.stat().st_mode) == 0o700


def test_regeneration_leaves_unchanged_files_alone(tmp_path):
    _, _, state = generate(tmp_path, "aio")
    hosts_file = state.inventory / "hosts.yml"
    before = hosts_file.stat().st_mtime_ns
    config = load_config(REPO / "inventory/aio/tenrec.yml")
    write_inventory(config, state, source="test")
    assert hosts_file.stat().st_mtime_ns == before
