"""The lab's Debian 12 node image: built with debootstrap, cached as a tarball.

There is no registry to pull from, so the image is made here once; its tag carries
a hash of the recipe, so a changed recipe builds a new image and an old cache is
never used by mistake.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from tenrec.lab import nfs
from tenrec.lab.host import LabHostError, podman, run
from tenrec.paths import cache_dir

SUITE = "bookworm"
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "python3",
    "python3-apt",
    "iproute2",
    "iputils-ping",
    "sudo",
    "procps",
    "kmod",
    "udev",
    "ca-certificates",
    # The lab's NFS client (tenrec.lab.nfs): these kernels have none.
    "sshfs",
)
# udev in a privileged container re-triggers the host's devices and delays sshd by ~50 s.
MASKED_UNITS = (
    "systemd-udevd.service",
    "systemd-udevd-control.socket",
    "systemd-udevd-kernel.socket",
    "systemd-udev-trigger.service",
    "systemd-udev-settle.service",
)
# Every node gets its own SSH host keys at first boot, not the image's.
HOSTKEYS_UNIT = """\
[Unit]
Description=Generate missing SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
RequiredBy=ssh.service
"""
# A host's systemd makes / a shared mount; podman gives a container a private one. Without
# sharing, a mount made after a guest started (Nova's mount of a volume's NFS share) never
# reaches the guest's QEMU, which libvirt runs in a mount namespace of its own.
SHARED_ROOT_UNIT = """\
[Unit]
Description=Make / a shared mount, as on a host (tenrec lab)
DefaultDependencies=no
Before=local-fs.target

[Service]
Type=oneshot
ExecStart=/bin/mount --make-rshared /

[Install]
WantedBy=local-fs.target
"""
SOURCES = """\
deb {mirror} bookworm main
deb {mirror} bookworm-updates main
deb {security} bookworm-security main
"""
# debootstrap writes no /etc/hosts; a node owns its own (podman runs with --no-hosts).
HOSTS = """\
127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
"""
RECIPE_VERSION = "5"

Step = Callable[[str], None]
# A stable name for the current image, for molecule scenarios.
LATEST = "localhost/tenrec-node:latest"


def mirror() -> str:
    return os.environ.get("TENREC_DEBIAN_MIRROR", "http://deb.debian.org/debian")


def security_mirror() -> str:
    return os.environ.get("TENREC_DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security")


def image_tag() -> str:
    units = (HOSTKEYS_UNIT, SHARED_ROOT_UNIT)
    recipe = "\n".join([RECIPE_VERSION, SUITE, *PACKAGES, *MASKED_UNITS, *units, HOSTS, nfs.HELPER, nfs.EXPORT_DIR])
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:10]
    return f"localhost/tenrec-node:{SUITE}-{digest}"


def tarball_path() -> Path:
    return cache_dir() / "images" / (image_tag().split(":", 1)[1] + ".tar")


def image_exists(tag: str) -> bool:
    return podman("image", "exists", tag, check=False).returncode == 0


def _configure_rootfs(root: Path) -> None:
    systemd_dir = root / "etc/systemd/system"
    for unit in MASKED_UNITS:
        link = systemd_dir / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (systemd_dir / "ssh-hostkeys.service").write_text(HOSTKEYS_UNIT)
    (systemd_dir / "tenrec-lab-shared-root.service").write_text(SHARED_ROOT_UNIT)
    local_fs = systemd_dir / "local-fs.target.wants"
    local_fs.mkdir(exist_ok=True)
    (local_fs / "tenrec-lab-shared-root.service").unlink(missing_ok=True)
    (local_fs / "tenrec-lab-shared-root.service").symlink_to("/etc/systemd/system/tenrec-lab-shared-root.service")
    wants = systemd_dir / "ssh.service.requires"
    wants.mkdir(exist_ok=True)
    (wants / "ssh-hostkeys.service").unlink(missing_ok=True)
    (wants / "ssh-hostkeys.service").symlink_to("/etc/systemd/system/ssh-hostkeys.service")
    # An empty machine-id makes systemd give each node its own at boot.
    (root / "etc/machine-id").write_text("")
    (root / "etc/hosts").write_text(HOSTS)
    (root / "var/lib/dbus/machine-id").unlink(missing_ok=True)
    (root / "etc/apt/sources.list").write_text(SOURCES.format(mirror=mirror(), security=security_mirror()))
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    shutil.rmtree(root / "var/lib/apt/lists", ignore_errors=True)
    (root / "var/lib/apt/lists/partial").mkdir(parents=True)
    # No package lists: make the cache look ancient so the first apt task fetches them.
    os.utime(root / "var/lib/apt/lists", (0, 0))
    shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
    (root / "var/cache/apt/archives/partial").mkdir(parents=True)
    nfs.install_in_rootfs(root)


def build_tarball(target: Path, step: Step) -> None:
    """debootstrap a minimal Debian 12 with systemd and sshd into a tarball."""
    if shutil.which("debootstrap") is None:
        raise LabHostError("debootstrap is missing; `tenrec lab up` installs it (run it as root)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tenrec-rootfs-", dir=target.parent) as tmp:
        root = Path(tmp) / "rootfs"
        step(f"debootstrap {SUITE} from {mirror()} (about a minute)")
        run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                SUITE,
                str(root),
                mirror(),
            ],
            what="debootstrap",
        )
        # A Debian 12 machine is installed with the point release's updates and the security
        # fixes; debootstrap takes bookworm alone.
        step("applying bookworm-updates and bookworm-security")
        (root / "etc/apt/sources.list").write_text(SOURCES.format(mirror=mirror(), security=security_mirror()))
        shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run(["chroot", str(root), "apt-get", "update", "-qq"], what="apt-get update in the image", env=env)
        run(
            ["chroot", str(root), "apt-get", "-y", "-qq", "-o", "Dpkg::Options::=--force-confold", "dist-upgrade"],
            what="apt-get dist-upgrade in the image",
            env=env,
        )
        _configure_rootfs(root)
        step("packing the node image")
        partial = target.with_suffix(".partial")
        run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(partial), "."], what="tar")
        partial.replace(target)


def ensure_image(step: Step) -> str:
    """The node image's tag, importing or building it when podman lacks it."""
    tag = image_tag()
    if image_exists(tag):
        podman("tag", tag, LATEST, check=False)
        return tag
    tarball = tarball_path()
    if not tarball.exists():
        build_tarball(tarball, step)
    step(f"importing {tarball.name} into podman")
    with tarball.open("rb") as data:
        result = subprocess.run(
            ["podman", "import", "--change", "CMD=/sbin/init", "-", tag],
            stdin=data,
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        raise LabHostError(f"podman import failed: {result.stderr.strip()}")
    _prune_stale(tag, tarball)
    podman("tag", tag, LATEST)
    return tag


def _prune_stale(tag: str, tarball: Path) -> None:
    """Images of older recipes are never used again; nodes still running keep theirs."""
    for old in tarball.parent.glob("*.tar"):
        if old != tarball:
            old.unlink()
    repository = tag.split(":", 1)[0]
    listed = podman("images", "--format", "{{.Repository}}:{{.Tag}}", repository, check=False).stdout
    for other in listed.split():
        if other not in (tag, LATEST):
            podman("rmi", other, check=False)
