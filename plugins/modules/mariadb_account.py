#!/usr/bin/python
# Copyright: tenrec contributors
# Apache-2.0
"""A service's MariaDB databases and its user with all privileges on them, checked by logging in."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mariadb_account
short_description: Databases and a user with all privileges on exactly them; checked by logging in as that user
description:
  - First logs in over TCP as the user with its password and checks that it sees every database
    and holds ALL PRIVILEGES on each (one connection, a few milliseconds). When that holds, nothing
    else runs.
  - Otherwise, as root over the unix socket, creates the missing databases (utf8mb4), creates the
    user for every host pattern or sets its password, and grants it all privileges on exactly those
    databases (other grants are revoked). The password travels inside the MariaDB protocol, never on
    a command line.
options:
  databases: {description: Database names., type: list, elements: str, required: true}
  user: {description: The user., type: str, required: true}
  password: {description: Its password., type: str, required: true, no_log: true}
  hosts:
    description: Host patterns the user may connect from (address/netmask).
    type: list
    elements: str
    required: true
  check_host: {description: Address to log in at for the check (MariaDB's listener)., type: str, required: true}
  port: {description: MariaDB's port., type: int, default: 3306}
  login_unix_socket: {description: Root's socket for the changes., type: path, default: /run/mysqld/mysqld.sock}
author: tenrec contributors
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.tenrec.cloud.plugins.module_utils.mariadb_login import account_works, pymysql


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "databases": {"type": "list", "elements": "str", "required": True},
            "user": {"type": "str", "required": True},
            "password": {"type": "str", "required": True, "no_log": True},
            "hosts": {"type": "list", "elements": "str", "required": True},
            "check_host": {"type": "str", "required": True},
            "port": {"type": "int", "default": 3306},
            "login_unix_socket": {"type": "path", "default": "/run/mysqld/mysqld.sock"},
        },
        supports_check_mode=True,
    )
    if pymysql is None:
        module.fail_json(msg="python3-pymysql is missing on this node (the mariadb role installs it)")
    p = module.params
    problem = account_works(p)
    if problem is None:
        module.exit_json(changed=False)
    if module.check_mode:
        module.exit_json(changed=True, reason=problem)
    reason = problem
    connection = pymysql.connect(unix_socket=p["login_unix_socket"], user="root", autocommit=True)
    try:
        with connection.cursor() as cursor:
            for name in p["databases"]:
                cursor.execute(
                    f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
                )
            for host in p["hosts"]:
                account = "%s@%s"
                cursor.execute(
                    f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY %s", (p["user"], host, p["password"])
                )
                cursor.execute(f"ALTER USER {account} IDENTIFIED BY %s", (p["user"], host, p["password"]))
                cursor.execute(f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account}", (p["user"], host))
                for name in p["databases"]:
                    cursor.execute(f"GRANT ALL PRIVILEGES ON `{name}`.* TO {account}", (p["user"], host))
    finally:
        connection.close()
    problem = account_works(p)
    if problem is not None:
        module.fail_json(msg=f"{p['user']} still cannot use its databases after the repair: {problem}")
    module.exit_json(changed=True, reason=reason)


if __name__ == "__main__":
    main()
