"""Unit tests for plugins/module_utils/access_keys.py: fake IAM clients, no network."""

import datetime

import pytest
from botocore.exceptions import ClientError
from botocore.exceptions import EndpointConnectionError
from botocore.exceptions import ReadTimeoutError

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import create_access_key
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import delete_access_key
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import describe_access_keys
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import explain_client_error
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import list_access_keys
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import plan_free_slot
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import set_access_key_status
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import verify_access_key
from fake_iam import FakeIAM as SharedFakeIAM

USER = "alice"
NOW = datetime.datetime(2024, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)


def client_error(code, message="AWS says no", operation="Operation"):
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def read_timeout():
    return ReadTimeoutError(endpoint_url="https://iam.amazonaws.com/")


def metadata(key_id, status="Active", days_old=10, user=USER):
    return {"AccessKeyId": key_id, "UserName": user, "Status": status, "CreateDate": NOW - datetime.timedelta(days=days_old)}


def FakeIAM(keys=(), users=(USER,), **options):  # noqa: N802  (the tests' name for the shared fake)
    """The one fake IAM client (tests/unit/fake_iam.py) with alice as its user; see its docstring for the options."""
    return SharedFakeIAM(keys=keys, users=users, **options)


class Sleeps(list):
    """A sleep() that only remembers how long it was asked to wait."""

    def __call__(self, seconds):
        self.append(seconds)


# --- list_access_keys -------------------------------------------------------


def test_list_access_keys_follows_every_page_and_passes_the_marker():
    client = FakeIAM([metadata(f"AKIA{i}", days_old=10 - i) for i in range(5)], page_size=2)

    keys = list_access_keys(client, USER)

    assert [k["access_key_id"] for k in keys] == ["AKIA0", "AKIA1", "AKIA2", "AKIA3", "AKIA4"]
    assert [kwargs.get("Marker") for dummy, kwargs in client.calls] == [None, "2", "4"]
    assert all(kwargs["aws_retry"] is True for dummy, kwargs in client.calls)


def test_list_access_keys_sorts_oldest_first_then_by_id():
    client = FakeIAM([metadata("AKIAC", days_old=1), metadata("AKIAB", days_old=30), metadata("AKIAA", days_old=30)])

    assert [k["access_key_id"] for k in list_access_keys(client, USER)] == ["AKIAA", "AKIAB", "AKIAC"]


@pytest.mark.parametrize(
    "create_date, expected",
    [
        (datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc), "2024-01-02T03:04:05+00:00"),
        (datetime.datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05+00:00"),
        (datetime.datetime(2024, 1, 2, 5, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2))), "2024-01-02T03:04:05+00:00"),
    ],
    ids=["utc", "naive-is-utc", "offset-converted"],
)
def test_list_access_keys_normalizes_to_snake_case_and_utc_iso(create_date, expected):
    client = FakeIAM([dict(metadata("AKIA1", status="Inactive"), CreateDate=create_date)])

    assert list_access_keys(client, USER) == [
        {"access_key_id": "AKIA1", "user_name": USER, "status": "Inactive", "create_date": expected}
    ]


def test_list_access_keys_of_missing_user_names_the_user():
    with pytest.raises(RotorIAMError) as raised:
        list_access_keys(FakeIAM(users=()), "bob")

    assert raised.value.code == "NoSuchEntity"
    assert "'bob'" in raised.value.message
    assert "does not exist" in raised.value.message


# --- describe_access_keys ---------------------------------------------------


@pytest.mark.parametrize(
    "status, days_old, max_age_days, rotation_due",
    [
        ("Active", 89, 90, False),
        ("Active", 90, 90, True),
        ("Active", 400, 90, True),
        ("Inactive", 400, 90, False),
    ],
)
def test_describe_access_keys_reports_age_and_rotation_due(status, days_old, max_age_days, rotation_due):
    client = FakeIAM([metadata("AKIA1", status=status, days_old=days_old)])

    (key,) = describe_access_keys(client, USER, max_age_days=max_age_days, now=NOW)

    assert key["age_days"] == days_old
    assert key["rotation_due"] is rotation_due


def test_describe_access_keys_without_policy_has_no_rotation_due():
    (key,) = describe_access_keys(FakeIAM([metadata("AKIA1")]), USER, now=NOW)

    assert "rotation_due" not in key


def test_describe_access_keys_reports_never_used_as_none():
    (key,) = describe_access_keys(FakeIAM([metadata("AKIA1")]), USER, now=NOW)

    assert key["last_used_date"] is None
    assert key["last_used_service"] is None
    assert key["last_used_region"] is None


