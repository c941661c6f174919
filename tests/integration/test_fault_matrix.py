"""The fault matrix: a rotation hit by one fault, then run again, loses nothing.

Each case seeds an IAM user with a 120-day-old key used by a real fleet, runs
``ansible-playbook rotor.iam.rotate`` with one fault (IAM endpoint fault injection,
a SIGKILLed controller, an unreachable host, a failing application, a rival run),
then runs the rotation again without the fault. A monitor thread watches IAM and
every host's credentials file during both runs. Afterwards:

- the user has at most two keys at every moment, and exactly one key at the end;
- every host holds that key, it is Active, and the host's consumer is healthy on it;
- no key is left that no host holds (no orphan), and the old key is gone;
- at no moment was a host's key deleted or Inactive while the host held it (the old key is
  retired only after every host moved);
- no secret (old or new) appears at -vvvv, in --diff output, ANSIBLE_LOG_PATH, ansible-runner's
  job events and artifacts (the second run of every case is an ansible-runner job, as AWX runs it),
  the fact cache, retry files, or files left in the controller's or the hosts' temporary directories.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from rotation_helpers import (  # noqa: E402  pylint: disable=wrong-import-position
    IAM_LAG_SECONDS,
    KeyWatcher,
    RotationRun,
    assert_hosts_on_key,
    assert_no_secrets,
    key_statuses,
    seed_user,
    spawn_rotation,
    write_host_overrides,
)
from fleet.fleet import Fleet, FleetError, ensure_sshd  # noqa: E402  pylint: disable=wrong-import-position
from support import assert_no_leaks, job_envvars, leaks_in_files, run_runner_job, short_tmpdir  # noqa: E402  pylint: disable=wrong-import-position
from support.fleets import free_net  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.slow

USER = "fault-app"
# Fast settings for the test endpoint, where nothing is eventually consistent unless asked to be.
FAST = {"rotor_lock_settle_seconds": 0.5, "rotor_verify_timeout": 30}


# --------------------------------------------------------------------------- the watcher of invariants


class InvariantMonitor:
    """Polls IAM (admin client) and every host's file; records moments that break the invariants."""

    def __init__(self, endpoint, fleet, user: str, interval: float = 0.1):
        self.iam = endpoint.boto3_client("iam")
        self.fleet, self.user, self.interval = fleet, user, interval
        self.violations: List[str] = []
        self.max_keys = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)

    def host_keys(self) -> Dict[str, str]:
        keys = {}
        for name in self.fleet.hosts:
            try:
                keys[name] = self.fleet.read_credentials(name)[0]
            except (FleetError, OSError):  # mid-replace: read it next time
                pass
        return keys

    def problems(self) -> List[str]:
        held = self.host_keys()  # files first: IAM is then at least as new as the files
        keys = {k["AccessKeyId"]: k["Status"] for k in self.iam.list_access_keys(UserName=self.user)["AccessKeyMetadata"]}
        self.max_keys = max(self.max_keys, len(keys))
        found = [f"{len(keys)} keys in IAM" for dummy in [1] if len(keys) > 2]
        for host, key_id in held.items():
            if keys.get(key_id) != "Active":
                found.append(f"{host} holds {key_id}, which IAM has as {keys.get(key_id, 'deleted')}")
        return found

    def watch(self):
        while not self.stopped.is_set():
            try:
                seen = self.problems()
                if seen:
                    time.sleep(0.3)  # a true violation outlasts the gap between reading files and IAM
                    confirmed = [p for p in self.problems() if p in seen]
                    self.violations.extend(f"{time.strftime('%H:%M:%S')} {p}" for p in confirmed)
            except Exception as exc:  # pylint: disable=broad-except  # the endpoint is busy; look again
                if "Throttling" not in str(exc) and "InternalFailure" not in str(exc):
                    self.violations.append(f"monitor error: {exc}")
            time.sleep(self.interval)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(10)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def matrix_endpoint(iam_endpoint):
    """The session's endpoint (tests/integration/conftest.py); each case resets it."""
    return iam_endpoint


