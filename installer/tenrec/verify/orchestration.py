"""Heat: its engines up, a HOT stack a guest signals, updated in place and deleted without a
trace, and a CloudFormation template through heat-api-cfn.

orchestration/stack creates a network, a subnet on verify's tenant router, a server of
compute/boot's guest image whose user data (a script) signals a wait condition with the
handle's own curl command, and, with Cinder on, a volume attached to it. The stack must reach
CREATE_COMPLETE with the guest's signal data in its outputs. orchestration/update renames the
server through a parameter (same server, new name); orchestration/delete deletes the stack
and checks that each of its resources, and the stack's project in the stack user domain, is
gone. orchestration/cfn speaks the CloudFormation API (signed with the operator's EC2
credential) about a CFN-format template: it validates it, signals the stack's AWS wait
condition through the pre-signed URL Heat made on heat_waitcondition_server_url, describes
and deletes the stack.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tenrec.verify import compute, network
from tenrec.verify.core import Check, CheckFailed, Context, Family, SkipCheck, deployment_secrets, one_line
from tenrec.verify.identity import TOKEN
from tenrec.verify.nodes import host_is, node_names
from tenrec.verify.patience import scaled

SERVICE = "heat"
SERVICES = "orchestration/services"
STACK = "orchestration/stack"
UPDATE = "orchestration/update"
DELETE = "orchestration/delete"
CFN = "orchestration/cfn"

ENGINE_BINARY = "heat-engine"
STACK_TIMEOUT = 420
# The guest boots and signals in about a minute under emulation.
WAIT_TIMEOUT = 300
DELETE_TIMEOUT = 300
CFN_TIMEOUT = 180
# Seconds for a deleted stack's resources to be gone, and for a handle's URL to be readable.
RESOURCES_GONE_TIMEOUT = 60
HANDLE_URL_TIMEOUT = 60
INTERVAL = 3
STACK_KEY = "orchestration.stack"
HOT_VERSION = "2021-04-16"


def judge_engines(found: Sequence[tuple[str, str, str, str, str]], controllers: Sequence[str]) -> str:
    """(binary, host, status, created_at, updated_at) of Heat's services: each controller runs
    heat-engine workers, all up. A down record that stopped reporting before the host's
    running engines started is a stopped engine's (after a restart: Heat keeps such records
    until an engine start finds them older than its cleanup window), not a failure."""
    engines = [row for row in found if row[0] == ENGINE_BINARY]
    problems = [
        f"no {ENGINE_BINARY} on {node}" for node in controllers if not any(host_is(r[1], node) for r in engines)
    ]
    per_host: dict[str, int] = {}
    stale = 0
    for _, host, status, _, updated in engines:
        if status == "up":
            per_host[host] = per_host.get(host, 0) + 1
            continue
        running_since = [r[3] for r in engines if r[1] == host and r[2] == "up"]
        if running_since and updated < min(running_since):
            stale += 1
        elif f"{ENGINE_BINARY} on {host} is down" not in problems:
            problems.append(f"{ENGINE_BINARY} on {host} is down")
    if problems:
        raise CheckFailed("; ".join(problems))
    summary = ", ".join(f"{host}: {count} {ENGINE_BINARY} workers up" for host, count in sorted(per_host.items()))
    return summary + (f" ({stale} record(s) of engines stopped before these started)" if stale else "")


def services(ctx: Context) -> str:
    answer = ctx.conn.orchestration.get("/services")
    if answer.status_code != 200:
        raise CheckFailed(f"GET /services: HTTP {answer.status_code} {one_line(answer.text, 200)}")
    found = [
        (
            str(s.get("binary")),
            str(s.get("host")),
            str(s.get("status")),
            str(s.get("created_at")),
            str(s.get("updated_at")),
        )
        for s in answer.json()["services"]
    ]
    return judge_engines(found, node_names(ctx, "controller"))


# --- a HOT stack ----------------------------------------------------------------------------

# Heat's wait condition handle prints the command that signals it (curl_cli); the guest runs
# this script as its user data (guest_image.user_data_script), as cloud-init would.
SIGNAL_SCRIPT = """#!/bin/sh
wc_notify --data-binary '{"status": "SUCCESS", "reason": "guest booted", "data": "MARKER"}'
"""


def hot_template(with_volume: bool) -> dict[str, Any]:
    """A network, a subnet on an existing router, a server that signals a wait condition and,
    with_volume, a volume attached to the server."""
    resources: dict[str, Any] = {
        "net": {"type": "OS::Neutron::Net", "properties": {"name": {"get_param": "prefix"}}},
        "subnet": {
            "type": "OS::Neutron::Subnet",
            "properties": {"network": {"get_resource": "net"}, "cidr": {"get_param": "cidr"}, "ip_version": 4},
        },
        # Through the router the guest reaches the metadata service and Heat's public API.
        "router_interface": {
            "type": "OS::Neutron::RouterInterface",
            "properties": {"router": {"get_param": "router"}, "subnet": {"get_resource": "subnet"}},
        },
        "handle": {"type": "OS::Heat::WaitConditionHandle"},
        "wait": {
            "type": "OS::Heat::WaitCondition",
            "properties": {"handle": {"get_resource": "handle"}, "count": 1, "timeout": int(scaled(WAIT_TIMEOUT))},
        },
        "server": {
            "type": "OS::Nova::Server",
            "depends_on": ["router_interface"],
            "properties": {
                "name": {"get_param": "server_name"},
                "image": {"get_param": "image"},
                "flavor": {"get_param": "flavor"},
                "networks": [{"network": {"get_resource": "net"}}],
                "user_data_format": "RAW",
                "user_data": {
                    "str_replace": {
                        "template": SIGNAL_SCRIPT,
                        "params": {
                            "wc_notify": {"get_attr": ["handle", "curl_cli"]},
                            "MARKER": {"get_param": "marker"},
                        },
                    }
                },
            },
        },
    }
    outputs: dict[str, Any] = {
        "server_id": {"value": {"get_resource": "server"}},
        "network_id": {"value": {"get_resource": "net"}},
        "subnet_id": {"value": {"get_resource": "subnet"}},
        "signal_data": {"value": {"get_attr": ["wait", "data"]}},
    }
    if with_volume:
        resources["volume"] = {"type": "OS::Cinder::Volume", "properties": {"size": 1}}
        resources["attachment"] = {
            "type": "OS::Cinder::VolumeAttachment",
            "properties": {"instance_uuid": {"get_resource": "server"}, "volume_id": {"get_resource": "volume"}},
        }
        outputs["volume_id"] = {"value": {"get_resource": "volume"}}
    parameters = {
        name: {"type": "string"} for name in ("prefix", "cidr", "router", "image", "flavor", "server_name", "marker")
    }
    return {
        "heat_template_version": HOT_VERSION,
        "description": "tenrec verify: network, server signalling a wait condition, attached volume",
        "parameters": parameters,
        "resources": resources,
        "outputs": outputs,
    }


@dataclass
class MadeStack:
    stack_id: str
    name: str
    outputs: dict[str, Any]
    parameters: dict[str, str]
    template: dict[str, Any]
    domain_project: str  # the project Heat made for the stack's users in the stack user domain


def stack_project_name(project_id: str, stack_id: str) -> str:
    """The name Heat gives a stack's project in the stack user domain (64 characters at most)."""
    return f"{project_id}-{stack_id}"[:64]


