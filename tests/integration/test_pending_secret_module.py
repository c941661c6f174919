"""rotor.iam.pending_secret, run by ansible-playbook against the test endpoint's Secrets Manager.

Nothing is mocked: the module talks HTTP to moto behind our wrapper (SigV4 and IAM policies
enforced). Playbooks in targets/pending_secret/ assert the module results; each test then checks
Secrets Manager itself through boto3 and the endpoint's call counters. The runner
(conftest.run_playbook, -vvvv --diff) fails a test whose output contains any secret it knows of.
"""

from __future__ import annotations

import json
import secrets
import string
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

TARGETS = Path(__file__).resolve().parent / "targets" / "pending_secret"
WRITES = ("CreateSecret", "PutSecretValue", "TagResource", "UntagResource", "DeleteSecret", "UpdateSecret")


@pytest.fixture
def run_pending(run_playbook, monkeypatch):
    """conftest.run_playbook (output scanned for secrets), for the playbooks of targets/pending_secret."""
    monkeypatch.setitem(run_playbook.__globals__, "TARGETS", TARGETS)
    return run_playbook


@pytest.fixture
def secretsmanager(endpoint):
    return endpoint.boto3_client("secretsmanager")


@pytest.fixture
def pending_key(known_secrets):
    """A made-up key id and secret (the store never checks them against IAM); the secret is scanned for."""
    key_id = "AKIA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _position in range(16))
    secret = "".join(secrets.choice(string.ascii_letters + string.digits + "/+") for _position in range(40))
    known_secrets.append(secret)
    return key_id, secret


def unique_user(label):
    return f"it-pending-{label}-{uuid.uuid4().hex[:6]}"


def stored(secretsmanager, name):
    """(tags, value) of a secret as Secrets Manager has it, or None."""
    try:
        description = secretsmanager.describe_secret(SecretId=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise
    value = json.loads(secretsmanager.get_secret_value(SecretId=name)["SecretString"])
    return {tag["Key"]: tag["Value"] for tag in description.get("Tags", [])}, value


def writes(run):
    calls = run.calls
    return {action: calls[action] for action in WRITES if calls.get(action)}


def test_present_read_absent_with_check_mode_and_idempotence(run_pending, pending_key, secretsmanager, tmp_path):
    user = unique_user("life")
    key_id, secret = pending_key

    run = run_pending("lifecycle", user_name=user, access_key_id=key_id, secret_access_key=secret, run_id="4711")

    assert run.returncode == 0, run.explain()
    assert (tmp_path / "secrets" / "read").read_text() == secret  # read back, and scanned for in the output
    assert stored(secretsmanager, f"rotor/pending/{user}") is None
    # One create and one delete: the idempotent runs and every check mode wrote nothing.
    assert writes(run) == {"CreateSecret": 1, "DeleteSecret": 1}
    # The no_log result of the read is censored in the -vvvv output.
    assert "the output has been hidden" in run.output


def test_check_mode_writes_nothing_in_any_state(run_pending, pending_key, secretsmanager):
    new_user, staged_user = unique_user("new"), unique_user("staged")
    key_id, secret = pending_key
    staged_value = {"access_key_id": "AKIASTAGED0000000000", "secret_access_key": "s" * 40}
    tags = [{"Key": "rotor:run-id", "Value": "run-1"}, {"Key": "rotor:user", "Value": staged_user},
            {"Key": "rotor:access-key-id", "Value": "AKIASTAGED0000000000"}]
    secretsmanager.create_secret(Name=f"rotor/pending/{staged_user}", SecretString=json.dumps(staged_value), Tags=tags)
    try:
        run = run_pending("check_mode", new_user=new_user, staged_user=staged_user, access_key_id=key_id,
                          secret_access_key=secret, run_id="run-2", staged_run_id="run-1")

        assert run.returncode == 0, run.explain()
        assert writes(run) == {}
        assert stored(secretsmanager, f"rotor/pending/{new_user}") is None
        assert stored(secretsmanager, f"rotor/pending/{staged_user}") == ({t["Key"]: t["Value"] for t in tags}, staged_value)
    finally:
        secretsmanager.delete_secret(SecretId=f"rotor/pending/{staged_user}", ForceDeleteWithoutRecovery=True)


def test_another_runs_secret_is_refused_naming_both_run_ids_unless_forced(run_pending, pending_key, secretsmanager):
    user = unique_user("mismatch")
    key_id, secret = pending_key

    run = run_pending("run_id_mismatch", user_name=user, access_key_id=key_id, secret_access_key=secret,
                      run_id="awx-100", other_run_id="awx-200")

    assert run.returncode == 0, run.explain()
    assert "Traceback" not in run.output
    # Refused calls wrote nothing: the only writes are the staging and the forced removal.
    assert writes(run) == {"CreateSecret": 1, "DeleteSecret": 1}
    assert stored(secretsmanager, f"rotor/pending/{user}") is None


def test_kms_key_and_name_rule_for_an_account_reference(run_pending, pending_key, endpoint, secretsmanager):
    kms_key = endpoint.boto3_client("kms").create_key(Description="rotor pending test")["KeyMetadata"]
    user = unique_user("kms").replace("-kms-", "-kms,ops-")  # a comma: allowed in IAM, not in Secrets Manager
    name = f"rotor/pending/{endpoint.account_id}/{user.replace(',', '=2C')}"
    key_id, secret = pending_key
    try:
        run = run_pending("kms", user_name=f"{endpoint.account_id}:{user}", access_key_id=key_id,
                          secret_access_key=secret, run_id="7", kms_key_id=kms_key["Arn"], expected_name=name)

        assert run.returncode == 0, run.explain()
        assert secretsmanager.describe_secret(SecretId=name)["KmsKeyId"] == kms_key["Arn"]
        tags, value = stored(secretsmanager, name)
        assert value == {"access_key_id": key_id, "secret_access_key": secret}
        assert tags == {"rotor:run-id": "7", "rotor:user": f"{endpoint.account_id}:{user.replace(',', '=2C')}",
                        "rotor:access-key-id": key_id}
    finally:
        secretsmanager.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