class Case:
    """One matrix case: endpoint, fleet, runs (all at -vvvv --diff, with fact cache and retry files on)."""

    def __init__(self, endpoint, tmp_path: Path, size: int = 3, mode: str = "local", batch_size=None, users=None,
                 self_check_interval=None):
        endpoint.reset()
        self.endpoint, self.tmp = endpoint, tmp_path
        self.old_id, self.old_secret = seed_user(endpoint, USER, 120)
        initial_keys = {USER: (self.old_id, self.old_secret)}
        for other in sorted(set((users or {}).values()) - {USER}):
            initial_keys[other] = seed_user(endpoint, other, 120)
        self.initial_keys = initial_keys
        self.fleet = Fleet(str(tmp_path / "fleet"), size, mode=mode, endpoint_url=endpoint.endpoint_url,
                           region=endpoint.region, users=users or USER, initial_keys=initial_keys,
                           self_check_interval=self_check_interval, net=free_net(size, mode))
        self.fleet.start()
        self.fleet.write_inventory()
        for user, (key_id, _secret) in initial_keys.items():
            assert_hosts_on_key(self.fleet, key_id, [h for h in self.fleet.hosts if self.fleet.users[h] == user])
        self.inventories = [self.fleet.inventory_path]
        self.extra_vars = dict(FAST)
        if batch_size:
            self.extra_vars["rotor_batch_size"] = batch_size
        self.runs = []
        self.job_artifacts = []
        self.numbers = iter(range(1, 20))
        for name in ("facts", "retry", "remote-tmp"):
            (tmp_path / name).mkdir()
        self.local_tmp = short_tmpdir()  # ansible-core 2.21 opens a Unix socket under TMPDIR: 107 bytes at most

    def env(self) -> Dict[str, str]:
        return {
            "ANSIBLE_CACHE_PLUGIN": "ansible.builtin.jsonfile",
            "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(self.tmp / "facts"),
            "ANSIBLE_RETRY_FILES_ENABLED": "true",
            "ANSIBLE_RETRY_FILES_SAVE_PATH": str(self.tmp / "retry"),
            "ANSIBLE_LOCAL_TEMP": str(self.local_tmp),
            "ANSIBLE_REMOTE_TEMP": str(self.tmp / "remote-tmp"),
            # Python's own temporary files (module payloads of a killed run, ...) land where the scan looks too.
            "TMPDIR": str(self.local_tmp),
        }

    def spawn(self, extra_vars=None, inventories=(), reset_calls=True, check=False, limit=None):
        variables = dict(self.extra_vars, **(extra_vars or {}))
        return spawn_rotation(self.endpoint, self.inventories + list(inventories), self.tmp / "runs",
                              extra_vars=variables, verbosity=4, diff=True, label=f"run{next(self.numbers)}",
                              env_extra=self.env(), reset_calls=reset_calls, check=check, limit=limit)

    def run(self, **options):
        result = self.spawn(**options).wait()
        self.runs.append(result)
        return result

    def run_as_job(self) -> RotationRun:
        """The rotation as AWX runs it: ansible-runner over a private data dir, at -vvvv --diff.

        The admin key reaches the job in a 0600 credentials file (AWX's file injector); the
        environment only names it. Job events and every other artifact are scanned for secrets.
        """
        pdd = self.tmp / f"job{next(self.numbers)}"
        (pdd / "project").mkdir(parents=True)
        (pdd / "env").mkdir()
        (pdd / "inventory").mkdir()
        (pdd / "project" / "rotate.yml").write_text("---\n- name: Rotate\n  ansible.builtin.import_playbook: rotor.iam.rotate\n")
        for number, inventory in enumerate(self.inventories):
            shutil.copy(inventory, pdd / "inventory" / f"{number}-{Path(inventory).name}")
        credentials = pdd / "aws_credentials"
        descriptor = os.open(credentials, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(f"[default]\naws_access_key_id = {self.endpoint.admin_access_key_id}\n"
                         f"aws_secret_access_key = {self.endpoint.admin_secret_access_key}\n")
        envvars = dict(job_envvars(self.endpoint, AWS_SHARED_CREDENTIALS_FILE=str(credentials)), **self.env())
        (pdd / "env" / "envvars").write_text(json.dumps(envvars))
        extravars = dict(self.extra_vars, rotor_aws_endpoint_url=self.endpoint.endpoint_url, rotor_aws_region=self.endpoint.region)
        (pdd / "env" / "extravars").write_text(json.dumps(extravars))
        (pdd / "env" / "cmdline").write_text("-vvvv --diff")
        result = run_runner_job(pdd, "rotate.yml", "finish", self.endpoint, timeout=600)
        self.runs.append(result)
        self.job_artifacts.append(result.artifact_dir)
        assert any(result.artifact_dir.glob("job_events/*.json")), f"ansible-runner wrote no job events: {result.cli_output[-2000:]}"
        return result

    def keep(self, process):
        result = process.wait()
        self.runs.append(result)
        return result

    def hosts_off_the_old_key(self) -> List[str]:
        return sorted(h for h in self.fleet.hosts if self.fleet.read_credentials(h)[0] != self.old_id)

    def kill_once_hosts_moved(self, count: int = 2) -> RotationRun:
        """Start a rotation and SIGKILL it as soon as ``count`` hosts hold the new key."""
        process = self.spawn()
        wait_for(lambda: len(self.hosts_off_the_old_key()) >= count or not process.running(), what=f"{count} hosts on the new key")
        process.kill()
        return self.keep(process)

    def stop(self):
        self.fleet.stop()

    # ------------------------------------------------------------------ the invariants

    def assert_invariants(self, monitor: InvariantMonitor):
        keys = key_statuses(self.endpoint, USER)
        assert len(keys) == 1, f"expected exactly one key after the second run (no orphan, old key gone): {keys}"
        (new_id, status), = keys.items()
        assert status == "Active"
        assert new_id != self.old_id, "the rotation did not happen"
        assert_hosts_on_key(self.fleet, new_id)
        assert monitor.max_keys <= 2
        assert not monitor.violations, "invariants broken during the runs:\n  " + "\n  ".join(monitor.violations[:20])
        journal = {t["Key"]: t["Value"] for t in self.endpoint.boto3_client("iam").list_user_tags(UserName=USER)["Tags"]}
        # Completion clears the journal with the lock (one UntagUser); IAM shows it: one key, the new one.
        assert journal.get("rotor:phase") in (None, "completed") and not journal.get("rotor:pending"), journal
        assert not any(name.startswith("rotor:lock") for name in journal), f"lock left behind: {journal}"
        return new_id

    def assert_no_secret_anywhere(self):
        secrets = {"old secret": self.old_secret, "admin secret": self.endpoint.admin_secret_access_key}
        new_secret = self.fleet.read_credentials(self.fleet.hosts[0])[1]
        if new_secret != self.old_secret:
            secrets["new secret"] = new_secret
        for run in self.runs:
            assert_no_secrets(run, secrets)
        credentials_files = {Path(self.fleet.credentials_file(name)).resolve() for name in self.fleet.hosts}
        roots = [self.tmp / "facts", self.tmp / "retry", self.local_tmp, self.tmp / "remote-tmp", self.tmp / "runs",
                 Path(self.fleet.workdir)] + self.job_artifacts  # job events, runner's stdout and fact cache
        found = leaks_in_files(roots, secrets, skip=lambda path: path.resolve() in credentials_files or path.name.endswith(".vars.json"))
        assert_no_leaks(found, "files the runs left")


@pytest.fixture
def case(matrix_endpoint, tmp_path):
    made = []

    def make(**options):
        made.append(Case(matrix_endpoint, tmp_path, **options))
        return made[-1]

    yield make
    for each in made:
        each.stop()
    matrix_endpoint.clear_faults()
    matrix_endpoint.configure(propagation_seconds=IAM_LAG_SECONDS)


def finish_and_check(current, monitor, first):
    """The second run (no fault) completes the rotation; invariants and secrets hold."""
    current.endpoint.clear_faults()
    current.endpoint.configure(propagation_seconds=IAM_LAG_SECONDS)
    second = current.run_as_job()
    assert second.returncode == 0, f"first run:\n{first.explain()}\n\nsecond run:\n{second.explain()}"
    monitor.stopped.set()
    monitor.thread.join(10)
    current.assert_invariants(monitor)
    current.assert_no_secret_anywhere()
    return second


def final_failure_message(stdout: str) -> str:
    """The message of the run's last failed task (the one the operator reads last), ignored failures apart."""
    decoder, messages = json.JSONDecoder(), []
    for match in re.finditer(r"^fatal: \[[^\]]+\]: FAILED! => ", stdout, flags=re.M):
        result, end = decoder.raw_decode(stdout, match.end())
        if not stdout[end:end + 20].lstrip().startswith("...ignoring"):
            messages.append(result.get("msg"))
    assert messages, "the run printed no failure"
    return str(messages[-1])


def wait_for(condition, timeout=120, interval=0.05, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# --------------------------------------------------------------------------- cases: IAM faults


@pytest.mark.parametrize("action", ["CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey", "TagUser"])
def test_throttling_on_each_iam_write(case, action):
    """Throttling on the first three calls of one IAM write: retried, the first run completes."""
    current = case()
    current.endpoint.inject(action, "throttle", count=3)
    with InvariantMonitor(current.endpoint, current.fleet, USER) as monitor:
        first = current.run()
        assert first.returncode == 0, first.explain()
        assert current.endpoint.calls()["faulted"].get(action) == 3
        finish_and_check(current, monitor, first)


def test_5xx_on_create_access_key_until_the_run_gives_up(case):
    """CreateAccessKey answers 500 every time: the run fails before any host changes; the next run rotates."""
    current = case()
    current.endpoint.inject("CreateAccessKey", "5xx", count=50)
    with InvariantMonitor(current.endpoint, current.fleet, USER) as monitor:
        first = current.run()
        assert first.returncode != 0, first.explain()
        assert key_statuses(current.endpoint, USER) == {current.old_id: "Active"}, "an orphan key was left"
        assert_hosts_on_key(current.fleet, current.old_id)
        finish_and_check(current, monitor, first)


def test_5xx_on_create_access_key_then_recovery(case):
    """Two 500s on CreateAccessKey: reconciled and retried within the same run."""
    current = case()
    current.endpoint.inject("CreateAccessKey", "5xx", count=2)
    with InvariantMonitor(current.endpoint, current.fleet, USER) as monitor:
        first = current.run()
        assert first.returncode == 0, first.explain()
        finish_and_check(current, monitor, first)


def test_latency_past_the_client_timeout(case):
    """Deactivating the old key takes longer than the client waits: the call times out (IAM still
    carries it out); the run stops; the next run finds every host on the new key and finishes."""
    current = case()
    current.extra_vars["rotor_aws_config"] = {"read_timeout": 2, "connect_timeout": 2}
    current.endpoint.inject("UpdateAccessKey", "latency", count=1, delay=6)
    with InvariantMonitor(current.endpoint, current.fleet, USER) as monitor:
        first = current.run()
        assert first.returncode != 0, first.explain()
        assert "timeout" in first.stdout.lower() or "timed out" in first.stdout.lower(), first.explain()
        time.sleep(5)  # let the delayed call land
        finish_and_check(current, monitor, first)


def test_new_key_rejected_past_verify_timeout(case):
    """The new key is still rejected when rotor_verify_timeout runs out: deleted, no host touched."""
    current = case()
    current.endpoint.configure(new_key_propagation_seconds=60)
    with InvariantMonitor(current.endpoint, current.fleet, USER) as monitor:
        first = current.run(extra_vars={"rotor_verify_timeout": 4})
        assert first.returncode != 0, first.explain()
        # The run ends with one report that names the cause, after one rollback: no journal write is refused.
        final = final_failure_message(first.stdout)
        assert final.startswith(f"Rotation of {USER} rolled back: the new key AKIA"), first.explain()
        assert "was not accepted by AWS within rotor_verify_timeout=4s, so it was deleted and no host was touched" in final, final
        assert "IllegalTransition" not in first.stdout and "Refused to record" not in first.stdout, first.explain()
        assert key_statuses(current.endpoint, USER) == {current.old_id: "Active"}
        assert_hosts_on_key(current.fleet, current.old_id)
        finish_and_check(current, monitor, first)


# --------------------------------------------------------------------------- cases: a controller that dies


def test_sigkill_right_after_create(case):
    """SIGKILL once CreateAccessKey answered (the run is waiting for the key to propagate): the next run
    finds the pending key on no host, deletes it (its secret is gone) and rotates with a fresh one."""
    current = case()
    current.endpoint.configure(new_key_propagation_seconds=5)
    with InvariantMonitor(current.endpoint, current.fleet, USER) as monitor:
        process = current.spawn()
        wait_for(lambda: current.endpoint.call_count("CreateAccessKey") >= 1 or not process.running(), what="CreateAccessKey")
        process.kill()
        first = current.keep(process)
        assert first.returncode != 0, first.explain()
        keys = key_statuses(current.endpoint, USER)
        assert len(keys) == 2, f"the kill came too late or too early: {keys}"
        pending = next(k for k in keys if k != current.old_id)
        second = finish_and_check(current, monitor, first)
        assert pending not in key_statuses(current.endpoint, USER)
        # Killed before or after the journal recorded the pending key: either way it is found and replaced.
        assert "secret is lost" in second.stdout or "died before recording it" in second.stdout, second.explain()


def test_sigkill_right_after_the_new_key_is_verified(case):
    """SIGKILL once the run's verify has used the new key, before any host has it: the key now has a last use, and
    no host holds it. The journal's rotor:verified says the use was the run's own, so the next run replaces the key
    (its secret is lost) instead of refusing it as "used by something outside the inventory"."""
    current = case()
    iam = current.endpoint.boto3_client("iam")

    def used_new_keys():
        new_ids = [key for key in key_statuses(current.endpoint, USER) if key != current.old_id]
        return [key for key in new_ids if iam.get_access_key_last_used(AccessKeyId=key)["AccessKeyLastUsed"].get("LastUsedDate")]

    with InvariantMonitor(current.endpoint, current.fleet, USER) as monitor:
        process = current.spawn()
        wait_for(lambda: used_new_keys() or not process.running(), what="the new key's first use (its verify)")
        process.kill()
        first = current.keep(process)
        assert first.returncode != 0, first.explain()
        assert used_new_keys(), "the run ended before its verify used the new key"
        assert current.hosts_off_the_old_key() == [], "the kill came after distribution began"
        second = finish_and_check(current, monitor, first)
        assert "used only by that run's own verify: its secret is lost, so it is deleted and replaced" in second.stdout, second.explain()
        assert "outside the inventory" not in second.stdout


def test_sigkill_after_half_the_hosts(case):
    """One host per batch; SIGKILL once two of four hosts hold the new key: the next run recovers the new
    key from those hosts, moves the other two and finishes."""
    current = case(size=4, batch_size=1)
    with InvariantMonitor(current.endpoint, current.fleet, USER) as monitor:
        first = current.kill_once_hosts_moved(2)
        assert first.returncode != 0, first.explain()
        moved = current.hosts_off_the_old_key()
        assert 2 <= len(moved) < 4, f"hosts on the new key when killed: {moved}"
        pending = current.fleet.read_credentials(moved[0])[0]
        plan = current.run(check=True)
        assert plan.returncode == 0, plan.explain()
        assert "resuming run" in plan.stdout and f"already hold the new key {pending}" in plan.stdout, plan.explain()
        writes = {a: plan.calls.get(a, 0) for a in ("CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey", "TagUser", "UntagUser")}
        assert set(writes.values()) == {0}, f"check mode wrote to IAM: {writes}"
        second = finish_and_check(current, monitor, first)
        assert key_statuses(current.endpoint, USER) == {pending: "Active"}, "the recovered key was not the one kept"
        assert "recovered " + pending in second.stdout, second.explain()


def test_sigkill_after_deactivate(case):
    """SIGKILL while the deactivated old key drains: the next run waits out the rest and deletes it."""
    current = case()
    current.extra_vars["rotor_drain_seconds"] = 8
    iam = current.endpoint.boto3_client("iam")

    def old_inactive():
        keys = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=USER)["AccessKeyMetadata"]}
        return keys.get(current.old_id) == "Inactive"

    with InvariantMonitor(current.endpoint, current.fleet, USER) as monitor:
        process = current.spawn()
        wait_for(lambda: old_inactive() or not process.running(), interval=0.1, what="the old key to go Inactive")
        time.sleep(1)  # past the journal's cutover record, into the drain wait
        process.kill()
        first = current.keep(process)
        assert first.returncode != 0, first.explain()
        assert key_statuses(current.endpoint, USER).get(current.old_id) == "Inactive"
        finish_and_check(current, monitor, first)


