#!/usr/bin/env python
"""A fleet of N hosts on this one machine, for integration tests, demos and benchmarks.

Every host has a directory WORKDIR/hosts/hostN/ holding its credentials file
(etc/credentials) and a consumer application (consumer.py) that uses the key
in that file and reports through HTTP whether the key works.

Modes:
  local  hosts are reached with ansible_connection=local; each consumer reads
         WORKDIR/hosts/hostN/etc/credentials directly.
  ssh    one sshd per host on 127.0.X.N:2222, each in its own mount namespace
         where WORKDIR/hosts/hostN/ is mounted at /srv/rotor-fleet, so the
         same path holds a different file on every host.

Python API (see Fleet) and a CLI: up / down / status.  Standard library only.
Secrets never appear in command lines, logs or output.
"""

import argparse
import atexit
import concurrent.futures
import contextlib
import fcntl
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

try:
    from . import consumer as _consumer
    from . import unknown as _unknown
except ImportError:  # run as a script
    import consumer as _consumer
    import unknown as _unknown

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CONSUMER_SCRIPT = os.path.join(HERE, "consumer.py")
LAUNCH_SCRIPT = os.path.join(HERE, "launch_host.sh")

COMMON_ROOT = "/srv/rotor-fleet"      # where every ssh host sees its own directory
CONSUMER_PORT = 18080
SSH_PORT = 2222
SSHD = "/usr/sbin/sshd"
# One place for every session's claims, whatever its TMPDIR: the addresses are the machine's, not a session's.
CLAIMS_DIR = os.environ.get("ROTOR_FLEET_CLAIMS_DIR", "/tmp/rotor-fleet-claims")
STATE_FILE = "fleet.json"
MAX_SIZE = 250                        # hosts share one 127.0.X.0/24
MODES = ("local", "ssh")


class FleetError(RuntimeError):
    """The fleet could not be started, reached or stopped as asked."""


# --------------------------------------------------------------------------- processes

def _proc_starttime(pid):
    """Start time of a live (non-zombie) process, or None."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def _alive(pid, starttime=None):
    current = _proc_starttime(pid)
    return current is not None and (starttime is None or current == starttime)


def _mount_ns(pid):
    try:
        return os.readlink("/proc/%s/ns/mnt" % pid)
    except OSError:
        return None


def _pids_by_mount_ns(namespaces):
    found = {ns: [] for ns in namespaces}
    if not found:
        return found
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            ns = _mount_ns(entry)
            if ns in found and _proc_starttime(int(entry)) is not None:
                found[ns].append(int(entry))
    return found


def _exe(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return None


def _ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _signal(pid, sig, group=False):
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _clean_env():
    """Environment for fleet processes: no AWS settings of the caller leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    return env


