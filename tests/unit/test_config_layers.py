"""Tests for plugins/filter/openstack_config.py: config layers and oslo.config INI text."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
from ansible.errors import AnsibleFilterError

from tests.ansible_local import run_json

REPO = Path(__file__).resolve().parents[2]
_PATH = REPO / "plugins" / "filter" / "openstack_config.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("openstack_config", _PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


oc = _load()
layer_config = oc.layer_config
to_ini = oc.to_ini

ROLE = {
    "keystone.conf": {
        "DEFAULT": {"debug": False, "log_dir": "/var/log/keystone"},
        "token": {"provider": "fernet", "expiration": 3600},
        "cache": {"enabled": True, "backend": "oslo_cache.memcache_pool"},
    },
    "keystone-paste.ini": {"pipeline:main": {"pipeline": "a b c"}},
}


def layered(overrides=None, host=None, role=None, service="keystone"):
    return layer_config(ROLE if role is None else role, service, "keystone.conf", overrides, host)


def error_of(**kwargs) -> str:
    with pytest.raises(AnsibleFilterError) as caught:
        layered(**kwargs)
    return str(caught.value)


# --- layer_config: layers and their order ---------------------------------------------


def test_role_config_alone_is_returned_as_is():
    assert layered() == ROLE
    assert layered({}, {}) == ROLE


def test_each_layer_overrides_the_one_before():
    debug_in = {
        "all": {"DEFAULT": {"debug": "all"}},
        "keystone": {"keystone.conf": {"DEFAULT": {"debug": "service"}}},
    }
    host_all = {"all": {"DEFAULT": {"debug": "host all"}}}
    host_service = {**host_all, "keystone": {"keystone.conf": {"DEFAULT": {"debug": "host service"}}}}

    assert layered({"all": debug_in["all"]})["keystone.conf"]["DEFAULT"]["debug"] == "all"
    assert layered(debug_in)["keystone.conf"]["DEFAULT"]["debug"] == "service"
    assert layered(debug_in, host_all)["keystone.conf"]["DEFAULT"]["debug"] == "host all"
    assert layered(debug_in, host_service)["keystone.conf"]["DEFAULT"]["debug"] == "host service"
    # Host all still beats the deployment's per-service layer.
    assert layered({"keystone": debug_in["keystone"]}, host_all)["keystone.conf"]["DEFAULT"]["debug"] == "host all"


def test_merge_is_per_option_and_keeps_the_roles_order():
    result = layered({"keystone": {"keystone.conf": {"token": {"expiration": 7200, "caching": False}}}})
    token = result["keystone.conf"]["token"]
    assert token == {"provider": "fernet", "expiration": 7200, "caching": False}
    assert list(token) == ["provider", "expiration", "caching"]
    assert list(result["keystone.conf"]) == ["DEFAULT", "token", "cache"]


def test_new_sections_and_files_are_appended_in_the_order_given():
    result = layered(
        {
            "all": {"oslo_messaging_rabbit": {"heartbeat_rate": 3}},
            "keystone": {
                "keystone.conf": {"zeta": {"b": 1, "a": 2}, "alpha": {"x": 1}},
                "policy.yaml": {"rules": {"admin_required": "role:admin"}},
            },
        }
    )
    assert list(result) == ["keystone.conf", "keystone-paste.ini", "policy.yaml"]
    assert list(result["keystone.conf"]) == ["DEFAULT", "token", "cache", "oslo_messaging_rabbit", "zeta", "alpha"]
    assert list(result["keystone.conf"]["zeta"]) == ["b", "a"]


def test_all_goes_into_the_main_file_only():
    result = layered({"all": {"DEFAULT": {"debug": True}}}, {"all": {"pipeline:main": {"pipeline": "x"}}})
    assert result["keystone.conf"]["DEFAULT"]["debug"] is True
    assert result["keystone.conf"]["pipeline:main"] == {"pipeline": "x"}
    assert result["keystone-paste.ini"] == ROLE["keystone-paste.ini"]


def test_other_services_layers_are_ignored():
    overrides = {"nova": {"keystone.conf": {"DEFAULT": {"debug": True}}}}
    assert layered(overrides, overrides) == ROLE


def test_null_removes_an_option_a_section_and_a_file():
    result = layered(
        {
            "all": {"DEFAULT": {"log_dir": None}},
            "keystone": {"keystone.conf": {"cache": None}, "keystone-paste.ini": None},
        }
    )
    assert result == {
        "keystone.conf": {"DEFAULT": {"debug": False}, "token": {"provider": "fernet", "expiration": 3600}},
    }


def test_removing_what_is_absent_is_harmless_and_a_later_layer_can_add_it_back():
    result = layered(
        {"keystone": {"keystone.conf": {"token": {"expiration": None}}, "absent.conf": None}},
        {"keystone": {"keystone.conf": {"token": {"expiration": 60}, "nowhere": None}}},
    )
    assert result["keystone.conf"]["token"] == {"provider": "fernet", "expiration": 60}
    assert "absent.conf" not in result and "nowhere" not in result["keystone.conf"]


def test_null_layers_count_as_empty():
    assert layered({"all": None, "keystone": None}, {"all": None}) == ROLE


def test_null_in_the_role_config_leaves_the_option_out():
    role = {"nova.conf": {"DEFAULT": {"debug": False, "my_ip": None}}}
    assert layer_config(role, "nova", "nova.conf") == {"nova.conf": {"DEFAULT": {"debug": False}}}


def test_lists_are_values_that_a_layer_replaces_whole():
    role = {"nova.conf": {"pci": {"alias": ["a", "b"]}}}
    overrides = {"nova": {"nova.conf": {"pci": {"alias": ["c"]}}}}
    assert layer_config(role, "nova", "nova.conf", overrides)["nova.conf"]["pci"]["alias"] == ["c"]


def test_inputs_are_not_changed_and_the_result_shares_nothing():
    role = copy.deepcopy(ROLE)
    role["keystone.conf"]["DEFAULT"]["tags"] = ["a", "b"]
    overrides = {"all": {"DEFAULT": {"debug": True, "log_dir": None}}, "keystone": {"keystone-paste.ini": None}}
    host = {"keystone": {"keystone.conf": {"cache": None, "new": {"x": [1]}}}}
    before = copy.deepcopy((role, overrides, host))
    result = layer_config(role, "keystone", "keystone.conf", overrides, host)
    assert (role, overrides, host) == before
    result["keystone.conf"]["DEFAULT"]["tags"].append("c")
    result["keystone.conf"]["new"]["x"].append(2)
    result["keystone.conf"]["token"]["provider"] = "uuid"
    assert (role, overrides, host) == before


# --- layer_config: wrong shapes name the layer -----------------------------------------


def test_section_that_is_not_a_mapping_names_the_layer_path():
    message = error_of(overrides={"keystone": {"keystone.conf": {"token": 7200}}})
    assert message.startswith("tenrec_config_overrides.keystone['keystone.conf'].token must be a mapping of options")
    assert "got the number 7200" in message
    assert "the file comes first" not in message


def test_option_value_that_is_a_mapping_names_the_option():
    message = error_of(host={"all": {"DEFAULT": {"debug": {"on": True}}}})
    assert message.startswith("tenrec_host_config_overrides.all.DEFAULT.debug must be a string, number, boolean")
    assert "got a mapping" in message


def test_sections_written_directly_under_a_service_get_a_hint():
    message = error_of(overrides={"keystone": {"DEFAULT": {"debug": True}}})
    assert message.startswith("tenrec_config_overrides.keystone.DEFAULT.debug must be a mapping of options")
    assert message.endswith("(the file comes first: keystone: {keystone.conf: {DEFAULT: {debug: true}}})")


@pytest.mark.parametrize(
    ("kwargs", "start"),
    [
        ({"overrides": ["all"]}, "tenrec_config_overrides must be a mapping whose keys are 'all' and service names"),
        ({"overrides": {"all": "debug=true"}}, "tenrec_config_overrides.all must be a mapping of sections"),
        ({"overrides": {"keystone": [1]}}, "tenrec_config_overrides.keystone must be a mapping of file names"),
        ({"host": {"keystone": {"keystone.conf": "x"}}}, "tenrec_host_config_overrides.keystone['keystone.conf'] must"),
        (
            {"host": {"all": {"DEFAULT": {"hosts": ["a", {"b": 1}]}}}},
            "tenrec_host_config_overrides.all.DEFAULT.hosts[1]",
        ),
        ({"role": {"keystone.conf": {"DEFAULT": ["debug"]}}}, "role_config['keystone.conf'].DEFAULT must be a mapping"),
        ({"role": "keystone.conf"}, "role_config must be a mapping of file names"),
    ],
)
def test_wrong_shapes(kwargs, start):
    assert error_of(**kwargs).startswith(start)


def test_file_names_must_be_plain_names():
    message = error_of(overrides={"keystone": {"../keystone.conf": {"DEFAULT": {"debug": True}}}})
    assert message.startswith("tenrec_config_overrides.keystone['../keystone.conf']: '../keystone.conf' is not a plain")


def test_names_must_be_text():
    message = error_of(overrides={"all": {"DEFAULT": {True: 1}}})
    assert message.startswith("tenrec_config_overrides.all.DEFAULT[True]: an option name must be non-empty text")


# --- to_ini ------------------------------------------------------------------------------


def test_ini_rendering():
    text = to_ini(
        {
            "token": {"expiration": 7200, "caching": False},
            "DEFAULT": {"debug": True, "log_dir": "/var/log/keystone", "ratio": 1.5, "unset": None},
            "pci": {"alias": ["a", "b"], "device_spec": []},
            "cache": {},
        }
    )
    assert text == (
        "# Managed by tenrec: put changes in tenrec_config_overrides, not here.\n"
        "\n"
        "[DEFAULT]\n"
        "debug = true\n"
        "log_dir = /var/log/keystone\n"
        "ratio = 1.5\n"
        "\n"
        "[token]\n"
        "expiration = 7200\n"
        "caching = false\n"
        "\n"
        "[pci]\n"
        "alias = a\n"
        "alias = b\n"
        "\n"
        "[cache]\n"
    )


def test_ini_of_nothing_is_the_header_line():
    assert to_ini({}) == "# Managed by tenrec: put changes in tenrec_config_overrides, not here.\n"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("", "x ="),
        ("  padded ", 'x = "  padded "'),
        ("'quoted'", "x = \"'quoted'\""),
        ('"', 'x = """'),
        ("a 'b' c", "x = a 'b' c"),
        ("mysql+pymysql://nova:p@ss=w0rd:x@ctl1/nova", "x = mysql+pymysql://nova:p@ss=w0rd:x@ctl1/nova"),
    ],
)
def test_strings_that_oslo_would_change_are_quoted(value, written):
    assert to_ini({"s": {"x": value}}).splitlines()[-1] == written


