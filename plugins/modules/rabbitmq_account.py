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

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.tenrec.cloud.plugins.module_utils.amqp import logs_in


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