# --------------------------------------------------------------------------- cases: hosts and applications


@pytest.mark.ssh
def test_host_unreachable_mid_rollout(case):
    """SSH fleet, one host per batch: host3 becomes unreachable once host1 moved. The run rolls back
    (host3 never got the key); the next run, with host3 back, rotates everything."""
    try:
        ensure_sshd()
    except (FleetError, OSError) as exc:
        pytest.skip(f"SSH fleet needs openssh-server: {exc}")
    current = case(mode="ssh", batch_size=1)
    with InvariantMonitor(current.endpoint, current.fleet, USER) as monitor:
        with KeyWatcher(current.fleet, "host1", current.old_id, lambda: current.fleet.block("host3")):
            first = current.run()
        assert first.returncode != 0, first.explain()
        assert "host3" in first.stdout
        current.fleet.unblock("host3")
        finish_and_check(current, monitor, first)


def test_health_check_failing_after_deactivate(case, tmp_path):
    """host2 runs a job that still uses the old key: its health check fails once the old key is Inactive.
    The old key is reactivated and every host restored; the next run (the job fixed) completes."""
    current = case()
    flag = tmp_path / "old-key-disabled"
    check = f"test ! -e {flag}"
    overrides = write_host_overrides(tmp_path / "host2.yml", {"host2": {"rotor_health_check": {"command": check, "retries": 2, "delay": 1}}})
    iam = current.endpoint.boto3_client("iam")
    stop = threading.Event()

    def job_on_old_key():  # the flag stands for "this host's job can no longer authenticate"
        while not stop.is_set():
            keys = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=USER)["AccessKeyMetadata"]}
            if keys.get(current.old_id) == "Inactive":
                flag.touch()
            elif flag.exists():
                flag.unlink()
            time.sleep(0.05)

    watcher = threading.Thread(target=job_on_old_key, daemon=True)
    watcher.start()
    with InvariantMonitor(current.endpoint, current.fleet, USER) as monitor:
        try:
            first = current.run(inventories=[overrides])
        finally:
            stop.set()
            watcher.join(5)
        assert first.returncode != 0, first.explain()
        assert "host2" in first.stdout and "after deactivating the old key" in first.stdout, first.explain()
        assert key_statuses(current.endpoint, USER) == {current.old_id: "Active"}
        assert_hosts_on_key(current.fleet, current.old_id)
        if flag.exists():
            flag.unlink()
        finish_and_check(current, monitor, first)


