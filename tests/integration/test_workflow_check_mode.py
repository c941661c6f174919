"""Check mode of the workflow's phase playbooks: rotate_prepare, rotate_distribute and rotate_finish with --check.

Check mode promises an accurate plan and zero writes. Each case runs plain ``ansible-playbook`` on a phase
playbook over a local fleet (the consumers sign real STS calls with their file's key) against the test
endpoint, and then looks where the state lives: the user's keys and tags in IAM (admin boto3 client), the
secrets under the pending prefix in Secrets Manager, and every host's credentials directory (bytes, mode,
mtime, no file added). A check run that changes nothing must also leave nothing that breaks the real run
after it: the last real distribute and finish still complete the rotation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Dict, List, Optional

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from rotation_helpers import PLAYBOOK_TIMEOUT, assert_hosts_on_key, credentials_dir_files, file_states  # noqa: E402  pylint: disable=wrong-import-position
from support import PlaybookResult as RotationRun, assert_no_secrets, plan_row, rotor_vars, run_playbook  # noqa: E402  pylint: disable=wrong-import-position
from fleet.fleet import Fleet  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.slow

USER = "wfcheck-app"
HOSTS = 4
RUN_ID = "8101"
PREFIX = "rotor/pending/"
WORKFLOW = {"rotor_pending_store": "secretsmanager", "rotor_old_key_action": "delete", "rotor_batch_size": 1}
PLAYBOOKS = ("prepare", "distribute", "finish")


# --------------------------------------------------------------------------- running a phase playbook


class Phases:
    """Runs ``ansible-playbook rotor.iam.rotate_<phase>`` over the fleet's inventory, numbered logs in ``workdir``."""

    def __init__(self, endpoint, fleet: Fleet, workdir: Path):
        self.endpoint, self.fleet, self.workdir = endpoint, fleet, workdir
        self.count = 0
        workdir.mkdir(parents=True, exist_ok=True)

    def run(self, phase: str, check: bool = False, limit: Optional[str] = None, **extra_vars) -> RotationRun:
        assert phase in PLAYBOOKS, phase
        self.count += 1
        label = f"{self.count:02d}-{phase}{'-check' if check else ''}"
        variables = dict(WORKFLOW, **rotor_vars(self.endpoint))
        variables.update(extra_vars)
        return run_playbook(f"rotor.iam.rotate_{phase}", self.workdir, endpoint=self.endpoint, inventories=[self.fleet.inventory_path],
                            extra_vars=variables, limit=limit, check=check, diff=check, label=label, timeout=PLAYBOOK_TIMEOUT)


# --------------------------------------------------------------------------- observing the state that matters


def iam_state(endpoint, user: str = USER) -> Dict[str, object]:
    """The user's keys (id, status, creation date) and every tag (lock and journal included)."""
    iam = endpoint.boto3_client("iam")
    keys = {k["AccessKeyId"]: (k["Status"], k["CreateDate"].isoformat())
            for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}
    tags = {tag["Key"]: tag["Value"] for tag in iam.list_user_tags(UserName=user)["Tags"]}
    return {"keys": keys, "tags": tags}


def pending_secrets(endpoint) -> Dict[str, Dict[str, str]]:
    """{name: tags} of every secret under the pending prefix (the admin sees them all)."""
    client = endpoint.boto3_client("secretsmanager")
    return {entry["Name"]: {tag["Key"]: tag["Value"] for tag in entry.get("Tags") or []}
            for entry in client.list_secrets().get("SecretList", []) if entry["Name"].startswith(PREFIX)}


def staged_key(endpoint, user: str = USER) -> Dict[str, str]:
    """The pending secret's value, as the admin reads it: {access_key_id, secret_access_key}."""
    value = endpoint.boto3_client("secretsmanager").get_secret_value(SecretId=PREFIX + user)["SecretString"]
    return json.loads(value)


def host_state(fleet: Fleet) -> Dict[str, object]:
    """Every host's credentials file (bytes, mtime, mode, owner) and the names in its directory."""
    return {"files": file_states(fleet), "dirs": {name: [p.name for p in credentials_dir_files(fleet, name)] for name in fleet.hosts}}


def iam_writes(run: RotationRun) -> Dict[str, int]:
    """Every call of the run that changes IAM or Secrets Manager."""
    writes = ("CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey", "TagUser", "UntagUser",
              "CreateSecret", "PutSecretValue", "UpdateSecret", "DeleteSecret", "TagResource", "UntagResource")
    return {action: run.calls[action] for action in writes if run.calls.get(action)}


def task_output(stdout: str, name: str) -> str:
    """What ansible-playbook printed for the first task whose name starts with ``name``, up to the next TASK."""
    start = stdout.index(f"TASK [rotor.iam.rotate : {name}")
    body = stdout[stdout.index("\n", start) + 1:]
    end = body.find("TASK [")
    return body[:end if end >= 0 else len(body)]