def test_describe_access_keys_reports_last_use():
    used = datetime.datetime(2024, 5, 30, 8, 0, tzinfo=datetime.timezone.utc)
    client = FakeIAM([metadata("AKIA1")], last_used={"AKIA1": {"LastUsedDate": used, "ServiceName": "s3", "Region": "eu-west-1"}})

    (key,) = describe_access_keys(client, USER, now=NOW)

    assert key["last_used_date"] == "2024-05-30T08:00:00+00:00"
    assert key["last_used_service"] == "s3"
    assert key["last_used_region"] == "eu-west-1"


def test_describe_access_keys_can_skip_last_used():
    client = FakeIAM([metadata("AKIA1"), metadata("AKIA2")])

    keys = describe_access_keys(client, USER, include_last_used=False, now=NOW)

    assert "get_access_key_last_used" not in client.names()
    assert all("last_used_date" not in k for k in keys)


# --- plan_free_slot ---------------------------------------------------------


def key(key_id, status="Active"):
    return {"access_key_id": key_id, "user_name": USER, "status": status, "create_date": None}


@pytest.mark.parametrize("when_full", ["fail", "delete_inactive"])
@pytest.mark.parametrize("keys", [[], [key("AKIA1")], [key("AKIA1", "Inactive")]], ids=["none", "one-active", "one-inactive"])
def test_plan_free_slot_deletes_nothing_while_there_is_room(keys, when_full):
    assert plan_free_slot(keys, when_full) is None


@pytest.mark.parametrize(
    "keys, expected",
    [
        ([key("AKIAOLD", "Inactive"), key("AKIANEW")], "AKIAOLD"),
        ([key("AKIAOLD"), key("AKIANEW", "Inactive")], "AKIANEW"),
        ([key("AKIAOLD", "Inactive"), key("AKIANEW", "Inactive")], "AKIAOLD"),
    ],
    ids=["old-inactive", "new-inactive", "both-inactive-oldest"],
)
def test_plan_free_slot_delete_inactive_picks_the_oldest_inactive_key(keys, expected):
    assert plan_free_slot(keys, "delete_inactive")["access_key_id"] == expected


@pytest.mark.parametrize(
    "keys, when_full, says",
    [
        ([key("AKIA1"), key("AKIA2")], "delete_inactive", "never deletes an Active key"),
        ([key("AKIA1"), key("AKIA2", "Inactive")], "fail", "when_full=delete_inactive"),
        ([key("AKIA1"), key("AKIA2")], "fail", "Delete one first"),
    ],
    ids=["both-active", "fail-with-inactive", "fail-with-active"],
)
def test_plan_free_slot_refuses_when_full(keys, when_full, says):
    with pytest.raises(RotorIAMError) as raised:
        plan_free_slot(keys, when_full)

    assert raised.value.code == "LimitExceeded"
    assert says in raised.value.message
    assert "AKIA1" in raised.value.message and "AKIA2" in raised.value.message


# --- create_access_key ------------------------------------------------------


def test_create_access_key_returns_the_new_key_and_its_secret():
    client = FakeIAM([metadata("AKIAOLD")])

    result = create_access_key(client, USER, sleep=Sleeps())

    assert result["changed"] is True
    assert result["access_key_id"] == "AKIANEW1"
    assert result["secret_access_key"] == "secret-of-AKIANEW1"
    assert result["access_key"] == {"access_key_id": "AKIANEW1", "user_name": USER, "status": "Active", "create_date": NOW.isoformat()}
    assert "secret_access_key" not in result["access_key"]
    assert result["deleted_access_key_id"] is None
    # when_full=fail creates straight away: one IAM call, and no listing to show.
    assert client.names() == ["create_access_key"] and result["keys_before"] is None


def test_create_access_key_lists_the_keys_first_when_asked_to_show_them():
    client = FakeIAM([metadata("AKIAOLD")])

    result = create_access_key(client, USER, list_keys=True, sleep=Sleeps())

    assert client.names() == ["list_access_keys", "create_access_key"]
    assert [k["access_key_id"] for k in result["keys_before"]] == ["AKIAOLD"]


@pytest.mark.parametrize("list_keys", [False, True], ids=["refused-by-iam", "listed-first"])
def test_create_access_key_fail_names_both_keys_of_a_full_user_either_way(list_keys):
    client = FakeIAM([metadata("AKIA1", days_old=50), metadata("AKIA2")])

    with pytest.raises(RotorIAMError) as raised:
        create_access_key(client, USER, list_keys=list_keys, sleep=Sleeps())

    assert raised.value.code == "LimitExceeded"
    assert "already has 2 access keys (the IAM maximum): AKIA1 (Active" in raised.value.message
    assert "AKIA2 (Active" in raised.value.message and "when_full=delete_inactive" in raised.value.message
    # Without a listing first, IAM refuses the create and the keys are listed for the message.
    expected = ["list_access_keys"] if list_keys else ["create_access_key", "list_access_keys"]
    assert client.names() == expected
    assert client.key_ids() == ["AKIA1", "AKIA2"]


