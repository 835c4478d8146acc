"""tenrec verify: the runner (order, skips, cleanup), its outputs, and the CLI without a cloud."""

from __future__ import annotations

import io
import json
import shutil
import socket
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from keystoneauth1 import access
from rich.console import Console

from tenrec.cli import main
from tenrec.config import load_config
from tenrec.exitcodes import Exit
from tenrec.paths import StateDir
from tenrec.verify import ALWAYS_DEPLOYED, deployed_services, registry
from tenrec.verify.cloud import API_TIMEOUT, NoCloud, connect
from tenrec.verify.core import (
    FAILED,
    OK,
    SKIPPED,
    Check,
    CheckFailed,
    Context,
    SelectionError,
    SkipCheck,
    run,
    select,
)
from tenrec.verify.identity import catalog_endpoints, judge_endpoints, token_detail
from tenrec.verify.report import perform

REPO = Path(__file__).resolve().parents[2]
CLOUDS_YAML = """\
clouds:
  tenrec:
    auth:
      auth_url: {auth_url}
      username: admin
      password: not-a-real-password
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
"""


class Journal:
    """Checks and undos that write down what ran, in order."""

    def __init__(self):
        self.events: list[str] = []

    def passes(self, name, detail="fine"):
        def function(ctx):
            self.events.append(name)
            return detail

        return function

    def fails(self, name, message="broken"):
        def function(ctx):
            self.events.append(name)
            raise CheckFailed(message)

        return function

    def creates(self, name, *things, then_fail=False, broken_undo=()):
        """A check that creates things, registering an undo right after each."""

        def function(ctx):
            self.events.append(name)
            for thing in things:
                ctx.on_cleanup(thing, self.undo(thing, broken=thing in broken_undo))
            if then_fail:
                raise RuntimeError(f"{name} went wrong after creating")
            return f"created {len(things)}"

        return function

    def undo(self, thing, broken=False):
        def function():
            self.events.append(f"undo {thing}")
            if broken:
                raise OSError(f"{thing} would not go away")

        return function


def rows_by_name(outcome):
    return {row.check: row for row in outcome.rows}


def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_checks_run_in_order_and_dependants_of_a_failure_are_skipped():
    j = Journal()
    checks = [
        Check("a/first", "keystone", j.passes("a/first", "token ok")),
        Check("b/broken", "glance", j.fails("b/broken", "HTTP 503 from glance"), needs=("a/first",)),
        Check("b/after-broken", "glance", j.passes("b/after-broken"), needs=("b/broken",)),
        Check("c/after-skipped", "nova", j.passes("c/after-skipped"), needs=("b/after-broken",)),
        Check("d/independent", "placement", j.passes("d/independent"), needs=("a/first",)),
    ]
    outcome = run(checks, Context(conn=None))
    assert j.events == ["a/first", "b/broken", "d/independent"]
    assert [row.check for row in outcome.rows] == [c.name for c in checks]
    rows = rows_by_name(outcome)
    assert (rows["a/first"].result, rows["a/first"].detail) == (OK, "token ok")
    assert (rows["b/broken"].result, rows["b/broken"].detail) == (FAILED, "HTTP 503 from glance")
    assert rows["b/after-broken"].result == SKIPPED
    assert rows["b/after-broken"].detail == "needs b/broken, which failed"
    assert rows["c/after-skipped"].detail == "needs b/after-broken, which was skipped"
    assert rows["d/independent"].result == OK
    assert not outcome.ok
    assert [row.check for row in outcome.failed] == ["b/broken"]


def test_an_unexpected_exception_is_a_failed_row_with_its_type_and_the_run_goes_on():
    def explodes(ctx):
        raise KeyError("resource_providers")

    j = Journal()
    outcome = run([Check("p/x", "placement", explodes), Check("p/y", "placement", j.passes("p/y"))], Context(None))
    rows = rows_by_name(outcome)
    assert rows["p/x"].result == FAILED
    assert rows["p/x"].detail == "KeyError: 'resource_providers'"
    assert rows["p/y"].result == OK
    assert j.events == ["p/y"]


