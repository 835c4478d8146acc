"""The cloud's admin, connected through openstacksdk, for the modules that change the cloud."""

from __future__ import annotations

import sys
from typing import Any

try:
    import openstack
    from keystoneauth1 import exceptions as ks_exceptions
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import v3 as ks_v3
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


def login_works(auth_url: str, username: str, password: str, **scope: str) -> bool:
    """Whether the user logs in with password (scope: user_domain_id and a project or domain),
    as the service using it will: a rotated secret is then reset only when it fails."""
    auth = ks_v3.Password(auth_url=auth_url, username=username, password=password, **scope)
    try:
        ks_session.Session(auth=auth, timeout=20).get_token()
    except ks_exceptions.Unauthorized:
        return False
    return True


def created_or_found(create: Any, find: Any) -> Any:
    """Create a shared object (a project, a role); a run going on at the same time may have made
    it first (Keystone answers 409), then it is found."""
    try:
        return create()
    except openstack.exceptions.ConflictException:
        found = find()
        if found is None:
            raise
        return found
