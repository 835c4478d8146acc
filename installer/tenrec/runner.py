"""Run a playbook of the collection with live progress, a full log and a summary."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import ansible_runner
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from tenrec import timings
from tenrec.paths import StateDir, collection_root

HOST_EVENTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_skipped": "skipped",
    "runner_on_unreachable": "unreachable",
}


@dataclass
class HostStats:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0


# The role whose failure means a node is not ready (nothing was changed on any node yet).
PRECHECK_ROLE = "precheck"


@dataclass
class Failure:
    host: str
    task: str
    message: str
    unreachable: bool = False
    role: str = ""  # the role of the failed task ("" outside roles)

    @property
    def node_not_ready(self) -> bool:
        """Unreachable, or refused by the precheck: the node, not the work, is at fault."""
        return self.unreachable or self.role.rsplit(".", 1)[-1] == PRECHECK_ROLE


@dataclass
class RunResult:
    playbook: str
    rc: int
    status: str
    elapsed: float
    log: str
    stats: dict[str, HostStats] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    # Module results by host for the task actions the caller asked to keep.
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.failures

    @property
    def changed(self) -> int:
        return sum(s.changed for s in self.stats.values())

    @property
    def nodes_not_ready(self) -> list[str]:
        """The hosts that failed because they were unreachable or not ready, in order."""
        return list(dict.fromkeys(f.host for f in self.failures if f.node_not_ready))


def link_collection(state: StateDir) -> Path:
    """A collections path where tenrec.cloud is this very collection, wheel or checkout."""
    link = state.collections / "ansible_collections" / "tenrec" / "cloud"
    target = collection_root()
    if not (link.is_symlink() and Path(os.readlink(link)) == target):
        link.parent.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(target)
    return state.collections


def _failure_message(result: dict[str, Any]) -> str:
    for key in ("msg", "stderr", "reason"):
        value = result.get(key)
        if value:
            return str(value).strip().splitlines()[0][:300] if key == "stderr" else str(value)
    return "failed (see the log)"


class Progress:
    """Turns runner events into the live status line, the log and the tallies."""

    def __init__(
        self,
        console: Console,
        log: TextIO,
        keep_actions: Iterable[str],
        hosts: int,
        *,
        on_task: Callable[[str, str], None] | None = None,
        on_host_start: Callable[[str, str], None] | None = None,
        quiet: bool = False,
    ) -> None:
        self.on_task = on_task  # (play, task): where the run is
        self.on_host_start = on_host_start  # (host, role): each node's task, as it starts
        self.quiet = quiet  # no line per task where there is no live status (a log, CI)
        self.console = console
        self.log = log
        self.keep_actions = set(keep_actions)
        self.hosts = hosts
        self.started = time.monotonic()
        self.play = ""
        self.task = ""
        self.done: set[str] = set()
        self.failures: list[Failure] = []
        self.results: dict[str, dict[str, Any]] = {}
        self.stats: dict[str, HostStats] = {}
        self.live: Live | None = None

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def status(self) -> Text:
        line = Text()
        line.append(f"{self.elapsed():6.0f}s ", style="dim")
        line.append(self.play or "starting", style="bold")
        if self.task:
            line.append(f" › {self.task}")
            if self.live is not None:  # a printed line cannot update its count
                line.append(f"  [{len(self.done)}/{self.hosts} hosts]", style="cyan")
        return line

    def __rich__(self) -> Text:
        return self.status()

    def handle(self, event: dict[str, Any]) -> bool:
        if event.get("stdout"):
            self.log.write(event["stdout"] + "\n")
            self.log.flush()
        kind = event.get("event", "")
        data = event.get("event_data", {})
        if kind == "playbook_on_play_start":
            self.play, self.task = data.get("play", ""), ""
            if self.on_task is not None:
                self.on_task(self.play, self.task)
        elif kind == "playbook_on_task_start":
            self.task = data.get("task", "")
            if self.on_task is not None:
                self.on_task(self.play, self.task)
            self.done = set()
            if self.live is None and not self.quiet:
                self.console.print(self.status())
        elif kind == "runner_on_start":
            # Sent right after its task's start, for each node (the free strategy interleaves them).
            if self.on_host_start is not None:
                self.on_host_start(str(data.get("host", "?")), str(data.get("role") or ""))
        elif kind in HOST_EVENTS:
            self._host_event(kind, data)
        elif kind == "playbook_on_stats":
            self._stats(data)
        return True

    def _host_event(self, kind: str, data: dict[str, Any]) -> None:
        host = data.get("host", "?")
        self.done.add(host)
        result = data.get("res", {}) or {}
        if data.get("task_action") in self.keep_actions and kind == "runner_on_ok":
            self.results[host] = result
        if kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            failure = Failure(
                host,
                data.get("task", ""),
                _failure_message(result),
                kind.endswith("unreachable"),
                str(data.get("role") or ""),
            )
            self.failures.append(failure)
            self.console.print(Text(f"  ✗ {host}: {failure.task}: {failure.message}", style="red"))

    def _stats(self, data: dict[str, Any]) -> None:
        for key, attr in (
            ("ok", "ok"),
            ("changed", "changed"),
            ("failures", "failed"),
            ("dark", "unreachable"),
            ("skipped", "skipped"),
        ):
            for host, count in (data.get(key) or {}).items():
                stats = self.stats.setdefault(host, HostStats())
                setattr(stats, attr, count)


def ansible_processes(inventory: Path) -> list[int]:
    """The ansible-playbook processes (main and workers) running against this inventory."""
    wanted = str(inventory).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(b"/ansible-playbook") for part in argv[:2]) and wanted in argv:
            found.append(int(entry.name))
    return sorted(found)


def _children(table: dict[int, int], roots: Iterable[int]) -> set[int]:
    """Every descendant of roots, from a pid -> parent pid table."""
    found: set[int] = set()
    frontier = set(roots)
    while frontier:
        frontier = {pid for pid, parent in table.items() if parent in frontier and pid not in found}
        found |= frontier
    return found


def _parents() -> dict[int, int]:
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] != "Z":
                table[int(entry.name)] = int(fields[1])
    return table


def stop_ansible(
    inventory: Path, grace: float = 10.0, step_timeout: float = 300.0, on_wait: Callable[[str], None] | None = None
) -> list[int]:
    """Stops what is left of a run against this inventory without cutting a step in half.

    Its Ansible processes are frozen (SIGSTOP: no new task starts), the steps they had started
    (a module on this machine, which is a node itself with connection local, or an SSH client
    to a node) may end, for up to step_timeout seconds, then Ansible is killed. Killing it
    outright killed a local module mid-dpkg ("dpkg was interrupted"). The pids it found."""
    pids = ansible_processes(inventory)
    if not pids:
        return []
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)
    steps = _children(_parents(), pids) - set(pids)
    if steps and on_wait is not None:
        on_wait(f"waiting up to {step_timeout:.0f}s for {len(steps)} step process(es) the stopped run had started")
    deadline = time.monotonic() + step_timeout
    while steps and time.monotonic() < deadline:
        time.sleep(0.5)
        steps &= set(_parents())
    for number in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, number)
                os.kill(pid, signal.SIGCONT)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and ansible_processes(inventory):
            time.sleep(0.2)
        if not ansible_processes(inventory):
            break
    return pids


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the run; Ansible was stopped with it."""