def _stack_projects(conn: Any, name: str) -> list[Any]:
    return list(conn.identity.projects(name=name))


def outputs_of(stack: Any) -> dict[str, Any]:
    return {item["output_key"]: item.get("output_value") for item in stack.outputs or []}


def _failure(conn: Any, stack: Any) -> str:
    """The stack's reason and the first failed resource's, for a FAILED row."""
    failed = [r for r in conn.orchestration.resources(stack) if str(r.status).endswith("FAILED")]
    reasons = [f"{r.name} ({r.resource_type}): {r.status_reason}" for r in failed[:2]]
    return one_line(f"{stack.status_reason}; " + "; ".join(reasons), 400)


def wait_stack(conn: Any, stack_id: str, done: str, timeout: float) -> Any:
    """The stack once its status is done (None once deleted); CheckFailed with the reason on
    *_FAILED or timeout."""
    from openstack import exceptions  # noqa: PLC0415

    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    while True:
        try:
            stack = conn.orchestration.get_stack(stack_id)
        except exceptions.NotFoundException:
            if done == "DELETE_COMPLETE":  # Heat hides deleted stacks
                return None
            raise CheckFailed(f"stack {stack_id} disappeared while waiting for {done}") from None
        if stack.status == done:
            return stack
        if str(stack.status).endswith("FAILED"):
            raise CheckFailed(f"{stack.name} is {stack.status}: {_failure(conn, stack)}")
        if time.monotonic() > deadline:
            raise CheckFailed(f"{stack.name} is {stack.status} after {timeout:.0f} s, not {done}")
        time.sleep(INTERVAL)


