"""What the test endpoint adds for leaked-key incidents: AWS's quarantine policies and a CloudTrail LookupEvents.

* ``install_quarantine_policies()`` puts AWS's managed quarantine policies (``AWSCompromisedKeyQuarantine``, ``V2``,
  ``V3`` from moto's copy of AWS's managed policies; ``V4``, which moto lacks, as a stand-in with V3's statements) into
  the account, under ``arn:aws:iam::aws:policy/...``, so that AttachUserPolicy, ListAttachedUserPolicies, GetPolicy,
  GetPolicyVersion and DetachUserPolicy work on them and moto evaluates their denies. moto only loads AWS managed
  policies when ``MOTO_IAM_LOAD_MANAGED_POLICIES`` is set, and then all 1,000 of them.
* ``TrailLog`` records every authenticated AWS call the endpoint serves as CloudTrail would (event time, eventSource,
  eventName, awsRegion, the caller's source address, userAgent, userIdentity with the access key id, errorCode, and the
  naming request parameters of query-protocol calls) and answers ``cloudtrail:LookupEvents`` from it (moto has no
  LookupEvents): lookup attributes ``AccessKeyId``, ``EventName``, ``Username``, ``EventSource``; StartTime/EndTime;
  MaxResults and NextToken; newest first. Authorized like any call: the caller's identity policies must allow
  ``cloudtrail:LookupEvents`` (a quarantine policy denies it). Control calls are never recorded; secrets never are.
"""

from __future__ import annotations

import datetime
import json
import threading
import uuid
from typing import Any, Dict, List, Optional

from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.models import AWSManagedPolicy, iam_backends
from werkzeug.wrappers import Response

QUARANTINE_POLICIES = ("AWSCompromisedKeyQuarantine", "AWSCompromisedKeyQuarantineV2", "AWSCompromisedKeyQuarantineV3")
STAND_IN_V4 = "AWSCompromisedKeyQuarantineV4"
LOOKUP_ACTION = "LookupEvents"
MAX_EVENTS = 10000  # the log keeps the newest events only
# Query-protocol parameters never recorded (CloudTrail leaves secrets out too).
SECRET_PARAMETERS = ("Password", "NewPassword", "OldPassword", "SecretString", "SecretAccessKey", "PrivateKey")
SERVICE_HOSTS = {"iam": "iam.amazonaws.com", "sts": "sts.amazonaws.com", "sqs": "sqs.amazonaws.com",
                 "secretsmanager": "secretsmanager.amazonaws.com", "ssm": "ssm.amazonaws.com", "kms": "kms.amazonaws.com",
                 "cloudtrail": "cloudtrail.amazonaws.com"}
READ_ONLY_PREFIXES = ("Get", "List", "Describe", "Lookup", "Simulate", "Receive")


def install_quarantine_policies(account_id: str = DEFAULT_ACCOUNT_ID) -> List[str]:
    """Put AWS's quarantine policies into the account's IAM backend (global, us-east-1); returns their ARNs."""
    data = json.loads(aws_managed_policies_data)
    wanted = {name: data[name] for name in QUARANTINE_POLICIES}
    stand_in = dict(data["AWSCompromisedKeyQuarantineV3"])
    stand_in.update(DefaultVersionId="v1", CreateDate="2026-06-01T00:00:00+00:00", UpdateDate="2026-06-01T00:00:00+00:00")
    wanted[STAND_IN_V4] = stand_in
    backend = iam_backends[account_id]["aws"]
    arns = []
    for name, spec in wanted.items():
        policy = AWSManagedPolicy.from_data(name, account_id, "us-east-1", spec)
        backend.managed_policies.setdefault(policy.arn, policy)
        arns.append(policy.arn)
    return arns


def _epoch(moment: datetime.datetime) -> float:
    return moment.timestamp()


