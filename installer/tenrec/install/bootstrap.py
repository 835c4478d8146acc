"""Make every node ready for Ansible: a login that works, root through sudo when the login
is not root, and Python with its apt bindings (Debian's minimal installs lack python3-apt).
Over SSH with fabric, since Ansible cannot run before this; this host without SSH."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import paramiko
from invoke.exceptions import UnexpectedExit

from tenrec.config import Deployment
from tenrec.config.model import Node
from tenrec.ssh import SshTarget, connect, run_here

# Debian's own interpreter, the one Ansible is told to use: python3 on PATH may be another.
READY = "/usr/bin/python3 -c 'import apt, sys; print(sys.version.split()[0])'"
INSTALL = (
    "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-apt"
    " || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive"
    " apt-get install -y -qq --no-install-recommends python3 python3-apt; }"
)

Runner = Callable[[str], tuple[int, str]]


@dataclass
class NodeBootstrap:
    node: str
    ok: bool
    detail: str


def run_locally(command: str) -> tuple[int, str]:
    done = run_here(command)
    return done.returncode, (done.stdout + done.stderr).strip()


def prepare(node: str, run: Runner, elevated: bool) -> NodeBootstrap:
    rc, out = run(READY)
    if rc == 0:
        return NodeBootstrap(node, True, f"ready: Python {out.splitlines()[-1]} with python3-apt")
    rc, out = run(INSTALL)
    if rc != 0:
        tail = out.splitlines()[-1] if out else f"exit {rc}"
        return NodeBootstrap(node, False, f"installing python3 and python3-apt failed: {tail}")
    rc, out = run(READY)
    if rc != 0:
        return NodeBootstrap(node, False, "python3-apt installed, but `import apt` still fails")
    return NodeBootstrap(node, True, f"installed python3-apt; Python {out.splitlines()[-1]}")


def bootstrap_ssh(config: Deployment, node: Node) -> NodeBootstrap:
    user = config.ssh.user
    key = Path(config.ssh.private_key).expanduser() if config.ssh.private_key else None
    target = SshTarget(node.address, user, node.ssh_port or config.ssh.port, key)
    login = f"{user}@{node.address}"
    try:
        conn = connect(target, timeout=10)
        conn.open()
    except (OSError, paramiko.SSHException, EOFError) as error:
        hint = f"ssh-copy-id -i {key}.pub {login}" if key else f"ssh-copy-id {login}"
        return NodeBootstrap(node.name, False, f"cannot log in as {login} ({error}); put this host's key there: {hint}")
    with conn:
        elevate = "" if user == "root" else "sudo -n "

        def run(command: str) -> tuple[int, str]:
            try:
                result = conn.run(f"{elevate}sh -c {shlex.quote(command)}", hide=True, warn=True, in_stream=False)
            except UnexpectedExit as error:
                result = error.result
            return result.exited, (result.stdout + result.stderr).strip()

        if user != "root":
            rc, _ = run("true")
            if rc != 0:
                return NodeBootstrap(
                    node.name,
                    False,
                    f"{user} cannot become root without a password; add `{user} ALL=(ALL) NOPASSWD: ALL` "
                    f"to /etc/sudoers.d/tenrec on {node.address}",
                )
        return prepare(node.name, run, True)


def bootstrap_nodes(config: Deployment) -> list[NodeBootstrap]:
    def one(node: Node) -> NodeBootstrap:
        if node.connection == "local":
            return prepare(node.name, run_locally, True)
        return bootstrap_ssh(config, node)

    with ThreadPoolExecutor(max_workers=min(8, len(config.nodes))) as pool:
        return list(pool.map(one, config.nodes))