def _http_get(url, timeout):
    """(status, body text) or (None, error text)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, "%s: %s" % (type(reason).__name__, reason)


def _ssh_banner(address, port, timeout=1.0):
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            ok = sock.recv(64).startswith(b"SSH-")
            if ok:  # identify ourselves, or sshd logs an error for the probe
                sock.sendall(b"SSH-2.0-rotor-fleet-probe\r\n")
            return ok
    except OSError:
        return False


def _port_free(address, port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


def _tail(path, lines=20):
    try:
        with open(path, errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return ""


def _atomic_write(path, text, mode=0o600):
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --------------------------------------------------------------------------- formats

def format_credentials(access_key_id, secret, fmt="aws_credentials", profile="default"):
    if fmt == "aws_credentials":
        return "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (
            profile, access_key_id, secret)
    if fmt == "env":
        return "AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n" % (access_key_id, secret)
    if fmt == "json":
        return json.dumps({"AccessKeyId": access_key_id, "SecretAccessKey": secret}, indent=2) + "\n"
    raise FleetError("unknown credentials format %r" % fmt)


def to_yaml(value, indent=0):
    """A small YAML emitter for inventories (dicts, lists, str, int, bool)."""
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        out = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                out.append("%s%s:\n%s" % (pad, key, to_yaml(item, indent + 2)))
            else:
                out.append("%s%s: %s\n" % (pad, key, _yaml_scalar(item)))
        return "".join(out)
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        out = []
        for item in value:
            if isinstance(item, (dict, list)) and item:
                body = to_yaml(item, indent + 2)
                out.append(pad + "- " + body[indent + 2:])
            else:
                out.append("%s- %s\n" % (pad, _yaml_scalar(item)))
        return "".join(out)
    return pad + _yaml_scalar(value) + "\n"


def _yaml_scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return json.dumps(str(value))  # a JSON string is a valid double-quoted YAML scalar


# --------------------------------------------------------------------------- addresses

@contextlib.contextmanager
def _claims_lock():
    os.makedirs(CLAIMS_DIR, exist_ok=True)
    with open(os.path.join(CLAIMS_DIR, ".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _claim_path(net):
    return os.path.join(CLAIMS_DIR, "127.0.%d.json" % net)


def _claim_is_live(net):
    try:
        with open(_claim_path(net)) as handle:
            claim = json.load(handle)
        return _alive(claim["owner"], claim.get("owner_start"))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _claim_net(workdir, size, ports, wanted=None):
    """Pick a free 127.0.X.0/24 for the fleet (X = wanted, else the first free from 1)."""
    candidates = [wanted] if wanted is not None else range(1, 255)
    with _claims_lock():
        for net in candidates:
            if _claim_is_live(net):
                continue
            if all(_port_free("127.0.%d.%d" % (net, i), port)
                   for i in range(1, size + 1) for port in ports):
                claim = {"owner": os.getpid(), "owner_start": _proc_starttime(os.getpid()),
                         "workdir": workdir}
                _atomic_write(_claim_path(net), json.dumps(claim), 0o644)
                return net
    raise FleetError("no free address range 127.0.X.1-%d for ports %s%s" % (
        size, ports, "" if wanted is None else " (asked for X=%d)" % wanted))


def _release_net(net, workdir):
    with _claims_lock():
        try:
            with open(_claim_path(net)) as handle:
                claim = json.load(handle)
            if claim.get("workdir") == workdir:
                os.unlink(_claim_path(net))
        except (OSError, ValueError):
            pass


# --------------------------------------------------------------------------- hosts

class Host:
    """One host of the fleet; paths `*_path` are as the host sees them."""

    def __init__(self, fleet, index, user):
        self.index = index
        self.name = "host%d" % index
        self.user = user
        self.address = "127.0.%d.%d" % (fleet.net, index)
        self.dir = os.path.join(fleet.workdir, "hosts", self.name)   # on the real filesystem
        self.root = COMMON_ROOT if fleet.mode == "ssh" else self.dir  # as the host sees it
        self.credentials_path = os.path.join(self.root, "etc", "credentials")
        self.pidfile_path = os.path.join(self.root, "run", "consumer.pid")
        self.real_credentials = os.path.join(self.dir, "etc", "credentials")
        self.real_pidfile = os.path.join(self.dir, "run", "consumer.pid")
        # Under the host's directory, so ssh hosts (bind mount) and we see the same file.
        self.health_log_path = os.path.join(self.root, "run", "health.jsonl")
        self.real_health_log = os.path.join(self.dir, "run", "health.jsonl")
        self.ignore_reload_path = os.path.join(self.root, "run", "ignore-reload")
        self.real_ignore_reload = os.path.join(self.dir, "run", "ignore-reload")
        self.consumer_url = "http://%s:%d" % (self.address, CONSUMER_PORT)
        self.ssh_dir = os.path.join(fleet.workdir, "ssh", self.name)
        self.sshd_config = os.path.join(self.ssh_dir, "sshd_config")
        self.consumer_log = os.path.join(fleet.workdir, "logs", "%s-consumer.log" % self.name)
        self.sshd_log = os.path.join(fleet.workdir, "logs", "%s-sshd.log" % self.name)
        self.launcher_log = os.path.join(fleet.workdir, "logs", "%s-launcher.log" % self.name)

    def __repr__(self):
        return "<Host %s %s>" % (self.name, self.address)


class Fleet:
    """A fleet of `size` hosts (host1..hostN) in `workdir`.

    users:        one IAM user name for every host, or {"hostN": user}.
    initial_keys: {user: (access_key_id, secret_access_key)} written to each
                  host's credentials file at start.
    net:          X of the 127.0.X.N addresses; default: the first free one.
    self_check_interval: seconds between the consumers' own background health
                  checks (each one a health-log entry with source "self");
                  None or 0: none unless set_self_check() turns them on.
    """

    def __init__(self, workdir, size, mode="local", endpoint_url=None, region="us-east-1",
                 users=None, initial_keys=None, credentials_format="aws_credentials",
                 profile="default", net=None, python=None, pipelining=True, ready_timeout=None,
                 self_check_interval=None):
        if mode not in MODES:
            raise FleetError("mode must be one of %s, not %r" % (MODES, mode))
        if not 1 <= int(size) <= MAX_SIZE:
            raise FleetError("size must be 1..%d" % MAX_SIZE)
        if credentials_format not in _consumer.FORMATS:
            raise FleetError("unknown credentials format %r" % credentials_format)
        self.workdir = os.path.abspath(workdir)
        self.size = int(size)
        self.mode = mode
        self.endpoint_url = endpoint_url
        self.region = region
        self.credentials_format = credentials_format
        self.profile = profile
        self.python = python or self._default_python()
        self.pipelining = pipelining
        self.ready_timeout = ready_timeout or 20 + self.size * 0.5
        self.self_check_interval = float(self_check_interval or 0)
        if not 0 <= self.self_check_interval < float("inf"):
            raise FleetError("self_check_interval must be seconds >= 0")
        self.users = self._users_by_host(users)
        self._initial_keys = dict(initial_keys or {})
        self._wanted_net = net
        self.net = net
        self._hosts = {}
        self._procs = []          # {"role", "host", "pid", "start", "group"}
        self._popens = {}
        self._namespaces = {}     # host -> mount namespace id (ssh mode)
        self._blocked = set()
        self._started = False
        self._owner = os.getpid()
        self.inventory_path = os.path.join(self.workdir, "inventory.yml")

    # ---------------------------------------------------------------- setup helpers

    @staticmethod
    def _default_python():
        venv = os.path.join(REPO, ".venv", "bin", "python")
        return venv if os.path.exists(venv) else sys.executable

    def _users_by_host(self, users):
        names = ["host%d" % i for i in range(1, self.size + 1)]
        if users is None or isinstance(users, str):
            return {name: users for name in names}
        missing = [name for name in names if name not in users]
        if missing:
            raise FleetError("users has no entry for %s" % ", ".join(missing))
        return {name: users[name] for name in names}

    @property
    def hosts(self):
        """Host names, host1..hostN."""
        return ["host%d" % i for i in range(1, self.size + 1)]

    def host(self, name):
        try:
            return self._hosts[name]
        except KeyError:
            raise FleetError("no host %r in this fleet (started: %s)" % (name, self._started))

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return "<Fleet %s mode=%s size=%d net=%s started=%s>" % (
            self.workdir, self.mode, self.size, self.net, self._started)

    # ---------------------------------------------------------------- start

    def start(self):
        if self._started:
            return self
        if not self.endpoint_url:
            raise FleetError("endpoint_url is required")
        if self.mode == "ssh":
            ensure_sshd()
            os.makedirs(COMMON_ROOT, exist_ok=True)
        for sub in ("hosts", "logs", "ssh"):
            os.makedirs(os.path.join(self.workdir, sub), exist_ok=True)
        ports = (CONSUMER_PORT, SSH_PORT) if self.mode == "ssh" else (CONSUMER_PORT,)
        self.net = _claim_net(self.workdir, self.size, ports, self._wanted_net)
        self._owner = os.getpid()
        self._procs, self._popens, self._namespaces, self._blocked = [], {}, {}, set()
        self._started = True
        atexit.register(self.stop)
        try:
            self._hosts = {name: Host(self, i, self.users[name])
                           for i, name in enumerate(self.hosts, 1)}
            for host in self._hosts.values():
                for sub in ("etc", "run"):
                    os.makedirs(os.path.join(host.dir, sub), exist_ok=True)
                for stale in (host.real_pidfile, host.real_health_log, host.real_ignore_reload):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(stale)
                key = self._initial_keys.get(host.user)
                if key is not None:
                    self.write_credentials(host.name, key[0], key[1])
            if self.mode == "ssh":
                self._prepare_ssh()
            self._spawn_watchdog()
            for host in self._hosts.values():      # fast sequential start ...
                self._launch(host)
            self._save_state()
            self._wait_all(self._hosts.values())   # ... and wait for all in parallel
            if self.mode == "ssh":
                self._record_namespaces()
            self._save_state()
        except BaseException:
            self.stop()
            raise
        return self

    def _prepare_ssh(self):
        ssh_dir = os.path.join(self.workdir, "ssh")
        self.client_key = os.path.join(ssh_dir, "id_ed25519")
        if not os.path.exists(self.client_key):
            _keygen(self.client_key, "rotor-fleet-client")
        authorized = os.path.join(ssh_dir, "authorized_keys")
        with open(self.client_key + ".pub") as handle:
            _atomic_write(authorized, handle.read(), 0o600)
        for host in self._hosts.values():
            os.makedirs(host.ssh_dir, exist_ok=True)
            host_key = os.path.join(host.ssh_dir, "ssh_host_ed25519_key")
            if not os.path.exists(host_key):
                _keygen(host_key, "rotor-fleet-" + host.name)
            config = "\n".join([
                "# sshd of fleet host %s" % host.name,
                "ListenAddress %s:%d" % (host.address, SSH_PORT),
                "AddressFamily inet",
                "HostKey %s" % host_key,
                "PidFile none",
                "AuthorizedKeysFile %s" % authorized,
                "PermitRootLogin prohibit-password",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "UseDNS no",
                "MaxStartups 200:30:400",
                "MaxSessions 100",
                "LogLevel ERROR",
                "Subsystem sftp internal-sftp",
                "",
            ])
            _atomic_write(host.sshd_config, config, 0o600)

    def _consumer_argv(self, host):
        return [self.python, CONSUMER_SCRIPT,
                "--credentials", host.credentials_path,
                "--format", self.credentials_format,
                "--profile", self.profile,
                "--listen", "%s:%d" % (host.address, CONSUMER_PORT),
                "--endpoint-url", self.endpoint_url,
                "--region", self.region,
                "--pidfile", host.pidfile_path,
                "--health-log", host.health_log_path,
                "--ignore-reload-flag", host.ignore_reload_path,
                "--self-check-interval", repr(self.self_check_interval)]

    def _popen(self, argv, log, role, host):
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                    env=_clean_env(), start_new_session=True, close_fds=True)
        self._popens[proc.pid] = proc
        self._procs.append({"role": role, "host": host, "pid": proc.pid,
                            "start": _proc_starttime(proc.pid), "group": True})
        return proc

    def _launch(self, host):
        if self.mode == "local":
            self._popen(self._consumer_argv(host), host.consumer_log, "consumer", host.name)
        else:
            argv = ["unshare", "--mount", "--propagation", "private", "--",
                    "/bin/sh", LAUNCH_SCRIPT, host.dir, COMMON_ROOT, host.sshd_config,
                    host.sshd_log, host.consumer_log] + self._consumer_argv(host)
            self._popen(argv, host.launcher_log, "launcher", host.name)

    def _spawn_watchdog(self):
        """A helper process that stops the fleet if its owner dies without stop()."""
        argv = [sys.executable, os.path.abspath(__file__), "_watchdog", "--workdir", self.workdir,
                "--owner", str(self._owner)]
        self._popen(argv, os.path.join(self.workdir, "logs", "watchdog.log"), "watchdog", None)

    def _launcher(self, name):
        for proc in self._procs:
            if proc["host"] == name and proc["role"] == "launcher" and _alive(proc["pid"], proc["start"]):
                return proc
        return None

    def _host_dead_reason(self, host):
        """Why a host cannot become ready (its first process died), or None."""
        role = "launcher" if self.mode == "ssh" else "consumer"
        procs = [p for p in self._procs if p["host"] == host.name and p["role"] == role]
        if procs and not any(_alive(p["pid"], p["start"]) for p in procs):
            logs = [host.launcher_log, host.consumer_log, host.sshd_log]
            return "%s of %s exited:\n%s" % (role, host.name, "".join(_tail(path, 10) for path in logs))
        return None

    def _wait_ready(self, host, need_ssh, need_consumer=True):
        deadline = time.monotonic() + self.ready_timeout
        consumer_ok = not need_consumer
        ssh_ok = not need_ssh
        while True:
            if not consumer_ok:
                consumer_ok = _http_get(host.consumer_url + "/key", timeout=5)[0] == 200
            if not ssh_ok:
                ssh_ok = _ssh_banner(host.address, SSH_PORT)
            if consumer_ok and ssh_ok:
                return
            reason = self._host_dead_reason(host)
            if reason:
                raise FleetError(reason)
            if time.monotonic() > deadline:
                raise FleetError("%s not ready after %.0fs (consumer %s, sshd %s); logs in %s" % (
                    host.name, self.ready_timeout, consumer_ok, ssh_ok,
                    os.path.join(self.workdir, "logs")))
            time.sleep(0.05)

    def _wait_all(self, hosts, need_ssh=None, need_consumer=True):
        hosts = list(hosts)
        need_ssh = self.mode == "ssh" if need_ssh is None else need_ssh
        workers = max(1, min(len(hosts), 32))
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(self._wait_ready, host, need_ssh, need_consumer) for host in hosts]
            for future in futures:
                future.result()

    def _record_namespaces(self):
        own = {_mount_ns("self"), _mount_ns(1)}
        for name in self.hosts:
            launcher = self._launcher(name)
            ns = _mount_ns(launcher["pid"]) if launcher else None
            if ns is None or ns in own:
                raise FleetError("%s is not in a private mount namespace" % name)
            self._namespaces[name] = ns

    # ---------------------------------------------------------------- stop

    def stop(self):
        """Kill every process the fleet started (and everything inside its hosts' namespaces)."""
        if not self._started:
            return
        me = os.getpid()
        procs = [p for p in self._procs if p["pid"] != me]
        # The watchdog first, so that it does not race with us.
        procs.sort(key=lambda p: p["role"] != "watchdog")
        # Empty each host's namespace while its launcher still pins it, then stop the launchers: a namespace's number
        # is reused by the kernel once its last process is gone, and a scan by that number would then kill another
        # fleet's host.
        deadline = time.monotonic() + 5
        for sig in (signal.SIGTERM, signal.SIGKILL):
            while True:
                inside = {pid for name in self._namespaces for pid in self._namespace_pids(name)} - {me}
                for pid in inside:
                    _signal(pid, sig)
                if not inside or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            if not inside:
                break
            deadline = time.monotonic() + 3
        deadline = time.monotonic() + 5
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for proc in procs:
                if _alive(proc["pid"], proc["start"]):
                    _signal(proc["pid"], sig, group=proc["group"])
            while time.monotonic() < deadline:
                self._reap()
                if not any(_alive(p["pid"], p["start"]) for p in procs):
                    break
                time.sleep(0.05)
            else:
                deadline = time.monotonic() + 3
                continue
            break
        self._reap()
        self._started = False
        self._namespaces = {}
        self._blocked = set()
        if self.net is not None:
            _release_net(self.net, self.workdir)
        self._save_state(running=False)
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)

    def _reap(self):
        for pid, proc in list(self._popens.items()):
            if proc.poll() is not None:
                del self._popens[pid]

    # ---------------------------------------------------------------- state

    def _save_state(self, running=True):
        state = {
            "running": running, "mode": self.mode, "size": self.size, "net": self.net,
            "workdir": self.workdir, "endpoint_url": self.endpoint_url, "region": self.region,
            "credentials_format": self.credentials_format, "profile": self.profile,
            "python": self.python, "pipelining": self.pipelining,
            "self_check_interval": self.self_check_interval,
            "owner": self._owner, "owner_start": _proc_starttime(self._owner),
            "users": self.users, "procs": self._procs if running else [],
            "namespaces": self._namespaces, "blocked": sorted(self._blocked),
            "inventory": self.inventory_path,
        }
        _atomic_write(os.path.join(self.workdir, STATE_FILE), json.dumps(state, indent=2) + "\n", 0o644)

    @classmethod
    def load(cls, workdir):
        """The fleet running in `workdir` (started by another process), for status and stop."""
        path = os.path.join(os.path.abspath(workdir), STATE_FILE)
        try:
            with open(path) as handle:
                state = json.load(handle)
        except (OSError, ValueError) as exc:
            raise FleetError("no fleet state in %s: %s" % (workdir, exc))
        fleet = cls(state["workdir"], state["size"], state["mode"], state["endpoint_url"],
                    state["region"], users=state["users"],
                    credentials_format=state["credentials_format"], profile=state["profile"],
                    net=state["net"], python=state["python"], pipelining=state["pipelining"],
                    self_check_interval=state.get("self_check_interval"))
        fleet.net = state["net"]
        fleet._owner = state["owner"]
        fleet._procs = state["procs"]
        fleet._namespaces = state["namespaces"]
        fleet._blocked = set(state["blocked"])
        fleet._started = bool(state["running"])
        fleet.inventory_path = state.get("inventory", fleet.inventory_path)
        fleet._hosts = {name: Host(fleet, i, fleet.users[name]) for i, name in enumerate(fleet.hosts, 1)}
        if fleet.mode == "ssh":
            fleet.client_key = os.path.join(fleet.workdir, "ssh", "id_ed25519")
        return fleet

    @property
    def running(self):
        return self._started

    # ---------------------------------------------------------------- inventory

    def host_vars(self, name):
        host = self.host(name)
        if self.mode == "local":
            connection = {"ansible_connection": "local"}
        else:
            connection = {
                "ansible_host": host.address,
                "ansible_port": SSH_PORT,
                "ansible_user": "root",
                "ansible_ssh_private_key_file": self.client_key,
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
            }
            if self.pipelining:
                connection["ansible_pipelining"] = True
        hostvars = dict(connection)
        hostvars["ansible_python_interpreter"] = "/usr/bin/python3"
        hostvars["rotor_credentials_files"] = [{
            "path": host.credentials_path,
            "format": self.credentials_format,
            "profile": self.profile,
            "mode": "0600",
        }]
        hostvars["rotor_restart_command"] = "kill -HUP $(cat %s)" % shlex.quote(host.pidfile_path)
        hostvars["rotor_health_check"] = {
            "url": host.consumer_url + "/health", "status_code": 200, "retries": 5, "delay": 1}
        if host.user:
            hostvars["rotor_iam_user"] = host.user
        hostvars["fleet_consumer_url"] = host.consumer_url
        return hostvars

    def inventory(self):
        hosts = {name: self.host_vars(name) for name in self.hosts}
        return {"all": {"children": {"rotor_fleet": {"hosts": hosts}}}}

    def write_inventory(self, path=None):
        """Write the YAML inventory (group rotor_fleet) and return its path."""
        path = os.path.abspath(path or self.inventory_path)
        header = "# rotor.iam test fleet: %d %s hosts in %s (generated by tests/fleet/fleet.py)\n" % (
            self.size, self.mode, self.workdir)
        _atomic_write(path, header + to_yaml(self.inventory()), 0o644)
        self.inventory_path = path
        return path

    # ---------------------------------------------------------------- observation

    def health(self, timeout=10):
        """{host: {"healthy": bool, "access_key_id": str|None, ...}} asked of each consumer."""
        def ask(host):
            status, body = _http_get(host.consumer_url + "/health", timeout)
            if status is None:
                return {"healthy": False, "access_key_id": None, "error": body}
            try:
                report = json.loads(body)
            except ValueError:
                return {"healthy": False, "access_key_id": None,
                        "error": "HTTP %s: %s" % (status, body[:200])}
            report["healthy"] = bool(report.get("healthy")) and status == 200
            return report

        hosts = [self.host(name) for name in self.hosts]
        with concurrent.futures.ThreadPoolExecutor(max(1, min(len(hosts), 32))) as pool:
            reports = list(pool.map(ask, hosts))
        return {host.name: report for host, report in zip(hosts, reports)}

    def start_unknown_consumer(self, name, access_key_id, secret_access_key, interval=1.0):
        """A consumer outside the inventory that signs with the key every `interval` seconds
        (tests/fleet/unknown.py), under WORKDIR/unknown/NAME; stopped with the fleet."""
        unknown = _unknown.UnknownConsumer(self.workdir, name, self.endpoint_url, access_key_id, secret_access_key,
                                           interval=interval, region=self.region, python=self.python, popen=self._popen)
        unknown.start()
        self._save_state()
        return unknown

    def loaded_key(self, name, timeout=5):
        """The key id the host's consumer has loaded (GET /key), or None if it does not answer."""
        status, body = _http_get(self.host(name).consumer_url + "/key", timeout)
        return body.strip() or None if status == 200 else None

    def health_log(self, name, since=None, source=None):
        """The host's logged health answers, oldest first: dicts with "time" (ISO, UTC),
        "epoch", "source" ("http" or "self"), "healthy", "status" (200/503),
        "access_key_id", "error" (None when healthy), "generation", "arn".

        since: only answers at or after this time.time(); source: "http" or "self".
        Kept across consumer restarts; emptied by start() and clear_health_log().
        """
        entries = []
        try:
            with open(self.host(name).real_health_log, encoding="utf-8") as handle:
                lines = handle.readlines()
        except FileNotFoundError:
            return entries
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line being written right now
            if since is not None and entry.get("epoch", 0) < since:
                continue
            if source is not None and entry.get("source") != source:
                continue
            entries.append(entry)
        return entries

    def unhealthy_answers(self, host=None, since=None, source=None):
        """The unhealthy entries of health_log() of `host` (None: every host, by time),
        each with "host" added."""
        names = self.hosts if host is None else [self.host(host).name]
        found = []
        for name in names:
            for entry in self.health_log(name, since=since, source=source):
                if not entry.get("healthy"):
                    entry["host"] = name
                    found.append(entry)
        found.sort(key=lambda entry: entry.get("epoch", 0))
        return found

    def clear_health_log(self, host=None):
        """Empty the health log of `host` (None: every host)."""
        for name in self.hosts if host is None else [host]:
            path = self.host(name).real_health_log
            if os.path.exists(path):
                with open(path, "w"):
                    pass  # the consumer appends (O_APPEND), so truncating in place is safe

    def ignore_reload(self, name, ignore=True):
        """Make the host's consumer ignore SIGHUP (keep its loaded key, log that it
        ignored the reload) while `ignore` is true; a consumer start still loads the file."""
        path = self.host(name).real_ignore_reload
        if ignore:
            _atomic_write(path, "rotor fleet: the consumer ignores SIGHUP while this file exists\n",
                          0o644)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def is_ignoring_reload(self, name):
        return os.path.exists(self.host(name).real_ignore_reload)

    def set_self_check(self, host=None, interval=1.0):
        """Set the background self-check interval of `host`'s consumer (None: every host);
        0 turns it off. Lasts until that consumer restarts (then: self_check_interval)."""
        names = self.hosts if host is None else [host]
        for name in names:
            url = "%s/self-check?interval=%s" % (self.host(name).consumer_url, float(interval))
            request = urllib.request.Request(url, data=b"", method="POST")
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    response.read()
            except urllib.error.HTTPError as exc:
                raise FleetError("%s: self-check: HTTP %d %s" % (
                    name, exc.code, exc.read().decode("utf-8", "replace").strip()))
            except OSError as exc:
                raise FleetError("%s: self-check: %s" % (name, exc))

    def self_check_interval_of(self, name):
        """The consumer's current self-check interval (seconds; 0: off), or None if it does not answer."""
        status, body = _http_get(self.host(name).consumer_url + "/self-check", 5)
        if status != 200:
            return None
        return json.loads(body).get("interval")

    def read_consumer_log(self, name):
        """The host's consumer log (loads, reloads, ignored reloads; never a secret)."""
        try:
            with open(self.host(name).consumer_log, errors="replace") as handle:
                return handle.read()
        except FileNotFoundError:
            return ""

    def credentials_file(self, name):
        """Path of the host's credentials file on the real filesystem."""
        return self.host(name).real_credentials

    def read_credentials(self, name):
        """(access_key_id, secret_access_key) from the host's credentials file."""
        try:
            access_key_id, secret = _consumer.load_credentials(
                self.credentials_file(name), self.credentials_format, self.profile)[:2]
        except _consumer.CredentialsError as exc:
            raise FleetError(str(exc))
        return access_key_id, secret

    def stat(self, name):
        """{"mode": "0600", "uid", "gid", "size", "mtime"} of the host's credentials file."""
        st = os.stat(self.credentials_file(name))
        return {"mode": "%04o" % (st.st_mode & 0o7777), "uid": st.st_uid, "gid": st.st_gid,
                "size": st.st_size, "mtime": st.st_mtime}

    def write_credentials(self, name, access_key_id, secret, reload=False):
        """Replace the host's credentials file (0600); with reload, make its consumer reload it."""
        text = format_credentials(access_key_id, secret, self.credentials_format, self.profile)
        _atomic_write(self.credentials_file(name), text, 0o600)
        if reload:
            self.reload(name)

    def consumer_pid(self, name):
        pid = _read_pid(self.host(name).real_pidfile)
        return pid if pid and _alive(pid) else None

    def reload(self, name, wait=True):
        """SIGHUP the host's consumer (what rotor_restart_command does)."""
        pid = self.consumer_pid(name)
        if pid is None:
            raise FleetError("%s has no running consumer" % name)
        os.kill(pid, signal.SIGHUP)
        if wait:  # the reload is synchronous in the consumer; a request after it sees the new key
            _http_get(self.host(name).consumer_url + "/key", 5)

    # ---------------------------------------------------------------- faults

    def stop_consumer(self, name):
        """Stop the host's consumer (its health check then fails)."""
        pid = self.consumer_pid(name)
        if pid is None:
            return
        _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.02)
        if _alive(pid):
            _signal(pid, signal.SIGKILL)
        self._reap()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.host(name).real_pidfile)

    def start_consumer(self, name):
        """Start the host's consumer again (it loads the current credentials file)."""
        host = self.host(name)
        if self.consumer_pid(name) is not None:
            return
        if self.mode == "local":
            self._popen(self._consumer_argv(host), host.consumer_log, "consumer", name)
        else:
            self._popen(self._nsenter(name) + self._consumer_argv(host), host.consumer_log,
                        "consumer", name)
        self._save_state()
        self._wait_all([host], need_ssh=False)

    def _nsenter(self, name):
        launcher = self._launcher(name)
        if launcher is None:
            raise FleetError("%s: its namespace is gone" % name)
        return ["nsenter", "--target", str(launcher["pid"]), "--mount", "--"]

    def _namespace_pids(self, name):
        """Processes in the host's mount namespace, the launcher excepted; none once the launcher is gone (the
        namespace's number may then belong to another fleet's host)."""
        ns, launcher = self._namespaces.get(name), self._launcher(name)
        if not ns or launcher is None:
            return []
        pids = _pids_by_mount_ns([ns])[ns]
        # Read after the scan: a launcher alive in the namespace then pinned it during the scan.
        if not _alive(launcher["pid"], launcher["start"]) or _mount_ns(launcher["pid"]) != ns:
            return []
        return [pid for pid in pids if pid != launcher["pid"]]

    def _sshd_pids(self, name):
        """sshd of the host and every process below it (its login sessions)."""
        pids = self._namespace_pids(name)
        sshd = {pid for pid in pids if _exe(pid) == SSHD}
        parents = {pid: _ppid(pid) for pid in pids}
        found = set(sshd)
        changed = True
        while changed:
            changed = False
            for pid, parent in parents.items():
                if pid not in found and parent in found:
                    found.add(pid)
                    changed = True
        return sorted(found)

    def block(self, name):
        """Make the host unreachable: ssh mode stops its sshd (and open sessions),
        local mode stops its consumer. The host's files stay as they are."""
        self.host(name)
        if self.mode == "ssh":
            for sig in (signal.SIGTERM, signal.SIGKILL):
                for pid in self._sshd_pids(name):
                    _signal(pid, sig)
                deadline = time.monotonic() + 3
                while self._sshd_pids(name) and time.monotonic() < deadline:
                    time.sleep(0.02)
                if not self._sshd_pids(name):
                    break
        else:
            self.stop_consumer(name)
        self._blocked.add(name)
        self._save_state()

    def unblock(self, name):
        """Undo block(): the host is reachable (and healthy, if its key works) again."""
        host = self.host(name)
        if self.mode == "ssh":
            if not self._sshd_pids(name):
                self._popen(self._nsenter(name) + [SSHD, "-D", "-f", host.sshd_config, "-E", host.sshd_log],
                            host.launcher_log, "sshd", name)
            self._wait_all([host], need_ssh=True, need_consumer=False)
        else:
            self.start_consumer(name)
        self._blocked.discard(name)
        self._save_state()

    def is_blocked(self, name):
        return name in self._blocked

    # ---------------------------------------------------------------- ansible

    def ansible_env(self):
        env = dict(os.environ)
        env.setdefault("ANSIBLE_HOST_KEY_CHECKING", "False")
        env.setdefault("ANSIBLE_RETRY_FILES_ENABLED", "False")
        env.setdefault("ANSIBLE_NOCOLOR", "1")
        env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(REPO, ".build", "collections"))
        return env

    def ansible(self, module, args=None, forks=None, pattern="rotor_fleet", extra=(), timeout=300):
        """Run an ad-hoc `ansible` over the inventory; returns subprocess.CompletedProcess."""
        if not os.path.exists(self.inventory_path):
            self.write_inventory()
        argv = [_tool("ansible"), "-i", self.inventory_path, pattern, "-m", module,
                "-f", str(forks or min(self.size, 50))]
        if args is not None:
            argv += ["-a", args]
        argv += list(extra)
        return subprocess.run(argv, env=self.ansible_env(), capture_output=True, text=True,
                              timeout=timeout, cwd=self.workdir, check=False)

    def ping_seconds(self, forks=None):
        """Seconds taken by `ansible -m ping` over the whole fleet (raises if a host fails)."""
        began = time.monotonic()
        result = self.ansible("ping", forks=forks)
        elapsed = time.monotonic() - began
        if result.returncode != 0:
            raise FleetError("ansible -m ping failed (rc %d):\n%s%s" % (
                result.returncode, result.stdout[-3000:], result.stderr[-2000:]))
        return elapsed


