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
    loaded, as uWSGI runs with need-app), failing with the last error after C(timeout) seconds;
    a unit that systemd restarted three times meanwhile, or that failed, fails the wait at once
    with its last log lines.
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
    description: Seconds to wait for the URLs (and for the queue account).
    type: int
    default: 90
  queue_account:
    description:
      - Before starting or restarting anything, wait until this RabbitMQ account logs in over
        AMQP and opens its vhost. An agent that starts on another node before its account
        exists on the controller dies inside a process that systemd still sees running.
    type: dict
    suboptions:
      hosts: {type: list, elements: str, required: true, description: AMQP listeners; any one that accepts will do.}
      port: {type: int, default: 5672, description: AMQP port.}
      user: {type: str, required: true, description: The account.}
      password: {type: str, required: true, no_log: true, description: Its password.}
      vhost: {type: str, default: /, description: Its vhost.}
author: tenrec contributors
"""

RETURN = r"""
started:
  description: Units that were started or restarted.
  type: list
  returned: always
"""

import time
import urllib.error
import urllib.request

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.tenrec.cloud.plugins.module_utils.amqp import ACCOUNT_OPTIONS
from ansible_collections.tenrec.cloud.plugins.module_utils.units import crash_looping, start, systemctl, unit_states


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
            "queue_account": {
                "type": "dict",
                "options": ACCOUNT_OPTIONS,
            },
        },
        supports_check_mode=True,
    )
    units = module.params["units"]
    changed, started, marked = start(
        module, units, module.params["restart_mark"], module.params["queue_account"], module.params["timeout"]
    )

    if not module.check_mode:
        deadline = time.monotonic() + module.params["timeout"]
        before = unit_states(module, units) if module.params["wait_urls"] else {}
        looked = time.monotonic()
        for url in module.params["wait_urls"]:
            while (problem := answers(url)) is not None:
                # A unit that cannot start (a missing library, a config it refuses) fails the
                # wait soon, with its own words, instead of at the timeout (looked at every 3 s).
                if time.monotonic() - looked >= 3:
                    looked = time.monotonic()
                    failing = crash_looping(module, before)
                    if failing:
                        module.fail_json(msg=f"{url} will not answer: {failing}", started=started)
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