def test_a_check_that_skips_itself_is_skipped_and_its_dependants_too_without_failing_the_run():
    def nothing_here(ctx):
        raise SkipCheck("no compute node has registered yet")

    j = Journal()
    checks = [
        Check("n/hypervisors", "nova", nothing_here),
        Check("n/boot", "nova", j.passes("n/boot"), needs=("n/hypervisors",)),
    ]
    outcome = run(checks, Context(None))
    rows = rows_by_name(outcome)
    assert (rows["n/hypervisors"].result, rows["n/hypervisors"].detail) == (
        SKIPPED,
        "no compute node has registered yet",
    )
    assert rows["n/boot"].detail == "needs n/hypervisors, which was skipped"
    assert j.events == []
    assert outcome.ok


def test_cleanup_runs_lifo_after_failures_and_a_failing_undo_is_its_own_failed_row():
    j = Journal()
    checks = [
        Check("i/one", "glance", j.creates("i/one", "image A", "image B", broken_undo=("image B",))),
        Check("i/two", "glance", j.creates("i/two", "image C", then_fail=True)),
        Check("i/three", "glance", j.passes("i/three"), needs=("i/two",)),
    ]
    outcome = run(checks, Context(None))
    assert j.events == ["i/one", "i/two", "undo image C", "undo image B", "undo image A"]
    assert [(row.check, row.result) for row in outcome.rows] == [
        ("i/one", OK),
        ("i/two", FAILED),
        ("i/three", SKIPPED),
        ("cleanup: image B", FAILED),
    ]
    cleanup = outcome.rows[-1]
    assert cleanup.detail == "OSError: image B would not go away"
    assert cleanup.service == "glance"
    assert outcome.rows[1].detail == "RuntimeError: i/two went wrong after creating"
    assert outcome.cleaned == ["image C", "image A"]


def test_keep_leaves_everything_and_lists_it_newest_first():
    j = Journal()
    outcome = run([Check("i/one", "glance", j.creates("i/one", "image A", "image B"))], Context(None), keep=True)
    assert j.events == ["i/one"]
    assert outcome.kept == ["image B", "image A"]
    assert outcome.cleaned == []
    assert outcome.ok


def test_an_interrupt_stops_the_checks_but_still_cleans_up():
    def interrupted(ctx):
        ctx.on_cleanup("image D", j.undo("image D"))
        raise KeyboardInterrupt

    j = Journal()
    checks = [
        Check("i/one", "glance", j.creates("i/one", "image A")),
        Check("i/two", "glance", interrupted),
        Check("i/three", "glance", j.passes("i/three")),
    ]
    outcome = run(checks, Context(None))
    assert j.events == ["i/one", "undo image D", "undo image A"]
    assert [(row.check, row.result, row.detail) for row in outcome.rows][1:] == [("i/two", FAILED, "interrupted")]
    assert outcome.interrupted


def test_progress_callbacks_name_each_running_check_and_cleanup():
    j = Journal()
    started, finished = [], []
    checks = [
        Check("i/one", "glance", j.creates("i/one", "image A")),
        Check("i/two", "glance", j.fails("i/two")),
        Check("i/three", "glance", j.passes("i/three"), needs=("i/two",)),
    ]
    run(checks, Context(None), on_start=started.append, on_row=finished.append)
    assert started == ["i/one", "i/two", "cleanup: image A"]  # a skipped check never starts
    assert [row.check for row in finished] == ["i/one", "i/two", "i/three"]


def test_context_names_resources_per_run():
    a, b = Context(None), Context(None)
    assert a.resource_name("image").startswith("tenrec-verify-")
    assert a.resource_name("image").endswith("-image")
    assert a.resource_name("image") != b.resource_name("image")