def _cinder_on(ctx: Context) -> bool:
    if ctx.config is not None:
        return "cinder" in ctx.config.enabled_services()
    return ctx.conn.session.get_endpoint(service_type="block-storage", interface="public") is not None


def stack(ctx: Context) -> str:
    conn = ctx.conn
    tenant: network.TenantNetwork = ctx.scratch[network.TENANT_KEY]
    image_id, flavor_id, _net, _group = ctx.scratch[compute.BOOT_INPUTS_KEY]
    with_volume = _cinder_on(ctx)
    name = ctx.resource_name("stack")
    taken = [subnet.cidr for subnet in conn.network.subnets()] + [tenant.cidr]
    parameters = {
        "prefix": name,
        "cidr": network.choose_cidr(taken),
        "router": tenant.router_id,
        "image": image_id,
        "flavor": flavor_id,
        "server_name": f"{name}-server",
        "marker": f"tenrec-signal-{ctx.run_id}",
    }
    template = hot_template(with_volume)
    started = time.monotonic()
    made = conn.orchestration.create_stack(
        name=name,
        template=template,
        parameters=parameters,
        timeout_mins=int(scaled(STACK_TIMEOUT)) // 60,
        disable_rollback=True,
    )
    stack_id = str(made.id)

    def remove() -> None:  # a no-op once orchestration/delete has deleted it
        from openstack import exceptions  # noqa: PLC0415

        try:
            current = conn.orchestration.get_stack(stack_id)
        except exceptions.NotFoundException:
            return
        if current.status != "DELETE_COMPLETE":
            conn.orchestration.delete_stack(stack_id)
            wait_stack(conn, stack_id, "DELETE_COMPLETE", DELETE_TIMEOUT)

    ctx.on_cleanup(f"stack {name} ({stack_id})", remove)
    done = wait_stack(conn, stack_id, "CREATE_COMPLETE", STACK_TIMEOUT)
    seconds = time.monotonic() - started
    outputs = outputs_of(done)
    data = outputs.get("signal_data")
    signalled = json.loads(data) if isinstance(data, str) else data
    if not isinstance(signalled, dict) or parameters["marker"] not in signalled.values():
        raise CheckFailed(f"the wait condition's data is {data!r}, not the guest's {parameters['marker']!r}")
    server = conn.compute.get_server(outputs["server_id"])
    detail = f"CREATE_COMPLETE after {seconds:.1f}s; server {server.name} {server.status}, signalled by its guest"
    if with_volume:
        attached = [a.volume_id for a in conn.compute.volume_attachments(server)]
        if outputs.get("volume_id") not in attached:
            raise CheckFailed(f"volume {outputs.get('volume_id')} is not attached to {server.name} ({attached})")
        detail += f"; volume {outputs['volume_id'][:8]} attached"
    project_name = stack_project_name(str(conn.current_project_id), stack_id)
    if not _stack_projects(conn, project_name):
        raise CheckFailed(f"no project {project_name} for the stack's users (the wait condition handle's user)")
    ctx.scratch[STACK_KEY] = MadeStack(stack_id, name, outputs, parameters, template, project_name)
    return detail + "; its users' project in the stack user domain"


