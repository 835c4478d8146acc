"""Checks on a node that molecule scenarios and the lab integration test share (testinfra hosts)."""

from __future__ import annotations


def assert_running(host, service: str, *packages: str) -> None:
    """The packages are installed and the service is enabled and running."""
    for package in packages:
        assert host.package(package).is_installed, package
    unit = host.service(service)
    assert unit.is_running, f"{service} is not running"
    assert unit.is_enabled, f"{service} is not enabled"


def listening_addresses(host, port: int) -> set[str]:
    """Local addresses with a listening TCP socket on the port, as ss inside the node sees them."""
    out = host.check_output(f"ss -Hltn 'sport = :{port}'")
    return {line.split()[3].rsplit(":", 1)[0].strip("[]") for line in out.splitlines()}


def assert_listens_only_on(host, address: str, port: int) -> None:
    """Listening on exactly this address: not on 0.0.0.0, ::, loopback or any other."""
    assert listening_addresses(host, port) == {address}
