"""Steps an earlier Ansible run left running on this node.

Killing `ansible-playbook` (or losing the deploy host) does not stop what it started on the
nodes: the module already running there goes on to its end (apt, a restart, a migration).
A new run that started the same step beside it would race it: two `systemctl restart
mariadb` on a starting server left it stuck in its stop timeout for 15 minutes. So the next
deploy waits for those steps to end before it changes anything.
"""

from __future__ import annotations

import os
import time

# How Ansible starts a module on a node: `/bin/sh -c '/usr/bin/python3 && sleep 0'` when
# pipelining, an AnsiballZ file otherwise; async jobs run under its async_wrapper.
ANSIBLE_MARKS = (b" && sleep 0", b"AnsiballZ_", b"async_wrapper")


def _stat(pid: int, proc: str) -> tuple[int, str] | None:
    """(parent pid, command line) of PID, None once it is gone (or has ended, unreaped)."""
    try:
        with open(f"{proc}/{pid}/stat", "rb") as handle:
            state, parent = handle.read().rsplit(b")", 1)[1].split()[:2]
        if state == b"Z":
            return None
        with open(f"{proc}/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read().replace(b"\0", b" ").strip()
    except (OSError, IndexError, ValueError):
        return None
    return int(parent), cmdline.decode(errors="replace")


def processes(proc: str = "/proc") -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process that can be read."""
    found = {}
    for entry in os.listdir(proc):
        if entry.isdigit():
            info = _stat(int(entry), proc)
            if info is not None:
                found[int(entry)] = info
    return found


def ancestors(pid: int, table: dict[int, tuple[int, str]]) -> set[int]:
    seen = set()
    while pid in table and pid not in seen:
        seen.add(pid)
        pid = table[pid][0]
    return seen


def deepest_command(pid: int, table: dict[int, tuple[int, str]]) -> str:
    """What the step is doing now: the command of its last-started descendant (a module runs
    as python3, which says nothing; its child says `systemctl restart mariadb`)."""
    children: dict[int, list[int]] = {}
    for child, (parent, _) in table.items():
        children.setdefault(parent, []).append(child)
    current = pid
    while children.get(current):
        current = max(children[current])
    return table[current][1] if current in table else ""


def find(own_pid: int, proc: str = "/proc") -> dict[int, str]:
    """Ansible steps running on this node that are not this module's own: pid -> what it does."""
    table = processes(proc)
    mine = ancestors(own_pid, table)
    return {
        pid: deepest_command(pid, table) or cmdline
        for pid, (_, cmdline) in table.items()
        if pid not in mine and any(mark.decode() in cmdline for mark in ANSIBLE_MARKS) and not _ssh_client(cmdline)
    }


def _ssh_client(cmdline: str) -> bool:
    """The deploy host's connection to another node (this node is also the deploy host when
    tenrec runs on it): the step runs over there, not here."""
    return cmdline.split(" ", 1)[0].rsplit("/", 1)[-1] == "ssh"


def wait(timeout: float, own_pid: int | None = None, poll: float = 1.0, proc: str = "/proc") -> dict:
    """Wait up to TIMEOUT seconds for the steps found now to end (0: only look).

    Returns found (pid -> command, as first seen), waited (seconds) and still_running."""
    own = own_pid if own_pid is not None else os.getpid()
    found = find(own, proc)
    started = time.monotonic()
    running = dict(found)
    while running and time.monotonic() - started < timeout:
        time.sleep(poll)
        running = {pid: what for pid, what in running.items() if _stat(pid, proc) is not None}
    return {
        "found": {str(pid): what for pid, what in sorted(found.items())},
        "waited": round(time.monotonic() - started, 1) if found and timeout else 0.0,
        "still_running": {str(pid): what for pid, what in sorted(running.items())} if timeout else {},
    }
