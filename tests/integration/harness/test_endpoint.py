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


LAG_NAMES = (
    "new_key_propagation_seconds",
    "deactivation_propagation_seconds",
    "reactivation_propagation_seconds",
    "deletion_propagation_seconds",
)
ZERO_LAGS = {name: 0.0 for name in LAG_NAMES}


def outcome(call, *args, **kwargs):
    """"ok", or the error code of a ClientError."""
    try:
        call(*args, **kwargs)
    except ClientError as exc:
        return exc.response["Error"]["Code"]
    return "ok"


def sts_outcome(endpoint, key, secret=None):
    sts = client(endpoint, "sts", key["AccessKeyId"], secret or key["SecretAccessKey"])
    return outcome(sts.get_caller_identity)


def poll_until(check, timeout=10.0, interval=0.1):
    """Call check() until it is true; the time.monotonic() when it first was."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s")
        time.sleep(interval)


def change_status(endpoint, key, status, user="alice"):
    """UpdateAccessKey as the admin; the time.monotonic() just before the call."""
    began = time.monotonic()
    client(endpoint, "iam").update_access_key(
        UserName=user, AccessKeyId=key["AccessKeyId"], Status=status
    )
    return began


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


def test_caller_identity_is_answered_as_moto_answers_it(endpoint):
    """The endpoint answers GetCallerIdentity of a user's accepted key itself (the health checks' call, cheaper than
    moto's path): the same identity moto gives, counted, its use recorded (service sts) and in the trail."""
    key = make_user(endpoint)
    iam = client(endpoint, "iam")
    ours = as_key(endpoint, "sts", key).get_caller_identity()
    endpoint.set_auth(False)  # moto's own answer
    motos = as_key(endpoint, "sts", key).get_caller_identity()
    endpoint.set_auth(True)
    assert {name: ours[name] for name in ("Arn", "UserId", "Account")} == {name: motos[name] for name in ("Arn", "UserId", "Account")}
    assert ours["Arn"] == iam.get_user(UserName="alice")["User"]["Arn"]
    assert endpoint.calls()["calls"]["GetCallerIdentity"] == 2
    last_used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert (last_used["ServiceName"], last_used["Region"]) == ("sts", endpoint.region)
    events = [event for event in endpoint.trail() if event.get("eventName") == "GetCallerIdentity"]
    assert [(event["userIdentity"]["accessKeyId"], "errorCode" in event) for event in events] == [(key["AccessKeyId"], False)] * 2


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


def test_new_key_exists_in_iam_while_rejected(endpoint):
    endpoint.configure(new_key_propagation_seconds=1.5)
    iam = client(endpoint, "iam")
    iam.create_user(UserName="alice")
    began = time.monotonic()
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    listed = iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]
    assert sts_outcome(endpoint, key) == "InvalidClientTokenId"
    view = endpoint.key_view(key["AccessKeyId"])
    assert (view["accepted"], view["state"]) == (False, "Active")
    assert view["reason"].startswith("lag: created")
    accepted_at = poll_until(lambda: sts_outcome(endpoint, key) == "ok")
    assert 1.5 <= accepted_at - began < 5
    assert endpoint.key_view(key["AccessKeyId"])["accepted"] is True


# -- propagation lags of key changes --------------------------------------------


def test_deactivated_key_is_accepted_during_the_lag(endpoint):
    endpoint.configure(deactivation_propagation_seconds=1.5)
    key = make_user(endpoint)
    began = change_status(endpoint, key, "Inactive")

    assert sts_outcome(endpoint, key) == "ok"
    iam = as_key(endpoint, "iam", key)
    listed = iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]
    assert listed[0]["Status"] == "Inactive"  # IAM itself shows the change at once
    view = endpoint.key_view(key["AccessKeyId"])
    assert (view["accepted"], view["state"], view["lagged"]) == (True, "Inactive", True)
    assert view["reason"].startswith("lag: deactivated")
    assert view["last_change"]["kind"] == "deactivation"
    assert (view["last_change"]["from"], view["last_change"]["to"]) == ("Active", "Inactive")
    assert view["last_change"]["propagated"] is False

    rejected_at = poll_until(lambda: sts_outcome(endpoint, key) == "InvalidClientTokenId")
    assert 1.5 <= rejected_at - began < 5
    assert outcome(iam.list_access_keys, UserName="alice") == "InvalidClientTokenId"
    view = endpoint.key_view(key["AccessKeyId"])
    assert (view["accepted"], view["reason"], view["lagged"]) == (False, "key is Inactive", False)
    assert view["last_change"]["propagated"] is True


