"""MariaDB: on the management address only, root by socket only, and service databases that work."""

import os
import shlex
from pathlib import Path

import pytest
import yaml

from tests.node_checks import assert_listens_only_on, assert_running

ADDRESS = "10.201.2.11"
NETWORK_HOST = "10.201.2.0/255.255.255.0"


@pytest.fixture(scope="module")
def secrets():
    path = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets.yml"
    return yaml.safe_load(path.read_text())["tenrec_secrets"]


def root_sql(host, statement):
    """Runs a statement as root through the unix socket (the only way root gets in)."""
    return host.check_output(f"mariadb -N -B -e {shlex.quote(statement)}")


def tcp_sql(host, user, password, database, statement):
    """Runs a statement as a service would: over TCP to the management address, with a password."""
    return host.run(
        f"MYSQL_PWD={shlex.quote(password)} mariadb -N -B -h {ADDRESS} -P 3306 -u {user} "
        f"{database} -e {shlex.quote(statement)}"
    )


def test_installed_enabled_running(host):
    assert_running(host, "mariadb", "mariadb-server", "python3-pymysql")


def test_listens_on_management_address_only(host):
    assert_listens_only_on(host, ADDRESS, 3306)


def test_config_file_applied(host):
    config = host.file("/etc/mysql/mariadb.conf.d/99-tenrec.cnf")
    assert config.exists and config.mode == 0o644
    values = root_sql(
        host,
        "SELECT @@max_connections, @@innodb_buffer_pool_size, @@skip_name_resolve, "
        "@@character_set_server, @@collation_server, @@innodb_file_per_table, @@max_allowed_packet",
    ).split("\t")
    assert values == ["4096", str(256 * 1024**2), "1", "utf8mb4", "utf8mb4_general_ci", "1", str(64 * 1024**2)]


def test_no_anonymous_user_and_no_test_database(host):
    assert root_sql(host, "SELECT COUNT(*) FROM mysql.global_priv WHERE User = ''") == "0"
    assert root_sql(host, "SHOW DATABASES LIKE 'test'") == ""


def test_root_only_through_the_socket(host):
    assert root_sql(host, "SELECT Host FROM mysql.global_priv WHERE User = 'root'") == "localhost"
    over_tcp = host.run(f"mariadb -h {ADDRESS} -u root -e 'SELECT 1'")
    assert over_tcp.rc != 0 and "Access denied" in over_tcp.stderr


def test_service_users_limited_to_management_network(host):
    for user in ("keystone", "nova"):
        assert root_sql(host, f"SELECT Host FROM mysql.user WHERE User = '{user}'") == NETWORK_HOST


def test_service_databases_are_utf8mb4(host):
    charsets = root_sql(
        host,
        "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA "
        "WHERE SCHEMA_NAME IN ('keystone', 'nova', 'nova_api', 'nova_cell0') ORDER BY SCHEMA_NAME",
    )
    assert charsets.splitlines() == [f"{name}\tutf8mb4" for name in ("keystone", "nova", "nova_api", "nova_cell0")]


def test_keystone_database_usable_with_its_password(host, secrets):
    password = secrets["database_keystone_password"]
    result = tcp_sql(
        host,
        "keystone",
        password,
        "keystone",
        "CREATE TABLE IF NOT EXISTS molecule_probe (id INT PRIMARY KEY, note VARCHAR(32)); "
        "REPLACE INTO molecule_probe VALUES (1, 'tenrec'); "
        "SELECT note FROM molecule_probe WHERE id = 1; "
        "DROP TABLE molecule_probe",
    )
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "tenrec"


def test_wrong_password_refused(host, secrets):
    result = tcp_sql(host, "keystone", secrets["database_keystone_password"] + "x", "keystone", "SELECT 1")
    assert result.rc != 0 and "Access denied" in result.stderr


def test_nova_user_owns_all_three_databases_and_nothing_else(host, secrets):
    password = secrets["database_nova_password"]
    for database in ("nova", "nova_api", "nova_cell0"):
        result = tcp_sql(
            host,
            "nova",
            password,
            database,
            "CREATE TABLE probe (id INT); INSERT INTO probe VALUES (7); SELECT id FROM probe; DROP TABLE probe",
        )
        assert result.rc == 0, result.stderr
        assert result.stdout.strip() == "7"
    other = tcp_sql(host, "nova", password, "keystone", "SELECT 1")
    assert other.rc != 0 and "Access denied" in other.stderr


def test_file_limit_is_the_lab_nodes_own(host):
    # A lab node is a container with a hard limit of 20000; real hosts get 65536 from the drop-in.
    assert host.check_output("systemctl show -p LimitNOFILE --value mariadb") == "20000"
    pid = host.check_output("systemctl show -p MainPID --value mariadb")
    assert "20000" in host.check_output(f"grep 'Max open files' /proc/{pid}/limits")
