#!/usr/bin/python
# Copyright: tenrec contributors
# Apache-2.0
"""Debian packages present (or absent), checked from dpkg's status file (milliseconds when nothing is to do)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: packages
short_description: Install missing Debian packages, remove unwanted ones; a no-op costs one read of dpkg's status file
description:
  - Reads /var/lib/dpkg/status to find which of C(names) are not installed (a name that another
    installed package provides counts as installed) and which of C(absent) are. When there is
    nothing to do, nothing else runs; no apt cache is opened.
  - Removes the installed ones of C(absent) with C(apt-get remove) (their config files stay, as
    with C(ansible.builtin.apt) C(state=absent)), before any install.
  - Otherwise runs C(apt-get install --no-install-recommends) for the missing ones, keeping
    existing config files, after C(apt-get update) when the package lists are older than
    C(update_cache_max_age) seconds (and once more if the install fails on stale lists).
  - While apt runs, a C(policy-rc.d) holds the packages' services - they are enabled but not
    started, so that their first start already reads the deployment's configuration (an
    operator's own C(/usr/sbin/policy-rc.d) is left alone).
options:
  names:
    description: Package names to have installed.
    type: list
    elements: str
    default: []
  absent:
    description: Package names to have removed (only a package of that very name counts, not one providing it).
    type: list
    elements: str
    default: []
  update_cache_max_age:
    description: Refresh the package lists first when they are older than this many seconds.
    type: int
    default: 86400
  hold_starts:
    description: Keep the maintainer scripts from starting the services they install.
    type: bool
    default: true
author: tenrec contributors
"""

RETURN = r"""
installed:
  description: The packages that were missing and got installed.
  type: list
  returned: always
removed:
  description: The packages of C(absent) that were installed and got removed.
  type: list
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.tenrec.cloud.plugins.module_utils.debian_packages import install, remove


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "names": {"type": "list", "elements": "str", "default": []},
            "absent": {"type": "list", "elements": "str", "default": []},
            "update_cache_max_age": {"type": "int", "default": 86400},
            "hold_starts": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    both = sorted(set(params["names"]) & set(params["absent"]))
    if both:
        module.fail_json(msg=f"wanted both installed and absent: {', '.join(both)}")
    removed = remove(module, params["absent"])
    installed = install(module, params["names"], params["update_cache_max_age"], params["hold_starts"])
    module.exit_json(changed=bool(installed or removed), installed=installed, removed=removed)


if __name__ == "__main__":
    main()
