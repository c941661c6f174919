"""Helpers for the end-to-end rotation tests (test_rotate_e2e.py).

Run the real playbook ``rotor.iam.rotate`` against the test IAM endpoint and a
test fleet, and observe what matters afterwards: keys in IAM, files on hosts,
consumer health. No mocks: everything here reads real state.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))

from harness import ansible_env, assert_no_leaks, leaks_in_texts  # noqa: E402

# AWS propagates every key change with a lag (new, deactivated, reactivated, deleted); the test endpoint
# does too, a few seconds each, unless a test is about something else. ROTOR_TEST_IAM_LAG overrides it.
IAM_LAG_SECONDS = float(os.environ.get("ROTOR_TEST_IAM_LAG", "2"))

PLAYBOOK = "rotor.iam.rotate"
PLAYBOOK_TIMEOUT = 180
IAM_WRITES = ("CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey")


@dataclass
class RotationRun:
    """One ansible-playbook run: exit code, output and the ANSIBLE_LOG_PATH log."""

    command: List[str]
    returncode: int
    stdout: str
    stderr: str
    log: str
    log_path: Path
    seconds: float
    calls: Dict[str, int] = field(default_factory=dict)  # endpoint call counters during the run

    @property
    def everything(self) -> str:
        return "\n".join((self.stdout, self.stderr, self.log))

    def writes(self) -> Dict[str, int]:
        return {action: self.calls.get(action, 0) for action in IAM_WRITES}

    def explain(self) -> str:
        return (
            f"{' '.join(self.command)} exited {self.returncode} after {self.seconds:.1f}s; "
            f"log {self.log_path}\n--- stdout (tail)\n{self.stdout[-7000:]}\n--- stderr (tail)\n{self.stderr[-2000:]}"
        )


def ansible_playbook() -> str:
    return shutil.which("ansible-playbook", path=os.path.dirname(sys.executable)) or "ansible-playbook"


def playbook_env(endpoint) -> Dict[str, str]:
    """The caller's environment without AWS settings, plus the endpoint's admin credentials."""
    return ansible_env(endpoint)


class RotationProcess:
    """A running ``ansible-playbook rotor.iam.rotate``: wait for it, or SIGKILL it mid-run."""

    def __init__(self, endpoint, command, env, workdir: Path, label: str, log_path: Path):
        self.endpoint, self.command, self.workdir, self.label, self.log_path = endpoint, command, workdir, label, log_path
        self.stdout_path, self.stderr_path = workdir / f"{label}.stdout", workdir / f"{label}.stderr"
        self.began = time.monotonic()
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            # Its own process group, so a kill takes the forked workers and their modules with it.
            self.process = subprocess.Popen(  # pylint: disable=consider-using-with
                command, env=env, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL the whole run (ansible-playbook and its workers), as a cancelled job or a dead controller would."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def running(self) -> bool:
        return self.process.poll() is None

    def wait(self, timeout: float = PLAYBOOK_TIMEOUT) -> RotationRun:
        try:
            returncode = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            returncode = self.process.wait(10)
        seconds = time.monotonic() - self.began
        calls = self.endpoint.calls()["calls"]
        log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return RotationRun(self.command, returncode, self.stdout_path.read_text(errors="replace"),
                           self.stderr_path.read_text(errors="replace"), log, self.log_path, seconds, calls)


def spawn_rotation(
    endpoint,
    inventories: Iterable[str],
    workdir: Path,
    extra_vars: Optional[Dict[str, object]] = None,
    check: bool = False,
    verbosity: int = 0,
    diff: bool = False,
    label: str = "run",
    env_extra: Optional[Dict[str, str]] = None,
    reset_calls: bool = True,
    limit: Optional[str] = None,
) -> RotationProcess:
    """Start ansible-playbook rotor.iam.rotate over ``inventories`` with admin credentials in the environment.

    Extra variables go through a JSON vars file; the endpoint's call counters are reset
    just before the run (unless ``reset_calls`` is false) and read when it is waited for.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    variables = {"rotor_aws_endpoint_url": endpoint.endpoint_url, "rotor_aws_region": endpoint.region}
    variables.update(extra_vars or {})
    vars_file = workdir / f"{label}.vars.json"
    vars_file.write_text(json.dumps(variables))
    log_path = workdir / f"{label}.ansible.log"
    if log_path.exists():
        log_path.unlink()
    command = [ansible_playbook(), PLAYBOOK]
    for inventory in inventories:
        command += ["-i", str(inventory)]
    command += ["-e", f"@{vars_file}"]
    if limit:
        command += ["--limit", limit]
    if check:
        command.append("--check")
    if diff:
        command.append("--diff")
    if verbosity:
        command.append("-" + "v" * verbosity)
    env = playbook_env(endpoint)
    env["ANSIBLE_LOG_PATH"] = str(log_path)
    env.update(env_extra or {})
    if reset_calls:
        endpoint.reset_calls()
    return RotationProcess(endpoint, command, env, workdir, label, log_path)


def run_rotation(endpoint, inventories: Iterable[str], workdir: Path, **options) -> RotationRun:
    """Run ansible-playbook rotor.iam.rotate to the end (see spawn_rotation for the options)."""
    return spawn_rotation(endpoint, inventories, workdir, **options).wait()


# --------------------------------------------------------------------------- IAM


