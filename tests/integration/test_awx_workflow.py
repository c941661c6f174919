"""The rotation as an AWX workflow: prepare, then distribute over job slices at the same time, then finish.

Every job runs through ansible-runner with the private data dir AWX builds (see test_awx_runner.py): the
collection installed from its tarball, the least-privilege identity of docs/iam-policy.json in a credentials
file, the survey in env/extravars together with what AWX adds to every job of a workflow
(``awx_workflow_job_id``) and the artifacts (``set_stats``) of the jobs upstream, as AWX passes them on.
AWX's job slicing splits the inventory's hosts round-robin into N slice jobs; here 8 local hosts of
tests/fleet make 4 slice inventories of 2 hosts, whose jobs are started at the same time.

What matters is checked where it lives: keys in IAM (admin boto3 client), the pending secret in Secrets
Manager, the hosts' files (key id, mode, owner) and the applications' health; and no secret in any job's
events, stdout or artifacts.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")
pytest.importorskip("ansible_runner")

from rotation_helpers import assert_hosts_on_key, key_statuses, seed_user  # noqa: E402  pylint: disable=wrong-import-position
from test_awx_runner import RunnerJob, assert_no_secret_in_job, assert_nothing_prompted, write_json, writes  # noqa: E402  pylint: disable=wrong-import-position
from support import RunnerJobProcess, job_envvars  # noqa: E402  pylint: disable=wrong-import-position
from fleet.fleet import Fleet  # noqa: E402  pylint: disable=wrong-import-position
from iam_endpoint.control import IAMEndpoint  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.slow

RUNNER_TIMEOUT = 240
HOSTS = 8
SLICES = 4
WORKFLOW_ID = 4711
SURVEY = {
    # The workflow survey of docs/awx.md, answered.
    "rotor_max_key_age_days": 90,
    "rotor_old_key_action": "delete",
    "rotor_batch_size": 1,
    "rotor_pending_store": "secretsmanager",
    "rotor_lock_ttl_minutes": 120,
}
PLAYBOOKS = {"prepare": "rotor.iam.rotate_prepare", "distribute": "rotor.iam.rotate_distribute", "finish": "rotor.iam.rotate_finish"}


# --------------------------------------------------------------------------- jobs as AWX runs them


def slices(hosts: List[str], count: int = SLICES) -> List[List[str]]:
    """AWX's job slicing: the inventory's hosts dealt round-robin into ``count`` slices."""
    return [hosts[index::count] for index in range(count)]


class Workflow:
    """One AWX workflow job: its id, the jobs it ran (in order) and the artifacts passed downstream."""

    def __init__(self, base: Path, endpoint: IAMEndpoint, collections: Path, fleet: Fleet, rotator, workflow_id: int = WORKFLOW_ID,
                 host_overrides: Optional[Dict[str, Dict[str, object]]] = None):
        self.base, self.endpoint, self.collections, self.fleet, self.rotator = base, endpoint, collections, fleet, rotator
        self.workflow_id, self.host_overrides = workflow_id, host_overrides or {}
        self.jobs: List[RunnerJob] = []
        self.artifacts: Dict[str, object] = {}
        self.counter = 0

    def private_data_dir(self, node: str, hosts: List[str], extra: Dict[str, object]) -> Path:
        self.counter += 1
        pdd = self.base / f"{self.counter:02d}-{node}"
        (pdd / "project").mkdir(parents=True)
        (pdd / "project" / f"{node}.yml").write_text(
            f"---\n- name: Rotate IAM access keys, workflow node {node} (rotor.iam)\n  ansible.builtin.import_playbook: {PLAYBOOKS[node]}\n")
        # A slice job's inventory holds only its slice's hosts, as AWX's sliced inventory does.
        hostvars = {name: dict(self.fleet.host_vars(name), **self.host_overrides.get(name, {})) for name in hosts}
        write_json(pdd / "inventory" / "hosts.yml", {"all": {"children": {"rotor_fleet": {"hosts": hostvars}}}}, 0o644)
        credentials = pdd / "aws_credentials"
        _name, access_key_id, secret = self.rotator
        fd = os.open(credentials, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"[default]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {secret}\n")
        write_json(pdd / "env" / "envvars", job_envvars(self.endpoint, self.collections, AWS_SHARED_CREDENTIALS_FILE=str(credentials)))
        # AWX: survey answers, the workflow's own variables, then the artifacts of the nodes upstream.
        extravars = dict(SURVEY, rotor_aws_endpoint_url=self.endpoint.endpoint_url, awx_workflow_job_id=self.workflow_id,
                         awx_job_id=1000 + self.counter, **self.artifacts)
        extravars.update(extra)
        write_json(pdd / "env" / "extravars", extravars)
        write_json(pdd / "env" / "settings", {"job_timeout": RUNNER_TIMEOUT - 30, "idle_timeout": 120, "pexpect_timeout": 5})
        return pdd

    def start(self, node: str, hosts: List[str], **extra) -> RunnerJobProcess:
        pdd = self.private_data_dir(node, hosts, extra)
        return RunnerJobProcess(pdd, f"{node}.yml", f"{node}-{self.counter}", timeout=RUNNER_TIMEOUT)

    def run(self, node: str, hosts: Optional[List[str]] = None, pass_artifacts: bool = True, **extra) -> RunnerJob:
        self.endpoint.reset_calls()
        job = self.start(node, hosts or self.fleet.hosts, **extra).wait(self.endpoint)
        return self._keep(job, pass_artifacts)

    def _keep(self, job: RunnerJob, pass_artifacts: bool = True) -> RunnerJob:
        self.jobs.append(job)
        if pass_artifacts and job.status == "successful":
            self.artifacts.update(job.artifacts)
        return job

    def distribute(self, **extra) -> List[RunnerJob]:
        """The sliced distribute node: every slice job started at once; the workflow goes on when all end."""
        self.endpoint.reset_calls()  # the calls of the node: its slice jobs together
        running = [self.start("distribute", part, **extra) for part in slices(self.fleet.hosts)]
        return [self._keep(job.wait(self.endpoint), pass_artifacts=False) for job in running]

    def assert_no_secret_anywhere(self, secrets: Dict[str, str]) -> None:
        for job in self.jobs:
            # artifacts/<ident>/command records the job's environment (the credentials file's path, not a key);
            # it is scanned as well.
            assert_no_secret_in_job(job, secrets)


def events_text(job: RunnerJob) -> str:
    return job.stdout + json.dumps(job.events)


def pending_secrets(endpoint: IAMEndpoint) -> List[str]:
    client = endpoint.boto3_client("secretsmanager")
    return sorted(entry["Name"] for entry in client.list_secrets().get("SecretList", []) if entry["Name"].startswith("rotor/pending/"))


def journal_tags(endpoint: IAMEndpoint, user: str) -> Dict[str, str]:
    tags = endpoint.boto3_client("iam").list_user_tags(UserName=user)["Tags"]
    return {tag["Key"]: tag["Value"] for tag in tags if tag["Key"].startswith("rotor:")}


def wait_for_file_key(fleet: Fleet, host: str, key_id: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if fleet.read_credentials(host)[0] == key_id:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    pytest.fail(f"{host} never got key {key_id}")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def workflow_endpoint(iam_endpoint):
    """The session's endpoint (tests/integration/conftest.py); ``seeded`` resets it for each case."""
    return iam_endpoint


