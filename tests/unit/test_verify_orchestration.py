"""verify's orchestration rows: the engines judged per controller, and the templates it sends."""

from __future__ import annotations

import json

import pytest

from tenrec.verify.core import CheckFailed
from tenrec.verify.orchestration import CFN_TEMPLATE, SIGNAL_SCRIPT, hot_template, judge_engines, stack_project_name

T0, T1, T2 = "2026-12-04T19:40:00.000000", "2026-12-04T19:46:18.000000", "2026-12-04T19:58:45.000000"


def test_every_controller_with_engines_up_passes_and_counts_the_workers():
    found = [
        ("heat-engine", "ctl1", "up", T0, T2),
        ("heat-engine", "ctl1", "up", T0, T2),
        ("heat-engine", "ctl2.example.org", "up", T0, T2),
    ]
    assert (
        judge_engines(found, ["ctl1", "ctl2"])
        == "ctl1: 2 heat-engine workers up, ctl2.example.org: 1 heat-engine workers up"
    )


def test_records_of_engines_stopped_before_a_restart_are_not_failures():
    # What `orchestration service list` showed after the lab's nodes restarted.
    found = [
        ("heat-engine", "ctl1", "up", T2, T2),
        ("heat-engine", "ctl1", "down", T0, T1),
        ("heat-engine", "ctl1", "down", T0, T1),
        ("heat-engine", "ctl1", "up", T2, T2),
    ]
    assert judge_engines(found, ["ctl1"]) == (
        "ctl1: 2 heat-engine workers up (2 record(s) of engines stopped before these started)"
    )


def test_a_controller_without_engine_and_a_down_engine_are_both_named():
    # The down worker reported after its sibling started: it died, it was not replaced.
    found = [("heat-engine", "ctl1", "up", T0, T2), ("heat-engine", "ctl1", "down", T0, T1)]
    with pytest.raises(CheckFailed, match=r"no heat-engine on ctl2; heat-engine on ctl1 is down"):
        judge_engines(found, ["ctl1", "ctl2"])


def test_a_host_whose_engines_are_all_down_fails():
    found = [("heat-engine", "ctl1", "down", T0, T1)]
    with pytest.raises(CheckFailed, match=r"heat-engine on ctl1 is down"):
        judge_engines(found, ["ctl1"])


def _references(node, kind):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == kind:
                yield value if isinstance(value, str) else value[0]
            yield from _references(value, kind)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value, kind)


@pytest.mark.parametrize("with_volume", [True, False])
def test_the_hot_template_declares_what_it_references(with_volume):
    template = hot_template(with_volume)
    resources = template["resources"]
    assert set(_references(template, "get_param")) == set(template["parameters"])
    assert set(_references(template, "get_resource")) | set(_references(template, "get_attr")) <= set(resources)
    assert ("attachment" in resources) is with_volume
    assert ("volume_id" in template["outputs"]) is with_volume
    # The guest runs the handle's own curl command, and the server waits for its subnet's router.
    user_data = resources["server"]["properties"]["user_data"]["str_replace"]
    assert user_data["template"] == SIGNAL_SCRIPT and SIGNAL_SCRIPT.startswith("#!/bin/sh\nwc_notify ")
    assert user_data["params"]["wc_notify"] == {"get_attr": ["handle", "curl_cli"]}
    assert resources["server"]["depends_on"] == ["router_interface"]


def test_the_signal_script_posts_json_with_the_marker():
    body = SIGNAL_SCRIPT.split("--data-binary '", 1)[1].rsplit("'", 1)[0]
    assert json.loads(body.replace("MARKER", "m")) == {"status": "SUCCESS", "reason": "guest booted", "data": "m"}


def test_the_cloudformation_template_waits_for_its_handle():
    template = json.loads(json.dumps(CFN_TEMPLATE))
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    assert template["Resources"]["Wait"]["Properties"]["Handle"] == {"Ref": "Handle"}
    assert template["Outputs"]["HandleURL"]["Value"] == {"Ref": "Handle"}


def test_the_stack_project_name_is_cut_at_64_characters_as_heat_cuts_it():
    project, stack = "98ff221d4b70495ca23f4e58da47fd98", "33f41aaa-470b-4c6a-a023-cf4ab4098e87"
    assert stack_project_name(project, stack) == f"{project}-{stack}"[:64]
    assert len(stack_project_name(project, stack)) == 64 and stack not in stack_project_name(project, stack)
