"""What the secrets audit (tests/secrets_audit.py) lets pass and what it reports."""

from __future__ import annotations

import pytest

from tests.secrets_audit import Hit, allowed, judge, searched


def file_hit(path: str, mode: int, uid: int = 0, gid: int = 997) -> Hit:
    return Hit("ctl1", "file", path, "database_nova_password", mode, uid, gid)


@pytest.mark.parametrize(
    ("path", "mode", "uid"),
    [
        ("/etc/nova/nova.conf", 0o640, 0),
        ("/etc/libvirt/passwd.db", 0o600, 0),
        ("/etc/nova/nova.conf", 0o400, 0),
        ("/var/lib/rabbitmq/.erlang.cookie", 0o400, 105),
        ("/root/.config/openstack/clouds.yaml", 0o600, 0),
    ],
)
def test_private_config_files_may_hold_secrets(path, mode, uid):
    assert allowed(file_hit(path, mode, uid))


@pytest.mark.parametrize(
    ("path", "mode", "uid", "why"),
    [
        ("/etc/nova/nova.conf", 0o644, 0, "readable by others"),
        ("/etc/nova/nova.conf", 0o660, 0, "writable by the group"),
        ("/etc/nova/nova.conf", 0o640, 996, "owned by the service, which could loosen it"),
        ("/var/log/nova/nova-compute.log", 0o600, 0, "a log, not a config file"),
        ("/tmp/planted.txt", 0o600, 0, "not a config file"),
        ("/root/.ansible/tmp/args", 0o600, 0, "Ansible's leftovers"),
    ],
)
def test_other_files_are_leaks(path, mode, uid, why):
    assert not allowed(file_hit(path, mode, uid)), why


def test_journal_and_command_lines_are_always_leaks():
    journal = Hit("cmp1", "journal", "nova-compute.service (sudo) fields MESSAGE,_CMDLINE", "service_nova_password")
    argv = Hit("cmp1", "argv", "pid 42 (mysql)", "database_nova_password")
    good, bad = judge([journal, argv, file_hit("/etc/nova/nova.conf", 0o640)])
    assert bad == [journal, argv]
    assert len(good) == 1
    assert journal.describe() == (
        "cmp1: service_nova_password in journal nova-compute.service (sudo) fields MESSAGE,_CMDLINE"
    )
    assert file_hit("/tmp/x", 0o644).describe().endswith("in file /tmp/x (mode 0644, uid 0, gid 997)")


def test_only_long_string_values_are_searched():
    assert searched({"a": "x" * 32, "short": "abc", "number": 12345678901234, "b": "y" * 12}) == {
        "a": "x" * 32,
        "b": "y" * 12,
    }
