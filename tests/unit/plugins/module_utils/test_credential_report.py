"""Unit tests for plugins/module_utils/credential_report.py: a fake IAM client, no network."""

import datetime

import pytest

from fake_iam import FakeIAM
from fake_iam import client_error
from fake_iam import key_metadata

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from ansible_collections.rotor.iam.plugins.module_utils.credential_report import cell
from ansible_collections.rotor.iam.plugins.module_utils.credential_report import describe_account_keys
from ansible_collections.rotor.iam.plugins.module_utils.credential_report import fetch_credential_report
from ansible_collections.rotor.iam.plugins.module_utils.credential_report import match_positions
from ansible_collections.rotor.iam.plugins.module_utils.credential_report import parse_credential_report

NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.timezone.utc)
HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,"
    "mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,"
    "access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,"
    "cert_2_last_rotated"
)


def ago(days):
    return (NOW - datetime.timedelta(days=days)).replace(microsecond=0)


def stamp(days):
    return ago(days).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def row(user, key1=None, key2=None, arn=None):
    """A report line; key = (active, age_days, used_days_ago or None, region, service)."""

    def key_cells(key):
        if key is None:
            return ["false", "N/A", "N/A", "N/A", "N/A"]
        active, age, used, region, service = key
        return [
            "true" if active else "false",
            stamp(age),
            "N/A" if used is None else stamp(used),
            region if used is not None else "N/A",
            service if used is not None else "N/A",
        ]

    arn = arn or f"arn:aws:iam::123456789012:user/{user}"
    cells = [user, arn, stamp(400), "false", "N/A", "N/A", "N/A", "false"] + key_cells(key1) + key_cells(key2)
    return ",".join(cells + ["false", "N/A", "false", "N/A"])


REPORT = "\n".join(
    [
        HEADER,
        # The root user: AWS writes not_supported and no_information in its password columns.
        "<root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,no_information,"
        "not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
        row("alice", (True, 120, 2, "eu-west-1", "s3"), (True, 10, None, None, None)),
        row("bob", (False, 200, 150, "us-east-1", "sts")),
        row("carol"),
        # moto writes not_supported where AWS writes a region and a service.
        row("dave", (True, 95, 1, "not_supported", "not_supported")),
    ]
) + "\n"


def report_iam(get_answers=(60,), generate_states=("COMPLETE",), keys=None, errors=None):
    """The fake IAM account of the report tests: REPORT, scripted report answers, {user: [(key id, status, age in days)]}."""
    keys = keys or {}
    return FakeIAM(keys=[key_metadata(key_id, user, status, age, now=NOW) for user, rows in keys.items() for key_id, status, age in rows],
                   users=keys, errors=errors, report=REPORT, report_answers=get_answers, generate_states=generate_states, server_now=NOW)


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    "raw, expected",
    [("N/A", None), ("not_supported", None), ("no_information", None), ("", None), (None, None), (" s3 ", "s3")],
)
def test_cells_that_say_nothing_become_none(raw, expected):
    assert cell(raw) == expected


def test_parse_gives_positions_that_hold_a_key():
    users = {u["user_name"]: u for u in parse_credential_report(REPORT.encode())}

    assert list(users) == ["<root_account>", "alice", "bob", "carol", "dave"]
    assert users["carol"]["access_keys"] == []
    assert users["<root_account>"]["access_keys"] == []
    assert [k["position"] for k in users["alice"]["access_keys"]] == [1, 2]
    first, second = users["alice"]["access_keys"]
    assert first == {
        "position": 1,
        "active": True,
        "last_rotated": ago(120).isoformat(),
        "last_used_date": ago(2).isoformat(),
        "last_used_region": "eu-west-1",
        "last_used_service": "s3",
    }
    assert second["last_used_date"] is None and second["last_used_service"] is None
    assert users["bob"]["access_keys"][0]["active"] is False
    assert users["dave"]["access_keys"][0]["last_used_region"] is None  # moto's not_supported
    assert users["alice"]["arn"] == "arn:aws:iam::123456789012:user/alice"


