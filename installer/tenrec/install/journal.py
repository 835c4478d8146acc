"""The install journal: which phases finished, with what inputs, so that a run that failed or
was killed continues where it stopped.

`.tenrec/install-journal.json` beside the config holds, per phase, when it finished, how long
it took and a fingerprint of what it depended on. A phase is skipped when it finished and its
fingerprint is unchanged; a changed config invalidates the phases that read it, and every
phase after one that runs again runs again too.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

PHASES: tuple[str, ...] = ("plan", "check", "bootstrap", "secrets", "deploy", "verify")


@dataclass
class PhaseRecord:
    finished: str
    seconds: float
    fingerprint: str
    note: str = ""


def fingerprint(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def tree_fingerprint(root: Path, subdirs: Iterable[str]) -> str:
    """What the deploy runs: every file's path, size and modification time (fast, and changed
    by any edit, checkout or upgrade of tenrec)."""
    entries = []
    for sub in subdirs:
        for path in sorted((root / sub).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                stat = path.stat()
                entries.append(f"{path.relative_to(root)}:{stat.st_size}:{int(stat.st_mtime)}")
    return fingerprint(*entries)


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: dict[str, PhaseRecord] = {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            self.records = {name: PhaseRecord(**value) for name, value in data.get("phases", {}).items()}
        except (OSError, ValueError, TypeError):
            self.records = {}

    def done(self, phase: str, fingerprint_now: str) -> PhaseRecord | None:
        """The record when PHASE finished with these inputs and every phase before it still counts."""
        for earlier in PHASES[: PHASES.index(phase)]:
            if earlier not in self.records:
                return None
        record = self.records.get(phase)
        return record if record is not None and record.fingerprint == fingerprint_now else None

    def finish(self, phase: str, seconds: float, fingerprint_now: str, note: str = "") -> None:
        self.records[phase] = PhaseRecord(time.strftime("%Y-%m-%d %H:%M:%S"), round(seconds, 1), fingerprint_now, note)
        # What came after this phase was built on its earlier result: it must run again.
        for later in PHASES[PHASES.index(phase) + 1 :]:
            self.records.pop(later, None)
        self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        data = {"phases": {name: asdict(record) for name, record in self.records.items()}}
        temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, self.path)
