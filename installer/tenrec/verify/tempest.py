"""`tenrec verify --tempest`: the upstream test suite judges the deployed cloud.

Tempest and python-tempestconf run from a venv of their own (pinned, built once under
~/.cache/tenrec/tempest). For each run: Tempest's guest (a Debian kernel and a busybox
initramfs with Debian's dropbear, tests/guest_image.py `tempest`) and two flavors are
created, discover-tempest-config writes tempest.conf from the catalog with what tenrec
knows set explicitly (images, flavors, SSH as root with the keypair, compute nodes), and
`tempest run` runs the smoke suite (with Heat, heat-tempest-plugin's API tests too; or
--regex). Results: passed / failed / skipped with
each failure's and skip's reason, on the console and in .tenrec/logs/tempest-last.json;
for failures, what Tempest's debug log says of their classes (and their servers' consoles)
in .tenrec/logs/tempest-STAMP-failed.log.
The images and flavors are removed afterwards; Tempest removes its own projects.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenrec.paths import StateDir
from tenrec.verify.patience import scaled

TEMPEST_VERSION = "47.0.0"
TEMPESTCONF_VERSION = "3.5.4"
# Heat's own tests live in this plugin; tempestconf fills its [heat_plugin] section.
HEAT_PLUGIN_VERSION = "3.0.0"
REQUIREMENTS = (
    f"tempest=={TEMPEST_VERSION}",
    f"python-tempestconf=={TEMPESTCONF_VERSION}",
    f"heat-tempest-plugin=={HEAT_PLUGIN_VERSION}",
)
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tenrec" / "tempest"
# The release's upper-constraints pin Tempest's libraries (Tempest itself is branchless).
CONSTRAINTS = Path("releases/2026.2/upper-constraints.txt")

# Tempest's guest: 256 MiB is plenty (its /init lives in the initramfs); alt is a bigger one
# for the resize tests. Seconds: builds and SSH are slow under emulation.
FLAVORS = ({"ram": 256, "vcpus": 1, "disk": 1}, {"ram": 320, "vcpus": 1, "disk": 1})
BUILD_TIMEOUT = 300
SSH_TIMEOUT = 300

# `tempest run --smoke` selects the tests tagged smoke; heat-tempest-plugin tags none of its
# tests, and its API tests (gabbi, no guest) are what stands for them: every orchestration
# API call on stacks, resources, templates, environments and software configs.
SMOKE = r"\[.*\bsmoke\b.*\]"
HEAT_API_TESTS = r"^heat_tempest_plugin\.tests\.api\."


def default_selection(services: Sequence[str]) -> str:
    """The regex of a run without --regex: the smoke suite, and Heat's API tests with Heat."""
    return f"{SMOKE}|{HEAT_API_TESTS}" if "heat" in services else SMOKE


# Reads a subunit v2 stream on stdin (stestr last --subunit), prints {test id: {status, reason}}.
RESULTS_PROGRAM = r"""
import json, sys
import subunit, testtools
results = {}
def on_test(test):
    details = test["details"]
    part = details.get("reason") if test["status"] == "skip" else details.get("traceback")
    text = b"".join(part.iter_bytes()).decode("utf-8", "replace") if part is not None else ""
    results[test["id"]] = {"status": test["status"], "reason": text[-3000:]}
stream = subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name="stdout")
result = testtools.StreamToDict(on_test)
result.startTestRun()
stream.run(result)
result.stopTestRun()
json.dump(results, sys.stdout)
"""

PASSED = ("success", "xfail")
FAILED = ("fail", "uxsuccess")
SKIPPED = ("skip",)
# A line of `tempest run` per finished test: "{0} tempest.api....test_x[id-…,smoke] [0.3s] ... ok"
PROGRESS = re.compile(r"^\{\d+\} (?P<test>\S+) .*\.\.\. (?P<status>ok|FAILED|SKIPPED)")


class TempestError(Exception):
    """Tempest could not be set up or run; the message says why and what to do."""


@dataclass
class TestResult:
    test: str
    status: str
    reason: str = ""

    @property
    def name(self) -> str:
        """The test's id without Tempest's attribute suffix ([id-…,smoke])."""
        return self.test.split("[", 1)[0]