class TrailLog:
    """The endpoint's CloudTrail: every authenticated AWS call, looked up with LookupEvents."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: List[Dict[str, Any]] = []

    def clear(self) -> None:
        with self.lock:
            self.events.clear()

    def record(self, environ: Dict[str, Any], params: Dict[str, str], action: str, credential: Any, status: str,
               user_name: Optional[str], error_code: Optional[str]) -> None:
        """One call, as CloudTrail records it (``credential``: the request's SigV4 credential scope)."""
        if credential is None or action == "Unknown":
            return
        now = datetime.datetime.now(datetime.timezone.utc)
        source = SERVICE_HOSTS.get(credential.service, f"{credential.service}.amazonaws.com")
        parameters = None
        if not environ.get("HTTP_X_AMZ_TARGET"):
            kept = {k: v for k, v in params.items() if k not in ("Action", "Version") and not k.startswith("X-Amz")
                    and not any(secret in k for secret in SECRET_PARAMETERS)}
            parameters = {k[0].lower() + k[1:]: v for k, v in kept.items()} or None
        detail = {
            "eventVersion": "1.09",
            "userIdentity": {"type": "IAMUser", "accountId": DEFAULT_ACCOUNT_ID, "accessKeyId": credential.access_key_id,
                             "userName": user_name, "arn": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:user/{user_name}" if user_name else None},
            "eventTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": source,
            "eventName": action,
            "awsRegion": credential.region,
            "sourceIPAddress": environ.get("REMOTE_ADDR"),
            "userAgent": environ.get("HTTP_USER_AGENT", ""),
            "requestParameters": parameters,
            "responseElements": None,
            "requestID": str(uuid.uuid4()),
            "eventID": str(uuid.uuid4()),
            "readOnly": action.startswith(READ_ONLY_PREFIXES),
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": DEFAULT_ACCOUNT_ID,
        }
        if error_code:
            detail["errorCode"] = error_code
        with self.lock:
            self.events.append({"time": now, "detail": detail})
            del self.events[:-MAX_EVENTS]

    def lookup(self, request: Dict[str, Any]) -> Dict[str, Any]:
        """LookupEvents' answer for ``request`` (its JSON body)."""
        attributes = request.get("LookupAttributes") or []
        if len(attributes) > 1:
            raise ValueError("LookupAttributes takes one attribute")
        matcher = {"AccessKeyId": lambda d: d["userIdentity"]["accessKeyId"], "EventName": lambda d: d["eventName"],
                   "Username": lambda d: d["userIdentity"]["userName"], "EventSource": lambda d: d["eventSource"]}
        start = request.get("StartTime")
        end = request.get("EndTime")
        limit = int(request.get("MaxResults") or 50)
        offset = int(request.get("NextToken") or 0)
        with self.lock:
            events = list(reversed(self.events))
        chosen = []
        for event in events:
            detail = event["detail"]
            if attributes:
                key, value = attributes[0].get("AttributeKey"), attributes[0].get("AttributeValue")
                if key not in matcher:
                    raise ValueError(f"unsupported AttributeKey {key}")
                if matcher[key](detail) != value:
                    continue
            if start is not None and _epoch(event["time"]) < float(start):
                continue
            if end is not None and _epoch(event["time"]) > float(end):
                continue
            chosen.append(event)
        page = chosen[offset:offset + limit]
        answer: Dict[str, Any] = {"Events": [{
            "EventId": e["detail"]["eventID"], "EventName": e["detail"]["eventName"],
            "ReadOnly": "true" if e["detail"]["readOnly"] else "false", "AccessKeyId": e["detail"]["userIdentity"]["accessKeyId"],
            "EventTime": _epoch(e["time"]), "EventSource": e["detail"]["eventSource"],
            "Username": e["detail"]["userIdentity"]["userName"], "Resources": [],
            "CloudTrailEvent": json.dumps(e["detail"]),
        } for e in page]}
        if offset + limit < len(chosen):
            answer["NextToken"] = str(offset + limit)
        return answer


def lookup_allowed(user_name: Optional[str], account_id: str = DEFAULT_ACCOUNT_ID) -> bool:
    """May this IAM user call cloudtrail:LookupEvents? Its identity policies judged by moto's evaluator, explicit deny first."""
    if not user_name:
        return False
    backend = iam_backends[account_id]["aws"]
    policies = [backend.get_user_policy(user_name, name) for name in backend.list_user_policies(user_name)]
    policies += backend.list_attached_user_policies(user_name)[0]
    for group in backend.get_groups_for_user(user_name):
        policies += [backend.get_group_policy(group.name, name) for name in backend.list_group_policies(group.name)]
        policies += backend.list_attached_group_policies(group.name)[0]
    verdicts = [IAMPolicy(policy).is_action_permitted("cloudtrail:LookupEvents", "*") for policy in policies]
    return PermissionResult.DENIED not in verdicts and PermissionResult.PERMITTED in verdicts


def json_answer(payload: Dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/x-amz-json-1.1",
                    headers={"x-amzn-RequestId": str(uuid.uuid4())} if status == 200 else
                    {"x-amzn-RequestId": str(uuid.uuid4()), "x-amzn-ErrorType": payload.get("__type", "")})


def lookup_events_response(trail: TrailLog, body: bytes, user_name: Optional[str]) -> Response:
    """cloudtrail:LookupEvents answered from ``trail``, for the (already authenticated) IAM user ``user_name``."""
    if not lookup_allowed(user_name):
        return json_answer({"__type": "AccessDeniedException", "message": f"User: arn:aws:iam::{DEFAULT_ACCOUNT_ID}:user/{user_name} "
                            "is not authorized to perform: cloudtrail:LookupEvents"}, 400)
    try:
        return json_answer(trail.lookup(json.loads(body or b"{}")))
    except (TypeError, ValueError) as exc:
        return json_answer({"__type": "InvalidLookupAttributesException", "message": str(exc)}, 400)


def recording_start_response(trail: TrailLog, environ: Dict[str, Any], params: Dict[str, str], action: str, credential: Any,
                             user_name: Optional[str], start_response: Any) -> Any:
    """``start_response`` that records the call in ``trail`` once its status is known (errorCode: the JSON error type,
    else AccessDenied for a 403 and the HTTP status for other errors)."""

    def recorded(status: str, headers: Any, exc_info: Any = None) -> Any:
        code = None
        if not status.startswith(("2", "3")):
            code = dict((k.lower(), v) for k, v in headers).get("x-amzn-errortype") or (
                "AccessDenied" if status.startswith("403") else f"HTTP{status.split()[0]}")
        trail.record(environ, params, action, credential, status, user_name, code)
        return start_response(status, headers, exc_info)

    return recorded
