# Copyright: tenrec contributors
# Apache-2.0
"""Records how long every task took on every host, and for which service, as JSON."""

from __future__ import annotations

DOCUMENTATION = r"""
name: timings
type: aggregate
short_description: per-task, per-host timings attributed to plays and services
description:
  - Records, for every task result, the play, the outermost role (the service or component
    that the play ran), the innermost role, the task name, the host, the status and the
    seconds between the task starting on that host and its result.
  - Records the wall-clock start and end of every play.
  - Writes everything as one JSON document when the playbook ends; C(tenrec deploy) and
    C(bench/deploy-speed) read it to print the seconds and task counts per phase and service.
requirements:
  - enable it in callbacks_enabled (C(tenrec.cloud.timings))
options:
  output:
    description: Path of the JSON file to write.
    env:
      - name: TENREC_TIMINGS_FILE
    default: timings.json
    type: path
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


def _role_names(task) -> list[str]:
    """The roles a task sits in, outermost first (include_role nests them)."""
    names: list[str] = []
    node = task
    while node is not None:
        role = getattr(node, "_role", None) or getattr(node, "_parent_role", None)
        if role is not None:
            name = role.get_name(include_role_fqcn=False)
            if not names or names[-1] != name:
                names.append(name)
        node = getattr(node, "_parent", None)
    return names[::-1]


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "tenrec.cloud.timings"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._plays: list[dict] = []
        self._tasks: list[dict] = []
        self._started: dict[tuple[str, str], float] = {}
        self._began = time.time()

    def _close_play(self) -> None:
        if self._plays and self._plays[-1]["end"] is None:
            self._plays[-1]["end"] = time.time() - self._began

    def v2_playbook_on_play_start(self, play) -> None:
        self._close_play()
        self._plays.append({"name": play.get_name().strip(), "start": time.time() - self._began, "end": None})

    def v2_runner_on_start(self, host, task) -> None:
        self._started[(host.get_name(), task._uuid)] = time.time()

    def _record(self, result, status: str) -> None:
        host = result._host.get_name()
        task = result._task
        started = self._started.pop((host, task._uuid), None)
        roles = _role_names(task)
        self._tasks.append(
            {
                "play": self._plays[-1]["name"] if self._plays else "",
                "service": roles[0] if roles else "",
                "role": roles[-1] if roles else "",
                "task": task.get_name().strip(),
                "action": task.action,
                "host": host,
                "status": status,
                "changed": bool(result._result.get("changed", False)),
                "seconds": round(time.time() - started, 3) if started else 0.0,
            }
        )

    def v2_runner_on_ok(self, result) -> None:
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:
        self._record(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result) -> None:
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result) -> None:
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats) -> None:
        self._close_play()
        path = self.get_option("output")
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        document = {"seconds": round(time.time() - self._began, 3), "plays": self._plays, "tasks": self._tasks}
        partial = f"{path}.partial"
        with open(partial, "w", encoding="utf-8") as handle:
            json.dump(document, handle)
        os.replace(partial, path)
