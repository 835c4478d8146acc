"""The operator's EC2 credential in Keystone: what S3 clients sign with against Swift's s3api."""

from __future__ import annotations

DOCUMENTATION = r"""
module: ec2_credentials
short_description: The admin user's EC2 credential for the admin project, with a given access key and secret
description:
  - Makes sure Keystone holds one EC2 credential of the admin user whose access key and
    secret are the given ones (generated per deployment and kept in its secrets file), scoped
    to the admin project. A credential with that access key but another secret or project is
    replaced; the user's other credentials are left alone.
  - Swift's s3token checks S3 signatures against Keystone's EC2 credentials.
version_added: "0.1.0"
author: tenrec developers
extends_documentation_fragment: [tenrec.cloud.keystone_admin]
options:
  access:
    description: The access key (public; S3 clients send it).
    type: str
    required: true
  secret:
    description: The secret key (never sent; S3 clients sign with it).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: The operator's EC2 credential
  tenrec.cloud.ec2_credentials:
    auth_url: http://192.0.2.10:5000/v3
    admin_password: "{{ tenrec_secrets.keystone_admin_password }}"
    access: "{{ tenrec_secrets.ec2_access_key }}"
    secret: "{{ tenrec_secrets.ec2_secret_key }}"
  no_log: true
"""

RETURN = r"""
actions:
  description: What was created or replaced (never the secret).
  type: list
  elements: str
  returned: always
"""

import json

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.tenrec.cloud.plugins.module_utils.keystone_admin import ADMIN_OPTIONS, connect

try:
    import openstack
except ImportError:  # reported by connect()
    openstack = None


def main():
    module = AnsibleModule(
        argument_spec={
            **ADMIN_OPTIONS,
            "access": {"type": "str", "required": True},
            "secret": {"type": "str", "required": True, "no_log": True},
        },
        supports_check_mode=True,
    )
    access, secret = module.params["access"], module.params["secret"]
    conn = connect(module)
    actions = []
    try:
        user_id = conn.current_user_id
        project_id = conn.current_project_id
        for credential in conn.identity.credentials(user_id=user_id, type="ec2"):
            blob = json.loads(credential.blob or "{}")
            if blob.get("access") != access:
                continue
            if blob.get("secret") == secret and credential.project_id == project_id:
                module.exit_json(changed=False, actions=[])
            actions.append(f"deleted the EC2 credential {access} (another secret or project)")
            if not module.check_mode:
                conn.identity.delete_credential(credential)
        actions.append(f"created the EC2 credential {access} of admin for the admin project")
        if not module.check_mode:
            conn.identity.create_credential(
                type="ec2",
                user_id=user_id,
                project_id=project_id,
                blob=json.dumps({"access": access, "secret": secret, "trust_id": None}),
            )
    except openstack.exceptions.SDKException as error:
        module.fail_json(msg=f"Keystone refused the EC2 credential {access}: {error}", actions=actions)
    module.exit_json(changed=True, actions=actions)


if __name__ == "__main__":
    main()
