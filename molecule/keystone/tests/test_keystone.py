"""Keystone: the API on the management address, fernet tokens that survive a rotation,
token caching in memcached, the bootstrapped catalog and the operator's credentials."""

import json

from tests.node_checks import assert_listens_only_on, assert_running

ADDRESS = "10.201.7.11"
OS = "openstack --os-cloud tenrec"


def token(host):
    return host.check_output(f"{OS} token issue -f value -c id")


def test_api_running_on_management_address_only(host):
    assert_running(host, "keystone-api")
    assert_listens_only_on(host, ADDRESS, 5000)


def test_token_issue(host):
    assert len(token(host)) > 100


def test_identity_endpoints_public_internal_admin(host):
    endpoints = json.loads(host.check_output(f"{OS} endpoint list --service identity -f json"))
    assert sorted(e["Interface"] for e in endpoints) == ["admin", "internal", "public"]
    assert all(e["URL"] == f"http://{ADDRESS}:5000/v3" for e in endpoints)
    assert {e["Region"] for e in endpoints} == {"RegionOne"}


def test_service_project_and_admin_role_exist(host):
    assert host.run(f"{OS} project show service -f value -c name").stdout.strip() == "service"
    assert "admin" in host.check_output(f"{OS} role list -f value -c Name").split()


def test_config_readable_by_keystone_only(host):
    conf = host.file("/etc/keystone/keystone.conf")
    assert (conf.user, conf.group, conf.mode) == ("root", "keystone", 0o640)
    assert "provider = fernet" in conf.content_string
    for keys in ("/etc/keystone/fernet-keys", "/etc/keystone/credential-keys"):
        directory = host.file(keys)
        assert (directory.user, directory.mode) == ("keystone", 0o700)


def test_venv_named_by_release_with_a_stable_link(host):
    link = host.file("/opt/openstack/keystone")
    assert link.is_symlink
    assert link.linked_to == "/opt/openstack/venvs/keystone-2026.2"
    assert host.file("/opt/openstack/venvs/keystone-2026.2/tenrec-lock.txt").contains("keystone==30.0.0")


def test_rotation_timer_enabled(host):
    timer = host.service("keystone-fernet-rotate.timer")
    assert timer.is_enabled
    assert timer.is_running


def test_tokens_survive_a_key_rotation(host):
    before = token(host)
    keys_before = host.check_output("ls /etc/keystone/fernet-keys").split()
    host.check_output("systemctl start keystone-fernet-rotate.service")
    keys_after = host.check_output("ls /etc/keystone/fernet-keys").split()
    assert max(map(int, keys_after)) == max(map(int, keys_before)) + 1
    assert len(keys_after) <= 3
    after = token(host)
    status = host.check_output(
        f"curl -s -o /dev/null -w '%{{http_code}}' -H 'X-Auth-Token: {after}' -H 'X-Subject-Token: {before}' "
        f"http://{ADDRESS}:5000/v3/auth/tokens"
    )
    assert status == "200"


def test_tokens_are_cached_in_memcached(host):
    token(host)
    probe = (
        f"import socket; s=socket.create_connection(('{ADDRESS}', 11211)); "
        "s.sendall(b'stats\\r\\n'); print(s.recv(65536).decode())"
    )
    stats = host.check_output(f'python3 -c "{probe}"')
    items = int(next(line.split()[2] for line in stats.splitlines() if line.startswith("STAT curr_items ")))
    assert items > 0


def test_operator_credentials_private(host):
    clouds = host.file("/root/.config/openstack/clouds.yaml")
    assert (clouds.user, clouds.mode) == ("root", 0o600)
