"""RabbitMQ: on the management address only, the deployment's cookie, no guest, and working service users."""

import json
import os
import shlex
from pathlib import Path

import pytest
import yaml

from tests.node_checks import assert_running, listening_addresses

ADDRESS = "10.201.3.11"
ANYWHERE = ("0.0.0.0", "127.0.0.1", "::")


@pytest.fixture(scope="module")
def secrets():
    path = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets.yml"
    return yaml.safe_load(path.read_text())["tenrec_secrets"]


def rabbitmqctl(host, *args):
    return host.run("rabbitmqctl -q " + " ".join(shlex.quote(arg) for arg in args))


def test_installed_enabled_running(host):
    assert_running(host, "rabbitmq-server", "rabbitmq-server")


def test_amqp_on_management_address_only(host):
    assert host.socket(f"tcp://{ADDRESS}:5672").is_listening
    for address in ANYWHERE:
        assert not host.socket(f"tcp://{address}:5672").is_listening
    assert listening_addresses(host, 5672) == {ADDRESS}


def test_erlang_distribution_on_management_address_only(host):
    assert listening_addresses(host, 25672) == {ADDRESS}


def test_epmd_on_loopback_and_management_address_only(host):
    # Loopback stays: every Erlang VM registers with its local epmd there.
    assert listening_addresses(host, 4369) == {"127.0.0.1", ADDRESS}


def test_no_plugin_enabled(host):
    assert host.file("/etc/rabbitmq/enabled_plugins").content_string.strip() == "[]."
    # -m: names only; -E: explicitly enabled, as the running node reports them.
    assert host.check_output("rabbitmq-plugins -q list -m -E") == ""
    assert not listening_addresses(host, 15672)


def test_guest_removed(host):
    users = json.loads(rabbitmqctl(host, "list_users", "--formatter", "json").stdout)
    names = {user["user"] for user in users}
    assert "guest" not in names
    assert {"nova", "ceilometer"} <= names


def test_erlang_cookie_is_the_deployments(host, secrets):
    cookie = host.file("/var/lib/rabbitmq/.erlang.cookie")
    assert cookie.user == "rabbitmq" and cookie.group == "rabbitmq"
    assert cookie.mode == 0o400
    assert cookie.content_string == secrets["rabbitmq_erlang_cookie"]


def test_service_user_authenticates_with_its_password_only(host, secrets):
    password = secrets["rabbitmq_nova_password"]
    assert rabbitmqctl(host, "authenticate_user", "nova", password).rc == 0
    assert rabbitmqctl(host, "authenticate_user", "nova", password + "x").rc != 0
    assert rabbitmqctl(host, "authenticate_user", "ceilometer", secrets["rabbitmq_ceilometer_password"]).rc == 0


def test_permissions_as_requested(host):
    full = {"configure": ".*", "write": ".*", "read": ".*"}
    nova = json.loads(rabbitmqctl(host, "list_user_permissions", "nova", "--formatter", "json").stdout)
    assert nova == [{"vhost": "/", **full}]
    ceilometer = json.loads(rabbitmqctl(host, "list_user_permissions", "ceilometer", "--formatter", "json").stdout)
    assert ceilometer == [{"vhost": "/telemetry", **full}]


def test_file_limit_is_the_lab_nodes_own(host):
    # A lab node is a container with a hard limit of 20000; real hosts get 65536 from the drop-in.
    assert host.check_output("systemctl show -p LimitNOFILE --value rabbitmq-server") == "20000"
    beam = host.check_output("pgrep -u rabbitmq -f beam.smp").split()[0]
    assert "20000" in host.check_output(f"grep 'Max open files' /proc/{beam}/limits")
