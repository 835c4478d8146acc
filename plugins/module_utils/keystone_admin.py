"""The cloud's admin, connected through openstacksdk, for the modules that change the cloud."""

from __future__ import annotations

import sys
from typing import Any

try:
    import openstack
except ImportError:  # reported by connect()
    openstack = None

ADMIN_OPTIONS = {
    "auth_url": {"type": "str", "required": True},
    "admin_password": {"type": "str", "required": True, "no_log": True},
    "region": {"type": "str", "default": "RegionOne"},
}


def connect(module: Any) -> Any:
    """An admin connection that uses the internal endpoints; fails the module without openstacksdk."""
    if openstack is None:
        module.fail_json(
            msg=f"openstacksdk is not importable by {sys.executable}: run this with the operator CLI venv's python"
        )
    return openstack.connect(
        auth_url=module.params["auth_url"],
        username="admin",
        password=module.params["admin_password"],
        project_name="admin",
        user_domain_id="default",
        project_domain_id="default",
        region_name=module.params["region"],
        identity_interface="internal",
        network_interface="internal",
        block_storage_interface="internal",
        load_yaml_config=False,
        load_envvars=False,
    )
