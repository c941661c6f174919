"""The test IAM endpoint behaves like AWS where rotor.iam depends on it.

These start the real server (a subprocess speaking HTTP) once per module and
reset its state before each test; nothing is mocked.
"""

import datetime
import json
import os
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")

from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

TESTS_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, TESTS_DIR)

from iam_endpoint.control import EndpointError, IAMEndpoint  # noqa: E402

CONTROL_SCRIPT = os.path.join(TESTS_DIR, "iam_endpoint", "control.py")

# botocore's max_attempts counts retries; total_max_attempts=1 means one try.
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})

# Resource "*": moto checks IAM user actions against the resource "*", so a
# statement naming arn:aws:iam::*:user/${aws:username} would never match.
SELF_SERVICE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "iam:ListAccessKeys",
                    "iam:CreateAccessKey",
                    "iam:UpdateAccessKey",
                    "iam:DeleteAccessKey",
                ],
                "Resource": "*",
            }
        ],
    }
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with IAMEndpoint().start(workdir=str(tmp_path_factory.mktemp("iam-endpoint"))) as ep:
        yield ep


@pytest.fixture
def endpoint(server):
    server.reset()
    return server


def client(endpoint, service, key=None, secret=None):
    return endpoint.boto3_client(service, key, secret, config=NO_RETRIES)


