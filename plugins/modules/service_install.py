#!/usr/bin/python
# Copyright: tenrec contributors
# Apache-2.0
"""Lay down everything of one service on a node in one call (one SSH round trip)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: service_install
short_description: Users, directories, venvs, files, links and units of one service, in one call
description:
  - Makes the node hold exactly what a service declaration asks for, and reports what it changed.
  - In order, the Debian packages (as M(tenrec.cloud.packages) does - dpkg's status file read, apt
    only for what is missing, the packages' services held from starting); the system group and
    user; directories; the node tools (uv) from the wheel
    repository; each venv made equal to its served lock with C(uv pip sync --require-hashes);
    the stable venv links; files (given content, or copied from a path on the node such as a
    venv), written atomically and only when their bytes, owner, group or mode differ; symlinks;
    managed blocks in files the service shares with others (/etc/hosts); C(systemctl
    daemon-reload) when a unit file changed; a restart mark when something the running service
    reads changed; then, with C(start), the units enabled and started (restarted, and the mark
    cleared, when the mark exists), as M(tenrec.cloud.service_start) does.
  - Every check is local to the node, so a file edited by hand, a deleted link or a venv
    changed by hand is put back on the next run, while a run with nothing to change costs one
    module execution.
options:
  packages:
    description: Debian packages to install when missing (before anything else).
    type: list
    elements: str
    default: []
  update_cache_max_age:
    description: Refresh the package lists first when they are older than this many seconds.
    type: int
    default: 86400
  unpacked:
    description:
      - Directories of Debian packages wanted without the package's dependencies (noVNC's web
        client, whose package pulls nodejs and numpy for tools nova does not run); apt
        downloads the candidate version (checked against the signed archive) and its files
        under C(path) are unpacked to C(dest), with a mark of the version and their md5sums.
        A newer candidate or a changed or missing file unpacks again.
    type: list
    elements: dict
    default: []
    suboptions:
      package: {type: str, required: true, description: The Debian package.}
      path: {type: str, required: true, description: The directory inside the package, e.g. usr/share/novnc.}
      dest: {type: path, required: true, description: Where its contents go.}
  user:
    description: System user and group to create (home /var/lib/NAME, no login shell).
    type: dict
    suboptions:
      name: {type: str, required: true, description: The user and group name.}
      groups: {type: list, elements: str, default: [], description: Supplementary groups, appended.}
  directories:
    description: Directories to create, with owner, group and mode.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {type: path, required: true, description: The directory.}
      owner: {type: str, default: root, description: Owner.}
      group: {type: str, default: root, description: Group.}
      mode: {type: str, default: "0755", description: Octal mode.}
      keep_owner: {type: bool, default: false, description: Leave owner and group as they are (a package owns them).}
  key_repositories:
    description:
      - Fernet key repositories (keystone's token and credential keys) - when one holds no key
        yet, keys 0 (staged) and 1 (primary) are made in it, as C(keystone-manage fernet_setup)
        makes them (32 random bytes, URL-safe base64). A repository with keys is left alone
        (rotation renumbers them).
    type: list
    elements: dict
    default: []
    suboptions:
      path: {type: path, required: true, description: The repository (made with C(directories)).}
      owner: {type: str, required: true, description: Owner of the key files.}
      group: {type: str, required: true, description: Their group.}
  tools:
    description: The node tools venv (uv), installed from the wheel repository when its lock changed.
    type: dict
    suboptions:
      venv: {type: path, required: true, description: Where the tools venv lives.}
      lock_url: {type: str, required: true, description: URL of the tools lock.}
      find_links: {type: str, required: true, description: URL of the tools wheels.}
  venvs:
    description: Venvs to make equal to a served lock.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {type: path, required: true, description: The venv (one per lock and release).}
      lock_url: {type: str, required: true, description: URL of the served lock.}
      find_links: {type: str, required: true, description: URL of the release's wheels.}
      link: {type: path, description: A stable link to point at the venv.}
  uv_environment:
    description: Environment for uv (cache directory and the like).
    type: dict
    default: {}
  files:
    description: Files to write. One of C(content), C(content_b64) or C(copy_from) (a path on the node).
    type: list
    elements: dict
    default: []
    suboptions:
      dest: {type: path, required: true, description: The file.}
      content: {type: str, no_log: true, description: Its text.}
      content_b64: {type: str, description: Its bytes, base64-encoded (binary files).}
      copy_from: {type: path, description: A file on the node to copy (read after the venvs are in place).}
      owner: {type: str, default: root, description: Owner.}
      group: {type: str, default: root, description: Group.}
      mode: {type: str, default: "0644", description: Octal mode.}
      validate: {type: str, description: Command that checks the new file first; %s is its path.}
      restart: {type: bool, default: true, description: A change needs the service restarted.}
      unit: {type: bool, default: false, description: A systemd unit; a change reloads systemd.}
      keep_owner: {type: bool, default: false, description: Leave owner and group as they are (new files are root's).}
      stop_first:
        type: list
        elements: str
        default: []
        description: Units to stop before the file is replaced (one that cannot stop cleanly once its file changed).
  blocks:
    description: Managed blocks in files shared with others, between C(# BEGIN marker) and C(# END marker) lines
      (appended when missing); the rest of the file is kept, except the lines that C(drop_lines) matches.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {type: path, required: true, description: The file.}
      marker: {type: str, required: true, description: The text after BEGIN and END.}
      block: {type: str, required: true, description: The block's lines.}
      drop_lines: {type: str, description: A regular expression; lines outside the block that match it are removed.}
      restart: {type: bool, default: false, description: A change needs the service restarted.}
  start:
    description: Units to enable and start after everything else, restarted when C(restart_mark) exists.
    type: list
    elements: str
  links:
    description: Symlinks, C(dest) pointing at C(src).
    type: list
    elements: dict
    default: []
    suboptions:
      src: {type: str, required: true, description: The link target.}
      dest: {type: path, required: true, description: The link.}
  restart_mark:
    description: File left when something the service reads changed; the start phase restarts and clears it.
    type: path
  db_marker:
    description: Schema mark; C(db_sync_needed) is true when it is missing or a venv changed.
    type: path
  sysctls:
    description: Kernel settings to hold now (names with dots, as in sysctl.d); the file that keeps
      them across boots is one of C(files).
    type: dict
    default: {}
  remove_matching:
    description: Globs; files matching one that are not among C(files) are removed (old marks).
    type: list
    elements: str
    default: []
  check_accounts:
    description:
      - Accounts of the service to log in with after the run, reporting C(accounts_ok) (true when
        every one works), so that the steps that make them can be skipped without round trips of
        their own. The logins go over the network, as the service's own do.
    type: dict
    suboptions:
      database:
        type: dict
        description: MariaDB - C(host), C(port) (3306), C(user), C(password), C(databases) (all privileges on each).
        suboptions:
          host: {type: str, required: true, description: MariaDB's listener.}
          port: {type: int, default: 3306, description: Its port.}
          user: {type: str, required: true, description: The service's user.}
          password: {type: str, required: true, no_log: true, description: Its password.}
          databases: {type: list, elements: str, required: true, description: Its databases.}
      queue:
        type: dict
        description: RabbitMQ - C(hosts) (any one will do), C(port) (5672), C(user), C(password), C(vhost) (/).
        suboptions:
          hosts: {type: list, elements: str, required: true, description: AMQP listeners.}
          port: {type: int, default: 5672, description: AMQP port.}
          user: {type: str, required: true, description: The service's account.}
          password: {type: str, required: true, no_log: true, description: Its password.}
          vhost: {type: str, default: /, description: Its vhost.}
  check_paths:
    description: Paths whose existence to report after the run (in C(paths_present)), so that
      one-time steps can be skipped without a round trip of their own.
    type: list
    elements: path
    default: []
author: tenrec contributors
"""