def test_create_access_key_refused_by_iam_while_the_listing_shows_room_says_iam_refused():
    client = FakeIAM([metadata("AKIA1")], create_failures=[(client_error("LimitExceeded"), False)])

    with pytest.raises(RotorIAMError) as raised:
        create_access_key(client, USER, sleep=Sleeps())

    assert raised.value.code == "LimitExceeded" and "IAM refused iam:CreateAccessKey" in raised.value.message


@pytest.mark.parametrize(
    "keys, when_full, deleted",
    [
        ([metadata("AKIAOLD")], "fail", None),
        ([metadata("AKIAOLD", "Inactive", days_old=50), metadata("AKIACUR")], "delete_inactive", "AKIAOLD"),
    ],
    ids=["room", "frees-inactive"],
)
def test_create_access_key_in_check_mode_writes_nothing(keys, when_full, deleted):
    client = FakeIAM(keys)

    result = create_access_key(client, USER, when_full=when_full, check_mode=True)

    assert client.writes() == []
    assert result["changed"] is True
    assert result["deleted_access_key_id"] == deleted
    assert result["access_key_id"] is None and result["secret_access_key"] is None


def test_create_access_key_delete_inactive_frees_the_slot_before_creating():
    client = FakeIAM([metadata("AKIAOLD", "Inactive", days_old=50), metadata("AKIACUR")])

    result = create_access_key(client, USER, when_full="delete_inactive", sleep=Sleeps())

    assert [(name, kwargs["AccessKeyId"] if name == "delete_access_key" else None) for name, kwargs in client.writes()] == [
        ("delete_access_key", "AKIAOLD"),
        ("create_access_key", None),
    ]
    assert result["deleted_access_key_id"] == "AKIAOLD"
    assert client.key_ids() == ["AKIACUR", "AKIANEW1"]


@pytest.mark.parametrize("when_full", ["fail", "delete_inactive"])
def test_create_access_key_never_deletes_an_active_key(when_full):
    client = FakeIAM([metadata("AKIA1", days_old=50), metadata("AKIA2")])

    with pytest.raises(RotorIAMError) as raised:
        create_access_key(client, USER, when_full=when_full, sleep=Sleeps())

    assert raised.value.code == "LimitExceeded"
    # when_full=fail asks IAM, which refuses; nothing is ever deleted.
    assert [name for name, dummy in client.writes()] == (["create_access_key"] if when_full == "fail" else [])
    assert client.key_ids() == ["AKIA1", "AKIA2"]


@pytest.mark.parametrize(
    "failure",
    [client_error("ServiceUnavailable"), client_error("InternalFailure"), read_timeout()],
    ids=["503", "500", "timeout"],
)
def test_create_access_key_deletes_the_orphan_of_an_ambiguous_create_and_retries(failure):
    client = FakeIAM([metadata("AKIAOLD")], create_failures=[(failure, True)])
    sleeps = Sleeps()

    result = create_access_key(client, USER, sleep=sleeps)

    # AKIANEW1 was created but its secret never reached us: nobody can use it.
    assert [kwargs["AccessKeyId"] for name, kwargs in client.writes() if name == "delete_access_key"] == ["AKIANEW1"]
    assert result["access_key_id"] == "AKIANEW2"
    assert result["secret_access_key"] == "secret-of-AKIANEW2"
    assert client.key_ids() == ["AKIAOLD", "AKIANEW2"]
    assert sleeps == [1]


def test_create_access_key_reconciliation_without_a_listing_spares_older_and_used_keys():
    # Without a listing from before, only a key dated after the first attempt (on AWS's clock) and never
    # used can be the failed create's: a key made seconds earlier, and a new one someone already uses, stay.
    earlier = dict(metadata("AKIAEARLIER"), CreateDate=NOW - datetime.timedelta(seconds=5))
    client = FakeIAM([earlier], create_failures=[(read_timeout(), True)])
    client.last_used = {"AKIANEW1": {"LastUsedDate": NOW, "ServiceName": "s3", "Region": "eu-west-1"}}

    with pytest.raises(RotorIAMError) as raised:
        create_access_key(client, USER, sleep=Sleeps())

    assert "delete_access_key" not in client.names()
    assert raised.value.code == "LimitExceeded" and client.key_ids() == ["AKIAEARLIER", "AKIANEW1"]