@dataclass
class Outcome:
    results: list[TestResult] = field(default_factory=list)

    def having(self, statuses: Sequence[str]) -> list[TestResult]:
        return [r for r in self.results if r.status in statuses]

    @property
    def passed(self) -> list[TestResult]:
        return self.having(PASSED)

    @property
    def failed(self) -> list[TestResult]:
        return self.having(FAILED)

    @property
    def skipped(self) -> list[TestResult]:
        return self.having(SKIPPED)

    def counts(self) -> str:
        total, passed, failed, skipped = len(self.results), len(self.passed), len(self.failed), len(self.skipped)
        return f"{total} tests: {passed} passed, {failed} failed, {skipped} skipped"


# Tempest's own debug log (tempest.conf's log_file, in the workspace): one record per line
# that starts with a time stamp, the lines after it (a response body, a console log) its own.
RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[.,]\d+ ")
CONSOLE_RECORD = re.compile(r"Console log for server (?P<server>[0-9a-f-]{36})")
RECORD_LIMIT = 4000
REQUEST_DETAILS = "Request - Headers:"  # rest_client's DEBUG record after each request's INFO one
TEMPEST_LOG = "tempest.log"  # python-tempestconf's log_file, relative to `tempest run`'s cwd
# Tempest logs request and response bodies whole: its per-class users' passwords, servers'
# adminPass, its validation keypairs' private keys. They are masked in what is copied out.
SECRET_VALUE = re.compile(r"""(["'](?:password|adminPass|private_key)["']: ["'])[^"']*""")


def test_class(test_id: str) -> str:
    """The class a result names: `setUpClass (pkg.module.Class)` or `pkg.module.Class.test_x[…]`."""
    match = re.match(r"^\w+ \((?P<path>[\w.]+)\)$", test_id)
    path = match["path"] if match else test_id.split("[", 1)[0].rsplit(".", 1)[0]
    return path.rsplit(".", 1)[-1]


def log_records(text: str) -> list[str]:
    records: list[str] = []
    for line in text.splitlines():
        if RECORD_START.match(line) or not records:
            records.append(line)
        else:
            records[-1] += "\n" + line
    return records


def failure_log(text: str, failed: Sequence[TestResult]) -> str:
    """The records of Tempest's log that the failed tests' classes wrote (its callers are named
    `Class:method`; a request's headers and bodies follow it from the same process), and the
    console logs of the servers those records name."""
    classes = sorted({test_class(result.test) for result in failed})
    if not classes:
        return ""
    caller = re.compile(r"\b(?:" + "|".join(map(re.escape, classes)) + r"):")
    chosen: list[bool] = []
    last_chosen: dict[str, bool] = {}  # by process id, the third field
    records = log_records(text)
    for record in records:
        fields = record.split(" ", 5)
        process = fields[2] if len(fields) > 2 else ""
        ours = bool(caller.search(record)) or (REQUEST_DETAILS in record and last_chosen.get(process, False))
        last_chosen[process] = ours
        chosen.append(ours)
    mentioned = "\n".join(record for record, ours in zip(records, chosen, strict=True) if ours)

    def kept(record: str, ours: bool) -> bool:
        console = CONSOLE_RECORD.search(record)
        return ours or (console is not None and console["server"] in mentioned)

    cut = [
        SECRET_VALUE.sub(r"\1***", record if len(record) <= RECORD_LIMIT else record[:RECORD_LIMIT] + " …")
        for record, ours in zip(records, chosen, strict=True)
        if kept(record, ours)
    ]
    return "\n".join(cut) + "\n"


def parse_results(data: dict[str, dict[str, str]]) -> Outcome:
    """RESULTS_PROGRAM's output, in test id order."""
    return Outcome([TestResult(test, r["status"], r.get("reason", "")) for test, r in sorted(data.items())])


EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Failed|Failure|Timeout|Exc)\w*: ")