RETURN = r"""
changed_files:
  description: What changed (names only, never contents) - packages, files, links, venvs, units.
  type: list
  returned: always
venv_changed:
  description: A venv was installed or changed, or its link moved.
  type: bool
  returned: always
started:
  description: Units that C(start) started or restarted.
  type: list
  returned: always
restart_pending:
  description: The restart mark exists after this run.
  type: bool
  returned: always
db_sync_needed:
  description: The schema migrations should run (no mark yet, or the code changed).
  type: bool
  returned: always
accounts_ok:
  description: Every account of C(check_accounts) logs in (false when one does not, or none was given).
  type: bool
  returned: always
paths_present:
  description: Those of C(check_paths) that exist.
  type: list
  returned: always
"""

import base64
import errno
import glob
import grp
import hashlib
import os
import pwd
import re
import tempfile
import urllib.parse
import urllib.request

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.tenrec.cloud.plugins.module_utils.amqp import ACCOUNT_OPTIONS, logs_in
from ansible_collections.tenrec.cloud.plugins.module_utils.debian_packages import install, unpack
from ansible_collections.tenrec.cloud.plugins.module_utils.mariadb_login import (
    DATABASE_ACCOUNT_OPTIONS,
    account_works,
    pymysql,
)
from ansible_collections.tenrec.cloud.plugins.module_utils.units import start

