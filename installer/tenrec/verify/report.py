"""Running the checks with a live line, the result table and verify-last.json."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tenrec.exitcodes import Exit
from tenrec.paths import StateDir
from tenrec.verify.core import FAILED, OK, SKIPPED, Check, Context, Outcome, Row, run

RESULT_STYLES = {OK: "green", FAILED: "bold red", SKIPPED: "yellow"}


def results_file(state: StateDir) -> Path:
    return state.logs / "verify-last.json"


def write_results(path: Path, outcome: Outcome) -> None:
    """The rows as a JSON list: check, service, result (ok/FAILED/skipped), seconds, detail."""
    rows = [{**asdict(row), "seconds": round(row.seconds, 3)} for row in outcome.rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


def results_table(outcome: Outcome, title: str) -> Table:
    table = Table(title=title)
    table.add_column("check")
    table.add_column("result")
    table.add_column("time", justify="right")
    table.add_column("detail", overflow="fold")
    for row in outcome.rows:
        table.add_row(
            row.check,
            Text(row.result, style=RESULT_STYLES[row.result]),
            f"{row.seconds:.1f}s" if row.seconds else "",  # a skipped dependant never started
            Text(row.detail),
        )
    counts = {result: sum(row.result == result for row in outcome.rows) for result in (OK, FAILED, SKIPPED)}
    table.caption = f"{counts[OK]} ok, {counts[FAILED]} failed, {counts[SKIPPED]} skipped"
    return table


def perform(checks: Sequence[Check], ctx: Context, state: StateDir, console: Console, *, keep: bool, title: str) -> int:
    """Run, show, record; the exit code: 0 all passed, 1 a check or cleanup failed, 130 interrupted."""
    with console.status("verify") as status:

        def started(name: str) -> None:
            status.update(f"{name} …")

        def finished(row: Row) -> None:
            if row.result == FAILED:
                console.print(Text(f"  ✗ {row.check}: {row.detail}", style="red"))

        outcome = run(checks, ctx, keep=keep, on_start=started, on_row=finished)
    console.print(results_table(outcome, title))
    if outcome.cleaned:
        console.print(f"Cleaned up {len(outcome.cleaned)} resource(s).")
    if outcome.kept:
        console.print("Kept (--keep), remove them yourself:")
        for item in outcome.kept:
            console.print(f"  {item}", markup=False)
    path = results_file(state)
    write_results(path, outcome)
    console.print(f"Results: {path}", markup=False)
    if outcome.interrupted:
        console.print("[red]Interrupted.[/]")
        return Exit.INTERRUPTED
    if not outcome.ok:
        console.print(f"[bold red]{len(outcome.failed)} check(s) failed.[/]")
        return Exit.FAILED
    console.print(f"[green]Verified: {len(outcome.rows)} check(s), none failed.[/]")
    return Exit.OK
