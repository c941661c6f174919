"""A realistic IAM/STS endpoint for rotor.iam tests and demos.

moto's werkzeug application does the real work (users, keys, policies,
SigV4 verification).  This module serves it in-process behind WSGI
middleware that closes the gaps between moto and AWS that matter for key
rotation, and adds test hooks:

* requests signed with an Inactive key are rejected with
  ``InvalidClientTokenId`` (stock moto accepts them);
* AWS's eventual consistency after every key change, each with its own
  configurable lag: a new key is rejected for ``new_key_propagation_seconds``
  after CreateAccessKey, a deactivated key still accepted for
  ``deactivation_propagation_seconds``, a reactivated key still rejected for
  ``reactivation_propagation_seconds`` and a deleted key still accepted (STS
  GetCallerIdentity answered here, with the signature checked against the
  secret recorded at deletion) for ``deletion_propagation_seconds``;
* requests without a SigV4 ``Authorization`` header get
  ``MissingAuthenticationToken`` (moto fails them with HTTP 500);
* ``UpdateAccessKey`` only accepts the statuses AWS accepts;
* Secrets Manager requests are authorized against the secret's ARN and SSM
  Parameter Store requests against the parameter's ARN (stock moto evaluates
  every policy against the resource ``*``), and requests to JSON-protocol
  services (Secrets Manager, SSM, KMS) get JSON error documents with
  those services' codes (moto's auth checks and this middleware answer XML);
* per-action fault injection (throttling, 5xx, latency) and call counters;
* a JSON control API under ``/_rotor/`` (never signed, never counted).

Run: python tests/iam_endpoint/server.py --host 127.0.0.1 --port PORT
         [--bootstrap-file PATH] [--exit-with-parent PID] [--quiet]
         [--propagation-seconds S] [--new-key-propagation-seconds S]
         [--deactivation-propagation-seconds S] [--reactivation-propagation-seconds S]
         [--deletion-propagation-seconds S]
"""

from __future__ import annotations

import argparse
import collections
import datetime
import hashlib
import hmac
import io
import json
import logging
import math
import os
import re
import shlex
import signal
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Deque, Dict, Iterable, Optional, Tuple
from urllib.parse import parse_qs, quote, urlsplit
from xml.sax.saxutils import escape

from moto import settings as moto_settings
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.utils import utcnow
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.iam.models import AccessKey, AccessKeyLastUsed, get_account_id_from, iam_backends
from moto.iam.responses import IamResponse
from moto.moto_api._internal.models import moto_api_backend
from moto.secretsmanager.models import SecretsManagerBackend, secretsmanager_backends
from moto.secretsmanager.responses import SecretsManagerResponse
from moto.ssm.responses import SimpleSystemManagerResponse
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.utilities.utils import get_partition
from werkzeug import serving as werkzeug_serving
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

try:  # tests/ on sys.path (control.py, the tests) or this directory (python tests/iam_endpoint/server.py)
    from iam_endpoint import incident, last_use
except ImportError:
    import incident  # type: ignore[no-redef]
    import last_use  # type: ignore[no-redef]

ADMIN_USER = "rotor-admin"
ADMIN_POLICY_NAME = "rotor-admin-all"
REGION = "us-east-1"
CONTROL_PREFIX = "/_rotor/"

FAULT_KINDS = ("throttle", "5xx", "latency")
ANY_ACTION = "*"  # a fault queued for "*" applies to every action
VALID_KEY_STATUSES = ("Active", "Inactive", "Expired")
INTERNAL_FAILURE_MESSAGE = (
    "The request processing has failed because of an unknown error, exception or failure."
)
# STS actions AWS serves without a signature.
UNSIGNED_ACTIONS = ("AssumeRoleWithSAML", "AssumeRoleWithWebIdentity")

# Namespaces of the query-protocol error documents AWS returns.
XML_NAMESPACES = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}

# Propagation lags (AWS's eventual consistency), one per kind of key change.
# Config names are "<kind>_propagation_seconds"; "propagation_seconds" sets all.
LAG_KINDS = ("new_key", "deactivation", "reactivation", "deletion")
LAG_SETTINGS = tuple(f"{kind}_propagation_seconds" for kind in LAG_KINDS)
ALL_LAGS_SETTING = "propagation_seconds"
CHANGE_PAST_TENSE = {
    "deactivation": "deactivated",
    "reactivation": "reactivated",
    "deletion": "deleted",
}
# IAM actions whose successful answers change how a key authenticates.
KEY_CHANGE_ACTIONS = ("UpdateAccessKey", "DeleteAccessKey")

SIGV4_ALGORITHM = "AWS4-HMAC-SHA256"
SIGV4_MAX_SKEW = datetime.timedelta(minutes=15)
SIGNATURE_MISMATCH_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)

# JSON-protocol services (the action in X-Amz-Target) name the query-protocol errors differently.
JSON_ERROR_CODES = {
    "InvalidClientTokenId": "UnrecognizedClientException",
    "SignatureDoesNotMatch": "InvalidSignatureException",
    "AccessDenied": "AccessDeniedException",
    "MissingAuthenticationToken": "MissingAuthenticationTokenException",
    "IncompleteSignature": "IncompleteSignatureException",
    "Throttling": "ThrottlingException",
}
XML_ERROR = re.compile(rb"<Code>(?P<code>[^<]*)</Code>\s*<Message>(?P<message>[^<]*)</Message>", re.S)

log = logging.getLogger("iam_endpoint")


