"""AWS's quarantine of a leaked key's user (plugins/module_utils/quarantine.py): which policies, what they deny, when to detach."""

import json

import botocore.exceptions
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from ansible_collections.rotor.iam.plugins.module_utils.quarantine import OUT_OF_SERVICE_STATES
from ansible_collections.rotor.iam.plugins.module_utils.quarantine import denial_message
from ansible_collections.rotor.iam.plugins.module_utils.quarantine import denied_actions
from ansible_collections.rotor.iam.plugins.module_utils.quarantine import describe_quarantine
from ansible_collections.rotor.iam.plugins.module_utils.quarantine import detach_decision
from ansible_collections.rotor.iam.plugins.module_utils.quarantine import detach_policies
from ansible_collections.rotor.iam.plugins.module_utils.quarantine import quarantine_policy_name

V3 = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"


@pytest.mark.parametrize("arn, name", [
    ("arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine", "AWSCompromisedKeyQuarantine"),
    ("arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2", "AWSCompromisedKeyQuarantineV2"),
    (V3, "AWSCompromisedKeyQuarantineV3"),
    ("arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV4", "AWSCompromisedKeyQuarantineV4"),
    ("arn:aws-cn:iam::aws:policy/AWSCompromisedKeyQuarantineV2", "AWSCompromisedKeyQuarantineV2"),
    # A customer's look-alike is not AWS's quarantine: never reported as one, never detached.
    ("arn:aws:iam::123456789012:policy/AWSCompromisedKeyQuarantineV3", None),
    ("arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3Extra", None),
    ("arn:aws:iam::aws:policy/ReadOnlyAccess", None),
    ("", None),
    (None, None),
])
def test_only_aws_own_quarantine_policies_are_recognised(arn, name):
    assert quarantine_policy_name(arn) == name


def test_denied_actions_from_a_document_as_iam_returns_it():
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": ["iam:CreateAccessKey", "s3:GetObject"], "Resource": "*"},
        {"Effect": "Deny", "Action": "kms:CreateGrant", "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"},
        {"Effect": "Deny", "NotAction": "sts:GetCallerIdentity", "Resource": "*"},
    ]}
    expected = ["NotAction:sts:GetCallerIdentity", "iam:CreateAccessKey", "kms:CreateGrant", "s3:GetObject"]

    assert denied_actions(document) == expected
    assert denied_actions(json.dumps(document).replace(" ", "%20").replace('"', "%22")) == expected  # URL-encoded text


class FakeIAM:
    def __init__(self, attached, documents, deny_read=False):
        self.attached, self.documents, self.deny_read, self.detached = attached, documents, deny_read, []

    def list_attached_user_policies(self, aws_retry=False, UserName=None, Marker=None):
        half = len(self.attached) // 2
        if Marker is None and half:
            return {"AttachedPolicies": self.attached[:half], "IsTruncated": True, "Marker": "m"}
        return {"AttachedPolicies": self.attached[half:] if Marker else self.attached, "IsTruncated": False}

    def get_policy(self, aws_retry=False, PolicyArn=None):
        if self.deny_read:
            raise botocore.exceptions.ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetPolicy")
        return {"Policy": {"DefaultVersionId": "v3"}}

    def get_policy_version(self, aws_retry=False, PolicyArn=None, VersionId=None):
        return {"PolicyVersion": {"Document": self.documents[PolicyArn]}}

    def detach_user_policy(self, aws_retry=False, UserName=None, PolicyArn=None):
        self.detached.append(PolicyArn)


def test_describe_reads_each_quarantine_policy_and_ignores_the_others():
    attached = [{"PolicyName": "ReadOnlyAccess", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
                {"PolicyName": "AWSCompromisedKeyQuarantineV3", "PolicyArn": V3}]
    iam = FakeIAM(attached, {V3: {"Statement": [{"Effect": "Deny", "Action": ["iam:CreateAccessKey", "cloudtrail:LookupEvents"]}]}})

    quarantine = describe_quarantine(iam, "app")

    assert quarantine == {"attached": True, "denied_actions": ["cloudtrail:LookupEvents", "iam:CreateAccessKey"], "policies": [
        {"policy_name": "AWSCompromisedKeyQuarantineV3", "policy_arn": V3, "denied_actions": ["cloudtrail:LookupEvents", "iam:CreateAccessKey"],
         "read_error": None}]}


def test_a_policy_that_cannot_be_read_still_says_what_it_is_known_to_deny():
    iam = FakeIAM([{"PolicyName": "AWSCompromisedKeyQuarantineV3", "PolicyArn": V3}], {}, deny_read=True)

    (policy,) = describe_quarantine(iam, "app")["policies"]

    assert "iam:CreateAccessKey" in policy["denied_actions"] and "AccessDenied" in policy["read_error"]


def test_the_message_names_the_inherited_denies_and_the_health_checks_at_risk():
    quarantine = {"attached": True, "policies": [{"policy_name": "AWSCompromisedKeyQuarantineV3"}],
                  "denied_actions": sorted(["iam:CreateAccessKey", "s3:GetObject", "amplify:CreateDeployment"] + [f"x:A{i}" for i in range(20)])}

    message = denial_message("app", quarantine, {"web1": "GET http://127.0.0.1/health", "web2": None})

    assert message.startswith("app: quarantined by AWS (AWSCompromisedKeyQuarantineV3), which denies 23 actions, among them "
                              "iam:CreateAccessKey, s3:GetObject.")
    assert "the new key inherits every deny" in message and "web1 (GET http://127.0.0.1/health); web2" in message
    assert denial_message("app", {"attached": False, "policies": [], "denied_actions": []}, {}) == "app: no AWS quarantine policy is attached."


@pytest.mark.parametrize("opt_in, state, proven, attached, detach, reason", [
    (True, "Inactive", True, True, True, "detached: the leaked key is Inactive and AWS rejects it"),
    (True, "deleted", True, True, True, "detached: the leaked key is deleted and AWS rejects it"),
    (False, "deleted", True, True, False, "kept: rotor_detach_quarantine_policy is false (detaching it is an explicit decision)"),
    (True, "Active", True, True, False, "kept: the leaked key is Active, not Inactive or deleted"),
    (True, "Inactive", False, True, False, "kept: AWS was not proven to reject the leaked key"),
    (True, "Inactive", True, False, False, "no quarantine policy is attached"),
])
def test_detach_decision(opt_in, state, proven, attached, detach, reason):
    assert detach_decision(opt_in, state, proven, attached) == (detach, reason)


@given(opt_in=st.booleans(), state=st.sampled_from(["Active", "Inactive", "Expired", "deleted", "Unknown"]), proven=st.booleans(),
       attached=st.booleans())
def test_the_quarantine_is_never_detached_without_every_condition(opt_in, state, proven, attached):
    detach, _reason = detach_decision(opt_in, state, proven, attached)

    assert detach == (opt_in and state in OUT_OF_SERVICE_STATES and proven and attached)


def test_detach_refuses_anything_but_a_quarantine_policy_and_changes_nothing():
    iam = FakeIAM([], {})

    with pytest.raises(RotorIAMError, match="not an AWS quarantine policy"):
        detach_policies(iam, "app", [V3, "arn:aws:iam::aws:policy/AdministratorAccess"])
    assert iam.detached == []
    assert detach_policies(iam, "app", [V3], check_mode=True) == [V3] and iam.detached == []
    assert detach_policies(iam, "app", [V3]) == [V3] and iam.detached == [V3]
