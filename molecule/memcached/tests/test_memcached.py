"""memcached: running, on the management address only, and storing what it is given."""

from tests.node_checks import assert_listens_only_on, assert_running

ADDRESS = "10.201.1.11"


def test_installed_enabled_running(host):
    assert_running(host, "memcached", "memcached")


def test_listens_on_management_address_only(host):
    assert_listens_only_on(host, ADDRESS, 11211)


# Talks the memcached text protocol from the node itself.
PROTOCOL_CHECK = """
import socket
s = socket.create_connection(("ADDRESS", 11211), 5)
s.sendall(b"set tenrec 0 60 5\\r\\nhello\\r\\nget tenrec\\r\\nquit\\r\\n")
print(b"".join(iter(lambda: s.recv(4096), b"")).decode())
""".replace("ADDRESS", ADDRESS)


def test_stores_and_returns_a_value(host):
    out = host.check_output(f"python3 -c '{PROTOCOL_CHECK}'")
    assert "STORED" in out
    assert "VALUE tenrec 0 5" in out and "hello" in out
