"""Heat alone on a controller: both APIs on the management address, the engine, the stack user
domain, and stacks whose wait conditions are signalled the two ways guests signal them (the
native handle's token, the AWS handle's pre-signed URL on the cfn API)."""

import json
import time

from tests.node_checks import assert_listens_only_on, assert_running

ADDRESS = "10.201.15.11"
OS = "openstack --os-cloud tenrec"
PYTHON = "/opt/openstack/openstackclient/bin/python"

# One stack: a random string, and a wait condition that the test signals with the handle's
# own endpoint and token, as a guest's user data would.
NATIVE = {
    "heat_template_version": "2021-04-16",
    "resources": {
        "secret": {"type": "OS::Heat::RandomString", "properties": {"length": 12}},
        "handle": {"type": "OS::Heat::WaitConditionHandle"},
        "wait": {
            "type": "OS::Heat::WaitCondition",
            "properties": {"handle": {"get_resource": "handle"}, "timeout": 120},
        },
    },
    "outputs": {
        "endpoint": {"value": {"get_attr": ["handle", "endpoint"]}},
        "token": {"value": {"get_attr": ["handle", "token"]}},
        "data": {"value": {"get_attr": ["wait", "data"]}},
        "secret": {"value": {"get_attr": ["secret", "value"]}},
    },
}
AWS = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
        "Wait": {
            "Type": "AWS::CloudFormation::WaitCondition",
            "Properties": {"Handle": {"Ref": "Handle"}, "Timeout": "120"},
        },
    },
    "Outputs": {"URL": {"Value": {"Ref": "Handle"}}, "Data": {"Value": {"Fn::GetAtt": ["Wait", "Data"]}}},
}

# POST (native, with the handle's token) or PUT (AWS, the URL carries its signature), from the node.
SIGNAL = """
import json, sys, urllib.request
method, url, token, body = sys.argv[1:5]
headers = {"Content-Type": "application/json"}
if token:
    headers["X-Auth-Token"] = token
request = urllib.request.Request(url, data=body.encode(), headers=headers, method=method)
print(urllib.request.urlopen(request, timeout=30).status)
"""


def create(host, name, template):
    host.check_output(f"cat > /tmp/{name}.json <<'EOF'\n{json.dumps(template)}\nEOF")
    host.check_output(f"{OS} stack create -t /tmp/{name}.json {name}")


def output(host, name, key, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        value = host.check_output(f"{OS} stack output show {name} {key} -f value -c output_value")
        if value and value != "None":
            return value
        assert time.monotonic() < deadline, f"no output {key} of {name} after {timeout}s"
        time.sleep(2)


def wait_status(host, name, status, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        now = host.check_output(f"{OS} stack show {name} -f value -c stack_status")
        if now == status:
            return
        assert not now.endswith("FAILED") and time.monotonic() < deadline, f"{name} is {now}"
        time.sleep(2)


def signal(host, method, url, token, body):
    host.check_output(f"cat > /tmp/signal.py <<'EOF'\n{SIGNAL}\nEOF")
    return host.check_output(f"{PYTHON} /tmp/signal.py {method} '{url}' '{token}' '{json.dumps(body)}'")


def test_apis_and_engine_run_on_the_management_address_only(host):
    for unit in ("heat-api", "heat-api-cfn", "heat-engine"):
        assert_running(host, unit)
    assert_listens_only_on(host, ADDRESS, 8004)
    assert_listens_only_on(host, ADDRESS, 8000)


def test_orchestration_and_cloudformation_in_the_catalog(host):
    for kind, url in (
        ("orchestration", f"http://{ADDRESS}:8004/v1/%(project_id)s"),
        ("cloudformation", f"http://{ADDRESS}:8000/v1"),
    ):
        endpoints = json.loads(host.check_output(f"{OS} endpoint list --service {kind} -f json"))
        assert sorted(e["Interface"] for e in endpoints) == ["admin", "internal", "public"]
        assert {e["URL"] for e in endpoints} == {url}


def test_config_and_policy_readable_by_heat_only(host):
    for name in ("heat.conf", "policy.yaml", "api-paste.ini", "environment.d/default.yaml"):
        conf = host.file(f"/etc/heat/{name}")
        assert (conf.user, conf.group, conf.mode) == ("root", "heat", 0o640), name


def test_stack_user_domain_and_roles(host):
    users = host.check_output(f"{OS} user list --domain heat -f value -c Name").split()
    assert users == ["heat_domain_admin"]
    roles = host.check_output(f"{OS} role list -f value -c Name").split()
    assert {"heat_stack_owner", "heat_stack_user"} <= set(roles)
    grants = host.check_output(
        f"{OS} role assignment list --user heat_domain_admin --user-domain heat --names -f value -c Role -c Domain"
    )
    assert grants.split() == ["admin", "heat"]


def test_engines_report_up(host):
    services = json.loads(host.check_output(f"{OS} orchestration service list -f json"))
    assert services and all(s["Status"] == "up" and s["Binary"] == "heat-engine" for s in services)


def test_a_native_wait_condition_signalled_with_its_token(host):
    create(host, "mol-native", NATIVE)
    try:
        endpoint, token = output(host, "mol-native", "endpoint"), output(host, "mol-native", "token")
        assert endpoint.startswith(f"http://{ADDRESS}:8004/v1/")
        assert signal(host, "POST", endpoint, token, {"status": "SUCCESS", "data": "native-ok"}) == "200"
        wait_status(host, "mol-native", "CREATE_COMPLETE")
        assert json.loads(output(host, "mol-native", "data")) == {"1": "native-ok"}
        assert len(output(host, "mol-native", "secret")) == 12
    finally:
        host.run(f"{OS} stack delete -y --wait mol-native")


def test_an_aws_wait_condition_signalled_through_the_cfn_api(host):
    create(host, "mol-aws", AWS)
    try:
        url = output(host, "mol-aws", "URL")
        assert url.startswith(f"http://{ADDRESS}:8000/v1/waitcondition/")
        signal(host, "PUT", url, "", {"Status": "SUCCESS", "Reason": "molecule", "UniqueId": "1", "Data": "aws-ok"})
        wait_status(host, "mol-aws", "CREATE_COMPLETE")
        assert json.loads(output(host, "mol-aws", "Data")) == {"1": "aws-ok"}
    finally:
        host.run(f"{OS} stack delete -y --wait mol-aws")
    assert host.check_output(f"{OS} stack list -f value") == ""