def test_create_access_key_reconciliation_with_a_listing_deletes_any_key_that_was_not_there():
    client = FakeIAM([metadata("AKIAOLD")], create_failures=[(read_timeout(), True)])
    client.last_used = {"AKIANEW1": {"LastUsedDate": NOW, "ServiceName": "s3", "Region": "eu-west-1"}}

    result = create_access_key(client, USER, list_keys=True, sleep=Sleeps())

    assert [kwargs["AccessKeyId"] for name, kwargs in client.writes() if name == "delete_access_key"] == ["AKIANEW1"]
    assert "get_access_key_last_used" not in client.names()
    assert client.key_ids() == ["AKIAOLD", result["access_key_id"]]


def test_create_access_key_judges_orphans_on_aws_clock_not_the_controllers():
    # The controller's clock is days off; AWS's Date header and CreateDate agree, and that is what counts.
    client = FakeIAM([metadata("AKIAOLD", days_old=0)], create_failures=[(client_error("ServiceUnavailable"), True)])
    client.server_now = NOW + datetime.timedelta(days=3)

    result = create_access_key(client, USER, sleep=Sleeps())

    assert [kwargs["AccessKeyId"] for name, kwargs in client.writes() if name == "delete_access_key"] == ["AKIANEW1"]
    assert client.key_ids() == ["AKIAOLD", result["access_key_id"]]


def test_create_access_key_ambiguous_failure_without_orphan_deletes_nothing():
    client = FakeIAM([metadata("AKIAOLD")], create_failures=[(client_error("InternalError"), False)])

    result = create_access_key(client, USER, sleep=Sleeps())

    assert "delete_access_key" not in client.names()
    assert result["access_key_id"] == "AKIANEW1"
    assert client.key_ids() == ["AKIAOLD", "AKIANEW1"]


def test_create_access_key_reconciliation_keeps_the_key_left_after_freeing_a_slot():
    client = FakeIAM(
        [metadata("AKIAOLD", "Inactive", days_old=50), metadata("AKIACUR")],
        create_failures=[(read_timeout(), True)],
    )

    result = create_access_key(client, USER, when_full="delete_inactive", sleep=Sleeps())

    deleted = [kwargs["AccessKeyId"] for name, kwargs in client.writes() if name == "delete_access_key"]
    assert deleted == ["AKIAOLD", "AKIANEW1"]
    assert client.key_ids() == ["AKIACUR", result["access_key_id"]]


@pytest.mark.parametrize("code", ["Throttling", "ThrottlingException", "RequestLimitExceeded"])
def test_create_access_key_retries_throttling_without_reconciling(code):
    client = FakeIAM([], create_failures=[(client_error(code), False), (client_error(code), False)])
    sleeps = Sleeps()

    result = create_access_key(client, USER, sleep=sleeps)

    assert result["access_key_id"] == "AKIANEW1"
    assert client.names().count("create_access_key") == 3
    assert client.names().count("list_access_keys") == 0
    assert sleeps == [1, 2]


def test_create_access_key_gives_up_after_its_attempts_with_backoff_capped():
    client = FakeIAM([], create_failures=[(client_error("Throttling"), False)] * 6)
    sleeps = Sleeps()

    with pytest.raises(RotorIAMError) as raised:
        create_access_key(client, USER, attempts=6, sleep=sleeps)

    assert raised.value.code == "Throttling"
    assert "iam:CreateAccessKey" in raised.value.message and "throttled" in raised.value.message
    assert client.names().count("create_access_key") == 6
    assert sleeps == [1, 2, 4, 8, 10, 10]


def test_create_access_key_gives_up_on_repeated_timeouts_and_leaves_no_orphan():
    client = FakeIAM([metadata("AKIAOLD")], create_failures=[(read_timeout(), True)] * 3)

    with pytest.raises(RotorIAMError) as raised:
        create_access_key(client, USER, attempts=3, sleep=Sleeps())

    assert raised.value.code is None
    assert "endpoint_url" in raised.value.message
    assert client.key_ids() == ["AKIAOLD"]


@pytest.mark.parametrize(
    "code, says",
    [
        ("AccessDenied", "iam:CreateAccessKey permission"),
        ("LimitExceeded", "at most 2 access keys"),
        ("ValidationError", "with ValidationError"),
    ],
)
def test_create_access_key_explains_other_errors_at_once(code, says):
    client = FakeIAM([], create_failures=[(client_error(code), False)])
    sleeps = Sleeps()

    with pytest.raises(RotorIAMError) as raised:
        create_access_key(client, USER, sleep=sleeps)

    assert raised.value.code == code
    assert says in raised.value.message
    assert client.names().count("create_access_key") == 1
    assert sleeps == []


def test_create_access_key_creates_through_the_create_client():
    client = FakeIAM([])
    create_client = FakeIAM([])

    result = create_access_key(client, USER, create_client=create_client, sleep=Sleeps())

    assert "create_access_key" not in client.names()
    assert create_client.names() == ["create_access_key"]
    assert result["access_key_id"] == "AKIANEW1"