class ControlError(Exception):
    """A bad control API request; reported as JSON with this HTTP status."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class Fault:
    kind: str
    remaining: int
    delay: float = 0.0
    status: Optional[int] = None


@dataclass
class KeyChange:
    """The most recent status change of one access key, as the middleware saw it.

    ``accepted_before``/``reason_before`` are the key's effective view just
    before the change (lags included); while the change's lag runs, that view
    stays in force. ``at`` (time.monotonic) is when moto answered 200.
    """

    kind: str  # "deactivation", "reactivation" or "deletion"
    before: str  # status before: Active, Inactive or Expired
    after: str  # status after, or "deleted"
    at: float
    wall: float  # time.time() of the same moment, for display
    accepted_before: bool
    reason_before: str
    user_name: str
    account_id: str
    user_arn: str
    user_id: str
    secret: str = field(default="", repr=False)  # deletions only: checks signatures in the lag

    def as_dict(self, lag: float, now: float) -> Dict[str, Any]:
        ago = max(0.0, now - self.at)
        return {
            "kind": self.kind,
            "from": self.before,
            "to": self.after,
            "time": datetime.datetime.fromtimestamp(self.wall, datetime.timezone.utc).isoformat(),
            "seconds_ago": round(ago, 3),
            "lag_seconds": lag,
            "propagated": ago >= lag,
        }


@dataclass
class KeyView:
    """How a request signed with one access key is answered right now."""

    access_key_id: str
    accepted: bool
    reason: str
    state: str  # the real state: Active, Inactive, Expired, deleted or unknown
    user_name: Optional[str]
    lagged: bool  # the answer comes from a change whose lag has not passed
    change: Optional[KeyChange]

    def as_dict(self, lags: Dict[str, float], now: float) -> Dict[str, Any]:
        change = self.change
        return {
            "access_key_id": self.access_key_id,
            "accepted": self.accepted,
            "reason": self.reason,
            "state": self.state,
            "user_name": self.user_name,
            "lagged": self.lagged,
            "last_change": (
                None
                if change is None
                else change.as_dict(lags[f"{change.kind}_propagation_seconds"], now)
            ),
        }


@dataclass
class Credential:
    """The parts of a SigV4 ``Authorization`` header we need."""

    access_key_id: str
    region: str
    service: str

    @classmethod
    def from_header(cls, header: str) -> Optional["Credential"]:
        # AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/iam/aws4_request, ...
        if not header.startswith("AWS4-HMAC-SHA256"):
            return None
        scope = header.partition("Credential=")[2].partition(",")[0].strip()
        parts = scope.split("/")
        if len(parts) != 5:
            return None
        return cls(access_key_id=parts[0], region=parts[2], service=parts[3])


def aws_error(status: int, code: str, message: str, service: Optional[str]) -> Response:
    """An AWS query-protocol error document, as IAM and STS send them."""
    request_id = str(uuid.uuid4())
    namespace = XML_NAMESPACES.get(service or "")
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    error_type = "Sender" if status < 500 else "Receiver"
    body = (
        f"<ErrorResponse{xmlns}><Error><Type>{error_type}</Type>"
        f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>\n"
    )
    return Response(
        body,
        status=status,
        content_type="text/xml",
        headers={"x-amzn-RequestId": request_id},
    )


def invalid_token(service: Optional[str]) -> Response:
    return aws_error(
        403,
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
        service,
    )


def fault_response(fault: Fault, service: Optional[str]) -> Response:
    if fault.kind == "throttle":
        return aws_error(400, "Throttling", "Rate exceeded", service)
    if fault.status == 503:
        return aws_error(503, "ServiceUnavailable", "Service is unavailable", service)
    return aws_error(
        fault.status or 500,
        "InternalFailure",
        INTERNAL_FAILURE_MESSAGE,
        service,
    )


def signature_mismatch(service: Optional[str], message: str = SIGNATURE_MISMATCH_MESSAGE) -> Response:
    return aws_error(403, "SignatureDoesNotMatch", message, service)


def caller_identity_response(user_arn: str, user_id: str, account_id: str) -> Response:
    """STS GetCallerIdentity answered for an IAM user (as moto answers it)."""
    request_id = str(uuid.uuid4())
    body = (
        f'<GetCallerIdentityResponse xmlns="{XML_NAMESPACES["sts"]}">'
        "<GetCallerIdentityResult>"
        f"<Arn>{escape(user_arn)}</Arn>"
        f"<UserId>{escape(user_id)}</UserId>"
        f"<Account>{escape(account_id)}</Account>"
        "</GetCallerIdentityResult>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>\n"
    )
    return Response(
        body, status=200, content_type="text/xml", headers={"x-amzn-RequestId": request_id}
    )


def secret_resource(response: Any) -> str:
    """The ARN AWS authorizes a Secrets Manager call against (moto: always "*").

    The secret's own ARN when it exists; for a secret not created yet (CreateSecret, or a
    lookup of a missing one), its name with a stand-in for the random suffix AWS appends.
    Calls that name no secret (ListSecrets, ...) are authorized against "*", as in AWS.
    """
    secret_id = response._get_param("SecretId") or response._get_param("Name")
    if not isinstance(secret_id, str) or not secret_id:
        return "*"
    secret = secretsmanager_backends[response.current_account][response.region].secrets.get(secret_id)
    if secret is not None:
        return secret.arn
    if secret_id.startswith("arn:"):
        return secret_id
    partition = get_partition(response.region)
    return f"arn:{partition}:secretsmanager:{response.region}:{response.current_account}:secret:{secret_id}-??????"


def authorize_secrets_by_arn() -> None:
    """Make moto evaluate Secrets Manager calls against the secret's ARN (see secret_resource)."""
    SecretsManagerResponse._determine_resource = secret_resource


def principal_policies(backend: Any, arn: str) -> list:
    """The identity policies of the IAM user or role ``arn`` (inline, attached, and its groups' for a user)."""
    kind, _sep, path_and_name = arn.partition(":")[2].split(":", 4)[-1].partition("/")
    name = path_and_name.rsplit("/", 1)[-1]
    if kind == "role":
        role = backend.get_role(name)
        return [{"policy_document": document} for document in role.policies.values()] + list(role.managed_policies.values())
    if kind != "user":
        raise ValueError(f"PolicySourceArn {arn} is not an IAM user or role")
    policies = [backend.get_user_policy(name, policy) for policy in backend.list_user_policies(name)]
    policies += backend.list_attached_user_policies(name)[0]
    for group in backend.get_groups_for_user(name):
        policies += [backend.get_group_policy(group.name, policy) for policy in backend.list_group_policies(group.name)]
        policies += backend.list_attached_group_policies(group.name)[0]
    return policies


def simulate_principal_policy(response: Any) -> Any:
    """IAM SimulatePrincipalPolicy, which moto lacks: each action on each resource, judged by the principal's
    identity policies with moto's own evaluator (explicit deny wins, else allowed if a statement allows it).
    Context keys, permissions boundaries and resource policies are not simulated."""
    from moto.core.responses import ActionResult  # pylint: disable=import-outside-toplevel

    arn = response._get_param("PolicySourceArn")  # pylint: disable=protected-access
    actions = response._get_param("ActionNames", [])  # pylint: disable=protected-access
    resources = response._get_param("ResourceArns", []) or ["*"]  # pylint: disable=protected-access
    policies = [IAMPolicy(policy) for policy in principal_policies(response.backend, arn)]
    results = []
    for action in actions:
        for resource in resources:
            verdicts = [policy.is_action_permitted(action, resource) for policy in policies]
            decision = ("explicitDeny" if PermissionResult.DENIED in verdicts
                        else "allowed" if PermissionResult.PERMITTED in verdicts else "implicitDeny")
            results.append({"EvalActionName": action, "EvalResourceName": resource, "EvalDecision": decision,
                            "MatchedStatements": [], "MissingContextValues": []})
    return ActionResult({"EvaluationResults": results, "IsTruncated": False})


