"""rotor.iam.rotate as AWX / Automation Controller runs it: through ansible-runner.

AWX hands ansible-runner a private data dir: the project checkout (a playbook that
imports ``rotor.iam.rotate``), the inventory, survey answers in ``env/extravars``,
``--check`` in ``env/cmdline`` for the "Check" job type, credentials injected as
environment variables or files, and timeouts in ``env/settings``. It then reads the
job's events (``artifacts/<ident>/job_events``), its status and rc, and shows the
``set_stats`` data as the job's artifacts. These tests build exactly that directory
and run ``ansible-runner run`` against the test IAM endpoint and a real fleet, with
the collection installed from its Galaxy tarball and the least-privilege identity of
docs/iam-policy.json (AWX credential with a file injector).

The summary the playbook publishes (``rotor_rotation`` per IAM user and the run-level
``rotor_rotation_run``) is the interface AWX users build notifications and workflows on.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Dict

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")
pytest.importorskip("ansible_runner")

from rotation_helpers import assert_hosts_on_key, file_states, key_statuses, seed_user  # noqa: E402  pylint: disable=wrong-import-position
from fleet.fleet import Fleet  # noqa: E402  pylint: disable=wrong-import-position
from support import PlaybookResult, assert_no_leaks, job_envvars, leaks_in_files, leaks_in_texts, plan_row, run_runner_job  # noqa: E402  pylint: disable=wrong-import-position
from iam_endpoint.control import IAMEndpoint  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.slow

RUNNER_TIMEOUT = 300
IAM_WRITES = ("CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey", "TagUser", "UntagUser")
# Events whose presence would mean the job waited for an answer nobody gives in AWX.
PROMPT_EVENTS = ("playbook_on_vars_prompt",)
ROTATION_FIELDS = ("action", "old_access_key_id", "new_access_key_id", "old_key", "hosts", "hosts_switched", "failures", "message")
RUN_FIELDS = ("run_id", "started", "finished", "duration_seconds", "users_rotated", "users_failed", "check_mode")


# --------------------------------------------------------------------------- a job as AWX runs it


RunnerJob = PlaybookResult  # one result class: PlaybookResult.from_runner_job (status, rc, stdout, events, artifacts)


def writes(job: PlaybookResult) -> Dict[str, int]:
    """The job's calls of the IAM actions that write (key changes, journal and lock tags), zeros left out."""
    return {action: job.calls.get(action, 0) for action in IAM_WRITES if job.calls.get(action, 0)}


def write_json(path: Path, data, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)


