"""A realistic IAM/STS endpoint for rotor.iam tests and demos.

moto's werkzeug application does the real work (users, keys, policies,
SigV4 verification).  This module serves it in-process behind WSGI
middleware that closes the gaps between moto and AWS that matter for key
rotation, and adds test hooks:

* requests signed with an Inactive key are rejected with
  ``InvalidClientTokenId`` (stock moto accepts them);
* optionally, keys younger than ``new_key_propagation_seconds`` are rejected
  too, like AWS's eventual consistency right after CreateAccessKey;
* requests without a SigV4 ``Authorization`` header get
  ``MissingAuthenticationToken`` (moto fails them with HTTP 500);
* ``UpdateAccessKey`` only accepts the statuses AWS accepts;
* per-action fault injection (throttling, 5xx, latency) and call counters;
* a JSON control API under ``/_rotor/`` (never signed, never counted).

Run: python tests/iam_endpoint/server.py --host 127.0.0.1 --port PORT
         [--bootstrap-file PATH] [--exit-with-parent PID] [--quiet]
"""

from __future__ import annotations

import argparse
import collections
import datetime
import io
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any, Callable, Deque, Dict, Iterable, Optional, Tuple
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from moto import settings as moto_settings
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.utils import utcnow
from moto.iam.models import AccessKey, AccessKeyLastUsed, get_account_id_from, iam_backends
from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.utilities.utils import get_partition
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

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


class EndpointApp:
    """WSGI middleware around moto: auth gaps, faults, counters, control API."""

    def __init__(self, moto_app: Callable, endpoint_url: str, bootstrap_file: Optional[str]):
        self.moto_app = moto_app
        self.endpoint_url = endpoint_url
        self.bootstrap_file = bootstrap_file
        self.lock = threading.Lock()
        self.calls: collections.Counter = collections.Counter()
        self.faulted: collections.Counter = collections.Counter()
        self.faults: Dict[str, Deque[Fault]] = {}
        self.new_key_propagation_seconds = 0.0
        self.admin: Dict[str, str] = {}
        self.routes: Dict[Tuple[str, str], Callable[[Request], Dict[str, Any]]] = {
            ("GET", "health"): self.get_health,
            ("GET", "calls"): self.get_calls,
            ("DELETE", "calls"): self.delete_calls,
            ("GET", "faults"): self.get_faults,
            ("POST", "faults"): self.post_faults,
            ("DELETE", "faults"): self.delete_faults,
            ("GET", "config"): self.get_config,
            ("POST", "config"): self.post_config,
            ("GET", "auth"): self.get_auth,
            ("POST", "auth"): self.post_auth,
            ("POST", "backdate"): self.post_backdate,
            ("POST", "last_used"): self.post_last_used,
            ("POST", "reset"): self.post_reset,
            ("POST", "seed"): self.post_seed,
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
        response = self.screen_aws_request(environ)
        if response is not None:
            return response(environ, start_response)
        return self.moto_app(environ, start_response)

    def screen_aws_request(self, environ: Dict[str, Any]) -> Optional[Response]:
        """Count, fault and authenticate an AWS call; a Response rejects it."""
        params = query_params(environ)
        action = params.get("Action") or self.target_action(environ)
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
            rejection = self.check_key(credential)
            if rejection is not None:
                return rejection

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

    def check_key(self, credential: Credential) -> Optional[Response]:
        """Reject what stock moto lets through: Inactive and unpropagated keys.

        Unknown keys and wrong signatures are left to moto, which already
        answers InvalidClientTokenId / SignatureDoesNotMatch for IAM and STS.
        """
        key = find_user_key(credential.access_key_id, credential.region)
        if key is None:
            return None
        if key.status != "Active":
            return invalid_token(credential.service)
        propagation = self.new_key_propagation_seconds
        if propagation > 0 and key.access_key_id != self.admin.get("access_key_id"):
            # The admin key stands for credentials that existed long before.
            age = (utcnow() - key.create_date).total_seconds()
            if age < propagation:
                return invalid_token(credential.service)
        return None

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
        return {"new_key_propagation_seconds": self.new_key_propagation_seconds}

    def post_config(self, request: Request) -> Dict[str, Any]:
        data = self.body(request)
        unknown = sorted(set(data) - {"new_key_propagation_seconds"})
        if unknown:
            raise ControlError(f"unknown config keys: {', '.join(unknown)}")
        if "new_key_propagation_seconds" in data:
            value = data["new_key_propagation_seconds"]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ControlError("'new_key_propagation_seconds' must be a number >= 0")
            self.new_key_propagation_seconds = float(value)
        return self.get_config(request)

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
        """Forget all moto state, faults, counters and config; bootstrap again."""
        with self.lock:
            self.calls.clear()
            self.faulted.clear()
            self.faults.clear()
        self.new_key_propagation_seconds = 0.0
        moto_api_backend.reset()
        return self.bootstrap()

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
    return parser.parse_args(argv)


def main(argv: Optional[list] = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    moto_app = DomainDispatcherApplication(create_backend_app)
    app = EndpointApp(moto_app, endpoint_url="", bootstrap_file=args.bootstrap_file)
    # Bind first so that port 0 resolves to the real port before bootstrap
    # publishes the endpoint URL; early requests wait in the listen backlog.
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
    log.info("serving %s (bootstrap file: %s)", app.endpoint_url, args.bootstrap_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
