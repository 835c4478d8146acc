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
  - Otherwise one C(rabbitmqctl import_definitions) creates the vhost when missing, creates the
    user or sets its password (as a salted SHA-256 hash, RabbitMQ's default scheme), and sets
    its permissions; other users, vhosts and permissions stay as they are. The definitions go
    to rabbitmqctl on its standard input, never on a command line (argv is world-readable and
    lands in the journal). The user's tags are set to none (service accounts have none).
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

import base64
import hashlib
import json
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.tenrec.cloud.plugins.module_utils.amqp import logs_in


def password_hash(password: str, salt: bytes) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))."""
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def account_definitions(name: str, password: str, vhost: str, permissions: list[str]) -> dict:
    configure, write, read = permissions
    return {
        "users": [
            {
                "name": name,
                "password_hash": password_hash(password, os.urandom(4)),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": [],
            }
        ],
        "vhosts": [{"name": vhost}],
        "permissions": [{"user": name, "vhost": vhost, "configure": configure, "write": write, "read": read}],
    }


LOGIN_WAIT = 60  # seconds the new account has to log in after the import


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
    if len(p["permissions"]) != 3:
        module.fail_json(msg="permissions: give three patterns, configure, write and read (e.g. ['.*', '.*', '.*'])")
    problem = logs_in(p["host"], p["port"], p["name"], p["password"], p["vhost"])
    if problem is None:
        module.exit_json(changed=False)
    if module.check_mode:
        module.exit_json(changed=True, reason=problem)

    definitions = account_definitions(p["name"], p["password"], p["vhost"], p["permissions"])
    rc, out, err = module.run_command(
        ["rabbitmqctl", "--quiet", "import_definitions"], data=json.dumps(definitions), binary_data=True
    )
    if rc != 0:
        module.fail_json(msg=f"rabbitmqctl import_definitions failed (rc {rc}): {(err or out).strip()[-400:]}")
    actions = [f"set user {p['name']}, its password and its permissions on vhost {p['vhost']}"]
    # A broker starved of CPU (every node installing at once on a small host) has been seen
    # to accept its next connection 12 s after the import: ask again for a while.
    deadline = time.monotonic() + LOGIN_WAIT
    problem = logs_in(p["host"], p["port"], p["name"], p["password"], p["vhost"])
    while problem is not None and time.monotonic() < deadline:
        time.sleep(1)
        problem = logs_in(p["host"], p["port"], p["name"], p["password"], p["vhost"])
    if problem is not None:
        module.fail_json(msg=f"{p['name']} still cannot log in after {', '.join(actions)}: {problem}")
    module.exit_json(changed=True, actions=actions)


if __name__ == "__main__":
    main()
