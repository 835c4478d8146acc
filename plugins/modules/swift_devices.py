#!/usr/bin/python
"""Swift's devices on a storage node: XFS, labelled, in fstab, mounted, owned by swift; one call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: swift_devices
short_description: Format, mount and hand over Swift's devices on a storage node, in one call
description:
  - Each device is a block device (C(path)) or a sparse file (C(file), for nodes without
    devices), formatted XFS with the device's name as label when it holds no filesystem yet,
    written to C(/etc/fstab) (a block device by its label, a file loop-mounted), mounted at
    O(root)/NAME and owned by O(owner).
  - Never formats over a filesystem; a device that holds another filesystem, or XFS with
    another label, fails with the device named.
  - A sparse file is made at O(loop_size_gb) when it is missing; an existing one keeps its
    size (shrinking it would destroy the filesystem on it).
version_added: "0.1.0"
author: tenrec developers
options:
  devices:
    description: The node's devices.
    type: list
    elements: dict
    required: true
    suboptions:
      name: {type: str, required: true, description: Device name in the rings; XFS label and mount point name.}
      path: {type: path, description: The block device (leave out with C(file)).}
      file: {type: bool, default: false, description: A sparse file in O(loop_dir) instead of a block device.}
  root:
    description: Where the devices are mounted (Swift's C(devices) option).
    type: path
    default: /srv/node
  loop_dir:
    description: Where the sparse files are kept.
    type: path
    default: /var/lib/swift-disks
  loop_size_gb:
    description: Size of a new sparse file, in GiB.
    type: int
    default: 10
  owner:
    description: User and group that own each mounted device.
    type: str
    default: swift
"""

EXAMPLES = r"""
- name: Swift's devices
  tenrec.cloud.swift_devices:
    devices: [{name: sdb, path: /dev/sdb}, {name: file1, file: true}]
"""

RETURN = r"""
changed_devices:
  description: What changed, one entry per step (made, formatted, fstab, mounted, owner).
  returned: always
  type: list
  elements: str
"""

import grp
import os
import pwd

from ansible.module_utils.basic import AnsibleModule

FSTAB = "/etc/fstab"
XFS_OPTIONS = ["-i", "size=1024"]  # room for Swift's metadata in the inode's extended attributes


class Devices:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.check = module.check_mode
        self.changed: list[str] = []

    def run(self, argv: list[str], allowed: tuple[int, ...] = (0,)) -> tuple[int, str]:
        rc, out, err = self.module.run_command(argv)
        if rc not in allowed:
            self.module.fail_json(
                msg=f"{' '.join(argv)} failed (rc {rc}): {err.strip()[-600:]}", changed_devices=self.changed
            )
        return rc, out.strip()

    def source(self, device: dict) -> str:
        if device["file"]:
            return os.path.join(self.module.params["loop_dir"], f"{device['name']}.xfs")
        if not device.get("path"):
            self.module.fail_json(msg=f"Swift device {device['name']}: give its path, or file: true")
        return device["path"]

    def make_file(self, path: str, name: str) -> None:
        if os.path.exists(path):
            return
        self.changed.append(f"{name}: made {path}")
        if self.check:
            return
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with open(path, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.truncate(self.module.params["loop_size_gb"] * 1024**3)

    def format(self, source: str, name: str) -> None:
        if not os.path.exists(source):
            if self.check:
                return
            self.module.fail_json(msg=f"Swift device {name}: {source} does not exist on this node")
        # blkid exits 2 when it finds no filesystem at all.
        _, kind = self.run(["blkid", "-p", "-o", "value", "-s", "TYPE", source], allowed=(0, 2))
        if not kind:
            self.changed.append(f"{name}: formatted {source} XFS")
            if not self.check:
                self.run(["mkfs.xfs", "-q", "-L", name, *XFS_OPTIONS, source])
            return
        if kind != "xfs":
            self.module.fail_json(
                msg=f"Swift device {name}: {source} holds a {kind} filesystem; tenrec formats only empty "
                "devices. Wipe it (wipefs -a) if its data can go, or name another device."
            )
        _, label = self.run(["blkid", "-p", "-o", "value", "-s", "LABEL", source], allowed=(0, 2))
        if label != name:
            self.module.fail_json(
                msg=f"Swift device {name}: {source} is XFS labelled {label or '(none)'}, not {name}; "
                f"relabel it (xfs_admin -L {name} {source}, unmounted) or wipe it"
            )

    def fstab(self, wanted: dict[str, list[str]]) -> None:
        """One line per mount point: replaced when its fields differ, appended when missing."""
        try:
            with open(FSTAB, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except FileNotFoundError:
            lines = []
        seen = set()
        out = []
        for line in lines:
            fields = line.split()
            target = fields[1] if len(fields) > 1 and not line.lstrip().startswith("#") else None
            if target in wanted:
                seen.add(target)
                if fields != wanted[target]:
                    self.changed.append(f"fstab: {' '.join(wanted[target])}")
                out.append(" ".join(wanted[target]) if fields != wanted[target] else line)
            else:
                out.append(line)
        for target, fields in wanted.items():
            if target not in seen:
                self.changed.append(f"fstab: {' '.join(fields)}")
                out.append(" ".join(fields))
        if out != lines and not self.check:
            temporary = f"{FSTAB}.tenrec-tmp"
            with open(temporary, "w", encoding="utf-8") as handle:
                handle.write("\n".join(out) + "\n")
            os.chmod(temporary, 0o644)
            os.replace(temporary, FSTAB)

    def mount(self, target: str, name: str) -> None:
        if not os.path.isdir(target):
            self.changed.append(f"{name}: made {target}")
            if self.check:
                return
            os.makedirs(target, mode=0o755)
        if not os.path.ismount(target):
            self.changed.append(f"{name}: mounted at {target}")
            if not self.check:
                self.run(["mount", target])

    def hand_over(self, target: str, name: str) -> None:
        if self.check and not os.path.ismount(target):
            return
        owner = self.module.params["owner"]
        uid, gid = pwd.getpwnam(owner).pw_uid, grp.getgrnam(owner).gr_gid
        info = os.stat(target)
        if (info.st_uid, info.st_gid, info.st_mode & 0o7777) != (uid, gid, 0o750):
            self.changed.append(f"{name}: {target} owned by {owner}, 0750")
            if not self.check:
                os.chown(target, uid, gid)
                os.chmod(target, 0o750)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "devices": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "path": {"type": "path"},
                    "file": {"type": "bool", "default": False},
                },
            },
            "root": {"type": "path", "default": "/srv/node"},
            "loop_dir": {"type": "path", "default": "/var/lib/swift-disks"},
            "loop_size_gb": {"type": "int", "default": 10},
            "owner": {"type": "str", "default": "swift"},
        },
        supports_check_mode=True,
    )
    devices = Devices(module)
    wanted = {}
    for device in module.params["devices"]:
        source = devices.source(device)
        if device["file"]:
            devices.make_file(source, device["name"])
        devices.format(source, device["name"])
        target = os.path.join(module.params["root"], device["name"])
        spec = source if device["file"] else f"LABEL={device['name']}"
        wanted[target] = [spec, target, "xfs", "loop,noatime" if device["file"] else "noatime", "0", "0"]
    devices.fstab(wanted)
    for device in module.params["devices"]:
        target = os.path.join(module.params["root"], device["name"])
        devices.mount(target, device["name"])
        devices.hand_over(target, device["name"])
    module.exit_json(changed=bool(devices.changed), changed_devices=devices.changed)


if __name__ == "__main__":
    main()