def test_two_runs_at_once_on_the_same_user(case):
    """Two rotations start together: one goes on, the other stops at once naming the owner of the lock."""
    current = case()
    with InvariantMonitor(current.endpoint, current.fleet, USER) as monitor:
        one = current.spawn()
        two = current.spawn(reset_calls=False)
        first, rival = current.keep(one), current.keep(two)
        outcomes = sorted([first.returncode == 0, rival.returncode == 0])
        assert outcomes == [False, True], f"exactly one run must win:\n{first.explain()}\n\n{rival.explain()}"
        loser = first if first.returncode else rival
        assert "locked" in loser.stdout and "rotor_break_lock" in loser.stdout or "at the same moment" in loser.stdout, loser.explain()
        winner = rival if first.returncode else first
        finish_and_check(current, monitor, winner)


# --------------------------------------------------------------------------- cases: AWS's propagation lag and operators' states


def journal_tags(endpoint, user=USER) -> Dict[str, str]:
    return {t["Key"]: t["Value"] for t in endpoint.boto3_client("iam").list_user_tags(UserName=user)["Tags"]}


def assert_all_healthy_on(fleet, key_id, hosts=None):
    health = fleet.health()
    for name in hosts or fleet.hosts:
        assert health[name]["healthy"] and health[name]["access_key_id"] == key_id, f"{name}: {health[name]}"


