#!/usr/bin/env python
"""A small consumer application of an AWS access key, one per fleet host.

It behaves like a real service that uses static credentials: it reads its key
from a credentials file when it starts and again on SIGHUP (a reload), and it
keeps using the loaded key until then, whatever happens to the file.

HTTP interface:
  GET /health  signs a real STS GetCallerIdentity with the loaded key against
               the endpoint; 200 {"healthy": true, "access_key_id", "arn", ...}
               or 503 {"healthy": false, "access_key_id", "error", ...}
  GET /key     the loaded access key id, as text
  GET /self-check, POST /self-check?interval=S
               the interval of the background self-check (0: off)

Options for tests:
  --health-log PATH       append every health answer (GET /health and each
                          self-check) as one JSON line: time, epoch, source
                          ("http" or "self"), healthy, status, access_key_id,
                          error, generation, arn
  --ignore-reload-flag P  while file P exists, SIGHUP is ignored (logged) and
                          the loaded key is kept: a service that "restarts"
                          without picking up its new key
  --self-check-interval S check health every S seconds in the background

The secret access key is never logged, printed or returned.
"""

import argparse
import configparser
import datetime
import http.server
import json
import math
import os
import re
import signal
import sys
import threading
import time
import urllib.parse

FORMATS = ("aws_credentials", "env", "json")

_ACCESS_KEY_NAMES = {"awsaccesskeyid", "accesskeyid"}
_SECRET_KEY_NAMES = {"awssecretaccesskey", "secretaccesskey"}
_SESSION_TOKEN_NAMES = {"awssessiontoken", "sessiontoken"}


class CredentialsError(Exception):
    """The credentials file is missing, unreadable or has no usable key."""


def _normal(name):
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _pick(mapping, names):
    for key, value in mapping.items():
        if _normal(key) in names and isinstance(value, str) and value:
            return value
    return None


def _from_mapping(mapping, path):
    access_key_id = _pick(mapping, _ACCESS_KEY_NAMES)
    secret = _pick(mapping, _SECRET_KEY_NAMES)
    if not access_key_id or not secret:
        raise CredentialsError("%s: no access key id and secret access key found" % path)
    return access_key_id, secret, _pick(mapping, _SESSION_TOKEN_NAMES)


def _parse_aws_credentials(text, profile, path):
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text, source=path)
    except configparser.Error as exc:
        raise CredentialsError("%s: not an AWS credentials file (%s)" % (path, type(exc).__name__))
    for section in (profile, "profile " + profile):
        if parser.has_section(section):
            return _from_mapping(dict(parser.items(section)), path)
    raise CredentialsError("%s: no profile [%s]" % (path, profile))


def _unquote(value):
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _parse_env(text, path):
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].strip()
        name, sep, value = line.partition("=")
        if sep:
            values[name.strip()] = _unquote(value)
    return _from_mapping(values, path)


def _parse_json(text, profile, path):
    try:
        data = json.loads(text)
    except ValueError:
        raise CredentialsError("%s: not valid JSON" % path)
    if not isinstance(data, dict):
        raise CredentialsError("%s: JSON is not an object" % path)
    # Accept a flat object, one keyed by profile, or AWS's own wrappers.
    for wrapper in (profile, "Credentials", "AccessKey"):
        if isinstance(data.get(wrapper), dict):
            data = data[wrapper]
            break
    return _from_mapping(data, path)


def parse_credentials(text, fmt="aws_credentials", profile="default", path="<text>"):
    """Return (access_key_id, secret_access_key, session_token or None)."""
    if fmt == "aws_credentials":
        return _parse_aws_credentials(text, profile, path)
    if fmt == "env":
        return _parse_env(text, path)
    if fmt == "json":
        return _parse_json(text, profile, path)
    raise CredentialsError("unknown credentials format %r" % fmt)


def load_credentials(path, fmt="aws_credentials", profile="default"):
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise CredentialsError("%s: %s" % (path, exc.strerror or exc))
    return parse_credentials(text, fmt, profile, path)


class HealthLog:
    """Health answers appended to a JSON-lines file (no file: nothing is kept)."""

    def __init__(self, path=None):
        self.path = path
        self._lock = threading.Lock()
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def append(self, entry):
        if not self.path:
            return
        line = json.dumps(entry, sort_keys=True) + "\n"
        with self._lock:
            try:
                with open(self.path, "a", encoding="utf-8") as handle:
                    handle.write(line)
            except OSError as exc:
                log("cannot write the health log %s: %s" % (self.path, exc))


