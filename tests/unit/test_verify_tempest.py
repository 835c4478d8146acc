"""tenrec verify --tempest: reading Tempest's results, its config overrides, the CLI's options."""

from __future__ import annotations

import configparser
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tenrec.cli import main
from tenrec.exitcodes import Exit
from tenrec.verify.tempest import (
    RESULTS_PROGRAM,
    Outcome,
    TestResult,
    default_selection,
    overrides,
    parse_results,
    set_options,
    short_reason,
)

REPO = Path(__file__).resolve().parents[2]
SMOKE_ID = "tempest.api.compute.servers.test_create_server.ServersTestJSON.test_list_servers[id-9a438d88,smoke]"

TRACEBACK = """Traceback (most recent call last):

  File "/venv/lib/python3.11/site-packages/tempest/lib/common/ssh.py", line 237, in exec_command
    raise exceptions.SSHExecCommandFailed(

    tempest.lib.exceptions.SSHExecCommandFailed: Command 'sudo mount /dev/sr0 /mnt', exit status: 255, stderr:
mount: mounting /dev/sr0 on /mnt failed: No such file or directory

stdout:
"""


def test_a_failures_reason_is_its_exception_and_the_stderr_after_it():
    assert short_reason(TRACEBACK) == (
        "tempest.lib.exceptions.SSHExecCommandFailed: Command 'sudo mount /dev/sr0 /mnt', exit status: 255, "
        "stderr: mount: mounting /dev/sr0 on /mnt failed: No such file or directory"
    )


def test_a_skips_reason_is_its_text_and_long_ones_are_cut():
    assert short_reason("Cinder is not available") == "Cinder is not available"
    assert short_reason("") == "(no reason given)"
    cut = short_reason("x" * 500, limit=50)
    assert len(cut) == 50 and cut.endswith("…")


def test_results_sort_into_passed_failed_and_skipped():
    outcome = parse_results(
        {
            SMOKE_ID: {"status": "success", "reason": ""},
            "tempest.api.volume.test_x.VolumesTest.test_y[id-1,smoke]": {"status": "skip", "reason": "no cinder"},
            "tempest.scenario.test_a.T.test_b[id-2,smoke]": {"status": "fail", "reason": TRACEBACK},
            "setUpClass (tempest.api.network.test_z.Z)": {"status": "fail", "reason": "boom"},
        }
    )
    assert [r.name for r in outcome.passed] == [SMOKE_ID.split("[", maxsplit=1)[0]]
    assert [r.status for r in outcome.failed] == ["fail", "fail"]
    assert [r.reason for r in outcome.skipped] == ["no cinder"]
    assert outcome.counts() == "4 tests: 1 passed, 2 failed, 1 skipped"
    assert Outcome([TestResult("a", "xfail")]).passed  # an expected failure counts as passed


def test_the_results_program_reads_a_real_subunit_stream(tmp_path):
    """RESULTS_PROGRAM against a stream written by python-subunit itself (skips without it)."""
    subunit = pytest.importorskip("subunit")
    from subunit import StreamResultToBytes  # noqa: PLC0415

    stream = tmp_path / "stream"
    with stream.open("wb") as handle:
        out = StreamResultToBytes(handle)
        out.status(test_id="t.ok", test_status="success")
        # As stestr writes them: the attachment first, then the final status.
        out.status(test_id="t.skip", file_name="reason", file_bytes=b"no swift", mime_type="text/plain", eof=True)
        out.status(test_id="t.skip", test_status="skip")
    assert subunit is not None
    result = subprocess.run(
        [sys.executable, "-c", RESULTS_PROGRAM], input=stream.read_bytes(), capture_output=True, check=True
    )
    data = json.loads(result.stdout)
    assert data["t.ok"]["status"] == "success"
    assert data["t.skip"] == {"status": "skip", "reason": "no swift"}


def test_the_config_tells_tempest_what_discovery_cannot_know():
    pairs = overrides("img-1", ["fl-1", "fl-2"], 3)
    values = dict(zip(pairs[::2], pairs[1::2], strict=True))
    assert values["compute.image_ref"] == values["compute.image_ref_alt"] == "img-1"
    assert (values["compute.flavor_ref"], values["compute.flavor_ref_alt"]) == ("fl-1", "fl-2")
    assert values["compute.min_compute_nodes"] == "3"
    assert values["validation.run_validation"] == "true"
    assert values["validation.image_ssh_user"] == "root"
    assert values["compute_feature_enabled.config_drive"] == "true"
    assert "service_available.horizon" not in values


def test_the_config_says_where_the_dashboard_is():
    pairs = overrides("img-1", ["fl-1", "fl-2"], 1, "http://192.0.2.10")
    values = dict(zip(pairs[::2], pairs[1::2], strict=True))
    assert values["service_available.horizon"] == "true"
    assert values["dashboard.dashboard_url"] == "http://192.0.2.10/"
    assert values["dashboard.login_url"] == "http://192.0.2.10/auth/login/"