def test_reactivated_key_is_rejected_during_the_lag(endpoint):
    endpoint.configure(reactivation_propagation_seconds=1.5)
    key = make_user(endpoint)
    change_status(endpoint, key, "Inactive")  # no deactivation lag: rejected at once
    assert sts_outcome(endpoint, key) == "InvalidClientTokenId"
    began = change_status(endpoint, key, "Active")

    assert sts_outcome(endpoint, key) == "InvalidClientTokenId"
    assert outcome(as_key(endpoint, "iam", key).list_access_keys, UserName="alice") == (
        "InvalidClientTokenId"
    )
    view = endpoint.key_view(key["AccessKeyId"])
    assert (view["accepted"], view["state"]) == (False, "Active")
    assert view["reason"].startswith("lag: reactivated")

    accepted_at = poll_until(lambda: sts_outcome(endpoint, key) == "ok")
    assert 1.5 <= accepted_at - began < 5
    assert endpoint.key_view(key["AccessKeyId"])["reason"] == "key is Active"


def test_deleted_key_authenticates_with_sts_during_the_lag(endpoint):
    # Long enough for the checks below to land inside the lag on a loaded machine (2 test workers).
    endpoint.configure(deletion_propagation_seconds=8)
    key = make_user(endpoint)
    sts = as_key(endpoint, "sts", key)
    before = sts.get_caller_identity()
    admin = client(endpoint, "iam")
    began = time.monotonic()
    admin.delete_access_key(UserName="alice", AccessKeyId=key["AccessKeyId"])
    assert admin.list_access_keys(UserName="alice")["AccessKeyMetadata"] == []
    endpoint.reset_calls()

    after = sts.get_caller_identity()
    assert {k: after[k] for k in ("Arn", "UserId", "Account")} == {
        k: before[k] for k in ("Arn", "UserId", "Account")
    }
    # The signature is still checked, against the secret the key had.
    assert error_of(client(endpoint, "sts", key["AccessKeyId"], "x" * 40).get_caller_identity) == (
        "SignatureDoesNotMatch",
        403,
    )
    # IAM calls with the deleted key get AccessDenied inside the lag (documented).
    assert error_of(as_key(endpoint, "iam", key).list_access_keys, UserName="alice") == (
        "AccessDenied",
        403,
    )
    assert endpoint.calls()["calls"] == {"GetCallerIdentity": 2, "ListAccessKeys": 1}
    view = endpoint.key_view(key["AccessKeyId"])
    assert (view["accepted"], view["state"], view["user_name"]) == (True, "deleted", "alice")
    assert view["reason"].startswith("lag: deleted")

    rejected_at = poll_until(lambda: sts_outcome(endpoint, key) == "InvalidClientTokenId")
    assert 8 <= rejected_at - began < 14
    assert sts_outcome(endpoint, key, "x" * 40) == "InvalidClientTokenId"
    view = endpoint.key_view(key["AccessKeyId"])
    assert (view["accepted"], view["reason"]) == (False, "key is deleted")
    assert endpoint.calls()["calls"]["GetCallerIdentity"] >= 4  # lagged answers count too


def test_deleting_an_inactive_key_keeps_it_rejected(endpoint):
    endpoint.configure(deletion_propagation_seconds=30)
    key = make_user(endpoint)
    change_status(endpoint, key, "Inactive")
    client(endpoint, "iam").delete_access_key(UserName="alice", AccessKeyId=key["AccessKeyId"])
    assert sts_outcome(endpoint, key) == "InvalidClientTokenId"
    view = endpoint.key_view(key["AccessKeyId"])
    assert view["accepted"] is False and "still rejected" in view["reason"]