def test_deactivation_lag_with_a_service_that_ignores_its_restart(case):
    """host2's service 'restarts' but keeps the old key. While the deactivation propagates it still passes;
    the run waits until AWS rejects the old key, host2 then fails, and the run rolls back: the old key
    survives, host2 stays on it and ends healthy. Without the proof, the old key would have been deleted."""
    current = case()
    current.endpoint.configure(deactivation_propagation_seconds=4)
    current.fleet.ignore_reload("host2", True)
    with InvariantMonitor(current.endpoint, current.fleet, USER) as monitor:
        first = current.run()
        assert first.returncode != 0, first.explain()
        assert "host2" in first.stdout and "after deactivating the old key" in first.stdout, first.explain()
        assert key_statuses(current.endpoint, USER) == {current.old_id: "Active"}, "the old key did not survive"
        assert_hosts_on_key(current.fleet, current.old_id)
        assert_all_healthy_on(current.fleet, current.old_id)
        assert current.fleet.loaded_key("host2") == current.old_id
        current.fleet.ignore_reload("host2", False)
        finish_and_check(current, monitor, first)


def test_new_key_lag_no_consumer_ever_answers_unhealthy(case):
    """The new key is rejected for 5 s after it is made: no host gets it before AWS accepts it, so no
    consumer (checking itself twice a second) ever answers unhealthy during the run."""
    current = case(self_check_interval=0.5)
    current.endpoint.configure(new_key_propagation_seconds=5)
    current.fleet.clear_health_log()
    with InvariantMonitor(current.endpoint, current.fleet, USER) as monitor:
        first = current.run()
        assert first.returncode == 0, first.explain()
        bad = current.fleet.unhealthy_answers()
        assert not bad, f"consumers answered unhealthy during the run: {bad[:5]}"
        assert any(entry["source"] == "self" for entry in current.fleet.health_log("host1")), "the self-checks did not run"
        finish_and_check(current, monitor, first)