@pytest.fixture
def seeded(workflow_endpoint, make_rotator, fleets):
    """An IAM user whose only key is 120 days old, 8 local hosts on it, and the rotation identity."""
    workflow_endpoint.reset()
    user = "wf-app"
    old_id, old_secret = seed_user(workflow_endpoint, user, 120)
    rotator = make_rotator(workflow_endpoint)
    fleet = fleets.start(user, {user: (old_id, old_secret)}, size=HOSTS, name="fleet")
    assert_hosts_on_key(fleet, old_id)
    return {"user": user, "old_id": old_id, "old_secret": old_secret, "fleet": fleet, "rotator": rotator}


@pytest.fixture
def workflow(seeded, workflow_endpoint, installed_collections, tmp_path):
    def make(**options) -> Workflow:
        return Workflow(tmp_path / "jobs", workflow_endpoint, installed_collections, seeded["fleet"], seeded["rotator"], **options)
    return make


def secrets_of(endpoint: IAMEndpoint, seeded, new_secret: Optional[str] = None) -> Dict[str, str]:
    secrets = {"old secret": seeded["old_secret"], "rotator secret": seeded["rotator"][2], "admin secret": endpoint.admin_secret_access_key}
    if new_secret:
        secrets["new secret"] = new_secret
    return secrets


