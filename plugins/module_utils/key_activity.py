# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What a leaked access key did: its recent calls from CloudTrail (LookupEvents by AccessKeyId), persistence flagged.

Plain functions: ``lookup_key_activity`` takes one CloudTrail client per region and returns plain data; the rest is
pure and unit-tested. Only what an incident report needs is kept of each event (time, call, source address, user
agent, error, a few naming request parameters): never a response element, never a parameter that may carry a secret.
"""

from __future__ import annotations

import datetime
import json
import re
import time

try:
    import botocore
except ImportError:
    pass  # the modules report a missing botocore through AnsibleAWSModule

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import error_code

# Calls that let an attacker keep access after the key is gone (new identities, new keys, new permissions).
PERSISTENCE_CALLS = frozenset(("CreateUser", "CreateAccessKey", "PutUserPolicy", "PutRolePolicy", "PutGroupPolicy", "CreateLoginProfile",
                               "UpdateLoginProfile", "CreateRole", "UpdateAssumeRolePolicy", "AddUserToGroup", "CreatePolicyVersion",
                               "SetDefaultPolicyVersion"))
_ATTACH_POLICY = re.compile(r"^Attach[A-Za-z]*Policy$")
# Request parameters kept for the report: they name what was created or changed, never a secret or a document.
NAMING_PARAMETERS = ("userName", "roleName", "groupName", "policyArn", "policyName", "accessKeyId", "bucketName", "functionName")

LIMITS = ("CloudTrail LookupEvents: management events only (no S3 object-level or Lambda invoke data events), the last 90 days, "
          "2 requests per second per account and region, and only in the regions looked up (IAM and STS calls are "
          "recorded in us-east-1); an organization trail's other accounts are not searched.")
LOOKUP_DAYS_MAX = 90
# CloudTrail answers LookupEvents at 2 requests per second per account and region.
_MIN_INTERVAL = 0.5
_PAGE = 50


def is_persistence_call(event_name):
    """Does a call of this name create or widen access (CreateUser, CreateAccessKey, Attach*Policy, PutUserPolicy, ...)?"""
    return bool(event_name) and (event_name in PERSISTENCE_CALLS or bool(_ATTACH_POLICY.match(event_name)))


def _iso(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(datetime.timezone.utc).isoformat()
    if isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc).isoformat()
    return value


def summarize_event(event):
    """One LookupEvents event as the report keeps it."""
    try:
        detail = json.loads(event.get("CloudTrailEvent") or "{}")
    except (TypeError, ValueError):
        detail = {}
    if not isinstance(detail, dict):
        detail = {}
    identity = detail.get("userIdentity") if isinstance(detail.get("userIdentity"), dict) else {}
    parameters = detail.get("requestParameters") if isinstance(detail.get("requestParameters"), dict) else {}
    name = event.get("EventName") or detail.get("eventName")
    return {
        "event_time": _iso(event.get("EventTime")) or detail.get("eventTime"),
        "event_name": name,
        "event_source": event.get("EventSource") or detail.get("eventSource"),
        "region": detail.get("awsRegion"),
        "source_ip_address": detail.get("sourceIPAddress"),
        "user_agent": detail.get("userAgent"),
        "user_name": event.get("Username") or identity.get("userName"),
        "error_code": detail.get("errorCode"),
        "read_only": event.get("ReadOnly") in ("true", True),
        "persistence": is_persistence_call(name),
        "request_parameters": {k: parameters[k] for k in NAMING_PARAMETERS if isinstance(parameters.get(k), str)},
    }


def lookup_key_activity(clients, access_key_id, days=LOOKUP_DAYS_MAX, max_events=200, now=None, clock=time.monotonic,
                        sleep=time.sleep):
    """The key's recent calls, newest first, from CloudTrail in each region of ``clients`` ({region: client}).

    Returns ``{events, persistence, regions_searched, regions_not_searched: {region: why}, truncated, days, limits}``.
    A region where the caller may not call cloudtrail:LookupEvents (or that fails) is named with the reason; the others
    are still searched. Requests are paced to CloudTrail's 2 per second, and throttling is retried by the clients.
    """
    days = max(1, min(int(days), LOOKUP_DAYS_MAX))
    now = now or datetime.datetime.now(datetime.timezone.utc)
    start = now - datetime.timedelta(days=days)
    events, searched, not_searched, truncated = [], [], {}, False
    for region, client in clients.items():
        request = {"LookupAttributes": [{"AttributeKey": "AccessKeyId", "AttributeValue": access_key_id}],
                   "StartTime": start, "EndTime": now, "MaxResults": _PAGE}
        last = None
        found = 0
        try:
            while True:
                if last is not None:
                    sleep(max(0.0, _MIN_INTERVAL - (clock() - last)))
                last = clock()
                answer = client.lookup_events(aws_retry=True, **request)
                for event in answer.get("Events") or []:
                    if found >= max_events:
                        break
                    events.append(summarize_event(event))
                    found += 1
                if found >= max_events and answer.get("NextToken"):
                    truncated = True
                    break
                if not answer.get("NextToken"):
                    break
                request["NextToken"] = answer["NextToken"]
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            not_searched[region] = (f"the caller may not call cloudtrail:LookupEvents in {region} ({code})"
                                    if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")
                                    else f"cloudtrail:LookupEvents in {region} failed with {code}")
            continue
        except botocore.exceptions.BotoCoreError as exc:
            not_searched[region] = f"cloudtrail:LookupEvents in {region} failed: {type(exc).__name__}"
            continue
        searched.append(region)
    events.sort(key=lambda e: e["event_time"] or "", reverse=True)
    return {"events": events, "persistence": [e for e in events if e["persistence"]], "regions_searched": searched,
            "regions_not_searched": not_searched, "truncated": truncated, "days": days, "limits": LIMITS}


def activity_lines(access_key_id, activity):
    """The activity for people: one line of counts, one per persistence call, one per region not searched."""
    events = activity["events"]
    searched = ", ".join(activity["regions_searched"]) or "no region"
    sources = sorted({e["source_ip_address"] for e in events if e["source_ip_address"]})
    lines = [f"{access_key_id}: {len(events)}{'+' if activity['truncated'] else ''} CloudTrail events in the last {activity['days']} days "
             f"({searched}){'; from ' + ', '.join(sources[:10]) if sources else ''}; "
             f"{len(activity['persistence'])} persistence call(s)."]
    for event in activity["persistence"]:
        target = ", ".join(f"{k}={v}" for k, v in sorted(event["request_parameters"].items()))
        lines.append(f"{access_key_id}: PERSISTENCE {event['event_name']} at {event['event_time']} from {event['source_ip_address']} "
                     f"({event['user_agent']}){': ' + target if target else ''}{' - failed: ' + event['error_code'] if event['error_code'] else ''}")
    for region, why in sorted(activity["regions_not_searched"].items()):
        lines.append(f"{access_key_id}: CloudTrail not searched in {region}: {why}")
    return lines