def test_reactivation_lag_during_a_rollback(case):
    """A rollback after deactivation with a 5 s reactivation lag: the run waits until AWS accepts the old
    key again before restoring and judging the hosts, so when it ends every host is already healthy on it."""
    current = case()
    current.endpoint.configure(reactivation_propagation_seconds=5)
    current.fleet.ignore_reload("host3", True)  # host3 keeps the old key: it fails once the old key is off
    with InvariantMonitor(current.endpoint, current.fleet, USER) as monitor:
        first = current.run()
        assert first.returncode != 0, first.explain()
        assert_all_healthy_on(current.fleet, current.old_id)  # at once, no waiting
        assert key_statuses(current.endpoint, USER) == {current.old_id: "Active"}
        assert_hosts_on_key(current.fleet, current.old_id)
        assert "every reachable host is back on it" in first.stdout, first.explain()
        current.fleet.ignore_reload("host3", False)
        finish_and_check(current, monitor, first)


def test_kill_mid_distribution_then_a_limit_rerun_then_a_full_rerun(case):
    """SIGKILL once two of four hosts hold the new key. A rerun limited to a host without it refuses (the
    pending key may be in use outside the play); one limited to host1 and host3 is a staged rollout: the
    pending key is recovered and kept, the old key stays Active. The full rerun finishes."""
    current = case(size=4, batch_size=1)
    with InvariantMonitor(current.endpoint, current.fleet, USER) as monitor:
        current.kill_once_hosts_moved(2)
        files = {h: current.fleet.read_credentials(h)[0] for h in current.fleet.hosts}
        moved = sorted(h for h, key_id in files.items() if key_id != current.old_id)
        stayed = sorted(h for h, key_id in files.items() if key_id == current.old_id)
        assert 2 <= len(moved) < 4, files
        pending = files[moved[0]]

        refused = current.run(limit=stayed[0])
        assert refused.returncode != 0, refused.explain()
        assert f"pending key {pending}" in refused.stdout and "outside" in refused.stdout, refused.explain()
        assert set(key_statuses(current.endpoint, USER)) == {current.old_id, pending}

        staged = current.run(limit=f"{moved[0]},{stayed[0]}")
        assert staged.returncode == 0, staged.explain()
        assert "staged: 2 of 4 hosts of fault-app" in staged.stdout, staged.explain()
        assert key_statuses(current.endpoint, USER) == {current.old_id: "Active", pending: "Active"}
        assert current.fleet.read_credentials(stayed[0])[0] == pending
        assert current.fleet.read_credentials(stayed[-1])[0] == current.old_id  # outside the play: untouched
        assert journal_tags(current.endpoint).get("rotor:pending") == pending
        assert_all_healthy_on(current.fleet, pending, [moved[0], stayed[0]])

        second = finish_and_check(current, monitor, staged)
        assert key_statuses(current.endpoint, USER) == {pending: "Active"}
        assert "recovered " + pending in second.stdout, second.explain()


