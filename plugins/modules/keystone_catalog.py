#!/usr/bin/python
"""Register one OpenStack service in Keystone: service, endpoints, service user and role."""

from __future__ import annotations

DOCUMENTATION = r"""
module: keystone_catalog
short_description: Register an OpenStack service in the Keystone catalog, with its service user
description:
  - Makes sure the catalog has the service (name, type, description), one endpoint per
    interface given (public, internal, admin) in the region with exactly the given URL, the
    C(service) project, the service user in the Default domain with the given password, and
    the C(admin) and C(service) roles of that user on the C(service) project.
  - One connection does all of it (one Ansible task per service instead of six).
  - The user's password is checked by authenticating as the user; it is reset only when that
    fails, so rotating a secret works and an unchanged one reports no change.
version_added: "0.1.0"
author: tenrec developers
extends_documentation_fragment: [tenrec.cloud.keystone_admin]
options:
  service_name:
    description: Service name (and user name unless user_name is given).
    type: str
    required: true
  service_type:
    description:
      - Catalog type, e.g. image, placement, compute; omit for a service with no API of its own
        (Ceilometer's agents), which gets only its service user.
    type: str
  alias_types:
    description:
      - More catalog types of the same service, each with the same endpoints (Cinder is looked up
        as volumev3 by Nova and openstackclient, as block-storage by Tempest's tools).
    type: list
    elements: str
    default: []
  description:
    description: Service description.
    type: str
    default: ""
  more_services:
    description:
      - More services of the same deployment, registered in the same call (Heat's C(heat-cfn),
        type C(cloudformation), next to C(heat)). Each is a mapping of C(name), C(type),
        C(description), C(port) and C(path); its endpoints are on the hosts of O(endpoints),
        with that port and path.
    type: list
    elements: dict
    default: []
  endpoints:
    description: Interface (public, internal, admin) to URL; required with O(service_type).
    type: dict
    default: {}
  user_name:
    description: The service user; omit for none.
    type: str
  user_password:
    description: The service user's password.
    type: str
  project_name:
    description: The project of the service users.
    type: str
    default: service
  role_names:
    description:
      - The roles the service user gets on the project, made when missing. C(service) lets
        other services accept this user's service tokens (service_token_roles_required).
    type: list
    elements: str
    default: [admin, service]
"""

EXAMPLES = r"""
- name: Register glance
  tenrec.cloud.keystone_catalog:
    auth_url: http://192.0.2.10:5000/v3
    admin_password: "{{ tenrec_secrets.keystone_admin_password }}"
    service_name: glance
    service_type: image
    endpoints:
      public: http://192.0.2.10:9292
      internal: http://192.0.2.10:9292
      admin: http://192.0.2.10:9292
    user_name: glance
    user_password: "{{ tenrec_secrets.service_glance_password }}"
"""

RETURN = r"""
actions:
  description: What was created or updated.
  type: list
  elements: str
  returned: always
"""

from urllib.parse import urlsplit, urlunsplit

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

INTERFACES = ("public", "internal", "admin")


def ensure_service(module, identity, actions, name, service_type, description):
    found = [s for s in identity.services() if s.name == name and s.type == service_type]
    if len(found) > 1:
        module.fail_json(
            msg=f"the catalog has {len(found)} services named {name} of type {service_type}: remove the extra ones"
        )
    if not found:
        actions.append(f"created service {name} ({service_type})")
        if module.check_mode:
            return None
        return identity.create_service(name=name, type=service_type, description=description, is_enabled=True)
    service = found[0]
    if (service.description or "") != description or not service.is_enabled:
        actions.append(f"updated service {name}")
        if not module.check_mode:
            service = identity.update_service(service, description=description, is_enabled=True)
    return service


def ensure_endpoints(module, identity, service, endpoints, actions):
    p = module.params
    existing = (
        [] if service is None else [e for e in identity.endpoints(service_id=service.id) if e.region_id == p["region"]]
    )
    for interface, url in endpoints.items():
        same = [e for e in existing if e.interface == interface]
        if not same:
            actions.append(f"created {interface} endpoint {url}")
            if not module.check_mode:
                identity.create_endpoint(
                    service_id=service.id, interface=interface, url=url, region_id=p["region"], is_enabled=True
                )
            continue
        first, extra = same[0], same[1:]
        if first.url != url or not first.is_enabled:
            actions.append(f"updated {interface} endpoint {first.url} -> {url}")
            if not module.check_mode:
                identity.update_endpoint(first, url=url, is_enabled=True)
        for endpoint in extra:
            actions.append(f"deleted duplicate {interface} endpoint {endpoint.url}")
            if not module.check_mode:
                identity.delete_endpoint(endpoint)