def prepared(endpoint: IAMEndpoint, seeded, flow: Workflow) -> str:
    """Run the prepare node; return the new key id (checked against IAM, Secrets Manager and the artifacts)."""
    job = flow.run("prepare")
    assert job.status == "successful" and job.rc == 0, job.explain()
    assert_nothing_prompted(job)
    keys = key_statuses(endpoint, seeded["user"])
    assert keys.get(seeded["old_id"]) == "Active" and len(keys) == 2, keys
    new_id = next(k for k in keys if k != seeded["old_id"])
    artifacts = job.artifacts
    assert artifacts["rotor_run_id"] == str(flow.workflow_id), artifacts
    assert artifacts["rotor_prepare"][seeded["user"]]["new_key_id"] == new_id, artifacts
    assert pending_secrets(endpoint) == [f"rotor/pending/{seeded['user']}"]
    tags = journal_tags(endpoint, seeded["user"])
    assert tags.get("rotor:phase") == "distributing" and tags.get("rotor:lock-run") == str(flow.workflow_id), tags
    # Nobody has the new key yet: prepare never touches a host.
    assert_hosts_on_key(seeded["fleet"], seeded["old_id"])
    return new_id


def assert_distribute_changed_no_key(jobs: List[RunnerJob]) -> None:
    for job in jobs:
        text = json.dumps([e.get("event_data", {}).get("task_action") for e in job.events])
        for action in ("access_key_create", "access_key_status", "access_key_delete"):
            assert f"rotor.iam.{action}" not in text, f"{job.label} ran {action}"


def assert_rolled_back(endpoint: IAMEndpoint, seeded, new_id: str) -> None:
    assert key_statuses(endpoint, seeded["user"]) == {seeded["old_id"]: "Active"}, "the new key was not deleted"
    assert_hosts_on_key(seeded["fleet"], seeded["old_id"])
    assert pending_secrets(endpoint) == [], "the pending secret outlived the rollback"
    tags = journal_tags(endpoint, seeded["user"])
    assert tags.get("rotor:phase") == "rolled_back" and "rotor:lock-run" not in tags, tags
    assert new_id not in json.dumps(tags), tags


# --------------------------------------------------------------------------- cases


