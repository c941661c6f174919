# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A light local fleet for the benchmarks' large sizes: N hosts, a consumer process per 50 hosts.

tests/fleet gives every host its own consumer process (~46 MB RSS with boto3 loaded) and
a 127.0.X.N address, at most 250 hosts per fleet: 500 hosts would need ~23 GB and two
address ranges. This fleet keeps what the rotation sees per host and drops the process
per host:

- every host has its own directory, credentials file (0600) and health log, exactly as in
  tests/fleet's local mode (WORKDIR/hosts/hostN/etc/credentials, .../run/health.jsonl);
- every host has its own consumer *object* (tests/fleet/consumer.py's Consumer: it loads
  the key from that host's file, keeps it until reloaded, and answers a health check by
  signing a real STS GetCallerIdentity with it against the endpoint), served under /hostN/... by
  one of several server processes (``hosts_per_process``, 50 by default: one process answering
  4 slices x 50 forks of signed checks under one GIL timed out; see RESULTS.md);
- a host's restart is its own: `rotor_restart_command` POSTs to /hostN/reload (curl),
  which reloads that host's file only, synchronously, before the command returns (the
  tests/fleet consumer reloads on SIGHUP, asynchronously);
- the inventory carries the same host variables as tests/fleet's local mode
  (ansible_connection local, /usr/bin/python3, rotor_credentials_files, rotor_restart_command,
  rotor_health_check with retries 5 and delay 1, rotor_iam_user).

So Ansible does the same work per host (same tasks, same modules, same files, one HTTP
health check and one signed STS call per check); what is shared is only the consumer's
process. Standard library plus the venv's botocore (in the server processes).

    python benchmarks/light_fleet.py serve --workdir W --first I --count N --endpoint-url URL --region R
    (internal; LightFleet starts one per group of hosts and waits for W/server-I.json)
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TESTS = os.path.join(ROOT, "tests")
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

HOSTS_PER_PROCESS = 50
HEALTH_RETRIES, HEALTH_DELAY = 5, 1  # as tests/fleet's inventory


class LightFleetError(RuntimeError):
    """The light fleet could not be started or reached."""


def _venv_python():
    venv = os.path.join(ROOT, ".venv", "bin", "python")
    return venv if os.path.exists(venv) else sys.executable


def _atomic_write(path, text, mode=0o600):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as handle:
        os.fchmod(handle.fileno(), mode)
        handle.write(text)
    os.replace(tmp, path)


def host_names(size, first=1):
    return ["host%d" % i for i in range(first, first + size)]


def server_file(workdir, first):
    return os.path.join(workdir, "server-%d.json" % first)


def credentials_text(access_key_id, secret, profile="default"):
    return "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (profile, access_key_id, secret)


def host_vars(workdir, name, port, user):
    """The inventory variables of one light-fleet host (the same names as tests/fleet's local mode)."""
    base = "http://127.0.0.1:%d/%s" % (port, name)
    return {
        "ansible_connection": "local",
        "ansible_python_interpreter": "/usr/bin/python3",
        "rotor_credentials_files": [{"path": os.path.join(workdir, "hosts", name, "etc", "credentials"),
                                     "format": "aws_credentials", "profile": "default", "mode": "0600"}],
        "rotor_restart_command": "curl -fsS -o /dev/null -X POST %s" % shlex.quote(base + "/reload"),
        "rotor_health_check": {"url": base + "/health", "status_code": 200,
                               "retries": HEALTH_RETRIES, "delay": HEALTH_DELAY},
        "rotor_iam_user": user,
        "fleet_consumer_url": base,
    }


