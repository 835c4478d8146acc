"""Where a deployment's secrets can be found on a node: files, the journal, process command lines.

audit_node() runs a small Python program on the node (through `podman exec`, or any command
that runs `python3 -c PROGRAM` there) that gets the secret values on its stdin, never on a
command line, and reports every place one of them appears:

  - files under the searched roots (regular files up to 64 MiB; not the installed Python
    packages, site-packages), with mode, owner and group;
  - journal entries (`journalctl -o json --all`, every field, _CMDLINE included), with the
    unit, the command and the names of the fields that hold it;
  - command lines of the processes running now (/proc/*/cmdline).

judge() sorts the hits into allowed and not: a secret may only be in a configuration file
under /etc that is owned by root and neither writable by its group nor readable by others
(0640 root:SERVICE or stricter), or in one of ALLOWED_FILES. A hit is reported with the
secret's name, never its value.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Files outside /etc that must hold a secret, with the same mode rule: Erlang's cookie, and
# root's clouds.yaml on controllers (the admin credentials of the controller's `openstack` CLI,
# which deploy steps use; 0600 in a 0700 directory).
ALLOWED_FILES = ("/var/lib/rabbitmq/.erlang.cookie", "/root/.config/openstack/clouds.yaml")
# Values shorter than this are not searched for (they would match by chance).
MIN_LENGTH = 12

NODE_PROGRAM = r"""
import json, os, re, stat, subprocess, sys
secrets = json.loads(sys.stdin.read())
by_value = {value.encode(): name for name, value in secrets.items()}
pattern = re.compile(b"|".join(re.escape(v) for v in sorted(by_value, key=len, reverse=True)))
ROOTS = ("/etc", "/var", "/opt", "/root", "/home", "/tmp", "/run", "/srv", "/usr/local")
# Installed code, which no deploy step writes to: the venvs' and wheels' contents.
SKIP_NAMES = {"site-packages", "__pycache__"}
LIMIT = 64 << 20
hits = []
def names(data):
    return sorted({by_value[m.group(0)] for m in pattern.finditer(data)})
for top in ROOTS:
    for root, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d not in SKIP_NAMES]
        for name in files:
            path = os.path.join(root, name)
            try:
                st = os.lstat(path)
                if not stat.S_ISREG(st.st_mode) or st.st_size > LIMIT:
                    continue
                with open(path, "rb") as handle:
                    found = names(handle.read())
            except OSError:
                continue
            for secret in found:
                hits.append({"kind": "file", "where": path, "secret": secret,
                             "mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid})
journal = subprocess.Popen(["journalctl", "-o", "json", "--all", "--no-pager"], stdout=subprocess.PIPE)
for line in journal.stdout:
    if not pattern.search(line):
        continue
    entry = json.loads(line)
    fields = sorted(k for k, v in entry.items() if isinstance(v, str) and pattern.search(v.encode()))
    unit = entry.get("_SYSTEMD_UNIT") or entry.get("SYSLOG_IDENTIFIER") or "?"
    comm = entry.get("_COMM", "?")
    for secret in names(line):
        hits.append({"kind": "journal", "where": f"{unit} ({comm}) fields {','.join(fields)}", "secret": secret})
journal.wait()
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read()
    except OSError:
        continue
    for secret in names(argv):
        command = argv.split(b"\0")[0].decode(errors="replace")
        hits.append({"kind": "argv", "where": f"pid {pid} ({command})", "secret": secret})
json.dump(hits, sys.stdout)
"""


@dataclass(frozen=True)
class Hit:
    node: str
    kind: str  # file, journal, argv
    where: str
    secret: str  # the secret's name
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None

    def describe(self) -> str:
        extra = f" (mode {self.mode:04o}, uid {self.uid}, gid {self.gid})" if self.mode is not None else ""
        return f"{self.node}: {self.secret} in {self.kind} {self.where}{extra}"


def searched(secrets: Mapping[str, object]) -> dict[str, str]:
    """The secret values worth searching for: strings of MIN_LENGTH characters or more."""
    return {name: value for name, value in secrets.items() if isinstance(value, str) and len(value) >= MIN_LENGTH}


def audit_node(node: str, runner: Sequence[str], secrets: Mapping[str, str], timeout: int = 600) -> list[Hit]:
    """Every place on the node that holds one of secrets; runner runs `python3 -c PROGRAM` there
    (e.g. ["podman", "exec", "-i", CONTAINER]); the values go through its stdin."""
    result = subprocess.run(
        [*runner, "python3", "-c", NODE_PROGRAM],
        input=json.dumps(dict(secrets)),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the audit on {node} failed (rc {result.returncode}): {result.stderr[-2000:]}")
    return [Hit(node=node, **hit) for hit in json.loads(result.stdout)]


def allowed(hit: Hit) -> bool:
    """A configuration file under /etc (or an ALLOWED_FILES one), owned by root or readable only
    by its owner, neither group-writable nor readable by others."""
    if hit.kind != "file" or hit.mode is None:
        return False
    if not (hit.where.startswith("/etc/") or hit.where in ALLOWED_FILES):
        return False
    private = hit.mode & 0o037 == 0  # no group write or execute, nothing for others
    owner_only = hit.mode & 0o077 == 0
    return private and (hit.uid == 0 or owner_only)


def judge(hits: Sequence[Hit]) -> tuple[list[Hit], list[Hit]]:
    """(allowed, not allowed) hits."""
    good = [hit for hit in hits if allowed(hit)]
    bad = [hit for hit in hits if not allowed(hit)]
    return good, bad
