# Copyright: tenrec contributors
# Apache-2.0
"""Debian packages present, checked from dpkg's status file; apt only for what is missing."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

STATUS = "/var/lib/dpkg/status"
LISTS = "/var/lib/apt/lists"
POLICY_RC_D = "/usr/sbin/policy-rc.d"
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "APT_LISTCHANGES_FRONTEND": "none"}
# policy-rc.d's "action forbidden": a package's maintainer scripts then enable its services
# but do not start them, so a service's first start already reads the deployment's config.
HOLD_STARTS = "#!/bin/sh\n# Written by tenrec while it installs packages; removed afterwards.\nexit 101\n"


def installed_packages() -> tuple[set[str], set[str]]:
    """The installed packages' names, and the names they provide."""
    packages: set[str] = set()
    provided: set[str] = set()
    with open(STATUS, encoding="utf-8", errors="replace") as handle:
        for stanza in handle.read().split("\n\n"):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line and not line[0].isspace() and ":" in line:
                    key, _, value = line.partition(":")
                    fields[key] = value.strip()
            if fields.get("Status", "").endswith(" installed") and "Package" in fields:
                packages.add(fields["Package"])
                for name in fields.get("Provides", "").split(","):
                    if name.strip():
                        provided.add(name.split("(")[0].strip())
    return packages, provided


def installed_names() -> set[str]:
    packages, provided = installed_packages()
    return packages | provided


def missing(names: list[str]) -> list[str]:
    have = installed_names()
    return [name for name in names if name.split(":")[0] not in have]


def present(names: list[str]) -> list[str]:
    """Those of names installed as packages of that name (not a name another one provides)."""
    packages, _ = installed_packages()
    return [name for name in names if name.split(":")[0] in packages]


def _apt_get(module: AnsibleModule, *args: str) -> tuple[int, str]:
    rc, out, err = module.run_command(
        ["apt-get", "-q", "-y", "-o", "DPkg::Lock::Timeout=300", *args], environ_update=APT_ENV
    )
    return rc, (err or out).strip()


def remove(module: AnsibleModule, names: list[str]) -> list[str]:
    """Removes (not purges) the installed ones of names and returns them; fails the module on an apt error."""
    found = present(names)
    if not found or module.check_mode:
        return found
    rc, message = _apt_get(module, "remove", *found)
    if rc != 0:
        module.fail_json(msg=f"apt-get remove {' '.join(found)} failed: {message[-600:]}")
    return found


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

    # An operator's own policy-rc.d is left alone (and decides).
    holding = hold_starts and not os.path.lexists(POLICY_RC_D)
    if holding:
        with open(POLICY_RC_D, "w", encoding="ascii") as handle:
            handle.write(HOLD_STARTS)
        os.chmod(POLICY_RC_D, 0o755)
    try:
        updated = False
        if lists_age() > update_cache_max_age:
            rc, message = _apt_get(module, "update")
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
        rc, message = _apt_get(module, *command)
        if rc != 0 and not updated:
            _apt_get(module, "update")
            rc, message = _apt_get(module, *command)
        if rc != 0:
            module.fail_json(msg=f"apt-get install {' '.join(wanted)} failed: {message[-600:]}")
    finally:
        if holding and os.path.exists(POLICY_RC_D):
            os.unlink(POLICY_RC_D)
    return wanted


UNPACKED_MARK = ".tenrec-unpacked"


def candidate_version(module: AnsibleModule, package: str) -> str:
    _, out, err = module.run_command(["apt-cache", "policy", package], environ_update=APT_ENV)
    for line in out.splitlines():
        name, _, value = line.strip().partition(":")
        if name == "Candidate" and value.strip() not in ("", "(none)"):
            return value.strip()
    why = (err or out).strip()[-200:]
    module.fail_json(msg=f"apt knows no version of {package} to unpack ({why}): check the node's apt sources")
    raise AssertionError  # not reached: fail_json exits


