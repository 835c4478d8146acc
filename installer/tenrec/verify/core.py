"""The verify runner: checks in order, dependants of a failure skipped, cleanup LIFO, one row each."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from openstack.connection import Connection

    from tenrec.config import Deployment

OK = "ok"
FAILED = "FAILED"
SKIPPED = "skipped"

_DETAIL_LIMIT = 500


class CheckFailed(Exception):
    """A check found the cloud wrong; the message is the row's detail."""


class SkipCheck(Exception):
    """A check has nothing to check here; the message says why."""


@dataclass(frozen=True)
class Check:
    """One row of `tenrec verify`.

    name: "family/what" (e.g. "image/upload"); service: the tenrec service whose
    deployment it checks (keystone, glance, ...); function: returns the row's detail
    or raises (CheckFailed for a clear message, SkipCheck to skip); needs: checks
    that must have passed first, else this one is skipped.
    """

    name: str
    service: str
    function: Callable[[Context], str | None]
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Family:
    """The checks of one service: what it puts in the catalog, and its own checks.

    A check that needs what another family's check made may sit among that family's
    checks (its Check.service still names the service it judges): the rows of a
    family run in their order.
    """

    service: str
    catalog: tuple[str, ...]
    checks: tuple[Check, ...]


@dataclass
class Cleanup:
    description: str
    undo: Callable[[], object]
    service: str


@dataclass
class Context:
    """What checks share in one run: the connection, the cleanup stack, scratch data."""

    conn: Connection
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    scratch: dict[str, Any] = field(default_factory=dict)
    cleanups: list[Cleanup] = field(default_factory=list)
    service: str = ""  # the running check's, for the cleanups it registers
    config: Deployment | None = None  # the deployment's config: its nodes and networks
    guest: Path | None = None  # --guest: a test guest's directory (vmlinuz, initramfs.gz)
    secrets_file: Path | None = None  # the deployment's secrets (S3 keys, Swift's hash salts)

    def resource_name(self, kind: str) -> str:
        """A name for something a check creates: tenrec-verify-<run>-<kind>."""
        return f"tenrec-verify-{self.run_id}-{kind}"

    def on_cleanup(self, description: str, undo: Callable[[], object]) -> None:
        """Register an undo right after creating something; undos run last-in first-out."""
        self.cleanups.append(Cleanup(description, undo, self.service))


def deployment_secrets(ctx: Context) -> dict[str, str]:
    """The deployment's secrets (the operator's EC2 keys, Swift's hash salts); SkipCheck without them."""
    if ctx.secrets_file is None or not ctx.secrets_file.is_file():
        raise SkipCheck("no deployment secrets to read (another cloud was named with --os-cloud)")
    from tenrec.secrets import read_secrets  # noqa: PLC0415

    return read_secrets(ctx.secrets_file)


@dataclass(frozen=True)
class Row:
    check: str
    service: str
    result: str
    seconds: float
    detail: str


@dataclass
class Outcome:
    rows: list[Row] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def failed(self) -> list[Row]:
        return [row for row in self.rows if row.result == FAILED]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted


def one_line(text: str, limit: int = _DETAIL_LIMIT) -> str:
    """text on one line, at most limit characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def describe(error: BaseException) -> str:
    """One line for a table cell: the message, with the exception type unless it is a CheckFailed."""
    message = one_line(str(error)) or "(no message)"
    if not isinstance(error, CheckFailed | SkipCheck):
        message = one_line(f"{type(error).__name__}: {message}")
    return message


class SelectionError(Exception):
    pass


def select(checks: Sequence[Check], services: Iterable[str], patterns: Sequence[str] = ()) -> list[Check]:
    """The checks of deployed services matching any pattern (all without patterns), with what they need.

    A pattern is an fnmatch pattern on the check name; "image" also selects "image/...".
    """
    known: dict[str, Check] = {}
    for check in checks:
        for need in check.needs:
            if need not in known:
                raise ValueError(f"{check.name} needs {need}, which is not an earlier check")
        if check.name in known:
            raise ValueError(f"two checks named {check.name}")
        known[check.name] = check
    deployed = set(services)
    candidates = [check for check in checks if check.service in deployed]
    if not patterns:
        return candidates
    wanted: set[str] = set()
    for pattern in patterns:
        matched = {c.name for c in candidates if fnmatch(c.name, pattern) or fnmatch(c.name, f"{pattern}/*")}
        if not matched:
            names = ", ".join(c.name for c in candidates)
            raise SelectionError(f"--only {pattern!r} matches no check; the checks are: {names}")
        wanted |= matched
    pending = list(wanted)
    while pending:
        for need in known[pending.pop()].needs:
            if need not in wanted:
                wanted.add(need)
                pending.append(need)
    return [check for check in candidates if check.name in wanted]


def _blocked(check: Check, results: dict[str, str]) -> str | None:
    for need in check.needs:
        result = results.get(need)
        if result == OK:
            continue
        why = {FAILED: "failed", SKIPPED: "was skipped"}.get(result or "", "did not run")
        return f"needs {need}, which {why}"
    return None


def _run_one(check: Check, ctx: Context) -> tuple[Row, bool]:
    """The check's row, and whether the operator interrupted it."""
    ctx.service = check.service
    started = time.monotonic()
    interrupted = False
    try:
        detail = check.function(ctx) or ""
        result = OK
    except SkipCheck as error:
        result, detail = SKIPPED, describe(error)
    except KeyboardInterrupt:
        result, detail, interrupted = FAILED, "interrupted", True
    except Exception as error:
        result, detail = FAILED, describe(error)
    return Row(check.name, check.service, result, time.monotonic() - started, detail), interrupted


def _clean_up(ctx: Context, on_start: Callable[[str], None], on_row: Callable[[Row], None], outcome: Outcome) -> None:
    while ctx.cleanups:
        cleanup = ctx.cleanups.pop()
        name = f"cleanup: {cleanup.description}"
        on_start(name)
        started = time.monotonic()
        try:
            cleanup.undo()
        except Exception as error:
            row = Row(name, cleanup.service, FAILED, time.monotonic() - started, describe(error))
            outcome.rows.append(row)
            on_row(row)
        else:
            outcome.cleaned.append(cleanup.description)


def run(
    checks: Sequence[Check],
    ctx: Context,
    *,
    keep: bool = False,
    on_start: Callable[[str], None] = lambda name: None,
    on_row: Callable[[Row], None] = lambda row: None,
) -> Outcome:
    """Run the checks in order, then undo what they created (unless keep), last first.

    Each check, and each undo, is guarded: a failure becomes a FAILED row and the run
    goes on. An interrupt stops the checks but still cleans up.
    """
    outcome = Outcome()
    results: dict[str, str] = {}
    for check in checks:
        reason = _blocked(check, results)
        if reason:
            row = Row(check.name, check.service, SKIPPED, 0.0, reason)
        else:
            on_start(check.name)
            row, outcome.interrupted = _run_one(check, ctx)
        results[check.name] = row.result
        outcome.rows.append(row)
        on_row(row)
        if outcome.interrupted:
            break
    if keep:
        outcome.kept = [cleanup.description for cleanup in reversed(ctx.cleanups)]
    else:
        _clean_up(ctx, on_start, on_row, outcome)
    return outcome
