# Copyright: tenrec contributors
# Apache-2.0
"""Enable and start systemd units, restarting them when a restart mark asks for it."""

from __future__ import annotations

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.tenrec.cloud.plugins.module_utils.amqp import logs_in


def systemctl(module: AnsibleModule, *args: str) -> tuple[int, str]:
    rc, out, err = module.run_command(["systemctl", *args])
    return rc, (out + err).strip()


def wait_for_queue_account(module: AnsibleModule, account: dict, timeout: int) -> None:
    deadline = time.monotonic() + timeout
    while True:
        problems = [
            logs_in(host, account["port"], account["user"], account["password"], account["vhost"])
            for host in account["hosts"]
        ]
        if None in problems:
            return
        if time.monotonic() > deadline:
            module.fail_json(msg=f"RabbitMQ account {account['user']} did not work within {timeout} s: {problems[0]}")
        time.sleep(1)


def start(
    module: AnsibleModule,
    units: list[str],
    restart_mark: str | None,
    queue_account: dict | None = None,
    timeout: int = 90,
) -> tuple[bool, list[str], bool]:
    """Enables every unit, starts those not running (all of them, restarted, when the mark
    exists; then the mark goes). Returns (changed, the units started, whether it restarted)."""
    marked = bool(restart_mark) and os.path.exists(restart_mark)
    changed = False
    disabled = [u for u in units if systemctl(module, "is-enabled", "--quiet", u)[0] != 0]
    if disabled:
        changed = True
        if not module.check_mode:
            rc, out = systemctl(module, "enable", "--quiet", *disabled)
            if rc != 0:
                module.fail_json(msg=f"systemctl enable {' '.join(disabled)}: {out}")
    started = list(units) if marked else [u for u in units if systemctl(module, "is-active", "--quiet", u)[0] != 0]
    if started and queue_account and not module.check_mode:
        wait_for_queue_account(module, queue_account, timeout)
    if started:
        changed = True
        if not module.check_mode:
            verb = "restart" if marked else "start"
            rc, out = systemctl(module, verb, *started)
            if rc != 0:
                _, status = systemctl(module, "status", "--no-pager", "--lines=15", *started)
                module.fail_json(msg=f"systemctl {verb} {' '.join(started)}: {out}", status=status)
    if marked and not module.check_mode:
        os.unlink(restart_mark)
    return changed, started, marked


def unit_states(module: AnsibleModule, units: list[str]) -> dict[str, dict[str, str]]:
    """ActiveState and NRestarts (automatic restarts) of each unit, from one systemctl call."""
    if not units:
        return {}
    _, shown = systemctl(module, "show", "--property=ActiveState,NRestarts", *units)
    blocks = [block for block in shown.split("\n\n") if block.strip()]
    return {
        unit: dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        for unit, block in zip(units, blocks, strict=False)
    }


def restarts(state: dict[str, str]) -> int:
    return int(state.get("NRestarts") or 0)


def crash_looping(module: AnsibleModule, before: dict[str, dict[str, str]], times: int = 3) -> str | None:
    """The first unit that systemd restarted `times` times since `before` (unit_states), or that
    failed for good, with its last log lines; None when none did."""
    for unit, state in unit_states(module, list(before)).items():
        again = restarts(state) - restarts(before[unit])
        if state.get("ActiveState") == "failed" or again >= times:
            _, journal, _ = module.run_command(["journalctl", "--no-pager", "--quiet", "--lines=4", "--unit", unit])
            last_words = " / ".join(line.strip() for line in journal.strip().splitlines())
            how = "failed" if state.get("ActiveState") == "failed" else f"restarted by systemd {again} times"
            return f"{unit} keeps failing ({how}); its last log lines: {last_words}"
    return None
