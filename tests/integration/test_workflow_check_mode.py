"""Check mode of the workflow's phase playbooks (extensions/awx/rotate-workflow.yml): prepare and distribute with --check.

Check mode promises an accurate plan and zero writes. Each case runs plain ``ansible-playbook`` on a phase
playbook over a local fleet (the consumers sign real STS calls with their file's key) against the test
endpoint, and then looks where the state lives: the user's keys and tags in IAM (admin boto3 client), the
secrets under the pending prefix in Secrets Manager, and every host's credentials directory (bytes, mode,
mtime, no file added). A check run that changes nothing must also leave nothing that breaks the real run
after it: the real distribute after it still switches every host.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Optional

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from rotation_helpers import PLAYBOOK_TIMEOUT, assert_hosts_on_key, credentials_dir_files, file_states  # noqa: E402  pylint: disable=wrong-import-position
from support import PlaybookResult as RotationRun, assert_no_secrets, rotor_vars, run_playbook  # noqa: E402  pylint: disable=wrong-import-position
from fleet.fleet import Fleet  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.slow

USER = "wfcheck-app"
HOSTS = 4
RUN_ID = "8101"
PREFIX = "rotor/pending/"
WORKFLOW = {"rotor_pending_store": "secretsmanager", "rotor_old_key_action": "delete", "rotor_batch_size": 1}
PLAYBOOKS = ("prepare", "distribute", "cutover", "settle", "rollback", "restore", "finish", "cleanup")


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


def test_prepare_in_check_mode_shows_the_plan_and_writes_nothing(seeded):
    endpoint, fleet = seeded["endpoint"], seeded["fleet"]
    before_iam, before_hosts = iam_state(endpoint), host_state(fleet)

    run = seeded["phases"].run("prepare", check=True, rotor_run_id=RUN_ID)

    assert run.returncode == 0, run.explain()
    assert f"{USER}: key {seeded['old_id']} is 120 days old" in run.stdout, run.explain()
    assert iam_writes(run) == {}, run.calls
    assert iam_state(endpoint) == before_iam and pending_secrets(endpoint) == {}
    assert host_state(fleet) == before_hosts
    assert_no_secret_in(run, seeded["secrets"])


def test_distribute_in_check_mode_changes_no_host_and_the_real_one_after_it_switches_every_host(seeded):
    endpoint, fleet = seeded["endpoint"], seeded["fleet"]
    new_id = prepare_for_real(seeded)
    before_iam, before_hosts = iam_state(endpoint), host_state(fleet)

    check = seeded["phases"].run("distribute", check=True, rotor_run_id=RUN_ID)

    assert check.returncode == 0, check.explain()
    assert iam_writes(check) == {}, check.calls
    assert iam_state(endpoint) == before_iam and host_state(fleet) == before_hosts
    assert_no_secret_in(check, seeded["secrets"])

    real = seeded["phases"].run("distribute", rotor_run_id=RUN_ID)

    assert real.returncode == 0, real.explain()
    assert_hosts_on_key(fleet, new_id)
    assert_no_secret_in(real, seeded["secrets"])
