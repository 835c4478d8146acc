"""The check phase: every node can be logged in to (this host: tenrec runs as root or with
sudo), before anything on any node changes."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tenrec.config import Deployment
from tenrec.config.model import Node
from tenrec.ssh import SshTarget, wait_for_ssh


def check_login(config: Deployment, node: Node, is_root: bool) -> str | None:
    if node.connection == "local":
        if is_root:
            return None
        sudo = subprocess.run(["sudo", "-n", "true"], check=False, capture_output=True, stdin=subprocess.DEVNULL)
        if sudo.returncode == 0:
            return None
        return f"{node.name} (this host): run tenrec as root, or give this user passwordless sudo"
    key = Path(config.ssh.private_key).expanduser() if config.ssh.private_key else None
    if key is not None and not key.exists():
        return f"{node.name}: ssh.private_key {key} does not exist; create it (ssh-keygen -t ed25519 -f {key})"
    target = SshTarget(node.address, config.ssh.user, node.ssh_port or config.ssh.port, key)

    error = wait_for_ssh(target, time.monotonic() + 10)
    if error is None:
        return None
    login = f"{config.ssh.user}@{node.address}"
    hint = f"ssh-copy-id -i {key}.pub {login}" if key else f"ssh-copy-id {login}"
    return f"{node.name}: cannot log in as {login} ({error}); put this host's key there: {hint}"


def check_logins(config: Deployment, is_root: bool) -> list[str]:
    with ThreadPoolExecutor(max_workers=min(8, len(config.nodes))) as pool:
        found = pool.map(lambda node: check_login(config, node, is_root), config.nodes)
    return [problem for problem in found if problem]