class LightFleet:
    """N local hosts whose consumers live in a few processes (see the module docstring).

    The subset of tests/fleet's Fleet the benchmarks use: start/stop (a context manager),
    hosts, write_inventory(), health(), read_credentials().
    """

    mode = "local"

    def __init__(self, workdir, size, endpoint_url, region="us-east-1", users=None, initial_keys=None,
                 ready_timeout=180, hosts_per_process=HOSTS_PER_PROCESS):
        self.workdir = os.path.abspath(workdir)
        self.size = size
        self.endpoint_url = endpoint_url
        self.region = region
        self.users = {name: users for name in host_names(size)}
        self.initial_keys = dict(initial_keys or {})
        self.ready_timeout = ready_timeout
        self.hosts_per_process = max(1, int(hosts_per_process))
        self.inventory_path = os.path.join(self.workdir, "inventory.yml")
        self.processes = []
        self.ports = {}  # host -> the port of the process serving it

    @property
    def hosts(self):
        return host_names(self.size)

    def groups(self):
        """[(first host number, count)]: the hosts each server process serves."""
        return [(first, min(self.hosts_per_process, self.size - first + 1))
                for first in range(1, self.size + 1, self.hosts_per_process)]

    def credentials_path(self, name):
        return os.path.join(self.workdir, "hosts", name, "etc", "credentials")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        for name in self.hosts:
            os.makedirs(os.path.join(self.workdir, "hosts", name, "run"), exist_ok=True)
            key = self.initial_keys.get(self.users[name])
            if key:
                _atomic_write(self.credentials_path(name), credentials_text(*key))
        os.makedirs(os.path.join(self.workdir, "logs"), exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        started = []
        for first, count in self.groups():
            path = server_file(self.workdir, first)
            if os.path.exists(path):
                os.unlink(path)
            with open(os.path.join(self.workdir, "logs", "server-%d.log" % first), "ab") as out:
                process = subprocess.Popen(  # pylint: disable=consider-using-with
                    [_venv_python(), os.path.abspath(__file__), "serve", "--workdir", self.workdir, "--first", str(first),
                     "--count", str(count), "--endpoint-url", self.endpoint_url, "--region", self.region],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env, start_new_session=True)
            self.processes.append(process)
            started.append((first, count, process, path))
        deadline = time.monotonic() + self.ready_timeout
        for first, count, process, path in started:
            while not os.path.exists(path):
                if process.poll() is not None:
                    self.stop()
                    raise LightFleetError("the light fleet's server for host%d.. exited (%s); see %s" % (
                        first, process.returncode, os.path.join(self.workdir, "logs", "server-%d.log" % first)))
                if time.monotonic() > deadline:
                    self.stop()
                    raise LightFleetError("the light fleet's servers were not ready after %ds" % self.ready_timeout)
                time.sleep(0.05)
            with open(path) as handle:
                port = json.load(handle)["port"]
            self.ports.update({name: port for name in host_names(count, first)})
        return self

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self.processes = []

    def host_vars(self, name):
        return host_vars(self.workdir, name, self.ports[name], self.users[name])

    def write_inventory(self, path=None):
        """A JSON inventory (valid YAML too), group rotor_fleet; returns its path."""
        path = os.path.abspath(path or self.inventory_path)
        hosts = {name: self.host_vars(name) for name in self.hosts}
        _atomic_write(path, json.dumps({"all": {"children": {"rotor_fleet": {"hosts": hosts}}}}, indent=1) + "\n", 0o644)
        self.inventory_path = path
        return path

    def health(self, timeout=120):
        """{host: report} like Fleet.health(): every consumer checks its key now (a real STS call each)."""
        reports = {}
        for port in sorted(set(self.ports.values())):
            url = "http://127.0.0.1:%d/_fleet/health" % port
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    reports.update(json.loads(response.read()))
            except (OSError, ValueError) as exc:
                reports.update({name: {"healthy": False, "access_key_id": None, "error": str(exc)}
                                for name, served_by in self.ports.items() if served_by == port})
        return reports

    def read_credentials(self, name):
        from fleet.consumer import load_credentials  # pylint: disable=import-outside-toplevel
        return load_credentials(self.credentials_path(name))[:2]


# --------------------------------------------------------------------------- a server (one process per group of hosts)

def make_consumers(workdir, names, endpoint_url, region):
    """{host: Consumer} sharing one botocore session (clients are created under a lock)."""
    import botocore.session  # pylint: disable=import-outside-toplevel
    from botocore.config import Config  # pylint: disable=import-outside-toplevel
    from fleet.consumer import Consumer  # pylint: disable=import-outside-toplevel

    session = botocore.session.Session()
    session_lock = threading.Lock()
    config = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 1})

    class SharedSessionConsumer(Consumer):
        """tests/fleet's consumer, its STS client made from the process's one botocore session."""

        def _client(self, access_key_id, secret, token):
            with session_lock:
                return session.create_client("sts", region_name=self.region, endpoint_url=self.endpoint_url,
                                             aws_access_key_id=access_key_id, aws_secret_access_key=secret,
                                             aws_session_token=token, config=config)

    consumers = {}
    for name in names:
        consumer = SharedSessionConsumer(os.path.join(workdir, "hosts", name, "etc", "credentials"), "aws_credentials",
                                         "default", endpoint_url, region,
                                         health_log=os.path.join(workdir, "hosts", name, "run", "health.jsonl"))
        consumer.load()
        consumers[name] = consumer
    return consumers


def route(path):
    """('hostN', 'health'|'key'|'reload') or ('_fleet', 'health') from a request path, or (None, None)."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None, None
    return parts[0], parts[1]


def make_handler(consumers):
    import http.server  # pylint: disable=import-outside-toplevel

    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "rotor-bench-light-fleet/1"

        def _send(self, status, payload):
            data = (payload if isinstance(payload, str) else json.dumps(payload)) + "\n"
            data = data.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if isinstance(payload, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            host, what = route(self.path)
            if host == "_fleet" and what == "health":
                with concurrent.futures.ThreadPoolExecutor(16) as pool:
                    reports = dict(zip(consumers, pool.map(lambda c: c.health(), consumers.values())))
                for report in reports.values():
                    report["healthy"] = bool(report.get("healthy"))
                self._send(200, reports)
            elif host in consumers and what == "health":
                report = consumers[host].answer("http")
                self._send(200 if report["healthy"] else 503, report)
            elif host in consumers and what == "key":
                self._send(200, consumers[host].access_key_id or "")
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            host, what = route(self.path)
            if host in consumers and what == "reload":
                consumers[host].reload()
                self._send(200, {"access_key_id": consumers[host].access_key_id})
            else:
                self._send(404, {"error": "not found"})

        def log_message(self, *args):  # pylint: disable=arguments-differ
            pass

    return Handler


def serve(argv):
    import http.server  # pylint: disable=import-outside-toplevel

    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--first", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args(argv)
    consumers = make_consumers(args.workdir, host_names(args.count, args.first), args.endpoint_url, args.region)

    class Server(http.server.ThreadingHTTPServer):
        # listen()'s backlog, used by the constructor (setting it on the made server changes nothing: the default 5
        # reset connections when 4 slices x 50 forks restarted and checked their hosts at once)
        request_queue_size = 1024
        daemon_threads = True

    server = Server(("127.0.0.1", 0), make_handler(consumers))
    parent = os.getppid()

    def watch_parent():  # the benchmark died without stopping us: stop too
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch_parent, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    _atomic_write(server_file(args.workdir, args.first),
                  json.dumps({"port": server.server_address[1], "pid": os.getpid()}), 0o644)
    sys.stderr.write("light fleet: host%d.. (%d hosts) on 127.0.0.1:%d\n" % (args.first, args.count, server.server_address[1]))
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1:]))
