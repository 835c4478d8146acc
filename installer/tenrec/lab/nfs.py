"""NFS for lab nodes, whose kernel has no NFS client: what the lab emulates, and only that.

Cinder's NFS driver and Nova's NFS volume driver mount a share with `mount -t nfs HOST:/PATH
DIR` and then only need DIR to be a mount point holding the share's files. In lab nodes,
mount(8) runs the lab's /sbin/mount.nfs (Debian's nfs-common installs its own beside it,
as mount.nfs.distrib, through a dpkg diversion made in the image), which mounts the same
directory of HOST with sshfs: SFTP as root over the node network, with the lab's NFS key.
Everything above the mount is upstream's real code path: the files live on HOST's disk,
cinder-volume writes them, QEMU on a compute node opens them. Not emulated: NFS itself
(locking, root squash, export options, the server's own daemons).

sshfs runs in a scope of its own (systemd-run), so that restarting cinder-volume or
nova-compute, whose cgroup ran the mount, does not kill it and leave a dead mount behind.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

# The directory of every lab node that the lab config lists as an NFS share (on the first
# storage node); made in the image.
EXPORT_DIR = "/srv/lab-nfs/cinder"
# Where nodes find the private key sshfs logs in with (a directory of its own, mounted read-only).
KEY_DIR_IN_NODE = "/etc/tenrec-lab/nfs"
KEY_NAME = "id_ed25519"
MOUNT_HELPER = "/sbin/mount.nfs"
DIVERTED_TO = "/sbin/mount.nfs.distrib"

HELPER = f"""\
#!/bin/sh
# tenrec lab: this kernel has no NFS client. Mount the share's directory with sshfs instead
# (see installer/tenrec/lab/nfs.py); Debian's mount.nfs is {DIVERTED_TO}.
# mount(8) calls: mount.nfs HOST:/PATH DIR [-o OPTIONS] (NFS options do not apply here).
[ $# -ge 2 ] || {{ echo "usage: mount.nfs HOST:/PATH DIR [-o OPTIONS]" >&2; exit 1; }}
share=$1
dir=$2
case $share in *:/*) ;; *) echo "mount.nfs: $share is not HOST:/PATH" >&2; exit 32 ;; esac
host=${{share%%:*}}
path=${{share#*:}}
exec systemd-run --quiet --scope --collect -- /usr/bin/sshfs "root@$host:$path" "$dir" \\
  -o fsname="$share",allow_other,reconnect,ServerAliveInterval=10,ServerAliveCountMax=3 \\
  -o IdentityFile={KEY_DIR_IN_NODE}/{KEY_NAME},BatchMode=yes,StrictHostKeyChecking=no \\
  -o UserKnownHostsFile=/dev/null,LogLevel=ERROR,ConnectTimeout=10
"""


def install_in_rootfs(root: Path) -> None:
    """The helper and the diversion, in the image's root filesystem."""
    subprocess.run(
        ["chroot", str(root), "dpkg-divert", "--local", "--rename", "--divert", DIVERTED_TO, "--add", MOUNT_HELPER],
        check=True,
        capture_output=True,
    )
    helper = root / MOUNT_HELPER.lstrip("/")
    helper.write_text(HELPER)
    helper.chmod(0o755)
    (root / EXPORT_DIR.lstrip("/")).mkdir(parents=True, exist_ok=True)


def ensure_key(key_dir: Path) -> str:
    """The lab's NFS key pair (made once); returns its public key."""
    key = key_dir / KEY_NAME
    if not key.exists():
        key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tenrec-lab-nfs", "-f", str(key)],
            check=True,
            capture_output=True,
        )
    return key.with_suffix(".pub").read_text()


def share_of(storage_address: str) -> str:
    return f"{storage_address}:{EXPORT_DIR}"
