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
      - Credentials in the URL (V(https://user:password@host/health)) are sent as HTTP basic authentication and
        redacted (V(https://********@host/health)) in every result and message, including the module's
        C(invocation). So are the values of query and fragment parameters named like credentials (token, secret,
        password, key, signature, auth, session, for example V(https://host/health?access_token=********)).
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
      - Each entry must be a service (unit) name in systemd's unit name syntax, for example V(backup-agent),
        V(backup-agent.service) or V(worker@2.service), made of letters, digits and C(:_.@-\), at most 255 characters, not
        starting with C(-) and without C(/). Anything else, for example a path that C(service) would run as root on
        a host without systemd, is refused before anything is restarted.
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
  - Any error ends in a clear failure message naming the input, never in a traceback.
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.rotor.iam.plugins.module_utils.health import HealthCheckError
from ansible_collections.rotor.iam.plugins.module_utils.health import StepFailed
from ansible_collections.rotor.iam.plugins.module_utils.health import check_params
from ansible_collections.rotor.iam.plugins.module_utils.health import planned_restarts
from ansible_collections.rotor.iam.plugins.module_utils.health import restart
from ansible_collections.rotor.iam.plugins.module_utils.health import run_health_check
from ansible_collections.rotor.iam.plugins.module_utils.health import scrub
from ansible_collections.rotor.iam.plugins.module_utils.health import url_secrets
from ansible_collections.rotor.iam.plugins.module_utils._specs import HEALTH_CHECK_MUTUALLY_EXCLUSIVE
from ansible_collections.rotor.iam.plugins.module_utils._specs import health_check_spec
from ansible_collections.rotor.iam.plugins.module_utils._specs import restart_spec


def run_check(module, params):
    planned = planned_restarts(params["restart_services"], params["restart_command"])
    if module.check_mode:
        module.exit_json(changed=bool(planned), restarted=planned, attempts=0)

    try:
        restarted = restart(module, params["restart_services"], params["restart_command"])
    except StepFailed as exc:
        module.fail_json(msg=str(exc), changed=exc.changed, restarted=exc.restarted, attempts=0)
    if not (params["url"] or params["command"]):
        module.exit_json(changed=bool(restarted), restarted=restarted, attempts=0)

    try:
        attempts, status = run_health_check(module, params["url"], params["command"], params["status_code"],
                                            params["timeout"], params["retries"], params["delay"])
    except StepFailed as exc:
        module.fail_json(msg=str(exc), changed=bool(restarted), restarted=restarted, attempts=exc.attempts,
                         status=exc.status)
    module.exit_json(changed=bool(restarted), restarted=restarted, attempts=attempts, status=status)


def argument_spec():
    """The health check and what is restarted before it: the specs rotor.iam's modules and role share."""
    return dict(health_check_spec(), **restart_spec())


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[list(group) for group in HEALTH_CHECK_MUTUALLY_EXCLUSIVE],
        supports_check_mode=True,
    )
    params = module.params
    # Masked by AnsibleModule in everything it returns, the invocation included.
    module.no_log_values.update(url_secrets(params["url"]))
    error = None
    try:
        check_params(params)
        run_check(module, params)
    except HealthCheckError as exc:
        error = str(exc)
    except Exception as exc:  # pylint: disable=broad-except
        error = scrub(f"health check failed unexpectedly: {exc.__class__.__name__}: {exc}", params["url"])
    # Outside the except block: the message says it all, no traceback is attached.
    module.fail_json(msg=error, changed=False, restarted=[], attempts=0)


if __name__ == "__main__":
    main()
