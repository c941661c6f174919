"""Secrets Manager through the test endpoint: authenticated like IAM, authorized against the secret's ARN.

rotor.iam.pending_secret keeps a pending key's secret there; docs/iam-policy.json scopes its
permissions to arn:aws:secretsmanager:*:*:secret:rotor/pending/*, which stock moto (every policy
evaluated against the resource "*") could never allow. The real server runs in a subprocess.
"""

import os
import sys

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")

from botocore.exceptions import ClientError  # noqa: E402

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from service_auth import NO_RETRIES, client_as, endpoint, outcome, user_with_policy  # noqa: E402,F401  pylint: disable=unused-import

PENDING_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["secretsmanager:CreateSecret", "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
            "Resource": "arn:aws:secretsmanager:*:*:secret:rotor/pending/*",
        }
    ],
}


def secrets_as(endpoint, key_id, secret):
    return client_as(endpoint, "secretsmanager", key_id, secret)


def test_unknown_wrong_and_inactive_keys_are_rejected_with_json_codes(endpoint):
    key = user_with_policy(endpoint, "bob", PENDING_ONLY)
    endpoint.boto3_client("secretsmanager").create_secret(Name="rotor/pending/alice", SecretString="{}")
    name = {"SecretId": "rotor/pending/alice"}

    assert outcome(secrets_as(endpoint, key["AccessKeyId"], key["SecretAccessKey"]).describe_secret, **name) == "ok"
    assert outcome(secrets_as(endpoint, "AKIAUNKNOWN000000000", "x" * 40).describe_secret, **name) == (
        "UnrecognizedClientException", 403)
    assert outcome(secrets_as(endpoint, key["AccessKeyId"], "x" * 40).describe_secret, **name) == (
        "InvalidSignatureException", 403)
    endpoint.boto3_client("iam").update_access_key(UserName="bob", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert outcome(secrets_as(endpoint, key["AccessKeyId"], key["SecretAccessKey"]).describe_secret, **name) == (
        "UnrecognizedClientException", 403)


def test_a_policy_scoped_to_the_prefix_allows_only_secrets_under_it(endpoint):
    key = user_with_policy(endpoint, "bob", PENDING_ONLY)
    admin = endpoint.boto3_client("secretsmanager")
    admin.create_secret(Name="other/alice", SecretString="{}")
    bob = secrets_as(endpoint, key["AccessKeyId"], key["SecretAccessKey"])

    assert outcome(bob.create_secret, Name="rotor/pending/carol", SecretString="{}") == "ok"
    assert outcome(bob.get_secret_value, SecretId="rotor/pending/carol") == "ok"
    assert outcome(bob.describe_secret, SecretId="rotor/pending/nobody")[0] == "ResourceNotFoundException"
    assert outcome(bob.create_secret, Name="other/carol", SecretString="{}") == ("AccessDeniedException", 403)
    assert outcome(bob.get_secret_value, SecretId="other/alice") == ("AccessDeniedException", 403)
    # An action the policy does not name is denied under the prefix too.
    assert outcome(bob.delete_secret, SecretId="rotor/pending/carol") == ("AccessDeniedException", 403)
    with pytest.raises(ClientError) as denied:
        bob.get_secret_value(SecretId="other/alice")
    assert "secretsmanager:GetSecretValue" in denied.value.response["Error"]["Message"]


def test_faults_and_counters_apply_to_secretsmanager(endpoint):
    admin = endpoint.boto3_client("secretsmanager", config=NO_RETRIES)
    endpoint.reset_calls()
    endpoint.inject("DescribeSecret", "throttle", count=1)
    assert outcome(admin.describe_secret, SecretId="rotor/pending/x") == ("ThrottlingException", 400)
    assert outcome(admin.describe_secret, SecretId="rotor/pending/x")[0] == "ResourceNotFoundException"  # moto: 404
    assert endpoint.calls()["calls"]["DescribeSecret"] == 2


def test_iam_errors_stay_xml_query_errors(endpoint):
    """The JSON translation is for X-Amz-Target requests only: IAM and STS answer as before."""
    iam = endpoint.boto3_client("iam", "AKIAUNKNOWN000000000", "x" * 40, config=NO_RETRIES)
    assert outcome(iam.list_users) == ("InvalidClientTokenId", 403)


def test_kms_key_through_the_endpoint_encrypts_a_secret(endpoint):
    kms_key = endpoint.boto3_client("kms").create_key()["KeyMetadata"]
    admin = endpoint.boto3_client("secretsmanager")
    admin.create_secret(Name="rotor/pending/k", SecretString="{}", KmsKeyId=kms_key["Arn"])
    assert admin.describe_secret(SecretId="rotor/pending/k")["KmsKeyId"] == kms_key["Arn"]


def test_moving_awscurrent_back_changes_what_a_plain_read_returns(endpoint):
    """As in AWS, GetSecretValue without a stage serves AWSCURRENT, also after UpdateSecretVersionStage moved it
    back (stock moto keeps serving the newest version)."""
    client = endpoint.boto3_client("secretsmanager")
    client.create_secret(Name="rotor/keys/stage-back", SecretString="old")
    newer = client.put_secret_value(SecretId="rotor/keys/stage-back", SecretString="new")["VersionId"]
    older = next(version for version, stages in client.describe_secret(SecretId="rotor/keys/stage-back")["VersionIdsToStages"].items()
                 if "AWSPREVIOUS" in stages)
    client.update_secret_version_stage(SecretId="rotor/keys/stage-back", VersionStage="AWSCURRENT", MoveToVersionId=older,
                                       RemoveFromVersionId=newer)
    assert client.get_secret_value(SecretId="rotor/keys/stage-back")["SecretString"] == "old"
    assert client.get_secret_value(SecretId="rotor/keys/stage-back", VersionStage="AWSPREVIOUS")["SecretString"] == "new"