def _tool(name):
    venv = os.path.join(REPO, ".venv", "bin", name)
    return venv if os.path.exists(venv) else (shutil.which(name) or name)


def _keygen(path, comment):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path],
                   check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def ensure_sshd():
    """Install openssh-server when sshd is missing (Debian)."""
    if os.path.exists(SSHD) and shutil.which("ssh-keygen") and shutil.which("ssh"):
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (["apt-get", "update", "-qq"],
                 ["apt-get", "install", "-y", "-qq", "openssh-server", "openssh-client"]):
        result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise FleetError("%s failed:\n%s" % (" ".join(argv), result.stderr[-2000:]))
    if not os.path.exists(SSHD):
        raise FleetError("openssh-server installed but %s is missing" % SSHD)


# --------------------------------------------------------------------------- CLI

def _read_secret(args):
    if args.secret_file:
        if args.secret_file == "-":
            return sys.stdin.readline().strip()
        with open(args.secret_file) as handle:
            return handle.read().strip()
    return os.environ.get(args.secret_env, "").strip()


def _read_pid(path):
    try:
        with open(path) as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def _cli_keys(args):
    """users and initial_keys from the CLI arguments (secrets only from files or env)."""
    keys = {}
    if args.keys_file:
        with open(args.keys_file) as handle:
            for user, value in json.load(handle).items():
                if isinstance(value, dict):
                    value = (value.get("access_key_id") or value.get("AccessKeyId"),
                             value.get("secret_access_key") or value.get("SecretAccessKey"))
                keys[user] = tuple(value)
    if args.key_id:
        if not args.user:
            raise FleetError("--key-id needs --user")
        secret = _read_secret(args)
        if not secret:
            raise FleetError("no secret: give --secret-file F or set $%s" % args.secret_env)
        keys[args.user] = (args.key_id, secret)
    users = args.user
    if args.host_user:
        users = {"host%d" % i: args.user for i in range(1, args.size + 1)}
        for item in args.host_user:
            host, sep, user = item.partition("=")
            if not sep or host not in users:
                raise FleetError("--host-user wants hostN=USER with N in 1..%d, got %r" % (args.size, item))
            users[host] = user
    return users, keys


