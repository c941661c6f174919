"""A leaked key's recent calls from CloudTrail (plugins/module_utils/key_activity.py): persistence flagged, limits stated."""

import datetime
import json

import botocore.exceptions
import pytest

from ansible_collections.rotor.iam.plugins.module_utils.key_activity import activity_lines
from ansible_collections.rotor.iam.plugins.module_utils.key_activity import is_persistence_call
from ansible_collections.rotor.iam.plugins.module_utils.key_activity import lookup_key_activity
from ansible_collections.rotor.iam.plugins.module_utils.key_activity import summarize_event

KEY = "AKIAIOSFODNN7EXAMPLE"
NOW = datetime.datetime(2026, 12, 6, 22, 0, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("name, persistence", [
    ("CreateUser", True), ("CreateAccessKey", True), ("PutUserPolicy", True), ("AttachUserPolicy", True),
    ("AttachRolePolicy", True), ("AttachGroupPolicy", True), ("CreateLoginProfile", True), ("UpdateAssumeRolePolicy", True),
    ("ListAccessKeys", False), ("GetCallerIdentity", False), ("DetachUserPolicy", False), ("Attach", False), ("", False), (None, False),
])
def test_persistence_calls(name, persistence):
    assert is_persistence_call(name) is persistence


def event(name, seconds_ago, ip="203.0.113.9", parameters=None, error=None):
    detail = {"eventName": name, "sourceIPAddress": ip, "userAgent": "aws-cli/2.15", "awsRegion": "us-east-1",
              "userIdentity": {"userName": "app", "accessKeyId": KEY},
              "requestParameters": parameters, "responseElements": {"accessKey": {"secretAccessKey": "must-never-be-kept-0123456789"}}}
    if error:
        detail["errorCode"] = error
    return {"EventName": name, "EventTime": NOW - datetime.timedelta(seconds=seconds_ago), "EventSource": "iam.amazonaws.com",
            "Username": "app", "ReadOnly": "false", "CloudTrailEvent": json.dumps(detail)}


def test_an_event_keeps_what_the_report_needs_and_never_a_response_or_a_document():
    summary = summarize_event(event("CreateAccessKey", 5, parameters={"userName": "backdoor", "policyDocument": "{...}"}, error="AccessDenied"))

    assert summary == {"event_time": "2026-12-06T21:59:55+00:00", "event_name": "CreateAccessKey", "event_source": "iam.amazonaws.com",
                       "region": "us-east-1", "source_ip_address": "203.0.113.9", "user_agent": "aws-cli/2.15", "user_name": "app",
                       "error_code": "AccessDenied", "read_only": False, "persistence": True, "request_parameters": {"userName": "backdoor"}}
    assert "must-never-be-kept" not in json.dumps(summary)
    assert summarize_event({"EventName": "X", "CloudTrailEvent": "not json"})["event_name"] == "X"


class FakeTrail:
    def __init__(self, pages, error=None):
        self.pages, self.error, self.requests = pages, error, []

    def lookup_events(self, aws_retry=False, **request):
        self.requests.append(request)
        if self.error:
            raise botocore.exceptions.ClientError({"Error": {"Code": self.error, "Message": "no"}}, "LookupEvents")
        page = self.pages[len(self.requests) - 1]
        return {"Events": page, **({"NextToken": str(len(self.requests))} if len(self.requests) < len(self.pages) else {})}


def test_lookup_pages_paced_to_two_per_second_newest_first_and_regions_denied_named():
    east = FakeTrail([[event("ListAccessKeys", 30)], [event("CreateUser", 10, parameters={"userName": "backdoor"})]])
    west = FakeTrail([], error="AccessDeniedException")
    slept, clock = [], iter([0.0, 0.1, 0.1, 0.2])

    activity = lookup_key_activity({"us-east-1": east, "eu-west-1": west}, KEY, days=120, now=NOW, clock=lambda: next(clock), sleep=slept.append)

    assert [e["event_name"] for e in activity["events"]] == ["CreateUser", "ListAccessKeys"]
    assert [e["event_name"] for e in activity["persistence"]] == ["CreateUser"]
    assert activity["regions_searched"] == ["us-east-1"] and activity["days"] == 90
    assert activity["regions_not_searched"] == {"eu-west-1": "the caller may not call cloudtrail:LookupEvents in eu-west-1 (AccessDeniedException)"}
    assert slept == [pytest.approx(0.4)]  # the second page waits out CloudTrail's 2 requests per second
    assert east.requests[0]["LookupAttributes"] == [{"AttributeKey": "AccessKeyId", "AttributeValue": KEY}]
    assert east.requests[0]["StartTime"] == NOW - datetime.timedelta(days=90) and east.requests[1]["NextToken"] == "1"
    lines = activity_lines(KEY, activity)
    assert lines[0] == f"{KEY}: 2 CloudTrail events in the last 90 days (us-east-1); from 203.0.113.9; 1 persistence call(s)."
    assert lines[1].startswith(f"{KEY}: PERSISTENCE CreateUser at 2026-12-06T21:59:50+00:00 from 203.0.113.9 (aws-cli/2.15): userName=backdoor")
    assert lines[2] == f"{KEY}: CloudTrail not searched in eu-west-1: the caller may not call cloudtrail:LookupEvents in eu-west-1 (AccessDeniedException)"
    assert "management events only" in activity["limits"] and "90 days" in activity["limits"]


def test_lookup_stops_at_max_events_and_says_so():
    trail = FakeTrail([[event("ListAccessKeys", i) for i in range(3)], [event("ListAccessKeys", 9)]])

    activity = lookup_key_activity({"us-east-1": trail}, KEY, max_events=2, now=NOW, clock=lambda: 0.0, sleep=lambda s: None)

    assert len(activity["events"]) == 2 and activity["truncated"] is True and len(trail.requests) == 1
