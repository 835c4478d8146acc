"""The deployment's nodes and networks, as the checks compare the cloud with them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tenrec.verify.core import Context, SkipCheck

NO_CONFIG = "no deployment config to compare the cloud with"


def host_is(host: str | None, node: str) -> bool:
    """Whether a service's or agent's host is node (tenrec names each host after its node; an FQDN counts)."""
    return bool(host) and (host == node or host.split(".", 1)[0] == node)


def hosts_on(hosts: Iterable[str | None], node: str) -> bool:
    return any(host_is(host, node) for host in hosts)


def node_names(ctx: Context, *roles: str) -> list[str]:
    """The config's nodes holding any of roles, in config order."""
    if ctx.config is None:
        raise SkipCheck(NO_CONFIG)
    return [node.name for node in ctx.config.nodes if set(roles) & set(node.roles)]


def config_cidrs(ctx: Context) -> list[str]:
    """Every network the config declares (tenant subnets must not overlap them)."""
    if ctx.config is None:
        return []
    networks = ctx.config.networks
    return [
        network.cidr
        for network in (networks.management, networks.tunnel, networks.storage, networks.external)
        if network
    ]


def node_output(ctx: Context, node_name: str, command: str) -> str:
    """command's output on a node of the config, over SSH as the deploy does (on this machine
    for the node that is it)."""
    from tenrec.ssh import SshTarget, connect, run_here  # noqa: PLC0415

    assert ctx.config is not None
    node = next(n for n in ctx.config.nodes if n.name == node_name)
    if node.connection == "local":
        done = run_here(command)
        done.check_returncode()
        return done.stdout
    ssh = ctx.config.ssh
    key = Path(ssh.private_key).expanduser() if ssh.private_key else None
    target = SshTarget(node.address, ssh.user, node.ssh_port or ssh.port, key)
    with connect(target, timeout=10) as session:
        prefix = "sudo " if ssh.user != "root" else ""
        return str(session.run(prefix + command, hide=True, in_stream=False).stdout)
