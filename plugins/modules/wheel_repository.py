#!/usr/bin/python
"""Fill a wheel repository from hashed lock files and publish per-file-hash locks for nodes."""

from __future__ import annotations

DOCUMENTATION = r"""
module: wheel_repository
short_description: Build the wheels of hashed lock files into a directory served to the nodes
description:
  - Reads lock files (C(name==version --hash=sha256:...) lines, as tools/lock-release writes
    them) and makes sure the repository directory holds one wheel for every pinned package.
    Missing ones are fetched from the package index and checked against the lock's hashes, or
    built from the checked sdist when the project publishes no wheel (uWSGI).
  - Fetches only what is missing, in as few pip runs as possible (a package pinned by several
    locks is fetched once).
  - Writes C(locks/NAME.txt) beside the wheels, the same pins with the hash of the exact file
    the repository serves, so nodes install with hash checking from the repository alone.
  - Keeps C(index.json), the record of which file serves which pin and its sha256.
version_added: "0.1.0"
author: tenrec developers
options:
  path:
    description: The repository directory of one set of locks (one release, or the tools).
    type: path
    required: true
  locks:
    description: Lock name to lock text.
    type: dict
    required: true
  pip:
    description:
      - The pip executable that fetches and builds (in a venv of the nodes' Python).
      - Used only when a pin is missing. When it does not exist yet, nothing is fetched and
        C(unfetched) lists the missing pins, so the build tools are installed only when a
        build is due (a repository filled in advance needs none).
    type: path
    required: true
  index_url:
    description: Where pip fetches from.
    type: str
    default: https://pypi.org/simple
  ca_bundle:
    description: The CA bundle pip trusts (the system's, which holds the deployment's extra CAs).
    type: path
    default: /etc/ssl/certs/ca-certificates.crt
"""

EXAMPLES = r"""
- name: Fill the 2026.2 repository
  tenrec.cloud.wheel_repository:
    path: /srv/tenrec/wheels/2026.2
    pip: /opt/tenrec/wheel-builder/bin/pip
    locks:
      keystone: "{{ lookup('ansible.builtin.file', 'releases/2026.2/locks/keystone.txt') }}"
"""

RETURN = r"""
fetched:
  description: The pins fetched or built in this run (name==version).
  type: list
  elements: str
  returned: always
unfetched:
  description: Missing pins left for a run with a builder (pip did not exist); the served locks are not written then.
  type: list
  elements: str
  returned: always
wheels:
  description: How many wheels the repository serves for these locks.
  type: int
  returned: always
"""

import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule

# name, optional [extras] (their packages are pinned on their own lines), ==version
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(text):
    """Pins of a lock in order: list of (canonical name, version, set of sha256)."""
    pins = []
    logical = ""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip() if not raw.lstrip().startswith("--hash") else raw.strip()
        if not line.strip():
            continue
        logical += " " + line.rstrip("\\").strip()
        if line.endswith("\\"):
            continue
        logical = logical.strip()
        match = _PIN.match(logical)
        if match:
            pins.append((canonical(match.group(1)), match.group(2), set(_HASH.findall(logical))))
        logical = ""
    return pins


def wheel_pin(filename):
    """(canonical name, version) of a wheel file name."""
    parts = filename[: -len(".whl")].split("-")
    return canonical(parts[0]), parts[1].replace("_", "-")


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def batches(pins):
    """Groups with no project twice (pip refuses a double requirement)."""
    groups = []
    for pin in pins:
        for group in groups:
            if pin[0] not in {p[0] for p in group}:
                group.append(pin)
                break
        else:
            groups.append([pin])
    return groups


def load_index(path):
    index_file = os.path.join(path, "index.json")
    if not os.path.exists(index_file):
        return {}
    with open(index_file) as handle:
        index = json.load(handle)
    # Forget entries whose file is gone (an operator cleaned up by hand).
    return {key: entry for key, entry in index.items() if os.path.exists(os.path.join(path, entry["file"]))}


def write_if_changed(path, text):
    if os.path.exists(path):
        with open(path) as handle:
            if handle.read() == text:
                return False
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return True


