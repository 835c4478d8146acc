# Copyright: tenrec contributors
# Apache-2.0
"""Log in to RabbitMQ over AMQP 0-9-1 (PLAIN) and open a vhost: the cheapest proof that an account works."""

from __future__ import annotations

import socket
import struct

FRAME_END = b"\xce"
# The argument spec of an account to log in with, as modules take it.
ACCOUNT_OPTIONS = {
    "hosts": {"type": "list", "elements": "str", "required": True},
    "port": {"type": "int", "default": 5672},
    "user": {"type": "str", "required": True},
    "password": {"type": "str", "required": True, "no_log": True},
    "vhost": {"type": "str", "default": "/"},
}


def shortstr(text: str) -> bytes:
    data = text.encode()
    return struct.pack("B", len(data)) + data


def method(class_id: int, method_id: int, arguments: bytes) -> bytes:
    payload = struct.pack(">HH", class_id, method_id) + arguments
    return struct.pack(">BHI", 1, 0, len(payload)) + payload + FRAME_END


def read_method(sock: socket.socket) -> tuple[int, int, bytes]:
    header = receive(sock, 7)
    _, _, size = struct.unpack(">BHI", header)
    payload = receive(sock, size + 1)[:-1]
    class_id, method_id = struct.unpack(">HH", payload[:4])
    return class_id, method_id, payload[4:]


def receive(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed by the server")
        data += chunk
    return data


def logs_in(host: str, port: int, user: str, password: str, vhost: str) -> str | None:
    """None when the user logs in and opens the vhost, else why not."""
    try:
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(b"AMQP\x00\x00\x09\x01")
            if read_method(sock)[:2] != (10, 10):  # connection.start
                return "no connection.start"
            response = b"\x00" + user.encode() + b"\x00" + password.encode()
            sock.sendall(
                method(
                    10,
                    11,
                    struct.pack(">I", 0)
                    + shortstr("PLAIN")
                    + struct.pack(">I", len(response))
                    + response
                    + shortstr("en_US"),
                )
            )
            answer = read_method(sock)
            if answer[:2] != (10, 30):  # connection.tune
                return "login refused"
            channel_max, frame_max, _ = struct.unpack(">HIH", answer[2][:8])
            sock.sendall(method(10, 31, struct.pack(">HIH", channel_max, frame_max, 0)))
            sock.sendall(method(10, 40, shortstr(vhost) + shortstr("") + b"\x00"))
            answer = read_method(sock)
            if answer[:2] != (10, 41):  # connection.open-ok
                return f"vhost {vhost} refused"
            sock.sendall(method(10, 50, struct.pack(">H", 200) + shortstr("bye") + struct.pack(">HH", 0, 0)))
            return None
    except (OSError, ConnectionError, struct.error) as error:
        return str(error)