def test_perform_prints_the_table_writes_the_json_and_exits_1_on_a_failure(tmp_path):
    j = Journal()
    checks = [
        Check("i/one", "glance", j.creates("i/one", "image A", broken_undo=("image A",))),
        Check("i/two", "glance", j.fails("i/two", "sha256 differs")),
        Check("i/three", "glance", j.passes("i/three"), needs=("i/two",)),
    ]
    state = StateDir(tmp_path / ".tenrec")
    out = io.StringIO()
    rc = perform(checks, Context(None), state, Console(file=out, width=200), keep=False, title="verify test")
    assert rc == Exit.FAILED
    rows = json.loads((state.logs / "verify-last.json").read_text())
    assert [(r["check"], r["service"], r["result"], r["detail"]) for r in rows] == [
        ("i/one", "glance", "ok", "created 1"),
        ("i/two", "glance", "FAILED", "sha256 differs"),
        ("i/three", "glance", "skipped", "needs i/two, which failed"),
        ("cleanup: image A", "glance", "FAILED", "OSError: image A would not go away"),
    ]
    assert all(isinstance(r["seconds"], float) and r["seconds"] >= 0 for r in rows)
    text = out.getvalue()
    assert "verify test" in text
    assert "1 ok, 2 failed, 1 skipped" in text
    assert "2 check(s) failed." in text


def test_perform_exits_0_when_everything_passes_and_reports_kept_resources(tmp_path):
    j = Journal()
    state = StateDir(tmp_path / ".tenrec")
    out = io.StringIO()
    checks = [Check("i/one", "glance", j.creates("i/one", "image tenrec-verify-x (id 42)"))]
    rc = perform(checks, Context(None), state, Console(file=out, width=200), keep=True, title="t")
    assert rc == Exit.OK
    assert "image tenrec-verify-x (id 42)" in out.getvalue()
    assert j.events == ["i/one"]
    assert [r["result"] for r in json.loads((state.logs / "verify-last.json").read_text())] == ["ok"]


def test_perform_exits_130_when_interrupted(tmp_path):
    def interrupted(ctx):
        raise KeyboardInterrupt

    rc = perform(
        [Check("x/y", "keystone", interrupted)],
        Context(None),
        StateDir(tmp_path),
        Console(file=io.StringIO()),
        keep=False,
        title="t",
    )
    assert rc == Exit.INTERRUPTED


def test_the_registry_runs_identity_first_and_every_dependency_is_an_earlier_check():
    checks = select(registry(), ALWAYS_DEPLOYED)  # raises on a need that is unknown or later
    assert [c.name for c in checks] == [
        "identity/token",
        "identity/endpoints/identity",
        "identity/endpoints/image",
        "identity/endpoints/placement",
        "identity/endpoints/network",
        "identity/endpoints/compute",
        "image/upload",
        "placement/providers",
        "network/agents",
        "network/tenant",
        "compute/services",
        "compute/boot",
        "compute/config-drive",
        "compute/console",
        "network/floating-ip",
        "network/tcp",
        "network/security-group",
        "compute/delete",
    ]
    services = {c.name: c.service for c in checks}
    assert services["identity/endpoints/image"] == "glance"
    assert services["identity/endpoints/network"] == "neutron"
    assert services["network/floating-ip"] == "neutron"
    assert services["compute/delete"] == "nova"


def test_select_by_deployed_service_and_pattern_with_dependencies():
    j = Journal()
    checks = [
        Check("identity/token", "keystone", j.passes("t")),
        Check("block-storage/volume", "cinder", j.passes("v"), needs=("identity/token",)),
        Check("image/upload", "glance", j.passes("u"), needs=("identity/token",)),
        Check("image/list", "glance", j.passes("l"), needs=("identity/token",)),
    ]
    names = [c.name for c in select(checks, ["keystone", "glance"])]
    assert names == ["identity/token", "image/upload", "image/list"]
    assert [c.name for c in select(checks, ["keystone", "glance"], ["image/upload"])] == [
        "identity/token",
        "image/upload",
    ]
    assert len(select(checks, ["keystone", "glance", "cinder"], ["image"])) == 3
    assert len(select(checks, ["keystone", "glance"], ["*/list", "image/up*"])) == 3
    with pytest.raises(SelectionError, match="'block-storage' matches no check"):
        select(checks, ["keystone", "glance"], ["block-storage"])


