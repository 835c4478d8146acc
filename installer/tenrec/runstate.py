"""A deploy in progress, as the next run sees it: one at a time, and where an unfinished one stopped.

`.tenrec/deploy.lock` is held (flock) while a deploy runs, so a second one on the same
deployment is refused. `.tenrec/deploy-running.json` is written when a deploy starts and
rewritten (atomically) at each play and task; it is removed when the run ends, failed or
not. If it is still there at the next start, the previous run was killed (SIGKILL, a lost
SSH session, a reboot of this machine) or interrupted, and it says where it stopped.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO


class DeployRunning(Exception):
    """Another tenrec deploy holds this deployment's lock."""


@dataclass
class RunningDeploy:
    pid: int
    started: str
    scope: str  # "full", or the --only/--limit given
    play: str = ""
    task: str = ""
    interrupted: bool = False  # SIGINT/SIGTERM reached tenrec, which stopped Ansible
    # By node, the roles it had finished and the one it is in. Under the free strategy each
    # node goes through its roles at its own pace: a role is done on a node once that node
    # starts a task of another one.
    roles_done: dict[str, list[str]] = field(default_factory=dict)
    role: dict[str, str] = field(default_factory=dict)

    def where(self) -> str:
        if not self.play:
            return "before its first play"
        task = f", task '{self.task}'" if self.task else ""
        return f"in play '{self.play}'{task}"


class RunState:
    def __init__(self, root: Path) -> None:
        self.lock_path = root / "deploy.lock"
        self.marker = root / "deploy-running.json"
        self.current: RunningDeploy | None = None
        self._lock: IO[str] | None = None

    def previous(self) -> RunningDeploy | None:
        """The run that left its marker behind (it did not finish), if any."""
        try:
            data = json.loads(self.marker.read_text(encoding="utf-8"))
            known = {item.name for item in fields(RunningDeploy)}
            previous = RunningDeploy(**{key: value for key, value in data.items() if key in known})
        except (OSError, ValueError, TypeError, AttributeError):
            return None
        if not isinstance(previous.roles_done, dict) or not isinstance(previous.role, dict):
            # A marker from a version that kept one list for every node.
            previous.roles_done, previous.role = {}, {}
        return previous

    def _write(self) -> None:
        assert self.current is not None
        temporary = self.marker.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self.current)) + "\n", encoding="utf-8")
        os.replace(temporary, self.marker)

    @contextmanager
    def running(self, scope: str) -> Iterator[RunState]:
        """Holds the lock and the marker for one run; the marker goes when the run ends normally."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.lock_path.open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            holder = self.previous()
            who = f" (pid {holder.pid}, started {holder.started})" if holder else ""
            raise DeployRunning(f"another tenrec deploy is running on this deployment{who}") from None
        self._lock = lock
        self.current = RunningDeploy(os.getpid(), time.strftime("%Y-%m-%d %H:%M:%S"), scope)
        self._write()
        try:
            yield self
        except BaseException:
            # Interrupted: the marker stays, saying where, for the next run to report.
            if self.current is not None:
                self.current.interrupted = True
                self._write()
            raise
        else:
            self.marker.unlink(missing_ok=True)
        finally:
            self.current = None
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()
            self._lock = None

    def at(self, play: str, task: str) -> None:
        """The run reached this play and task (called by the progress display)."""
        current = self.current
        if current is None or (current.play, current.task) == (play, task):
            return
        current.play, current.task = play, task
        self._write()

    def host_at(self, host: str, role: str) -> None:
        """A node started a task of this role ("" for a play's own task)."""
        current = self.current
        role = role.rsplit(".", 1)[-1]
        if current is None or not role or current.role.get(host) == role:
            return
        done = current.roles_done.setdefault(host, [])
        left = current.role.get(host)
        if left and left not in done:
            done.append(left)
        if role in done:  # back in a role after one it includes (openstack_service)
            done.remove(role)
        current.role[host] = role
        self._write()


def unfinished_message(previous: RunningDeploy) -> str:
    how = "was interrupted" if previous.interrupted else "did not finish (killed, or this machine went down)"
    by_node = "; ".join(f"{host}: {', '.join(roles)}" for host, roles in sorted(previous.roles_done.items()) if roles)
    finished = (
        f" The roles each node had finished ({by_node}): this run finds them in place and changes nothing there."
        if by_node
        else ""
    )
    return (
        f"The previous deploy (pid {previous.pid}, started {previous.started}, {previous.scope}) {how}: "
        f"it stopped {previous.where()}.{finished} Every step is idempotent: this run goes through them all "
        "and does what is left."
    )