@pytest.mark.smoke
def test_workflow_prepare_four_concurrent_slices_finish_cuts_over(workflow_endpoint, seeded, workflow):
    """All succeed: prepare stages the key; 4 slice jobs at once switch their hosts without touching IAM keys or
    the lock; finish reads every host itself and cuts over; each node's artifacts carry what the next needs."""
    user, fleet = seeded["user"], seeded["fleet"]
    flow = workflow()
    new_id = prepared(workflow_endpoint, seeded, flow)

    jobs = flow.distribute()

    for job in jobs:
        assert job.status == "successful" and job.rc == 0, job.explain()
        # No key, journal or lock write by any slice (the calls of the four jobs together).
        assert writes(job) == {}, job.calls
        result = job.artifacts["rotor_distribute"]
        assert result["failed"] == {} and len(result["switched"]) == HOSTS // SLICES, result
    assert_distribute_changed_no_key(jobs)
    # The four slices together: one journal read and one secret read each, nothing else in AWS (GetCallerIdentity:
    # the applications proving their new key after the restart).
    calls = workflow_endpoint.calls()["calls"]
    assert set(calls) <= {"ListUserTags", "DescribeSecret", "GetSecretValue", "GetCallerIdentity"}, calls
    assert calls.get("ListUserTags") == SLICES and calls.get("GetSecretValue") == SLICES, calls
    assert sorted(h for job in jobs for h in job.artifacts["rotor_distribute"]["switched"]) == sorted(fleet.hosts)
    assert_hosts_on_key(fleet, new_id)
    assert key_statuses(workflow_endpoint, user) == {seeded["old_id"]: "Active", new_id: "Active"}

    finish = flow.run("finish")

    assert finish.status == "successful" and finish.rc == 0, finish.explain()
    assert key_statuses(workflow_endpoint, user) == {new_id: "Active"}
    assert_hosts_on_key(fleet, new_id)
    assert pending_secrets(workflow_endpoint) == []
    tags = journal_tags(workflow_endpoint, user)
    # Completion clears the journal with the lock (one UntagUser of every rotor: tag, docs/journal.md).
    assert tags.get("rotor:phase") in (None, "completed") and "rotor:lock-run" not in tags, tags
    rotation = finish.artifacts["rotor_rotation"][user]
    assert rotation["action"] == "cutover" and rotation["new_access_key_id"] == new_id, rotation
    assert finish.artifacts["rotor_rotation_run"]["run_id"] == str(WORKFLOW_ID), finish.artifacts
    flow.assert_no_secret_anywhere(secrets_of(workflow_endpoint, seeded, fleet.read_credentials("host1")[1]))


def test_a_failing_host_in_one_slice_rolls_every_host_back(workflow_endpoint, seeded, workflow):
    """host3 is healthy only on the old key: its slice job fails (the workflow's failure edge leads to finish),
    the other slices succeed; finish sees host3 fail its own check and rolls every host back."""
    fleet = seeded["fleet"]
    check = f"grep -q {seeded['old_id']} {fleet.host('host3').credentials_path}"
    flow = workflow(host_overrides={"host3": {"rotor_health_check": {"command": check, "retries": 1, "delay": 0}}})
    new_id = prepared(workflow_endpoint, seeded, flow)

    jobs = flow.distribute()

    by_slice = {tuple(part): job for part, job in zip(slices(fleet.hosts), jobs)}
    failing = next(job for part, job in by_slice.items() if "host3" in part)
    assert failing.status == "failed" and failing.rc != 0, failing.explain()
    assert "host3" in failing.stdout and "did not take the new key" in failing.stdout, failing.explain()
    assert all(job.status == "successful" for job in jobs if job is not failing), [j.explain() for j in jobs if j is not failing]
    assert_distribute_changed_no_key(jobs)

    finish = flow.run("finish")

    assert finish.status == "failed" and finish.rc != 0, finish.explain()
    assert "host3" in finish.stdout and "rolled back" in finish.stdout, finish.explain()
    assert_rolled_back(workflow_endpoint, seeded, new_id)
    rotation = finish.artifacts["rotor_rotation"][seeded["user"]]
    assert rotation["action"] == "rollback" and "host3" in json.dumps(rotation["failures"]), rotation
    flow.assert_no_secret_anywhere(secrets_of(workflow_endpoint, seeded))


def test_a_slice_killed_half_way_is_retried_and_finish_cuts_over(workflow_endpoint, seeded, workflow):
    """The execution node of slice 1 dies after its first host switched: finish would roll back; the slice is
    run again instead (AWX: relaunch the failed slice), completes, and finish cuts over."""
    fleet = seeded["fleet"]
    flow = workflow()
    new_id = prepared(workflow_endpoint, seeded, flow)
    first, *others = slices(fleet.hosts)

    workflow_endpoint.reset_calls()
    victim = flow.start("distribute", first)
    rest = [flow.start("distribute", part) for part in others]
    wait_for_file_key(fleet, first[0], new_id)
    victim.kill()
    killed = victim.wait(workflow_endpoint)
    flow.jobs.append(killed)
    done = [flow._keep(job.wait(workflow_endpoint), pass_artifacts=False) for job in rest]  # pylint: disable=protected-access
    assert killed.status != "successful", killed.explain()
    assert fleet.read_credentials(first[1])[0] == seeded["old_id"], "the kill came too late: both hosts of the slice switched"
    assert all(job.status == "successful" for job in done), [job.explain() for job in done]

    retried = flow._keep(flow.start("distribute", first).wait(workflow_endpoint), pass_artifacts=False)  # pylint: disable=protected-access
    assert retried.status == "successful", retried.explain()
    assert sorted(retried.artifacts["rotor_distribute"]["switched"]) == sorted(first), retried.artifacts

    finish = flow.run("finish")

    assert finish.status == "successful", finish.explain()
    assert key_statuses(workflow_endpoint, seeded["user"]) == {new_id: "Active"}
    assert_hosts_on_key(fleet, new_id)
    assert pending_secrets(workflow_endpoint) == []
    flow.assert_no_secret_anywhere(secrets_of(workflow_endpoint, seeded, fleet.read_credentials("host1")[1]))