def _supervise(config, ready=None):
    """Run a fleet until SIGTERM/SIGINT; `ready` (a file) gets one line when up."""
    fleet = Fleet(config["workdir"], config["size"], config["mode"], config["endpoint_url"],
                  config["region"], users=config["users"],
                  initial_keys={u: tuple(k) for u, k in config["keys"].items()},
                  credentials_format=config["format"], net=config.get("net"),
                  self_check_interval=config.get("self_check_interval"))
    stopping = []

    def on_signal(signum, frame):
        stopping.append(signum)
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    pidfile = os.path.join(fleet.workdir, "fleet.pid")
    try:
        try:
            fleet.start()
            fleet.write_inventory()
            _atomic_write(pidfile, "%d\n" % os.getpid(), 0o644)
        except Exception as exc:
            if ready:
                ready.write("ERROR %s\n" % exc)
                ready.flush()
            raise
        if ready:
            ready.write("READY %s\n" % fleet.inventory_path)
            ready.flush()
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fleet.stop()
        if _read_pid(pidfile) == os.getpid():
            with contextlib.suppress(OSError):
                os.unlink(pidfile)
    return 0


def _print_status(fleet, out=sys.stdout):
    reports = fleet.health()
    rows = [("HOST", "ADDRESS", "USER", "KEY ID", "HEALTHY", "NOTE")]
    for name in fleet.hosts:
        report = reports[name]
        note = "blocked" if fleet.is_blocked(name) else (report.get("error") or "")
        rows.append((name, fleet.host(name).address, fleet.users[name] or "-",
                     report.get("access_key_id") or "-", "yes" if report["healthy"] else "no",
                     note[:70]))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n")
    return reports