def test_select_refuses_a_dependency_that_would_never_run_first():
    def nothing(ctx):
        return None

    with pytest.raises(ValueError, match="a/x needs b/y, which is not an earlier check"):
        select([Check("a/x", "keystone", nothing, needs=("b/y",)), Check("b/y", "keystone", nothing)], ["keystone"])


def test_optional_services_of_the_config_are_deployed_services():
    config = load_config(REPO / "inventory/aio/tenrec.yml")
    services = deployed_services(config)
    assert services[:5] == list(ALWAYS_DEPLOYED)
    assert set(config.enabled_services()) <= set(services)


class Statuses(BaseHTTPRequestHandler):
    """GET /<status> answers with that status, as an unauthenticated API root would."""

    def do_GET(self):
        self.send_response(int(self.path.strip("/").split("/")[0]))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def web():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Statuses)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_endpoints_that_answer_below_500_pass(web):
    detail = judge_endpoints(
        "image",
        [("public", f"{web}/300"), ("internal", f"{web}/300"), ("admin", f"{web}/200/v3")],
    )
    assert detail == f"public/internal {web}/300 300; admin {web}/200/v3 200"


def test_endpoint_failures_name_the_interface_and_url(web):
    refused = f"http://127.0.0.1:{closed_port()}/v3"
    with pytest.raises(CheckFailed) as failed:
        judge_endpoints("placement", [("public", f"{web}/503"), ("internal", refused)], timeout=5)
    message = str(failed.value)
    assert "no admin endpoint" in message
    assert f"public {web}/503: HTTP 503" in message
    assert f"internal {refused}: ConnectionError" in message


def keystone_token(catalog):
    """What keystone answers to POST /v3/auth/tokens, as keystoneauth reads it."""
    body = {
        "token": {
            "expires_at": "2030-01-02T03:04:05.000000Z",
            "project": {"id": "p1", "name": "admin", "domain": {"id": "default", "name": "Default"}},
            "user": {"id": "u1", "name": "admin", "domain": {"id": "default", "name": "Default"}},
            "catalog": catalog,
        }
    }
    return access.create(body=body, auth_token="not-a-token")


def endpoint(interface, url, region="RegionOne"):
    return {"id": f"{interface}-{region}", "interface": interface, "region": region, "region_id": region, "url": url}


def test_token_detail_names_project_user_and_expiry():
    detail = token_detail(keystone_token([]))
    assert detail == "project admin (domain Default), user admin, expires 2030-01-02 03:04:05 UTC"


def test_catalog_endpoints_of_one_type_in_the_region():
    token = keystone_token(
        [
            {
                "type": "image",
                "name": "glance",
                "id": "s1",
                "endpoints": [
                    endpoint("public", "http://203.0.113.5:9292"),
                    endpoint("internal", "http://192.0.2.10:9292"),
                    endpoint("admin", "http://192.0.2.10:9292"),
                    endpoint("public", "http://elsewhere:9292", region="RegionTwo"),
                ],
            },
            {"type": "placement", "name": "placement", "id": "s2", "endpoints": [endpoint("public", "http://p:8778")]},
        ]
    )
    assert catalog_endpoints(token.service_catalog, "image", "RegionOne") == [
        ("public", "http://203.0.113.5:9292"),
        ("internal", "http://192.0.2.10:9292"),
        ("admin", "http://192.0.2.10:9292"),
    ]
    assert catalog_endpoints(token.service_catalog, "compute", "RegionOne") == []


def write_config(tmp_path):
    config = tmp_path / "tenrec.yml"
    shutil.copy(REPO / "inventory/aio/tenrec.yml", config)
    return config