def test_kill_after_create_then_the_security_team_disables_the_old_key(case):
    """The run dies after CreateAccessKey; the security team then disables the (leaked) old key. The next
    run never turns it back on: it moves every host onto a new key and deletes the old one."""
    current = case()
    current.endpoint.configure(new_key_propagation_seconds=5)
    iam = current.endpoint.boto3_client("iam")
    process = current.spawn()
    wait_for(lambda: current.endpoint.call_count("CreateAccessKey") >= 1 or not process.running(), what="CreateAccessKey")
    process.kill()
    first = current.keep(process)
    assert first.returncode != 0, first.explain()
    iam.update_access_key(UserName=USER, AccessKeyId=current.old_id, Status="Inactive")
    statuses: List[str] = []
    stop = threading.Event()

    def watch_old_key():
        while not stop.is_set():
            status = key_statuses(current.endpoint, USER).get(current.old_id, "deleted")
            statuses.append(status)
            time.sleep(0.1)

    watcher = threading.Thread(target=watch_old_key, daemon=True)
    watcher.start()
    try:
        second = current.run_as_job()
    finally:
        stop.set()
        watcher.join(5)
    assert second.returncode == 0, second.explain()
    assert "Active" not in statuses, "the disabled key was reactivated"
    assert "never reactivated" in second.stdout, second.explain()
    keys = key_statuses(current.endpoint, USER)
    assert len(keys) == 1 and current.old_id not in keys and list(keys.values()) == ["Active"], keys
    (new_id,) = keys
    assert_hosts_on_key(current.fleet, new_id)
    assert_all_healthy_on(current.fleet, new_id)
    assert journal_tags(current.endpoint).get("rotor:phase") in (None, "completed")  # completion clears the journal
    current.assert_no_secret_anywhere()


