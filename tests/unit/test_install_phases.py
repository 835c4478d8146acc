"""tenrec install's plan, journal, and the config parts it relies on (NAT-ed external network,
a node reached without SSH)."""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from rich.console import Console

from tenrec.config import load_text
from tenrec.config.load import validate
from tenrec.install.journal import PHASES, Journal, fingerprint, tree_fingerprint
from tenrec.install.plan import InstallChoices, PlanError, plan_for
from tenrec.install.probe import Disk, HostFacts, spare_disks
from tenrec.install.run import Install, InstallRequest
from tenrec.inventory import host_vars

FEATURES = {"openvswitch": False, "device_mapper": False, "lio_target": False, "iscsi_initiator": False}


def host(**changes) -> HostFacts:
    facts = HostFacts(
        hostname="Node-7.example.org",
        interface="eth0",
        address="192.0.2.15",
        prefixlen=24,
        gateway="192.0.2.1",
        dns=["192.0.2.53"],
        memory_mb=16384,
        cpus=8,
        disk_free_gb=200.0,
        container="",
        kvm_usable=True,
        kvm_reason="ok",
        kernel_features=dict(FEATURES),
        routes=["192.0.2.0/24", "172.24.4.0/24"],
    )
    for key, value in changes.items():
        setattr(facts, key, value)
    return facts


def planned(facts: HostFacts, **choices) -> dict:
    plan = plan_for(facts, InstallChoices(**choices), ntp_ok=True)
    # What is written is a valid config as an operator would write it.
    config = load_text(plan.yaml(), "plan")
    assert config.nodes[0].connection == "local"
    return yaml.safe_load(plan.yaml())


def test_the_plan_keeps_the_hosts_only_interface_and_nats_floating_ips():
    config = planned(host())
    external = config["networks"]["external"]
    # 172.24.4.0/24 is taken on this host: the next free /24.
    assert external == {"cidr": "172.24.5.0/24", "gateway": "172.24.5.1", "nat": True}
    assert "interface" not in external
    assert config["networks"]["management"] == {"cidr": "192.0.2.0/24", "gateway": "192.0.2.1"}
    node = config["nodes"][0]
    assert (node["name"], node["address"]) == ("node-7", "192.0.2.15")
    assert node["roles"] == ["controller", "network", "compute", "storage"]


def test_spare_disks_take_volumes_with_lvm_then_objects():
    disks = [Disk("/dev/sdb", 100), Disk("/dev/sdc", 50)]
    config = planned(host(spare_disks=disks, kernel_features=FEATURES | {"device_mapper": True}))
    node = config["nodes"][0]
    assert (node["volume_devices"], node["object_devices"]) == (["/dev/sdb"], ["/dev/sdc"])


def test_without_device_mapper_cinder_takes_the_nfs_share_given_or_is_off_saying_why():
    with_share = planned(host(), nfs_shares=["nas1:/export/cinder"])
    assert with_share["volumes"] == {"nfs_shares": ["nas1:/export/cinder"]}
    plan = plan_for(host(), InstallChoices(), ntp_ok=True)
    assert yaml.safe_load(plan.yaml())["services"]["cinder"] is False
    assert any("no device-mapper" in decision for _, decision in plan.rows)
    assert any("--nfs-share" in warning for warning in plan.warnings)


def test_a_container_uses_no_disk_and_an_unreachable_pool_means_the_own_clock():
    plan = plan_for(host(container="podman", spare_disks=[Disk("/dev/sdb", 100)]), InstallChoices(), ntp_ok=False)
    config = yaml.safe_load(plan.yaml())
    assert "object_devices" not in config["nodes"][0]
    assert config["object_storage"]["loop_file_gb"] == 10
    assert config["options"]["ntp_servers"] == []


def test_services_can_be_added_and_removed_and_a_bad_name_is_refused():
    config = planned(host(), enable=["heat", "gnocchi"], disable=["swift"])
    assert config["services"] == {"cinder": False, "swift": False, "heat": True, "ceilometer": True, "gnocchi": True}
    with pytest.raises(PlanError, match="unknown service"):
        plan_for(host(), InstallChoices(enable=["trove"]), ntp_ok=True)
    with pytest.raises(PlanError, match=r"already reaches 172\.24\.4\.0/24"):
        plan_for(host(), InstallChoices(floating_cidr="172.24.4.0/24"), ntp_ok=True)


def test_spare_disks_are_whole_empty_unmounted_disks():
    gib = 1024**3
    lsblk = {
        "blockdevices": [
            {"path": "/dev/sda", "type": "disk", "size": 100 * gib, "children": [{"path": "/dev/sda1"}]},
            {"path": "/dev/sdb", "type": "disk", "size": 100 * gib, "fstype": None, "mountpoints": [None]},
            {"path": "/dev/sdc", "type": "disk", "size": 100 * gib, "fstype": "xfs"},
            {"path": "/dev/sdd", "type": "disk", "size": 4 * gib},
            {"path": "/dev/sr0", "type": "rom", "size": 1 * gib},
            {"path": "/dev/sde", "type": "disk", "size": 100 * gib, "rm": True},
        ]
    }
    assert [disk.path for disk in spare_disks(lsblk)] == ["/dev/sdb"]


BASE = {
    "networks": {
        "management": {"cidr": "192.0.2.0/24"},
        "external": {"cidr": "172.24.4.0/24", "gateway": "172.24.4.1", "nat": True},
    },
    "nodes": [{"name": "aio", "address": "192.0.2.15", "roles": ["controller", "network", "compute", "storage"]}],
    "services": {"cinder": False},
}


