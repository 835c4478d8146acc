"""Make this machine able to run lab nodes: podman with the settings that work here."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

# Measured on our machines: podman 4.3 from Debian works with runc (crun fails), cgroupfs,
# and file events; containers cannot raise nofile above 20000.
HOST_PACKAGES = (
    "podman",
    "runc",
    "uidmap",
    "slirp4netns",
    "fuse-overlayfs",
    "netavark",
    "aardvark-dns",
    "containernetworking-plugins",
    "debootstrap",
    "openssh-client",
    "ethtool",
    # verify pings floating IPs from here (the lab host holds the external gateway).
    "iputils-ping",
)
CONTAINERS_CONF = Path("/etc/containers/containers.conf.d/50-tenrec.conf")
CONTAINERS_CONF_TEXT = """\
# Written by tenrec lab: the podman settings measured to work for systemd nodes.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
# podman's default of 2048 tasks per container is less than an all-in-one node runs.
pids_limit = 32768

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


class LabHostError(Exception):
    """This machine cannot run the lab; the message says why and what to do."""


def run(argv: Sequence[str], what: str, check: bool = True, **kwargs: object) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(list(argv), capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    except FileNotFoundError:
        raise LabHostError(f"{argv[0]} is not installed (needed for {what})") from None
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise LabHostError(f"{what} failed: {' / '.join(detail[-3:]) or f'exit {result.returncode}'}")
    return result


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(["podman", *args], what=f"podman {args[0]}", check=check)


def missing_packages(extra: Sequence[str] = ()) -> list[str]:
    wanted = [*HOST_PACKAGES, *extra]
    result = run(
        ["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n", *wanted],
        what="dpkg-query",
        check=False,
    )
    installed = {line.split()[0] for line in result.stdout.splitlines() if line.endswith(" installed")}
    return [name for name in wanted if name not in installed]


def prepare_host(extra_packages: Sequence[str] = ()) -> list[str]:
    """Install what the lab needs (plus extra_packages: QEMU for VM nodes) and write the podman
    settings; idempotent.

    Returns what it changed, so a second run can say it changed nothing.
    """
    if os.geteuid() != 0:
        raise LabHostError("the lab runs rootful podman: run `tenrec lab up` as root")
    if shutil.which("dpkg-query") is None or shutil.which("apt-get") is None:
        raise LabHostError("the lab host must be Debian (or Ubuntu) with apt: apt-get is missing")
    changed: list[str] = []
    missing = missing_packages(extra_packages)
    if missing:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run(["apt-get", "update", "-qq"], what="apt-get update", env=env)
        run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            what=f"installing {' '.join(missing)}",
            env=env,
        )
        changed.append(f"installed {' '.join(missing)}")
    if not CONTAINERS_CONF.exists() or CONTAINERS_CONF.read_text() != CONTAINERS_CONF_TEXT:
        CONTAINERS_CONF.parent.mkdir(parents=True, exist_ok=True)
        CONTAINERS_CONF.write_text(CONTAINERS_CONF_TEXT)
        changed.append(f"wrote {CONTAINERS_CONF}")
    check_podman_runs()
    return changed


def check_podman_runs() -> None:
    result = podman("info", "--format", "{{.Host.OCIRuntime.Name}}", check=False)
    if result.returncode != 0:
        raise LabHostError("podman cannot run here: " + (result.stderr.strip().splitlines() or ["no output"])[-1])
    if result.stdout.strip() != "runc":
        raise LabHostError(
            f"podman uses the {result.stdout.strip()} runtime; the lab needs runc "
            f"(check {CONTAINERS_CONF} and /etc/containers/containers.conf)"
        )