def test_the_default_selection_is_the_smoke_suite_and_with_heat_its_plugins_api_tests():
    smoke = "tempest.api.compute.servers.test_create_server.ServersTestJSON.test_list_servers[id-9a438d88,smoke]"
    heat_api = "heat_tempest_plugin.tests.api.test_heat_api.stacks_create_stack[id-1]"
    heat_scenario = "heat_tempest_plugin.tests.scenario.test_server_signal.ServerSignalIntegrationTest.test_x[id-2]"
    plain = "tempest.api.compute.servers.test_servers.ServersTestJSON.test_update_server_name[id-5e6ccff8]"
    without, with_heat = default_selection(["keystone", "nova"]), default_selection(["keystone", "nova", "heat"])
    assert [bool(re.search(without, test)) for test in (smoke, heat_api, heat_scenario, plain)] == [1, 0, 0, 0]
    assert [bool(re.search(with_heat, test)) for test in (smoke, heat_api, heat_scenario, plain)] == [1, 1, 0, 0]


def write_config(tmp_path):
    config = tmp_path / "tenrec.yml"
    config.write_text((REPO / "inventory/aio/tenrec.yml").read_text())
    return config


@pytest.mark.parametrize(
    "extra",
    [["--regex", "smoke"], ["--concurrency", "4"], ["--tempest", "--only", "image"], ["--tempest", "--keep"]],
)
def test_tempest_options_that_do_not_go_together_exit_2_before_connecting(tmp_path, capsys, extra):
    rc = main(["verify", "-c", str(write_config(tmp_path)), *extra])
    assert rc == Exit.INVALID_CONFIG
    assert "--tempest" in capsys.readouterr().err


def test_no_workers_is_refused_naming_the_option(tmp_path, capsys):
    rc = main(["verify", "-c", str(write_config(tmp_path)), "--tempest", "--concurrency", "0"])
    assert rc == Exit.INVALID_CONFIG
    assert "--concurrency 0: give 1 or more test workers" in capsys.readouterr().err


def test_the_tempest_guest_has_ssh_and_the_commands_tempest_runs():
    from tests import guest_image  # noqa: PLC0415

    script = guest_image.tempest_script()
    assert "/usr/sbin/dropbear -R -s -p 22" in script
    assert "public-keys/0/openssh-key" in script
    assert set(guest_image.SSH_SHIMS) == {"usr/bin/sudo", "usr/bin/curl", "usr/bin/blkid"}
    assert guest_image.SSH_PACKAGES == ("dropbear-bin",)


def test_a_tool_that_died_is_summed_up_by_its_exception():
    from tenrec.verify.tempest import failure_summary  # noqa: PLC0415

    output = (
        "2026-12-02 01:16:35.738 4844 ERROR tempest Traceback (most recent call last):\n"
        "2026-12-02 01:16:35.738 4844 ERROR tempest tempest.lib.exceptions.EndpointNotFound: Endpoint not found\n"
        "Service: block-storage, Region: RegionOne\nCatalog: [{'endpoints': [...]}]\n"
    )
    assert failure_summary(output) == "tempest.lib.exceptions.EndpointNotFound: Endpoint not found"
    assert failure_summary("plain failure\nlast line") == "plain failure\nlast line"


def test_options_go_into_tempest_conf_and_the_rest_stays(tmp_path):
    conf = tmp_path / "tempest.conf"
    conf.write_text(
        "[DEFAULT]\nlog_file = tempest.log\n\n[heat_plugin]\nusername = demo_tempestconf\nregion = RegionOne\n"
    )
    set_options(conf, "heat_plugin", {"username": "u1", "password": "p%w"})
    set_options(conf, "dashboard", {"dashboard_url": "http://192.0.2.10/"})
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(conf)
    assert dict(parser["heat_plugin"]) == {
        "log_file": "tempest.log",
        "username": "u1",
        "region": "RegionOne",
        "password": "p%w",
    }
    assert parser["dashboard"]["dashboard_url"] == "http://192.0.2.10/"
    assert conf.stat().st_mode & 0o777 == 0o600