def assert_no_secret_in(run: RotationRun, secrets: Dict[str, str]) -> None:
    assert_no_secrets(run, secrets)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def seeded(empty_endpoint, fleets, tmp_path):
    """An IAM user whose only key is 120 days old and 4 local hosts running on it."""
    fleet, old_id, old_secret = fleets.seeded(USER, HOSTS, 120, name="fleet")
    assert_hosts_on_key(fleet, old_id)
    phases = Phases(empty_endpoint, fleet, tmp_path / "runs")
    secrets = {"old secret": old_secret, "admin secret": empty_endpoint.admin_secret_access_key}
    return {"endpoint": empty_endpoint, "fleet": fleet, "old_id": old_id, "secrets": secrets, "phases": phases}


def prepare_for_real(seeded) -> str:
    """A real rotate_prepare of run RUN_ID; returns the new key id (staged, journaled, no host touched)."""
    endpoint, fleet = seeded["endpoint"], seeded["fleet"]
    run = seeded["phases"].run("prepare", rotor_run_id=RUN_ID)
    assert run.returncode == 0, run.explain()
    keys = iam_state(endpoint)["keys"]
    assert len(keys) == 2 and keys[seeded["old_id"]][0] == "Active", keys
    new_id = next(key for key in keys if key != seeded["old_id"])
    staged = staged_key(endpoint)
    assert staged["access_key_id"] == new_id, "Secrets Manager holds another key than IAM's new one"
    seeded["secrets"]["new secret"] = staged["secret_access_key"]
    tags = iam_state(endpoint)["tags"]
    assert tags.get("rotor:phase") == "distributing" and tags.get("rotor:lock-run") == RUN_ID, tags
    assert_hosts_on_key(fleet, seeded["old_id"])
    assert_no_secret_in(run, seeded["secrets"])
    return new_id


# --------------------------------------------------------------------------- cases


def test_prepare_check_shows_the_plan_and_writes_nothing(seeded):
    """rotate_prepare --check on a due user: the plan names the user, its old key and the new key it would
    make; IAM (keys, statuses, tags: no lock, no journal), Secrets Manager and the hosts are as they were."""
    endpoint, fleet, old_id = seeded["endpoint"], seeded["fleet"], seeded["old_id"]
    before_iam, before_hosts = iam_state(endpoint), host_state(fleet)
    assert before_iam["tags"] == {}, before_iam

    run = seeded["phases"].run("prepare", check=True, rotor_run_id=RUN_ID)

    assert run.returncode == 0, run.explain()
    assert iam_writes(run) == {}, run.calls
    assert iam_state(endpoint) == before_iam, "prepare --check changed the user's keys or tags"
    assert pending_secrets(endpoint) == {}, "prepare --check staged a pending secret"
    assert host_state(fleet) == before_hosts, "prepare --check changed a host's credentials directory"
    assert_hosts_on_key(fleet, old_id)
    plan = plan_row(run.stdout, USER)
    assert plan.get("action and why", "").startswith("ROTATE - "), f"no plan row for {USER}:\n{run.explain()}"
    assert f"key {old_id} is 120 days old" in plan["action and why"] and f"old key {old_id} will be deleted" in plan["action and why"], plan
    assert plan["hosts"] == "host1, host2, host3, host4", plan
    assert "(check mode: no key)" in task_output(run.stdout, f"New key of {USER}"), run.explain()
    shown = task_output(run.stdout, "Show what the run distributes")
    assert f"{USER}: would make a new key for 4 hosts (old key {old_id}; check mode: none made)" in shown, run.explain()
    assert_no_secret_in(run, seeded["secrets"])


