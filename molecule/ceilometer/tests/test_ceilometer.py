"""Ceilometer's controller agents next to Gnocchi, RabbitMQ and Glance: the notification agent
and the central poller run, ceilometer-upgrade made Gnocchi's resource types, and an image
uploaded with the plain openstack CLI reaches Gnocchi through Glance's notification."""

import json
import time

from tests.node_checks import assert_running

ADDRESS = "10.201.17.11"
OS = "openstack --os-cloud tenrec"
API = f"http://{ADDRESS}:8041"


def gnocchi_get(host, path):
    token = host.check_output(f"{OS} token issue -f value -c id")
    out = host.run(f"curl -sSf -H 'X-Auth-Token: {token}' {API}{path}")
    return json.loads(out.stdout) if out.rc == 0 else None


def test_the_controller_agents_run_and_no_compute_agent(host):
    for unit in ("ceilometer-agent-notification", "ceilometer-polling-central"):
        assert_running(host, unit)
    assert not host.service("ceilometer-polling-compute").is_running


def test_config_and_pipelines_readable_by_ceilometer_only(host):
    for name in ("ceilometer.conf", "polling.yaml", "pipeline.yaml", "event_pipeline.yaml"):
        conf = host.file(f"/etc/ceilometer/{name}")
        assert (conf.user, conf.group, conf.mode) == ("root", "ceilometer", 0o640), name
    assert "gnocchi://" in host.file("/etc/ceilometer/pipeline.yaml").content_string


def test_glance_sends_notifications_because_ceilometer_reads_them(host):
    conf = host.file("/etc/glance/glance-api.conf").content_string
    section = conf.split("[oslo_messaging_notifications]", 1)[1].split("\n[", 1)[0]
    assert "driver = messagingv2" in section


def test_ceilometer_upgrade_made_the_resource_types(host):
    types = {kind["name"] for kind in gnocchi_get(host, "/v1/resource_type")}
    assert {"instance", "image", "volume", "instance_network_interface"} <= types


def test_an_uploaded_image_becomes_a_gnocchi_resource_with_its_size(host):
    host.check_output("head -c 1048576 /dev/urandom > /tmp/telemetry.raw")
    create = f"{OS} image create --disk-format raw --container-format bare --file /tmp/telemetry.raw"
    image = json.loads(host.check_output(f"{create} mol-telemetry -f json"))
    try:
        deadline = time.monotonic() + 180
        while True:
            resource = gnocchi_get(host, f"/v1/resource/image/{image['id']}")
            metric = (resource or {}).get("metrics", {}).get("image.size")
            points = gnocchi_get(host, f"/v1/metric/{metric}/measures?refresh=true") if metric else None
            if points or time.monotonic() > deadline:
                break
            time.sleep(5)
        assert points, f"no image.size measures of image {image['id']} in Gnocchi after 180 s: {resource}"
        assert points[-1][2] == 1048576.0
        # The publisher made its archive policies with its first batch.
        assert "ceilometer-low" in {policy["name"] for policy in gnocchi_get(host, "/v1/archive_policy")}
    finally:
        host.run(f"{OS} image delete {image['id']}")


def test_nothing_piles_up_in_rabbitmq(host):
    # Every notification queue has a consumer: the notification agent reads what is sent.
    queues = host.check_output("rabbitmqctl list_queues -q --formatter json name consumers messages")
    piled = [q for q in json.loads(queues) if q["name"].startswith("notifications") and not q["consumers"]]
    assert piled == []