def health_entry(report, source, now=None):
    """One line of the health log (never the secret: the report has none)."""
    now = time.time() if now is None else now
    return {
        "time": datetime.datetime.fromtimestamp(now, datetime.timezone.utc).isoformat(),
        "epoch": now,
        "source": source,
        "healthy": bool(report.get("healthy")),
        "status": 200 if report.get("healthy") else 503,
        "access_key_id": report.get("access_key_id"),
        "error": report.get("error"),
        "generation": report.get("generation"),
        "arn": report.get("arn"),
    }


class Consumer:
    """Holds the loaded key and checks it against STS on demand."""

    def __init__(self, credentials, fmt, profile, endpoint_url, region, health_log=None,
                 ignore_reload_flag=None):
        self.credentials = credentials
        self.format = fmt
        self.profile = profile
        self.endpoint_url = endpoint_url
        self.region = region
        self.health_log = HealthLog(health_log)
        self.ignore_reload_flag = ignore_reload_flag
        self.ignored_reloads = 0
        self._lock = threading.Lock()
        self._state = {"access_key_id": None, "secret": None, "client": None,
                       "error": "not loaded", "generation": 0, "loaded_at": None}

    def _scrub(self, text, secret):
        text = str(text)
        return text.replace(secret, "***") if secret else text

    def load(self):
        """(Re)load the key from the credentials file; keep the result even if it failed."""
        generation = self._state["generation"] + 1
        try:
            access_key_id, secret, token = load_credentials(self.credentials, self.format, self.profile)
            client = self._client(access_key_id, secret, token)
            state = {"access_key_id": access_key_id, "secret": secret, "client": client,
                     "error": None}
            log("loaded key %s from %s (generation %d)" % (access_key_id, self.credentials, generation))
        except CredentialsError as exc:
            state = {"access_key_id": None, "secret": None, "client": None,
                     "error": "CredentialsError %s" % exc}
            log("could not load credentials (generation %d): %s" % (generation, exc))
        state.update(generation=generation, loaded_at=time.time())
        with self._lock:
            self._state = state

    def _client(self, access_key_id, secret, token):
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(aws_access_key_id=access_key_id,
                                        aws_secret_access_key=secret,
                                        aws_session_token=token,
                                        region_name=self.region)
        # No retries and short timeouts: health must reflect the key right now.
        config = Config(connect_timeout=2, read_timeout=5,
                        retries={"mode": "standard", "total_max_attempts": 1})
        return session.client("sts", endpoint_url=self.endpoint_url, config=config)

    def ignoring_reload(self):
        return bool(self.ignore_reload_flag) and os.path.exists(self.ignore_reload_flag)

    def reload(self):
        """What SIGHUP does: load the file again, unless told to ignore reloads."""
        if self.ignoring_reload():
            self.ignored_reloads += 1
            log("ignored a reload (flag file %s exists); keeping key %s (generation %d)" % (
                self.ignore_reload_flag, self.access_key_id, self._state["generation"]))
            return
        self.load()

    def answer(self, source):
        """health(), recorded in the health log as coming from `source` ("http" or "self")."""
        report = self.health()
        self.health_log.append(health_entry(report, source))
        return report

    @property
    def access_key_id(self):
        return self._state["access_key_id"]

    def health(self):
        state = self._state
        report = {"access_key_id": state["access_key_id"], "generation": state["generation"],
                  "loaded_at": state["loaded_at"], "ignored_reloads": self.ignored_reloads}
        if state["client"] is None:
            report.update(healthy=False, error=state["error"])
            return report
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            identity = state["client"].get_caller_identity()
        except ClientError as exc:
            error = exc.response.get("Error", {})
            message = "%s %s" % (error.get("Code", "ClientError"), error.get("Message", ""))
            report.update(healthy=False, error=self._scrub(message.strip(), state["secret"]))
        except BotoCoreError as exc:
            message = "%s %s" % (type(exc).__name__, exc)
            report.update(healthy=False, error=self._scrub(message, state["secret"]))
        else:
            report.update(healthy=True, arn=identity.get("Arn"), account=identity.get("Account"))
        return report


def log(message):
    sys.stderr.write("%s consumer[%d]: %s\n" % (time.strftime("%H:%M:%S"), os.getpid(), message))
    sys.stderr.flush()


class SelfCheck:
    """A background thread that checks the consumer's health every `interval` seconds."""

    def __init__(self, consumer, interval=0.0):
        self.consumer = consumer
        self.interval = float(interval)
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="self-check", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def set_interval(self, interval):
        self.interval = float(interval)
        log("self-check interval %gs%s" % (self.interval, " (off)" if self.interval <= 0 else ""))
        self._wake.set()

    def _run(self):
        while True:
            interval = self.interval
            if interval <= 0:
                self._wake.wait()
                self._wake.clear()
                continue
            if self._wake.wait(interval):
                self._wake.clear()
                continue  # a new interval: wait that one first
            try:
                self.consumer.answer("self")
            except Exception as exc:  # never let the thread die
                log("self-check failed: %s: %s" % (type(exc).__name__, exc))


