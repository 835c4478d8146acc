"""Gnocchi alone on a controller: the API on the management address with Keystone auth, metricd,
the file storage, and measures that go in and come back aggregated."""

import json
import time

from tests.node_checks import assert_listens_only_on, assert_running

ADDRESS = "10.201.16.11"
OS = "openstack --os-cloud tenrec"
API = f"http://{ADDRESS}:8041"


def gnocchi(host, method, path, body=None):
    """curl on the node with a token of the operator: (HTTP status, parsed JSON or text)."""
    token = host.check_output(f"{OS} token issue -f value -c id")
    data = f"-H 'Content-Type: application/json' --data-binary '{json.dumps(body)}'" if body is not None else ""
    out = host.check_output(
        f"curl -sS -o /tmp/gnocchi.out -w '%{{http_code}}' -X {method} -H 'X-Auth-Token: {token}' {data} {API}{path}"
    )
    text = host.file("/tmp/gnocchi.out").content_string
    try:
        return int(out), json.loads(text)
    except ValueError:
        return int(out), text


def test_api_and_metricd_run_and_the_api_listens_on_the_management_address_only(host):
    for unit in ("gnocchi-api", "gnocchi-metricd"):
        assert_running(host, unit)
    assert_listens_only_on(host, ADDRESS, 8041)


def test_metric_in_the_catalog(host):
    endpoints = json.loads(host.check_output(f"{OS} endpoint list --service metric -f json"))
    assert sorted(e["Interface"] for e in endpoints) == ["admin", "internal", "public"]
    assert {e["URL"] for e in endpoints} == {API}


def test_config_readable_by_gnocchi_only_and_storage_is_its_own(host):
    conf = host.file("/etc/gnocchi/gnocchi.conf")
    assert (conf.user, conf.group, conf.mode) == ("root", "gnocchi", 0o640)
    assert "auth_mode = keystone" in conf.content_string
    storage = host.file("/var/lib/gnocchi/metrics")
    assert storage.is_directory and storage.user == "gnocchi"


def test_a_request_without_a_token_is_refused(host):
    assert host.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' {API}/v1/metric") == "401"


def test_status_reports_the_backlog_and_the_metricd_processor(host):
    # Coordinated through tooz's file driver (coordination_url), which keeps group membership:
    # Gnocchi's default, its MySQL index, keeps none and reported null processors.
    status, found = gnocchi(host, "GET", "/v1/status?details=false")
    assert status == 200, found
    assert set(found["storage"]["summary"]) == {"metrics", "measures"}, found
    assert found["metricd"]["processors"], found
    assert host.file("/etc/gnocchi/gnocchi.conf").contains("^coordination_url = file:///var/lib/gnocchi/coordination")


def test_measures_go_in_and_come_back_aggregated(host):
    status, metric = gnocchi(host, "POST", "/v1/metric", {"archive_policy_name": "low", "name": "mol-metric"})
    assert status == 201, metric
    try:
        measures = [{"timestamp": f"2026-12-05T10:0{n}:00", "value": float(n)} for n in range(4)]
        assert gnocchi(host, "POST", f"/v1/metric/{metric['id']}/measures", measures)[0] == 202
        # Without refresh=true the API answers only what metricd has aggregated: it does so
        # within its processing delay (30 s).
        deadline = time.monotonic() + 90
        while True:
            status, points = gnocchi(host, "GET", f"/v1/metric/{metric['id']}/measures?granularity=300")
            if points or time.monotonic() > deadline:
                break
            time.sleep(5)
        # Four measures in one 5-minute point of the low policy: their mean.
        assert points == [["2026-12-05T10:00:00+00:00", 300.0, 1.5]], points
        files = host.check_output(f"find /var/lib/gnocchi/metrics -path '*{metric['id']}*' | wc -l")
        assert int(files) > 0
    finally:
        gnocchi(host, "DELETE", f"/v1/metric/{metric['id']}")