def serve_simulate_principal_policy() -> None:
    """Teach moto's IAM SimulatePrincipalPolicy (authenticated and authorized like any IAM call)."""
    IamResponse.simulate_principal_policy = simulate_principal_policy


def follow_current_stage() -> None:
    """GetSecretValue without a version or stage returns the AWSCURRENT version, as in AWS.

    moto answers it with the version made last (``default_version_id``), which UpdateSecretVersionStage
    does not move: a secret whose AWSCURRENT was moved back would still serve the newer value.
    """
    update = SecretsManagerBackend.update_secret_version_stage
    if getattr(update, "follows_current_stage", False):
        return

    def update_secret_version_stage(self, secret_id, version_stage, remove_from_version_id, move_to_version_id):
        result = update(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
        if version_stage == "AWSCURRENT" and move_to_version_id:
            self.secrets[secret_id].default_version_id = move_to_version_id
        return result

    update_secret_version_stage.follows_current_stage = True
    SecretsManagerBackend.update_secret_version_stage = update_secret_version_stage


def parameter_arn(name: str, region: str, account_id: str) -> str:
    """The ARN of SSM parameter ``name`` (a ``:version`` or ``:label`` selector dropped), as AWS forms it."""
    if name.startswith("arn:"):
        return name.split(":parameter/", 1)[0] + ":parameter/" + name.split(":parameter/", 1)[-1].split(":")[0]
    bare = name.split(":", 1)[0].lstrip("/")
    return f"arn:{get_partition(region)}:ssm:{region}:{account_id}:parameter/{bare}"


def parameter_resource(response: Any) -> str:
    """The ARN AWS authorizes an SSM Parameter Store call against (moto: always "*").

    Calls on one parameter (GetParameter, PutParameter, GetParameterHistory, LabelParameterVersion,
    DeleteParameter, ...) are authorized against its ARN, existing or not; GetParameters and
    DeleteParameters against the ARN of their only name (several names: "*", a simplification);
    calls that name none (DescribeParameters) against "*", as in AWS.
    """
    name = response._get_param("Name")
    if not isinstance(name, str) or not name:
        names = response._get_param("Names")
        name = names[0] if isinstance(names, list) and len(names) == 1 and isinstance(names[0], str) else None
    if not name:
        return "*"
    return parameter_arn(name, response.region, response.current_account)


def authorize_parameters_by_arn() -> None:
    """Make moto evaluate SSM calls against the parameter's ARN (see parameter_resource)."""
    SimpleSystemManagerResponse._determine_resource = parameter_resource


def json_error(status: str, headers: Any, body: bytes) -> Tuple[Any, bytes]:
    """An XML error document (moto's auth checks, aws_error) as the JSON one a JSON-protocol service sends."""
    match = XML_ERROR.search(body)
    if not status.startswith(("4", "5")) or match is None:
        return headers, body
    code = match.group("code").decode("utf-8", errors="replace")
    code = JSON_ERROR_CODES.get(code, code)
    message = match.group("message").decode("utf-8", errors="replace")
    message = message.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    body = json.dumps({"__type": code, "message": message}).encode("utf-8")
    kept = [(k, v) for k, v in headers if k.lower() not in ("content-type", "content-length", "x-amzn-errortype")]
    kept += [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("Content-Length", str(len(body))),
        ("x-amzn-ErrorType", code),
    ]
    return kept, body


def serve_json_protocol(app: Callable, environ: Dict[str, Any], start_response: Callable) -> Iterable[bytes]:
    """Serve through ``app``, turning XML errors into JSON ones (json_error)."""
    captured: list = []

    def capture(status: str, headers: Any, exc_info: Any = None) -> Any:
        captured[:] = [status, headers, exc_info]
        return lambda data: None  # the body is returned below, not written

    result = app(environ, capture)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers, exc_info = captured
    headers, body = json_error(status, list(headers), body)
    start_response(status, headers, exc_info)
    return [body]


def parse_lag_settings(data: Dict[str, Any]) -> Dict[str, float]:
    """Validated lag settings ``{name: seconds}`` from a config body.

    ``propagation_seconds`` expands to all four lags; a specific lag given
    alongside it wins. Raises ControlError on unknown names and bad values.
    """
    known = set(LAG_SETTINGS) | {ALL_LAGS_SETTING}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ControlError(
            f"unknown config keys: {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    for name, value in data.items():
        if (
            not isinstance(value, (int, float))
            or isinstance(value, bool)
            or not math.isfinite(value)
            or value < 0
        ):
            raise ControlError(f"'{name}' must be a number of seconds >= 0, not {value!r}")
    settings = {}
    if ALL_LAGS_SETTING in data:
        settings = {name: float(data[ALL_LAGS_SETTING]) for name in LAG_SETTINGS}
    settings.update({name: float(data[name]) for name in LAG_SETTINGS if name in data})
    return settings


def json_response(payload: Dict[str, Any], status: int = 200) -> Response:
    return Response(
        json.dumps(payload, sort_keys=True) + "\n",
        status=status,
        content_type="application/json",
    )


def isoformat(moment: datetime.datetime) -> str:
    # moto keeps naive UTC datetimes.
    return moment.replace(tzinfo=datetime.timezone.utc).isoformat()


def set_auth_enforcement(enforce: bool) -> None:
    """What moto's ``POST /moto-api/reset-auth`` does, without the HTTP hop."""
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0 if enforce else float("inf")
    ActionAuthenticatorMixin.request_count = 0


def auth_enforced() -> bool:
    return moto_settings.INITIAL_NO_AUTH_ACTION_COUNT == 0


def iam_backend(account_id: str = DEFAULT_ACCOUNT_ID, region: str = REGION) -> Any:
    # Always looked up afresh: a reset replaces the backend objects.
    return iam_backends[account_id][get_partition(region)]


def find_user_key(access_key_id: str, region: str = REGION) -> Optional[AccessKey]:
    """The access key of an existing IAM user, or None.

    Looked up through the users, as moto's own auth check does: moto lets
    DeleteUser succeed while keys exist and keeps such keys in its index.
    """
    backend = iam_backend(get_account_id_from(access_key_id), region)
    for user in list(backend.users.values()):
        for key in list(user.access_keys):
            if key.access_key_id == access_key_id:
                return key
    return None


def read_body(environ: Dict[str, Any]) -> bytes:
    """Read the request body and put it back for moto to read again."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def query_params(environ: Dict[str, Any]) -> Dict[str, str]:
    """Query-API parameters from the URL and a form-encoded body."""
    params = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    content_type = environ.get("CONTENT_TYPE", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        body = read_body(environ).decode("utf-8", errors="replace")
        params.update({k: v[0] for k, v in parse_qs(body).items()})
    return params


def _header_for_signing(environ: Dict[str, Any], name: str) -> str:
    if name == "content-type":
        value = environ.get("CONTENT_TYPE")
    elif name == "content-length":
        value = environ.get("CONTENT_LENGTH")
    else:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"))
    # SigV4 "Trimall": no outer whitespace, inner runs of spaces become one.
    return " ".join((value or "").split())


def _canonical_uri(environ: Dict[str, Any]) -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    path = urlsplit(raw).path if raw else quote(environ.get("PATH_INFO") or "/", safe="/~")
    # Non-S3 services encode the (already encoded) path once more.
    return quote(path or "/", safe="/~")


def _canonical_query(environ: Dict[str, Any]) -> str:
    pairs = []
    for pair in environ.get("QUERY_STRING", "").split("&"):
        if pair:
            name, _sep, value = pair.partition("=")
            pairs.append((name, value))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def sigv4_mismatch(environ: Dict[str, Any], secret: str) -> Optional[str]:
    """Check a request's SigV4 ``Authorization`` header against ``secret``.

    None when the signature is right, else why not (a SignatureDoesNotMatch
    message). Only header signatures: this endpoint takes no presigned URLs.
    """
    algorithm, _sep, rest = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    fields = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name.strip()] = value.strip()
    scope = fields.get("Credential", "").split("/")
    signed_headers = fields.get("SignedHeaders", "")
    signature = fields.get("Signature", "")
    amz_date = environ.get("HTTP_X_AMZ_DATE", "")
    if algorithm != SIGV4_ALGORITHM or len(scope) != 5 or not signed_headers or not signature:
        return "The request signature does not conform to AWS SigV4."
    try:
        signed_at = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
    except ValueError:
        return "X-Amz-Date is missing or not of the form YYYYMMDDTHHMMSSZ."
    if scope[1] != amz_date[:8]:
        return f"Credential should be scoped to a valid date: {amz_date[:8]}, not {scope[1]}."
    if abs(utcnow() - signed_at) > SIGV4_MAX_SKEW:
        return f"Signature expired: {amz_date} is not within 15 minutes of the server's time."

    names = signed_headers.split(";")
    canonical_headers = "".join(f"{name}:{_header_for_signing(environ, name)}\n" for name in names)
    payload_hash = environ.get("HTTP_X_AMZ_CONTENT_SHA256") or hashlib.sha256(
        read_body(environ)
    ).hexdigest()
    canonical_request = "\n".join(
        [
            environ.get("REQUEST_METHOD", "GET").upper(),
            _canonical_uri(environ),
            _canonical_query(environ),
            canonical_headers,
            signed_headers,
            payload_hash,
        ]
    )
    string_to_sign = "\n".join(
        [
            SIGV4_ALGORITHM,
            amz_date,
            "/".join(scope[1:]),
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        ]
    )
    key = f"AWS4{secret}".encode("utf-8")
    for part in scope[1:]:  # date, region, service, "aws4_request"
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    expected = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return SIGNATURE_MISMATCH_MESSAGE
    return None


class EndpointApp:
    """WSGI middleware around moto: auth gaps, faults, counters, control API."""

    def __init__(
        self,
        moto_app: Callable,
        endpoint_url: str,
        bootstrap_file: Optional[str],
        lags: Optional[Dict[str, float]] = None,
    ):
        authorize_secrets_by_arn()
        serve_simulate_principal_policy()
        authorize_parameters_by_arn()
        follow_current_stage()
        self.moto_app = moto_app
        self.endpoint_url = endpoint_url
        self.bootstrap_file = bootstrap_file
        self.lock = threading.Lock()
        self.calls: collections.Counter = collections.Counter()
        self.faulted: collections.Counter = collections.Counter()
        self.faults: Dict[str, Deque[Fault]] = {}
        # The lags given at start are the defaults a reset goes back to.
        self.default_lags = {name: 0.0 for name in LAG_SETTINGS}
        self.default_lags.update(parse_lag_settings(dict(lags or {})))
        self.lags: Dict[str, float] = dict(self.default_lags)
        self.changes: Dict[str, KeyChange] = {}  # access key id -> its most recent change
        self.admin: Dict[str, str] = {}
        self.trail = incident.TrailLog()  # CloudTrail LookupEvents (incident.py)
        # Last use as AWS records it: accepted requests only, published late (last_use.py).
        self.last_use = last_use.LastUseRecorder(lambda key_id: self.key_view(key_id).accepted, sigv4_mismatch, auth_enforced).install()
        self.routes: Dict[Tuple[str, str], Callable[[Request], Dict[str, Any]]] = {
            ("GET", "health"): self.get_health,
            ("GET", "calls"): self.get_calls,
            ("DELETE", "calls"): self.delete_calls,
            ("GET", "faults"): self.get_faults,
            ("POST", "faults"): self.post_faults,
            ("DELETE", "faults"): self.delete_faults,
            ("GET", "config"): self.get_config,
            ("POST", "config"): self.post_config,
            ("GET", "keys"): self.get_keys,
            ("GET", "auth"): self.get_auth,
            ("POST", "auth"): self.post_auth,
            ("POST", "backdate"): self.post_backdate,
            ("POST", "last_used"): self.post_last_used,
            ("POST", "reset"): self.post_reset,
            ("POST", "seed"): self.post_seed,
            ("POST", "account_role"): self.post_account_role,
            ("GET", "trail"): lambda request: {"events": [e["detail"] for e in self.trail.events]},
            ("GET", "last_use"): lambda request: self.last_use.settings(),
            ("POST", "last_use"): lambda request: self.last_use.configure(self.body(request), error=ControlError),
        }

    # -- bootstrap ---------------------------------------------------------

    def bootstrap(self) -> Dict[str, str]:
        """Create the all-powerful rotor-admin user and key, then enforce auth.

        After a reset the admin keeps its earlier credentials, so clients that
        hold them (environment variables of running demos) keep working.
        """
        set_auth_enforcement(False)
        backend = iam_backend()
        backend.create_user(region_name=REGION, user_name=ADMIN_USER)
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
        backend.put_user_policy(ADMIN_USER, ADMIN_POLICY_NAME, json.dumps(policy))
        incident.install_quarantine_policies()
        key = backend.create_access_key(ADMIN_USER)
        if self.admin:
            del backend.access_keys[key.access_key_id]
            key.access_key_id = self.admin["access_key_id"]
            key.secret_access_key = self.admin["secret_access_key"]
            backend.access_keys[key.access_key_id] = key
        self.admin = {
            "endpoint_url": self.endpoint_url,
            "access_key_id": key.access_key_id,
            "secret_access_key": key.secret_access_key,
            "account_id": DEFAULT_ACCOUNT_ID,
            "region": REGION,
        }
        if self.bootstrap_file:
            self.write_bootstrap_file(self.bootstrap_file)
        set_auth_enforcement(True)
        return self.admin

    def write_bootstrap_file(self, path: str) -> None:
        # Written under a temporary name and renamed, so a reader polling for
        # the file never sees it half-written; 0600 as it holds a secret.
        tmp = f"{path}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(self.admin, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)

    # -- WSGI ----------------------------------------------------------------

    def __call__(self, environ: Dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self.control(Request(environ))(environ, start_response)
        if path.startswith("/moto-api"):
            return self.moto_app(environ, start_response)
        params = query_params(environ)
        action = params.get("Action") or self.target_action(environ)
        response = self.screen_aws_request(environ, params, action)
        start_response, answered = self.trail_call(environ, params, action, response, start_response)
        if answered is not None:
            return answered(environ, start_response)
        if environ.get("HTTP_X_AMZ_TARGET"):
            return serve_json_protocol(response or self.moto_app, environ, start_response)
        if response is not None:
            return response(environ, start_response)
        if action in KEY_CHANGE_ACTIONS:
            return self.forward_key_change(environ, start_response, params, action)
        return self.moto_app(environ, start_response)

    def screen_aws_request(
        self, environ: Dict[str, Any], params: Dict[str, str], action: str
    ) -> Optional[Response]:
        """Count, fault and authenticate an AWS call; a Response answers it here."""
        credential = Credential.from_header(environ.get("HTTP_AUTHORIZATION", ""))
        service = credential.service if credential else None

        fault = self.take_fault(action)
        if fault is not None and fault.kind == "latency":
            time.sleep(fault.delay)
        elif fault is not None:
            return fault_response(fault, service)

        if auth_enforced() and action not in UNSIGNED_ACTIONS:
            if credential is None:
                # moto would fail with a KeyError (HTTP 500) on these.
                return self.missing_or_malformed_auth(environ, service)
            answer = self.check_key(credential, environ, action)
            if answer is not None:
                return answer

        status = params.get("Status")
        if action == "UpdateAccessKey" and status is not None and status not in VALID_KEY_STATUSES:
            # moto stores any string; AWS validates the enum.
            return aws_error(
                400,
                "ValidationError",
                f"1 validation error detected: Value '{status}' at 'status' failed to "
                "satisfy constraint: Member must satisfy enum value set: "
                f"[{', '.join(VALID_KEY_STATUSES)}]",
                service,
            )
        return None

    def trail_call(
        self, environ: Dict[str, Any], params: Dict[str, str], action: str, response: Optional[Response], start_response: Callable
    ) -> Tuple[Callable, Optional[Response]]:
        """CloudTrail (incident.py): record the call of a known key; answer LookupEvents, which moto lacks."""
        credential = Credential.from_header(environ.get("HTTP_AUTHORIZATION", ""))
        key = find_user_key(credential.access_key_id, credential.region) if credential else None
        if key is None:
            return start_response, None
        start_response = incident.recording_start_response(self.trail, environ, params, action, credential, key.user_name, start_response)
        if action == incident.LOOKUP_ACTION and credential.service == "cloudtrail" and response is None:
            return start_response, incident.lookup_events_response(self.trail, read_body(environ), key.user_name)
        return start_response, None

    @staticmethod
    def missing_or_malformed_auth(environ: Dict[str, Any], service: Optional[str]) -> Response:
        if environ.get("HTTP_AUTHORIZATION"):
            return aws_error(
                400,
                "IncompleteSignature",
                "The request signature does not conform to AWS standards "
                "(this endpoint accepts only SigV4 Authorization headers).",
                service,
            )
        return aws_error(
            403, "MissingAuthenticationToken", "Request is missing Authentication Token", service
        )

    @staticmethod
    def target_action(environ: Dict[str, Any]) -> str:
        # JSON-protocol services name the action in X-Amz-Target instead.
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        return target.rpartition(".")[2] or "Unknown"

    def take_fault(self, action: str) -> Optional[Fault]:
        """Count the call and consume the next queued fault for it, if any."""
        with self.lock:
            self.calls[action] += 1
            for name in (action, ANY_ACTION):
                queue = self.faults.get(name)
                if not queue:
                    continue
                fault = queue[0]
                fault.remaining -= 1
                if fault.remaining <= 0:
                    queue.popleft()
                if not queue:
                    del self.faults[name]
                self.faulted[action] += 1
                return fault
        return None

    @property
    def new_key_propagation_seconds(self) -> float:
        return self.lags["new_key_propagation_seconds"]

    def lag(self, kind: str) -> float:
        return self.lags[f"{kind}_propagation_seconds"]

    def is_admin(self, access_key_id: str) -> bool:
        return access_key_id == self.admin.get("access_key_id")

    def check_key(
        self, credential: Credential, environ: Dict[str, Any], action: str
    ) -> Optional[Response]:
        """Answer what stock moto gets wrong: Inactive keys and every propagation lag.

        None lets moto serve the request. Unknown keys and wrong signatures are
        left to moto, which already answers InvalidClientTokenId /
        SignatureDoesNotMatch for IAM and STS (it also accepts Inactive keys,
        which serves a deactivated key inside its lag).
        """
        view = self.key_view(credential.access_key_id, credential.region)
        if view.accepted:
            if view.state == "deleted" and view.change is not None:
                return self.answer_deleted_key(environ, credential, action, view.change)
            if action == "GetCallerIdentity" and credential.service == "sts":
                return self.answer_caller_identity(environ, credential)
            return None
        if view.state in ("unknown", "deleted"):
            return None
        return invalid_token(credential.service)

    def answer_caller_identity(self, environ: Dict[str, Any], credential: Credential) -> Optional[Response]:
        """STS GetCallerIdentity signed with an accepted key of an IAM user, answered here.

        The health checks of a fleet are mostly this call; moto's own path (its SigV4 check through botocore, the
        policy machinery, the response serializer, then the last-use hook checking the signature again) costs
        several times this one. The answer is moto's: the user's id, ARN and account, the use recorded as moto's
        hook records it. Whatever this does not answer with certainty goes to moto as before: a signature that does
        not match (moto answers SignatureDoesNotMatch), a key of no user, a role's key.
        """
        key = find_user_key(credential.access_key_id, credential.region)
        if key is None or getattr(key, "role_arn", None):
            return None
        if sigv4_mismatch(environ, key.secret_access_key) is not None:
            return None
        account_id = get_account_id_from(credential.access_key_id)
        user = iam_backend(account_id, credential.region).users.get(key.user_name)
        if user is None:
            return None
        self.last_use.record(account_id, key, "sts", credential.region)
        return caller_identity_response(user.arn, user.id, user.account_id)

    def answer_deleted_key(
        self, environ: Dict[str, Any], credential: Credential, action: str, change: KeyChange
    ) -> Response:
        """A request signed with a key deleted less than the deletion lag ago.

        moto no longer knows the key, so the signature is checked here with the
        secret recorded at deletion. STS GetCallerIdentity is answered as the
        key's user; anything else gets AccessDenied (documented in README.md).
        """
        problem = sigv4_mismatch(environ, change.secret)
        if problem is not None:
            return signature_mismatch(credential.service, problem)
        if credential.service == "sts" and action == "GetCallerIdentity":
            return caller_identity_response(change.user_arn, change.user_id, change.account_id)
        return aws_error(
            403,
            "AccessDenied",
            f"User: {change.user_arn} is not authorized to perform: "
            f"{credential.service}:{action} (this test endpoint serves only "
            "sts:GetCallerIdentity for an access key deleted less than "
            "deletion_propagation_seconds ago)",
            credential.service,
        )

    # -- key views and changes ------------------------------------------------

    def real_view(
        self, access_key_id: str, key: Optional[AccessKey], change: Optional[KeyChange]
    ) -> Tuple[bool, str, str]:
        """(accepted, reason, state) from moto's state and the new-key lag only."""
        if key is None:
            if change is not None and change.kind == "deletion":
                return False, "key is deleted", "deleted"
            return False, "no IAM user has this access key", "unknown"
        if key.status != "Active":
            return False, f"key is {key.status}", key.status
        lag = self.lag("new_key")
        if lag > 0 and not self.is_admin(access_key_id):
            # The admin key stands for credentials that existed long before.
            age = (utcnow() - key.create_date).total_seconds()
            if age < lag:
                return (
                    False,
                    f"lag: created {age:.1f}s ago (new_key_propagation_seconds={lag:g})",
                    key.status,
                )
        if self.is_admin(access_key_id):
            return True, "key is Active (the bootstrap admin key is exempt from lags)", key.status
        return True, "key is Active", key.status

    def key_view(self, access_key_id: str, region: str = REGION) -> KeyView:
        """The effective authentication view of a key, lags included.

        While the lag of the key's most recent change runs, the key is seen as
        it was just before that change; afterwards its real state rules.
        """
        key = find_user_key(access_key_id, region)
        with self.lock:
            change = None if self.is_admin(access_key_id) else self.changes.get(access_key_id)
        accepted, reason, state = self.real_view(access_key_id, key, change)
        user_name = key.user_name if key is not None else (change.user_name if change else None)
        lagged = False
        if change is not None:
            lag = self.lag(change.kind)
            ago = time.monotonic() - change.at
            if ago < lag:
                lagged = True
                accepted = change.accepted_before
                verdict = "still accepted" if accepted else "still rejected"
                reason = (
                    f"lag: {CHANGE_PAST_TENSE[change.kind]} {max(ago, 0.0):.1f}s ago "
                    f"({change.kind}_propagation_seconds={lag:g}); {verdict} as before "
                    f"({change.reason_before})"
                )
        return KeyView(access_key_id, accepted, reason, state, user_name, lagged, change)

    def forward_key_change(
        self,
        environ: Dict[str, Any],
        start_response: Callable,
        params: Dict[str, str],
        action: str,
    ) -> Iterable[bytes]:
        """Pass UpdateAccessKey/DeleteAccessKey to moto and record a successful change."""
        pending = self.begin_key_change(action, params)
        statuses = []

        def capture(status: str, headers: Any, exc_info: Any = None) -> Any:
            statuses.append(status)
            return start_response(status, headers, exc_info)

        succeeded = False
        try:
            result = self.moto_app(environ, capture)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            succeeded = bool(statuses) and statuses[-1].startswith("200")
        finally:
            self.end_key_change(pending, succeeded)
        return [body]

    def begin_key_change(
        self, action: str, params: Dict[str, str]
    ) -> Optional[Tuple[str, Optional[KeyChange], KeyChange]]:
        """Record a change provisionally, before moto makes it.

        So no request slips in between moto's change and our record: until
        moto has answered, the provisional record shows the state before,
        which is still moto's state too. Returns what end_key_change needs.
        """
        access_key_id = params.get("AccessKeyId")
        if not access_key_id or self.is_admin(access_key_id):
            return None  # the admin key is exempt from every lag
        key = find_user_key(access_key_id)
        if key is None:
            return None  # moto will answer NoSuchEntity
        if action == "DeleteAccessKey":
            kind, after = "deletion", "deleted"
        else:
            after = params.get("Status", "")
            if (key.status == "Active") == (after == "Active"):
                return None  # no change of whether the key may authenticate
            kind = "deactivation" if key.status == "Active" else "reactivation"
        view = self.key_view(access_key_id)
        account_id = get_account_id_from(access_key_id)
        user = iam_backend(account_id).users.get(key.user_name)
        change = KeyChange(
            kind=kind,
            before=key.status,
            after=after,
            at=time.monotonic(),
            wall=time.time(),
            accepted_before=view.accepted,
            reason_before=view.reason,
            user_name=key.user_name,
            account_id=account_id,
            user_arn=getattr(user, "arn", ""),
            user_id=getattr(user, "id", ""),
            secret=key.secret_access_key if kind == "deletion" else "",
        )
        with self.lock:
            previous = self.changes.get(access_key_id)
            self.changes[access_key_id] = change
        return access_key_id, previous, change

    def end_key_change(
        self, pending: Optional[Tuple[str, Optional[KeyChange], KeyChange]], succeeded: bool
    ) -> None:
        if pending is None:
            return
        access_key_id, previous, change = pending
        with self.lock:
            if self.changes.get(access_key_id) is not change:
                return  # cleared by a reset meanwhile
            if succeeded:
                # The lag counts from moto's 200, the moment the change is made.
                change.at, change.wall = time.monotonic(), time.time()
            elif previous is None:
                del self.changes[access_key_id]
            else:
                self.changes[access_key_id] = previous

    # -- control API -----------------------------------------------------------

    def control(self, request: Request) -> Response:
        name = request.path[len(CONTROL_PREFIX) :].strip("/")
        handler = self.routes.get((request.method, name))
        if handler is None:
            if name in {route_name for _method, route_name in self.routes}:
                return json_response({"error": f"method {request.method} not allowed"}, 405)
            return json_response({"error": f"unknown control path {request.path}"}, 404)
        try:
            return json_response(handler(request))
        except ControlError as exc:
            return json_response({"error": str(exc)}, exc.status)

    @staticmethod
    def body(request: Request) -> Dict[str, Any]:
        raw = request.get_data(as_text=True)
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ControlError(f"body is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ControlError("body must be a JSON object")
        return data

    def get_health(self, request: Request) -> Dict[str, Any]:
        return {
            "status": "ok",
            "endpoint_url": self.endpoint_url,
            "account_id": DEFAULT_ACCOUNT_ID,
            "region": REGION,
            "admin_access_key_id": self.admin.get("access_key_id"),
            "auth_enforced": auth_enforced(),
            "pid": os.getpid(),
        }

    def get_calls(self, request: Request) -> Dict[str, Any]:
        with self.lock:
            return {"calls": dict(self.calls), "faulted": dict(self.faulted)}

    def delete_calls(self, request: Request) -> Dict[str, Any]:
        with self.lock:
            self.calls.clear()
            self.faulted.clear()
        return {"calls": {}, "faulted": {}}

    def get_faults(self, request: Request) -> Dict[str, Any]:
        with self.lock:
            return {
                "faults": {
                    action: [asdict(f) for f in queue] for action, queue in self.faults.items()
                }
            }

    def post_faults(self, request: Request) -> Dict[str, Any]:
        data = self.body(request)
        fault = self.parse_fault(data)
        with self.lock:
            self.faults.setdefault(data["action"], collections.deque()).append(fault)
        return self.get_faults(request)

    @staticmethod
    def parse_fault(data: Dict[str, Any]) -> Fault:
        action = data.get("action")
        if not isinstance(action, str) or not action:
            raise ControlError("'action' must be an action name such as CreateAccessKey, or '*'")
        kind = data.get("kind")
        if kind not in FAULT_KINDS:
            raise ControlError(f"'kind' must be one of {', '.join(FAULT_KINDS)}")
        count = data.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ControlError("'count' must be a positive integer")
        delay = data.get("delay", 0)
        if not isinstance(delay, (int, float)) or isinstance(delay, bool) or delay < 0:
            raise ControlError("'delay' must be a non-negative number of seconds")
        status = data.get("status")
        if kind == "5xx":
            status = 500 if status is None else status
            if not isinstance(status, int) or not 500 <= status <= 599:
                raise ControlError("'status' must be an HTTP status from 500 to 599")
        elif status is not None:
            raise ControlError("'status' only applies to kind 5xx")
        return Fault(kind=kind, remaining=count, delay=float(delay), status=status)

    def delete_faults(self, request: Request) -> Dict[str, Any]:
        with self.lock:
            self.faults.clear()
        return {"faults": {}}

    def get_config(self, request: Request) -> Dict[str, Any]:
        with self.lock:
            return dict(self.lags)

    def post_config(self, request: Request) -> Dict[str, Any]:
        """Set lags: any of LAG_SETTINGS, or propagation_seconds for all four.

        Lags apply when a key is checked, with the settings then in force, so
        setting a lag to 0 ends its pending windows at once.
        """
        settings = parse_lag_settings(self.body(request))
        with self.lock:
            self.lags.update(settings)
        return self.get_config(request)

    def all_key_ids(self) -> list:
        ids = set()
        for account_id in list(iam_backends.keys()):
            backend = iam_backend(account_id)
            for user in list(backend.users.values()):
                ids.update(key.access_key_id for key in list(user.access_keys))
        with self.lock:
            ids.update(self.changes)
        return sorted(ids)

    def get_keys(self, request: Request) -> Dict[str, Any]:
        """Each key's effective view: ``?access_key_id=ID`` (repeatable), else every key."""
        ids = request.args.getlist("access_key_id") or self.all_key_ids()
        now = time.monotonic()
        with self.lock:
            lags = dict(self.lags)
        return {
            "keys": {key_id: self.key_view(key_id).as_dict(lags, now) for key_id in ids}
        }

    def get_auth(self, request: Request) -> Dict[str, Any]:
        return {"enforce": auth_enforced()}

    def post_auth(self, request: Request) -> Dict[str, Any]:
        enforce = self.body(request).get("enforce")
        if not isinstance(enforce, bool):
            raise ControlError("'enforce' must be true or false")
        set_auth_enforcement(enforce)
        return {"enforce": enforce}

    @staticmethod
    def lookup_key(data: Dict[str, Any]) -> AccessKey:
        access_key_id = data.get("access_key_id")
        if not isinstance(access_key_id, str) or not access_key_id:
            raise ControlError("'access_key_id' is required")
        key = find_user_key(access_key_id)
        if key is None:
            raise ControlError(f"no IAM user has access key {access_key_id}", 404)
        user_name = data.get("user_name")
        if user_name is not None and user_name != key.user_name:
            raise ControlError(
                f"access key {access_key_id} belongs to {key.user_name}, not {user_name}", 404
            )
        return key

    @staticmethod
    def number(data: Dict[str, Any], name: str, default: Optional[float] = None) -> float:
        value = data.get(name, default)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ControlError(f"'{name}' must be a number >= 0")
        return float(value)

    def post_backdate(self, request: Request) -> Dict[str, Any]:
        data = self.body(request)
        key = self.lookup_key(data)
        key.create_date = utcnow() - datetime.timedelta(days=self.number(data, "days"))
        return {
            "user_name": key.user_name,
            "access_key_id": key.access_key_id,
            "create_date": isoformat(key.create_date),
        }

    def post_last_used(self, request: Request) -> Dict[str, Any]:
        data = self.body(request)
        key = self.lookup_key(data)
        ago = datetime.timedelta(
            minutes=self.number(data, "minutes_ago", 0),
            days=self.number(data, "days_ago", 0),
        )
        service = data.get("service", "s3")
        region = data.get("region", REGION)
        if not isinstance(service, str) or not isinstance(region, str):
            raise ControlError("'service' and 'region' must be strings")
        # Note: moto overwrites this whenever the key signs a request.
        key.last_used = AccessKeyLastUsed(timestamp=utcnow() - ago, service=service, region=region)
        return {
            "access_key_id": key.access_key_id,
            "last_used_date": isoformat(key.last_used.timestamp),
            "service": service,
            "region": region,
        }

    def post_reset(self, request: Request) -> Dict[str, Any]:
        """Forget all moto state, faults, counters and recorded key changes; lags go
        back to the values given at start (0 unless given); bootstrap again."""
        with self.lock:
            self.calls.clear()
            self.faulted.clear()
            self.faults.clear()
            self.changes.clear()
            self.lags = dict(self.default_lags)
        self.trail.clear()
        self.last_use.reset()
        moto_api_backend.reset()
        return self.bootstrap()

    def post_account_role(self, request: Request) -> Dict[str, Any]:
        """A role in another account that the admin's account may assume, allowed everything there.

        Body: ``{"account_id": "222222222222", "role_name": "rotor"}``. Answers with its ARN. The way AWS
        Organizations users reach other accounts (sts:AssumeRole), created behind moto's back because no
        credentials of that account exist yet.
        """
        data = self.body(request)
        account_id, role_name = data.get("account_id"), data.get("role_name", "rotor")
        if not isinstance(account_id, str) or not re.match(r"^\d{12}$", account_id) or account_id == DEFAULT_ACCOUNT_ID:
            raise ControlError("'account_id' must be another 12-digit account id")
        if not isinstance(role_name, str) or not re.match(r"^[\w+=,.@-]{1,64}$", role_name):
            raise ControlError("'role_name' must be an IAM role name")
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                         "Principal": {"AWS": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:root"}}]}
        backend = iam_backend(account_id)
        if role_name not in [role.name for role in backend.roles.values()]:
            backend.create_role(role_name, json.dumps(trust), "/", None, "rotor.iam tests", [], None)
            backend.put_role_policy(role_name, "allow-all", json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        return {"role_arn": f"arn:aws:iam::{account_id}:role/{role_name}", "account_id": account_id}

    def post_seed(self, request: Request) -> Dict[str, Any]:
        """Create many users and keys in one request (tests/iam_endpoint/seed.py).

        Body: ``{"users": [{"user_name": "u1", "keys": [{"age_days": 120,
        "status": "Active", "last_used_days_ago": 3, "service": "s3",
        "region": "eu-west-1"}]}]}``; ``last_used_days_ago`` null (the default)
        means never used. Answers with each key's id and secret.
        """
        users = self.body(request).get("users")
        if not isinstance(users, list):
            raise ControlError("'users' must be a list of {user_name, keys}")
        backend = iam_backend()
        seeded = []
        for spec in users:
            name = spec.get("user_name") if isinstance(spec, dict) else None
            keys = spec.get("keys", []) if isinstance(spec, dict) else None
            if not isinstance(name, str) or not name or not isinstance(keys, list) or len(keys) > 2:
                raise ControlError(f"bad user {spec!r}: need user_name and at most 2 keys")
            if name not in backend.users:
                backend.create_user(region_name=REGION, user_name=name)
            created = []
            for key_spec in keys:
                if not isinstance(key_spec, dict):
                    raise ControlError(f"bad key of {name}: {key_spec!r}")
                status = key_spec.get("status", "Active")
                if status not in VALID_KEY_STATUSES:
                    raise ControlError(f"bad status of a key of {name}: {status!r}")
                age = self.number(key_spec, "age_days", 0)  # checked before anything is created
                last_used = key_spec.get("last_used_days_ago")
                used_ago = None if last_used is None else self.number(key_spec, "last_used_days_ago")
                key = backend.create_access_key(name, status=status)
                key.create_date = utcnow() - datetime.timedelta(days=age)
                if used_ago is not None:
                    key.last_used = AccessKeyLastUsed(
                        timestamp=utcnow() - datetime.timedelta(days=used_ago),
                        service=str(key_spec.get("service", "s3")),
                        region=str(key_spec.get("region", REGION)),
                    )
                created.append(
                    {
                        "access_key_id": key.access_key_id,
                        "secret_access_key": key.secret_access_key,
                        "status": key.status,
                        "create_date": isoformat(key.create_date),
                        "last_used_date": isoformat(key.last_used.timestamp) if key.last_used else None,
                    }
                )
            seeded.append({"user_name": name, "keys": created})
        return {"users": seeded}


def exit_with_parent(server: Any, parent_pid: int) -> None:
    """Shut the server down once the process that started it is gone."""

    def watch() -> None:
        # An orphan is re-parented, so a changed parent pid means it died.
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        log.info("parent %s is gone; stopping", parent_pid)
        server.shutdown()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--bootstrap-file", help="write the admin credentials here (0600)")
    parser.add_argument(
        "--exit-with-parent", type=int, metavar="PID", help="stop when process PID exits"
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    parser.add_argument(
        "--backlog", type=int, default=1024,
        help="the listen backlog: connections that wait for the server instead of being retried by the client's TCP stack "
             "(werkzeug's default, 128, makes a burst of 4 slices x 50 forks of health checks wait 1, 3 and 7 s for SYN retries)")
    parser.add_argument(
        "--propagation-seconds",
        "--lag",
        type=seconds,
        metavar="S",
        help="all four propagation lags (a specific flag below wins)",
    )
    for name in LAG_SETTINGS:
        parser.add_argument("--" + name.replace("_", "-"), type=seconds, metavar="S")
    return parser.parse_args(argv)


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0: {text!r}")
    return value


def lags_from_args(args: argparse.Namespace) -> Dict[str, float]:
    lags: Dict[str, float] = {}
    if args.propagation_seconds is not None:
        lags[ALL_LAGS_SETTING] = args.propagation_seconds
    for name in LAG_SETTINGS:
        if getattr(args, name) is not None:
            lags[name] = getattr(args, name)
    return lags


def main(argv: Optional[list] = None) -> int:
    # ROTOR_ENDPOINT_ARGS: more options for a server started by a harness that does not pass them (benchmarks).
    extra = shlex.split(os.environ.get("ROTOR_ENDPOINT_ARGS", ""))
    args = parse_args((sys.argv[1:] if argv is None else list(argv)) + extra)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    moto_app = DomainDispatcherApplication(create_backend_app)
    app = EndpointApp(
        moto_app, endpoint_url="", bootstrap_file=args.bootstrap_file, lags=lags_from_args(args)
    )
    # Bind first so that port 0 resolves to the real port before bootstrap
    # publishes the endpoint URL; early requests wait in the listen backlog.
    werkzeug_serving.BaseWSGIServer.request_queue_size = max(1, args.backlog)  # listen()'s backlog, used by the constructor
    server = make_server(
        args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler
    )
    port = server.server_address[1]
    os.environ["MOTO_PORT"] = str(port)  # moto's own self-calls use it
    app.endpoint_url = f"http://{args.host}:{port}"
    app.bootstrap()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.exit_with_parent:
        exit_with_parent(server, args.exit_with_parent)
    log.info(
        "serving %s (bootstrap file: %s; lags: %s)",
        app.endpoint_url,
        args.bootstrap_file,
        ", ".join(f"{name}={value:g}" for name, value in app.lags.items()),
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
