"""Make one Cinder volume type per backend, each tied to its backend by volume_backend_name."""

from __future__ import annotations

DOCUMENTATION = r"""
module: volume_types
short_description: One volume type per Cinder backend
description:
  - For each backend name, a public volume type of the same name whose extra spec
    C(volume_backend_name) sends its volumes to that backend. A type that exists with another
    C(volume_backend_name) is corrected; other types and other extra specs are left alone
    (the operator's).
  - One connection does it all.
version_added: "0.1.0"
author: tenrec developers
extends_documentation_fragment: [tenrec.cloud.keystone_admin]
options:
  backends:
    description: The backend names (cinder.conf's volume_backend_name), e.g. lvm and nfs.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: The volume types
  tenrec.cloud.volume_types:
    auth_url: http://192.0.2.10:5000/v3
    admin_password: "{{ tenrec_secrets.keystone_admin_password }}"
    backends: [lvm]
"""

RETURN = r"""
actions:
  description: What was created or corrected.
  type: list
  elements: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.tenrec.cloud.plugins.module_utils.keystone_admin import ADMIN_OPTIONS, connect

try:
    import openstack
except ImportError:  # reported by connect()
    openstack = None

BACKEND_SPEC = "volume_backend_name"


def ensure(module, volume_api, backend, actions):
    found = volume_api.find_type(backend, ignore_missing=True)
    if found is None:
        actions.append(f"created volume type {backend} ({BACKEND_SPEC}={backend})")
        if not module.check_mode:
            volume_api.create_type(name=backend, is_public=True, extra_specs={BACKEND_SPEC: backend})
        return
    if (found.extra_specs or {}).get(BACKEND_SPEC) != backend:
        actions.append(f"set {BACKEND_SPEC}={backend} on volume type {backend}")
        if not module.check_mode:
            volume_api.update_type_extra_specs(found, **{BACKEND_SPEC: backend})


def main():
    module = AnsibleModule(
        argument_spec={**ADMIN_OPTIONS, "backends": {"type": "list", "elements": "str", "required": True}},
        supports_check_mode=True,
    )
    conn = connect(module)
    actions = []
    for backend in module.params["backends"]:
        try:
            ensure(module, conn.block_storage, backend, actions)
        except openstack.exceptions.SDKException as error:
            module.fail_json(msg=f"Cinder refused the volume type {backend}: {error}", actions=actions)
    module.exit_json(changed=bool(actions), actions=actions)


if __name__ == "__main__":
    main()
