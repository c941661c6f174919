"""When the test endpoint records an access key's last use, and when GetAccessKeyLastUsed shows it (issue 25).

moto records a key's LastUsedDate on every request that names it, before it checks anything. AWS records a use only
when the request is accepted, and publishes it with a delay. ``LastUseRecorder`` replaces moto's recording hook
(``moto.iam.models.mark_account_as_visited``) with one that:

* records nothing for a request whose SigV4 signature does not match the key's secret (moto would: AWS does not), nor
  for a key the endpoint refuses (Inactive after its deactivation lag, reactivated inside its reactivation lag, new
  inside its propagation lag): a use inside the deactivation lag is accepted, so it counts, as on AWS;
* with ``delay_seconds`` > 0, makes each use visible to GetAccessKeyLastUsed (and the credential report) only that
  long after it happened, dated when it happened, as AWS publishes last-use data late.

Set through the control API (``GET|POST /_rotor/last_use`` {"delay_seconds": N}, ``IAMEndpoint.configure_last_use``);
the delay survives a reset, like the lags given at start; pending uses do not.
"""

from __future__ import annotations

import io
import math
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from moto.core.utils import utcnow
from moto.iam import models as iam_models
from moto.iam.models import AccessKeyLastUsed


def _request_environ() -> Optional[Dict[str, Any]]:
    """The WSGI environ of the request moto is setting up (moto's hook is called without it)."""
    frame = sys._getframe(2)  # pylint: disable=protected-access
    for _depth in range(6):
        if frame is None:
            return None
        request = frame.f_locals.get("request")
        environ = getattr(request, "environ", None)
        if isinstance(environ, dict) and callable(getattr(request, "get_data", None)):
            # moto has read the body already: a copy of the environ that reads it again, for the signature check (the
            # endpoint put the body back as a BytesIO when it read the query parameters)
            stream = environ.get("wsgi.input")
            body = stream.getvalue() if isinstance(stream, io.BytesIO) else request.get_data()
            return dict(environ, **{"wsgi.input": io.BytesIO(body)})
        frame = frame.f_back
    return None


class LastUseRecorder:
    """moto's last-use hook, as AWS behaves: only accepted requests, published ``delay_seconds`` late."""

    def __init__(self, accepted: Callable[[str], bool], signature_mismatch: Callable[[Dict[str, Any], str], Optional[str]],
                 auth_enforced: Callable[[], bool]):
        self.accepted = accepted
        self.signature_mismatch = signature_mismatch
        self.auth_enforced = auth_enforced
        self.delay_seconds = 0.0
        self.pending: List[Tuple[float, str, AccessKeyLastUsed]] = []  # (visible at, key id, use)
        self.lock = threading.Lock()
        self.original = iam_models.mark_account_as_visited
        self.original_last_used = iam_models.IAMBackend.get_access_key_last_used
        self.original_report = iam_models.IAMBackend.get_credential_report

    def install(self) -> "LastUseRecorder":
        recorder = self

        def get_access_key_last_used(backend: Any, access_key_id: str) -> Dict[str, Any]:
            recorder.publish()
            return recorder.original_last_used(backend, access_key_id)

        def get_credential_report(backend: Any) -> Any:
            recorder.publish()
            return recorder.original_report(backend)

        iam_models.mark_account_as_visited = self.mark
        iam_models.IAMBackend.get_access_key_last_used = get_access_key_last_used
        iam_models.IAMBackend.get_credential_report = get_credential_report
        return self

    @staticmethod
    def find_key(account_id: str, access_key_id: str, region: str) -> Any:
        partition = iam_models.get_partition(region or "us-east-1")
        return iam_models.iam_backends[account_id][partition].access_keys.get(access_key_id)

    def mark(self, account_id: str, access_key: str, service: str, region: str) -> None:
        """moto's hook: called for every request that names a key, before moto checks it."""
        key = self.find_key(account_id, access_key, region) if access_key else None
        if key is None:
            return
        if self.auth_enforced():
            environ = _request_environ()
            if environ is not None and self.signature_mismatch(environ, key.secret_access_key):
                return  # AWS records no use for a refused signature (SignatureDoesNotMatch)
        if not self.accepted(access_key):
            return  # an Inactive key after its lag, or a key inside a propagation lag: refused, not a use
        self.record(account_id, key, service, region)

    def record(self, account_id: str, key: Any, service: str, region: str) -> None:
        """Record a use of ``key`` by a request already found accepted (signature and key checked)."""
        access_key = key.access_key_id
        use = AccessKeyLastUsed(timestamp=utcnow(), service=service, region=region)
        with self.lock:
            if self.delay_seconds <= 0:
                key.last_used = use
            else:
                self.pending.append((time.monotonic() + self.delay_seconds, access_key, use))
        if self.delay_seconds <= 0 and key.role_arn:
            self.original(account_id, access_key, service, region)

    def publish(self) -> None:
        """Make the uses whose delay is over visible (the newest wins; an older use never hides a newer one)."""
        now = time.monotonic()
        with self.lock:
            due = [entry for entry in self.pending if entry[0] <= now]
            self.pending = [entry for entry in self.pending if entry[0] > now]
        for _at, access_key_id, use in due:
            for account in list(iam_models.iam_backends.values()):
                for backend in account.values():
                    key = backend.access_keys.get(access_key_id)
                    if key is not None and (key.last_used is None or key.last_used.timestamp <= use.timestamp):
                        key.last_used = use

    def configure(self, data: Dict[str, Any], error: type = ValueError) -> Dict[str, Any]:
        """Apply {"delay_seconds": N}; a bad setting raises ``error`` and changes nothing."""
        if set(data) - {"delay_seconds"}:
            raise error(f"unknown last-use settings: {sorted(set(data) - {'delay_seconds'})}; only delay_seconds")
        if "delay_seconds" in data:
            value = data["delay_seconds"]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise error("delay_seconds must be a finite number >= 0")
            with self.lock:
                self.delay_seconds = float(value)
            if value == 0:
                self.publish_all()  # no delay: what was pending is visible now
        return self.settings()

    def publish_all(self) -> None:
        with self.lock:
            self.pending = [(0.0, key_id, use) for _at, key_id, use in self.pending]
        self.publish()

    def settings(self) -> Dict[str, Any]:
        with self.lock:
            return {"delay_seconds": self.delay_seconds, "pending": len(self.pending)}

    def reset(self) -> None:
        with self.lock:
            self.pending = []
