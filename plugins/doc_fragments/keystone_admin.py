"""Options of the modules that act as the cloud's admin through openstacksdk."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  auth_url:
    description: Keystone v3 URL.
    type: str
    required: true
  admin_password:
    description: Password of the admin user (admin project, Default domain).
    type: str
    required: true
  region:
    description: The region (of the endpoints made, or of those used).
    type: str
    default: RegionOne
notes:
  - Needs openstacksdk on the node; run it with the operator CLI venv's Python.
"""