@pytest.mark.parametrize("value", ["line one\nline two", "a\r\nb", ["ok", "not\nok"]])
def test_line_breaks_are_refused(value):
    with pytest.raises(AnsibleFilterError, match=r"^to_ini: \[DEFAULT\] banner: the value has a line break"):
        to_ini({"DEFAULT": {"banner": value}})


@pytest.mark.parametrize(
    ("sections", "match"),
    [
        ({"DEFAULT": {"a": {"b": 1}}}, r"^to_ini: \[DEFAULT\] a: a value must be .*got a mapping"),
        ({"DEFAULT": {"a": [[1]]}}, r"^to_ini: \[DEFAULT\] a: a value must be .*got a list"),
        ({"DEFAULT": {"a=b": 1}}, r"^to_ini: \[DEFAULT\] a=b: not a usable option name"),
        ({"DEFAULT": "debug = true"}, r"^to_ini: \[DEFAULT\] must be a mapping of options"),
        (["DEFAULT"], r"^to_ini: the input must be a mapping of sections"),
    ],
)
def test_ini_wrong_shapes(sections, match):
    with pytest.raises(AnsibleFilterError, match=match):
        to_ini(sections)


def test_filter_module_offers_both_filters():
    assert oc.FilterModule().filters() == {"layer_config": layer_config, "to_ini": to_ini}


