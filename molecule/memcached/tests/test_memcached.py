"""memcached: running, on the management address only, and storing what it is given."""

ADDRESS = "10.201.1.11"


def test_installed_enabled_running(host):
    assert host.package("memcached").is_installed
    service = host.service("memcached")
    assert service.is_running and service.is_enabled


def test_listens_on_management_address_only(host):
    assert host.socket(f"tcp://{ADDRESS}:11211").is_listening
    assert not host.socket("tcp://0.0.0.0:11211").is_listening
    assert not host.socket("tcp://127.0.0.1:11211").is_listening


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