# --- set_access_key_status --------------------------------------------------


@pytest.mark.parametrize(
    "current, requested, changed, previous",
    [
        ("Active", "inactive", True, "Active"),
        ("Inactive", "active", True, "Inactive"),
        ("Active", "Active", False, "Active"),
        ("Inactive", "INACTIVE", False, "Inactive"),
    ],
)
def test_set_access_key_status_changes_only_what_differs(current, requested, changed, previous):
    client = FakeIAM([metadata("AKIA1", status=current)])

    result = set_access_key_status(client, USER, "AKIA1", requested)

    assert result["changed"] is changed
    assert result["previous_status"] == previous
    assert result["access_key"]["status"] == requested.capitalize()
    assert client.keys[0]["Status"] == requested.capitalize()
    assert len(client.writes()) == (1 if changed else 0)


def test_set_access_key_status_calls_update_with_retries():
    client = FakeIAM([metadata("AKIA1")])

    set_access_key_status(client, USER, "AKIA1", "inactive")

    assert client.writes() == [("update_access_key", {"aws_retry": True, "UserName": USER, "AccessKeyId": "AKIA1", "Status": "Inactive"})]


def test_set_access_key_status_in_check_mode_writes_nothing():
    client = FakeIAM([metadata("AKIA1")])

    result = set_access_key_status(client, USER, "AKIA1", "inactive", check_mode=True)

    assert result["changed"] is True
    assert result["access_key"]["status"] == "Inactive"
    assert client.writes() == []
    assert client.keys[0]["Status"] == "Active"


def test_set_access_key_status_of_unknown_key_lists_the_users_keys():
    client = FakeIAM([metadata("AKIA1"), metadata("AKIA2", "Inactive")])

    with pytest.raises(RotorIAMError) as raised:
        set_access_key_status(client, USER, "AKIAOTHER", "inactive")

    assert raised.value.code == "NoSuchEntity"
    assert "AKIAOTHER" in raised.value.message and "AKIA1 (Active" in raised.value.message and "AKIA2 (Inactive" in raised.value.message
    assert client.writes() == []


def test_set_access_key_status_refuses_to_deactivate_its_own_signing_key():
    client = FakeIAM([metadata("AKIA1")])

    with pytest.raises(RotorIAMError) as raised:
        set_access_key_status(client, USER, "AKIA1", "inactive", signing_access_key_id="AKIA1")

    assert raised.value.code == "SelfDeactivation"
    assert "force=true" in raised.value.message
    assert client.writes() == []


@pytest.mark.parametrize(
    "current, requested, signing, force",
    [
        ("Active", "inactive", "AKIA1", True),
        ("Active", "inactive", "AKIAOTHER", False),
        ("Inactive", "active", "AKIA1", False),
    ],
    ids=["forced", "other-signing-key", "activating-own-key"],
)
def test_set_access_key_status_allows_what_cannot_lock_it_out(current, requested, signing, force):
    client = FakeIAM([metadata("AKIA1", status=current)])

    result = set_access_key_status(client, USER, "AKIA1", requested, signing_access_key_id=signing, force=force)

    assert result["changed"] is True
    assert client.keys[0]["Status"] == requested.capitalize()


# --- delete_access_key ------------------------------------------------------


def test_delete_access_key_absent_is_unchanged():
    client = FakeIAM([metadata("AKIA1")])

    assert delete_access_key(client, USER, "AKIAGONE") == {"changed": False, "access_key": None}
    assert client.writes() == []


@pytest.mark.parametrize(
    "status, force, check_mode, deletes",
    [
        ("Inactive", False, False, True),
        ("Inactive", False, True, False),
        ("Active", True, False, True),
        ("Active", True, True, False),
    ],
)
def test_delete_access_key_deletes_inactive_or_forced(status, force, check_mode, deletes):
    client = FakeIAM([metadata("AKIA1", status=status)])

    result = delete_access_key(client, USER, "AKIA1", force=force, check_mode=check_mode)

    assert result["changed"] is True
    assert result["access_key"]["access_key_id"] == "AKIA1"
    assert client.writes() == ([("delete_access_key", {"aws_retry": True, "UserName": USER, "AccessKeyId": "AKIA1"})] if deletes else [])


@pytest.mark.parametrize("check_mode", [False, True])
def test_delete_access_key_refuses_an_active_key_without_force(check_mode):
    client = FakeIAM([metadata("AKIA1")])

    with pytest.raises(RotorIAMError) as raised:
        delete_access_key(client, USER, "AKIA1", check_mode=check_mode)

    assert raised.value.code == "KeyActive"
    assert "Deactivate it first" in raised.value.message
    assert client.writes() == []


