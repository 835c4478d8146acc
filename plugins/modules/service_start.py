#!/usr/bin/python
# Copyright: tenrec contributors
# Apache-2.0
"""Start (or restart, when marked) a service's systemd units and wait for its APIs, in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: service_start
short_description: Enable and start a service's units, restart them when marked, wait for the APIs
description:
  - Enables every unit and starts the ones that are not running.
  - When the restart mark exists (left by M(tenrec.cloud.service_install) after a change), restarts
    every unit, then removes the mark; a run that fails before this still finds the mark next time.
  - Waits until every URL answers with an HTTP status below 500 (any answer means the application
    loaded, as uWSGI runs with need-app), failing with the last error after C(timeout) seconds.
options:
  units:
    description: systemd unit names, in start order (none, to only wait for URLs).
    type: list
    elements: str
    required: true
  restart_mark:
    description: The mark that asks for a restart.
    type: path
  wait_urls:
    description: URLs that must answer before the call returns.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to wait for the URLs.
    type: int
    default: 90
author: tenrec contributors
"""

RETURN = r"""
started:
  description: Units that were started or restarted.
  type: list
  returned: always
"""

import os
import time
import urllib.error
import urllib.request

from ansible.module_utils.basic import AnsibleModule


def systemctl(module: AnsibleModule, *args: str) -> tuple[int, str]:
    rc, out, err = module.run_command(["systemctl", *args])
    return rc, (out + err).strip()


def answers(url: str) -> str | None:
    """None when the URL gives an HTTP answer below 500, else why not."""
    try:
        with urllib.request.urlopen(url, timeout=5):
            return None
    except urllib.error.HTTPError as error:
        return None if error.code < 500 else f"HTTP {error.code}"
    except OSError as error:
        return str(getattr(error, "reason", error))


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "units": {"type": "list", "elements": "str", "required": True},
            "restart_mark": {"type": "path"},
            "wait_urls": {"type": "list", "elements": "str", "default": []},
            "timeout": {"type": "int", "default": 90},
        },
        supports_check_mode=True,
    )
    units = module.params["units"]
    mark = module.params["restart_mark"]
    marked = bool(mark) and os.path.exists(mark)
    changed = False
    started: list[str] = []

    disabled = [] if not units else [u for u in units if systemctl(module, "is-enabled", "--quiet", u)[0] != 0]
    if disabled:
        changed = True
        if not module.check_mode:
            rc, out = systemctl(module, "enable", "--quiet", *disabled)
            if rc != 0:
                module.fail_json(msg=f"systemctl enable {' '.join(disabled)}: {out}")
    started = list(units) if marked else [u for u in units if systemctl(module, "is-active", "--quiet", u)[0] != 0]
    if started:
        changed = True
        if not module.check_mode:
            rc, out = systemctl(module, "restart" if marked else "start", *started)
            if rc != 0:
                _, status = systemctl(module, "status", "--no-pager", "--lines=15", *started)
                module.fail_json(
                    msg=f"systemctl {'restart' if marked else 'start'} {' '.join(started)}: {out}", status=status
                )
    if marked and not module.check_mode:
        os.unlink(mark)

    if not module.check_mode:
        deadline = time.monotonic() + module.params["timeout"]
        for url in module.params["wait_urls"]:
            while (problem := answers(url)) is not None:
                if time.monotonic() > deadline:
                    _, status = systemctl(module, "status", "--no-pager", "--lines=15", *units)
                    module.fail_json(
                        msg=f"{url} did not answer within {module.params['timeout']} s: {problem}",
                        status=status,
                        started=started,
                    )
                time.sleep(0.5)
    module.exit_json(changed=changed, started=started, restarted=marked)


if __name__ == "__main__":
    main()