def test_a_slice_killed_half_way_and_a_stale_slice_then_finish_rolls_back(workflow_endpoint, seeded, workflow):
    """Workflow 4712: a slice dies after its first host switched and is not retried; a distribute job of an
    older workflow (run 4711) comes late and refuses before it reads a secret or touches a host, naming both
    run ids; finish finds the killed slice's second host on the old key and rolls every host back, the
    switched ones from their own backups."""
    fleet = seeded["fleet"]
    flow = workflow(workflow_id=WORKFLOW_ID + 1)
    new_id = prepared(workflow_endpoint, seeded, flow)
    first, *others = slices(fleet.hosts)
    victim = flow.start("distribute", first)
    rest = [flow.start("distribute", part) for part in others]
    wait_for_file_key(fleet, first[0], new_id)
    victim.kill()
    flow.jobs.append(victim.wait(workflow_endpoint))
    for job in rest:
        flow._keep(job.wait(workflow_endpoint), pass_artifacts=False)  # pylint: disable=protected-access
    assert fleet.read_credentials(first[1])[0] == seeded["old_id"], "the kill came too late: both hosts of the slice switched"
    before, files = journal_tags(workflow_endpoint, seeded["user"]), {name: fleet.read_credentials(name)[0] for name in fleet.hosts}

    workflow_endpoint.reset_calls()
    stale = flow.start("distribute", first, awx_workflow_job_id=WORKFLOW_ID, rotor_run_id=str(WORKFLOW_ID))
    stale = flow._keep(stale.wait(workflow_endpoint), pass_artifacts=False)  # pylint: disable=protected-access

    assert stale.status == "failed" and stale.rc != 0, stale.explain()
    assert f"this distribute job is run {WORKFLOW_ID}" in stale.stdout and f"run {WORKFLOW_ID + 1}" in stale.stdout, stale.explain()
    assert writes(stale) == {} and "GetSecretValue" not in stale.calls, stale.calls
    assert journal_tags(workflow_endpoint, seeded["user"]) == before
    assert {name: fleet.read_credentials(name)[0] for name in fleet.hosts} == files

    finish = flow.run("finish")

    assert finish.status == "failed", finish.explain()
    assert first[1] in finish.stdout, finish.explain()
    assert_rolled_back(workflow_endpoint, seeded, new_id)
    flow.assert_no_secret_anywhere(secrets_of(workflow_endpoint, seeded))


def test_phase_playbooks_refuse_without_a_run_id_or_a_pending_store(workflow_endpoint, seeded, workflow):
    """Outside AWX there is no workflow job id: prepare without rotor_run_id, or without the pending store,
    refuses with a message naming the variable, and changes nothing."""
    flow = workflow()
    job = flow.run("prepare", awx_workflow_job_id="", rotor_run_id="")
    assert job.status == "failed", job.explain()
    assert "needs rotor_run_id" in job.stdout, job.explain()
    job = flow.run("distribute", rotor_pending_store="none")
    assert job.status == "failed" and "rotor_pending_store=secretsmanager" in job.stdout, job.explain()
    assert key_statuses(workflow_endpoint, seeded["user"]) == {seeded["old_id"]: "Active"}
    assert journal_tags(workflow_endpoint, seeded["user"]) == {}


# --------------------------------------------------------------------------- secret destinations in a workflow

