"""The lab's VM node disk: the container node's Debian 12 plus Debian's own kernel.

Made once from the cached node tarball (tenrec.lab.image) and kept beside it: an ext4 root
filesystem image written by `mkfs.ext4 -d` (no loop mount, no device-mapper needed on this
machine), and the kernel and initramfs that QEMU boots directly. Every VM node runs on a
copy-on-write overlay of that root, so a node costs no copy.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tenrec.lab import image
from tenrec.lab.host import LabHostError, run
from tenrec.lab.image import Step

RECIPE_VERSION = "1"
KERNEL_PACKAGES = ("linux-image-amd64", "initramfs-tools")
ROOT_LABEL = "tenrec-root"
ROOT_SIZE = "24G"  # sparse: the overlay of each node only grows by what it writes
# The name under which QEMU hands each VM its identity (fw_cfg), and where the guest reads it.
FW_CFG_NAME = "opt/tenrec/node"
CONFIG_SCRIPT_PATH = "/usr/local/sbin/tenrec-lab-vm-config"
# Reads the node's identity from QEMU at every boot and sets it as podman sets a container's
# (addresses given once per start, no network daemon): hostname, resolver, SSH key, addresses.
CONFIG_SCRIPT = """\
#!/usr/bin/python3
\"\"\"This lab VM's identity from QEMU's fw_cfg, set at every boot (tenrec lab).\"\"\"
import json
import subprocess
from pathlib import Path

node = json.loads(Path("/sys/firmware/qemu_fw_cfg/by_name/{name}/raw").read_text())


def ip(*args):
    subprocess.run(["ip", *args], check=True)


Path("/etc/hostname").write_text(node["hostname"] + "\\n")
subprocess.run(["hostname", node["hostname"]], check=True)
Path("/etc/resolv.conf").unlink(missing_ok=True)
Path("/etc/resolv.conf").write_text(f"nameserver {{node['dns']}}\\n")
keys = Path("/root/.ssh/authorized_keys")
keys.parent.mkdir(mode=0o700, exist_ok=True)
keys.write_text(node["authorized_keys"])
keys.chmod(0o600)
by_mac = {{link.joinpath("address").read_text().strip(): link.name for link in Path("/sys/class/net").iterdir()}}
for nic in node["interfaces"]:
    name = by_mac[nic["mac"]]
    if name != nic["name"]:
        ip("link", "set", "dev", name, "down")
        ip("link", "set", "dev", name, "name", nic["name"])
    ip("link", "set", "dev", nic["name"], "up")
    ip("address", "replace", nic["address"], "dev", nic["name"])
ip("route", "replace", "default", "via", node["gateway"], "dev", node["interfaces"][0]["name"])
"""
CONFIG_UNIT = f"""\
[Unit]
Description=Identity and addresses of this lab VM (tenrec lab)
DefaultDependencies=no
After=local-fs.target systemd-udevd.service
Before=network-pre.target ssh.service systemd-user-sessions.service
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStartPre=/sbin/modprobe qemu_fw_cfg
ExecStart={CONFIG_SCRIPT_PATH}

