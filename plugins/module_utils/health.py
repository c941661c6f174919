# -*- coding: utf-8 -*-

# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Restart what uses an access key and prove the host is healthy: the host side of rotor.iam.health_check
and rotor.iam.host_credentials.

Plain functions over a ``module`` that only needs ``run_command`` and ``get_bin_path`` (an AnsibleModule, or a
stand-in in tests). Errors are raised, never sent with fail_json; no message carries URL credentials.
"""

from __future__ import annotations

import os
import re
import socket
import time
import urllib.error
from urllib.parse import urlsplit, urlunsplit


# systemd.unit(5): unit names are made of ASCII letters, digits, ":", "-", "_", ".", "\\" and "@".
SERVICE_NAME_RE = re.compile(r"[A-Za-z0-9:_.@\\-]{1,255}\Z")
REDACTED = "********"


class HealthCheckError(Exception):
    """An error whose message names the input; never carries URL credentials."""


class StepFailed(HealthCheckError):
    """A restart or a check that ran and failed.

    ``step`` is ``restart`` or ``health_check``; ``check`` describes what failed (URL credentials redacted);
    ``restarted`` is what had been restarted, ``changed`` whether anything was; ``attempts`` and ``status``
    describe the check's last attempt.
    """

    def __init__(self, msg, step, check, restarted=None, changed=False, attempts=0, status=None):
        super().__init__(msg)
        self.step = step
        self.check = check
        self.restarted = list(restarted or [])
        self.changed = changed
        self.attempts = attempts
        self.status = status


# --------------------------------------------------------------------------- inputs


def check_service_name(name):
    if not isinstance(name, str) or not SERVICE_NAME_RE.match(name) or name.startswith("-") or not name.strip("."):
        shown = repr(name)[:120]
        raise HealthCheckError(
            f"restart_services entry {shown} is not a service name: use a systemd unit name such as "
            "'backup-agent' or 'backup-agent.service' (letters, digits and :_.@-\\, no '/', not starting with '-')"
        )


def check_params(params):
    """Validate the options of a health check: retries, delay, timeout, restart_services, url."""
    for name in ("retries", "delay", "timeout"):
        if params[name] < 0 or (name == "timeout" and params[name] == 0):
            raise HealthCheckError(
                f"{name} must be {'positive' if name == 'timeout' else 'zero or more'} (got {params[name]}).")
    for service in params["restart_services"]:
        check_service_name(service)
    if params["url"] and urlsplit(params["url"]).scheme not in ("http", "https"):
        raise HealthCheckError(f"url {redact_url(params['url'])} must be an http:// or https:// URL")


# --------------------------------------------------------------------------- URL credentials


# A query (or fragment) parameter whose name says it carries a credential: its value is never shown.
_SECRET_PARAMETER_RE = re.compile(r"token|secret|passw|pwd|key|sig|auth|credential|session|cookie", re.IGNORECASE)


def url_credentials(url):
    """The user-info part of url ('user:password'), or None."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return None
    return netloc.rpartition("@")[0] or None


def _secret_parameters(text):
    """The values in a query or fragment ``a=1&token=...`` whose names look like credentials."""
    values = []
    for part in re.split(r"[&;]", text or ""):
        name, equals, value = part.partition("=")
        if equals and value and _SECRET_PARAMETER_RE.search(name):
            values.append(value)
    return values


def _redact_parameters(text):
    def one(part):
        name, equals, value = part.partition("=")
        return name + "=" + REDACTED if equals and value and _SECRET_PARAMETER_RE.search(name) else part
    return "".join(one(part) if index % 2 == 0 else part
                   for index, part in enumerate(re.split(r"([&;])", text)))


def url_secrets(url):
    """The values of url a module must mask (AnsibleModule.no_log_values) in everything it returns.

    The user-info (user:password) and the password alone, and the values of query and fragment parameters
    named like credentials (token, secret, password, key, signature, ...).
    """
    if not isinstance(url, str) or not url:
        return []
    secrets = []
    credentials = url_credentials(url)
    if credentials:
        secrets.append(credentials)
        password = credentials.partition(":")[2]
        if len(password) >= 3:
            secrets.append(password)
    try:
        parts = urlsplit(url)
        query, fragment = parts.query, parts.fragment
    except ValueError:
        query, fragment = url.partition("?")[2], ""
    secrets += [value for value in _secret_parameters(query) + _secret_parameters(fragment) if len(value) >= 3]
    return secrets


