"""What an upgrade costs the cloud's users, measured while it runs: every API of the catalog
polled once a second with a token, a guest's floating IP pinged once a second, and one SSH
session to that guest that prints a line every second (a TCP connection held throughout).

Used by bench/upgrade-probe and the upgrade test. An API counts as unavailable for a poll
when it does not answer within the poll's timeout or answers 5xx; any other answer (401 and
404 too) means its server runs.
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko
import requests
from rich.table import Table

TIMEOUT = 2.0


@dataclass
class Series:
    """One probe's polls: how many, how many failed, and the longest run of failures."""

    polls: int = 0
    failed: int = 0
    longest: int = 0
    current: int = 0
    # (poll number where an outage began, its length in polls): when, to match with the log.
    outages: list[list[int]] = field(default_factory=list)

    def record(self, ok: bool) -> None:
        self.polls += 1
        if ok:
            self.current = 0
            return
        self.failed += 1
        if self.current == 0:
            self.outages.append([self.polls - 1, 0])
        self.current += 1
        self.outages[-1][1] = self.current
        self.longest = max(self.longest, self.current)


@dataclass
class HeldConnection:
    """The SSH session to the guest: how often it broke and the longest silence in it."""

    lines: int = 0
    breaks: int = 0
    longest_gap: float = 0.0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SshGuest:
    address: str
    user: str
    key: Path


def catalog_urls(conn: Any) -> dict[str, str]:
    """service name -> its public URL (one per URL: alias types of one API are polled once)."""
    access = conn.session.auth.get_access(conn.session)
    found: dict[str, str] = {}
    for service in access.service_catalog.catalog:
        for endpoint in service.get("endpoints", []):
            if endpoint.get("interface") == "public" and endpoint["url"] not in found.values():
                found[service.get("name") or service["type"]] = endpoint["url"]
    return dict(sorted(found.items()))


class DowntimeProbe:
    def __init__(self, conn: Any, ping: str | None = None, ssh: SshGuest | None = None, interval: float = 1.0) -> None:
        self.interval = interval
        self.token = conn.auth_token
        self.urls = catalog_urls(conn)
        self.apis = {name: Series() for name in self.urls}
        self.ping_address = ping
        self.ping = Series()
        self.ssh = ssh
        self.held = HeldConnection()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.started = 0.0
        self.ended = 0.0

    # -- the pollers ------------------------------------------------------------------------

    def _every_interval(self, poll: Any) -> None:
        next_at = time.monotonic()
        while not self.stopping.is_set():
            poll()
            next_at += self.interval
            self.stopping.wait(max(0.0, next_at - time.monotonic()))

    def _api(self, name: str) -> None:
        session = requests.Session()
        url, series = self.urls[name], self.apis[name]

        def poll() -> None:
            try:
                answer = session.get(url, headers={"X-Auth-Token": self.token}, timeout=TIMEOUT)
                series.record(answer.status_code < 500)
            except requests.RequestException:
                series.record(False)

        self._every_interval(poll)

    def _ping(self) -> None:
        assert self.ping_address is not None
        argv = ["ping", "-n", "-q", "-c", "1", "-W", "1", self.ping_address]

        def poll() -> None:
            done = subprocess.run(argv, capture_output=True, check=False, stdin=subprocess.DEVNULL)
            self.ping.record(done.returncode == 0)

        self._every_interval(poll)

    def _held(self) -> None:
        assert self.ssh is not None
        while not self.stopping.is_set():
            client = paramiko.SSHClient()
            # A test guest of our own: its host key is made at its boot.
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
            last = time.monotonic()
            try:
                client.connect(
                    self.ssh.address,
                    username=self.ssh.user,
                    key_filename=str(self.ssh.key),
                    timeout=5,
                    allow_agent=False,
                    look_for_keys=False,
                )
                _, out, _ = client.exec_command("while :; do date +%s; sleep 1; done")
                out.channel.settimeout(1.0)
                while not self.stopping.is_set():
                    try:
                        line = out.readline()
                    except TimeoutError:
                        line = None
                    now = time.monotonic()
                    if line == "":
                        raise ConnectionError("the session ended")
                    if line:
                        self.held.lines += 1
                        self.held.longest_gap = max(self.held.longest_gap, now - last)
                        last = now
                    elif now - last > 30:
                        raise ConnectionError("no line for 30 s")
            except (OSError, paramiko.SSHException, ConnectionError) as error:
                if not self.stopping.is_set():
                    self.held.breaks += 1
                    self.held.errors.append(f"{time.monotonic() - self.started:.0f}s: {error}")
                    self.held.longest_gap = max(self.held.longest_gap, time.monotonic() - last)
                    self.stopping.wait(self.interval)
            finally:
                client.close()

    # -- control ----------------------------------------------------------------------------

    def start(self) -> None:
        self.started = time.monotonic()
        targets = [(self._api, (name,)) for name in self.urls]
        if self.ping_address:
            targets.append((self._ping, ()))
        if self.ssh:
            targets.append((self._held, ()))
        for target, args in targets:
            thread = threading.Thread(target=target, args=args, daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> dict[str, Any]:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=10)
        self.ended = time.monotonic()
        return self.results()

    def results(self) -> dict[str, Any]:
        return {
            "seconds": round((self.ended or time.monotonic()) - self.started, 1),
            "interval": self.interval,
            "apis": {
                name: {
                    "url": self.urls[name],
                    "polls": s.polls,
                    "unavailable_s": round(s.failed * self.interval, 1),
                    "longest_s": round(s.longest * self.interval, 1),
                    "outages": [[round(at * self.interval), round(n * self.interval)] for at, n in s.outages],
                }
                for name, s in self.apis.items()
            },
            "ping": {
                "address": self.ping_address,
                "sent": self.ping.polls,
                "lost": self.ping.failed,
                "outages": [[round(at * self.interval), round(n * self.interval)] for at, n in self.ping.outages],
            }
            if self.ping_address
            else None,
            "ssh": {
                "address": self.ssh.address,
                "lines": self.held.lines,
                "breaks": self.held.breaks,
                "longest_gap_s": round(self.held.longest_gap, 1),
                "errors": self.held.errors[:10],
            }
            if self.ssh
            else None,
        }


def results_table(results: dict[str, Any]) -> Table:
    table = Table(title=f"Unavailable during {results['seconds']:.0f}s, polled every {results['interval']:.0f}s")
    for column in ("what", "polls", "unavailable", "longest outage"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for name, api in results["apis"].items():
        table.add_row(f"{name} API", str(api["polls"]), f"{api['unavailable_s']:.0f}s", f"{api['longest_s']:.0f}s")
    if results["ping"]:
        ping = results["ping"]
        table.add_row(f"ping {ping['address']}", str(ping["sent"]), f"{ping['lost']} lost", "")
    if results["ssh"]:
        ssh = results["ssh"]
        table.add_row(
            f"SSH session to {ssh['address']}",
            f"{ssh['lines']} lines",
            f"{ssh['breaks']} break(s)",
            f"{ssh['longest_gap_s']:.0f}s silent",
        )
    return table
