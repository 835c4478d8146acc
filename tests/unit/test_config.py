"""Every validation rule of the deployment config, and the all-at-once report."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from tenrec.config import ConfigError, load_config, load_text
from tenrec.config.load import validate
from tenrec.config.model import OPENSTACK_SERVICES, OPTIONAL_SERVICES, ConfigOverrides

REPO = Path(__file__).resolve().parents[2]

VALID = {
    "name": "test",
    "release": "2026.2",
    "networks": {
        "management": {"cidr": "192.0.2.0/24", "gateway": "192.0.2.1"},
        "tunnel": {"cidr": "203.0.113.0/26"},
        "external": {"cidr": "198.51.100.0/24", "interface": "eth2"},
    },
    "nodes": [
        {"name": "ctl1", "address": "192.0.2.10", "roles": ["controller"]},
        {"name": "net1", "address": "192.0.2.20", "roles": ["network"], "tunnel_address": "203.0.113.20"},
        {"name": "cmp1", "address": "192.0.2.31", "roles": ["compute"], "tunnel_address": "203.0.113.31"},
        {"name": "sto1", "address": "192.0.2.40", "roles": ["storage"]},
    ],
}


def problems_of(data: dict) -> dict[str, str]:
    model, problems = validate(data)
    assert model is None, "expected problems, got a valid model"
    found: dict[str, str] = {}
    for p in problems:
        found[p.path] = found.get(p.path, "") + f"{p.message} | fix: {p.fix}\n"
    return found


def changed(**edits) -> dict:
    """VALID with edits at dotted paths, e.g. {'nodes.0.address': '...'}; None deletes."""
    data = copy.deepcopy(VALID)
    for dotted, value in edits.items():
        *parents, last = dotted.split("__")
        target = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        key = int(last) if last.isdigit() else last
        if value is None:
            del target[key]
        else:
            target[key] = value
    return data


def test_valid_config_loads_with_defaults():
    model, problems = validate(copy.deepcopy(VALID))
    assert problems == []
    assert model is not None
    assert model.endpoint == "192.0.2.10"  # first controller when public_endpoint is unset
    assert model.options.virt_type == "auto"
    assert model.enabled_services() == ["cinder", "swift", "horizon"]


@pytest.mark.parametrize("sample", ["aio", "multinode"])
def test_sample_configs_are_valid(sample):
    config = load_config(REPO / "inventory" / sample / "tenrec.yml")
    assert config.nodes_with("controller")


def test_release_given_as_yaml_number_is_accepted():
    text = yaml.safe_dump(VALID).replace("release: '2026.2'", "release: 2026.2")
    assert "release: 2026.2" in text
    assert load_text(text).release == "2026.2"


def test_duplicate_node_names():
    found = problems_of(changed(nodes__3__name="ctl1"))
    assert "duplicate node name 'ctl1'" in found["nodes[3].name"]


def test_duplicate_names_ignore_case():
    found = problems_of(changed(nodes__3__name="CTL1"))
    # Upper case is invalid as a host name, and is still caught as a duplicate.
    assert "not a usable host name" in found["nodes[3].name"]
    assert "duplicate node name 'CTL1'" in found["nodes[3].name"]


def test_duplicate_addresses_across_fields():
    found = problems_of(changed(nodes__3__address="192.0.2.20"))
    assert "already used by nodes[1].address" in found["nodes[3].address"]


def test_address_outside_its_network():
    found = problems_of(changed(nodes__0__address="10.1.2.3"))
    assert "outside the management network 192.0.2.0/24" in found["nodes[0].address"]


def test_tunnel_address_outside_tunnel_network():
    found = problems_of(changed(nodes__1__tunnel_address="192.0.2.99"))
    assert "outside the tunnel network 203.0.113.0/26" in found["nodes[1].tunnel_address"]


def test_network_and_broadcast_addresses_are_not_host_addresses():
    found = problems_of(changed(nodes__0__address="192.0.2.255"))
    assert "broadcast address" in found["nodes[0].address"]


def test_tunnel_address_required_when_tunnel_network_declared():
    found = problems_of(changed(nodes__2__tunnel_address=None))
    assert "compute node needs an address on the tunnel network" in found["nodes[2].tunnel_address"]


def test_address_for_undeclared_network():
    found = problems_of(changed(nodes__3__storage_address="192.0.2.77"))
    assert "networks.storage is not declared" in found["nodes[3].storage_address"]


def test_overlapping_networks():
    found = problems_of(changed(networks__tunnel={"cidr": "192.0.2.128/25"}))
    assert "overlaps networks.management" in found["networks.tunnel.cidr"]


def test_gateway_outside_network():
    found = problems_of(changed(networks__management={"cidr": "192.0.2.0/24", "gateway": "192.0.3.1"}))
    assert "outside 192.0.2.0/24" in found["networks.management.gateway"]


@pytest.mark.parametrize(
    ("role", "index"),
    [("controller", 0), ("compute", 2), ("network", 1)],
)
def test_required_role_missing(role, index):
    data = changed(**{f"nodes__{index}__roles": ["storage"]})
    found = problems_of(data)
    assert f"no node has the role {role}" in found["nodes"]


def test_more_than_one_controller_is_refused_for_now():
    found = problems_of(changed(nodes__3__roles=["storage", "controller"]))
    assert "2 controllers" in found["nodes[3].roles"]


def test_unknown_role():
    found = problems_of(changed(nodes__3__roles=["storage", "ctrl"]))
    assert "'ctrl' is not allowed" in found["nodes[3].roles[1]"]
    assert "'controller', 'network', 'compute' or 'storage'" in found["nodes[3].roles[1]"]


def test_role_listed_twice():
    found = problems_of(changed(nodes__3__roles=["storage", "storage"]))
    assert "listed more than once" in found["nodes[3].roles"]


def test_empty_roles():
    found = problems_of(changed(nodes__3__roles=[]))
    assert "must not be empty" in found["nodes[3].roles"]


def test_unknown_release():
    found = problems_of(changed(release="2025.2"))
    assert "unknown release '2025.2'" in found["release"]
    assert "2026.1, 2026.2" in found["release"]


@pytest.mark.parametrize("bad", ["192.0.2", "192.0.2.300", "host-a", "192.0.2.10/24", "::1"])
def test_malformed_address(bad):
    found = problems_of(changed(nodes__0__address=bad))
    assert "is not an IPv4 address" in found["nodes[0].address"]


@pytest.mark.parametrize("bad", ["192.0.2.0", "192.0.2.0/33", "banana/24"])
def test_malformed_cidr(bad):
    found = problems_of(changed(networks__management={"cidr": bad}))
    assert "not an IPv4 network in CIDR notation" in found["networks.management.cidr"]


def test_cidr_with_host_bits_names_the_network():
    found = problems_of(changed(networks__management={"cidr": "192.0.2.7/24"}))
    assert "use the network address: 192.0.2.0/24" in found["networks.management.cidr"]


def test_service_without_storage_node():
    data = changed(nodes__3__roles=["network"])
    found = problems_of(data)
    assert "cinder is on, but no node has the role storage" in found["services.cinder"]
    assert "swift is on" in found["services.swift"]


def test_service_off_needs_nothing():
    data = changed(nodes__3__roles=["network"], services={"cinder": False, "swift": False})
    data["nodes"][3]["tunnel_address"] = "203.0.113.40"
    model, problems = validate(data)
    assert problems == [] and model is not None


def test_ceilometer_needs_gnocchi():
    found = problems_of(changed(services={"ceilometer": True}))
    assert "set services.gnocchi: true" in found["services.ceilometer"]


def test_external_network_needs_an_interface():
    data = changed(networks__external={"cidr": "198.51.100.0/24"})
    found = problems_of(data)
    assert "needs one" in found["nodes[1].external_interface"]
    data["nodes"][1]["external_interface"] = "eno2"
    assert validate(data)[1] == []


def test_public_endpoint_off_every_network():
    found = problems_of(changed(public_endpoint="10.9.9.9"))
    assert "neither the management nor the external network" in found["public_endpoint"]


def test_public_endpoint_may_be_a_dns_name():
    model, problems = validate(changed(public_endpoint="cloud.example.org"))
    assert problems == [] and model is not None and model.endpoint == "cloud.example.org"


def test_unknown_field_lists_known_ones():
    found = problems_of(changed(nodes__0__adress="192.0.2.10"))
    assert "unknown field 'adress'" in found["nodes[0].adress"]
    assert "address" in found["nodes[0].adress"]


def test_option_values_are_checked():
    found = problems_of(changed(options={"virt_type": "xen", "ovs_datapath": "dpdk"}))
    assert "'xen' is not allowed" in found["options.virt_type"]
    assert "'dpdk' is not allowed" in found["options.ovs_datapath"]


def test_missing_required_sections():
    found = problems_of({"name": "x"})
    assert "missing" in found["networks"]
    assert "missing" in found["nodes"]


def test_six_mistakes_reported_in_one_run():
    data = copy.deepcopy(VALID)
    data["release"] = "2030.1"  # unknown release
    data["nodes"][3]["name"] = "cmp1"  # duplicate name
    data["nodes"][0]["address"] = "192.0.2.300"  # malformed address
    data["nodes"][1]["roles"] = ["network", "dhcp"]  # unknown role
    data["nodes"][2]["roles"] = ["storage"]  # so: no compute
    data["networks"]["tunnel"]["cidr"] = "192.0.2.0/25"  # overlaps management
    found = problems_of(data)
    assert {
        "release",
        "nodes[3].name",
        "nodes[0].address",
        "nodes[1].roles[1]",
        "nodes",
        "networks.tunnel.cidr",
    } <= set(found)


def test_yaml_syntax_error_has_line_number(tmp_path):
    path = tmp_path / "tenrec.yml"
    path.write_text("nodes:\n  - name: a\n   address: [\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert problem.path == "(file)" and "line" in problem.message and "not valid YAML" in problem.message


def test_duplicate_yaml_keys_are_reported(tmp_path):
    path = tmp_path / "tenrec.yml"
    path.write_text(yaml.safe_dump(VALID) + "release: '2026.1'\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert any("key 'release' appears twice" in p.message for p in caught.value.problems)


def test_missing_file():
    with pytest.raises(ConfigError) as caught:
        load_config(Path("/nonexistent/tenrec.yml"))
    assert "does not exist" in caught.value.problems[0].message


def test_unreadable_file(tmp_path):
    path = tmp_path / "tenrec.yml"
    path.write_bytes(b"\xff\xfe not utf-8 \xff")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "cannot read" in caught.value.problems[0].message


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert "cannot read" in caught.value.problems[0].message


def test_not_a_mapping():
    with pytest.raises(ConfigError) as caught:
        load_text("- just\n- a list\n")
    assert "must be a mapping" in caught.value.problems[0].message


# --- overrides: layers over the service roles' config files ------------------------------

OVERRIDES = {
    "all": {"DEFAULT": {"debug": True}, "oslo_messaging_rabbit": {"heartbeat_rate": 3, "amqp_durable_queues": None}},
    "keystone": {"keystone.conf": {"token": {"expiration": 7200}, "cache": None}, "keystone-paste.ini": None},
    "nova": {"nova.conf": {"pci": {"alias": ["a", "b"]}, "DEFAULT": {"cpu_allocation_ratio": 4.0}}},
}


def test_overrides_are_accepted_with_their_values_kept():
    data = changed(overrides=copy.deepcopy(OVERRIDES))
    data["nodes"][2]["overrides"] = {"all": {"DEFAULT": {"debug": False}}, "nova": {"nova.conf": {"libvirt": None}}}
    model, problems = validate(data)
    assert problems == [] and model is not None
    assert model.overrides is not None and model.overrides.layers() == OVERRIDES
    # Types survive: booleans stay booleans, null stays null (it removes the option).
    assert model.overrides.layers()["all"]["DEFAULT"]["debug"] is True
    assert model.overrides.layers()["all"]["oslo_messaging_rabbit"]["amqp_durable_queues"] is None
    assert model.nodes[2].overrides is not None
    assert model.nodes[2].overrides.layers() == {
        "all": {"DEFAULT": {"debug": False}},
        "nova": {"nova.conf": {"libvirt": None}},
    }
    assert model.nodes[0].overrides is None


def test_dashboard_overrides_are_django_settings():
    data = changed(overrides={"horizon": {"SESSION_TIMEOUT": 7200, "OPENSTACK_NEUTRON_NETWORK": {"enable_vpn": True}}})
    data["nodes"][0]["overrides"] = {"horizon": {"DEBUG": True}}
    model, problems = validate(data)
    assert problems == [] and model is not None and model.overrides is not None
    assert model.overrides.layers()["horizon"] == {
        "SESSION_TIMEOUT": 7200,
        "OPENSTACK_NEUTRON_NETWORK": {"enable_vpn": True},
    }


def test_dashboard_overrides_name_the_bad_setting_and_the_fix():
    found = problems_of(changed(overrides={"horizon": {"local_settings.py": {"DEBUG": True}, "DEBUG": {1: "x"}}}))
    problem = found["overrides.horizon.local_settings.py.[key]"]
    assert "'local_settings.py' is not a Django setting name" in problem
    assert "`horizon: {SESSION_TIMEOUT: 7200}`" in problem
    assert "has the key 1" in found["overrides.horizon.DEBUG"]
    assert (
        "must be a mapping of Django settings"
        in problems_of(changed(overrides={"horizon": "DEBUG"}))["overrides.horizon"]
    )


def test_overrides_may_be_left_empty():
    # `overrides:` with every entry commented out is YAML null.
    data = changed()
    data["overrides"] = None
    data["nodes"][0]["overrides"] = None
    model, problems = validate(data)
    assert problems == [] and model is not None
    assert model.overrides is None and model.nodes[0].overrides is None


def test_unknown_service_in_overrides_lists_the_known_ones():
    found = problems_of(changed(overrides={"keystne": {"keystone.conf": {}}}))
    known = "all, keystone, glance, placement, nova, neutron, cinder, swift, horizon, heat, ceilometer, gnocchi"
    assert "unknown field 'keystne'" in found["overrides.keystne"]
    assert f"known here: {known}" in found["overrides.keystne"]


def test_unknown_service_in_node_overrides():
    data = changed()
    data["nodes"][2]["overrides"] = {"novva": {}}
    found = problems_of(data)
    assert "unknown field 'novva'" in found["nodes[2].overrides.novva"]


def test_file_names_must_be_plain():
    found = problems_of(changed(overrides={"nova": {"../nova.conf": {}, "/etc/nova/nova.conf": None}}))
    assert "'../nova.conf' is not a plain file name" in found["overrides.nova.../nova.conf.[key]"]
    assert "give the file's name only, e.g. nova.conf" in found["overrides.nova.../nova.conf.[key]"]
    assert "is not a plain file name" in found["overrides.nova./etc/nova/nova.conf.[key]"]


def test_sections_written_under_a_service_without_a_file_get_the_fix():
    found = problems_of(changed(overrides={"keystone": {"DEFAULT": {"debug": True}}}))
    problem = found["overrides.keystone.DEFAULT.debug"]
    assert "must be a mapping of options, not true" in problem
    assert "under a service the file comes first" in problem


@pytest.mark.parametrize(
    ("overrides", "path", "expected"),
    [
        ({"all": "debug"}, "overrides.all", "must be a mapping of sections, not 'debug'"),
        ({"all": {"DEFAULT": ["debug"]}}, "overrides.all.DEFAULT", "must be a mapping of options, not a list"),
        ({"nova": "nova.conf"}, "overrides.nova", "must be a mapping of config files, not 'nova.conf'"),
        ({"nova": {"nova.conf": 1}}, "overrides.nova.nova.conf", "must be a mapping of sections, not 1"),
        (
            {"all": {"DEFAULT": {"debug": {"on": True}}}},
            "overrides.all.DEFAULT.debug",
            "an option value is text, a number or true/false, not a mapping",
        ),
        (
            {"all": {"DEFAULT": {"hosts": ["a", None]}}},
            "overrides.all.DEFAULT.hosts",
            "a list value holds text, a number or true/false, not null",
        ),
        ({"all": {"DEFAULT": {"banner": "a\nb"}}}, "overrides.all.DEFAULT.banner", "has a line break"),
        ({"all": {"DEFAULT": {"a=b": 1}}}, "overrides.all.DEFAULT.a=b.[key]", "not a usable option name ('=')"),
        ({"all": {"[x]": {"a": 1}}}, "overrides.all.[x].[key]", "not a usable section name ('[', ']')"),
    ],
)
def test_override_shapes_and_values_are_checked(overrides, path, expected):
    found = problems_of(changed(overrides=overrides))
    assert expected in found[path], found


def test_every_override_problem_is_reported_at_once():
    data = changed(
        overrides={
            "all": {"DEFAULT": {"debug": {"x": 1}}, "bad": "x"},
            "glance": {"glance/api.conf": {}},
            "nova": {"nova.conf": {"DEFAULT": {"a": [[1]]}}},
            "heatt": {},
        },
        release="2030.1",
    )
    data["nodes"][1]["overrides"] = {"neutron": {"neutron.conf": {"DEFAULT": "x"}}}
    found = problems_of(data)
    assert {
        "overrides.all.DEFAULT.debug",
        "overrides.all.bad",
        "overrides.glance.glance/api.conf.[key]",
        "overrides.nova.nova.conf.DEFAULT.a",
        "overrides.heatt",
        "nodes[1].overrides.neutron.neutron.conf.DEFAULT",
        "release",
    } <= set(found)


def test_overrides_read_from_yaml_keep_null_and_types(tmp_path):
    path = tmp_path / "tenrec.yml"
    text = yaml.safe_dump(VALID) + (
        "overrides:\n"
        "  all:\n"
        "    DEFAULT: {debug: true, log_dir: ~}\n"
        "  keystone:\n"
        "    keystone.conf:\n"
        "      token: {expiration: 7200}\n"
    )
    path.write_text(text)
    config = load_config(path)
    assert config.overrides is not None
    assert config.overrides.layers() == {
        "all": {"DEFAULT": {"debug": True, "log_dir": None}},
        "keystone": {"keystone.conf": {"token": {"expiration": 7200}}},
    }


def test_overrides_know_every_openstack_service():
    assert tuple(ConfigOverrides.model_fields) == ("all", *OPENSTACK_SERVICES)
    assert set(OPTIONAL_SERVICES) < set(OPENSTACK_SERVICES)


CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_ca_certificates_must_be_readable_absolute_pem_files(tmp_path):
    good = tmp_path / "proxy.crt"
    good.write_text(CA_PEM)
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("hello\n")
    data = changed(ca_certificates=[str(good), "relative.crt", str(tmp_path / "missing.crt"), str(not_pem)])
    found = problems_of(data)
    assert "ca_certificates[0]" not in found
    assert "relative path" in found["ca_certificates[1]"]
    assert "cannot read" in found["ca_certificates[2]"]
    assert "no PEM certificate" in found["ca_certificates[3]"]


def test_ca_certificates_default_to_none(tmp_path):
    good = tmp_path / "proxy.crt"
    good.write_text(CA_PEM)
    model, problems = validate(copy.deepcopy(VALID))
    assert problems == [] and model is not None and model.ca_certificates == []
    model, problems = validate(changed(ca_certificates=[str(good)]))
    assert problems == [] and model is not None and model.ca_certificates == [str(good)]


def test_volume_backend_nfs_needs_shares():
    found = problems_of(changed(options={"volume_backend": "nfs"}))
    assert "no NFS share is listed" in found["volumes.nfs_shares"]


def test_volume_backend_nfs_without_shares_is_fine_with_cinder_off():
    model, problems = validate(changed(options={"volume_backend": "nfs"}, services={"cinder": False}))
    assert problems == [] and model is not None


def test_nfs_share_must_be_host_and_path():
    found = problems_of(changed(volumes={"nfs_shares": ["nas1:/export/cinder", "nas1/export", "nas1:export"]}))
    assert "'nas1/export' is not an NFS share" in found["volumes.nfs_shares[1]"]
    assert "HOST:/PATH" in found["volumes.nfs_shares[2]"]
    assert "volumes.nfs_shares[0]" not in found


def test_volume_devices_only_on_storage_nodes_and_only_for_lvm():
    data = changed(options={"volume_backend": "nfs"}, volumes={"nfs_shares": ["nas1:/export"]})
    data["nodes"][0]["volume_devices"] = ["/dev/sdb"]
    data["nodes"][3]["volume_devices"] = ["/dev/sdb", "/dev/sdb", "sdc"]
    found = problems_of(data)
    assert "without the role storage" in found["nodes[0].volume_devices"]
    assert "the devices are for LVM" in found["nodes[3].volume_devices"]
    assert "listed twice" in found["nodes[3].volume_devices"]
    assert "not a block device path" in found["nodes[3].volume_devices[2]"]


def test_volume_group_name_is_checked():
    found = problems_of(changed(volumes={"volume_group": "cinder volumes"}))
    assert "not a usable LVM volume group name" in found["volumes.volume_group"]


def test_object_devices_are_checked_before_any_node():
    data = changed(object_storage={"replicas": 4})
    data["nodes"][0]["object_devices"] = ["/dev/sdc"]
    data["nodes"][0]["zone"] = 2
    data["nodes"][3]["object_devices"] = ["/dev/sdb", "/dev/sdb", "/dev/disk/by-id/ata-LONGERNAME1"]
    data["nodes"][3]["volume_devices"] = ["/dev/sdb"]
    found = problems_of(data)
    assert "without the role storage" in found["nodes[0].object_devices"]
    assert "zones group Swift's storage nodes" in found["nodes[0].zone"]
    assert "listed twice" in found["nodes[3].object_devices"]
    assert "XFS label" in found["nodes[3].object_devices"]
    assert "also listed in volume_devices" in found["nodes[3].object_devices"]
    assert "4 replicas, but the storage nodes have 3 Swift device(s)" in found["object_storage.replicas"]


def test_object_storage_defaults_and_bounds():
    model, problems = validate(changed())
    assert problems == [] and model is not None
    assert (model.object_storage.part_power, model.object_storage.replicas, model.object_storage.min_part_hours) == (
        10,
        None,
        1,
    )
    found = problems_of(changed(object_storage={"part_power": 40, "loop_file_gb": 0}))
    assert "object_storage.part_power" in found and "object_storage.loop_file_gb" in found


def test_telemetry_polling_interval_defaults_to_upstreams_and_is_bounded():
    model, problems = validate(changed(services={"ceilometer": True, "gnocchi": True}))
    assert problems == [] and model is not None and model.telemetry.polling_interval == 300
    found = problems_of(changed(telemetry={"polling_interval": 5}))
    assert "greater than or equal to 10" in found["telemetry.polling_interval"]
    found = problems_of(changed(telemetry={"polling_interval": 7200}))
    assert "less than or equal to 3600" in found["telemetry.polling_interval"]
