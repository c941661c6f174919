"""Client and CLI for the rotor.iam test IAM endpoint (see server.py).

Standard library only, so playbooks, demos and tests can drive the endpoint
from any interpreter; ``boto3_client()`` imports boto3 when called.

Library use (tests put <repo>/tests on sys.path first)::

    from iam_endpoint.control import IAMEndpoint

    with IAMEndpoint().start(workdir=tmp_path, propagation_seconds=2) as endpoint:
        iam = endpoint.boto3_client("iam")
        endpoint.inject("CreateAccessKey", "throttle", count=2)
        endpoint.configure(deactivation_propagation_seconds=5)
        endpoint.key_view("AKIA...")   # {"accepted": True, "reason": "lag: deactivated ..."}

CLI::

    control.py start --workdir D [--port P] [--host H]   # daemonises
        [--lag S] [--new-key-lag S] [--deactivation-lag S] [--reactivation-lag S]
        [--deletion-lag S]                               # propagation lags (seconds)
    control.py stop --workdir D
    control.py env --workdir D                           # export lines
    control.py health|calls|faults|reset (--url U | --workdir D) [...]
    control.py inject (--url U | --workdir D) --action A --kind K [--count N]
    control.py backdate (--url U | --workdir D) --user U --key K --days N
    control.py configure (--url U | --workdir D) [--lag S] [--deletion-lag S] [...]
    control.py keys (--url U | --workdir D) [--key K ...]  # effective view per key
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Optional

SERVER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "server.py")
BOOTSTRAP_NAME = "bootstrap.json"
PID_NAME = "iam_endpoint.pid"
LOG_NAME = "iam_endpoint.log"

# Propagation lags (see server.py): config names, and the short names
# start(lags={...}) also accepts ("deletion", ..., "all").
LAG_KINDS = ("new_key", "deactivation", "reactivation", "deletion")
LAG_SETTINGS = tuple(f"{kind}_propagation_seconds" for kind in LAG_KINDS)
ALL_LAGS_SETTING = "propagation_seconds"


def lag_settings(lags: Optional[Dict[str, Any]] = None, **settings: Any) -> Dict[str, float]:
    """Normalise lag settings to config names; None values are dropped.

    Names: the config names (``deletion_propagation_seconds``,
    ``propagation_seconds`` for all four), or short ones (``deletion``,
    ``new_key``, ``all``). Raises ValueError on unknown names or bad values.
    """
    result: Dict[str, float] = {}
    for name, value in list((lags or {}).items()) + list(settings.items()):
        if value is None:
            continue
        if name in ("all", "lag", "lag_seconds"):
            name = ALL_LAGS_SETTING
        elif f"{name}_propagation_seconds" in LAG_SETTINGS:
            name = f"{name}_propagation_seconds"
        if name not in LAG_SETTINGS and name != ALL_LAGS_SETTING:
            raise ValueError(
                f"unknown lag {name!r}; known: {', '.join(LAG_SETTINGS + (ALL_LAGS_SETTING,))}"
            )
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"lag {name!r} must be a number of seconds >= 0, not {value!r}")
        result[name] = float(value)
    return result


class EndpointError(RuntimeError):
    """The endpoint could not be started, or answered a control call with an error."""


class IAMEndpoint:
    """A running (or attachable) test IAM endpoint and its admin credentials."""

    def __init__(self, bootstrap: Optional[Dict[str, str]] = None):
        self._bootstrap: Dict[str, str] = dict(bootstrap or {})
        self._process: Optional[subprocess.Popen] = None
        self._log = None
        self.workdir: Optional[str] = None

    # -- lifecycle -------------------------------------------------------------

    @classmethod
    def attach(cls, workdir: Optional[str] = None, url: Optional[str] = None) -> "IAMEndpoint":
        """An endpoint started elsewhere: from its workdir, or from its URL alone.

        With only a URL the control API works but admin credentials are unknown.
        """
        if workdir:
            endpoint = cls(read_json(os.path.join(workdir, BOOTSTRAP_NAME)))
            endpoint.workdir = workdir
            return endpoint
        if url:
            return cls({"endpoint_url": url.rstrip("/")})
        raise ValueError("attach() needs a workdir or a url")

    def start(
        self,
        port: Optional[int] = None,
        workdir: Optional[str] = None,
        host: str = "127.0.0.1",
        timeout: float = 30.0,
        detach: bool = False,
        lags: Optional[Dict[str, float]] = None,
        *,
        propagation_seconds: Optional[float] = None,
        new_key_propagation_seconds: Optional[float] = None,
        deactivation_propagation_seconds: Optional[float] = None,
        reactivation_propagation_seconds: Optional[float] = None,
        deletion_propagation_seconds: Optional[float] = None,
    ) -> "IAMEndpoint":
        """Launch server.py with this interpreter and wait until it serves.

        Without a port the server binds port 0, so the OS picks a free one
        (no race between choosing and binding). Unless ``detach`` is set, the
        server also stops on its own if this process dies without stop().

        Propagation lags (seconds) come from ``lags`` (see lag_settings()) and
        the keyword arguments; ``propagation_seconds`` sets all four, a
        specific one wins. They are the server's defaults: reset() returns to
        them.
        """
        if self._process is not None:
            raise EndpointError("already started")
        start_lags = lag_settings(
            lags,
            propagation_seconds=propagation_seconds,
            new_key_propagation_seconds=new_key_propagation_seconds,
            deactivation_propagation_seconds=deactivation_propagation_seconds,
            reactivation_propagation_seconds=reactivation_propagation_seconds,
            deletion_propagation_seconds=deletion_propagation_seconds,
        )
        self.workdir = os.path.abspath(workdir or tempfile.mkdtemp(prefix="iam-endpoint-"))
        os.makedirs(self.workdir, exist_ok=True)
        bootstrap_file = os.path.join(self.workdir, BOOTSTRAP_NAME)
        if os.path.exists(bootstrap_file):
            os.unlink(bootstrap_file)  # a stale file must not pass for readiness

        command = [
            sys.executable,
            SERVER_SCRIPT,
            "--host",
            host,
            "--port",
            str(port or 0),
            "--bootstrap-file",
            bootstrap_file,
        ]
        for name, value in sorted(start_lags.items()):
            command += ["--" + name.replace("_", "-"), repr(value)]
        if not detach:
            command += ["--exit-with-parent", str(os.getpid())]
        env = dict(os.environ)
        env.pop("MOTO_ACCOUNT_ID", None)  # would override the account moto derives from keys
        self._log = open(os.path.join(self.workdir, LOG_NAME), "ab")
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=detach,
        )
        with open(os.path.join(self.workdir, PID_NAME), "w") as handle:
            handle.write(f"{self._process.pid}\n")
        try:
            self._wait_ready(bootstrap_file, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, bootstrap_file: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise EndpointError(
                    f"server exited with {self._process.returncode}:\n{self.log_tail()}"
                )
            if os.path.exists(bootstrap_file):
                self._bootstrap = read_json(bootstrap_file)
                try:
                    self.health()
                    return
                except (EndpointError, OSError):
                    pass
            time.sleep(0.05)
        raise EndpointError(f"server not ready after {timeout}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop a server this object started (terminate, then kill)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self._log is not None:
            self._log.close()
            self._log = None
        if process is not None and self.workdir:
            remove_if_exists(os.path.join(self.workdir, PID_NAME))

    def release(self) -> None:
        """Forget a detached server without stopping it (it outlives us)."""
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> "IAMEndpoint":
        if self._process is None and not self._bootstrap:
            self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def log_tail(self, lines: int = 30) -> str:
        if not self.workdir:
            return ""
        try:
            with open(os.path.join(self.workdir, LOG_NAME), errors="replace") as handle:
                return "".join(handle.readlines()[-lines:])
        except OSError:
            return ""

    # -- connection facts ------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        return self._bootstrap["endpoint_url"]

    @property
    def admin_access_key_id(self) -> str:
        return self._bootstrap["access_key_id"]

    @property
    def admin_secret_access_key(self) -> str:
        return self._bootstrap["secret_access_key"]

    @property
    def account_id(self) -> str:
        return self._bootstrap.get("account_id", "123456789012")

    @property
    def region(self) -> str:
        return self._bootstrap.get("region", "us-east-1")

    def aws_env(self, access_key_id: str, secret_access_key: str) -> Dict[str, str]:
        """Environment for a subprocess (boto3, Ansible) using these credentials.

        Callers should also drop AWS_PROFILE / AWS_SESSION_TOKEN from the
        environment they merge this into; a dict cannot express unsetting.
        """
        return {
            "AWS_ACCESS_KEY_ID": access_key_id,
            "AWS_SECRET_ACCESS_KEY": secret_access_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ENDPOINT_URL_IAM": self.endpoint_url,
            "AWS_ENDPOINT_URL_STS": self.endpoint_url,
            "AWS_EC2_METADATA_DISABLED": "true",  # no slow IMDS probing
        }

    def admin_env(self) -> Dict[str, str]:
        return self.aws_env(self.admin_access_key_id, self.admin_secret_access_key)

    def boto3_client(
        self,
        service: str,
        access_key_id: Optional[str] = None,
        secret_access_key: Optional[str] = None,
        config: Any = None,
    ) -> Any:
        """A boto3 client for this endpoint; admin credentials by default."""
        import boto3  # only this helper needs it

        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=access_key_id or self.admin_access_key_id,
            aws_secret_access_key=secret_access_key or self.admin_secret_access_key,
            config=config,
        )

    # -- control API -------------------------------------------------------

    def _control(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(
            f"{self.endpoint_url}/_rotor/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace").strip()
            raise EndpointError(f"{method} /_rotor/{path}: HTTP {exc.code}: {detail}") from None

    def health(self) -> Dict[str, Any]:
        return self._control("GET", "health")

    def calls(self) -> Dict[str, Dict[str, int]]:
        """``{"calls": {action: n}, "faulted": {action: n}}`` since the last reset."""
        return self._control("GET", "calls")

    def call_count(self, action: str) -> int:
        return self.calls()["calls"].get(action, 0)

    def reset_calls(self) -> None:
        self._control("DELETE", "calls")

    def inject(
        self,
        action: str,
        kind: str,
        count: int = 1,
        delay: float = 0,
        status: Optional[int] = None,
    ) -> Dict[str, Any]:
        """Queue a fault for the next ``count`` calls of ``action`` ("*": any).

        kind: "throttle" (400 Throttling), "5xx" (status 500 InternalFailure
        by default, 503 ServiceUnavailable) or "latency" (sleep ``delay``).
        """
        body: Dict[str, Any] = {"action": action, "kind": kind, "count": count, "delay": delay}
        if status is not None:
            body["status"] = status
        return self._control("POST", "faults", body)

    def faults(self) -> Dict[str, Any]:
        return self._control("GET", "faults")["faults"]

    def clear_faults(self) -> None:
        self._control("DELETE", "faults")

    def configure(self, **settings: Any) -> Dict[str, Any]:
        """Change settings; returns them all. Without arguments, just returns them.

        ``new_key_propagation_seconds``, ``deactivation_propagation_seconds``,
        ``reactivation_propagation_seconds``, ``deletion_propagation_seconds``;
        ``propagation_seconds`` sets all four (a specific one given with it wins).
        """
        return self._control("POST", "config", settings)

    def config(self) -> Dict[str, float]:
        return self._control("GET", "config")

    def key_views(self, *access_key_ids: str) -> Dict[str, Dict[str, Any]]:
        """``{key id: view}`` for these keys, or every key the endpoint knows of.

        A view: ``accepted`` (bool), ``reason`` (e.g. "lag: deactivated 1.2s ago
        (deactivation_propagation_seconds=5); still accepted as before (key is
        Active)"), ``state`` (Active, Inactive, Expired, deleted, unknown),
        ``user_name``, ``lagged`` and ``last_change`` (``kind``, ``from``,
        ``to``, ``time``, ``seconds_ago``, ``lag_seconds``, ``propagated``, or None).
        """
        query = urllib.parse.urlencode([("access_key_id", key_id) for key_id in access_key_ids])
        return self._control("GET", "keys" + (f"?{query}" if query else ""))["keys"]

    def key_view(self, access_key_id: str) -> Dict[str, Any]:
        """How a request signed with this key is answered right now (see key_views)."""
        return self.key_views(access_key_id)[access_key_id]

    def accepted(self, access_key_id: str) -> bool:
        return bool(self.key_view(access_key_id)["accepted"])

    def configure_last_use(self, **settings: Any) -> Dict[str, Any]:
        """Last-use publication (last_use.py): ``delay_seconds`` makes each use visible to GetAccessKeyLastUsed that long
        after it happened, as AWS does; returns {delay_seconds, pending}. Without arguments, just returns them."""
        if not settings:
            return self._control("GET", "last_use")
        return self._control("POST", "last_use", settings)

    def trail(self) -> list:
        """Every call recorded for CloudTrail LookupEvents (incident.py), oldest first, as CloudTrail event records."""
        return self._control("GET", "trail")["events"]

    def set_auth(self, enforce: bool) -> None:
        self._control("POST", "auth", {"enforce": bool(enforce)})

    def backdate(self, user_name: Optional[str], access_key_id: str, days: float) -> Dict[str, Any]:
        """Make a key's CreateDate ``days`` ago."""
        return self._control(
            "POST",
            "backdate",
            {"user_name": user_name, "access_key_id": access_key_id, "days": days},
        )

    def set_last_used(
        self,
        access_key_id: str,
        minutes_ago: float = 0,
        service: str = "s3",
        region: Optional[str] = None,
        days_ago: float = 0,
    ) -> Dict[str, Any]:
        """Set a key's LastUsedDate (moto overwrites it when the key signs a call)."""
        return self._control(
            "POST",
            "last_used",
            {
                "access_key_id": access_key_id,
                "minutes_ago": minutes_ago,
                "days_ago": days_ago,
                "service": service,
                "region": region or self.region,
            },
        )

    def reset(self) -> Dict[str, Any]:
        """Forget all IAM state, faults, counters, config; re-create rotor-admin.

        The admin keeps the same credentials across resets.
        """
        self._bootstrap = self._control("POST", "reset")
        return self._bootstrap

    def account_role(self, account_id: str, role_name: str = "rotor") -> str:
        """A role in account ``account_id`` that the admin may assume (Allow * there); returns its ARN."""
        return self._control("POST", "account_role", {"account_id": account_id, "role_name": role_name})["role_arn"]

    def seed(self, users: list) -> Dict[str, Any]:
        """Create users and keys in one control call: ``[{"user_name", "keys": [{"age_days",
        "status", "last_used_days_ago", "service", "region"}]}]``. Returns each key's id and
        secret (``{"users": [{"user_name", "keys": [...]}]}``). See seed.py for a helper."""
        return self._control("POST", "seed", {"users": users})


def read_json(path: str) -> Dict[str, Any]:
    with open(path) as handle:
        return json.load(handle)


def remove_if_exists(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def is_our_server(pid: int, workdir: str) -> bool:
    """Guard against a recycled pid: it must be server.py serving this workdir."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().decode("utf-8", errors="replace").split("\0")
    except OSError:
        return False
    bootstrap_file = os.path.join(workdir, BOOTSTRAP_NAME)
    return SERVER_SCRIPT in argv and bootstrap_file in argv


def stop_daemon(workdir: str, timeout: float = 10.0) -> bool:
    """Stop the server whose pid file is in workdir; False if none was running."""
    workdir = os.path.abspath(workdir)
    pid_file = os.path.join(workdir, PID_NAME)
    try:
        with open(pid_file) as handle:
            pid = int(handle.read().strip())
    except (OSError, ValueError):
        return False
    running = is_our_server(pid, workdir)
    if running:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while is_our_server(pid, workdir) and time.monotonic() < deadline:
            time.sleep(0.05)
        if is_our_server(pid, workdir):
            os.kill(pid, signal.SIGKILL)
    remove_if_exists(pid_file)
    return running


# -- CLI ---------------------------------------------------------------------


def endpoint_from_args(args: argparse.Namespace) -> IAMEndpoint:
    if not (args.url or args.workdir):
        raise SystemExit("give --url or --workdir")
    return IAMEndpoint.attach(workdir=args.workdir, url=args.url)


def lags_from_args(args: argparse.Namespace) -> Dict[str, float]:
    return lag_settings(
        propagation_seconds=args.lag,
        **{name: getattr(args, name) for name in LAG_SETTINGS},
    )


def add_lag_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lag",
        "--propagation-seconds",
        dest="lag",
        type=float,
        metavar="S",
        help="all four propagation lags, in seconds (a specific flag wins)",
    )
    for kind, name in zip(LAG_KINDS, LAG_SETTINGS):
        parser.add_argument(
            f"--{kind.replace('_', '-')}-lag",
            f"--{name.replace('_', '-')}",
            dest=name,
            type=float,
            metavar="S",
        )


def cmd_start(args: argparse.Namespace) -> Any:
    try:
        lags = lags_from_args(args)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    endpoint = IAMEndpoint().start(
        port=args.port, workdir=args.workdir, host=args.host, detach=True, lags=lags
    )
    endpoint.release()
    health = endpoint.health()
    health["config"] = endpoint.config()
    return health


def cmd_stop(args: argparse.Namespace) -> Any:
    return {"stopped": stop_daemon(args.workdir)}


def cmd_env(args: argparse.Namespace) -> Optional[Any]:
    env = IAMEndpoint.attach(workdir=args.workdir).admin_env()
    for name, value in sorted(env.items()):
        print(f"export {name}={shlex.quote(value)}")
    return None


def cmd_calls(args: argparse.Namespace) -> Any:
    endpoint = endpoint_from_args(args)
    result = endpoint.calls()
    if args.reset:
        endpoint.reset_calls()
    return result


def cmd_inject(args: argparse.Namespace) -> Any:
    return endpoint_from_args(args).inject(
        args.action, args.kind, count=args.count, delay=args.delay, status=args.status
    )


def cmd_backdate(args: argparse.Namespace) -> Any:
    return endpoint_from_args(args).backdate(args.user, args.key, args.days)


def cmd_last_used(args: argparse.Namespace) -> Any:
    return endpoint_from_args(args).set_last_used(
        args.key,
        minutes_ago=args.minutes_ago,
        days_ago=args.days_ago,
        service=args.service,
        region=args.region,
    )


def cmd_configure(args: argparse.Namespace) -> Any:
    # Validation is the server's (400 with a message); without flags, show the config.
    settings = {name: getattr(args, name) for name in LAG_SETTINGS}
    settings[ALL_LAGS_SETTING] = args.lag
    return endpoint_from_args(args).configure(
        **{name: value for name, value in settings.items() if value is not None}
    )


def cmd_keys(args: argparse.Namespace) -> Any:
    return endpoint_from_args(args).key_views(*(args.key or []))


def cmd_auth(args: argparse.Namespace) -> Any:
    endpoint = endpoint_from_args(args)
    endpoint.set_auth(args.enforce == "on")
    return {"enforce": args.enforce == "on"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Drive the rotor.iam test IAM endpoint.")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(
        name: str, handler: Any, help_text: str, target: bool = True
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(handler=handler)
        if target:
            p.add_argument("--url", help="endpoint URL, e.g. http://127.0.0.1:5000")
            p.add_argument("--workdir", help="workdir given to start")
        return p

    p = command("start", cmd_start, "start a daemonised endpoint", target=False)
    p.add_argument("--workdir", required=True, help="gets bootstrap.json, pid and log files")
    p.add_argument("--port", type=int, default=None, help="default: a free port")
    p.add_argument("--host", default="127.0.0.1")
    add_lag_arguments(p)

    p = command("stop", cmd_stop, "stop the endpoint started in --workdir", target=False)
    p.add_argument("--workdir", required=True)

    p = command("env", cmd_env, "print admin credentials as shell exports", target=False)
    p.add_argument("--workdir", required=True)

    command("health", lambda a: endpoint_from_args(a).health(), "show endpoint status")

    p = command("calls", cmd_calls, "show per-action call counters")
    p.add_argument("--reset", action="store_true", help="reset the counters after showing")

    p = command("inject", cmd_inject, "queue a fault for an action")
    p.add_argument("--action", required=True, help="e.g. CreateAccessKey, or '*'")
    p.add_argument("--kind", required=True, choices=("throttle", "5xx", "latency"))
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--delay", type=float, default=0)
    p.add_argument("--status", type=int, default=None, help="5xx status (500, 503, ...)")

    command("faults", lambda a: endpoint_from_args(a).faults(), "show queued faults")
    command("clear-faults", lambda a: endpoint_from_args(a).clear_faults(), "drop queued faults")

    p = command("backdate", cmd_backdate, "set a key's CreateDate DAYS ago")
    p.add_argument("--user", default=None)
    p.add_argument("--key", required=True, help="access key id")
    p.add_argument("--days", type=float, required=True)

    p = command("last-used", cmd_last_used, "set a key's last-used date")
    p.add_argument("--key", required=True, help="access key id")
    p.add_argument("--minutes-ago", type=float, default=0)
    p.add_argument("--days-ago", type=float, default=0)
    p.add_argument("--service", default="s3")
    p.add_argument("--region", default=None)

    p = command("configure", cmd_configure, "change propagation lags (none given: show them)")
    add_lag_arguments(p)

    p = command("keys", cmd_keys, "show each key's effective authentication view")
    p.add_argument("--key", action="append", help="access key id (repeatable; default: all)")

    p = command("auth", cmd_auth, "turn authentication enforcement on or off")
    p.add_argument("enforce", choices=("on", "off"))

    command("reset", lambda a: endpoint_from_args(a).reset(), "reset all state, re-bootstrap")
    return parser


def main(argv: Optional[list] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.handler(args)
    except (EndpointError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if result is not None:
        print(json.dumps(result, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