def _md5(path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def unpacked_as_released(dest: str, package: str, version: str) -> bool:
    """dest holds the files of package at version, none of them changed since."""
    try:
        with open(os.path.join(dest, UNPACKED_MARK), encoding="utf-8") as handle:
            header, *sums = handle.read().splitlines()
    except OSError:
        return False
    if header != f"{package} {version}":
        return False
    for line in sums:
        digest, _, name = line.partition("  ")
        path = os.path.join(dest, name)
        if not os.path.isfile(path) or _md5(path) != digest:
            return False
    return True


def _entries(current: str, dirs: list[str], files: list[str]) -> list[str]:
    """The names os.walk gives that are not directories to descend into (files, symlinks)."""
    return files + [name for name in dirs if os.path.islink(os.path.join(current, name))]


def replace_contents(source: str, dest: str) -> None:
    """Makes dest hold what source holds, file by file (dest itself stays: a server that
    changed into it, as websockify does, keeps serving), and removes what source lacks."""
    wanted = set()
    for current, dirs, files in os.walk(source):
        relative = os.path.normpath(os.path.relpath(current, source))
        target = os.path.normpath(os.path.join(dest, relative))
        if os.path.lexists(target) and (os.path.islink(target) or not os.path.isdir(target)):
            os.unlink(target)
        os.makedirs(target, mode=0o755, exist_ok=True)
        wanted.add(relative)
        for name in _entries(current, dirs, files):
            wanted.add(os.path.normpath(os.path.join(relative, name)))
            there = os.path.join(target, name)
            if os.path.isdir(there) and not os.path.islink(there):
                shutil.rmtree(there)
            os.replace(os.path.join(current, name), there)
    for current, dirs, files in os.walk(dest, topdown=False):
        relative = os.path.normpath(os.path.relpath(current, dest))
        for name in _entries(current, dirs, files):
            if os.path.normpath(os.path.join(relative, name)) not in wanted:
                os.unlink(os.path.join(current, name))
        if relative not in wanted:
            shutil.rmtree(current, ignore_errors=True)


def unpack(module: AnsibleModule, package: str, path: str, dest: str) -> bool:
    """Makes dest hold the directory `path` of the package's candidate version, unpacked from
    the package that apt downloads (and checks against the signed archive) without installing
    it or its dependencies. A newer candidate, or a changed or missing file, unpacks again.
    Returns whether it changed dest."""
    version = candidate_version(module, package)
    if unpacked_as_released(dest, package, version):
        return False
    if module.check_mode:
        return True
    parent = os.path.dirname(dest.rstrip("/"))
    work = tempfile.mkdtemp(prefix=".tenrec-unpack-", dir=parent)
    try:
        os.chmod(work, 0o755)  # apt downloads as its _apt user
        rc, out, err = module.run_command(["apt-get", "-q", "download", f"{package}={version}"], cwd=work)
        if rc != 0:
            module.fail_json(msg=f"apt-get download {package}={version} failed: {(err or out).strip()[-600:]}")
        (deb,) = [name for name in os.listdir(work) if name.endswith(".deb")]
        root, control = os.path.join(work, "root"), os.path.join(work, "control")
        for flag, target in (("--extract", root), ("--control", control)):
            rc, out, err = module.run_command(["dpkg-deb", flag, os.path.join(work, deb), target])
            if rc != 0:
                module.fail_json(msg=f"dpkg-deb {flag} {deb} failed: {(err or out).strip()[-400:]}")
        prefix = path.strip("/") + "/"
        sums = []
        with open(os.path.join(control, "md5sums"), encoding="utf-8") as handle:
            for line in handle:
                digest, _, name = line.strip().partition("  ")
                if name.startswith(prefix):
                    sums.append(f"{digest}  {name[len(prefix) :]}")
        source = os.path.join(root, prefix)
        if not sums or not os.path.isdir(source):
            module.fail_json(msg=f"{package} {version} has no files under /{prefix}")
        with open(os.path.join(source, UNPACKED_MARK), "w", encoding="utf-8") as handle:
            handle.write("\n".join([f"{package} {version}", *sums]) + "\n")
        os.chmod(source, 0o755)
        if os.path.isdir(dest) and not os.path.islink(dest):
            replace_contents(source, dest)
        else:
            if os.path.lexists(dest):
                os.unlink(dest)
            os.rename(source, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return True