@contextmanager
def stop_requests() -> Iterator[threading.Event]:
    """SIGINT and SIGTERM set the event instead of raising, so the runner can stop Ansible
    (its cancel callback) rather than leave it running behind an exited tenrec."""
    requested = threading.Event()

    def request(_signum: int, _frame: object) -> None:
        requested.set()

    if threading.current_thread() is not threading.main_thread():
        yield requested
        return
    previous = {number: signal.signal(number, request) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield requested
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def run_playbook(
    state: StateDir,
    playbook: str,
    console: Console,
    *,
    hosts: int,
    keep_actions: Iterable[str] = (),
    extravars: dict[str, Any] | None = None,
    label: str | None = None,
    tags: str | None = None,
    limit: str | None = None,
    on_task: Callable[[str, str], None] | None = None,
    on_host_start: Callable[[str, str], None] | None = None,
    quiet: bool = False,
) -> RunResult:
    """Run playbooks/<playbook> against the generated inventory.

    SIGINT or SIGTERM stops Ansible and raises Interrupted once it has stopped.
    """
    root = collection_root()
    collections = link_collection(state)
    state.logs.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = label or Path(playbook).stem
    log_path = state.logs / f"{name}-{stamp}.log"
    # ansible-playbook lives beside this Python (a venv need not be activated).
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    env = {
        "ANSIBLE_CONFIG": str(root / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": f"{collections}:{Path.home() / '.ansible/collections'}",
        "ANSIBLE_NOCOLOR": "1",
        # Per-task seconds by play and service, for the summary and bench/deploy-speed.
        "ANSIBLE_CALLBACKS_ENABLED": "tenrec.cloud.timings",
        "TENREC_TIMINGS_FILE": str(state.logs / f"{name}-timings-last.json"),
        # Nodes a --limit run leaves out keep the facts their last run found (tenrec_node).
        "ANSIBLE_CACHE_PLUGIN": "ansible.builtin.jsonfile",
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(state.facts),
        "ANSIBLE_CACHE_PLUGIN_TIMEOUT": "0",
    }
    with log_path.open("w", encoding="utf-8") as log:
        progress = Progress(
            console, log, keep_actions, hosts, on_task=on_task, on_host_start=on_host_start, quiet=quiet
        )
        live = Live(progress, console=console, refresh_per_second=4, transient=True)
        if console.is_terminal:
            progress.live = live
            live.start()
        with stop_requests() as stop:
            try:
                runner = ansible_runner.run(
                    private_data_dir=str(state.runner),
                    project_dir=str(root / "playbooks"),
                    playbook=playbook,
                    inventory=str(state.inventory),
                    envvars=env,
                    extravars=extravars or {},
                    quiet=True,
                    event_handler=progress.handle,
                    cancel_callback=stop.is_set,
                    rotate_artifacts=3,
                    tags=tags,
                    limit=limit,
                    suppress_env_files=True,
                    # The runner points its "jsonfile" cache at the run's artifacts (gone after
                    # three runs); under the plugin's full name it leaves ours, set above, alone.
                    fact_cache_type="ansible.builtin.jsonfile",
                )
            finally:
                if progress.live is not None:
                    live.stop()
    if stop.is_set():
        # The runner stops ansible-playbook; its workers may still be running a task.
        stop_ansible(state.inventory)
        raise Interrupted(f"stopped by a signal during {progress.play!r}, task {progress.task!r}")
    result = RunResult(
        playbook=playbook,
        rc=runner.rc if isinstance(runner.rc, int) else 1,
        status=str(runner.status),
        elapsed=progress.elapsed(),
        log=str(log_path),
        stats=progress.stats,
        failures=progress.failures,
        results=progress.results,
    )
    summary = {k: v for k, v in asdict(result).items() if k != "results"}
    (state.logs / f"{name}-last.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return result


def summary_table(result: RunResult) -> Table:
    table = Table(title=f"{result.playbook}: {result.status} in {result.elapsed:.0f}s")
    for column in ("host", "ok", "changed", "failed", "unreachable", "skipped"):
        table.add_column(column, justify="left" if column == "host" else "right")
    for host in sorted(result.stats):
        s = result.stats[host]
        style = "red" if s.failed or s.unreachable else None
        table.add_row(host, str(s.ok), str(s.changed), str(s.failed), str(s.unreachable), str(s.skipped), style=style)
    return table


def print_costs(console: Console, state: StateDir, label: str = "deploy") -> None:
    """One line per phase: seconds, tasks run and skipped (from the timings callback)."""
    path = state.logs / f"{label}-timings-last.json"
    if not path.exists():
        return
    for cost in timings.by_phase(timings.load(path)):
        console.print(
            f"  {cost.seconds:6.1f}s  {cost.ran:4d} tasks run, {cost.skipped:4d} skipped  {cost.name}", markup=False
        )
    console.print(f"Per task and service: {path}", markup=False)


def print_summary(console: Console, result: RunResult) -> None:
    console.print(summary_table(result))
    if result.failures:
        console.print("[bold red]What failed where:[/]")
        for f in result.failures:
            kind = "unreachable" if f.unreachable else "failed"
            console.print(f"  {f.host}: {kind} at '{f.task}': {f.message}", markup=False)
    console.print(f"Full log: {result.log}", markup=False)
