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
        C(invocation).
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

import os
import re
import time
import urllib.error
from urllib.parse import urlsplit, urlunsplit

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import ConnectionError as UrlConnectionError
from ansible.module_utils.urls import SSLValidationError
from ansible.module_utils.urls import open_url

# systemd.unit(5): unit names are made of ASCII letters, digits, ":", "-", "_", ".", "\\" and "@".
SERVICE_NAME_RE = re.compile(r"[A-Za-z0-9:_.@\\-]{1,255}\Z")
REDACTED = "********"


class HealthCheckError(Exception):
    """An error whose message names the input; never carries URL credentials."""


def check_service_name(name):
    if not isinstance(name, str) or not SERVICE_NAME_RE.match(name) or name.startswith("-") or not name.strip("."):
        shown = repr(name)[:120]
        raise HealthCheckError(
            f"restart_services entry {shown} is not a service name: use a systemd unit name such as "
            "'backup-agent' or 'backup-agent.service' (letters, digits and :_.@-\\, no '/', not starting with '-')"
        )


def url_credentials(url):
    """The user-info part of url ('user:password'), or None."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return None
    return netloc.rpartition("@")[0] or None


def redact_url(url):
    """url with any user:password@ replaced by ********@."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"//[^/@]*@", "//" + REDACTED + "@", url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, REDACTED + "@" + host, parts.path, parts.query, parts.fragment))


def scrub(text, url):
    """text with url and its credentials replaced by their redacted forms."""
    if not url:
        return text
    text = text.replace(url, redact_url(url))
    secret = url_credentials(url)
    return text.replace(secret, REDACTED) if secret else text


def probe_url(url, status_codes, timeout):
    """(healthy, status, detail) of one GET of url; detail carries no credentials."""
    try:
        response = open_url(url, method="GET", timeout=timeout, follow_redirects="safe")
        status = response.getcode()
        response.close()
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError, UrlConnectionError, SSLValidationError) as exc:
        return False, None, scrub(f"no answer ({exc})", url)
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
            argv = [module.get_bin_path("systemctl", required=True), "restart", "--", service]
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


def check_params(params):
    for name in ("retries", "delay", "timeout"):
        if params[name] < 0 or (name == "timeout" and params[name] == 0):
            raise HealthCheckError(
                f"{name} must be {'positive' if name == 'timeout' else 'zero or more'} (got {params[name]}).")
    for service in params["restart_services"]:
        check_service_name(service)
    if params["url"] and urlsplit(params["url"]).scheme not in ("http", "https"):
        raise HealthCheckError(f"url {redact_url(params['url'])} must be an http:// or https:// URL")


def run_check(module, params):
    planned = list(params["restart_services"]) + ([params["restart_command"]] if params["restart_command"] else [])
    if module.check_mode:
        module.exit_json(changed=bool(planned), restarted=planned, attempts=0)

    restarted = restart(module, params["restart_services"], params["restart_command"])
    if not (params["url"] or params["command"]):
        module.exit_json(changed=bool(restarted), restarted=restarted, attempts=0)

    what = f"HTTP health check {redact_url(params['url'])}" if params["url"] else f"Command health check `{params['command']}`"
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
    credentials = url_credentials(params["url"]) if params["url"] else None
    if credentials:
        # Masked by AnsibleModule in everything it returns, the invocation included.
        module.no_log_values.add(credentials)
        password = credentials.partition(":")[2]
        if len(password) >= 3:
            module.no_log_values.add(password)
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
