"""tenrec install, phase by phase: plan → check → bootstrap → secrets → deploy → verify → summary.

Each phase that finishes is written to the journal (journal.py) with a fingerprint of its
inputs; the next run skips what finished with the same inputs and says so.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.prompt import Confirm
from rich.table import Table

from tenrec.config import Deployment, load_config
from tenrec.config.load import load_text
from tenrec.deploying import access_lines, deploy, verify_rows
from tenrec.exitcodes import Exit
from tenrec.install.bootstrap import bootstrap_nodes
from tenrec.install.journal import Journal, fingerprint, tree_fingerprint
from tenrec.install.plan import InstallChoices, plan_for
from tenrec.install.probe import probe_host
from tenrec.install.reach import check_logins
from tenrec.inventory import write_inventory
from tenrec.paths import StateDir, collection_root
from tenrec.secrets import SECRET_NAMES, ensure_secrets, read_secrets

# What a deploy runs besides the config: a change in any of these deploys again.
DEPLOYED_TREES = ("roles", "playbooks", "plugins", "releases")


@dataclass
class PhaseOutcome:
    phase: str
    result: str  # ran, skipped, failed
    seconds: float
    note: str


@dataclass
class InstallRequest:
    config: Path | None  # -c FILE: install onto its nodes; None: plan this host
    write: Path  # where a planned config goes
    yes: bool
    replan: bool
    plan_only: bool
    choices: InstallChoices


class Install:
    def __init__(self, request: InstallRequest, console: Console, err: Console) -> None:
        self.request = request
        self.console = console
        self.err = err
        self.path = request.config or request.write
        self.state = StateDir.for_config(self.path)
        self.journal = Journal(self.state.root / "install-journal.json")
        self.outcomes: list[PhaseOutcome] = []
        self.started = time.monotonic()
        self.config: Deployment | None = None

    # -- bookkeeping ------------------------------------------------------------------------

    def record(self, phase: str, result: str, seconds: float, note: str) -> None:
        self.outcomes.append(PhaseOutcome(phase, result, seconds, note))
        style = {"ran": "green", "skipped": "cyan", "failed": "red"}[result]
        mark = {"ran": "✓", "skipped": "↷", "failed": "✗"}[result]
        self.console.print(f"[{style}]{mark} {phase:<9}[/] {seconds:6.1f}s  {note}", highlight=False)

    def phase(
        self,
        name: str,
        fingerprint_now: str,
        work: Callable[[], tuple[int, str]],
        began: float | None = None,
        *,
        own_display: bool = False,
        record_as: str | None = None,
    ) -> int:
        """Skip NAME when the journal has it with these inputs, else run WORK and record it."""
        done = self.journal.done(name, fingerprint_now)
        if done is not None:
            note = f"done {done.finished} with the same inputs" + (f" ({done.note})" if done.note else "")
            self.record(name, "skipped", 0.0, note)
            return Exit.OK
        began = began if began is not None else time.monotonic()
        # The deploy and verify show their own live progress (rich allows one live display).
        if self.console.is_terminal and not own_display:
            with self.console.status(f"{name} …"):
                rc, note = work()
        else:
            rc, note = work()
        seconds = time.monotonic() - began
        if rc != Exit.OK:
            self.record(name, "failed", seconds, note)
            return rc
        # record_as: the inputs as the phase leaves them (secrets: the file then complete).
        self.journal.finish(name, seconds, record_as or fingerprint_now, note)
        self.record(name, "ran", seconds, note)
        return Exit.OK

    def config_text(self) -> str:
        """The validated config, not the file's text: an edited comment changes nothing."""
        assert self.config is not None
        return json.dumps(self.config.model_dump(mode="json"), sort_keys=True)

    # -- the phases -------------------------------------------------------------------------

    def plan(self) -> int:
        request = self.request
        began = time.monotonic()
        if request.config is None and (request.replan or not self.path.exists()):
            facts = probe_host()
            plan = plan_for(facts, request.choices)
            load_text(plan.yaml(), str(self.path))  # a bad choice is reported before any file is written
            self.console.print(plan.table(self.path))
            for warning in plan.warnings:
                self.err.print(f"warning: {warning}", style="yellow", markup=False)
            if request.plan_only:
                self.write_plan(plan.yaml())
                self.console.print(f"Plan written to {self.path}; nothing installed (--plan-only).", markup=False)
                return -1
            interactive = self.console.is_terminal and sys.stdin.isatty()
            if interactive and not request.yes and not Confirm.ask("Install this plan on this host?"):
                self.write_plan(plan.yaml())
                self.console.print(f"Plan written to {self.path}; nothing installed.", markup=False)
                return -1
            self.write_plan(plan.yaml())
        elif request.config is None and request.choices != InstallChoices():
            self.err.print(
                f"{self.path} exists and is used as it is: --nfs-share, --floating-cidr, --with and --without "
                "only shape a new plan (edit the file, or add --replan)",
                style="yellow",
                markup=False,
            )
        source = "the config given" if request.config else "planned for this host"
        self.config = load_config(self.path)  # every problem at once, before any node is touched
        note = f"{self.path} ({source})"
        return self.phase("plan", fingerprint(self.config_text()), lambda: (Exit.OK, note), began)

    def write_plan(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, self.path)

    def check(self) -> int:
        assert self.config is not None
        config = self.config

        def work() -> tuple[int, str]:
            problems = check_logins(config, os.geteuid() == 0)
            for problem in problems:
                self.err.print(f"  {problem}", style="red", markup=False)
            if problems:
                return Exit.NODES_NOT_READY, f"{len(problems)} node(s) cannot be reached; nothing was touched"
            return Exit.OK, f"{len(config.nodes)} node(s) reachable, the config valid"

        return self.phase("check", fingerprint(self.config_text()), work)

    def bootstrap(self) -> int:
        assert self.config is not None
        config = self.config

        def work() -> tuple[int, str]:
            results = bootstrap_nodes(config)
            for result in results:
                line = f"  {result.node}: {result.detail}"
                self.console.print(line, style=None if result.ok else "red", markup=False)
            failed = [r for r in results if not r.ok]
            if failed:
                return Exit.NODES_NOT_READY, f"{len(failed)} node(s) not ready for Ansible"
            return Exit.OK, f"Python with apt bindings on {len(results)} node(s)"

        return self.phase("bootstrap", fingerprint(self.config_text()), work)

    def secrets(self) -> int:
        assert self.config is not None
        config = self.config
        present = sorted(read_secrets(self.state.secrets)) if self.state.secrets.exists() else []

        def work() -> tuple[int, str]:
            self.state.create()
            added = ensure_secrets(self.state.secrets)
            write_inventory(config, self.state, source=str(self.path.resolve()))
            return Exit.OK, f"{len(added)} generated, {len(SECRET_NAMES) - len(added)} kept in {self.state.secrets}"

        # The inventory is cheap and must match the config: written on every run.
        if self.state.secrets.exists():
            write_inventory(config, self.state, source=str(self.path.resolve()))
        # Run again when the config changed or a secret is missing from the file.
        inputs = fingerprint(self.config_text(), *SECRET_NAMES)
        now = inputs if set(SECRET_NAMES) <= set(present) else fingerprint(inputs, "missing")
        return self.phase("secrets", now, work, record_as=inputs)

    def deploy(self) -> int:
        assert self.config is not None
        config = self.config
        inputs = fingerprint(
            self.config_text(),
            tree_fingerprint(collection_root(), DEPLOYED_TREES),
            self.state.secrets.read_bytes(),
        )

        def work() -> tuple[int, str]:
            outcome = deploy(config, self.state, self.console, self.err, quiet=True)
            if outcome.rc != Exit.OK or outcome.result is None:
                return outcome.rc, "failed; run `tenrec install` again to continue (see above)"
            return Exit.OK, f"{outcome.result.changed} change(s) on {len(config.nodes)} node(s)"

        return self.phase("deploy", inputs, work, own_display=True)

    def verify(self) -> int:
        assert self.config is not None
        config = self.config
        deployed = self.journal.records["deploy"].finished

        def work() -> tuple[int, str]:
            rc = verify_rows(config, self.state, self.console)
            return rc, "every check passed" if rc == Exit.OK else "a check failed (see the table above)"

        return self.phase("verify", fingerprint(deployed), work, own_display=True)

    # -- all of it --------------------------------------------------------------------------

    def run(self) -> int:
        for step in (self.plan, self.check, self.bootstrap, self.secrets, self.deploy, self.verify):
            rc = step()
            if rc == -1:  # the operator stopped after the plan
                return Exit.OK
            if rc != Exit.OK:
                self.summary(ok=False)
                return rc
        self.summary(ok=True)
        return Exit.OK

    def summary(self, *, ok: bool) -> None:
        total = time.monotonic() - self.started
        table = Table(title=f"tenrec install: {'done' if ok else 'stopped'} in {total:.0f}s")
        for column in ("phase", "result", "seconds", "why"):
            table.add_column(column)
        for outcome in self.outcomes:
            table.add_row(outcome.phase, outcome.result, f"{outcome.seconds:.1f}", outcome.note)
        self.console.print(table)
        skipped = [o.phase for o in self.outcomes if o.result == "skipped"]
        if ok and len(skipped) == len(self.outcomes):
            self.console.print(
                "Nothing to do: this cloud was installed and verified with this config and this tenrec; "
                "nothing changed since. `tenrec deploy` applies it again, `tenrec verify` checks it again.",
                markup=False,
            )
        elif skipped:
            self.console.print(f"Skipped, finished by an earlier run: {', '.join(skipped)}.", markup=False)
        if ok and self.config is not None:
            for line in access_lines(self.config, self.state):
                self.console.print(line, markup=False)
            self.console.print(f"Config: {self.path.resolve()}", markup=False)
        elif not ok:
            self.console.print(
                f"Run the same command again to continue: finished phases are skipped ({self.journal.path}).",
                markup=False,
            )
