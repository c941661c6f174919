"""Who acts and whether it can: the sentences the plan starts with (plugins/module_utils/caller_checks.py)."""

import pytest

from ansible_collections.rotor.iam.plugins.module_utils.caller_checks import caller_lines
from ansible_collections.rotor.iam.plugins.module_utils.caller_checks import credential_source
from ansible_collections.rotor.iam.plugins.module_utils.caller_checks import denied_actions
from ansible_collections.rotor.iam.plugins.module_utils.caller_checks import permissions_sentence
from ansible_collections.rotor.iam.plugins.module_utils.caller_checks import simulation_principal
from ansible_collections.rotor.iam.plugins.module_utils.caller_checks import user_arn

ADMIN = "AKIAADMIN00000000001"


def test_environment_keys_that_win_over_aws_profile_are_named():
    source = credential_source("explicit", None, ADMIN, {"AWS_PROFILE": "limited", "AWS_ACCESS_KEY_ID": ADMIN}, from_environment=True)

    assert source["description"] == f"environment variables (AWS_ACCESS_KEY_ID), access key {ADMIN}"
    assert source["warnings"] == [
        f"AWS_PROFILE=limited is set but NOT used: the access key in AWS_ACCESS_KEY_ID ({ADMIN}) signs rotor's calls, because "
        f"environment keys are given to botocore explicitly. Unset AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or set "
        f"rotor_aws_profile=limited (a profile given to rotor wins over environment keys)."]


def test_a_profile_that_wins_over_environment_keys_is_named():
    source = credential_source("shared-credentials-file", "limited", "AKIALIMITED000000001", {"AWS_ACCESS_KEY_ID": ADMIN})

    assert source["description"] == "profile limited: the shared credentials file (~/.aws/credentials), access key AKIALIMITED000000001"
    assert source["warnings"] == [f"AWS_ACCESS_KEY_ID ({ADMIN}) is in the environment but NOT used: profile limited signs rotor's calls. "
                                  f"Unset the environment keys if that is not what you meant."]


def test_a_value_in_aws_access_key_id_that_is_not_a_key_id_is_not_shown():
    source = credential_source("iam-role", "p", None, {"AWS_ACCESS_KEY_ID": "not-a-key-maybe-a-secret"})
    assert "not-a-key" not in " ".join(source["warnings"])


@pytest.mark.parametrize("method, described", [("iam-role", "the instance role (EC2 instance metadata)"), (None, "no credentials found"),
                                               ("sso", "AWS IAM Identity Center (SSO)")])
def test_credential_methods_said_for_people(method, described):
    assert credential_source(method)["description"] == described
    assert credential_source(method)["warnings"] == []


@pytest.mark.parametrize("arn, principal", [
    ("arn:aws:iam::123456789012:user/ops/rotor", "arn:aws:iam::123456789012:user/ops/rotor"),
    ("arn:aws:sts::123456789012:assumed-role/RotorRole/session-1", "arn:aws:iam::123456789012:role/RotorRole"),
    ("arn:aws:sts::123456789012:federated-user/bob", None),
    ("arn:aws:iam::123456789012:root", None),
])
def test_the_principal_simulated(arn, principal):
    assert simulation_principal(arn) == principal


def test_user_arn_in_the_callers_account_and_partition():
    assert user_arn("arn:aws-cn:iam::123456789012:user/rotor", "app") == "arn:aws-cn:iam::123456789012:user/app"


def test_permissions_sentences():
    denied = denied_actions([
        {"EvalActionName": "iam:UpdateAccessKey", "EvalResourceName": "arn:aws:iam::1:user/a", "EvalDecision": "explicitDeny"},
        {"EvalActionName": "iam:CreateAccessKey", "EvalResourceName": "arn:aws:iam::1:user/a", "EvalDecision": "allowed"},
        {"EvalActionName": "iam:DeleteAccessKey", "EvalResourceName": "arn:aws:iam::1:user/a", "EvalDecision": "implicitDeny"},
    ])
    assert permissions_sentence({"checked": True, "denied": denied}) == (
        "permissions: DENIED by the caller's IAM policies - iam:UpdateAccessKey (explicitDeny), iam:DeleteAccessKey (implicitDeny) "
        "on arn:aws:iam::1:user/a. A rotation that needs one of them stops there: grant them (docs/iam-policy.json) before the real run. "
        "(Each user is simulated as user/NAME: for a user with an IAM path, a policy scoped to that path shows as denied here though "
        "it may allow the real ARN)")
    assert permissions_sentence({"checked": False, "reason": "why"}).startswith("permissions: NOT checked (why)")
    assert permissions_sentence({"checked": True, "denied": [], "actions": ["iam:TagUser"]}).startswith(
        "permissions: every action the plan may need is allowed by the caller's IAM policies (TagUser;")


def test_caller_lines_name_each_connection():
    results = [{"item": {"profile": "", "region": "eu-west-1", "endpoint_url": ""}, "arn": "arn:aws:iam::1:user/rotor", "account": "1",
                "credential_source": {"description": "profile x", "warnings": ["w"]}, "permissions": {"checked": False, "reason": "r"}},
               {"item": {"profile": "other"}, "failed": True, "msg": "rejected"},
               {"skipped": True}]
    assert caller_lines(results) == [
        "caller [region eu-west-1]: arn:aws:iam::1:user/rotor (account 1), credentials from profile x",
        "WARNING [region eu-west-1]: w",
        "permissions: NOT checked (r); a missing permission shows only when the run reaches it [region eu-west-1]",
        "caller [profile other]: UNKNOWN - rejected",
    ]
