"""rotor.iam.secret_destination, run by ansible-playbook against the test endpoint's Secrets Manager and SSM.

Nothing is mocked: the module talks HTTP to moto behind our wrapper (SigV4 and IAM policies enforced).
Playbooks in targets/secret_destination/ assert the module results; each test then checks the service itself
through boto3 (by key ids, versions and staging labels) and the endpoint's call counters. The runner
(conftest.run_playbook, -vvvv --diff) fails a test whose output contains any secret it knows of.
"""

from __future__ import annotations

import json
import secrets
import string
import uuid
from pathlib import Path

import pytest

TARGETS = Path(__file__).resolve().parent / "targets" / "secret_destination"
WRITES = ("CreateSecret", "PutSecretValue", "UpdateSecretVersionStage", "PutParameter", "DeleteSecret",
          "DeleteParameter", "LabelParameterVersion")


@pytest.fixture
def run_destination(run_playbook, monkeypatch):
    """conftest.run_playbook (output scanned for secrets), for the playbooks of targets/secret_destination."""
    monkeypatch.setitem(run_playbook.__globals__, "TARGETS", TARGETS)
    return run_playbook


@pytest.fixture
def made_up_key(known_secrets):
    """A made-up key id and secret (a destination never checks them against IAM); the secret is scanned for."""

    def make():
        key_id = "AKIA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _position in range(16))
        secret = "".join(secrets.choice(string.ascii_letters + string.digits + "/+") for _position in range(40))
        known_secrets.append(secret)
        return key_id, secret

    return make


def writes(run):
    calls = run.calls
    return {action: calls[action] for action in WRITES if calls.get(action)}


def secret_versions(secretsmanager, name):
    """{stage: key id} of a secret's AWSCURRENT and AWSPREVIOUS versions, and its other fields in AWSCURRENT."""
    held = {}
    for stage in ("AWSCURRENT", "AWSPREVIOUS"):
        value = json.loads(secretsmanager.get_secret_value(SecretId=name, VersionStage=stage)["SecretString"])
        held[stage] = value["AccessKeyId"]
        if stage == "AWSCURRENT":
            held["other"] = {k: v for k, v in value.items() if k not in ("AccessKeyId", "SecretAccessKey")}
    return held


def test_secretsmanager_present_idempotent_restored(run_destination, made_up_key, endpoint):
    secretsmanager = endpoint.boto3_client("secretsmanager")
    name = f"rotor-it/app-{uuid.uuid4().hex[:6]}"
    (old_id, old_secret), (new_id, new_secret) = made_up_key(), made_up_key()
    secretsmanager.create_secret(Name=name, SecretString=json.dumps(
        {"AccessKeyId": old_id, "SecretAccessKey": old_secret, "Region": "eu-west-1"}))

    run = run_destination("lifecycle", dest_type="secretsmanager", dest_name=name, old_key_id=old_id,
                          new_key_id=new_id, new_secret=new_secret)

    assert run.returncode == 0, run.explain()
    # One write, one stage move: idempotent runs and check mode wrote nothing.
    assert writes(run) == {"PutSecretValue": 1, "UpdateSecretVersionStage": 1}
    # The old secret is current again and the rotor-written one is AWSPREVIOUS; other fields kept.
    assert secret_versions(secretsmanager, name) == {"AWSCURRENT": old_id, "AWSPREVIOUS": new_id,
                                                     "other": {"Region": "eu-west-1"}}


def test_ssm_present_idempotent_restored(run_destination, made_up_key, endpoint):
    ssm = endpoint.boto3_client("ssm")
    name = f"/rotor-it/app-{uuid.uuid4().hex[:6]}"
    (old_id, old_secret), (new_id, new_secret) = made_up_key(), made_up_key()
    ssm.put_parameter(Name=name, Type="SecureString",
                      Value=json.dumps({"AccessKeyId": old_id, "SecretAccessKey": old_secret, "Region": "x"}))

    run = run_destination("lifecycle", dest_type="ssm", dest_name=name, old_key_id=old_id,
                          new_key_id=new_id, new_secret=new_secret)

    assert run.returncode == 0, run.explain()
    assert writes(run) == {"PutParameter": 2}  # the new key, and the old value put back
    history = ssm.get_parameter_history(Name=name, WithDecryption=True)["Parameters"]
    held = [(p["Version"], json.loads(p["Value"])["AccessKeyId"]) for p in history]
    assert held == [(1, old_id), (2, new_id), (3, old_id)]
    assert json.loads(history[-1]["Value"]) == {"AccessKeyId": old_id, "SecretAccessKey": old_secret, "Region": "x"}


def test_bad_input_and_someone_elses_change_are_refused_by_name(run_destination, made_up_key, endpoint):
    secretsmanager, ssm = endpoint.boto3_client("secretsmanager"), endpoint.boto3_client("ssm")
    suffix = uuid.uuid4().hex[:6]
    (other_id, other_secret), (new_id, new_secret) = made_up_key(), made_up_key()
    sm_name, text_name, plain_name = f"rotor-it/other-{suffix}", f"rotor-it/text-{suffix}", f"/rotor-it/plain-{suffix}"
    secretsmanager.create_secret(Name=sm_name, SecretString=json.dumps(
        {"AccessKeyId": other_id, "SecretAccessKey": other_secret}))
    secretsmanager.create_secret(Name=text_name, SecretString="not json")
    ssm.put_parameter(Name=plain_name, Type="String", Value="{}")

    run = run_destination("refusals", sm_name=sm_name, text_name=text_name, plain_name=plain_name,
                          new_key_id=new_id, new_secret=new_secret, other_key_id=other_id)

    assert run.returncode == 0, run.explain()
    assert "Traceback" not in run.output
    assert writes(run) == {}
    assert json.loads(ssm.get_parameter(Name=plain_name)["Parameter"]["Value"]) == {}
