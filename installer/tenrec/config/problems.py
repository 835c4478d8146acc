"""A problem found in a deployment config: where it is, what is wrong, how to fix it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

FILE_PATH = "(file)"


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    message: str
    fix: str

    def render(self) -> str:
        return f"{self.path}: {self.message}\n    fix: {self.fix}"


def format_path(loc: Sequence[str | int]) -> str:
    """('nodes', 1, 'address') -> 'nodes[1].address'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or FILE_PATH


def unique_sorted(problems: Iterable[Problem]) -> list[Problem]:
    return sorted(set(problems), key=_sort_key)


def _sort_key(problem: Problem) -> tuple[int, str, str]:
    # File-level problems first; then by path so a node's problems stay together.
    return (0 if problem.path == FILE_PATH else 1, problem.path, problem.message)


class ConfigError(Exception):
    """Raised with every problem at once; never with a partial list."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s)")