def test_a_host_claiming_a_user_that_something_outside_the_inventory_uses(case, tmp_path):
    """typo-host names svc-real (a typo in rotor_iam_user); svc-real's key is used by something outside the
    inventory. The plan refuses svc-real, naming the key and its last use: typo-host never gets its secret
    and svc-real's key stays Active. The fleet's own user rotates in the same run."""
    current = case()
    real_id, real_secret = seed_user(current.endpoint, "svc-real", 120)
    current.endpoint.set_last_used(real_id, minutes_ago=5, service="s3")
    typo_file = tmp_path / "typo-host" / "credentials"
    typo_file.parent.mkdir()
    typo_file.write_text("[default]\nregion = us-east-1\n")
    typo_file.chmod(0o600)
    before = typo_file.read_bytes()
    inventory = write_host_overrides(tmp_path / "typo.yml", {"typo-host": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable, "rotor_iam_user": "svc-real",
        "rotor_credentials_files": [{"path": str(typo_file), "format": "aws_credentials", "mode": "0600"}],
        "rotor_health_check": {"command": "true"},
    }})
    with InvariantMonitor(current.endpoint, current.fleet, USER) as monitor:
        first = current.run(inventories=[inventory])
        monitor.stopped.set()
    assert first.returncode != 0, first.explain()
    assert "'svc-real'" in first.stdout and real_id in first.stdout and "used 5 minutes ago" in first.stdout, first.explain()
    assert key_statuses(current.endpoint, "svc-real") == {real_id: "Active"}
    assert typo_file.read_bytes() == before, "typo-host's file was changed"
    assert real_secret not in first.everything
    keys = key_statuses(current.endpoint, USER)
    assert current.old_id not in keys and len(keys) == 1, f"the fleet's own user did not rotate: {keys}"
    assert_hosts_on_key(current.fleet, next(iter(keys)))
    assert not monitor.violations, monitor.violations


def test_malformed_tags_on_one_of_two_users(case):
    """fault-other's journal has a hand-edited date: that user is refused, naming the tag and its value; the
    other user of the same run rotates."""
    current = case(size=4, users={"host1": USER, "host2": USER, "host3": "fault-other", "host4": "fault-other"})
    other_id = current.initial_keys["fault-other"][0]
    current.endpoint.boto3_client("iam").tag_user(UserName="fault-other", Tags=[
        {"Key": "rotor:phase", "Value": "distributing"}, {"Key": "rotor:updated", "Value": "last tuesday"}])
    first = current.run()
    assert first.returncode != 0, first.explain()
    assert "rotor:updated" in first.stdout and "last tuesday" in first.stdout and "'fault-other'" in first.stdout, first.explain()
    assert key_statuses(current.endpoint, "fault-other") == {other_id: "Active"}
    assert_hosts_on_key(current.fleet, other_id, ["host3", "host4"])
    keys = key_statuses(current.endpoint, USER)
    assert current.old_id not in keys and len(keys) == 1, keys
    (new_id,) = keys
    assert_hosts_on_key(current.fleet, new_id, ["host1", "host2"])
    assert_all_healthy_on(current.fleet, new_id, ["host1", "host2"])