def main(argv=None):
    parser = argparse.ArgumentParser(description="rotor.iam test fleet on one machine")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start a fleet in the background and write WORKDIR/inventory.yml")
    up.add_argument("--workdir", required=True)
    up.add_argument("--size", type=int, default=3)
    up.add_argument("--mode", choices=MODES, default="local")
    up.add_argument("--endpoint-url", required=True)
    up.add_argument("--region", default="us-east-1")
    up.add_argument("--user", help="IAM user of every host (unless --host-user)")
    up.add_argument("--host-user", action="append", metavar="hostN=USER", help="per-host IAM user")
    up.add_argument("--key-id", help="initial access key id of --user")
    up.add_argument("--secret-file", help="file holding the secret of --key-id ('-': stdin)")
    up.add_argument("--secret-env", default="ROTOR_FLEET_SECRET_ACCESS_KEY",
                    help="environment variable holding the secret if no --secret-file (default %(default)s)")
    up.add_argument("--keys-file", help='JSON {user: {"access_key_id", "secret_access_key"}}')
    up.add_argument("--format", choices=_consumer.FORMATS, default="aws_credentials")
    up.add_argument("--net", type=int, help="use addresses 127.0.NET.N (default: first free)")
    up.add_argument("--self-check-interval", type=float, default=0, metavar="SECONDS",
                    help="consumers check their health every SECONDS in the background (default 0: off)")
    up.add_argument("--foreground", action="store_true", help="stay in the foreground until Ctrl-C")

    down = sub.add_parser("down", help="stop the fleet in WORKDIR")
    down.add_argument("--workdir", required=True)

    status = sub.add_parser("status", help="print host / key id / healthy")
    status.add_argument("--workdir", required=True)
    status.add_argument("--json", action="store_true", help="print health() as JSON")
    status.add_argument("--check", action="store_true", help="exit 1 unless every host is healthy")

    supervise = sub.add_parser("_supervise")  # internal: reads its config (with secrets) on stdin
    supervise.add_argument("--workdir", required=True)

    watchdog = sub.add_parser("_watchdog")    # internal: stops the fleet when its owner dies
    watchdog.add_argument("--workdir", required=True)
    watchdog.add_argument("--owner", type=int, required=True)

    args = parser.parse_args(argv)
    try:
        return {"up": _cmd_up, "down": _cmd_down, "status": _cmd_status,
                "_supervise": _cmd_supervise, "_watchdog": _cmd_watchdog}[args.command](args)
    except FleetError as exc:
        sys.stderr.write("fleet: %s\n" % exc)
        return 1