def test_parse_rejects_a_report_without_the_user_column():
    with pytest.raises(RotorIAMError, match="no user column"):
        parse_credential_report("name,arn\nalice,x\n")


# --------------------------------------------------------------------------- fetching


def test_a_recent_report_costs_one_call():
    client = report_iam(get_answers=[60])
    report = fetch_credential_report(client, max_age_seconds=3600, now=NOW)

    assert client.names() == ["get_credential_report"]
    assert report["requested"] is False and report["stale"] is False
    assert report["age_seconds"] == 60
    assert report["generated_time"] == (NOW - datetime.timedelta(seconds=60)).isoformat()


def test_an_old_report_is_regenerated_then_fetched_again():
    client = report_iam(get_answers=[7200, 5])
    report = fetch_credential_report(client, max_age_seconds=3600, now=NOW)

    assert client.names() == ["get_credential_report", "generate_credential_report", "get_credential_report"]
    assert report["requested"] is True and report["stale"] is False and report["age_seconds"] == 5


def test_a_missing_report_is_generated_polling_until_complete():
    clock = Clock()
    client = report_iam(get_answers=["ReportNotPresent", 1], generate_states=["STARTED", "INPROGRESS", "COMPLETE"])
    report = fetch_credential_report(client, max_age_seconds=3600, now=NOW, sleep=clock.sleep, clock=clock)

    assert client.names() == ["get_credential_report"] + ["generate_credential_report"] * 3 + ["get_credential_report"]
    assert clock.sleeps == [0.5, 1.0]
    assert report["requested"] is True


@pytest.mark.parametrize("code", ["ReportExpired", "ReportInProgress"])
def test_expired_or_unfinished_reports_are_generated(code):
    client = report_iam(get_answers=[code, 1])
    assert fetch_credential_report(client, 3600, now=NOW, sleep=lambda s: None)["requested"] is True


def test_generation_that_never_completes_fails_naming_report_timeout():
    clock = Clock()
    client = report_iam(get_answers=["ReportNotPresent"], generate_states=["INPROGRESS"])
    with pytest.raises(RotorIAMError, match="raise report_timeout") as caught:
        fetch_credential_report(client, 3600, timeout=20, now=NOW, sleep=clock.sleep, clock=clock)
    assert caught.value.code == "ReportTimeout"
    assert clock.now <= 20


def test_a_report_iam_will_not_refresh_is_returned_as_stale():
    # IAM regenerates at most every 4 hours: asking again may return the same old report.
    client = report_iam(get_answers=[20000, 20000])
    report = fetch_credential_report(client, max_age_seconds=60, now=NOW)
    assert report["requested"] is True and report["stale"] is True
    assert client.names().count("generate_credential_report") == 1


def test_access_denied_names_both_report_permissions():
    client = report_iam(errors={"get_credential_report": client_error("AccessDenied", "not authorized")})
    with pytest.raises(RotorIAMError) as caught:
        fetch_credential_report(client, 3600, now=NOW)
    assert "iam:GenerateCredentialReport and iam:GetCredentialReport" in caught.value.message
    assert "not authorized" in caught.value.message
    assert caught.value.code == "AccessDenied"


# --------------------------------------------------------------------------- matching ids


def test_positions_match_listed_keys_by_creation_second():
    report_keys = [{"position": 1, "last_rotated": ago(120).isoformat()}, {"position": 2, "last_rotated": ago(10).isoformat()}]
    listed = [
        {"access_key_id": "AKIANEW", "create_date": (ago(10) + datetime.timedelta(milliseconds=400)).isoformat()},
        {"access_key_id": "AKIAOLD", "create_date": ago(120).isoformat()},
        {"access_key_id": "AKIAAFTER", "create_date": ago(0).isoformat()},
    ]
    pairs = match_positions(report_keys, listed)
    assert [(k["access_key_id"], r and r["position"]) for k, r in pairs] == [("AKIANEW", 2), ("AKIAOLD", 1), ("AKIAAFTER", None)]


