"""Build Swift's account, container and object rings on the deploy host from the inventory."""

from __future__ import annotations

DOCUMENTATION = r"""
module: swift_rings
short_description: Swift's rings, built and rebalanced from the storage nodes' devices
description:
  - Runs on the deploy host (delegate it to localhost). The builder files in I(dir) are the
    deployment's state, like its secrets - back them up. Each run makes the three builders
    hold exactly the given devices (added, re-weighted, moved or removed), rebalances when
    that changed anything, and writes C(account.ring.gz), C(container.ring.gz) and
    C(object.ring.gz) beside them for the nodes.
  - Swift's own RingBuilder does the work, from a venv built once from the release's swift
    lock (hash-checked) under I(venv_root). A partition moves at most once per
    I(min_part_hours), so a rebalance never moves more than one replica of it; a rebalance
    that had to leave work for later is retried by the next run once that time has passed.
  - When neither the devices nor the settings changed and no rebalance is pending, the venv
    is not started at all.
version_added: "0.1.0"
author: tenrec developers
options:
  dir:
    description: Where the builders and rings are kept (created 0700).
    type: path
    required: true
  devices:
    description: Every Swift device of every storage node.
    type: list
    elements: dict
    required: true
    suboptions:
      ip:
        description: The storage address the node's servers listen on.
        type: str
        required: true
      zone:
        description: The node's failure domain.
        type: int
        required: true
      device:
        description: The device's directory name under /srv/node.
        type: str
        required: true
      weight:
        description: Its share of the partitions, relative to the other devices.
        type: float
        default: 100.0
  part_power:
    description: 2**part_power partitions; fixed once a ring exists.
    type: int
    default: 10
  replicas:
    description: Copies of each object, account and container record; 0 - min(3, zones).
    type: int
    default: 0
  min_part_hours:
    description: Hours before a partition may move again.
    type: int
    default: 1
  ports:
    description: The servers' ports, by ring.
    type: dict
    default: {account: 6202, container: 6201, object: 6200}
  lock:
    description: The release's swift lock (requirements with hashes) the builder venv installs.
    type: path
    required: true
  venv_root:
    description: Where the builder venvs are kept, one per lock content.
    type: path
    default: ~/.cache/tenrec
"""

EXAMPLES = r"""
- name: Swift's rings
  tenrec.cloud.swift_rings:
    dir: "{{ tenrec_state_dir }}/swift"
    lock: "{{ role_path }}/../../releases/2026.2/locks/swift.txt"
    devices:
      - {ip: 10.0.0.21, zone: 1, device: sdb}
      - {ip: 10.0.0.22, zone: 2, device: sdb}
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
rings:
  description: Per ring - replicas, partitions moved by this run, balance (percent), devices.
  type: dict
  returned: always
pending:
  description: True when a rebalance still has partitions to move after min_part_hours.
  type: bool
  returned: always
"""

import hashlib
import json
import os
import subprocess
import sys

from ansible.module_utils.basic import AnsibleModule

RINGS = ("account", "container", "object")
INPUTS_FILE = "inputs.sha256"
PENDING_FILE = "rebalance-pending"

# Runs inside the builder venv: JSON in on stdin, JSON out on stdout.
BUILDER = r"""
import json, os, sys, time
from swift.common.ring import RingBuilder

spec = json.load(sys.stdin)
out = {}
zones = len({d["zone"] for d in spec["devices"]})
replicas = spec["replicas"] or min(3, zones)
for ring in spec["rings"]:
    path = os.path.join(spec["dir"], ring + ".builder")
    port = spec["ports"][ring]
    changed = False
    if os.path.exists(path):
        builder = RingBuilder.load(path)
    else:
        builder = RingBuilder(spec["part_power"], replicas, spec["min_part_hours"])
        changed = True
    if builder.replicas != replicas:
        builder.set_replicas(replicas)
        changed = True
    if builder.min_part_hours != spec["min_part_hours"]:
        builder.change_min_part_hours(spec["min_part_hours"])
        changed = True
    wanted = {(d["ip"], d["device"]): d for d in spec["devices"]}
    present = {}
    for dev in builder.devs:
        if dev is None:
            continue
        key = (dev["ip"], dev["device"])
        want = wanted.get(key)
        if want is None or dev["port"] != port or dev["zone"] != want["zone"]:
            builder.remove_dev(dev["id"])
            changed = True
            continue
        present[key] = dev
        if dev["weight"] != want["weight"]:
            builder.set_dev_weight(dev["id"], want["weight"])
            changed = True
    for key, want in wanted.items():
        if key not in present:
            builder.add_dev({"region": 1, "zone": want["zone"], "ip": want["ip"], "port": port,
                             "device": want["device"], "weight": want["weight"], "meta": "tenrec"})
            changed = True
    ring_file = os.path.join(spec["dir"], ring + ".ring.gz")
    moved, balance = 0, builder.get_balance()
    due = builder.min_part_seconds_left == 0
    retry = spec["retry"] and due
    if changed or retry:
        moved, balance, _removed = builder.rebalance()
        builder.save(path)
    if changed or retry or not os.path.exists(ring_file):
        builder.get_ring().save(ring_file)
    out[ring] = {"changed": changed or moved > 0, "moved": moved, "balance": round(balance, 2),
                 "replicas": builder.replicas, "devices": len([d for d in builder.devs if d]),
                 # Moved what it could, not all it should; or a retry that must wait longer.
                 "pending": (moved > 0 and balance > 1) or (spec["retry"] and not due)}
print(json.dumps(out))
"""