def test_quick_change_back_keeps_the_view_from_before(endpoint):
    # Deactivated and reactivated inside the lag: the deactivation never showed.
    endpoint.configure(deactivation_propagation_seconds=1, reactivation_propagation_seconds=1)
    key = make_user(endpoint)
    change_status(endpoint, key, "Inactive")
    began = change_status(endpoint, key, "Active")
    assert sts_outcome(endpoint, key) == "ok"
    view = endpoint.key_view(key["AccessKeyId"])
    assert view["accepted"] is True and view["reason"].startswith("lag: reactivated")
    poll_until(lambda: time.monotonic() - began > 1.2, timeout=3)
    assert sts_outcome(endpoint, key) == "ok"

    # Deactivated (propagated), reactivated and deactivated again: never accepted.
    change_status(endpoint, key, "Inactive")
    poll_until(lambda: sts_outcome(endpoint, key) == "InvalidClientTokenId")
    change_status(endpoint, key, "Active")
    began = change_status(endpoint, key, "Inactive")
    assert sts_outcome(endpoint, key) == "InvalidClientTokenId"
    assert endpoint.key_view(key["AccessKeyId"])["reason"].startswith("lag: deactivated")
    poll_until(lambda: time.monotonic() - began > 1.2, timeout=3)
    assert sts_outcome(endpoint, key) == "InvalidClientTokenId"


def test_a_failed_or_no_op_change_is_not_recorded(endpoint):
    endpoint.configure(propagation_seconds=30, new_key_propagation_seconds=0)
    key = make_user(endpoint)
    admin = client(endpoint, "iam")
    admin.create_user(UserName="bob")
    call = admin.update_access_key
    assert error_of(call, UserName="bob", AccessKeyId=key["AccessKeyId"], Status="Inactive")[1] in (
        400,
        404,
    )
    change_status(endpoint, key, "Active")  # already Active
    view = endpoint.key_view(key["AccessKeyId"])
    assert (view["accepted"], view["last_change"]) == (True, None)


def test_lags_apply_with_the_settings_in_force(endpoint):
    endpoint.configure(deactivation_propagation_seconds=60)
    key = make_user(endpoint)
    change_status(endpoint, key, "Inactive")
    assert sts_outcome(endpoint, key) == "ok"
    endpoint.configure(deactivation_propagation_seconds=0)  # ends the window at once
    assert sts_outcome(endpoint, key) == "InvalidClientTokenId"


def test_admin_key_is_exempt_from_all_lags(endpoint):
    endpoint.configure(propagation_seconds=30)
    admin_id = endpoint.admin_access_key_id
    admin = client(endpoint, "iam")
    admin.create_user(UserName="ops")
    admin.put_user_policy(
        UserName="ops",
        PolicyName="all",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )
    ops_key = admin.create_access_key(UserName="ops")["AccessKey"]
    endpoint.backdate("ops", ops_key["AccessKeyId"], 1)  # old enough for the new-key lag
    ops = as_key(endpoint, "iam", ops_key)
    assert client(endpoint, "sts").get_caller_identity()["Arn"].endswith(":user/rotor-admin")

    ops.update_access_key(UserName="rotor-admin", AccessKeyId=admin_id, Status="Inactive")
    assert error_of(client(endpoint, "sts").get_caller_identity) == ("InvalidClientTokenId", 403)
    ops.update_access_key(UserName="rotor-admin", AccessKeyId=admin_id, Status="Active")
    assert client(endpoint, "sts").get_caller_identity()["Arn"].endswith(":user/rotor-admin")
    view = endpoint.key_view(admin_id)
    assert (view["accepted"], view["last_change"]) == (True, None)
    assert "exempt" in view["reason"]


def test_key_views_list_every_key_and_unknown_ones(endpoint):
    key = make_user(endpoint)
    views = endpoint.key_views()
    assert sorted(views) == sorted([key["AccessKeyId"], endpoint.admin_access_key_id])
    assert views[key["AccessKeyId"]]["user_name"] == "alice"
    unknown = endpoint.key_view("AKIAUNKNOWNUNKNOWN00")
    assert (unknown["accepted"], unknown["state"]) == (False, "unknown")
    assert set(endpoint.key_views(key["AccessKeyId"], "AKIAUNKNOWNUNKNOWN00")) == {
        key["AccessKeyId"],
        "AKIAUNKNOWNUNKNOWN00",
    }


def test_reset_clears_recorded_changes_and_lags(endpoint):
    endpoint.configure(propagation_seconds=30)
    key = make_user(endpoint)
    endpoint.backdate("alice", key["AccessKeyId"], 1)  # old enough for the new-key lag
    client(endpoint, "iam").delete_access_key(UserName="alice", AccessKeyId=key["AccessKeyId"])
    assert sts_outcome(endpoint, key) == "ok"
    assert key["AccessKeyId"] in endpoint.key_views()

    endpoint.reset()

    assert endpoint.config() == ZERO_LAGS
    assert sorted(endpoint.key_views()) == [endpoint.admin_access_key_id]
    view = endpoint.key_view(key["AccessKeyId"])
    assert (view["state"], view["last_change"]) == ("unknown", None)
    assert sts_outcome(endpoint, key) == "InvalidClientTokenId"


