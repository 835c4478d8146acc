"""Make the flat provider network behind floating IPs, and its subnet, when they are missing."""

from __future__ import annotations

DOCUMENTATION = r"""
module: external_network
short_description: Make the external (provider) network and its subnet when missing
description:
  - Looks the network and the subnet up by name; creates what is missing, a flat external
    network on the given physical network and a subnet without DHCP whose allocation pool
    holds the floating IPs. Never changes or removes what exists (the operator owns it then).
  - One connection does it all (the CLI would start four times).
version_added: "0.1.0"
author: tenrec developers
extends_documentation_fragment: [tenrec.cloud.keystone_admin]
options:
  name:
    description: The network's name; the subnet is named C(NAME-subnet).
    type: str
    required: true
  physical_network:
    description: The physical network (bridge mapping) the flat network is on.
    type: str
    required: true
  cidr:
    description: The subnet's range.
    type: str
    required: true
  gateway:
    description: The subnet's gateway; omit for none.
    type: str
  pool_start:
    description: First address of the allocation pool.
    type: str
    required: true
  pool_end:
    description: Last address of the allocation pool.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: The external network
  tenrec.cloud.external_network:
    auth_url: http://192.0.2.10:5000/v3
    admin_password: "{{ tenrec_secrets.keystone_admin_password }}"
    name: public
    physical_network: physnet1
    cidr: 203.0.113.0/24
    gateway: 203.0.113.1
    pool_start: 203.0.113.128
    pool_end: 203.0.113.254
"""

RETURN = r"""
actions:
  description: What was created.
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


def ensure(module, network_api, actions):
    p = module.params
    network = network_api.find_network(p["name"], ignore_missing=True)
    if network is None:
        actions.append(f"created network {p['name']} (flat, external, on {p['physical_network']})")
        if module.check_mode:
            return
        network = network_api.create_network(
            name=p["name"],
            is_router_external=True,
            provider_network_type="flat",
            provider_physical_network=p["physical_network"],
        )
    subnet_name = p["name"] + "-subnet"
    if network_api.find_subnet(subnet_name, network_id=network.id, ignore_missing=True) is not None:
        return
    actions.append(f"created subnet {subnet_name} ({p['cidr']}, pool {p['pool_start']}-{p['pool_end']})")
    if module.check_mode:
        return
    network_api.create_subnet(
        name=subnet_name,
        network_id=network.id,
        ip_version=4,
        cidr=p["cidr"],
        # None: a subnet without a gateway (the API's null), as `--gateway none` makes.
        gateway_ip=p["gateway"],
        allocation_pools=[{"start": p["pool_start"], "end": p["pool_end"]}],
        is_dhcp_enabled=False,
    )


def main():
    module = AnsibleModule(
        argument_spec={
            **ADMIN_OPTIONS,
            "name": {"type": "str", "required": True},
            "physical_network": {"type": "str", "required": True},
            "cidr": {"type": "str", "required": True},
            "gateway": {"type": "str"},
            "pool_start": {"type": "str", "required": True},
            "pool_end": {"type": "str", "required": True},
        },
        supports_check_mode=True,
    )
    conn = connect(module)
    actions = []
    try:
        ensure(module, conn.network, actions)
    except openstack.exceptions.SDKException as error:
        module.fail_json(msg=f"Neutron refused the external network {module.params['name']}: {error}", actions=actions)
    module.exit_json(changed=bool(actions), actions=actions)


if __name__ == "__main__":
    main()