def fetch(module, path, missing, index):
    """pip wheel the missing pins into a scratch dir, then move them in with their hashes."""
    workdir = tempfile.mkdtemp(prefix=".fetch-", dir=path)
    try:
        for number, group in enumerate(batches(missing)):
            requirements = os.path.join(workdir, f"requirements-{number}.txt")
            with open(requirements, "w") as handle:
                for name, version, hashes in group:
                    handle.write(
                        "{}=={} {}\n".format(name, version, " ".join("--hash=sha256:" + h for h in sorted(hashes)))
                    )
            out = os.path.join(workdir, "out")
            os.makedirs(out, exist_ok=True)
            module.run_command(
                [
                    module.params["pip"],
                    "wheel",
                    "--no-deps",
                    # sdists without pyproject.toml (uWSGI) build isolated, not via setup.py.
                    "--use-pep517",
                    "--require-hashes",
                    "--disable-pip-version-check",
                    "--no-cache-dir",
                    # Debian's bundle, with the CAs the common role added (pip would use its own).
                    "--cert",
                    module.params["ca_bundle"],
                    "--index-url",
                    module.params["index_url"],
                    "--wheel-dir",
                    out,
                    "-r",
                    requirements,
                ],
                check_rc=True,
                environ_update={"PIP_CONFIG_FILE": os.devnull},
            )
        wanted = {(name, version) for name, version, _ in missing}
        for filename in sorted(os.listdir(os.path.join(workdir, "out"))):
            if not filename.endswith(".whl"):
                continue
            pin = wheel_pin(filename)
            if pin not in wanted:
                module.fail_json(msg=f"pip produced {filename}, which no lock asked for")
            source = os.path.join(workdir, "out", filename)
            os.chmod(source, 0o644)
            os.replace(source, os.path.join(path, filename))
            index["{}=={}".format(*pin)] = {"file": filename, "sha256": sha256(os.path.join(path, filename))}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "locks": {"type": "dict", "required": True},
            "pip": {"type": "path", "required": True},
            "index_url": {"type": "str", "default": "https://pypi.org/simple"},
            "ca_bundle": {"type": "path", "default": "/etc/ssl/certs/ca-certificates.crt"},
        },
        supports_check_mode=True,
    )
    path = module.params["path"]
    locks = {name: parse_lock(text) for name, text in module.params["locks"].items()}
    for name, pins in locks.items():
        if not pins:
            module.fail_json(msg=f"lock {name} has no pinned packages")

    os.makedirs(os.path.join(path, "locks"), mode=0o755, exist_ok=True)
    # Two runs filling one repository (molecule scenarios sharing it) take turns.
    lock = open(os.path.join(path, ".lock"), "w")  # noqa: SIM115 - held until exit
    fcntl.flock(lock, fcntl.LOCK_EX)
    index = load_index(path)
    unique = {}
    for pins in locks.values():
        for name, version, hashes in pins:
            unique.setdefault((name, version), set()).update(hashes)
    missing = [(n, v, h) for (n, v), h in sorted(unique.items()) if f"{n}=={v}" not in index]

    if missing and not os.path.exists(module.params["pip"]):
        module.exit_json(changed=False, fetched=[], unfetched=[f"{n}=={v}" for n, v, _ in missing], wheels=len(unique))

    changed = bool(missing)
    if missing and not module.check_mode:
        fetch(module, path, missing, index)
        absent = [f"{n}=={v}" for n, v, _ in missing if f"{n}=={v}" not in index]
        if absent:
            module.fail_json(msg="no wheel came out for: {}".format(", ".join(absent)))
        write_if_changed(os.path.join(path, "index.json"), json.dumps(index, indent=1, sort_keys=True) + "\n")

    if not module.check_mode:
        for name, pins in locks.items():
            lines = [f"# Served by the tenrec wheel repository: pins of lock {name}, hashes of the files here.\n"]
            lines += ["{}=={} --hash=sha256:{}\n".format(n, v, index[f"{n}=={v}"]["sha256"]) for n, v, _ in pins]
            changed |= write_if_changed(os.path.join(path, "locks", name + ".txt"), "".join(lines))

    module.exit_json(changed=changed, fetched=[f"{n}=={v}" for n, v, _ in missing], unfetched=[], wheels=len(unique))


if __name__ == "__main__":
    main()