def error_of(call, *args, **kwargs):
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def make_user(endpoint, name="alice"):
    """A user allowed to manage its own keys, with one key; returns the key."""
    iam = client(endpoint, "iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="self", PolicyDocument=SELF_SERVICE_POLICY)
    return iam.create_access_key(UserName=name)["AccessKey"]


def as_key(endpoint, service, key):
    return client(endpoint, service, key["AccessKeyId"], key["SecretAccessKey"])


# -- bootstrap and authentication ---------------------------------------------


def test_bootstrap_file_and_admin_identity(endpoint):
    path = os.path.join(endpoint.workdir, "bootstrap.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as handle:
        data = json.load(handle)
    assert set(data) == {
        "endpoint_url",
        "access_key_id",
        "secret_access_key",
        "account_id",
        "region",
    }
    assert data["endpoint_url"] == endpoint.endpoint_url
    assert data["region"] == "us-east-1"

    identity = client(endpoint, "sts").get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{data['account_id']}:user/rotor-admin"
    assert endpoint.health()["auth_enforced"] is True


def test_unknown_key_is_rejected_on_iam_and_sts(endpoint):
    sts = client(endpoint, "sts", "AKIAUNKNOWNUNKNOWN00", "x" * 40)
    iam = client(endpoint, "iam", "AKIAUNKNOWNUNKNOWN00", "x" * 40)
    assert error_of(sts.get_caller_identity) == ("InvalidClientTokenId", 403)
    assert error_of(iam.list_users) == ("InvalidClientTokenId", 403)


def test_wrong_secret_is_rejected_on_iam_and_sts(endpoint):
    key_id = endpoint.admin_access_key_id
    sts = client(endpoint, "sts", key_id, "wrong-secret")
    iam = client(endpoint, "iam", key_id, "wrong-secret")
    assert error_of(sts.get_caller_identity) == ("SignatureDoesNotMatch", 403)
    assert error_of(iam.list_users) == ("SignatureDoesNotMatch", 403)


def test_unsigned_request_is_rejected(endpoint):
    request = urllib.request.Request(
        endpoint.endpoint_url + "/",
        data=b"Action=GetCallerIdentity&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request)
    assert info.value.code == 403
    assert b"MissingAuthenticationToken" in info.value.read()


def test_new_users_key_works_and_policies_apply(endpoint):
    key = make_user(endpoint)
    identity = as_key(endpoint, "sts", key).get_caller_identity()
    assert identity["Arn"].endswith(":user/alice")

    iam = as_key(endpoint, "iam", key)
    assert len(iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]) == 1
    assert error_of(iam.list_users) == ("AccessDenied", 403)


def test_inactive_key_is_rejected_until_reactivated(endpoint):
    key = make_user(endpoint)
    admin = client(endpoint, "iam")
    admin.update_access_key(UserName="alice", AccessKeyId=key["AccessKeyId"], Status="Inactive")

    assert error_of(as_key(endpoint, "sts", key).get_caller_identity) == (
        "InvalidClientTokenId",
        403,
    )
    iam = as_key(endpoint, "iam", key)
    assert error_of(iam.list_access_keys, UserName="alice") == ("InvalidClientTokenId", 403)

    admin.update_access_key(UserName="alice", AccessKeyId=key["AccessKeyId"], Status="Active")
    assert as_key(endpoint, "sts", key).get_caller_identity()["Arn"].endswith(":user/alice")
    assert iam.list_access_keys(UserName="alice")["AccessKeyMetadata"][0]["Status"] == "Active"


def test_update_access_key_rejects_unknown_status(endpoint):
    key = make_user(endpoint)
    admin = client(endpoint, "iam")
    call = admin.update_access_key
    assert error_of(call, UserName="alice", AccessKeyId=key["AccessKeyId"], Status="inactive") == (
        "ValidationError",
        400,
    )


def test_deleted_key_is_rejected(endpoint):
    key = make_user(endpoint)
    client(endpoint, "iam").delete_access_key(UserName="alice", AccessKeyId=key["AccessKeyId"])
    assert error_of(as_key(endpoint, "sts", key).get_caller_identity) == (
        "InvalidClientTokenId",
        403,
    )
    iam = as_key(endpoint, "iam", key)
    assert error_of(iam.list_access_keys, UserName="alice") == ("InvalidClientTokenId", 403)


def test_third_key_exceeds_limit(endpoint):
    make_user(endpoint)
    admin = client(endpoint, "iam")
    admin.create_access_key(UserName="alice")
    assert error_of(admin.create_access_key, UserName="alice") == ("LimitExceeded", 409)


def test_auth_enforcement_can_be_switched_off(endpoint):
    sts = client(endpoint, "sts", "AKIAUNKNOWNUNKNOWN00", "x" * 40)
    endpoint.set_auth(False)
    assert sts.get_caller_identity()["Account"] == endpoint.account_id
    endpoint.set_auth(True)
    assert error_of(sts.get_caller_identity) == ("InvalidClientTokenId", 403)


def test_new_key_propagation_delay(endpoint):
    endpoint.configure(new_key_propagation_seconds=1)
    key = make_user(endpoint)  # the admin key is exempt, so this still works
    sts = as_key(endpoint, "sts", key)
    assert error_of(sts.get_caller_identity) == ("InvalidClientTokenId", 403)
    time.sleep(1.1)
    assert sts.get_caller_identity()["Arn"].endswith(":user/alice")


# -- faults and counters ------------------------------------------------------


def test_throttle_fault_for_n_calls_then_normal(endpoint):
    iam = client(endpoint, "iam")
    endpoint.inject("ListUsers", "throttle", count=2)
    assert error_of(iam.list_users) == ("Throttling", 400)
    assert error_of(iam.list_users) == ("Throttling", 400)
    assert iam.list_users()["Users"][0]["UserName"] == "rotor-admin"
    assert endpoint.faults() == {}


def test_botocore_retries_throttling(endpoint):
    iam = endpoint.boto3_client(
        "iam", config=Config(retries={"total_max_attempts": 2, "mode": "standard"})
    )
    endpoint.inject("ListUsers", "throttle", count=1)
    response = iam.list_users()
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert endpoint.calls()["calls"]["ListUsers"] == 2


def test_5xx_faults(endpoint):
    sts = client(endpoint, "sts")
    endpoint.inject("GetCallerIdentity", "5xx")
    endpoint.inject("GetCallerIdentity", "5xx", status=503)
    assert error_of(sts.get_caller_identity) == ("InternalFailure", 500)
    assert error_of(sts.get_caller_identity) == ("ServiceUnavailable", 503)
    assert sts.get_caller_identity()["Arn"].endswith(":user/rotor-admin")


def test_latency_fault(endpoint):
    sts = client(endpoint, "sts")
    endpoint.inject("GetCallerIdentity", "latency", delay=0.5)
    started = time.monotonic()
    sts.get_caller_identity()
    assert time.monotonic() - started >= 0.5
    started = time.monotonic()
    sts.get_caller_identity()
    assert time.monotonic() - started < 0.5


def test_faults_are_per_action_and_wildcard(endpoint):
    iam = client(endpoint, "iam")
    endpoint.inject("CreateAccessKey", "throttle")
    assert iam.list_users()["Users"]
    assert error_of(iam.create_access_key, UserName="rotor-admin") == ("Throttling", 400)

    endpoint.inject("*", "5xx", count=2)
    assert error_of(iam.list_users) == ("InternalFailure", 500)
    assert error_of(client(endpoint, "sts").get_caller_identity) == ("InternalFailure", 500)
    assert iam.list_users()["Users"]

    endpoint.inject("ListUsers", "throttle", count=5)
    endpoint.clear_faults()
    assert iam.list_users()["Users"]


def test_counters(endpoint):
    iam = client(endpoint, "iam")
    sts = client(endpoint, "sts")
    endpoint.inject("CreateAccessKey", "throttle")
    iam.create_user(UserName="bob")
    error_of(iam.create_access_key, UserName="bob")
    iam.create_access_key(UserName="bob")
    sts.get_caller_identity()
    error_of(client(endpoint, "sts", "AKIAUNKNOWNUNKNOWN00", "x" * 40).get_caller_identity)
    endpoint.health()  # control calls are never counted

    assert endpoint.calls() == {
        "calls": {"CreateUser": 1, "CreateAccessKey": 2, "GetCallerIdentity": 2},
        "faulted": {"CreateAccessKey": 1},
    }
    endpoint.reset_calls()
    assert endpoint.calls() == {"calls": {}, "faulted": {}}


# -- state helpers ----------------------------------------------------------


def test_backdate_shows_in_list_access_keys(endpoint):
    key = make_user(endpoint)
    endpoint.backdate("alice", key["AccessKeyId"], 120)
    listed = client(endpoint, "iam").list_access_keys(UserName="alice")["AccessKeyMetadata"][0]
    age = datetime.datetime.now(datetime.timezone.utc) - listed["CreateDate"]
    assert datetime.timedelta(days=119, hours=23) < age < datetime.timedelta(days=120, hours=1)
    # A backdated key is old enough for any propagation delay.
    endpoint.configure(new_key_propagation_seconds=60)
    assert as_key(endpoint, "sts", key).get_caller_identity()


def test_backdate_checks_the_owner(endpoint):
    key = make_user(endpoint)
    with pytest.raises(EndpointError, match="404"):
        endpoint.backdate("rotor-admin", key["AccessKeyId"], 10)


def test_set_last_used(endpoint):
    key = make_user(endpoint)
    endpoint.set_last_used(key["AccessKeyId"], minutes_ago=5, service="ec2", region="eu-west-1")
    last = client(endpoint, "iam").get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    used = last["AccessKeyLastUsed"]
    assert (used["ServiceName"], used["Region"]) == ("ec2", "eu-west-1")
    age = datetime.datetime.now(datetime.timezone.utc) - used["LastUsedDate"]
    assert datetime.timedelta(minutes=4) < age < datetime.timedelta(minutes=6)


def test_reset_keeps_admin_credentials_and_clears_state(endpoint):
    make_user(endpoint)
    endpoint.inject("ListUsers", "throttle")
    endpoint.configure(new_key_propagation_seconds=30)
    before = (endpoint.admin_access_key_id, endpoint.admin_secret_access_key)

    endpoint.reset()

    assert (endpoint.admin_access_key_id, endpoint.admin_secret_access_key) == before
    users = client(endpoint, "iam").list_users()["Users"]
    assert [u["UserName"] for u in users] == ["rotor-admin"]
    assert endpoint.calls() == {"calls": {"ListUsers": 1}, "faulted": {}}
    assert endpoint.configure() == {"new_key_propagation_seconds": 0.0}


def test_control_api_rejects_bad_requests(endpoint):
    with pytest.raises(EndpointError, match="kind"):
        endpoint.inject("ListUsers", "explode")
    with pytest.raises(EndpointError, match="status"):
        endpoint.inject("ListUsers", "5xx", status=404)
    with pytest.raises(EndpointError, match="unknown config"):
        endpoint.configure(propagation=3)
    with pytest.raises(EndpointError, match="404"):
        endpoint._control("GET", "nothing-here")


def test_admin_env_works_for_a_subprocess(endpoint):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(endpoint.admin_env())
    code = "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().endswith(":user/rotor-admin")


# -- CLI lifecycle --------------------------------------------------------------


def run_cli(*args):
    result = subprocess.run(
        [sys.executable, CONTROL_SCRIPT, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,  # the assertion below shows stderr
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


def test_cli_start_inject_calls_stop(tmp_path):
    workdir = str(tmp_path)
    health = run_cli("start", "--workdir", workdir)
    try:
        assert health["status"] == "ok"
        with open(tmp_path / "iam_endpoint.pid") as handle:
            assert int(handle.read()) == health["pid"]
        ep = IAMEndpoint.attach(workdir=workdir)
        assert ep.endpoint_url == health["endpoint_url"]

        run_cli(
            "inject", "--workdir", workdir, "--action", "GetCallerIdentity", "--kind", "throttle"
        )
        sts = ep.boto3_client("sts", config=NO_RETRIES)
        assert error_of(sts.get_caller_identity) == ("Throttling", 400)

        iam = ep.boto3_client("iam")
        iam.create_user(UserName="carol")
        key_id = iam.create_access_key(UserName="carol")["AccessKey"]["AccessKeyId"]
        run_cli(
            "backdate",
            "--url",
            ep.endpoint_url,
            "--user",
            "carol",
            "--key",
            key_id,
            "--days",
            "120",
        )
        created = iam.list_access_keys(UserName="carol")["AccessKeyMetadata"][0]["CreateDate"]
        assert datetime.datetime.now(datetime.timezone.utc) - created > datetime.timedelta(days=119)

        calls = run_cli("calls", "--url", ep.endpoint_url)
        assert calls["calls"]["GetCallerIdentity"] == 1
        assert calls["faulted"] == {"GetCallerIdentity": 1}
    finally:
        assert run_cli("stop", "--workdir", workdir) == {"stopped": True}
    assert not os.path.exists(tmp_path / "iam_endpoint.pid")
    with pytest.raises(OSError):
        IAMEndpoint.attach(workdir=workdir).health()