def short_reason(text: str, limit: int = 300) -> str:
    """A failure's last exception line and the line after it (often the command's stderr), or a
    skip's reason, on one line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return "(no reason given)"
    exceptions = [number for number, line in enumerate(lines) if EXCEPTION_LINE.match(line)]
    if exceptions:
        first = exceptions[-1]
        follow = lines[first + 1 : first + 2]
        reason = " ".join([lines[first], *(line for line in follow if not line.endswith(":"))])
    else:
        reason = lines[-1]
    return reason if len(reason) <= limit else reason[: limit - 1] + "…"


# --- the venv -------------------------------------------------------------------------------


def venv_dir(cache: Path = CACHE) -> Path:
    return cache / f"tempest-{TEMPEST_VERSION}+tempestconf-{TEMPESTCONF_VERSION}+heat-{HEAT_PLUGIN_VERSION}"


def ensure_venv(root: Path, log: Callable[[str], None], cache: Path = CACHE) -> Path:
    """The venv with Tempest (built once; a half-built one is built again). Its bin/ directory."""
    venv = venv_dir(cache)
    done = venv / ".tenrec-complete"
    if done.is_file():
        return venv / "bin"
    log(f"building Tempest's venv in {venv} (once; a few minutes)")
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "venv", str(venv)], "creating Tempest's venv")
    constraints = root / CONSTRAINTS
    pip = [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
    if constraints.is_file():
        pip += ["-c", str(constraints)]
    _run([*pip, *REQUIREMENTS], "installing Tempest")
    done.write_text(" ".join(REQUIREMENTS) + "\n")
    return venv / "bin"


# A Python exception as a traceback ends: a dotted class name (tempest.lib.exceptions.X) or an
# ...Error/...Exception, then its message.
RAISED_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)+[A-Z]\w*: |^[A-Z]\w*(?:Error|Exception|Failure)\w*: ")


def failure_summary(output: str, limit: int = 1500) -> str:
    """The exception a Python tool died of (its last `SomethingError: message` line), else the
    output's tail: a traceback's last lines alone can be a dump of the data it was handling."""
    for line in reversed(output.strip().splitlines()):
        # oslo.log prefixes a traceback's lines with the time, pid, level and logger.
        text = re.sub(r"^.*? (?:ERROR|CRITICAL) \S+ ", "", line).strip()
        if RAISED_LINE.match(text):
            return text[:limit]
    return output.strip()[-limit:]


def _run(argv: list[str], what: str, log: Path | None = None, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    if log is not None:
        log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        where = f" (all of it in {log})" if log is not None else ""
        summary = failure_summary(result.stderr or result.stdout)
        raise TempestError(f"{what} failed (rc {result.returncode}){where}: {summary}")
    return result


# --- what Tempest tests with ----------------------------------------------------------------


def cleanup(ctx: Any) -> list[str]:
    """Runs the context's undos, newest first; the ones that failed, described."""
    problems = []
    while ctx.cleanups:
        step = ctx.cleanups.pop()
        try:
            step.undo()
        except Exception as error:
            problems.append(f"{step.description}: {error}")
    return problems


def overrides(image_id: str, flavor_ids: Sequence[str], computes: int, dashboard: str | None = None) -> list[str]:
    """What tempest.conf must say that discovery cannot know: tenrec's guest, flavors, SSH, sizes,
    and where the dashboard is (discovery looks for it at /dashboard; tenrec serves it at /)."""
    values = {
        "compute.image_ref": image_id,
        "compute.image_ref_alt": image_id,
        "compute.flavor_ref": flavor_ids[0],
        "compute.flavor_ref_alt": flavor_ids[1],
        "compute.min_compute_nodes": str(computes),
        "compute.build_timeout": str(int(scaled(BUILD_TIMEOUT))),
        "compute_feature_enabled.config_drive": "true",
        "validation.run_validation": "true",
        "validation.image_ssh_user": "root",
        "validation.image_alt_ssh_user": "root",
        "validation.connect_method": "floating",
        "validation.auth_method": "keypair",
        "validation.ssh_timeout": str(int(scaled(SSH_TIMEOUT))),
        "validation.ping_timeout": "120",
        "auth.use_dynamic_credentials": "true",
    }
    if dashboard is not None:
        values |= {
            "service_available.horizon": "true",
            "dashboard.dashboard_url": f"{dashboard}/",
            "dashboard.login_url": f"{dashboard}/auth/login/",
        }
    return [part for key, value in values.items() for part in (key, value)]