def update(ctx: Context) -> str:
    conn = ctx.conn
    made: MadeStack = ctx.scratch[STACK_KEY]
    renamed = f"{made.name}-renamed"
    started = time.monotonic()
    current = conn.orchestration.get_stack(made.stack_id)
    conn.orchestration.update_stack(
        current, template=made.template, parameters={**made.parameters, "server_name": renamed}
    )
    done = wait_stack(conn, made.stack_id, "UPDATE_COMPLETE", STACK_TIMEOUT)
    server_id = outputs_of(done)["server_id"]
    if server_id != made.outputs["server_id"]:
        raise CheckFailed(
            f"the update replaced the server ({made.outputs['server_id']} -> {server_id}), not renamed it"
        )
    server = conn.compute.get_server(server_id)
    if server.name != renamed:
        raise CheckFailed(f"the server is named {server.name} after the update, not {renamed}")
    return f"UPDATE_COMPLETE after {time.monotonic() - started:.1f}s; the same server renamed {renamed}"


def _gone(conn: Any, made: MadeStack) -> list[str]:
    """What of the deleted stack's resources (and its stack domain project) still exists."""
    outputs = made.outputs
    finders = {
        "server": lambda: conn.compute.find_server(outputs["server_id"], ignore_missing=True),
        "network": lambda: conn.network.find_network(outputs["network_id"], ignore_missing=True),
        "subnet": lambda: conn.network.find_subnet(outputs["subnet_id"], ignore_missing=True),
    }
    if "volume_id" in outputs:
        finders["volume"] = lambda: conn.block_storage.find_volume(outputs["volume_id"], ignore_missing=True)
    left = [f"{kind} {outputs[kind + '_id']}" for kind, find in finders.items() if find() is not None]
    left += [f"stack domain project {p.name}" for p in _stack_projects(conn, made.domain_project)]
    return left


def delete(ctx: Context) -> str:
    conn = ctx.conn
    made: MadeStack = ctx.scratch[STACK_KEY]
    started = time.monotonic()
    conn.orchestration.delete_stack(made.stack_id)
    wait_stack(conn, made.stack_id, "DELETE_COMPLETE", DELETE_TIMEOUT)
    deadline = time.monotonic() + scaled(RESOURCES_GONE_TIMEOUT)
    while left := _gone(conn, made):
        if time.monotonic() > deadline:
            raise CheckFailed(f"DELETE_COMPLETE, but still there: {', '.join(left)}")
        time.sleep(INTERVAL)
    kinds = "server, network, subnet" + (", volume" if "volume_id" in made.outputs else "")
    return f"DELETE_COMPLETE after {time.monotonic() - started:.1f}s; {kinds} and its stack domain project gone"


# --- CloudFormation -------------------------------------------------------------------------

CFN_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Description": "tenrec verify: an AWS wait condition signalled through its pre-signed URL",
    "Resources": {
        "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
        "Wait": {
            "Type": "AWS::CloudFormation::WaitCondition",
            "Properties": {"Handle": {"Ref": "Handle"}, "Timeout": str(int(scaled(CFN_TIMEOUT))), "Count": "1"},
        },
    },
    "Outputs": {
        "HandleURL": {"Value": {"Ref": "Handle"}},
        "Data": {"Value": {"Fn::GetAtt": ["Wait", "Data"]}},
    },
}


def cfn_client(endpoint: str, region: str, access: str, secret: str) -> Any:
    """A boto3 CloudFormation client of heat-api-cfn (SigV4 with the operator's EC2 credential)."""
    import boto3  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415

    return boto3.client(
        "cloudformation",
        # heat-api-cfn answers the Query API at /v1/ (POST /v1 is a 404).
        endpoint_url=endpoint.rstrip("/") + "/",
        region_name=region,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 2}),
    )


def _cfn_status(client: Any, name: str) -> dict[str, Any]:
    stacks = client.describe_stacks(StackName=name)["Stacks"]
    if len(stacks) != 1:
        raise CheckFailed(f"DescribeStacks {name} answered {len(stacks)} stacks")
    return dict(stacks[0])


def _handle_url(conn: Any, name: str, stack_id: str) -> str:
    """The pre-signed URL of the handle, read (native API) while the stack waits for it."""
    deadline = time.monotonic() + scaled(HANDLE_URL_TIMEOUT)
    while True:
        answer = conn.orchestration.get(f"/stacks/{name}/{stack_id}/outputs/HandleURL")
        value = answer.json().get("output", {}).get("output_value") if answer.status_code == 200 else None
        if isinstance(value, str) and value.startswith("http"):
            return value
        if time.monotonic() > deadline:
            raise CheckFailed(
                f"no pre-signed URL of the wait condition handle after {scaled(HANDLE_URL_TIMEOUT):.0f} s "
                f"({one_line(answer.text, 200)})"
            )
        time.sleep(INTERVAL)