def digest(data):
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def ensure_venv(module, lock, venv_root):
    with open(lock, "rb") as handle:
        lock_digest = hashlib.sha256(handle.read()).hexdigest()[:16]
    venv = os.path.join(venv_root, f"swift-ring-builder-{lock_digest}")
    done = os.path.join(venv, ".tenrec-complete")
    python = os.path.join(venv, "bin", "python")
    if os.path.exists(done):
        return python
    os.makedirs(venv_root, exist_ok=True)
    for argv in (
        [sys.executable, "-m", "venv", "--clear", venv],
        [
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-deps",
            "--require-hashes",
            "-r",
            lock,
        ],
    ):
        rc, out, err = module.run_command(argv)
        if rc != 0:
            step = " ".join(argv[:4])
            module.fail_json(msg=f"building the ring builder's venv failed: {step}: {(err or out)[-1500:]}")
    with open(done, "w", encoding="utf-8") as handle:
        handle.write(lock + "\n")
    return python


def main():
    module = AnsibleModule(
        argument_spec={
            "dir": {"type": "path", "required": True},
            "devices": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "ip": {"type": "str", "required": True},
                    "zone": {"type": "int", "required": True},
                    "device": {"type": "str", "required": True},
                    "weight": {"type": "float", "default": 100.0},
                },
            },
            "part_power": {"type": "int", "default": 10},
            "replicas": {"type": "int", "default": 0},
            "min_part_hours": {"type": "int", "default": 1},
            "ports": {"type": "dict", "default": {"account": 6202, "container": 6201, "object": 6200}},
            "lock": {"type": "path", "required": True},
            "venv_root": {"type": "path", "default": "~/.cache/tenrec"},
        },
        supports_check_mode=False,
    )
    params = module.params
    if not params["devices"]:
        module.fail_json(msg="no Swift device: the rings need at least one storage node's device")
    spec = {
        "dir": params["dir"],
        "devices": sorted(params["devices"], key=lambda d: (d["ip"], d["device"])),
        "part_power": params["part_power"],
        "replicas": params["replicas"],
        "min_part_hours": params["min_part_hours"],
        "ports": {ring: int(params["ports"][ring]) for ring in RINGS},
        "rings": list(RINGS),
    }
    os.makedirs(spec["dir"], mode=0o700, exist_ok=True)
    inputs_path = os.path.join(spec["dir"], INPUTS_FILE)
    pending_path = os.path.join(spec["dir"], PENDING_FILE)
    wanted = digest(spec)
    have = ""
    if os.path.exists(inputs_path):
        with open(inputs_path, encoding="utf-8") as handle:
            have = handle.read().strip()
    complete = all(
        os.path.exists(os.path.join(spec["dir"], f"{ring}.{kind}")) for ring in RINGS for kind in ("builder", "ring.gz")
    )
    if have == wanted and complete and not os.path.exists(pending_path):
        module.exit_json(changed=False, rings={}, pending=False)

    python = ensure_venv(module, params["lock"], os.path.expanduser(params["venv_root"]))
    spec["retry"] = os.path.exists(pending_path)
    result = subprocess.run(
        [python, "-c", BUILDER], input=json.dumps(spec), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        module.fail_json(msg=f"Swift's RingBuilder failed: {result.stderr.strip()[-1500:]}")
    rings = json.loads(result.stdout)
    pending = any(ring["pending"] for ring in rings.values())
    if pending:
        with open(pending_path, "w", encoding="utf-8") as handle:
            handle.write("a rebalance waits for min_part_hours\n")
    elif os.path.exists(pending_path):
        os.unlink(pending_path)
    with open(inputs_path, "w", encoding="utf-8") as handle:
        handle.write(wanted + "\n")
    module.exit_json(changed=any(ring["changed"] for ring in rings.values()), rings=rings, pending=pending)


if __name__ == "__main__":
    main()
