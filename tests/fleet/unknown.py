"""An unknown consumer: a process outside the inventory that signs calls with an access key on a timer.

It is what the quiet-key gate must notice (issue 25): a cron job on an uninventoried box, a laptop, a CI
secret. It runs the fleet's consumer.py (the same loading, reload and health code) with its own credentials
file under WORKDIR/unknown/NAME/, outside every host's directory and outside the inventory, and a background
self-check every ``interval`` seconds: each one signs a real STS GetCallerIdentity with the loaded key, so the
endpoint records the key's last use on that timer, and logs the answer (never the secret) to its health log.

    from fleet.unknown import UnknownConsumer
    with UnknownConsumer(workdir, "cron-box", endpoint_url, access_key_id, secret, interval=1.0) as unknown:
        ...                                   # the rotation runs; the consumer keeps signing with its key
        unknown.loaded_key()                  # the key id it uses right now
        unknown.signed_calls(since=t0)        # its logged calls since t0: [{"epoch", "healthy", "access_key_id", ...}]
        unknown.unhealthy_answers()           # the calls that failed (a deactivated key shows here)
        unknown.switch(new_id, new_secret)    # "moved by hand": new file, SIGHUP, waits until it uses the new key
        unknown.pause(); unknown.resume()     # stop / restart the timer (an idle consumer: the gate cannot see it)

``Fleet.start_unknown_consumer(...)`` starts one whose process the fleet stops with its hosts (and its
watchdog, if the test dies). Standard library only; the consumer process needs boto3 (the repo's venv python).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

try:
    from . import consumer as _consumer
except ImportError:  # run as a script
    import consumer as _consumer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CONSUMER_SCRIPT = os.path.join(HERE, "consumer.py")


def _free_port(address="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def _default_python():
    venv = os.path.join(REPO, ".venv", "bin", "python")
    return venv if os.path.exists(venv) else sys.executable


def _clean_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    return env


def _write_credentials(path, access_key_id, secret):
    text = "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (access_key_id, secret)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


class UnknownConsumerError(RuntimeError):
    pass


class UnknownConsumer:
    """One consumer outside the inventory, signing with its key every ``interval`` seconds."""

    def __init__(self, workdir, name, endpoint_url, access_key_id, secret_access_key, interval=1.0, region="us-east-1",
                 address="127.0.0.1", python=None, popen=None):
        if not name or "/" in name or name.startswith("."):
            raise UnknownConsumerError("name must be a plain file name, got %r" % name)
        if not interval or interval <= 0:
            raise UnknownConsumerError("interval must be a positive number of seconds (the consumer signs on a timer)")
        self.name = name
        self.dir = os.path.join(os.path.abspath(workdir), "unknown", name)
        self.credentials_path = os.path.join(self.dir, "credentials")
        self.health_log_path = os.path.join(self.dir, "health.jsonl")
        self.pidfile = os.path.join(self.dir, "consumer.pid")
        self.log_path = os.path.join(self.dir, "consumer.log")
        self.endpoint_url = endpoint_url
        self.region = region
        self.address = address
        self.interval = float(interval)
        self.python = python or _default_python()
        self._popen = popen  # Fleet's: registers the process so the fleet (and its watchdog) stop it
        self._initial = (access_key_id, secret_access_key)
        self.port = None
        self.process = None
        self.pid = None

    @property
    def url(self):
        return "http://%s:%d" % (self.address, self.port)

    def argv(self):
        return [self.python, CONSUMER_SCRIPT, "--credentials", self.credentials_path, "--listen", "%s:%d" % (self.address, self.port),
                "--endpoint-url", self.endpoint_url, "--region", self.region, "--pidfile", self.pidfile,
                "--health-log", self.health_log_path, "--self-check-interval", repr(self.interval)]

    def start(self, timeout=20):
        os.makedirs(self.dir, exist_ok=True)
        if not os.path.exists(self.credentials_path):
            _write_credentials(self.credentials_path, *self._initial)
        self.port = _free_port(self.address)
        if self._popen is not None:
            self.process = self._popen(self.argv(), self.log_path, "unknown-consumer", self.name)
        else:
            with open(self.log_path, "ab") as out:
                self.process = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=_clean_env(),
                                                start_new_session=True, close_fds=True)
        self.pid = self.process.pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise UnknownConsumerError("unknown consumer %s exited (%s); see %s" % (self.name, self.process.returncode, self.log_path))
            if self.loaded_key(timeout=1) is not None:
                return self
            time.sleep(0.1)
        raise UnknownConsumerError("unknown consumer %s did not answer within %ss; see %s" % (self.name, timeout, self.log_path))

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------------ observing

    def _get(self, path, timeout=5, method="GET"):
        request = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return None, ""

    def loaded_key(self, timeout=5):
        """The key id it signs with right now, or None when it does not answer."""
        status, body = self._get("/key", timeout)
        return (body.strip() or None) if status == 200 else None

    def health(self, timeout=10):
        """One signed call now (GET /health): {"healthy", "access_key_id", "error", ...}."""
        status, body = self._get("/health", timeout)
        try:
            return json.loads(body)
        except ValueError:
            return {"healthy": False, "error": "no answer (HTTP %s)" % status}

    def signed_calls(self, since=None, source="self"):
        """Its logged calls (the timer's: source "self"; None: every call), oldest first."""
        entries = []
        try:
            with open(self.health_log_path, encoding="utf-8") as handle:
                lines = handle.readlines()
        except FileNotFoundError:
            return entries
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if (since is None or entry.get("epoch", 0) >= since) and (source is None or entry.get("source") == source):
                entries.append(entry)
        return entries

    def unhealthy_answers(self, since=None):
        return [entry for entry in self.signed_calls(since, source=None) if not entry.get("healthy")]

    def wait_for_calls(self, count=1, since=None, timeout=30):
        """Wait until the timer has signed ``count`` calls since ``since``; returns them."""
        since = time.time() if since is None else since
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = self.signed_calls(since)
            if len(calls) >= count:
                return calls
            time.sleep(min(0.2, self.interval))
        raise UnknownConsumerError("unknown consumer %s signed fewer than %d calls in %ss" % (self.name, count, timeout))

    # ------------------------------------------------------------------ acting

    def switch(self, access_key_id, secret_access_key, timeout=15):
        """Move it to another key by hand: rewrite its file, SIGHUP, wait until it uses the new key."""
        _write_credentials(self.credentials_path, access_key_id, secret_access_key)
        os.kill(self.pid, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.loaded_key() == access_key_id:
                return
            time.sleep(0.1)
        raise UnknownConsumerError("unknown consumer %s did not load %s within %ss" % (self.name, access_key_id, timeout))

    def pause(self):
        """Stop the timer (the consumer keeps its key and answers, but signs nothing by itself)."""
        self._get("/self-check?interval=0", method="POST")

    def resume(self, interval=None):
        self.interval = float(interval or self.interval)
        self._get("/self-check?interval=%r" % self.interval, method="POST")


def parse_interval(text):
    return _consumer.parse_interval(text)
