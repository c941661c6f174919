"""rotor_pending_store=secretsmanager: the new key's secret staged in AWS Secrets Manager while it is pending.

Real parts only: ansible-playbook rotor.iam.rotate, the test endpoint (moto's Secrets Manager behind the same
authentication as IAM) and a local fleet. The secret is staged once AWS accepts the new key and before any
host gets it, is deleted when the rotation ends, and a run that resumes a killed one reads it from there.
"""

from __future__ import annotations

import json
import time

import pytest

from rotation_helpers import assert_hosts_on_key, key_statuses, spawn_rotation
# The end-to-end tests' fixtures: the reset session endpoint, fleets, the rotation runner.
from test_rotate_e2e import (  # noqa: F401  pylint: disable=unused-import
    assert_rotated_and_clean,
    make_fleet,
    rotate,
    rotor_endpoint,
    seeded_fleet,
)

pytestmark = pytest.mark.slow

STORE = {"rotor_pending_store": "secretsmanager"}
NAME = "rotor/pending/{user}"


def pending_secrets(endpoint):
    """{name: {tags}} of the secrets under rotor/pending/ (the admin sees them all)."""
    client = endpoint.boto3_client("secretsmanager")
    found = {}
    for entry in client.list_secrets().get("SecretList", []):
        if entry["Name"].startswith("rotor/pending/"):
            found[entry["Name"]] = {tag["Key"]: tag["Value"] for tag in entry.get("Tags") or []}
    return found


def task_output(stdout, name):
    """What ansible-playbook printed for the first task whose name starts with ``name`` (after its TASK line)."""
    start = stdout.index(f"TASK [rotor.iam.rotate : {name}")
    body = stdout[stdout.index("\n", start) + 1:]
    return body[:body.find("TASK [")].strip()


def stored_value(endpoint, user):
    return json.loads(endpoint.boto3_client("secretsmanager").get_secret_value(SecretId=NAME.format(user=user))["SecretString"])


def test_the_pending_secret_is_staged_before_the_hosts_and_deleted_at_the_end(rotor_endpoint, make_fleet, rotate):
    user = "store-happy"
    fleet, old_id, old_secret = seeded_fleet(rotor_endpoint, make_fleet, user)

    run = rotate(fleet, extra_vars=STORE)

    assert run.returncode == 0, run.explain()
    assert_rotated_and_clean(rotor_endpoint, fleet, user, old_id, old_secret)
    assert run.calls.get("CreateSecret") == 1 and run.calls.get("DeleteSecret") == 1, run.calls
    assert pending_secrets(rotor_endpoint) == {}, "the pending secret outlived the rotation"
    # Staged before any host got the key: the task order of the run says so.
    out = run.stdout
    assert out.index("Stage the pending secret in Secrets Manager") < out.index("Switch this host to the new key"), run.explain()


def test_without_a_store_secrets_manager_is_not_called(rotor_endpoint, make_fleet, rotate):
    user = "store-none"
    fleet, old_id, old_secret = seeded_fleet(rotor_endpoint, make_fleet, user, size=2)

    run = rotate(fleet)

    assert run.returncode == 0, run.explain()
    assert_rotated_and_clean(rotor_endpoint, fleet, user, old_id, old_secret)
    assert not {action for action in run.calls if "Secret" in action}, run.calls


def test_a_killed_run_is_resumed_from_the_stored_secret(rotor_endpoint, make_fleet, tmp_path):
    user = "store-killed"
    fleet, old_id, old_secret = seeded_fleet(rotor_endpoint, make_fleet, user, size=4)
    extra = dict(STORE, rotor_batch_size=1)

    process = spawn_rotation(rotor_endpoint, [fleet.inventory_path], tmp_path / "runs", extra_vars=extra, label="killed")
    deadline = time.monotonic() + 300
    while process.running() and time.monotonic() < deadline:
        if sum(fleet.read_credentials(h)[0] != old_id for h in fleet.hosts) >= 2:
            break
        time.sleep(0.05)
    process.kill()
    first = process.wait()
    assert first.returncode != 0, first.explain()

    (pending_id,) = [key for key in key_statuses(rotor_endpoint, user) if key != old_id]
    secrets = pending_secrets(rotor_endpoint)
    assert set(secrets) == {NAME.format(user=user)}, secrets
    assert secrets[NAME.format(user=user)]["rotor:access-key-id"] == pending_id
    assert stored_value(rotor_endpoint, user)["access_key_id"] == pending_id

    second = spawn_rotation(rotor_endpoint, [fleet.inventory_path], tmp_path / "runs", extra_vars=STORE, label="resumed").wait()

    assert second.returncode == 0, second.explain()
    assert second.calls.get("GetSecretValue", 0) >= 1, second.calls
    assert task_output(second.stdout, "Read the new key's secret back from a host that holds it").startswith("skipping"), second.explain()
    new_id = assert_rotated_and_clean(rotor_endpoint, fleet, user, old_id, old_secret)
    assert new_id == pending_id, "the resumed run made another key instead of finishing with the pending one"
    assert_hosts_on_key(fleet, pending_id)
    assert pending_secrets(rotor_endpoint) == {}