def test_delete_access_key_explains_a_denied_delete():
    client = FakeIAM([metadata("AKIA1", "Inactive")], errors={"delete_access_key": client_error("AccessDenied")})

    with pytest.raises(RotorIAMError) as raised:
        delete_access_key(client, USER, "AKIA1")

    assert raised.value.code == "AccessDenied"
    assert "iam:DeleteAccessKey" in raised.value.message


# --- explain_client_error ---------------------------------------------------


@pytest.mark.parametrize(
    "code, action, key_id, says",
    [
        ("AccessDenied", "iam:UpdateAccessKey", None, ["Access denied for iam:UpdateAccessKey", "needs the iam:UpdateAccessKey permission", "user/alice"]),
        ("AccessDeniedException", "iam:ListAccessKeys", None, ["iam:ListAccessKeys permission"]),
        ("LimitExceeded", "iam:CreateAccessKey", None, ["LimitExceeded", "at most 2 access keys", "when_full=delete_inactive"]),
        ("NoSuchEntity", "iam:ListAccessKeys", None, ["IAM user 'alice' does not exist", "case-sensitive"]),
        ("NoSuchEntity", "iam:DeleteAccessKey", "AKIA1", ["Access key AKIA1 was not found for IAM user 'alice'"]),
        ("InvalidClientTokenId", "iam:ListAccessKeys", None, ["rejected the credentials", "connection options"]),
        ("Throttling", "iam:ListAccessKeys", None, ["throttled", "retries ran out"]),
        ("Weird", "iam:ListAccessKeys", None, ["iam:ListAccessKeys failed for IAM user 'alice' with Weird"]),
    ],
)
def test_explain_client_error_says_what_went_wrong_and_what_to_do(code, action, key_id, says):
    error = explain_client_error(client_error(code, "the AWS message"), action, user_name=USER, access_key_id=key_id)

    assert isinstance(error, RotorIAMError)
    assert error.code == code
    assert error.details == {"action": action}
    for text in says:
        assert text in error.message
    if code != "Throttling":
        assert "the AWS message" in error.message


def test_explain_client_error_without_a_code_points_at_the_connection():
    error = explain_client_error(EndpointConnectionError(endpoint_url="https://iam.example"), "iam:ListAccessKeys", user_name=USER)

    assert error.code is None
    assert "https://iam.example" in error.message
    assert "endpoint_url" in error.message


# --- verify_access_key ------------------------------------------------------

IDENTITY = {"Arn": "arn:aws:iam::123456789012:user/alice", "Account": "123456789012", "UserId": "AIDAALICE"}
OK = "ok"
REJECTED = "rejected"
THROTTLED = "throttled"
TIMED_OUT = "timed-out"
DENIED = "denied"
WRONG_SECRET = "wrong-secret"


class FakeSTS:
    """GetCallerIdentity answering from a script, on a fake clock that only sleep() moves."""

    def __init__(self, answers, call_seconds=0.0):
        self.answers = list(answers)
        self.call_seconds = call_seconds
        self.now = 1000.0
        self.sleeps = []
        self.calls = 0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def get_caller_identity(self):
        self.calls += 1
        self.now += self.call_seconds
        answer = self.answers.pop(0) if self.answers else self.last
        self.last = answer
        if answer == OK:
            return dict(IDENTITY)
        if answer == REJECTED:
            raise client_error("InvalidClientTokenId", "The security token included in the request is invalid.", "GetCallerIdentity")
        if answer == THROTTLED:
            raise client_error("Throttling", "Rate exceeded", "GetCallerIdentity")
        if answer == DENIED:
            raise client_error("AccessDenied", "Not allowed", "GetCallerIdentity")
        if answer == WRONG_SECRET:
            raise client_error("SignatureDoesNotMatch", "The request signature we calculated does not match", "GetCallerIdentity")
        if answer == TIMED_OUT:
            raise read_timeout()
        raise AssertionError(answer)

    def verify(self, **kwargs):
        return verify_access_key(self.get_caller_identity, clock=self.clock, sleep=self.sleep, **kwargs)