# --- through Ansible: the FQCNs resolve from a checkout ------------------------------------


def _ansible_debug(tmp_path: Path, variables: dict, expression: str) -> dict:
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    task = ["-m", "ansible.builtin.debug", "-a", f"msg={{{{ {expression} }}}}"]
    result = run_json("ansible", ["localhost", "-e", f"@{tmp_path / 'vars.json'}", *task], tmp_path / "ansible-home")
    return result["plays"][0]["tasks"][0]["hosts"]["localhost"]


def test_filters_run_through_ansible(tmp_path):
    variables = {
        "role_config": ROLE,
        "tenrec_config_overrides": {
            "all": {"DEFAULT": {"debug": True}},
            "keystone": {"keystone.conf": {"token": {"expiration": 7200}, "cache": None}},
        },
        "tenrec_host_config_overrides": {"all": {"DEFAULT": {"log_dir": None}}},
    }
    expression = (
        "(role_config | tenrec.cloud.layer_config('keystone', 'keystone.conf', tenrec_config_overrides,"
        " tenrec_host_config_overrides))['keystone.conf'] | tenrec.cloud.to_ini"
    )
    result = _ansible_debug(tmp_path, variables, expression)
    assert not result.get("failed"), result
    assert result["msg"] == (
        "# Managed by tenrec: put changes in tenrec_config_overrides, not here.\n"
        "\n"
        "[DEFAULT]\n"
        "debug = true\n"
        "\n"
        "[token]\n"
        "provider = fernet\n"
        "expiration = 7200\n"
    )


def test_filter_errors_reach_ansible_with_the_layer_path(tmp_path):
    variables = {"role_config": ROLE, "tenrec_config_overrides": {"keystone": {"keystone.conf": {"token": 7200}}}}
    expression = "role_config | tenrec.cloud.layer_config('keystone', 'keystone.conf', tenrec_config_overrides)"
    result = _ansible_debug(tmp_path, variables, expression)
    assert result["failed"] is True
    assert "tenrec_config_overrides.keystone['keystone.conf'].token must be a mapping of options" in result["msg"]
