#!/usr/bin/python
"""A Keystone domain with its own admin user, and the roles a service hands out in it."""

from __future__ import annotations

DOCUMENTATION = r"""
module: keystone_domain
short_description: Make a Keystone domain, its admin user and the roles a service uses
description:
  - Makes sure Keystone has the domain (enabled, with the description given), a user of that
    domain with the given password and the C(admin) role on the domain, and every role named
    in O(roles).
  - Heat keeps the users and projects of its stacks in such a domain (the stack user domain)
    and manages them as its admin user; its roles are C(heat_stack_owner) and C(heat_stack_user).
  - The password is checked by logging in as the user (domain-scoped); it is reset only when
    that fails, so a rotated secret is applied and an unchanged one reports no change.
  - Nothing is deleted: a domain's users and projects outlive a change of this module's inputs.
version_added: "0.1.0"
author: tenrec developers
extends_documentation_fragment: [tenrec.cloud.keystone_admin]
options:
  domain:
    description: The domain's name.
    type: str
    required: true
  description:
    description: The domain's description.
    type: str
    default: ""
  admin_user:
    description: The domain's admin user (a user of that domain).
    type: str
    required: true
  admin_user_password:
    description: Its password.
    type: str
    required: true
  roles:
    description: Roles made when missing (global roles, not domain-specific ones).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Heat's stack user domain
  tenrec.cloud.keystone_domain:
    auth_url: http://192.0.2.10:5000/v3
    admin_password: "{{ tenrec_secrets.keystone_admin_password }}"
    domain: heat
    description: Users and projects of Heat stacks
    admin_user: heat_domain_admin
    admin_user_password: "{{ tenrec_secrets.heat_domain_admin_password }}"
    roles: [heat_stack_owner, heat_stack_user]
"""

RETURN = r"""
actions:
  description: What was created or updated.
  type: list
  elements: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.tenrec.cloud.plugins.module_utils.keystone_admin import (
    ADMIN_OPTIONS,
    connect,
    created_or_found,
    login_works,
)

try:
    import openstack
except ImportError:  # reported by connect()
    openstack = None


def ensure_role(module, identity, name, actions):
    role = identity.find_role(name)
    if role is not None:
        return role
    actions.append(f"created role {name}")
    if module.check_mode:
        return None
    return created_or_found(lambda: identity.create_role(name=name), lambda: identity.find_role(name))


def ensure_domain(module, identity, actions):
    p = module.params
    domain = identity.find_domain(p["domain"])
    if domain is None:
        actions.append(f"created domain {p['domain']}")
        if module.check_mode:
            return None
        return identity.create_domain(name=p["domain"], description=p["description"], is_enabled=True)
    if (domain.description or "") != p["description"] or not domain.is_enabled:
        actions.append(f"updated domain {p['domain']}")
        if not module.check_mode:
            domain = identity.update_domain(domain, description=p["description"], is_enabled=True)
    return domain


def ensure_admin(module, identity, domain, admin_role, actions):
    p = module.params
    user = identity.find_user(p["admin_user"], domain_id=domain.id)
    if user is None:
        actions.append(f"created user {p['admin_user']} in domain {p['domain']}")
        if module.check_mode:
            return
        user = identity.create_user(
            name=p["admin_user"], password=p["admin_user_password"], domain_id=domain.id, is_enabled=True
        )
    if not identity.validate_user_has_domain_role(domain, user, admin_role):
        actions.append(f"gave {p['admin_user']} the admin role on domain {p['domain']}")
        if module.check_mode:
            return
        identity.assign_domain_role_to_user(domain, user, admin_role)
    scope = {"user_domain_id": domain.id, "domain_id": domain.id}
    if not module.check_mode and not login_works(p["auth_url"], p["admin_user"], p["admin_user_password"], **scope):
        actions.append(f"reset the password of {p['admin_user']}")
        identity.update_user(user, password=p["admin_user_password"], is_enabled=True)


def main():
    module = AnsibleModule(
        argument_spec={
            **ADMIN_OPTIONS,
            "domain": {"type": "str", "required": True},
            "description": {"type": "str", "default": ""},
            "admin_user": {"type": "str", "required": True},
            "admin_user_password": {"type": "str", "required": True, "no_log": True},
            "roles": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    conn = connect(module)
    actions = []
    try:
        admin_role = ensure_role(module, conn.identity, "admin", actions)
        for name in module.params["roles"]:
            ensure_role(module, conn.identity, name, actions)
        domain = ensure_domain(module, conn.identity, actions)
        if domain is not None and admin_role is not None:
            ensure_admin(module, conn.identity, domain, admin_role, actions)
    except openstack.exceptions.SDKException as error:
        module.fail_json(msg=f"Keystone refused a change to domain {module.params['domain']}: {error}", actions=actions)
    module.exit_json(changed=bool(actions), actions=actions)


if __name__ == "__main__":
    main()