def cfn(ctx: Context) -> str:
    """The CloudFormation API on a CFN-format template: ValidateTemplate, then the stack (made
    through the orchestration API: Keystone 30 refuses the trust that CreateStack needs to a
    token from EC2 credentials), its AWS wait condition signalled through the pre-signed URL,
    DescribeStacks until CREATE_COMPLETE with the signal's data, and DeleteStack."""
    import requests  # noqa: PLC0415

    secrets = deployment_secrets(ctx)
    conn = ctx.conn
    endpoint = conn.session.get_endpoint(service_type="cloudformation", interface="public")
    if endpoint is None:
        raise SkipCheck("the catalog has no cloudformation endpoint")
    region = conn.config.region_name or "RegionOne"
    client = cfn_client(endpoint, region, secrets["ec2_access_key"], secrets["ec2_secret_key"])
    body = json.dumps(CFN_TEMPLATE)
    validated = client.validate_template(TemplateBody=body)
    if validated.get("Description") != CFN_TEMPLATE["Description"]:
        raise CheckFailed(f"ValidateTemplate answered {validated!r}")
    name = ctx.resource_name("cfn")
    started = time.monotonic()
    stack_id = str(conn.orchestration.create_stack(name=name, template=CFN_TEMPLATE, timeout_mins=5).id)

    def remove() -> None:  # a no-op once the check's DeleteStack went through
        from openstack import exceptions  # noqa: PLC0415

        try:
            conn.orchestration.delete_stack(stack_id)
        except exceptions.NotFoundException:
            return
        wait_stack(conn, stack_id, "DELETE_COMPLETE", DELETE_TIMEOUT)

    ctx.on_cleanup(f"stack {name} ({stack_id})", remove)
    url = _handle_url(conn, name, stack_id)
    marker = f"tenrec-cfn-{ctx.run_id}"
    signal = {"Status": "SUCCESS", "Reason": "tenrec verify", "UniqueId": "1", "Data": marker}
    answer = requests.put(url, data=json.dumps(signal), headers={"Content-Type": "application/json"}, timeout=30)
    if answer.status_code >= 400:
        raise CheckFailed(f"PUT to the pre-signed URL: HTTP {answer.status_code} {one_line(answer.text, 200)}")
    deadline = time.monotonic() + scaled(CFN_TIMEOUT)
    while (status := _cfn_status(client, name))["StackStatus"] != "CREATE_COMPLETE":
        if str(status["StackStatus"]).endswith("FAILED") or time.monotonic() > deadline:
            raise CheckFailed(f"{name} is {status['StackStatus']}: {status.get('StackStatusReason')}")
        time.sleep(INTERVAL)
    outputs = {o["OutputKey"]: o.get("OutputValue") for o in status.get("Outputs", [])}
    if marker not in str(outputs.get("Data")):
        raise CheckFailed(f"the wait condition's Data output is {outputs.get('Data')!r}, not {marker!r}")
    created = time.monotonic() - started
    client.delete_stack(StackName=name)
    wait_stack(conn, stack_id, "DELETE_COMPLETE", DELETE_TIMEOUT)
    return (
        f"{endpoint}: ValidateTemplate ok; the AWS wait condition signalled through its pre-signed URL on "
        f"{url.split('/v1/')[0]}, DescribeStacks CREATE_COMPLETE after {created:.1f}s with its data; DeleteStack: gone"
    )


FAMILY = Family(
    SERVICE,
    ("orchestration", "cloudformation"),
    (
        Check(SERVICES, SERVICE, services, needs=(TOKEN,)),
        Check(STACK, SERVICE, stack, needs=(SERVICES, compute.BOOT, network.TENANT)),
        Check(UPDATE, SERVICE, update, needs=(STACK,)),
        Check(DELETE, SERVICE, delete, needs=(STACK,)),
        Check(CFN, SERVICE, cfn, needs=(SERVICES,)),
    ),
)
