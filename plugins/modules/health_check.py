#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: health_check
version_added: 0.2.0
short_description: Restart what uses an access key, then prove the host works, in one module run
description:
  - Restarts the given services and/or runs a restart command, then checks the host's health with an HTTP
    request made from the host or with a command, retrying until it passes or the attempts run out.
  - It is one module run on the host instead of a restart task plus a C(uri) or C(command) task with C(until).
    The M(ansible.builtin.uri) action alone costs three connection round trips per host, which dominates a
    rotation over a large fleet.
  - Runs on the managed host with the Python standard library only.
author:
  - rotor.iam maintainers (@rotor-iam)
options:
  url:
    description:
      - URL requested (GET) from the host. The check passes when the status is one of O(status_code).
      - Mutually exclusive with O(command). With neither, the module only restarts.
    type: str
  status_code:
    description: Status codes that mean healthy.
    type: list
    elements: int
    default: [200]
  command:
    description:
      - Shell command run on the host; exit code 0 means healthy.
      - Mutually exclusive with O(url).
    type: str
  timeout:
    description: Seconds one HTTP request may take.
    type: float
    default: 10
  retries:
    description: Attempts after the first one before the check fails.
    type: int
    default: 5
  delay:
    description: Seconds between attempts.
    type: float
    default: 2
  restart_services:
    description:
      - Services restarted, in order, before the check (C(systemctl restart) on systemd hosts, else C(service NAME restart)).
    type: list
    elements: str
    default: []
  restart_command:
    description: Shell command run after the services restart and before the check.
    type: str
attributes:
  check_mode:
    support: partial
    description: Can run in check_mode and return changed status prediction without modifying target.
    details: In check mode nothing is restarted and no check is run; the result says what would be restarted.
  diff_mode:
    support: none
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  platform:
    support: full
    platforms: posix
    description: Target OS/families that can be operated against.
notes:
  - The failure message names the check (V(HTTP health check URL) or V(Command health check COMMAND)), the number
    of attempts and the last answer, so a failed rotation can say which host failed which check.
"""

EXAMPLES = r"""
- name: Restart the backup agent and wait until its health endpoint answers 200
  rotor.iam.health_check:
    restart_services: [backup-agent]
    url: http://127.0.0.1:8080/health
    retries: 10
    delay: 3

- name: Prove the application can still call AWS
  rotor.iam.health_check:
    command: /usr/local/bin/app-selftest --aws
"""

RETURN = r"""
restarted:
  description: What was restarted (service names and the restart command), in order; in check mode, what would be.
  returned: always
  type: list
  elements: str
attempts:
  description: How many attempts the check took; 0 when no check is configured or in check mode.
  returned: always
  type: int
  sample: 2
status:
  description: HTTP status of the last attempt (O(url)), or the exit code of the last attempt (O(command)).
  returned: when a check ran
  type: int
  sample: 200
"""

import os
import time
import urllib.error

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import ConnectionError as UrlConnectionError
from ansible.module_utils.urls import SSLValidationError
from ansible.module_utils.urls import open_url


def probe_url(url, status_codes, timeout):
    """(healthy, status, detail) of one GET of url."""
    try:
        response = open_url(url, method="GET", timeout=timeout, follow_redirects="safe")
        status = response.getcode()
        response.close()
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError, UrlConnectionError, SSLValidationError) as exc:
        return False, None, f"no answer ({exc})"
    return status in status_codes, status, f"HTTP {status}"


def probe_command(module, command):
    rc, out, err = module.run_command(command, use_unsafe_shell=True)
    detail = (err or out or "").strip().splitlines()[-1:] or [""]
    return rc == 0, rc, f"exit code {rc}{(': ' + detail[0][:300]) if detail[0] else ''}"


def restart(module, services, command):
    done = []
    systemd = os.path.isdir("/run/systemd/system")
    for service in services:
        if systemd:
            argv = [module.get_bin_path("systemctl", required=True), "restart", service]
        else:
            argv = [module.get_bin_path("service", required=True), service, "restart"]
        rc, out, err = module.run_command(argv)
        if rc != 0:
            module.fail_json(msg=f"restarting service {service} failed (exit code {rc}): {(err or out).strip()[-500:]}",
                             changed=bool(done), restarted=done, attempts=0)
        done.append(service)
    if command:
        rc, out, err = module.run_command(command, use_unsafe_shell=True)
        if rc != 0:
            module.fail_json(msg=f"restart command failed (exit code {rc}): {(err or out).strip()[-500:]}",
                             changed=True, restarted=done + [command], attempts=0)
        done.append(command)
    return done


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str"),
            status_code=dict(type="list", elements="int", default=[200]),
            command=dict(type="str"),
            timeout=dict(type="float", default=10),
            retries=dict(type="int", default=5),
            delay=dict(type="float", default=2),
            restart_services=dict(type="list", elements="str", default=[]),
            restart_command=dict(type="str"),
        ),
        mutually_exclusive=[("url", "command")],
        supports_check_mode=True,
    )
    params = module.params
    for name in ("retries", "delay", "timeout"):
        if params[name] < 0 or (name == "timeout" and params[name] == 0):
            module.fail_json(msg=f"{name} must be {'positive' if name == 'timeout' else 'zero or more'} (got {params[name]}).")
    planned = list(params["restart_services"]) + ([params["restart_command"]] if params["restart_command"] else [])
    if module.check_mode:
        module.exit_json(changed=bool(planned), restarted=planned, attempts=0)

    restarted = restart(module, params["restart_services"], params["restart_command"])
    if not (params["url"] or params["command"]):
        module.exit_json(changed=bool(restarted), restarted=restarted, attempts=0)

    what = f"HTTP health check {params['url']}" if params["url"] else f"Command health check `{params['command']}`"
    attempts = 0
    while True:
        attempts += 1
        if params["url"]:
            healthy, status, detail = probe_url(params["url"], params["status_code"], params["timeout"])
        else:
            healthy, status, detail = probe_command(module, params["command"])
        if healthy:
            module.exit_json(changed=bool(restarted), restarted=restarted, attempts=attempts, status=status)
        if attempts > params["retries"]:
            module.fail_json(msg=f"{what} failed after {attempts} attempt(s): {detail}", changed=bool(restarted),
                             restarted=restarted, attempts=attempts, status=status)
        time.sleep(params["delay"])


if __name__ == "__main__":
    main()
