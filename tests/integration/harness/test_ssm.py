"""SSM Parameter Store through the test endpoint: authenticated like IAM, authorized against the parameter's ARN.

rotor.iam.secret_destination writes access keys into SecureString parameters; docs/iam-policy.json scopes its
permissions to parameter ARNs, which stock moto (every policy evaluated against the resource "*") could never allow.
The real server runs in a subprocess.
"""

import os
import sys

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")

from botocore.exceptions import ClientError  # noqa: E402

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from service_auth import NO_RETRIES, client_as, endpoint, outcome, user_with_policy  # noqa: E402,F401  pylint: disable=unused-import
from iam_endpoint.server import parameter_arn  # noqa: E402

APP_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["ssm:GetParameter", "ssm:PutParameter", "ssm:GetParameterHistory"],
            "Resource": "arn:aws:ssm:*:*:parameter/app/*",
        }
    ],
}


def ssm_as(endpoint, key_id, secret):
    return client_as(endpoint, "ssm", key_id, secret)


@pytest.mark.parametrize("name, arn", [
    ("/app/key", "arn:aws:ssm:us-east-1:123456789012:parameter/app/key"),
    ("app-key", "arn:aws:ssm:us-east-1:123456789012:parameter/app-key"),
    ("/app/key:3", "arn:aws:ssm:us-east-1:123456789012:parameter/app/key"),
    ("/app/key:rotor-previous", "arn:aws:ssm:us-east-1:123456789012:parameter/app/key"),
    ("arn:aws:ssm:us-east-1:123456789012:parameter/app/key:2", "arn:aws:ssm:us-east-1:123456789012:parameter/app/key"),
])
def test_parameter_arn_drops_the_leading_slash_and_the_selector(name, arn):
    assert parameter_arn(name, "us-east-1", "123456789012") == arn


def test_unknown_wrong_and_inactive_keys_are_rejected_with_json_codes(endpoint):
    key = user_with_policy(endpoint, "bob", APP_ONLY)
    endpoint.boto3_client("ssm").put_parameter(Name="/app/key", Value="v1", Type="SecureString")
    name = {"Name": "/app/key", "WithDecryption": True}

    assert outcome(ssm_as(endpoint, key["AccessKeyId"], key["SecretAccessKey"]).get_parameter, **name) == "ok"
    assert outcome(ssm_as(endpoint, "AKIAUNKNOWN000000000", "x" * 40).get_parameter, **name) == (
        "UnrecognizedClientException", 403)
    assert outcome(ssm_as(endpoint, key["AccessKeyId"], "x" * 40).get_parameter, **name) == (
        "InvalidSignatureException", 403)
    endpoint.boto3_client("iam").update_access_key(UserName="bob", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert outcome(ssm_as(endpoint, key["AccessKeyId"], key["SecretAccessKey"]).get_parameter, **name) == (
        "UnrecognizedClientException", 403)


def test_a_new_key_is_rejected_by_ssm_during_its_propagation_lag(endpoint):
    key = user_with_policy(endpoint, "bob", APP_ONLY)
    endpoint.configure(new_key_propagation_seconds=30)
    bob = ssm_as(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    assert outcome(bob.put_parameter, Name="/app/key", Value="v", Type="SecureString") == (
        "UnrecognizedClientException", 403)
    endpoint.configure(new_key_propagation_seconds=0)
    assert outcome(bob.put_parameter, Name="/app/key", Value="v", Type="SecureString") == "ok"


def test_a_policy_scoped_to_a_path_allows_only_parameters_under_it(endpoint):
    key = user_with_policy(endpoint, "bob", APP_ONLY)
    admin = endpoint.boto3_client("ssm")
    admin.put_parameter(Name="/other/key", Value="x", Type="SecureString")
    bob = ssm_as(endpoint, key["AccessKeyId"], key["SecretAccessKey"])

    assert outcome(bob.put_parameter, Name="/app/key", Value="v1", Type="SecureString") == "ok"
    assert outcome(bob.put_parameter, Name="/app/key", Value="v2", Type="SecureString", Overwrite=True) == "ok"
    assert outcome(bob.get_parameter, Name="/app/key:1", WithDecryption=True) == "ok"
    assert outcome(bob.get_parameter_history, Name="/app/key") == "ok"
    assert outcome(bob.get_parameter, Name="/app/missing")[0] == "ParameterNotFound"
    assert outcome(bob.get_parameter, Name="/other/key")[0] == "AccessDeniedException"
    assert outcome(bob.put_parameter, Name="/other/new", Value="v", Type="SecureString")[0] == "AccessDeniedException"
    # An action the policy does not name is denied under the path too.
    assert outcome(bob.delete_parameter, Name="/app/key")[0] == "AccessDeniedException"
    with pytest.raises(ClientError) as denied:
        bob.get_parameter(Name="/other/key")
    assert "ssm:GetParameter" in denied.value.response["Error"]["Message"]


def test_faults_and_counters_apply_to_ssm(endpoint):
    admin = endpoint.boto3_client("ssm", config=NO_RETRIES)
    endpoint.reset_calls()
    endpoint.inject("GetParameter", "throttle", count=1)
    assert outcome(admin.get_parameter, Name="/app/x") == ("ThrottlingException", 400)
    assert outcome(admin.get_parameter, Name="/app/x")[0] == "ParameterNotFound"
    assert endpoint.calls()["calls"]["GetParameter"] == 2


def test_history_keeps_the_previous_value_of_a_securestring(endpoint):
    admin = endpoint.boto3_client("ssm")
    admin.put_parameter(Name="/app/key", Value="one", Type="SecureString")
    admin.put_parameter(Name="/app/key", Value="two", Type="SecureString", Overwrite=True)
    history = admin.get_parameter_history(Name="/app/key", WithDecryption=True)["Parameters"]
    assert [(p["Version"], p["Value"]) for p in history] == [(1, "one"), (2, "two")]
    assert admin.get_parameter(Name="/app/key", WithDecryption=False)["Parameter"]["Value"] != "two"