def redact_url(url):
    """url with any user:password@ replaced by ********@ and credential-named parameters' values by ********."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        redacted = re.sub(r"//[^/@]*@", "//" + REDACTED + "@", url)
        head, mark, query = redacted.partition("?")
        return head + mark + _redact_parameters(query)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = REDACTED + "@" + netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, _redact_parameters(parts.query),
                       _redact_parameters(parts.fragment)))


def scrub(text, url):
    """text with url and its credentials replaced by their redacted forms."""
    if not url:
        return text
    text = text.replace(url, redact_url(url))
    for secret in sorted(url_secrets(url), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def check_description(url, command):
    """What the check is, for messages: 'HTTP health check URL' (redacted) or 'Command health check `COMMAND`'."""
    return f"HTTP health check {redact_url(url)}" if url else f"Command health check `{command}`"


# --------------------------------------------------------------------------- probes


def probe_url(url, status_codes, timeout):
    """(healthy, status, detail) of one GET of url; detail carries no credentials."""
    parts = urlsplit(url)
    if plain_http(parts):
        try:
            status = _http_status(parts, timeout)
        except (OSError, ValueError) as exc:
            return False, None, scrub(f"no answer ({exc})", url)
        if status not in _REDIRECTS:
            return status in status_codes, status, f"HTTP {status}"
        # A redirect: followed by open_url as any other URL is.
    return _probe_with_open_url(url, status_codes, timeout)


# What open_url's follow_redirects="safe" follows for a GET.
_REDIRECTS = (301, 302, 303, 307, 308)
_STATUS_LINE_RE = re.compile(rb"HTTP/[0-9](?:\.[0-9])? ([0-9]{3})(?:[ \r\n]|\Z)")
_UNSAFE_TARGET_RE = re.compile(r"[\x00-\x20\x7f]")
_MAX_STATUS_LINE = 8192


def plain_http(parts):
    """Whether a GET of this URL can go straight to the server: http, no credentials, no proxy configured.

    ansible.module_utils.urls (ssl, email, http.client, cookies, proxy and authentication handlers) costs
    45-60 ms of CPU here, a quarter of a host run, as much as all of rotor.iam's own code; a check of
    http://127.0.0.1:8080/health needs only its status line. Any other URL goes through open_url.
    """
    if parts.scheme != "http" or "@" in parts.netloc or not parts.hostname or not parts.netloc.isascii():
        return False
    target = parts.path + parts.query
    if not target.isascii() or _UNSAFE_TARGET_RE.search(target):
        return False
    return not any(value for name, value in os.environ.items() if name.lower() in ("http_proxy", "all_proxy"))


def _http_status(parts, timeout):
    """The status code of one HTTP/1.1 GET of an http URL (split), read from the status line; no redirect followed."""
    port = parts.port or 80
    host = "[%s]" % parts.hostname if ":" in parts.hostname else parts.hostname
    target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    request = ("GET %s HTTP/1.1\r\nHost: %s%s\r\nUser-Agent: ansible-httpget\r\nAccept: */*\r\n"
               "Connection: close\r\n\r\n" % (target, host, "" if parts.port is None else ":%d" % port))
    with socket.create_connection((parts.hostname, port), timeout=timeout) as connection:
        connection.sendall(request.encode("ascii", "strict"))
        received = b""
        while b"\n" not in received and len(received) < _MAX_STATUS_LINE:
            chunk = connection.recv(_MAX_STATUS_LINE)
            if not chunk:
                break
            received += chunk
    match = _STATUS_LINE_RE.match(received)
    if not match:
        raise ValueError("not an HTTP response: %r" % received.split(b"\n", 1)[0][:80] if received
                         else "the server closed the connection without a response")
    return int(match.group(1))


def _probe_with_open_url(url, status_codes, timeout):
    # Imported here: ansible.module_utils.urls costs most of a host run's start-up (ssl, email, cryptography),
    # and only URL checks that need it (https, credentials, a proxy, a redirect) load it.
    from ansible.module_utils.urls import ConnectionError as UrlConnectionError  # pylint: disable=import-outside-toplevel
    from ansible.module_utils.urls import SSLValidationError  # pylint: disable=import-outside-toplevel
    from ansible.module_utils.urls import open_url  # pylint: disable=import-outside-toplevel

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
    """(healthy, exit code, detail) of one run of command."""
    rc, out, err = module.run_command(command, use_unsafe_shell=True)
    detail = (err or out or "").strip().splitlines()[-1:] or [""]
    return rc == 0, rc, f"exit code {rc}{(': ' + detail[0][:300]) if detail[0] else ''}"


# --------------------------------------------------------------------------- steps


def planned_restarts(services, command):
    """What restart() would restart, in order."""
    return list(services or []) + ([command] if command else [])


def restart(module, services, command):
    """Restart services in order, then run command; returns what was restarted. Raises StepFailed."""
    done = []
    systemd = os.path.isdir("/run/systemd/system")
    for service in services or []:
        if systemd:
            argv = [module.get_bin_path("systemctl", required=True), "restart", "--", service]
        else:
            argv = [module.get_bin_path("service", required=True), service, "restart"]
        rc, out, err = module.run_command(argv)
        if rc != 0:
            raise StepFailed(f"restarting service {service} failed (exit code {rc}): {(err or out).strip()[-500:]}",
                             "restart", f"restarting service {service}", restarted=done, changed=bool(done))
        done.append(service)
    if command:
        rc, out, err = module.run_command(command, use_unsafe_shell=True)
        if rc != 0:
            raise StepFailed(f"restart command failed (exit code {rc}): {(err or out).strip()[-500:]}",
                             "restart", f"restart command `{command}`", restarted=done + [command], changed=True)
        done.append(command)
    return done


def run_health_check(module, url, command, status_codes, timeout, retries, delay, sleep=time.sleep):
    """Probe until healthy; returns (attempts, status). Raises StepFailed when the attempts run out."""
    what = check_description(url, command)
    attempts = 0
    while True:
        attempts += 1
        if url:
            healthy, status, detail = probe_url(url, status_codes, timeout)
        else:
            healthy, status, detail = probe_command(module, command)
        if healthy:
            return attempts, status
        if attempts > retries:
            raise StepFailed(f"{what} failed after {attempts} attempt(s): {detail}", "health_check", what,
                             attempts=attempts, status=status)
        sleep(delay)
