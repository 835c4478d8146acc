"""SSH work done before Ansible can be used (lab readiness, later bootstrap and diagnose)."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import paramiko
from fabric import Connection


@dataclass(frozen=True)
class SshTarget:
    address: str
    user: str = "root"
    port: int = 22
    key: Path | None = None


def connect(target: SshTarget, timeout: float = 5.0) -> Connection:
    kwargs: dict[str, object] = {"look_for_keys": target.key is None, "allow_agent": target.key is None}
    if target.key is not None:
        kwargs["key_filename"] = str(target.key)
    return Connection(
        target.address,
        user=target.user,
        port=target.port,
        connect_timeout=max(1, int(timeout)),
        connect_kwargs=kwargs,
    )


def wait_for_ssh(target: SshTarget, deadline: float, command: str = "true") -> str | None:
    """Poll until `command` runs over SSH; None on success, else the last error by the deadline."""
    last = "not tried"
    while True:
        try:
            with connect(target, timeout=min(5.0, max(1.0, deadline - time.monotonic()))) as conn:
                conn.run(command, hide=True, in_stream=False)
            return None
        except (TimeoutError, OSError, paramiko.SSHException, EOFError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # invoke's UnexpectedExit and friends: the command failed
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            return last
        time.sleep(0.2)


def run_here(command: str) -> subprocess.CompletedProcess[str]:
    """command through sh as root on this machine (sudo -n when not root), output captured."""
    argv = ["sh", "-c", command] if os.geteuid() == 0 else ["sudo", "-n", "sh", "-c", command]
    return subprocess.run(argv, check=False, capture_output=True, text=True, stdin=subprocess.DEVNULL)
