"""What the two VM lab tests share: the tenrec CLI as a user runs it, a lab with VM nodes
for the length of a test module, SSH to its nodes, and the check that `lab down` left
nothing behind (test_vm_kernel_paths.py, the CI part; test_vm_lab.py, the whole scenario).

    with vm_lab("ivk", "network,compute,storage") as lab:   # down first, up, FIGURE, down
        ...
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import testinfra

from tenrec.exitcodes import Exit
from tenrec.lab.lab import LabPaths

TENREC = str(Path(sys.executable).parent / "tenrec")
SSH_ARGS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"


def tenrec(*args: str, timeout: int = 5400) -> subprocess.CompletedProcess[str]:
    """One tenrec command, its exit code, time and output's tail printed for the test's log."""
    started = time.monotonic()
    # Wide enough that rich's tables keep a row on one line in the captured output.
    env = os.environ | {"COLUMNS": "250"}
    result = subprocess.run([TENREC, *args], capture_output=True, text=True, timeout=timeout, check=False, env=env)
    print(f"tenrec {' '.join(args)}: rc {result.returncode} after {time.monotonic() - started:.0f} s")
    print(result.stdout[-4000:], result.stderr[-4000:], sep="\n")
    return result


@contextmanager
def vm_lab(name: str, vms: str) -> Iterator[LabPaths]:
    """The lab `name` with these roles' nodes as VMs, brought up anew (a leftover of an
    earlier run is taken down first) and taken down at the end."""
    paths = LabPaths.named(name)
    tenrec("lab", "down", "--name", name)
    started = time.monotonic()
    result = tenrec("lab", "up", "--name", name, "--vm", vms)
    assert result.returncode == Exit.OK, result.stdout + result.stderr
    print(f"FIGURE lab up ({len(vms.split(','))} VMs booted, SSH on all): {time.monotonic() - started:.0f} s")
    try:
        yield paths
    finally:
        tenrec("lab", "down", "--name", name)


def address_of(config: dict, name: str, kind: str = "address") -> str:
    """A node's address from the lab's config (kind: "address", or another of its networks)."""
    found = next(n for n in config["nodes"] if n["name"] == name)
    return found.get(kind) or found["address"]


def node(lab: LabPaths, config: dict, name: str) -> testinfra.host.Host:
    return testinfra.get_host(
        f"ssh://root@{address_of(config, name)}", ssh_identity_file=str(lab.key), ssh_extra_args=SSH_ARGS
    )


def assert_lab_down_leaves_nothing(lab: LabPaths, name: str) -> None:
    """`lab down` ends with no QEMU process, tap device, podman network or lab directory left."""
    result = tenrec("lab", "down", "--name", name)
    assert result.returncode == Exit.OK
    assert subprocess.run(["pgrep", "-f", f"tenrec-{name}-"], capture_output=True, check=False).returncode == 1
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    assert " tv" not in links
    listing = ["podman", "network", "ls", "--format", "{{.Name}}"]
    assert f"tenrec-{name}-" not in subprocess.run(listing, capture_output=True, text=True, check=True).stdout
    assert not lab.root.exists()