[Install]
WantedBy=multi-user.target
"""
FSTAB = f"LABEL={ROOT_LABEL} / ext4 defaults,errors=remount-ro 0 1\n"
# QEMU boots the kernel and initramfs kept beside the image, never the node's /boot: the
# packages a deploy installs (open-iscsi, lvm2, ...) need not rebuild an initramfs, which
# under emulation took minutes each.
INITRAMFS_CONF = "update_initramfs=no\nbackup_initramfs=no\n"


@dataclass(frozen=True)
class VmImage:
    root: Path  # raw ext4 image, the backing file of every node's overlay
    kernel: Path
    initrd: Path


def image_dir() -> Path:
    parts = [RECIPE_VERSION, image.image_tag(), *KERNEL_PACKAGES, ROOT_SIZE, CONFIG_SCRIPT, CONFIG_UNIT, FSTAB]
    parts.append(INITRAMFS_CONF)
    recipe = "\n".join(parts)
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:10]
    return image.tarball_path().parent / f"vm-{image.SUITE}-{digest}"


def vm_image() -> VmImage:
    where = image_dir()
    return VmImage(where / "root.img", where / "vmlinuz", where / "initrd.img")


def ensure_vm_image(step: Step) -> VmImage:
    """The VM image, built from the node tarball (itself built first when missing)."""
    made = vm_image()
    if made.root.exists() and made.kernel.exists() and made.initrd.exists():
        return made
    if shutil.which("mkfs.ext4") is None:
        raise LabHostError("mkfs.ext4 is missing (Debian package e2fsprogs)")
    tarball = image.tarball_path()
    if not tarball.exists():
        image.build_tarball(tarball, step)
    where = image_dir()
    where.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tenrec-vmroot-", dir=where.parent) as tmp:
        root = Path(tmp) / "rootfs"
        root.mkdir()
        step(f"unpacking {tarball.name} for the VM image")
        run(["tar", "-C", str(root), "--numeric-owner", "-xpf", str(tarball)], what="tar")
        step(f"installing Debian's kernel in the VM image ({', '.join(KERNEL_PACKAGES)}, about a minute)")
        _install_kernel(root)
        _configure(root)
        built = Path(tmp) / "built"
        built.mkdir()
        boot = root / "boot"
        shutil.copy(next(boot.glob("vmlinuz-*")), built / "vmlinuz")
        shutil.copy(next(boot.glob("initrd.img-*")), built / "initrd.img")
        step(f"writing the VM root filesystem ({ROOT_SIZE}, sparse)")
        run(
            ["mkfs.ext4", "-q", "-F", "-L", ROOT_LABEL, "-d", str(root), str(built / "root.img"), ROOT_SIZE],
            what="mkfs.ext4 of the VM image",
        )
        _prune_stale(where)
        built.replace(where)
    return vm_image()


def _install_kernel(root: Path) -> None:
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["chroot", str(root), "apt-get", "update", "-qq"], what="apt-get update in the VM image", env=env)
    run(
        ["chroot", str(root), "apt-get", "install", "-y", "-qq", "--no-install-recommends", *KERNEL_PACKAGES],
        what="installing the kernel in the VM image",
        env=env,
    )
    run(["chroot", str(root), "apt-get", "clean"], what="apt-get clean in the VM image")
    shutil.rmtree(root / "var/lib/apt/lists", ignore_errors=True)
    (root / "var/lib/apt/lists/partial").mkdir(parents=True)
    os.utime(root / "var/lib/apt/lists", (0, 0))  # the first apt task of a deploy fetches the lists
    (root / "etc/resolv.conf").unlink()


def _configure(root: Path) -> None:
    systemd_dir = root / "etc/systemd/system"
    # A VM has its own devices: udev runs, as on a host (containers mask it).
    for unit in image.MASKED_UNITS:
        (systemd_dir / unit).unlink(missing_ok=True)
    (root / "etc/fstab").write_text(FSTAB)
    (root / "etc/initramfs-tools/update-initramfs.conf").write_text(INITRAMFS_CONF)
    script = root / CONFIG_SCRIPT_PATH.lstrip("/")
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(CONFIG_SCRIPT.format(name=FW_CFG_NAME))
    script.chmod(0o755)
    (systemd_dir / "tenrec-lab-vm-config.service").write_text(CONFIG_UNIT)
    wants = systemd_dir / "multi-user.target.wants"
    wants.mkdir(exist_ok=True)
    (wants / "tenrec-lab-vm-config.service").unlink(missing_ok=True)
    (wants / "tenrec-lab-vm-config.service").symlink_to("/etc/systemd/system/tenrec-lab-vm-config.service")


def _prune_stale(keep: Path) -> None:
    for old in keep.parent.glob(f"vm-{image.SUITE}-*"):
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