def ensure_user(module, identity, actions):
    p = module.params
    project = identity.find_project(p["project_name"], domain_id="default")
    if project is None:
        actions.append("created project {}".format(p["project_name"]))
        if module.check_mode:
            return
        project = created_or_found(
            lambda: identity.create_project(
                name=p["project_name"], domain_id="default", description="OpenStack service users"
            ),
            lambda: identity.find_project(p["project_name"], domain_id="default"),
        )
    user = identity.find_user(p["user_name"], domain_id="default")
    if user is None:
        actions.append("created user {}".format(p["user_name"]))
        if module.check_mode:
            return
        user = identity.create_user(
            name=p["user_name"],
            password=p["user_password"],
            domain_id="default",
            default_project_id=project.id,
            is_enabled=True,
        )
    for role_name in p["role_names"]:
        role = identity.find_role(role_name)
        if role is None:
            actions.append(f"created role {role_name}")
            if module.check_mode:
                continue
            role = created_or_found(
                lambda name=role_name: identity.create_role(name=name),
                lambda name=role_name: identity.find_role(name),
            )
        if not identity.validate_user_has_project_role(project, user, role):
            actions.append(f"gave {p['user_name']} the {role_name} role on {p['project_name']}")
            if not module.check_mode:
                identity.assign_project_role_to_user(project, user, role)
    scope = {"user_domain_id": "default", "project_name": p["project_name"], "project_domain_id": "default"}
    if not module.check_mode and not login_works(p["auth_url"], p["user_name"], p["user_password"], **scope):
        actions.append("reset the password of {}".format(p["user_name"]))
        identity.update_user(user, password=p["user_password"], is_enabled=True)


def registrations(module):
    """(name, type, description, endpoints) of every catalog service this call registers."""
    p = module.params
    if not p["service_type"]:
        return []
    if not p["endpoints"]:
        module.fail_json(msg=f"service {p['service_name']}: service_type {p['service_type']} given without endpoints")
    kinds = [p["service_type"], *p["alias_types"]]
    own = [(p["service_name"], kind, p["description"], p["endpoints"]) for kind in kinds]
    more = []
    for index, extra in enumerate(p["more_services"]):
        missing = [key for key in ("name", "type", "port") if not extra.get(key)]
        if missing:
            module.fail_json(msg=f"more_services[{index}] lacks {', '.join(missing)}")
        port, path = int(extra["port"]), extra.get("path", "")
        endpoints = {interface: moved(url, port, path) for interface, url in p["endpoints"].items()}
        more.append((extra["name"], extra["type"], extra.get("description", ""), endpoints))
    return own + more


def moved(url, port, path):
    """The URL on the same scheme and host, with another port and path."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"{parts.hostname}:{port}", path, "", ""))


def main():
    module = AnsibleModule(
        argument_spec={
            **ADMIN_OPTIONS,
            "service_name": {"type": "str", "required": True},
            "service_type": {"type": "str"},
            "description": {"type": "str", "default": ""},
            "endpoints": {"type": "dict", "default": {}},
            "alias_types": {"type": "list", "elements": "str", "default": []},
            "more_services": {"type": "list", "elements": "dict", "default": []},
            "user_name": {"type": "str"},
            "user_password": {"type": "str", "no_log": True},
            "project_name": {"type": "str", "default": "service"},
            "role_names": {"type": "list", "elements": "str", "default": ["admin", "service"]},
        },
        required_together=[("user_name", "user_password")],
        supports_check_mode=True,
    )
    conn = connect(module)
    actions = []
    try:
        for name, service_type, description, endpoints in registrations(module):
            service = ensure_service(module, conn.identity, actions, name, service_type, description)
            ensure_endpoints(module, conn.identity, service, endpoints, actions)
        if module.params["user_name"]:
            ensure_user(module, conn.identity, actions)
    except openstack.exceptions.SDKException as error:
        module.fail_json(
            msg="Keystone refused a catalog change for {}: {}".format(module.params["service_name"], error),
            actions=actions,
        )
    module.exit_json(changed=bool(actions), actions=actions)


if __name__ == "__main__":
    main()
