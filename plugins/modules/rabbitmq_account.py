#!/usr/bin/python
# Copyright: tenrec contributors
# Apache-2.0
"""A RabbitMQ user with its password and full permissions on its vhost, checked over AMQP."""

from __future__ import annotations

DOCUMENTATION = r"""
module: rabbitmq_account
short_description: RabbitMQ user, password and vhost permissions; checked by logging in over AMQP
description:
  - First logs in over AMQP 0-9-1 as the user and opens the vhost (a few milliseconds). When that
    works, the account is as asked and nothing runs.
  - Otherwise creates the vhost, creates the user or changes its password, and sets its
    permissions with rabbitmqctl. The password goes to rabbitmqctl on its standard input, never
    on a command line (argv is world-readable and lands in the journal).
options:
  name: {description: The user., type: str, required: true}
  password: {description: Its password., type: str, required: true, no_log: true}
  vhost: {description: The vhost it gets full permissions on., type: str, default: /}
  host: {description: Address of the AMQP listener to log in at., type: str, required: true}
  port: {description: AMQP port., type: int, default: 5672}
  permissions:
    description: Configure, write and read patterns.
    type: list
    elements: str
    default: [".*", ".*", ".*"]
author: tenrec contributors
"""

import socket
import struct

from ansible.module_utils.basic import AnsibleModule

FRAME_END = b"\xce"


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


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "password": {"type": "str", "required": True, "no_log": True},
            "vhost": {"type": "str", "default": "/"},
            "host": {"type": "str", "required": True},
            "port": {"type": "int", "default": 5672},
            "permissions": {"type": "list", "elements": "str", "default": [".*", ".*", ".*"]},
        },
        supports_check_mode=True,
    )
    p = module.params
    problem = logs_in(p["host"], p["port"], p["name"], p["password"], p["vhost"])
    if problem is None:
        module.exit_json(changed=False)
    if module.check_mode:
        module.exit_json(changed=True, reason=problem)

    def ctl(*args: str, stdin: str | None = None) -> str:
        rc, out, err = module.run_command(["rabbitmqctl", "--quiet", *args], data=stdin, binary_data=True)
        if rc != 0:
            module.fail_json(msg=f"rabbitmqctl {args[0]} failed (rc {rc}): {(err or out).strip()[-400:]}")
        return out

    actions = []
    if p["vhost"] not in ctl("list_vhosts", "--no-table-headers", "name").split():
        ctl("add_vhost", p["vhost"])
        actions.append(f"created vhost {p['vhost']}")
    users = [line.split("\t")[0] for line in ctl("list_users", "--no-table-headers").splitlines()]
    if p["name"] in users:
        ctl("change_password", p["name"], stdin=p["password"])
        actions.append(f"set the password of {p['name']}")
    else:
        ctl("add_user", p["name"], stdin=p["password"])
        actions.append(f"created user {p['name']}")
    ctl("set_permissions", "-p", p["vhost"], p["name"], *p["permissions"])
    actions.append(f"set the permissions of {p['name']} on {p['vhost']}")
    problem = logs_in(p["host"], p["port"], p["name"], p["password"], p["vhost"])
    if problem is not None:
        module.fail_json(msg=f"{p['name']} still cannot log in after {', '.join(actions)}: {problem}")
    module.exit_json(changed=True, actions=actions)


if __name__ == "__main__":
    main()
