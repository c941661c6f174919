"""The IAM endpoint as tests use it (tests/iam_endpoint wrapped, not changed): start it, seed users, read keys."""

from __future__ import annotations

import os
import time
from typing import Dict, Optional, Tuple

from iam_endpoint.control import IAMEndpoint

# AWS propagates every key change with a lag (new, deactivated, reactivated, deleted); the test endpoint
# does too, a few seconds each, unless a test is about something else. ROTOR_TEST_IAM_LAG overrides it.
IAM_LAG_SECONDS = float(os.environ.get("ROTOR_TEST_IAM_LAG", "2"))


def start_endpoint(workdir: str, lag: float = IAM_LAG_SECONDS, timeout: float = 180) -> IAMEndpoint:
    """A started endpoint (moto server mode, authentication enforced), lagging like AWS; stop() it afterwards."""
    return IAMEndpoint().start(workdir=workdir, propagation_seconds=lag, timeout=timeout)


def settle(endpoint: IAMEndpoint) -> None:
    """No faults or counters left by an earlier test, the lags of AWS."""
    endpoint.clear_faults()
    endpoint.configure(propagation_seconds=IAM_LAG_SECONDS)
    endpoint.reset_calls()


def seed_user(endpoint, user_name: str, age_days: float = 120) -> Tuple[str, str]:
    """Create an IAM user whose only key is ``age_days`` old; returns (access_key_id, secret)."""
    iam = endpoint.boto3_client("iam")
    iam.create_user(UserName=user_name)
    key = iam.create_access_key(UserName=user_name)["AccessKey"]
    if age_days:
        endpoint.backdate(user_name, key["AccessKeyId"], age_days)
    return key["AccessKeyId"], key["SecretAccessKey"]


def wait_until_accepted(endpoint, access_key_id: str, timeout: Optional[float] = None) -> None:
    """Wait out a new key's propagation, as the rotation does before relying on it: until the endpoint
    accepts a request signed with it (asked of the endpoint, so the key records no use). A test that signs
    with a key it has just created calls this first; on a loaded machine the lag outlasts the test's setup."""
    lag = float(endpoint.config().get("new_key_propagation_seconds", IAM_LAG_SECONDS))
    deadline = time.monotonic() + (lag + 30 if timeout is None else timeout)
    while not endpoint.accepted(access_key_id):
        if time.monotonic() > deadline:
            raise AssertionError(f"{access_key_id} is still rejected: {endpoint.key_view(access_key_id)['reason']}")
        time.sleep(0.1)


def key_statuses(endpoint, user_name: str) -> Dict[str, str]:
    """The user's keys in IAM as {access_key_id: status}, in IAM's order."""
    iam = endpoint.boto3_client("iam")
    return {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"]}