def _cmd_up(args):
    workdir = os.path.abspath(args.workdir)
    users, keys = _cli_keys(args)
    config = {"workdir": workdir, "size": args.size, "mode": args.mode,
              "endpoint_url": args.endpoint_url, "region": args.region, "users": users,
              "keys": keys, "format": args.format, "net": args.net,
              "self_check_interval": args.self_check_interval}
    pid = _read_pid(os.path.join(workdir, "fleet.pid"))
    if pid and _alive(pid):
        raise FleetError("a fleet is already up in %s (down it first)" % workdir)
    if args.foreground:
        return _supervise(config, sys.stdout)
    os.makedirs(os.path.join(workdir, "logs"), exist_ok=True)
    with open(os.path.join(workdir, "logs", "fleet.log"), "ab") as log:
        # The config holds secrets: it goes through a pipe, never argv or the environment.
        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "_supervise",
                                 "--workdir", workdir],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                start_new_session=True, close_fds=True)
    proc.stdin.write(json.dumps(config).encode())
    proc.stdin.close()
    line = proc.stdout.readline().decode().strip()
    proc.stdout.close()
    if not line.startswith("READY "):
        proc.wait(timeout=30)
        raise FleetError("fleet did not come up: %s\n%s" % (
            line or "supervisor exited", _tail(os.path.join(workdir, "logs", "fleet.log"))))
    fleet = Fleet.load(workdir)
    print("fleet up: %d %s hosts, inventory %s (supervisor pid %d)" % (
        fleet.size, fleet.mode, fleet.inventory_path, proc.pid))
    _print_status(fleet)
    return 0


