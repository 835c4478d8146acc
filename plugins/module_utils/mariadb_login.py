# Copyright: tenrec contributors
# Apache-2.0
"""Log in to MariaDB as a service's user: the cheapest proof that its account and grants work."""

from __future__ import annotations

try:
    import pymysql
except ImportError:  # callers report it
    pymysql = None

# The argument spec of a service's account to log in with, as modules take it.
DATABASE_ACCOUNT_OPTIONS = {
    "host": {"type": "str", "required": True},
    "port": {"type": "int", "default": 3306},
    "user": {"type": "str", "required": True},
    "password": {"type": "str", "required": True, "no_log": True},
    "databases": {"type": "list", "elements": "str", "required": True},
}


def account_works(params: dict) -> str | None:
    """None when the user logs in and holds all privileges on every database, else why not."""
    try:
        connection = pymysql.connect(
            host=params["check_host"], port=params["port"], user=params["user"],
            password=params["password"], connect_timeout=5,
        )  # fmt: skip
    except pymysql.MySQLError as error:
        return f"login: {error.args[-1] if error.args else error}"
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW DATABASES")
            visible = {row[0] for row in cursor.fetchall()}
            cursor.execute("SHOW GRANTS")
            grants = " ".join(row[0] for row in cursor.fetchall())
    finally:
        connection.close()
    for name in params["databases"]:
        if name not in visible:
            return f"database {name} missing"
        if f"GRANT ALL PRIVILEGES ON `{name.replace('_', chr(92) + '_')}`.*" not in grants and (
            f"GRANT ALL PRIVILEGES ON `{name}`.*" not in grants
        ):
            return f"no full privileges on {name}"
    return None
