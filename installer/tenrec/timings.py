"""Seconds and task counts per phase (play) and per service, from the timings callback."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

# Statuses that mean the task ran on the host (a skipped task still costs a little).
RAN = {"ok", "failed", "ignored", "unreachable"}


@dataclass
class Cost:
    """What one phase or service cost in a run."""

    name: str
    seconds: float  # a phase: wall clock; a service: its slowest host's task seconds
    ran: int  # task results on all hosts that ran
    skipped: int
    changed: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seconds": round(self.seconds, 1),
            "ran": self.ran,
            "skipped": self.skipped,
            "changed": self.changed,
        }


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _counts(tasks: list[dict[str, Any]]) -> tuple[int, int, int]:
    ran = sum(1 for t in tasks if t["status"] in RAN)
    skipped = sum(1 for t in tasks if t["status"] == "skipped")
    changed = sum(1 for t in tasks if t["changed"])
    return ran, skipped, changed


def by_phase(document: dict[str, Any]) -> list[Cost]:
    tasks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for task in document["tasks"]:
        tasks[task["play"]].append(task)
    costs = []
    for play in document["plays"]:
        end = play["end"] if play["end"] is not None else document["seconds"]
        costs.append(Cost(play["name"], end - play["start"], *_counts(tasks.pop(play["name"], []))))
    return costs


def by_service(document: dict[str, Any]) -> list[Cost]:
    """Per outermost role: the seconds on its slowest host (hosts run side by side)."""
    tasks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for task in document["tasks"]:
        tasks[task["service"] or "(play tasks)"].append(task)
    costs = []
    for service, items in tasks.items():
        per_host: dict[str, float] = defaultdict(float)
        for task in items:
            per_host[task["host"]] += task["seconds"]
        costs.append(Cost(service, max(per_host.values()), *_counts(items)))
    return sorted(costs, key=lambda c: c.seconds, reverse=True)


def slowest_tasks(document: dict[str, Any], count: int = 10) -> list[dict[str, Any]]:
    return sorted(document["tasks"], key=lambda t: t["seconds"], reverse=True)[:count]


def table(title: str, costs: list[Cost], seconds_label: str = "seconds") -> Table:
    grid = Table(title=title)
    for column in ("name", seconds_label, "tasks run", "skipped", "changed"):
        grid.add_column(column, justify="left" if column == "name" else "right")
    for cost in costs:
        grid.add_row(cost.name, f"{cost.seconds:.1f}", str(cost.ran), str(cost.skipped), str(cost.changed))
    return grid