SERVER = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
OTHER_SERVER = "11111111-2222-3333-4444-555555555555"
REST, SSH = "tempest.lib.common.rest_client", "tempest.lib.common.utils.linux.remote_client"
NOVA = "http://10.89.1.11:8774/v2.1/servers"
TEMPEST_LOG = "".join(
    f"2026-12-07 16:{when} {process} {level} {logger} [-] {message}\n"
    for when, process, level, logger, message in (
        ("40:00.100", 900, "INFO", REST, f"Request (ServersTestJSON:test_list_servers): 200 GET {NOVA} 0.2s"),
        ("40:01.100", 901, "INFO", REST, f"Request (ServerActionsTestJSON:setUpClass): 202 POST {NOVA} 1.1s"),
        ("40:01.101", 901, "DEBUG", REST, f'Request - Headers: {{}}\n        Body: {{"id": "{SERVER}"}}'),
        ("40:01.200", 901, "INFO", REST, "Request (ServerActionsTestJSON:setUpClass): 201 POST /v3/users 0.1s"),
        ("40:01.201", 901, "DEBUG", REST, 'Request - Headers: {}\n        Body: {"password": "Zq7&x", "a": 1}'),
        ("41:00.000", 902, "DEBUG", SSH, f"Console log for server {OTHER_SERVER}: not ours"),
        ("45:02.000", 901, "DEBUG", SSH, f"Caller: ServerActionsTestJSON:setUpClass. ssh timed out: {SERVER}"),
        ("45:03.000", 901, "DEBUG", SSH, f"Console log for server {SERVER}: tenrec-guest: lease 10.1.0.5/28 on eth0"),
        ("45:03.000", 901, "DEBUG", SSH, "continued\ntenrec-guest: ssh on port 22"),
        ("45:04.000", 902, "INFO", REST, f"Request (ServersTestJSON:tearDownClass): 204 DELETE {NOVA}/x 0.3s"),
    )
)


def test_a_failed_classes_log_records_and_its_servers_consoles_are_picked_out(tmp_path):
    from tenrec.verify.tempest import failure_log, test_class, write_failure_log  # noqa: PLC0415

    setup = "setUpClass (tempest.api.compute.servers.test_server_actions.ServerActionsTestJSON)"
    assert test_class(setup) == "ServerActionsTestJSON"
    assert test_class(SMOKE_ID) == "ServersTestJSON"
    picked = failure_log(TEMPEST_LOG, [TestResult(setup, "fail")])
    # The class's requests (with their bodies), its SSH timeout, its server's console; nothing else.
    assert "Request (ServerActionsTestJSON:setUpClass): 202 POST" in picked
    assert f'Body: {{"id": "{SERVER}"}}' in picked
    assert "ssh timed out" in picked
    assert "tenrec-guest: lease 10.1.0.5/28 on eth0\n" in picked
    assert "continued" not in picked  # a record of the same process that is not a request's details
    assert "ServersTestJSON:" not in picked and "not ours" not in picked
    # Tempest's throwaway users' passwords are not copied out.
    assert '"password": "***", "a": 1' in picked and "Zq7&x" not in picked
    assert failure_log(TEMPEST_LOG, []) == ""
    # Only what this run appended; a private file; nothing written when nothing matches.
    debug_log, out = tmp_path / "tempest.log", tmp_path / "failed.log"
    debug_log.write_text("2026-12-06 10:00:00.000 1 INFO x [-] Request (ServerActionsTestJSON:setUpClass): old run\n")
    start = debug_log.stat().st_size
    with debug_log.open("a") as log:
        log.write(TEMPEST_LOG)
    assert write_failure_log(debug_log, start, [TestResult(setup, "fail")], out)
    assert "old run" not in out.read_text() and "ssh timed out" in out.read_text()
    assert out.stat().st_mode & 0o777 == 0o600
    other = TestResult("tempest.api.image.v2.test_images.BasicOperationsImagesTest.test_x[id-1]", "fail")
    assert not write_failure_log(debug_log, start, [other], tmp_path / "none.log")
    assert not write_failure_log(tmp_path / "missing.log", 0, [other], tmp_path / "none.log")


def test_the_guest_asks_the_metadata_service_for_a_time_not_a_count_of_tries(tmp_path):
    """A refused connection fails at once: the guest keeps asking for PATIENCE seconds (the
    proxy can come up late on a loaded cloud), and says when it took more than one try."""
    from tests.guest_image import retrying, ssh_script  # noqa: PLC0415

    flag = tmp_path / "tries"
    third_time = f"echo x >> {flag}; [ $(wc -l < {flag}) -ge 3 ]"
    script = "\n".join(
        [
            *retrying(third_time, 30, "probe"),
            "echo result=$fetched",
            *retrying("false", 1, "never"),
            "echo result=$fetched",
        ]
    )
    lines = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True, timeout=30).stdout
    assert re.search(r"^tenrec-guest: probe: yes after 3 tries, up \d+ s\nresult=yes$", lines, re.M), lines
    assert re.search(r"^tenrec-guest: never: no after \d+ tries, up \d+ s\nresult=no$", lines, re.M), lines
    assert "give_up=$(( $(cut -d. -f1 /proc/uptime) + 300 ))" in ssh_script()