def seed_user(endpoint, user_name: str, age_days: float = 120) -> Tuple[str, str]:
    """Create an IAM user whose only key is ``age_days`` old; returns (access_key_id, secret)."""
    iam = endpoint.boto3_client("iam")
    iam.create_user(UserName=user_name)
    key = iam.create_access_key(UserName=user_name)["AccessKey"]
    if age_days:
        endpoint.backdate(user_name, key["AccessKeyId"], age_days)
    return key["AccessKeyId"], key["SecretAccessKey"]


def wait_until_accepted(endpoint, access_key_id: str, timeout: Optional[float] = None) -> None:
    """Wait out a new key's propagation, as the rotation does before relying on it: until the endpoint
    accepts a request signed with it (asked of the endpoint, so the key records no use). A test that signs
    with a key it has just created calls this first; on a loaded machine the lag outlasts the test's setup."""
    lag = float(endpoint.config().get("new_key_propagation_seconds", IAM_LAG_SECONDS))
    deadline = time.monotonic() + (lag + 30 if timeout is None else timeout)
    while not endpoint.accepted(access_key_id):
        if time.monotonic() > deadline:
            raise AssertionError(f"{access_key_id} is still rejected: {endpoint.key_view(access_key_id)['reason']}")
        time.sleep(0.1)


def key_statuses(endpoint, user_name: str) -> Dict[str, str]:
    """The user's keys in IAM as {access_key_id: status}."""
    iam = endpoint.boto3_client("iam")
    return {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"]}


# --------------------------------------------------------------------------- hosts


@dataclass(frozen=True)
class FileState:
    content: bytes
    mtime_ns: int
    mode: str
    uid: int
    gid: int


def file_states(fleet) -> Dict[str, FileState]:
    """Every host's credentials file: bytes, mtime (ns), mode, owner."""
    states = {}
    for name in fleet.hosts:
        path = fleet.credentials_file(name)
        st = os.stat(path)
        states[name] = FileState(Path(path).read_bytes(), st.st_mtime_ns, "%04o" % (st.st_mode & 0o7777), st.st_uid, st.st_gid)
    return states


def credentials_dir_files(fleet, name: str) -> List[Path]:
    """Every file in the directory of the host's credentials file (backups and temp files included)."""
    directory = Path(fleet.credentials_file(name)).parent
    return sorted(p for p in directory.iterdir() if p.is_file())


def files_holding(fleet, secret: str) -> List[str]:
    """Files on any host, in the credentials directory, that contain ``secret``."""
    found = []
    for name in fleet.hosts:
        for path in credentials_dir_files(fleet, name):
            if secret.encode() in path.read_bytes():
                found.append(str(path))
    return found


def assert_hosts_on_key(fleet, access_key_id: str, hosts: Optional[Iterable[str]] = None) -> None:
    """Each host's file holds ``access_key_id`` (mode 0600, owned by us) and its consumer is healthy on it."""
    hosts = list(hosts or fleet.hosts)
    health = fleet.health()
    problems = []
    for name in hosts:
        file_key = fleet.read_credentials(name)[0]
        st = fleet.stat(name)
        report = health[name]
        if file_key != access_key_id:
            problems.append(f"{name}: file holds {file_key}, expected {access_key_id}")
        if st["mode"] != "0600":
            problems.append(f"{name}: file mode {st['mode']}, expected 0600")
        if (st["uid"], st["gid"]) != (os.getuid(), os.getgid()):
            problems.append(f"{name}: file owned by {st['uid']}:{st['gid']}")
        if not report.get("healthy"):
            problems.append(f"{name}: consumer unhealthy: {report.get('error')}")
        if report.get("access_key_id") != access_key_id:
            problems.append(f"{name}: consumer runs on {report.get('access_key_id')}, expected {access_key_id}")
    assert not problems, "hosts not on key %s:\n  %s" % (access_key_id, "\n  ".join(problems))


def write_host_overrides(path: Path, host_vars: Dict[str, Dict[str, object]], group: str = "rotor_fleet") -> str:
    """A second inventory (JSON is YAML) that overrides variables of some hosts; pass it after the fleet's."""
    inventory = {"all": {"children": {group: {"hosts": host_vars}}}}
    Path(path).write_text(json.dumps(inventory, indent=2) + "\n")
    return str(path)


def assert_no_secrets(run: RotationRun, secrets: Dict[str, str]) -> None:
    """None of ``secrets`` ({label: secret}) appears in stdout, stderr or the log of ``run``."""
    texts = {"stdout": run.stdout, "stderr": run.stderr, "log": run.log}
    assert_no_leaks(leaks_in_texts(texts, secrets), f"the output of the run ({run.log_path})")


class KeyWatcher:
    """Calls ``action()`` once, from a thread, as soon as ``host``'s credentials file stops holding ``key_id``."""

    def __init__(self, fleet, host: str, key_id: str, action, interval: float = 0.02):
        self.fleet, self.host, self.key_id, self.action, self.interval = fleet, host, key_id, action, interval
        self.fired = threading.Event()
        self.error: Optional[BaseException] = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self._stop.is_set():
            try:
                current = self.fleet.read_credentials(self.host)[0]
            except Exception:  # pylint: disable=broad-except  # mid-replace: try again
                current = self.key_id
            if current != self.key_id:
                try:
                    self.action()
                except BaseException as exc:  # pylint: disable=broad-except
                    self.error = exc
                self.fired.set()
                return
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)