def _cmd_supervise(args):
    config = json.loads(sys.stdin.read())
    # Report readiness through the pipe, then let go of it.
    ready = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    try:
        return _supervise(config, _OneShot(ready))
    finally:
        with contextlib.suppress(OSError):
            ready.close()


class _OneShot:
    """A file that closes after its first line (so `up` stops reading)."""

    def __init__(self, handle):
        self.handle = handle

    def write(self, text):
        if not self.handle.closed:
            self.handle.write(text)
            self.handle.close()

    def flush(self):
        pass


def _cmd_down(args):
    workdir = os.path.abspath(args.workdir)
    pidfile = os.path.join(workdir, "fleet.pid")
    pid = _read_pid(pidfile)
    if pid and _alive(pid):
        _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    # Whatever the supervisor left (or if it died): stop from the recorded state.
    with contextlib.suppress(FleetError):
        fleet = Fleet.load(workdir)
        if fleet.running:
            fleet.stop()
    with contextlib.suppress(OSError):
        os.unlink(pidfile)
    print("fleet in %s is down" % workdir)
    return 0


def _cmd_status(args):
    fleet = Fleet.load(args.workdir)
    if not fleet.running:
        print("fleet in %s is down" % fleet.workdir)
        return 2
    if args.json:
        reports = fleet.health()
        print(json.dumps(reports, indent=2, sort_keys=True))
    else:
        reports = _print_status(fleet)
    return 1 if args.check and not all(r["healthy"] for r in reports.values()) else 0


def _cmd_watchdog(args):
    owner_start = _proc_starttime(args.owner)
    state_path = os.path.join(os.path.abspath(args.workdir), STATE_FILE)
    while _alive(args.owner, owner_start):
        time.sleep(1)
    try:
        with open(state_path) as handle:
            state = json.load(handle)
    except (OSError, ValueError):
        return 0
    if state.get("running") and state.get("owner") == args.owner:
        sys.stderr.write("watchdog: owner %d is gone; stopping the fleet\n" % args.owner)
        Fleet.load(args.workdir).stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
