"""Upgrades from one release to the next, their rollback, and database backups and restores."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from tenrec.config import Deployment
from tenrec.config.model import RELEASES, previous_release
from tenrec.deploying import run_locked
from tenrec.exitcodes import Exit
from tenrec.paths import StateDir

# tasks_from backup names its dumps openstack-RELEASE-YYYYmmddTHHMMSSZ.sql.gz.
BACKUP_NAME = re.compile(r"^openstack-(?P<release>\d{4}\.\d)-(?P<stamp>\d{8}T\d{6}Z)\.sql\.gz$")


class UpgradeError(Exception):
    """A request that cannot be carried out as asked; nothing was touched."""


@dataclass(frozen=True)
class UpgradeRecord:
    """The upgrade's record (the first controller keeps it; every run copies it here)."""

    source: str
    target: str
    backup: str
    started: str
    finished: str | None = None
    rolled_back: str | None = None

    @classmethod
    def read(cls, state: StateDir) -> UpgradeRecord | None:
        path = upgrade_record_path(state)
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return cls(
            source=str(data.get("from", "")),
            target=str(data.get("to", "")),
            backup=str(data.get("backup", "")),
            started=str(data.get("started", "")),
            finished=data.get("finished"),
            rolled_back=data.get("rolled_back"),
        )

    def backup_copy(self, state: StateDir) -> Path:
        return backups_dir(state) / Path(self.backup).name


def upgrade_record_path(state: StateDir) -> Path:
    return state.root / "upgrade.json"


def backups_dir(state: StateDir) -> Path:
    return state.root / "backups"


def upgrade_source(config: Deployment, to: str | None, path: Path) -> tuple[str, str]:
    """(from, to) of an upgrade to the config's release; --to must name that release."""
    if to is not None and to != config.release:
        raise UpgradeError(
            f"--to {to}, but {path} says release '{config.release}': set release: '{to}' in it first "
            "(the config names the release the cloud is to run)"
        )
    source = previous_release(config.release)
    if source is None:
        raise UpgradeError(
            f"{config.release} is the first release tenrec deploys ({', '.join(RELEASES)}): "
            "there is nothing to upgrade from"
        )
    return source, config.release


def upgrade(config: Deployment, state: StateDir, source: str, console: Console, err: Console) -> int:
    before = UpgradeRecord.read(state)
    console.print(f"Upgrading '{config.name}' from {source} to {config.release} ({len(config.nodes)} node(s))")
    began = time.monotonic()
    outcome = run_locked(
        config,
        state,
        console,
        err,
        "upgrade.yml",
        label="upgrade",
        scope=f"upgrade to {config.release}",
        extravars={"tenrec_other_release": source},
    )
    after = UpgradeRecord.read(state)
    if outcome.rc != Exit.OK:
        if after is not None and after.target == config.release and not (after.finished or after.rolled_back):
            err.print(
                f"The upgrade stopped part way. Run `tenrec upgrade` again to go on from there, or `tenrec rollback` "
                f"to return to {source} (the databases as they were at {after.started}, "
                f"from {after.backup_copy(state)}).",
                markup=False,
            )
        else:
            err.print("The upgrade stopped before it changed anything on the nodes.", markup=False)
        return outcome.rc
    state.mark_deployed(config.release)
    if after is None or after == before:
        console.print(f"[green]Nothing to do: every node runs {config.release}.[/]")
        return Exit.OK
    console.print(
        f"[green]Upgraded from {source} to {config.release} in {time.monotonic() - began:.0f}s.[/] "
        f"The databases as they were before it: {after.backup_copy(state)}. Check the cloud with `tenrec verify`; "
        f"`tenrec rollback` returns to {source}.",
    )
    return Exit.OK


def rollback(config: Deployment, state: StateDir, path: Path, console: Console, err: Console) -> int:
    record = UpgradeRecord.read(state)
    if record is None:
        raise UpgradeError(f"no upgrade is on record ({upgrade_record_path(state)}): there is nothing to roll back")
    if record.rolled_back:
        raise UpgradeError(
            f"the upgrade from {record.source} to {record.target} was rolled back already, at {record.rolled_back}"
        )
    console.print(
        f"Rolling '{config.name}' back from {record.target} to {record.source}: the databases as they were at "
        f"{record.started}"
    )
    outcome = run_locked(
        config,
        state,
        console,
        err,
        "rollback.yml",
        label="rollback",
        scope=f"rollback to {record.source}",
        extravars={"tenrec_release": record.source, "tenrec_other_release": record.target},
    )
    if outcome.rc != Exit.OK:
        err.print("The rollback did not finish; run `tenrec rollback` again.", markup=False)
        return outcome.rc
    state.mark_deployed(record.source)
    console.print(f"[green]Rolled back: every node runs {record.source} again.[/]")
    if config.release != record.source:
        console.print(
            f"Set release: '{record.source}' in {path}: "
            f"a deploy of {config.release} is refused until you upgrade again.",
            markup=False,
        )
    return Exit.OK


def backup(config: Deployment, state: StateDir, console: Console, err: Console) -> int:
    known = set(backups_dir(state).glob("openstack-*.sql.gz"))
    outcome = run_locked(config, state, console, err, "backup.yml", label="backup", scope="backup")
    if outcome.rc != Exit.OK:
        return outcome.rc
    made = sorted(set(backups_dir(state).glob("openstack-*.sql.gz")) - known)
    for dump in made:
        console.print(f"[green]Backup:[/] {dump} ({dump.stat().st_size // 1024} KiB, mode 0600)")
    return Exit.OK


def restore_release(dump: Path) -> str:
    """The release a dump of tasks_from backup holds, from its name."""
    found = BACKUP_NAME.match(dump.name)
    if found is None:
        raise UpgradeError(
            f"{dump.name} is not named as `tenrec backup` names its dumps (openstack-RELEASE-TIME.sql.gz): "
            "restore a dump tenrec made"
        )
    return found["release"]


def restore(config: Deployment, state: StateDir, dump: Path, console: Console, err: Console) -> int:
    if not dump.is_file():
        raise UpgradeError(f"{dump} does not exist")
    release = restore_release(dump)
    if release != config.release:
        raise UpgradeError(
            f"{dump.name} holds the databases of {release}, and the cloud runs {config.release}: "
            "a schema cannot be read back into another release (`tenrec rollback` undoes an upgrade)"
        )
    console.print(
        f"Restoring '{config.name}' from {dump}: the services stop, the databases are read back, a deploy starts them"
    )
    outcome = run_locked(
        config,
        state,
        console,
        err,
        "restore.yml",
        label="restore",
        scope=f"restore of {dump.name}",
        extravars={"restore_file": str(dump.resolve())},
    )
    if outcome.rc != Exit.OK:
        return outcome.rc
    console.print(f"[green]Restored from {dump.name}.[/]")
    return Exit.OK