def test_verify_without_clouds_yaml_says_deploy_first_and_exits_5(tmp_path, capsys):
    config = write_config(tmp_path)
    rc = main(["verify", "-c", str(config)])
    captured = capsys.readouterr()
    assert rc == Exit.NOT_DEPLOYED == 5
    message = " ".join(captured.err.split())
    assert f"no {tmp_path / '.tenrec' / 'clouds.yaml'}" in message
    assert "Run `tenrec deploy` first" in message
    assert not (tmp_path / ".tenrec").exists(), "verify creates nothing when there is no cloud"


def test_verify_only_with_an_unknown_pattern_exits_2_before_connecting(tmp_path, capsys):
    config = write_config(tmp_path)
    rc = main(["verify", "-c", str(config), "--only", "dns/zone"])
    assert rc == Exit.INVALID_CONFIG
    assert "'dns/zone' matches no check" in capsys.readouterr().err


def test_verify_help(capsys):
    with pytest.raises(SystemExit) as done:
        main(["verify", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for option in ("--only", "--keep", "--os-cloud", "--config", "--guest"):
        assert option in text


def write_clouds(tmp_path, auth_url):
    state = StateDir(tmp_path / ".tenrec")
    state.create()
    path = state.root / "clouds.yaml"
    path.write_text(CLOUDS_YAML.format(auth_url=auth_url))
    path.chmod(0o600)
    return state


def test_connect_reads_exactly_the_deployments_clouds_yaml(tmp_path, monkeypatch):
    state = write_clouds(tmp_path, "http://192.0.2.10:5000/v3")
    decoy = tmp_path / "decoy.yaml"
    decoy.write_text(CLOUDS_YAML.format(auth_url="http://decoy.invalid:5000/v3"))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(decoy))
    monkeypatch.setenv("OS_AUTH_URL", "http://env.invalid:5000/v3")
    monkeypatch.setenv("OS_CLOUD", "elsewhere")
    conn = connect(state)  # builds the connection only: nothing is sent
    assert conn.config.get_auth_args()["auth_url"] == "http://192.0.2.10:5000/v3"
    assert conn.config.region_name == "RegionOne"
    assert conn.config.get_interface() == "public"
    assert conn.config.config["api_timeout"] == API_TIMEOUT


def test_connect_with_a_clouds_yaml_lacking_the_cloud_says_so(tmp_path):
    state = write_clouds(tmp_path, "http://192.0.2.10:5000/v3")
    (state.root / "clouds.yaml").write_text("clouds:\n  other:\n    auth: {}\n")
    with pytest.raises(NoCloud, match=r"clouds\.yaml: .*tenrec"):
        connect(state)


def test_verify_against_nothing_listening_fails_the_token_and_skips_the_rest(tmp_path, capsys):
    """The whole command on a clouds.yaml whose keystone does not answer: exit 1, rows in the JSON."""
    config = write_config(tmp_path)
    state = write_clouds(tmp_path, f"http://127.0.0.1:{closed_port()}/v3")
    (state.root / "clouds.yaml").chmod(0o644)
    rc = main(["verify", "-c", str(config)])
    captured = capsys.readouterr()
    assert rc == Exit.FAILED
    assert "readable by others" in " ".join(captured.err.split())
    rows = json.loads((state.logs / "verify-last.json").read_text())
    assert rows[0]["check"] == "identity/token"
    assert rows[0]["result"] == "FAILED"
    assert rows[0]["detail"]
    # Every row of the deployed services (the config's defaults: cinder on), all but one skipped.
    from tenrec.config import load_config  # noqa: PLC0415
    from tenrec.verify import deployed_services, registry, select  # noqa: PLC0415

    assert len(rows) == len(select(registry(), deployed_services(load_config(config)))) == 44
    assert all(r["result"] == "skipped" for r in rows[1:])
    details = {r["check"]: r["detail"] for r in rows}
    assert details["image/upload"] == details["network/tenant"] == "needs identity/token, which failed"
    assert details["compute/boot"] == "needs compute/services, which was skipped"
    assert stat.S_IMODE((state.root / "clouds.yaml").stat().st_mode) == 0o644, "verify changes nothing"