LONE = "wf-lone"  # a user whose key lives only in a Secrets Manager secret: no host names it


def destination_held(endpoint: IAMEndpoint, kind: str, name: str) -> str:
    """The key id a destination holds now (admin client), as an application reads it."""
    if kind == "secretsmanager":
        text = endpoint.boto3_client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
    else:
        text = endpoint.boto3_client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    return json.loads(text)["AccessKeyId"]


@pytest.fixture
def with_destinations(workflow_endpoint, seeded):
    """The fleet's user also has a secret and a parameter on its key; a second user has only a secret."""
    lone_id, lone_secret = seed_user(workflow_endpoint, LONE, 120)
    app = json.dumps({"AccessKeyId": seeded["old_id"], "SecretAccessKey": seeded["old_secret"]})
    workflow_endpoint.boto3_client("secretsmanager").create_secret(Name="rotor/keys/wf-app", SecretString=app)
    workflow_endpoint.boto3_client("ssm").put_parameter(Name="/rotor/keys/wf-app", Type="SecureString", Value=app)
    workflow_endpoint.boto3_client("secretsmanager").create_secret(
        Name="rotor/keys/wf-lone", SecretString=json.dumps({"AccessKeyId": lone_id, "SecretAccessKey": lone_secret}))

    def entries(ssm_check: str = "true"):
        return [{"user": seeded["user"], "type": "secretsmanager", "name": "rotor/keys/wf-app"},
                {"user": seeded["user"], "type": "ssm", "name": "/rotor/keys/wf-app", "health_check": {"command": ssm_check, "retries": 1, "delay": 0}},
                {"user": LONE, "type": "secretsmanager", "name": "rotor/keys/wf-lone"}]
    return {"lone_id": lone_id, "lone_secret": lone_secret, "entries": entries}


def destination_secrets(endpoint: IAMEndpoint, seeded, with_destinations) -> Dict[str, str]:
    """Every secret the jobs must not show: those of secrets_of, the lone user's, and what the destinations hold now."""
    secrets = dict(secrets_of(endpoint, seeded), **{"lone old secret": with_destinations["lone_secret"]})
    client = endpoint.boto3_client("secretsmanager")
    for name in ("rotor/keys/wf-app", "rotor/keys/wf-lone"):
        secrets[f"{name} now"] = json.loads(client.get_secret_value(SecretId=name)["SecretString"])["SecretAccessKey"]
    return secrets


def test_a_workflow_writes_the_destinations_in_prepare_and_finish_cuts_them_over(workflow_endpoint, seeded, workflow, with_destinations):
    """prepare writes every destination (the lone user's too) before any host; the slices touch none;
    finish reads them itself and cuts both users over."""
    user, fleet = seeded["user"], seeded["fleet"]
    flow = workflow()
    prepare = flow.run("prepare", rotor_secret_destinations=with_destinations["entries"]())
    assert prepare.status == "successful", prepare.explain()
    app_new = next(k for k in key_statuses(workflow_endpoint, user) if k != seeded["old_id"])
    lone_new = next(k for k in key_statuses(workflow_endpoint, LONE) if k != with_destinations["lone_id"])
    assert destination_held(workflow_endpoint, "secretsmanager", "rotor/keys/wf-app") == app_new
    assert destination_held(workflow_endpoint, "ssm", "/rotor/keys/wf-app") == app_new
    assert destination_held(workflow_endpoint, "secretsmanager", "rotor/keys/wf-lone") == lone_new
    assert_hosts_on_key(fleet, seeded["old_id"])
    # The lock now belongs to the run, not to the prepare job's process (it has exited).
    assert journal_tags(workflow_endpoint, LONE).get("rotor:lock-pid", "") == ""

    jobs = flow.distribute(rotor_secret_destinations=with_destinations["entries"]())
    assert all(job.status == "successful" for job in jobs), [job.explain() for job in jobs]
    finish = flow.run("finish", rotor_secret_destinations=with_destinations["entries"]())

    assert finish.status == "successful", finish.explain()
    assert key_statuses(workflow_endpoint, user) == {app_new: "Active"}
    assert key_statuses(workflow_endpoint, LONE) == {lone_new: "Active"}
    assert_hosts_on_key(fleet, app_new)
    assert destination_held(workflow_endpoint, "ssm", "/rotor/keys/wf-app") == app_new
    assert destination_held(workflow_endpoint, "secretsmanager", "rotor/keys/wf-lone") == lone_new
    assert finish.artifacts["rotor_rotation"][LONE]["action"] == "cutover", finish.artifacts
    flow.assert_no_secret_anywhere(destination_secrets(workflow_endpoint, seeded, with_destinations))