# --- running --------------------------------------------------------------------------------


def dashboard_url(config: Any, services: Sequence[str]) -> str | None:
    """Horizon's root on the public endpoint, where it is deployed."""
    return f"http://{config.endpoint}" if "horizon" in services else None


def make_heat_plugin_user(ctx: Any) -> dict[str, str]:
    """heat-tempest-plugin logs in with static credentials, not Tempest's dynamic ones:
    a project and a member user of its own for this run (a random password, removed with
    the run's other resources). tempestconf would name a demo user that only its --create
    makes, with a well-known password."""
    conn = ctx.conn
    name = ctx.resource_name("heat-plugin")
    password = secrets.token_urlsafe(24)
    project = conn.identity.create_project(name=name, domain_id="default", description="tenrec verify --tempest")
    project_id = project.id
    ctx.on_cleanup(f"project {name}", lambda: conn.identity.delete_project(project_id, ignore_missing=True))
    user = conn.identity.create_user(name=name, password=password, domain_id="default", default_project_id=project_id)
    user_id = user.id
    ctx.on_cleanup(f"user {name}", lambda: conn.identity.delete_user(user_id, ignore_missing=True))
    member = conn.identity.find_role("member", ignore_missing=False)
    conn.identity.assign_project_role_to_user(project_id, user_id, member.id)
    # The plugin's API tests leave stacks behind (seen: three); they go before their project.
    credentials = {"username": name, "password": password, "project_name": name}
    ctx.on_cleanup(f"stacks of {name}", lambda: delete_stacks(conn, credentials))
    return credentials


def delete_stacks(conn: Any, credentials: dict[str, str], timeout: float = 180) -> None:
    """Deletes the stacks of the plugin's project, as its user, and waits until they are gone."""
    own = conn.connect_as(**credentials, user_domain_id="default", project_domain_id="default")
    for stack in own.orchestration.stacks():
        own.orchestration.delete_stack(stack.id, ignore_missing=True)
    deadline = time.monotonic() + timeout
    while left := [stack.name for stack in own.orchestration.stacks()]:
        if time.monotonic() > deadline:
            raise TempestError(f"heat-tempest-plugin's stacks not deleted within {timeout:.0f} s: {', '.join(left)}")
        time.sleep(3)