SYNC_CHANGED = re.compile(r"^\s*(Installed|Uninstalled) ", re.MULTILINE)


# What write_bytes names a file while it is written, in the directory of the real one.
TEMPORARY_PREFIX = ".tenrec-tmp-"


class Installer:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.check = module.check_mode
        self.changed: list[str] = []
        self.restart = False
        self.venv_changed = False
        self.reload_units = False

    # -- helpers -------------------------------------------------------------------------
    def run(self, argv: list[str], env: dict | None = None) -> tuple[str, str]:
        rc, out, err = self.module.run_command(argv, environ_update=env or {})
        if rc != 0:
            self.module.fail_json(
                msg=f"{' '.join(argv[:3])} failed (rc {rc}): {err.strip()[-800:]}", changed_files=self.changed
            )
        return out, err

    def fetch(self, url: str) -> bytes:
        try:
            with urllib.request.urlopen(url, timeout=30) as answer:
                return answer.read()
        except OSError as error:
            self.module.fail_json(msg=f"cannot fetch {url}: {error}", changed_files=self.changed)
        return b""

    @staticmethod
    def ids(owner: str, group: str) -> tuple[int, int]:
        return pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid

    def fix_metadata(self, path: str, owner: str, group: str, mode: str, keep_owner: bool = False) -> bool:
        info = os.lstat(path)
        uid, gid = (info.st_uid, info.st_gid) if keep_owner else self.ids(owner, group)
        wanted = int(mode, 8)
        changed = False
        if (info.st_uid, info.st_gid) != (uid, gid):
            changed = True
            if not self.check:
                os.chown(path, uid, gid)
        if (info.st_mode & 0o7777) != wanted:
            changed = True
            if not self.check:
                os.chmod(path, wanted)
        return changed

    # -- steps ---------------------------------------------------------------------------
    def user(self, spec: dict | None) -> None:
        if not spec:
            return
        name = spec["name"]
        try:
            grp.getgrnam(name)
        except KeyError:
            self.changed.append(f"group {name}")
            if not self.check:
                self.run(["groupadd", "--system", name])
        try:
            pwd.getpwnam(name)
        except KeyError:
            self.changed.append(f"user {name}")
            if not self.check:
                self.run(
                    [
                        "useradd",
                        "--system",
                        "--gid",
                        name,
                        "--home-dir",
                        f"/var/lib/{name}",
                        "--no-create-home",
                        "--shell",
                        "/usr/sbin/nologin",
                        name,
                    ]
                )
        member_of = {g.gr_name for g in grp.getgrall() if name in g.gr_mem}
        missing = [g for g in spec["groups"] if g not in member_of]
        if missing:
            self.changed.append(f"groups of {name}: {', '.join(missing)}")
            if not self.check:
                self.run(["usermod", "--append", "--groups", ",".join(missing), name])

    def directories(self, specs: list[dict]) -> None:
        for spec in specs:
            path = spec["path"]
            if not os.path.isdir(path):
                self.changed.append(path)
                if self.check:
                    continue
                os.makedirs(path, exist_ok=True)
            keep = spec["keep_owner"]
            if self.fix_metadata(path, spec["owner"], spec["group"], spec["mode"], keep) and path not in self.changed:
                self.changed.append(path)

    def key_repositories(self, specs: list[dict]) -> None:
        for spec in specs:
            path = spec["path"]
            if os.path.isdir(path) and any(name.isdigit() for name in os.listdir(path)):
                continue
            self.changed.append(f"keys in {path}")
            if self.check:
                continue
            uid, gid = self.ids(spec["owner"], spec["group"])
            for index in ("1", "0"):
                self.write_bytes(os.path.join(path, index), base64.urlsafe_b64encode(os.urandom(32)), uid, gid, 0o600)

    def tools(self, spec: dict | None, env: dict) -> None:
        if not spec:
            return
        venv = spec["venv"]
        lock = self.fetch(spec["lock_url"])
        lock_path = os.path.join(venv, "uv-lock.txt")
        uv = os.path.join(venv, "bin", "uv")
        if os.path.exists(uv) and self.read(lock_path) == lock:
            return
        self.changed.append(uv)
        if self.check:
            return
        if not os.path.exists(os.path.join(venv, "bin", "pip")):
            self.run(["/usr/bin/python3", "-m", "venv", venv])
        self.write_bytes(lock_path, lock, 0, 0, 0o644)
        host = urllib.parse.urlsplit(spec["find_links"]).hostname or ""
        self.run(
            [
                os.path.join(venv, "bin", "pip"),
                "install",
                "--disable-pip-version-check",
                "--no-index",
                f"--find-links={spec['find_links']}",
                f"--trusted-host={host}",
                "--require-hashes",
                f"--requirement={lock_path}",
            ],
            env={"PIP_CONFIG_FILE": "/dev/null", **env},
        )

    def venvs(self, specs: list[dict], uv: str, env: dict) -> None:
        for spec in specs:
            venv = spec["path"]
            if not os.path.exists(os.path.join(venv, "bin", "python")):
                self.changed.append(venv)
                self.venv_changed = True
                if not self.check:
                    self.run([uv, "venv", "--quiet", "--python=/usr/bin/python3", venv], env=env)
            lock = self.fetch(spec["lock_url"])
            lock_path = os.path.join(venv, "tenrec-lock.txt")
            if self.read(lock_path) != lock:
                if venv not in self.changed:
                    self.changed.append(venv)
                if not self.check:
                    self.write_bytes(lock_path, lock, 0, 0, 0o644)
            if not self.check:
                self.sync(venv, lock, uv, spec["find_links"], env)
            if spec.get("link") and self.link(os.path.relpath(venv, os.path.dirname(spec["link"])), spec["link"]):
                self.venv_changed = True

    def sync(self, venv: str, lock: bytes, uv: str, find_links: str, env: dict) -> None:
        """uv pip sync, which also repairs a venv changed by hand (in sync: a fraction of a second),
        with the modules compiled once per lock. A service runs as its own user and cannot write
        __pycache__ into root's venv: uncompiled, every process start compiles every module it
        imports again, which is minutes of CPU when a node boots all its services."""
        mark = os.path.join(venv, "tenrec-compiled.txt")
        digest = hashlib.sha256(lock).hexdigest().encode()
        command = [
            uv,
            "pip",
            "sync",
            f"--python={venv}/bin/python",
            "--no-index",
            f"--find-links={find_links}",
            "--require-hashes",
            os.path.join(venv, "tenrec-lock.txt"),
        ]
        compiled = self.read(mark) == digest
        _, err = self.run(command if compiled else [*command, "--compile-bytecode"], env=env)
        if SYNC_CHANGED.search(err):
            self.venv_changed = True
            if venv not in self.changed:
                self.changed.append(venv)
            if compiled:  # a repair: compile what it put back (nothing is installed this time)
                self.run([*command, "--compile-bytecode"], env=env)
        if not compiled:
            if venv not in self.changed:
                self.changed.append(venv)
            self.write_bytes(mark, digest, 0, 0, 0o644)

    def link(self, src: str, dest: str) -> bool:
        if os.path.islink(dest) and os.readlink(dest) == src:
            return False
        self.changed.append(dest)
        if self.check:
            return True
        if os.path.isdir(dest) and not os.path.islink(dest):
            self.module.fail_json(msg=f"{dest} is a directory, not a link: move it away", changed_files=self.changed)
        temporary = f"{dest}.tenrec-new"
        if os.path.lexists(temporary):
            os.unlink(temporary)
        os.symlink(src, temporary)
        os.replace(temporary, dest)
        return True

    @staticmethod
    def read(path: str) -> bytes | None:
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except OSError:
            return None

    def write_bytes(self, dest: str, data: bytes, uid: int, gid: int, mode: int, validate: str | None = None) -> None:
        directory = os.path.dirname(dest)
        descriptor, temporary = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, dir=directory)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                os.fchown(handle.fileno(), uid, gid)
                os.fchmod(handle.fileno(), mode)
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if validate:
                rc, _, err = self.module.run_command(validate.replace("%s", temporary))
                if rc != 0:
                    self.module.fail_json(
                        msg=f"{dest}: validation failed: {err.strip()[-400:]}", changed_files=self.changed
                    )
            try:
                os.replace(temporary, dest)
            except OSError as error:
                if error.errno != errno.EBUSY:
                    raise
                # A file bind-mounted into a container (/etc/hostname) cannot be replaced:
                # write it in place instead.
                with open(dest, "wb") as handle:
                    handle.write(data)
                os.chown(dest, uid, gid)
                os.chmod(dest, mode)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)

    def remove_debris(self, specs: list[dict]) -> None:
        """Temporary files a killed run left beside the files it was writing (never read by
        anything: the real file is replaced only once its temporary one is complete)."""
        for directory in sorted({os.path.dirname(spec["dest"]) for spec in specs}):
            for debris in glob.glob(os.path.join(glob.escape(directory), TEMPORARY_PREFIX + "*")):
                self.changed.append(f"removed {debris} (left by an interrupted run)")
                if not self.check:
                    os.unlink(debris)

    def files(self, specs: list[dict]) -> None:
        self.remove_debris(specs)
        for spec in specs:
            dest = spec["dest"]
            if spec.get("copy_from"):
                data = self.read(spec["copy_from"])
                if data is None:
                    if self.check:
                        continue
                    self.module.fail_json(
                        msg=f"{spec['copy_from']} (for {dest}) does not exist", changed_files=self.changed
                    )
            elif spec.get("content_b64"):
                data = base64.b64decode(spec["content_b64"])
            else:
                data = (spec.get("content") or "").encode()
            if self.read(dest) != data:
                changed = True
                if not self.check:
                    for unit in spec["stop_first"]:
                        self.run(["systemctl", "stop", unit])
                    if spec["keep_owner"]:
                        info = os.stat(dest) if os.path.exists(dest) else None
                        uid, gid = (info.st_uid, info.st_gid) if info else (0, 0)
                    else:
                        uid, gid = self.ids(spec["owner"], spec["group"])
                    self.write_bytes(dest, data, uid, gid, int(spec["mode"], 8), spec.get("validate"))
            else:
                changed = self.fix_metadata(dest, spec["owner"], spec["group"], spec["mode"], spec["keep_owner"])
            if changed:
                self.changed.append(dest)
                self.restart = self.restart or spec["restart"]
                self.reload_units = self.reload_units or spec["unit"]

    def blocks(self, specs: list[dict]) -> None:
        for spec in specs:
            path = spec["path"]
            old = (self.read(path) or b"").decode()
            begin, end = f"# BEGIN {spec['marker']}", f"# END {spec['marker']}"
            lines = old.splitlines()
            block = [begin, *spec["block"].rstrip("\n").splitlines(), end]
            drop = re.compile(spec["drop_lines"]) if spec.get("drop_lines") else None
            if begin in lines and end in lines[lines.index(begin) :]:
                first = lines.index(begin)
                last = lines.index(end, first)
                before, after = lines[:first], lines[last + 1 :]
            else:
                before, after = lines, []
            if drop:
                before = [line for line in before if not drop.search(line)]
                after = [line for line in after if not drop.search(line)]
            new = "\n".join(before + block + after) + "\n"
            if new == old:
                continue
            self.changed.append(path)
            self.restart = self.restart or spec["restart"]
            if not self.check:
                info = os.stat(path) if os.path.exists(path) else None
                uid, gid, mode = (info.st_uid, info.st_gid, info.st_mode & 0o7777) if info else (0, 0, 0o644)
                self.write_bytes(path, new.encode(), uid, gid, mode)