def test_propagation_seconds_sets_all_lags(endpoint):
    assert endpoint.configure(propagation_seconds=2) == {name: 2.0 for name in LAG_NAMES}
    settings = endpoint.configure(propagation_seconds=3, deletion_propagation_seconds=1)
    assert settings == {**{name: 3.0 for name in LAG_NAMES}, "deletion_propagation_seconds": 1.0}
    assert endpoint.config() == settings


@pytest.mark.parametrize(
    "body, message",
    [
        ({"deletion_propagation_seconds": -1}, "'deletion_propagation_seconds' must be a number"),
        ({"deactivation_propagation_seconds": "5"}, "'deactivation_propagation_seconds' must be"),
        ({"reactivation_propagation_seconds": True}, "'reactivation_propagation_seconds' must be"),
        ({"propagation_seconds": None}, "'propagation_seconds' must be a number"),
        ({"new_key_propagation_seconds": float("nan")}, "'new_key_propagation_seconds' must be"),
        ({"deletion_lag": 1}, "unknown config keys: deletion_lag"),
    ],
)
def test_config_rejects_bad_settings(endpoint, body, message):
    endpoint.configure(deletion_propagation_seconds=4)
    request = urllib.request.Request(
        endpoint.endpoint_url + "/_rotor/config",
        data=json.dumps({"propagation_seconds": 1, **body}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request)
    assert info.value.code == 400
    assert message in json.load(info.value)["error"]
    # Nothing of a rejected request is applied.
    assert endpoint.config() == {**ZERO_LAGS, "deletion_propagation_seconds": 4.0}


def test_start_lags_are_validated_before_starting(tmp_path):
    with pytest.raises(ValueError, match="unknown lag"):
        IAMEndpoint().start(workdir=str(tmp_path), lags={"deletion_lag": 1})
    with pytest.raises(ValueError, match="must be a number"):
        IAMEndpoint().start(workdir=str(tmp_path), deletion_propagation_seconds=-1)
    assert not os.path.exists(tmp_path / "iam_endpoint.pid")


def test_lags_given_at_start_are_the_defaults_of_reset(tmp_path):
    with IAMEndpoint().start(
        workdir=str(tmp_path), lags={"deletion": 2}, propagation_seconds=1
    ) as ep:
        expected = {**{name: 1.0 for name in LAG_NAMES}, "deletion_propagation_seconds": 2.0}
        assert ep.config() == expected
        ep.configure(propagation_seconds=0)
        ep.reset()
        assert ep.config() == expected


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
    assert endpoint.configure() == ZERO_LAGS


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


def test_cli_lags(tmp_path):
    workdir = str(tmp_path)
    health = run_cli("start", "--workdir", workdir, "--lag", "1", "--deletion-lag", "3")
    try:
        expected = {**{name: 1.0 for name in LAG_NAMES}, "deletion_propagation_seconds": 3.0}
        assert health["config"] == expected
        config = run_cli("configure", "--workdir", workdir, "--deactivation-lag", "5")
        assert config == {**expected, "deactivation_propagation_seconds": 5.0}
        assert run_cli("configure", "--workdir", workdir) == config
        # The old flag name still works.
        config = run_cli("configure", "--workdir", workdir, "--new-key-propagation-seconds", "0")
        assert config["new_key_propagation_seconds"] == 0.0

        ep = IAMEndpoint.attach(workdir=workdir)
        iam = ep.boto3_client("iam")
        iam.create_user(UserName="dave")
        key_id = iam.create_access_key(UserName="dave")["AccessKey"]["AccessKeyId"]
        iam.update_access_key(UserName="dave", AccessKeyId=key_id, Status="Inactive")
        views = run_cli("keys", "--workdir", workdir, "--key", key_id)
        assert list(views) == [key_id]
        assert views[key_id]["accepted"] is True
        assert views[key_id]["reason"].startswith("lag: deactivated")

        bad = subprocess.run(
            [sys.executable, CONTROL_SCRIPT, "configure", "--workdir", workdir, "--lag", "-1"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert bad.returncode == 1 and "must be a number" in bad.stderr
    finally:
        assert run_cli("stop", "--workdir", workdir) == {"stopped": True}


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