def test_distribute_and_finish_check_change_nothing_and_the_real_run_still_completes(seeded):
    """After a real prepare: distribute --check over a slice names the hosts that would switch to the new key
    id (never its secret) and finish --check what would be cut over; neither writes to IAM, Secrets Manager or
    a host. Then the real distribute and finish rotate the user as if the check runs had never happened."""
    endpoint, fleet, old_id, phases, secrets = seeded["endpoint"], seeded["fleet"], seeded["old_id"], seeded["phases"], seeded["secrets"]
    new_id = prepare_for_real(seeded)
    before_iam, before_hosts, before_secrets = iam_state(endpoint), host_state(fleet), pending_secrets(endpoint)

    check = phases.run("distribute", check=True, limit="host1,host3", rotor_run_id=RUN_ID)

    assert check.returncode == 0, check.explain()
    assert iam_writes(check) == {}, check.calls
    assert iam_state(endpoint) == before_iam, "distribute --check changed the user's keys or tags"
    assert pending_secrets(endpoint) == before_secrets
    assert host_state(fleet) == before_hosts, "distribute --check changed a host's credentials directory"
    assert_no_secret_in(check, secrets)
    for host in ("host1", "host3"):
        path = fleet.credentials_file(host)
        line = f"{host}: would switch to the new key {new_id} of {USER} (run {RUN_ID}; the run's old key {old_id}) in {path}"
        assert line in task_output(check.stdout, "Show what this slice would do"), check.explain()
    for host in ("host2", "host4"):
        assert f"in {fleet.credentials_file(host)}" not in check.stdout, f"{host} is outside the slice:\n{check.explain()}"

    finish = phases.run("finish", check=True, rotor_run_id=RUN_ID)

    assert finish.returncode == 0, finish.explain()
    assert iam_writes(finish) == {}, finish.calls
    assert iam_state(endpoint) == before_iam, "finish --check changed the user's keys or tags"
    assert pending_secrets(endpoint) == before_secrets, "finish --check deleted the pending secret"
    assert host_state(fleet) == before_hosts, "finish --check changed a host's credentials directory"
    assert_no_secret_in(finish, secrets)
    # No host holds the new key yet: what the finish would do now is roll the run back (delete the new key).
    assert plan_row(finish.stdout, USER).get("action and why", "").startswith(
        f"ROTATE - no host took the new key {new_id} of run {RUN_ID}: it is deleted"), finish.explain()
    decision = task_output(finish.stdout, "Show the cutover or rollback that would follow")
    assert f"{USER}: would roll back" in decision and f"delete {new_id}" in decision, finish.explain()
    assert "would write the new key" not in finish.stdout, "the finish job writes no key, its check mode must not say so"

    real = phases.run("distribute", rotor_run_id=RUN_ID)
    assert real.returncode == 0, real.explain()
    assert_hosts_on_key(fleet, new_id)
    assert pending_secrets(endpoint) == before_secrets
    host_state_after_distribute = host_state(fleet)

    finish_check = phases.run("finish", check=True, rotor_run_id=RUN_ID)
    assert finish_check.returncode == 0, finish_check.explain()
    assert iam_writes(finish_check) == {}, finish_check.calls
    assert host_state(fleet) == host_state_after_distribute, "finish --check changed a host's credentials directory"
    assert pending_secrets(endpoint) == before_secrets, "finish --check deleted the pending secret"
    assert iam_state(endpoint) == before_iam, "finish --check changed the user's keys or tags"
    assert_hosts_on_key(fleet, new_id)
    cutover = task_output(finish_check.stdout, "Show the cutover or rollback that would follow")
    assert f"{USER}: would deactivate {old_id}, wait until AWS rejects it" in cutover and f"then delete {old_id}" in cutover, finish_check.explain()

    done = phases.run("finish", rotor_run_id=RUN_ID)

    assert done.returncode == 0, done.explain()
    state = iam_state(endpoint)
    assert {key: status for key, (status, _created) in state["keys"].items()} == {new_id: "Active"}, state
    assert "rotor:lock-run" not in state["tags"] and state["tags"].get("rotor:phase") in (None, "completed"), state
    assert pending_secrets(endpoint) == {}, "the pending secret outlived the rotation"
    assert_hosts_on_key(fleet, new_id)
    for run in (real, finish_check, done):
        assert_no_secret_in(run, secrets)


def test_distribute_check_with_another_run_id_refuses_naming_both(seeded):
    """A distribute --check of another run refuses as the real one does, naming both run ids, before it reads
    a secret or touches a host."""
    endpoint, fleet, phases = seeded["endpoint"], seeded["fleet"], seeded["phases"]
    prepare_for_real(seeded)
    before_iam, before_hosts = iam_state(endpoint), host_state(fleet)
    stale = "8100"

    runs = [phases.run("distribute", check=True, rotor_run_id=stale), phases.run("distribute", rotor_run_id=stale)]

    refusals: List[str] = []
    for run in runs:
        assert run.returncode != 0, run.explain()
        assert f"this distribute job is run {stale}" in run.stdout and f"belongs to run {RUN_ID}" in run.stdout, run.explain()
        assert iam_writes(run) == {} and "GetSecretValue" not in run.calls, run.calls
        assert_no_secret_in(run, seeded["secrets"])
        refusals.append(re.sub(r"\(until [^)]*\)", "(until ...)", task_output(run.stdout, "Refuse when a journal belongs to another run")))
    assert refusals[0] == refusals[1], f"--check refuses differently:\n{refusals[0]}\n---\n{refusals[1]}"
    assert iam_state(endpoint) == before_iam
    assert host_state(fleet) == before_hosts
