"""Helpers for the end-to-end rotation tests (test_rotate_e2e.py).

Run the real playbook ``rotor.iam.rotate`` against the test IAM endpoint and a
test fleet, and observe what matters afterwards: keys in IAM, files on hosts,
consumer health. No mocks: everything here reads real state.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))

# pylint: disable=wrong-import-position,unused-import
from support import IAM_LAG_SECONDS, IAM_WRITES, key_statuses, seed_user, wait_until_accepted  # noqa: E402,F401
from support import PlaybookProcess, PlaybookResult, ansible_env, ansible_playbook, rotor_vars, spawn_playbook  # noqa: E402,F401
from support import assert_no_secrets as assert_no_secrets_anywhere  # noqa: E402

PLAYBOOK = "rotor.iam.rotate"
from support import PLAYBOOK_TIMEOUT  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
RotationRun = PlaybookResult  # one result class for every run
RotationProcess = PlaybookProcess


def playbook_env(endpoint) -> Dict[str, str]:
    """The caller's environment without AWS settings, plus the endpoint's admin credentials."""
    return ansible_env(endpoint)


def spawn_rotation(endpoint, inventories: Iterable[str], workdir: Path, extra_vars: Optional[Dict[str, object]] = None,
                   **options) -> PlaybookProcess:
    """Start ansible-playbook rotor.iam.rotate over ``inventories`` with admin credentials in the environment
    (support.spawn_playbook: extra variables through a 0600 vars file, call counters reset unless ``reset_calls``
    is false, an ANSIBLE_LOG_PATH log, a short TMPDIR; check, diff, verbosity, label, env_extra, limit)."""
    variables = dict(rotor_vars(endpoint), **(extra_vars or {}))
    options.setdefault("timeout", PLAYBOOK_TIMEOUT)
    return spawn_playbook(PLAYBOOK, workdir, endpoint=endpoint, inventories=inventories, extra_vars=variables, **options)


def run_rotation(endpoint, inventories: Iterable[str], workdir: Path, **options) -> PlaybookResult:
    """Run ansible-playbook rotor.iam.rotate to the end (see spawn_rotation for the options)."""
    return spawn_rotation(endpoint, inventories, workdir, **options).wait()


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


def assert_no_secrets(run: PlaybookResult, secrets: Dict[str, str]) -> None:
    """None of ``secrets`` ({label: secret}) appears in stdout, stderr, the log or the TMPDIR of ``run``."""
    assert_no_secrets_anywhere(run, secrets)


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
