# Copyright: tenrec contributors
# Apache-2.0
"""Debian packages present, checked from dpkg's status file; apt only for what is missing."""

from __future__ import annotations

import os
import time

from ansible.module_utils.basic import AnsibleModule

STATUS = "/var/lib/dpkg/status"
LISTS = "/var/lib/apt/lists"
POLICY_RC_D = "/usr/sbin/policy-rc.d"
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "APT_LISTCHANGES_FRONTEND": "none"}
# policy-rc.d's "action forbidden": a package's maintainer scripts then enable its services
# but do not start them, so a service's first start already reads the deployment's config.
HOLD_STARTS = "#!/bin/sh\n# Written by tenrec while it installs packages; removed afterwards.\nexit 101\n"


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


def missing(names: list[str]) -> list[str]:
    have = installed_names()
    return [name for name in names if name.split(":")[0] not in have]


def lists_age() -> float:
    try:
        newest = max(
            os.path.getmtime(os.path.join(LISTS, entry))
            for entry in os.listdir(LISTS)
            if entry.endswith(("_Packages", "_Release", "_InRelease"))
        )
    except (OSError, ValueError):
        return float("inf")
    return time.time() - newest


def install(module: AnsibleModule, names: list[str], update_cache_max_age: int, hold_starts: bool = True) -> list[str]:
    """Installs the missing ones of names and returns them; fails the module on an apt error."""
    wanted = missing(names)
    if not wanted or module.check_mode:
        return wanted

    def apt_get(*args: str) -> tuple[int, str]:
        rc, out, err = module.run_command(
            ["apt-get", "-q", "-y", "-o", "DPkg::Lock::Timeout=300", *args], environ_update=APT_ENV
        )
        return rc, (err or out).strip()

    # An operator's own policy-rc.d is left alone (and decides).
    holding = hold_starts and not os.path.lexists(POLICY_RC_D)
    if holding:
        with open(POLICY_RC_D, "w", encoding="ascii") as handle:
            handle.write(HOLD_STARTS)
        os.chmod(POLICY_RC_D, 0o755)
    try:
        updated = False
        if lists_age() > update_cache_max_age:
            rc, message = apt_get("update")
            if rc != 0:
                module.fail_json(msg=f"apt-get update failed: {message[-600:]}")
            updated = True
        command = (
            "install",
            "--no-install-recommends",
            "-o",
            "Dpkg::Options::=--force-confdef",
            "-o",
            "Dpkg::Options::=--force-confold",
            *wanted,
        )
        rc, message = apt_get(*command)
        if rc != 0 and not updated:
            apt_get("update")
            rc, message = apt_get(*command)
        if rc != 0:
            module.fail_json(msg=f"apt-get install {' '.join(wanted)} failed: {message[-600:]}")
    finally:
        if holding and os.path.exists(POLICY_RC_D):
            os.unlink(POLICY_RC_D)
    return wanted