def problems(data: dict) -> dict[str, str]:
    model, found = validate(data)
    assert model is None
    return {p.path: p.message for p in found}


def test_a_nat_external_network_needs_a_gateway_one_network_node_and_no_uplink():
    data = copy.deepcopy(BASE)
    assert validate(data)[0] is not None
    del data["networks"]["external"]["gateway"]
    data["networks"]["external"]["interface"] = "eth2"
    data["nodes"].append({"name": "net2", "address": "192.0.2.16", "roles": ["network"]})
    found = problems(data)
    assert "missing" in found["networks.external.gateway"]
    assert "no uplink" in found["networks.external.interface"]
    assert "only one node" in found["networks.external.nat"]


def test_only_one_node_can_be_local_and_it_is_reached_without_ssh():
    data = copy.deepcopy(BASE)
    data["nodes"][0]["connection"] = "local"
    model, _ = validate(data)
    assert model is not None
    found = host_vars(model, model.nodes[0])
    assert found["ansible_connection"] == "local"
    assert found["ansible_python_interpreter"] == "/usr/bin/python3"
    assert "ansible_user" not in found
    data["nodes"].append({"name": "cmp2", "address": "192.0.2.17", "roles": ["compute"], "connection": "local"})
    assert "only one node" in problems(data)["nodes[1].connection"]


def test_the_journal_skips_a_phase_only_with_the_same_inputs_and_redoes_what_follows(tmp_path):
    path = tmp_path / "install-journal.json"
    journal = Journal(path)
    for phase in PHASES:
        journal.finish(phase, 1.0, fingerprint(phase))
    again = Journal(path)
    assert all(again.done(phase, fingerprint(phase)) for phase in PHASES)
    # The config changed: check runs again, and everything after it with it.
    assert again.done("check", fingerprint("edited")) is None
    again.finish("check", 2.0, fingerprint("edited"))
    reread = Journal(path)
    assert reread.done("plan", fingerprint("plan")) is not None
    assert reread.done("check", fingerprint("edited")) is not None
    assert [p for p in PHASES if p in reread.records] == ["plan", "check"]
    assert json.loads(path.read_text())["phases"]["check"]["seconds"] == 2.0


def test_the_deployed_tree_fingerprint_changes_with_any_file(tmp_path):
    (tmp_path / "roles" / "a").mkdir(parents=True)
    (tmp_path / "roles" / "a" / "main.yml").write_text("x: 1\n")
    before = tree_fingerprint(tmp_path, ["roles"])
    (tmp_path / "roles" / "a" / "main.yml").write_text("x: 22\n")
    assert tree_fingerprint(tmp_path, ["roles"]) != before


def test_a_second_run_skips_the_secrets_it_generated_and_redoes_them_when_one_is_gone(tmp_path):
    path = tmp_path / "tenrec.yml"
    data = copy.deepcopy(BASE)
    data["nodes"][0]["connection"] = "local"
    path.write_text(yaml.safe_dump(data))

    def run_phases() -> list[tuple[str, str]]:
        request = InstallRequest(path, path, yes=True, replan=False, plan_only=False, choices=InstallChoices())
        install = Install(request, Console(file=None, quiet=True), Console(quiet=True))
        assert install.plan() == 0
        # check and bootstrap log in to the node and install packages: taken as done here.
        for phase in ("check", "bootstrap"):
            if install.journal.done(phase, fingerprint(install.config_text())) is None:
                install.journal.finish(phase, 0.0, fingerprint(install.config_text()))
        assert install.secrets() == 0
        return [(o.phase, o.result) for o in install.outcomes]

    assert run_phases() == [("plan", "ran"), ("secrets", "ran")]
    assert run_phases() == [("plan", "skipped"), ("secrets", "skipped")]
    secrets_file = tmp_path / ".tenrec" / "secrets.yml"
    values = yaml.safe_load(secrets_file.read_text())
    values["tenrec_secrets"].pop(next(iter(values["tenrec_secrets"])))
    secrets_file.write_text(yaml.safe_dump(values))
    assert run_phases() == [("plan", "skipped"), ("secrets", "ran")]


def test_a_floating_cidr_that_is_no_network_names_the_option_and_the_form():
    with pytest.raises(PlanError, match=r"--floating-cidr 'floating' is not an IPv4 network: give NETWORK/PREFIX"):
        plan_for(host(), InstallChoices(floating_cidr="floating"), ntp_ok=True)


def test_a_bad_nfs_share_is_reported_with_its_field_before_the_plan_is_written(tmp_path, monkeypatch):
    import tenrec.install.plan as plan_module  # noqa: PLC0415
    import tenrec.install.run as run_module  # noqa: PLC0415
    from tenrec.config import ConfigError  # noqa: PLC0415

    monkeypatch.setattr(run_module, "probe_host", host)
    monkeypatch.setattr(plan_module, "ntp_reachable", lambda *_: True)
    path = tmp_path / "tenrec.yml"
    choices = InstallChoices(nfs_shares=["no-colon-here"])
    request = InstallRequest(None, path, yes=True, replan=False, plan_only=False, choices=choices)
    install = Install(request, Console(file=None, quiet=True), Console(quiet=True))
    with pytest.raises(ConfigError) as raised:
        install.plan()
    assert any("nfs_shares" in problem.path for problem in raised.value.problems)
    assert not path.exists()
