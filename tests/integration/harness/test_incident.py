"""What the endpoint adds for leaked-key incidents (tests/iam_endpoint/incident.py): AWS's quarantine policies and a
CloudTrail LookupEvents answered from its own request log."""

import json
import os
import sys

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from service_auth import NO_RETRIES, client_as, endpoint, outcome, user_with_policy  # noqa: E402,F401  pylint: disable=unused-import

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
QUARANTINES = ["AWSCompromisedKeyQuarantine", "AWSCompromisedKeyQuarantineV2", "AWSCompromisedKeyQuarantineV3", "AWSCompromisedKeyQuarantineV4"]


def by_key(endpoint, key_id, **extra):  # noqa: F811
    trail = endpoint.boto3_client("cloudtrail", config=NO_RETRIES)
    return trail.lookup_events(LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": key_id}], **extra)


def test_the_quarantine_policies_are_there_and_their_denies_apply(endpoint):  # noqa: F811
    iam = endpoint.boto3_client("iam", config=NO_RETRIES)
    for name in QUARANTINES:
        policy = iam.get_policy(PolicyArn=f"arn:aws:iam::aws:policy/{name}")["Policy"]
        document = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])["PolicyVersion"]["Document"]
        assert "iam:CreateAccessKey" in document["Statement"][0]["Action"], name
    key = user_with_policy(endpoint, "quarantined", ALLOW_ALL)
    iam.attach_user_policy(UserName="quarantined", PolicyArn="arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3")
    user_iam = client_as(endpoint, "iam", key["AccessKeyId"], key["SecretAccessKey"])

    assert outcome(user_iam.create_user, UserName="backdoor") == ("AccessDenied", 403)
    assert outcome(user_iam.list_access_keys) == "ok"
    assert outcome(client_as(endpoint, "cloudtrail", key["AccessKeyId"], key["SecretAccessKey"]).lookup_events) == ("AccessDeniedException", 400)
    endpoint.reset()  # a reset brings them back with the rest of the account
    assert iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV4")["Policy"]["PolicyName"] == QUARANTINES[-1]


def test_lookup_events_by_access_key_id_as_cloudtrail_records_them(endpoint):  # noqa: F811
    key = user_with_policy(endpoint, "leaky", {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:List*", "Resource": "*"}]})
    iam = client_as(endpoint, "iam", key["AccessKeyId"], key["SecretAccessKey"])
    iam.list_access_keys()
    outcome(iam.create_user, UserName="backdoor")
    for _attempt in range(3):
        iam.list_users()

    answer = by_key(endpoint, key["AccessKeyId"])

    names = [event["EventName"] for event in answer["Events"]]
    assert names == ["ListUsers", "ListUsers", "ListUsers", "CreateUser", "ListAccessKeys"], names  # newest first
    created = json.loads(answer["Events"][3]["CloudTrailEvent"])
    assert created["userIdentity"]["accessKeyId"] == key["AccessKeyId"] and created["userIdentity"]["userName"] == "leaky"
    assert created["eventSource"] == "iam.amazonaws.com" and created["sourceIPAddress"] == "127.0.0.1"
    assert created["userAgent"].startswith("Boto3/") and created["errorCode"] == "AccessDenied"
    assert created["requestParameters"] == {"userName": "backdoor"} and created["managementEvent"] is True
    page = by_key(endpoint, key["AccessKeyId"], MaxResults=2)
    rest = by_key(endpoint, key["AccessKeyId"], MaxResults=2, NextToken=page["NextToken"])
    assert [e["EventName"] for e in page["Events"] + rest["Events"]] == names[:4]
    assert key["SecretAccessKey"] not in json.dumps(endpoint.trail())
    endpoint.reset()
    assert by_key(endpoint, key["AccessKeyId"])["Events"] == []
