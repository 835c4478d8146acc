"""The generated inventory carries what the model decided, and only that."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import yaml

from tenrec.config import load_config
from tenrec.config.model import Deployment
from tenrec.inventory import write_inventory
from tenrec.paths import StateDir
from tenrec.secrets import ensure_secrets
from tests.ansible_local import run_json

REPO = Path(__file__).resolve().parents[2]


def generate(tmp_path: Path, sample: str) -> tuple[dict, dict, StateDir]:
    return written(load_config(REPO / "inventory" / sample / "tenrec.yml"), tmp_path)


def written(config: Deployment, tmp_path: Path) -> tuple[dict, dict, StateDir]:
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


def generate_with(tmp_path: Path, sample: str, edit) -> tuple[dict, dict, StateDir]:
    """Like generate(), for the sample config changed by edit(data)."""
    data = yaml.safe_load((REPO / "inventory" / sample / "tenrec.yml").read_text())
    edit(data)
    path = tmp_path / "tenrec.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return written(load_config(path), tmp_path)


def with_overrides(data: dict) -> None:
    data["overrides"] = {
        "all": {"DEFAULT": {"debug": True, "log_dir": None}},
        "keystone": {"keystone.conf": {"token": {"expiration": 7200}}},
    }
    for node in data["nodes"]:
        if node["name"] == "cmp2":
            node["overrides"] = {"nova": {"nova.conf": {"libvirt": {"cpu_mode": "host-passthrough"}}}}


def test_config_overrides_are_always_in_group_vars(tmp_path):
    _, group, _ = generate(tmp_path, "aio")
    assert group["tenrec_config_overrides"] == {}


def test_overrides_reach_group_and_host_vars(tmp_path):
    hosts, group, _ = generate_with(tmp_path, "multinode", with_overrides)
    assert group["tenrec_config_overrides"] == {
        "all": {"DEFAULT": {"debug": True, "log_dir": None}},  # null stays: it removes the option
        "keystone": {"keystone.conf": {"token": {"expiration": 7200}}},
    }
    nodes = hosts["all"]["hosts"]
    assert nodes["cmp2"]["tenrec_host_config_overrides"] == {
        "nova": {"nova.conf": {"libvirt": {"cpu_mode": "host-passthrough"}}}
    }
    # Only nodes with overrides get the variable; the others use the role default ({}).
    assert [name for name, node in nodes.items() if "tenrec_host_config_overrides" in node] == ["cmp2"]


def test_empty_node_overrides_write_nothing(tmp_path):
    def edit(data: dict) -> None:
        data["nodes"][0]["overrides"] = {"nova": None}

    hosts, _, _ = generate_with(tmp_path, "aio", edit)
    assert "tenrec_host_config_overrides" not in hosts["all"]["hosts"]["cloud1"]


def test_ansible_layers_the_generated_overrides(tmp_path):
    """tenrec.yml -> inventory -> Ansible variables -> tenrec.cloud.layer_config, per host."""
    _, _, state = generate_with(tmp_path, "multinode", with_overrides)
    role = {"nova.conf": {"DEFAULT": {"debug": False, "log_dir": "/var/log/nova"}, "libvirt": {"cpu_mode": "none"}}}
    (tmp_path / "role.json").write_text(json.dumps({"role_config": role}))
    expression = (
        "role_config | tenrec.cloud.layer_config('nova', 'nova.conf', tenrec_config_overrides,"
        " tenrec_host_config_overrides | default({}))"
    )
    # debug runs on the controller: no node is contacted.
    task = ["-m", "ansible.builtin.debug", "-a", f"msg={{{{ {expression} }}}}"]
    args = ["cmp1:cmp2", "-i", str(state.inventory), "-e", f"@{tmp_path / 'role.json'}", *task]
    result = run_json("ansible", args, tmp_path / "ansible-home")
    results = result["plays"][0]["tasks"][0]["hosts"]
    assert results["cmp1"]["msg"] == {"nova.conf": {"DEFAULT": {"debug": True}, "libvirt": {"cpu_mode": "none"}}}
    assert results["cmp2"]["msg"] == {
        "nova.conf": {"DEFAULT": {"debug": True}, "libvirt": {"cpu_mode": "host-passthrough"}}
    }


def test_ca_certificates_and_state_dir_in_group_vars(tmp_path):
    pem = tmp_path / "proxy.crt"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    _, group, state = generate_with(tmp_path, "aio", lambda data: data.update(ca_certificates=[str(pem)]))
    assert group["tenrec_ca_certificate_files"] == [str(pem)]
    assert group["tenrec_state_dir"] == str(state.root)


def test_swift_devices_and_ring_devices(tmp_path):
    data = yaml.safe_load((REPO / "inventory/multinode/tenrec.yml").read_text())
    storage = next(node for node in data["nodes"] if "storage" in node["roles"])
    second = {**storage, "name": "sto2", "address": "192.0.2.52", "object_devices": ["/dev/sdb", "/dev/sdc"]}
    second.pop("storage_address", None)
    data["nodes"].append(second | {"zone": 7})
    hosts, group, _ = written(Deployment.model_validate(data), tmp_path)
    sto1, sto2 = hosts["all"]["hosts"]["sto1"], hosts["all"]["hosts"]["sto2"]
    # No object_devices: one loop-mounted file.
    assert sto1["tenrec_swift_devices"] == [{"name": "file1", "file": True}]
    assert sto2["tenrec_swift_devices"] == [{"name": "sdb", "path": "/dev/sdb"}, {"name": "sdc", "path": "/dev/sdc"}]
    assert "tenrec_swift_devices" not in hosts["all"]["hosts"]["cmp1"]
    # Each storage node its own zone (in node order) unless the config says; the storage address.
    assert group["tenrec_object_storage"]["ring_devices"] == [
        {"ip": sto1["tenrec_storage_address"], "zone": 1, "device": "file1"},
        {"ip": "192.0.2.52", "zone": 7, "device": "sdb"},
        {"ip": "192.0.2.52", "zone": 7, "device": "sdc"},
    ]
    assert group["tenrec_object_storage"]["part_power"] == 10
