#!/usr/bin/python
# Copyright: tenrec contributors
# Apache-2.0
"""Debian packages present, checked from dpkg's status file (milliseconds when nothing is missing)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: packages
short_description: Install missing Debian packages; a no-op costs one read of dpkg's status file
description:
  - Reads /var/lib/dpkg/status to find which of C(names) are not installed (a name that another
    installed package provides counts as installed). When none is missing, nothing else runs;
    no apt cache is opened.
  - Otherwise runs C(apt-get install --no-install-recommends) for the missing ones, keeping
    existing config files, after C(apt-get update) when the package lists are older than
    C(update_cache_max_age) seconds (and once more if the install fails on stale lists).
options:
  names:
    description: Package names.
    type: list
    elements: str
    required: true
  update_cache_max_age:
    description: Refresh the package lists first when they are older than this many seconds.
    type: int
    default: 86400
author: tenrec contributors
"""

RETURN = r"""
installed:
  description: The packages that were missing and got installed.
  type: list
  returned: always
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

STATUS = "/var/lib/dpkg/status"
LISTS = "/var/lib/apt/lists"
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "APT_LISTCHANGES_FRONTEND": "none"}


def installed_names() -> set[str]:
    names: set[str] = set()
    with open(STATUS, encoding="utf-8", errors="replace") as handle:
        for stanza in handle.read().split("\n\n"):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line and not line[0].isspace() and ":" in line:
                    key, _, value = line.partition(":")
                    fields[key] = value.strip()
            if fields.get("Status", "").endswith(" installed") and "Package" in fields:
                names.add(fields["Package"])
                for provided in fields.get("Provides", "").split(","):
                    if provided.strip():
                        names.add(provided.split("(")[0].strip())
    return names


def lists_age() -> float:
    try:
        newest = max(
            os.path.getmtime(os.path.join(LISTS, entry))
            for entry in os.listdir(LISTS)
            if entry.endswith(("_Packages", "_Release", "_InRelease"))
        )
    except ValueError:
        return float("inf")
    return time.time() - newest


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "names": {"type": "list", "elements": "str", "required": True},
            "update_cache_max_age": {"type": "int", "default": 86400},
        },
        supports_check_mode=True,
    )
    have = installed_names()
    missing = [name for name in module.params["names"] if name.split(":")[0] not in have]
    if not missing or module.check_mode:
        module.exit_json(changed=bool(missing), installed=missing)

    def apt_get(*args: str) -> tuple[int, str]:
        rc, out, err = module.run_command(
            ["apt-get", "-q", "-y", "-o", "DPkg::Lock::Timeout=300", *args], environ_update=APT_ENV
        )
        return rc, (err or out).strip()

    updated = False
    if lists_age() > module.params["update_cache_max_age"]:
        rc, message = apt_get("update")
        if rc != 0:
            module.fail_json(msg=f"apt-get update failed: {message[-600:]}")
        updated = True
    install = (
        "install",
        "--no-install-recommends",
        "-o",
        "Dpkg::Options::=--force-confdef",
        "-o",
        "Dpkg::Options::=--force-confold",
        *missing,
    )
    rc, message = apt_get(*install)
    if rc != 0 and not updated:
        apt_get("update")
        rc, message = apt_get(*install)
    if rc != 0:
        module.fail_json(msg=f"apt-get install {' '.join(missing)} failed: {message[-600:]}")
    module.exit_json(changed=True, installed=missing)


if __name__ == "__main__":
    main()