def parse_interval(text):
    value = float(text)
    if math.isnan(value) or value < 0 or math.isinf(value):
        raise ValueError("interval must be a number of seconds >= 0")
    return value


def make_handler(consumer, self_check=None):
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "rotor-fleet-consumer/1"

        def _send(self, status, body, content_type):
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/health":
                report = consumer.answer("http")
                self._send(200 if report["healthy"] else 503, json.dumps(report) + "\n",
                           "application/json")
            elif path == "/key":
                self._send(200, (consumer.access_key_id or "") + "\n", "text/plain")
            elif path == "/self-check" and self_check is not None:
                self._send_json(200, {"interval": self_check.interval})
            else:
                self._send_json(404, {"error": "not found"})

        def do_POST(self):
            path, _sep, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if path != "/self-check" or self_check is None:
                self._send_json(404, {"error": "not found"})
                return
            values = urllib.parse.parse_qs(query).get("interval")
            try:
                interval = parse_interval(values[0])
            except (TypeError, ValueError):
                self._send_json(400, {"error": "want ?interval=SECONDS (>= 0; 0 turns it off)"})
                return
            self_check.set_interval(interval)
            self._send_json(200, {"interval": self_check.interval})

        def _send_json(self, status, payload):
            self._send(status, json.dumps(payload) + "\n", "application/json")

        def log_message(self, *args):
            pass  # health checks are frequent; keep the log for key changes

    return Handler


def parse_listen(value):
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT, got %r" % value)
    return host, int(port)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--credentials", required=True, help="credentials file to load")
    parser.add_argument("--format", default="aws_credentials", choices=FORMATS)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--listen", required=True, type=parse_listen, help="HOST:PORT")
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--pidfile")
    parser.add_argument("--health-log", help="append each health answer here (JSON lines)")
    parser.add_argument("--ignore-reload-flag", metavar="PATH",
                        help="while this file exists, SIGHUP keeps the loaded key")
    parser.add_argument("--self-check-interval", type=_interval_arg, default=0.0, metavar="SECONDS",
                        help="check health in the background every SECONDS (default 0: off)")
    return parser.parse_args(argv)


def _interval_arg(text):
    try:
        return parse_interval(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected seconds >= 0, got %r" % text)


def write_pidfile(path):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as handle:
        handle.write("%d\n" % os.getpid())
    os.replace(tmp, path)


def remove_pidfile(path):
    try:
        with open(path) as handle:
            if handle.read().strip() == str(os.getpid()):
                os.unlink(path)
    except OSError:
        pass


def call_from(address):
    """Make AWS calls from the address the consumer listens on, when it is a loopback address of its own (a fleet host's
    127.0.X.N): the endpoint then records each host's calls under its own source address, as CloudTrail would record
    separate machines'. 127.0.0.1 and other addresses: the system's choice."""
    if not address.startswith("127.") or address == "127.0.0.1":
        return
    from urllib3.util import connection

    plain = connection.create_connection

    def create_connection(target, *args, **kwargs):
        if not kwargs.get("source_address") and str(target[0]).startswith("127."):
            kwargs["source_address"] = (address, 0)
        return plain(target, *args, **kwargs)

    connection.create_connection = create_connection


def main(argv=None):
    args = parse_args(argv)
    http.server.ThreadingHTTPServer.daemon_threads = True
    call_from(args.listen[0])
    consumer = Consumer(args.credentials, args.format, args.profile, args.endpoint_url, args.region,
                        health_log=args.health_log, ignore_reload_flag=args.ignore_reload_flag)
    self_check = SelfCheck(consumer, args.self_check_interval)
    # Bind before anything slow, so a clash fails at once and clients queue meanwhile.
    try:
        server = http.server.ThreadingHTTPServer(args.listen, make_handler(consumer, self_check))
    except OSError as exc:
        log("cannot listen on %s:%d: %s" % (args.listen[0], args.listen[1], exc))
        return 2

    def on_hup(signum, frame):
        consumer.reload()

    def on_term(signum, frame):
        raise SystemExit(0)

    # Handlers first: a reload may come as soon as the pidfile exists.
    signal.signal(signal.SIGHUP, on_hup)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        if args.pidfile:
            write_pidfile(args.pidfile)
        consumer.load()
        self_check.start()
        log("listening on http://%s:%d%s" % (args.listen + (
            "; self-check every %gs" % self_check.interval if self_check.interval > 0 else "",)))
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        if args.pidfile:
            remove_pidfile(args.pidfile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