@pytest.mark.parametrize(
    "expect, answers, attempts",
    [
        ("valid", [OK, OK, OK], 3),
        ("valid", [REJECTED, REJECTED, OK, OK, OK], 5),
        ("valid", [OK, OK, REJECTED, OK, OK, OK], 6),
        ("valid", [OK, OK, DENIED, OK, OK, OK], 6),
        ("valid", [OK, THROTTLED, OK, OK], 4),
        ("valid", [OK, OK, TIMED_OUT, TIMED_OUT, OK], 5),
        ("invalid", [REJECTED, REJECTED, REJECTED], 3),
        ("invalid", [OK, OK, REJECTED, REJECTED, REJECTED], 5),
        ("invalid", [REJECTED, REJECTED, OK, REJECTED, REJECTED, REJECTED], 6),
        ("invalid", [REJECTED, DENIED, REJECTED, REJECTED, REJECTED], 5),
        ("invalid", [REJECTED, THROTTLED, TIMED_OUT, REJECTED, REJECTED], 5),
    ],
    ids=[
        "valid-at-once",
        "valid-after-propagation",
        "rejection-resets-streak",
        "other-error-resets-streak",
        "throttling-counts-neither-way",
        "timeouts-count-neither-way",
        "invalid-at-once",
        "invalid-after-propagation",
        "acceptance-resets-streak",
        "only-rejection-codes-prove-invalid",
        "transient-errors-count-neither-way-for-invalid",
    ],
)
def test_verify_access_key_needs_consecutive_matching_answers(expect, answers, attempts):
    sts = FakeSTS(answers)

    result = sts.verify(expect=expect, consecutive=3, timeout=120)

    assert result["attempts"] == attempts == sts.calls
    assert len(sts.sleeps) == attempts - 1


@pytest.mark.parametrize("expect", ["invalid", "valid"])
@pytest.mark.parametrize("before", [[], [OK], [REJECTED, REJECTED]], ids=["first", "after-acceptance", "after-rejections"])
def test_a_wrong_secret_fails_the_proof_at_once_and_never_proves_it(expect, before):
    """SignatureDoesNotMatch: the key id is known and the secret is not its own (a stale file, a rewritten
    backup). It says nothing about the key's status, so it is never counted as "rejected": the proof fails."""
    sts = FakeSTS(before + [WRONG_SECRET, REJECTED, REJECTED, REJECTED, OK, OK, OK])

    with pytest.raises(RotorIAMError) as raised:
        sts.verify(expect=expect, consecutive=3, timeout=120)

    assert raised.value.code == "WrongSecret"
    assert "not the key's" in raised.value.message
    assert sts.calls == len(before) + 1


def test_only_an_answer_about_the_key_id_proves_it_invalid():
    for code in ("InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId", "AuthFailure"):
        answers = iter([client_error(code, "no such key", "GetCallerIdentity")] * 2)

        def refuse(answers=answers):
            raise next(answers)

        assert verify_access_key(refuse, expect="invalid", consecutive=2, sleep=lambda s: None)["attempts"] == 2


def test_verify_access_key_valid_returns_the_identity():
    sts = FakeSTS([REJECTED, OK, OK, OK], call_seconds=0.25)

    result = sts.verify(consecutive=3)

    assert result["arn"] == IDENTITY["Arn"]
    assert result["account"] == IDENTITY["Account"]
    assert result["user_id"] == IDENTITY["UserId"]
    assert result["last_error"].startswith("InvalidClientTokenId: ")
    assert result["elapsed"] == pytest.approx(4 * 0.25 + sum(sts.sleeps))


def test_verify_access_key_invalid_returns_no_identity():
    result = FakeSTS([OK, REJECTED]).verify(expect="invalid", consecutive=1)

    assert (result["arn"], result["account"], result["user_id"]) == (None, None, None)
    assert result["last_error"].startswith("InvalidClientTokenId")


def test_verify_access_key_consecutive_one_does_not_sleep():
    sts = FakeSTS([OK])

    assert sts.verify(consecutive=1)["attempts"] == 1
    assert sts.sleeps == []


@pytest.mark.parametrize(
    "expect, answer, last_error",
    [
        ("valid", REJECTED, "InvalidClientTokenId: The security token included in the request is invalid."),
        ("valid", THROTTLED, "Throttling: Rate exceeded"),
        ("valid", TIMED_OUT, "ReadTimeoutError: "),
        ("invalid", OK, "the key is still accepted by AWS (as arn:aws:iam::123456789012:user/alice)"),
        ("invalid", DENIED, "AccessDenied: Not allowed"),
    ],
)
def test_verify_access_key_timeout_raises_with_the_last_error(expect, answer, last_error):
    sts = FakeSTS([answer])

    with pytest.raises(RotorIAMError) as raised:
        sts.verify(expect=expect, timeout=30)

    error = raised.value
    assert error.code == "VerifyTimeout"
    assert f"did not prove {expect} within 30s" in error.message
    assert last_error in error.message
    assert error.details["attempts"] == sts.calls
    assert error.details["elapsed"] == pytest.approx(30)
    assert sts.now - 1000.0 == pytest.approx(30)  # the last wait is trimmed to the deadline


