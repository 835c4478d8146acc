"""How long verify waits: every check's time limit times one factor, `tenrec verify
--patience` (1 by default), for clouds on slow or emulated hardware where a guest boots
minutes late but boots. A function that waits takes its limit as written in its module
and scales it itself; the rows' messages give the scaled limit."""

from __future__ import annotations

from dataclasses import dataclass

MAX_PATIENCE = 20.0


@dataclass
class Patience:
    factor: float = 1.0

    def seconds(self, limit: float) -> float:
        """A limit of `limit` seconds in this run."""
        return limit * self.factor


# The process's: one verify run at a time, which cmd_verify sets up.
patience = Patience()


def scaled(limit: float) -> float:
    """A check's time limit in this run: `limit` seconds times the run's patience."""
    return patience.seconds(limit)