def accounts_work(accounts: dict | None) -> bool:
    if not accounts or not any(accounts.values()):
        return False
    database, queue = accounts.get("database"), accounts.get("queue")
    if database:
        if pymysql is None:
            return False
        if account_works({"check_host": database["host"], **database}):
            return False
    if queue:
        problems = [logs_in(h, queue["port"], queue["user"], queue["password"], queue["vhost"]) for h in queue["hosts"]]
        if None not in problems:
            return False
    return True


def main() -> None:
    directory = {
        "path": {"type": "path", "required": True},
        "owner": {"type": "str", "default": "root"},
        "group": {"type": "str", "default": "root"},
        "mode": {"type": "str", "default": "0755"},
        "keep_owner": {"type": "bool", "default": False},
    }
    module = AnsibleModule(
        argument_spec={
            "packages": {"type": "list", "elements": "str", "default": []},
            "update_cache_max_age": {"type": "int", "default": 86400},
            "unpacked": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "package": {"type": "str", "required": True},
                    "path": {"type": "str", "required": True},
                    "dest": {"type": "path", "required": True},
                },
            },
            "user": {
                "type": "dict",
                "options": {
                    "name": {"type": "str", "required": True},
                    "groups": {"type": "list", "elements": "str", "default": []},
                },
            },
            "directories": {"type": "list", "elements": "dict", "default": [], "options": directory},
            "key_repositories": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "no_log": False,
                "options": {
                    "path": {"type": "path", "required": True},
                    "owner": {"type": "str", "required": True},
                    "group": {"type": "str", "required": True},
                },
            },
            "tools": {
                "type": "dict",
                "options": {
                    "venv": {"type": "path", "required": True},
                    "lock_url": {"type": "str", "required": True},
                    "find_links": {"type": "str", "required": True},
                },
            },
            "venvs": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "path": {"type": "path", "required": True},
                    "lock_url": {"type": "str", "required": True},
                    "find_links": {"type": "str", "required": True},
                    "link": {"type": "path"},
                },
            },
            "uv_environment": {"type": "dict", "default": {}},
            "files": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "dest": {"type": "path", "required": True},
                    "content": {"type": "str", "no_log": True},
                    "content_b64": {"type": "str"},
                    "copy_from": {"type": "path"},
                    "owner": {"type": "str", "default": "root"},
                    "group": {"type": "str", "default": "root"},
                    "mode": {"type": "str", "default": "0644"},
                    "validate": {"type": "str"},
                    "restart": {"type": "bool", "default": True},
                    "unit": {"type": "bool", "default": False},
                    "keep_owner": {"type": "bool", "default": False},
                    "stop_first": {"type": "list", "elements": "str", "default": []},
                },
                "mutually_exclusive": [["content", "content_b64", "copy_from"]],
            },
            "blocks": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "path": {"type": "path", "required": True},
                    "marker": {"type": "str", "required": True},
                    "block": {"type": "str", "required": True},
                    "drop_lines": {"type": "str"},
                    "restart": {"type": "bool", "default": False},
                },
            },
            "start": {"type": "list", "elements": "str"},
            "links": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {"src": {"type": "str", "required": True}, "dest": {"type": "path", "required": True}},
            },
            "restart_mark": {"type": "path"},
            "db_marker": {"type": "path"},
            "check_paths": {"type": "list", "elements": "path", "default": []},
            "check_accounts": {
                "type": "dict",
                "options": {
                    "database": {"type": "dict", "options": DATABASE_ACCOUNT_OPTIONS},
                    "queue": {"type": "dict", "options": ACCOUNT_OPTIONS},
                },
            },
            "remove_matching": {"type": "list", "elements": "str", "default": []},
            "sysctls": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    params = module.params
    installer = Installer(module)
    env = {str(k): str(v) for k, v in params["uv_environment"].items()}
    installed = install(module, params["packages"], params["update_cache_max_age"])
    installer.changed.extend(f"package {name}" for name in installed)
    for spec in params["unpacked"]:
        if unpack(module, spec["package"], spec["path"], spec["dest"]):
            installer.changed.append(f"{spec['dest']} (from {spec['package']})")
    installer.user(params["user"])
    installer.directories(params["directories"])
    installer.key_repositories(params["key_repositories"])
    installer.tools(params["tools"], env)
    uv = os.path.join(params["tools"]["venv"], "bin", "uv") if params["tools"] else "uv"
    installer.venvs(params["venvs"], uv, env)
    for spec in params["links"]:
        # A link the service loads (a plugin, its settings) takes effect when it restarts.
        if installer.link(spec["src"], spec["dest"]):
            installer.restart = True
    installer.files(params["files"])
    installer.blocks(params["blocks"])
    for name, value in params["sysctls"].items():
        path = "/proc/sys/" + name.replace(".", "/")
        current = (installer.read(path) or b"").decode().strip()
        if current != str(value):
            installer.changed.append(f"{name} = {value}")
            if not module.check_mode:
                with open(path, "w", encoding="ascii") as handle:
                    handle.write(f"{value}\n")
    if params["remove_matching"]:
        keep = {spec["dest"] for spec in params["files"]}
        matching = {path for pattern in params["remove_matching"] for path in glob.glob(pattern)}
        for stale in sorted(matching - keep):
            installer.changed.append(f"removed {stale}")
            if not module.check_mode:
                os.unlink(stale)
    if installer.reload_units and not module.check_mode:
        installer.run(["systemctl", "daemon-reload"])
    mark = params["restart_mark"]
    if mark and (installer.restart or installer.venv_changed) and not module.check_mode:
        os.makedirs(os.path.dirname(mark), exist_ok=True)
        with open(mark, "w", encoding="utf-8") as handle:
            handle.write("config, code or unit changed\n")
    started: list[str] = []
    if params["start"] is not None:
        if mark and installer.restart and module.check_mode:
            started = list(params["start"])
        else:
            units_changed, started, _ = start(module, params["start"], mark)
            if units_changed:
                installer.changed.append(f"started {', '.join(started)}" if started else "enabled units")
    db_marker = params["db_marker"]
    module.exit_json(
        changed=bool(installer.changed),
        started=started,
        changed_files=installer.changed,
        venv_changed=installer.venv_changed,
        restart_pending=bool(mark and os.path.exists(mark)),
        db_sync_needed=bool(db_marker) and (installer.venv_changed or not os.path.exists(db_marker)),
        paths_present=[path for path in params["check_paths"] if os.path.lexists(path)],
        accounts_ok=accounts_work(params["check_accounts"]),
    )


if __name__ == "__main__":
    main()