# --------------------------------------------------------------------------- describing


def test_all_users_without_ids_costs_only_the_report():
    client = report_iam()
    found = describe_account_keys(client, max_age_days=90, now=NOW)

    assert client.names() == ["get_credential_report"]
    assert [(k["user_name"], k["position"], k["access_key_id"]) for k in found["access_keys"]] == [
        ("alice", 1, None), ("alice", 2, None), ("bob", 1, None), ("dave", 1, None)
    ]
    alice1 = found["access_keys"][0]
    assert alice1["age_days"] == 120 and alice1["rotation_due"] is True and alice1["active"] is True
    assert alice1["status"] == "Active" and alice1["user"] == "alice"
    assert alice1["create_date"] == alice1["last_rotated"] == ago(120).isoformat()
    assert alice1["last_used_service"] == "s3" and alice1["last_used_region"] == "eu-west-1"
    bob = found["access_keys"][2]
    assert bob["status"] == "Inactive" and bob["rotation_due"] is False  # Inactive keys are never due
    assert [u["user_name"] for u in found["users"]] == ["<root_account>", "alice", "bob", "carol", "dave"]
    assert found["users"][1]["access_key_count"] == 2 and found["users"][1]["active_key_count"] == 2
    assert found["report"] == {"generated_time": (NOW - datetime.timedelta(seconds=60)).isoformat(), "age_seconds": 60, "requested": False}
    assert found["missing_users"] == [] and found["warnings"] == []


def test_without_max_age_there_is_no_rotation_due():
    found = describe_account_keys(report_iam(), now=NOW)
    assert all("rotation_due" not in k for k in found["access_keys"])


def test_all_users_resolves_ids_only_for_the_users_asked():
    client = report_iam(keys={"alice": [("AKIAALICEOLD", "Active", 120), ("AKIAALICENEW", "Active", 10)]})
    found = describe_account_keys(client, resolve_key_ids_for=["alice", "ghost"], max_age_days=90, now=NOW)

    assert client.names() == ["get_credential_report", "list_access_keys", "list_access_keys"]
    ids = {(k["user_name"], k["position"]): k["access_key_id"] for k in found["access_keys"]}
    assert ids[("alice", 1)] == "AKIAALICEOLD" and ids[("alice", 2)] == "AKIAALICENEW"
    assert ids[("bob", 1)] is None
    assert found["missing_users"] == ["ghost"]  # a finding for the audit, not a failure


def test_user_names_resolves_ids_and_takes_status_from_the_listing():
    # bob's key was re-activated after the report: the listing is current.
    client = report_iam(keys={"bob": [("AKIABOB", "Active", 200)]})
    found = describe_account_keys(client, user_names=["bob", "bob"], max_age_days=90, now=NOW)

    assert [u["user_name"] for u in found["users"]] == ["bob"]
    (key,) = found["access_keys"]
    assert key["access_key_id"] == "AKIABOB" and key["status"] == "Active" and key["rotation_due"] is True
    assert key["last_used_service"] == "sts" and key["position"] == 1


def test_user_names_with_a_user_that_does_not_exist_fails_naming_it():
    client = report_iam(keys={})
    with pytest.raises(RotorIAMError, match="'ghost' does not exist"):
        describe_account_keys(client, user_names=["ghost"], now=NOW)


def test_a_user_created_after_the_report_is_listed_with_a_warning():
    client = report_iam(keys={"erin": [("AKIAERIN", "Active", 0)]})
    found = describe_account_keys(client, user_names=["erin"], now=NOW)
    (key,) = found["access_keys"]
    assert key["access_key_id"] == "AKIAERIN" and key["position"] is None and key["last_used_date"] is None
    assert "not in the credential report" in found["warnings"][0]


def test_a_stale_report_after_asking_warns_with_its_age():
    client = report_iam(get_answers=[20000, 20000])
    found = describe_account_keys(client, report_max_age=60, now=NOW)
    assert found["report"]["requested"] is True
    assert "older than report_max_age (60s)" in found["warnings"][0]