def test_verify_access_key_timeout_reports_the_partial_streak():
    sts = FakeSTS([OK, OK, REJECTED, OK, OK], call_seconds=10)

    with pytest.raises(RotorIAMError) as raised:
        sts.verify(timeout=45, consecutive=3)

    assert "2 of 3 consecutive confirmations" in raised.value.message


def test_verify_access_key_backoff_grows_and_is_capped():
    sts = FakeSTS([REJECTED])

    with pytest.raises(RotorIAMError):
        sts.verify(timeout=60, initial_delay=0.5, max_delay=5.0)

    expected = [0.5, 0.75, 1.125, 1.6875, 2.53125, 3.796875, 5.0, 5.0, 5.0]
    assert sts.sleeps[: len(expected)] == pytest.approx(expected)
    assert max(sts.sleeps) == pytest.approx(5.0)
    assert sum(sts.sleeps) == pytest.approx(60)


def test_verify_access_key_backoff_grows_on_transient_errors_and_resets_on_a_match():
    sts = FakeSTS([REJECTED, THROTTLED, REJECTED, OK, OK, OK])

    sts.verify(initial_delay=1.0, max_delay=10.0)

    assert sts.sleeps == pytest.approx([1.0, 1.5, 2.25, 1.0, 1.0])


# --- the lock check before a key change (lock_run_id) -------------------------


class LockCheck(list):
    """A before_change that records the IAM calls already made when it ran, and may refuse."""

    def __init__(self, client, refuse=False):
        super().__init__()
        self.client, self.refuse = client, refuse

    def __call__(self):
        self.append(list(self.client.names()))
        if self.refuse:
            raise RotorIAMError("lock lost", code="LockLost")


@pytest.mark.parametrize(
    "change, current, checks",
    [
        (lambda c, guard: set_access_key_status(c, USER, "AKIA1", "inactive", before_change=guard), "Active", True),
        (lambda c, guard: set_access_key_status(c, USER, "AKIA1", "inactive", before_change=guard), "Inactive", False),
        (lambda c, guard: delete_access_key(c, USER, "AKIA1", before_change=guard), "Inactive", True),
        (lambda c, guard: delete_access_key(c, USER, "AKIAGONE", before_change=guard), "Inactive", False),
        (lambda c, guard: set_access_key_status(c, USER, "AKIA1", "inactive", check_mode=True, before_change=guard), "Active", False),
    ],
    ids=["status-change", "status-unchanged", "delete", "delete-absent", "check-mode"],
)
def test_the_lock_is_checked_right_before_a_write_and_only_when_there_is_one(change, current, checks):
    client = FakeIAM([metadata("AKIA1", current)])
    guard = LockCheck(client)

    change(client, guard)

    # One ListAccessKeys, then the lock check, then the write; no check when nothing is written.
    assert guard == ([["list_access_keys"]] if checks else [])


@pytest.mark.parametrize(
    "change",
    [
        lambda c, guard: set_access_key_status(c, USER, "AKIA1", "active", before_change=guard),
        lambda c, guard: delete_access_key(c, USER, "AKIA1", before_change=guard),
    ],
    ids=["status", "delete"],
)
def test_a_refused_lock_check_changes_nothing(change):
    client = FakeIAM([metadata("AKIA1", "Inactive")])

    with pytest.raises(RotorIAMError) as raised:
        change(client, LockCheck(client, refuse=True))

    assert raised.value.code == "LockLost" and client.writes() == []


def test_delete_still_refuses_an_active_key_without_force_before_any_lock_check():
    client = FakeIAM([metadata("AKIA1")])
    guard = LockCheck(client)

    with pytest.raises(RotorIAMError) as raised:
        delete_access_key(client, USER, "AKIA1", before_change=guard)

    assert raised.value.code == "KeyActive" and guard == [] and client.writes() == []


REFUSED = "refused"


class UnreachableSTS(FakeSTS):
    """FakeSTS whose script may also refuse the connection (REFUSED)."""

    def get_caller_identity(self):
        if self.answers and self.answers[0] == REFUSED:
            self.answers.pop(0)
            self.calls += 1
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9/")
        return super().get_caller_identity()


def test_verify_access_key_stops_at_once_when_aws_never_answers():
    sts = UnreachableSTS([REFUSED] * 100)

    with pytest.raises(RotorIAMError) as caught:
        sts.verify(timeout=120)

    assert caught.value.code == "ConnectionError" and sts.calls == 3
    assert "Cannot reach AWS STS" in caught.value.message and "http://127.0.0.1:9/" in caught.value.message
    assert "raise timeout" not in caught.value.message


def test_verify_access_key_rides_out_connection_errors_once_aws_has_answered():
    sts = UnreachableSTS([REJECTED, REFUSED, REFUSED, REFUSED, OK, OK, OK])

    assert sts.verify(timeout=120)["attempts"] == 7
