"""What the tests of the endpoint's other services (Secrets Manager, SSM) share: clients without retries, a call's
outcome, a user with an inline policy. They run against the session's endpoint (tests/integration/conftest.py)."""

from __future__ import annotations

import json

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


@pytest.fixture
def endpoint(empty_endpoint):
    """The session's endpoint, reset, without lags: a new key signs at once; the services' authorization is under test."""
    empty_endpoint.configure(propagation_seconds=0)
    return empty_endpoint


def outcome(call, **kwargs):
    """"ok", or (error code, HTTP status) of a ClientError."""
    try:
        call(**kwargs)
    except ClientError as exc:
        return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]
    return "ok"


def user_with_policy(endpoint, name, policy):
    """A new IAM user with ``policy`` inline; returns its access key (AccessKeyId, SecretAccessKey)."""
    iam = endpoint.boto3_client("iam", config=NO_RETRIES)
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return iam.create_access_key(UserName=name)["AccessKey"]


def client_as(endpoint, service, key_id, secret):
    return endpoint.boto3_client(service, key_id, secret, config=NO_RETRIES)