def test_a_failing_slice_makes_finish_put_every_destination_back(workflow_endpoint, seeded, workflow, with_destinations):
    """host3 fails its check in its slice: finish rolls the fleet's user back, its destinations with it
    (Secrets Manager's AWSCURRENT moves back, the parameter gets its previous value); the lone user cuts over."""
    user, fleet = seeded["user"], seeded["fleet"]
    check = f"grep -q {seeded['old_id']} {fleet.host('host3').credentials_path}"
    flow = workflow(host_overrides={"host3": {"rotor_health_check": {"command": check, "retries": 1, "delay": 0}}})
    entries = with_destinations["entries"]()
    assert flow.run("prepare", rotor_secret_destinations=entries).status == "successful"
    flow.distribute(rotor_secret_destinations=entries)

    finish = flow.run("finish", rotor_secret_destinations=entries)

    assert finish.status == "failed", finish.explain()
    assert key_statuses(workflow_endpoint, user) == {seeded["old_id"]: "Active"}
    assert_hosts_on_key(fleet, seeded["old_id"])
    assert destination_held(workflow_endpoint, "secretsmanager", "rotor/keys/wf-app") == seeded["old_id"]
    assert destination_held(workflow_endpoint, "ssm", "/rotor/keys/wf-app") == seeded["old_id"]
    lone_keys = key_statuses(workflow_endpoint, LONE)
    assert with_destinations["lone_id"] not in lone_keys and len(lone_keys) == 1, lone_keys
    assert destination_held(workflow_endpoint, "secretsmanager", "rotor/keys/wf-lone") in lone_keys
    flow.assert_no_secret_anywhere(destination_secrets(workflow_endpoint, seeded, with_destinations))


def test_a_destination_failing_in_prepare_leaves_the_user_to_the_finish_jobs_rollback(workflow_endpoint, seeded, workflow,
                                                                                      with_destinations):
    """The parameter's check fails in prepare: prepare fails naming it and hands the user to the rollback (phase
    rolling_back); the slices switch none of its hosts; finish restores the secret and deletes the new key."""
    user, fleet = seeded["user"], seeded["fleet"]
    flow = workflow()
    entries = with_destinations["entries"](ssm_check="false")
    prepare = flow.run("prepare", rotor_secret_destinations=entries)
    assert prepare.status == "failed", prepare.explain()
    assert "/rotor/keys/wf-app" in prepare.stdout and "was not prepared" in prepare.stdout, prepare.explain()
    assert journal_tags(workflow_endpoint, user).get("rotor:phase") == "rolling_back"

    jobs = flow.distribute(rotor_secret_destinations=entries)
    assert all(job.status == "successful" for job in jobs), [job.explain() for job in jobs]
    assert_hosts_on_key(fleet, seeded["old_id"])
    finish = flow.run("finish", rotor_secret_destinations=entries)

    assert finish.status == "failed", finish.explain()
    assert key_statuses(workflow_endpoint, user) == {seeded["old_id"]: "Active"}
    assert destination_held(workflow_endpoint, "secretsmanager", "rotor/keys/wf-app") == seeded["old_id"]
    assert destination_held(workflow_endpoint, "ssm", "/rotor/keys/wf-app") == seeded["old_id"]
    assert pending_secrets(workflow_endpoint) == []
    assert journal_tags(workflow_endpoint, user).get("rotor:phase") == "rolled_back"
    flow.assert_no_secret_anywhere(destination_secrets(workflow_endpoint, seeded, with_destinations))