def private_data_dir(
    base: Path,
    endpoint: IAMEndpoint,
    collections_path: Path,
    fleet: Fleet,
    rotator,
    survey: Dict[str, object],
    check: bool = False,
    host_overrides: Dict[str, Dict[str, object]] = None,
    playbook: str = "rotor.iam.rotate",
    credential: str = "file",
) -> Path:
    """The private data dir AWX would hand to ansible-runner for this job."""
    base.mkdir(parents=True)
    project = base / "project"
    project.mkdir()
    # An AWX project holds playbooks; the collection's own playbook is imported by its FQCN.
    (project / "rotate.yml").write_text(f"---\n- name: Rotate IAM access keys (rotor.iam)\n  ansible.builtin.import_playbook: {playbook}\n")
    inventory = base / "inventory"
    fleet.write_inventory(str(inventory / "fleet.yml"))
    if host_overrides:
        write_json(inventory / "overrides.yml", {"all": {"children": {"rotor_fleet": {"hosts": host_overrides}}}}, 0o644)

    _name, access_key_id, secret = rotator
    if credential == "file":
        # A custom credential type with a file injector: the key is in a 0600 file in the private
        # data dir and the environment only names the file, so no job artifact can hold it.
        credentials = base / "aws_credentials"
        fd = os.open(credentials, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"[default]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {secret}\n")
        injected = {"AWS_SHARED_CREDENTIALS_FILE": str(credentials)}
    else:
        # AWX's built-in "Amazon Web Services" credential type: environment variables.
        injected = {"AWS_ACCESS_KEY_ID": access_key_id, "AWS_SECRET_ACCESS_KEY": secret, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    write_json(base / "env" / "envvars", job_envvars(endpoint, collections_path, **injected))
    write_json(base / "env" / "extravars", dict(survey, rotor_aws_endpoint_url=endpoint.endpoint_url))
    # AWX's job timeout and idle timeout: a job that waits for input is killed, not left hanging.
    write_json(base / "env" / "settings", {"job_timeout": RUNNER_TIMEOUT - 30, "idle_timeout": 120, "pexpect_timeout": 5})
    if check:
        (base / "env" / "cmdline").write_text("--check --diff")
    return base


def run_job(endpoint: IAMEndpoint, pdd: Path, ident: str) -> RunnerJob:
    """``ansible-runner run PDD -p rotate.yml``, without a terminal or stdin, like an AWX worker."""
    return run_runner_job(pdd, "rotate.yml", ident, endpoint, timeout=RUNNER_TIMEOUT)


def assert_no_secret_in_job(job: RunnerJob, secrets: Dict[str, str], except_files=()) -> None:
    """No secret in any file of the job's artifacts (events, stdout, command, fact cache) nor on the CLI."""
    files = [path for path in job.artifact_dir.rglob("*") if path.is_file() and path.name not in except_files]
    assert any(path.parent.name == "job_events" for path in files), f"no job events in {job.artifact_dir}"
    found = leaks_in_files(files, secrets) + leaks_in_texts({"the ansible-runner output": job.cli_output}, secrets)
    assert_no_leaks(found, f"job {job.label}")


def assert_nothing_prompted(job: RunnerJob) -> None:
    assert job.status != "timeout", f"the job timed out (waiting for input?)\n{job.explain()}"
    assert not job.events_of(*PROMPT_EVENTS), "the job prompted for variables"
    assert not re.search(r"(?im)^\s*(password|passphrase|enter|confirm)[^\n]*:\s*$", job.stdout), job.explain()


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def job_endpoint(empty_endpoint):
    """The session's endpoint, empty: no IAM state, faults or counters of an earlier test."""
    return empty_endpoint


@pytest.fixture
def seeded(job_endpoint, make_rotator, fleets):
    """An IAM user whose only key is 120 days old, a fleet of 3 local hosts on it, and the rotation identity."""
    user = "awx-app"
    old_id, old_secret = seed_user(job_endpoint, user, 120)
    rotator = make_rotator(job_endpoint)
    fleet = fleets.start(user, {user: (old_id, old_secret)}, size=3, name="fleet")
    assert_hosts_on_key(fleet, old_id)
    return {"user": user, "old_id": old_id, "old_secret": old_secret, "fleet": fleet, "rotator": rotator}


SURVEY = {
    # The survey of the job template in docs/awx.md, answered.
    "rotor_max_key_age_days": 90,
    "rotor_old_key_action": "delete",
    "rotor_batch_size": "50%",
}


def secrets_of(endpoint: IAMEndpoint, seeded, extra: Dict[str, str] = None) -> Dict[str, str]:
    secrets = {"old secret": seeded["old_secret"], "rotator secret": seeded["rotator"][2], "admin secret": endpoint.admin_secret_access_key}
    secrets.update(extra or {})
    return secrets


def assert_summary_complete(artifacts: Dict, users=()) -> None:
    """The job artifacts carry the rotation summary: per user (with hosts_switched) and for the run."""
    missing = [f"rotor_rotation.{user}" for user in users if user not in artifacts.get("rotor_rotation", {})]
    for user in users:
        missing += [f"rotor_rotation.{user}.{name}" for name in ROTATION_FIELDS if name not in artifacts.get("rotor_rotation", {}).get(user, {name: 0})]
    missing += [f"rotor_rotation_run.{name}" for name in RUN_FIELDS if name not in artifacts.get("rotor_rotation_run", {})]
    if missing:
        pytest.fail(f"job artifacts lack {', '.join(missing)}")


# --------------------------------------------------------------------------- cases


def test_rotation_job_succeeds_and_publishes_its_summary(job_endpoint, seeded, installed_collections, tmp_path):
    """A "Run" job: every host on the new key, old key deleted, status successful, rc 0,
    and the rotation summary (users, old/new key ids, hosts switched, duration) as artifacts."""
    user, old_id, fleet = seeded["user"], seeded["old_id"], seeded["fleet"]
    pdd = private_data_dir(tmp_path / "job-run", job_endpoint, installed_collections, fleet, seeded["rotator"], SURVEY)

    job = run_job(job_endpoint, pdd, "rotate-run")

    assert job.status == "successful" and job.rc == 0, job.explain()
    assert job.cli_returncode == 0, job.explain()
    assert_nothing_prompted(job)
    keys = key_statuses(job_endpoint, user)
    assert old_id not in keys and list(keys.values()) == ["Active"], keys
    new_id = next(iter(keys))
    assert_hosts_on_key(fleet, new_id)
    new_secret = fleet.read_credentials("host1")[1]
    assert_no_secret_in_job(job, secrets_of(job_endpoint, seeded, {"new secret": new_secret}))

    artifacts = job.artifacts
    assert user in artifacts.get("rotor_rotation", {}), f"no rotor_rotation[{user}] in the artifacts: {artifacts}"
    rotation = artifacts["rotor_rotation"][user]
    assert rotation["action"] == "cutover", rotation
    assert rotation["old_access_key_id"] == old_id and rotation["new_access_key_id"] == new_id, rotation
    assert rotation["old_key"] == "deleted", rotation
    assert sorted(rotation["hosts"]) == ["host1", "host2", "host3"], rotation
    assert not rotation["failures"], rotation
    # Key ids are public; the summary must never carry a secret (checked above with every artifact file).
    assert "secret" not in json.dumps(artifacts).lower(), artifacts

    assert_summary_complete(artifacts, [user])
    assert sorted(rotation["hosts_switched"]) == ["host1", "host2", "host3"], rotation
    run = artifacts["rotor_rotation_run"]
    assert run["users_rotated"] in (1, [user]) and run["users_failed"] in (0, []), run
    assert run["check_mode"] is False, run
    assert 0 < float(run["duration_seconds"]) <= job.seconds + 1, (run, job.seconds)


def test_check_job_changes_nothing_and_publishes_the_plan(job_endpoint, seeded, installed_collections, tmp_path):
    """A "Check" job (--check --diff in env/cmdline), with the credentials as environment variables
    (AWX's built-in AWS credential type): no IAM write, no host change, successful, no secret in the
    job events or output, and the artifacts say what a run would do."""
    user, old_id, fleet = seeded["user"], seeded["old_id"], seeded["fleet"]
    before = file_states(fleet)
    pdd = private_data_dir(tmp_path / "job-check", job_endpoint, installed_collections, fleet, seeded["rotator"], SURVEY,
                           check=True, credential="env")

    job = run_job(job_endpoint, pdd, "rotate-check")

    assert job.status == "successful" and job.rc == 0, job.explain()
    assert_nothing_prompted(job)
    assert writes(job) == {}, job.calls
    assert key_statuses(job_endpoint, user) == {old_id: "Active"}
    assert file_states(fleet) == before, "the check job changed a credentials file"
    assert_hosts_on_key(fleet, old_id)
    # ansible-runner records the job's environment, injected credentials included, in the 0600 file
    # artifacts/<ident>/command (AWX does not publish it); every other artifact must be clean.
    assert_no_secret_in_job(job, secrets_of(job_endpoint, seeded), except_files=("command",))
    assert plan_row(job.stdout, user).get("action and why", "").startswith(f"ROTATE - key {old_id} is 120 days old"), job.explain()

    artifacts = job.artifacts
    assert_summary_complete(artifacts, [user])
    rotation = artifacts["rotor_rotation"][user]
    assert rotation["old_access_key_id"] == old_id, rotation
    assert rotation["new_access_key_id"] in (None, ""), rotation
    assert sorted(rotation["hosts"]) == ["host1", "host2", "host3"], rotation
    run = artifacts["rotor_rotation_run"]
    assert run["check_mode"] is True and run["users_rotated"] in (0, []), run


def test_failed_job_names_the_host_and_the_check(job_endpoint, seeded, installed_collections, tmp_path):
    """host2's health check fails on the new key: the job fails (status failed, rc != 0), the
    events and the final message name host2 and its health check, everything is rolled back."""
    user, old_id, fleet = seeded["user"], seeded["old_id"], seeded["fleet"]
    check = f"grep -q {old_id} {fleet.host('host2').credentials_path}"  # healthy only on the old key
    overrides = {"host2": {"rotor_health_check": {"command": check, "retries": 1, "delay": 0}}}
    pdd = private_data_dir(tmp_path / "job-fail", job_endpoint, installed_collections, fleet, seeded["rotator"], SURVEY, host_overrides=overrides)

    job = run_job(job_endpoint, pdd, "rotate-fail")

    assert job.status == "failed" and job.rc != 0, job.explain()
    assert job.cli_returncode != 0, job.explain()
    assert_nothing_prompted(job)
    failed = job.events_of("runner_on_failed")
    assert any(event["event_data"].get("host") == "host2" and "health" in event["event_data"].get("task", "").lower() for event in failed), (
        f"no failed event of host2's health check: {[(e['event_data'].get('host'), e['event_data'].get('task')) for e in failed]}"
    )
    assert re.search(rf"Rotation of {user} rolled back: host host2 failed [^\n]*health", job.stdout), job.explain()
    assert key_statuses(job_endpoint, user) == {old_id: "Active"}
    assert_hosts_on_key(fleet, old_id)
    assert_no_secret_in_job(job, secrets_of(job_endpoint, seeded))
    rotation = job.artifacts.get("rotor_rotation", {}).get(user)
    assert rotation and rotation["action"] == "rollback", job.artifacts
    assert "host2" in json.dumps(rotation["failures"]) + rotation["message"], rotation