def set_options(conf: Path, section: str, values: dict[str, str]) -> None:
    """Options written into tempest.conf itself (0600): never on a command line."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(conf)
    if not parser.has_section(section):
        parser.add_section(section)
    for option, value in values.items():
        parser.set(section, option, value)
    with conf.open("w") as out:
        parser.write(out)
    conf.chmod(0o600)


def private_workspace(state: StateDir) -> Path:
    """.tenrec/tempest (0700): tempest.conf holds the admin password."""
    workspace = state.root / "tempest"
    workspace.mkdir(mode=0o700, exist_ok=True)
    workspace.chmod(0o700)
    return workspace


def write_config(bin_dir: Path, workspace: Path, clouds: Path, extra: Sequence[str], log: Path | None = None) -> Path:
    conf = workspace / "etc" / "tempest.conf"
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds)}
    # What `tempest init` writes, without its registry of workspaces by name in ~/.tempest
    # (two deployments' workspaces are both named "tempest").
    found = _run(
        [str(bin_dir / "python"), "-c", "import os, tempest; print(os.path.dirname(tempest.__file__))"],
        "finding Tempest",
    )
    package = found.stdout.strip()
    (workspace / "etc").mkdir(exist_ok=True)
    (workspace / ".stestr.conf").write_text(
        f"[DEFAULT]\ntest_path={package}/test_discover\ntop_dir={package}\ngroup_regex=([^\\.]*\\.)*\n"
    )
    _run(
        [str(bin_dir / "discover-tempest-config"), "--os-cloud", "tenrec", "--out", str(conf), *extra],
        "discover-tempest-config",
        log,
        env=env,
        cwd=workspace,
    )
    conf.chmod(0o600)
    return conf


def run_tests(
    bin_dir: Path,
    workspace: Path,
    conf: Path,
    *,
    regex: str,
    concurrency: int,
    log_file: Path,
    progress: Callable[[str, str], None],
) -> Outcome:
    """`tempest run --regex`, its output into log_file; the results from stestr."""
    argv = [
        str(bin_dir / "tempest"),
        "run",
        "--regex",
        regex,
        "--concurrency",
        str(concurrency),
        "--config-file",
        str(conf),
    ]
    env = {**os.environ, "TEMPEST_CONFIG_DIR": str(conf.parent), "TEMPEST_CONFIG": conf.name, "PYTHONUNBUFFERED": "1"}
    with (
        log_file.open("w", encoding="utf-8") as log,
        subprocess.Popen(
            argv, cwd=workspace, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as proc,
    ):
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            match = PROGRESS.match(line)
            if match:
                progress(match["test"], match["status"])
    subunit = subprocess.run(
        [str(bin_dir / "stestr"), "last", "--subunit"], cwd=workspace, capture_output=True, check=False
    )
    if subunit.returncode != 0 or not subunit.stdout:
        raise TempestError(f"tempest run left no results (rc {proc.returncode}); see {log_file}")
    parsed = subprocess.run(
        [str(bin_dir / "python"), "-c", RESULTS_PROGRAM], input=subunit.stdout, capture_output=True, check=False
    )
    if parsed.returncode != 0:
        raise TempestError(f"reading Tempest's results failed: {parsed.stderr.decode(errors='replace')[-800:]}")
    return parse_results(json.loads(parsed.stdout))


def write_report(outcome: Outcome, path: Path, elapsed: float, selection: str) -> None:
    rows = [{"test": r.test, "status": r.status, "reason": short_reason(r.reason)} for r in outcome.results]
    summary = {
        "selection": selection,
        "seconds": round(elapsed, 1),
        "passed": len(outcome.passed),
        "failed": len(outcome.failed),
        "skipped": len(outcome.skipped),
        "tests": rows,
        "tempest": TEMPEST_VERSION,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path.write_text(json.dumps(summary, indent=1) + "\n")


def prepare(
    ctx: Any, bin_dir: Path, state: StateDir, builder: Any, *, services: Sequence[str], say: Callable[[str], None]
) -> Path:
    """What Tempest tests with (its guest, two flavors, with Heat the plugin's user) and
    tempest.conf describing them and the cloud; the conf's path."""
    from tenrec.verify.compute import make_flavor, upload_guest  # noqa: PLC0415

    guest = builder.build_tempest_guest()
    # Public: Tempest's test projects boot it.
    image_id = upload_guest(ctx, guest.kernel.read_bytes(), guest.initramfs.read_bytes(), visibility="public")
    flavor_ids = [make_flavor(ctx, f"tempest-flavor{number}", spec) for number, spec in enumerate(FLAVORS)]
    say(f"guest image {image_id} (dropbear, root with the keypair), flavors {', '.join(flavor_ids)}")
    computes = sum("compute" in node.roles for node in ctx.config.nodes)
    conf = write_config(
        bin_dir,
        private_workspace(state),
        state.root / "clouds.yaml",
        overrides(image_id, flavor_ids, computes, dashboard_url(ctx.config, services)),
        state.logs / "tempest-discover-last.log",
    )
    say(f"tempest.conf written by discover-tempest-config: {conf}")
    if "heat" in services:
        set_options(conf, "heat_plugin", make_heat_plugin_user(ctx))
        say("heat-tempest-plugin's user: a member of a project of its own, for this run")
    return conf


def perform(
    conn: Any,
    config: Any,
    state: StateDir,
    console: Any,
    *,
    regex: str | None = None,
    concurrency: int = 2,
) -> int:
    """The whole run with progress on console; the exit code (0 no failure, 1 failures or errors)."""
    from rich.markup import escape  # noqa: PLC0415

    from tenrec.exitcodes import Exit  # noqa: PLC0415
    from tenrec.paths import collection_root  # noqa: PLC0415
    from tenrec.verify import deployed_services  # noqa: PLC0415
    from tenrec.verify.core import Context  # noqa: PLC0415
    from tenrec.verify.guest import checkout_builder, load_builder  # noqa: PLC0415

    started = time.monotonic()
    services = deployed_services(config)
    regex = regex or default_selection(services)
    selection = f"--regex {regex}"
    # rich's markup reads the regex's backslash-bracket as an escaped bracket and drops the backslash.
    shown = escape(selection.replace("\\[", "\\\\["))

    def say(message: str) -> None:
        console.print(f"[dim]{time.monotonic() - started:6.1f}s[/] {message}")

    builder = checkout_builder()
    if builder is None:
        console.print("[red]Tempest's guest is built by tests/guest_image.py, which only a tenrec checkout has.[/]")
        return Exit.FAILED
    ctx = Context(conn, config=config)  # names its images and flavors, and removes them
    stamp = time.strftime("%Y%m%d%H%M%S")
    try:
        bin_dir = ensure_venv(collection_root(), say)
        say(
            f"Tempest {TEMPEST_VERSION}, python-tempestconf {TEMPESTCONF_VERSION}, "
            f"heat-tempest-plugin {HEAT_PLUGIN_VERSION} from {bin_dir.parent}"
        )
        conf = prepare(ctx, bin_dir, state, load_builder(builder), services=services, say=say)
        workspace = private_workspace(state)
        log_file, failures = state.logs / f"tempest-{stamp}.log", state.logs / f"tempest-{stamp}-failed.log"
        debug_log = workspace / TEMPEST_LOG
        debug_start = debug_log.stat().st_size if debug_log.exists() else 0
        counts = {"ok": 0, "FAILED": 0, "SKIPPED": 0}
        with console.status("tempest run") as status:

            def progress(test: str, outcome: str) -> None:
                counts[outcome] += 1
                if outcome == "FAILED":
                    console.print(f"  [red]✗ {test.split('[', 1)[0]}[/]")
                status.update(
                    f"tempest run {shown}: {sum(counts.values())} done ({counts['ok']} ok, "
                    f"{counts['FAILED']} failed, {counts['SKIPPED']} skipped), "
                    f"{time.monotonic() - started:.0f}s"
                )

            say(f"tempest run {shown} --concurrency {concurrency} (log: {log_file})")
            outcome = run_tests(
                bin_dir,
                workspace,
                conf,
                regex=regex,
                concurrency=concurrency,
                log_file=log_file,
                progress=progress,
            )
    except TempestError as error:
        console.print(f"[red]{error}[/]")
        return Exit.FAILED
    finally:
        for problem in cleanup(ctx):
            console.print(f"[red]cleanup: {problem}[/]")
    elapsed = time.monotonic() - started
    report = state.logs / "tempest-last.json"
    write_report(outcome, report, elapsed, selection)
    print_outcome(console, outcome)
    if outcome.failed and write_failure_log(debug_log, debug_start, outcome.failed, failures):
        console.print(f"Tempest's log for the failed tests' classes, with their servers' consoles: {failures}")
    verdict = "green" if not outcome.failed else "red"
    console.print(f"[{verdict}]Tempest {shown}: {outcome.counts()} in {elapsed:.0f}s.[/] Results: {report}")
    return Exit.OK if not outcome.failed and outcome.results else Exit.FAILED


def write_failure_log(debug_log: Path, start: int, failed: Sequence[TestResult], path: Path) -> bool:
    """failure_log() of what this run added to Tempest's log, into path (0600: Tempest logs
    request bodies); False when there is nothing to write."""
    if not debug_log.exists():
        return False
    with debug_log.open("rb") as log:
        log.seek(start)
        text = failure_log(log.read().decode("utf-8", "replace"), failed)
    if not text.strip():
        return False
    path.touch(mode=0o600)
    path.write_text(text)
    return True


def print_outcome(console: Any, outcome: Outcome) -> None:
    """A table of the failed tests and one of the skipped ones, each with its reason."""
    from rich.table import Table  # noqa: PLC0415

    for title, rows, style in (("failed", outcome.failed, "red"), ("skipped", outcome.skipped, "yellow")):
        if not rows:
            continue
        table = Table(title=f"Tempest: {len(rows)} {title}", title_style=style)
        table.add_column("test")
        table.add_column("reason")
        for row in rows:
            table.add_row(row.name, short_reason(row.reason))
        console.print(table)
