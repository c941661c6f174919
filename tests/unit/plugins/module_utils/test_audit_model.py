"""Unit tests for the audit's model (plugins/module_utils/_audit/model.py): how the users' policy tags
(rotor:exempt, rotor:exempt-until, rotor:owner, rotor:max-age-days) change the report."""

import datetime

import pytest

from ansible_collections.rotor.iam.plugins.module_utils.audit import build_audit
from ansible_collections.rotor.iam.plugins.module_utils.audit import host_record

NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.timezone.utc)


def ago(days):
    return (NOW - datetime.timedelta(days=days)).isoformat()


def key(user, position, age, status="Active", key_id=None, used=1):
    return {"user_name": user, "user": user, "position": position, "access_key_id": key_id, "status": status,
            "active": status == "Active", "create_date": ago(age), "last_rotated": ago(age), "age_days": age,
            "last_used_date": ago(used) if used is not None else None, "last_used_service": None, "last_used_region": None}


def user(name, tags, keys=1, **extra):
    return dict({"user_name": name, "arn": f"arn:aws:iam::123456789012:user/{name}", "access_key_count": keys,
                 "active_key_count": keys, "tags": tags}, **extra)


TAGGED = {
    "access_keys": [
        key("alice", 1, 120, key_id="AKIAALICE00000000000"),
        key("vendor", 1, 200, key_id="AKIAVENDOR0000000000"),
        key("legacy", 1, 150),
        key("pay", 1, 40, key_id="AKIAPAY0000000000000"),
        key("archive", 1, 200),
        key("typo", 1, 100),
        key("fuzzy", 1, 95),
        key("hidden", 1, 95),
        key("plain", 1, 10),
    ],
    "users": [
        user("alice", {"rotor:owner": "team-a@example.com"}),
        user("vendor", {"rotor:exempt": "appliance cannot reload keys", "rotor:exempt-until": "2027-03-31", "rotor:owner": "ops"}),
        user("legacy", {"rotor:exempt": "legacy batch", "rotor:exempt-until": "2026-10-31"}),
        user("pay", {"rotor:max-age-days": "30", "rotor:owner": "payments"}),
        user("archive", {"rotor:max-age-days": "365"}),
        user("typo", {"rotor:max-age-days": "ninety", "rotor:owner": "data"}),
        user("fuzzy", {"rotor:exempt": "migration", "rotor:exempt-until": "soon"}),
        user("hidden", None, tags_error="Access denied for iam:ListUserTags on IAM user 'hidden'"),
        user("plain", {}),
    ],
    "user_tags_calls": 9,
    "report_generated_time": ago(0),
    "report_age_seconds": 10,
    "report_requested": False,
}


@pytest.fixture
def report():
    hosts = {
        "pay1": host_record({"user": "pay", "results": [{"path": "/etc/a", "item": {"path": "/etc/a"},
                                                         "access_key_id": "AKIAPAY0000000000000", "exists": True}]}),
        "vendor1": host_record({"user": "vendor", "results": [{"path": "/etc/a", "item": {"path": "/etc/a"},
                                                               "access_key_id": "AKIAVENDOR0000000000", "exists": True}]}),
    }
    return build_audit(TAGGED, hosts, max_age_days=90, unused_days=90, now=NOW)


def due_users(report):
    return [k["user_name"] for k in report["rotation_due"]]


def test_keys_are_due_under_their_users_own_policy_and_exempt_users_are_never_due(report):
    # legacy: expired exemption, judged normally; pay: 40 days under its own 30; typo and hidden: default 90.
    assert due_users(report) == ["legacy", "alice", "typo", "hidden", "pay"]
    keys = {k["user_name"]: k for k in report["access_keys"]}
    assert (keys["pay"]["max_age_days"], keys["pay"]["max_age_source"], keys["pay"]["rotation_due"]) == (30, "tag", True)
    assert (keys["archive"]["max_age_days"], keys["archive"]["past_max_age"], keys["archive"]["rotation_due"]) == (365, False, False)
    assert (keys["vendor"]["past_max_age"], keys["vendor"]["exempt"], keys["vendor"]["rotation_due"]) == (True, True, False)
    assert keys["fuzzy"]["exempt"] and not keys["fuzzy"]["rotation_due"]  # an unparseable end keeps the exemption


def test_exempt_users_with_reason_end_and_the_keys_past_their_policy(report):
    exempt = {e["user_name"]: e for e in report["exempt_users"]}
    assert set(exempt) == {"vendor", "fuzzy"}
    vendor = exempt["vendor"]
    assert (vendor["reason"], vendor["exempt_until"], vendor["exemption_ends"], vendor["until_valid"], vendor["owner"]) == (
        "appliance cannot reload keys", "2027-03-31", "2027-04-01T00:00:00+00:00", True, "ops")
    assert [k["access_key_id"] for k in vendor["keys_past_max_age"]] == ["AKIAVENDOR0000000000"]
    assert (exempt["fuzzy"]["until_valid"], exempt["fuzzy"]["exemption_ends"]) == (False, None)
    assert report["summary"]["exempt_users"] == 2 and report["summary"]["exempt_keys_past_max_age"] == 2


def test_expired_exemptions_are_listed_with_a_note(report):
    assert [(e["user_name"], e["reason"], e["exemption_ends"]) for e in report["expired_exemptions"]] == [
        ("legacy", "legacy batch", "2026-11-01T00:00:00+00:00")]
    assert "judged by its 90-day policy" in report["expired_exemptions"][0]["note"]
    assert report["summary"]["expired_exemptions"] == 1


def test_users_with_their_own_max_age(report):
    assert report["users_with_own_max_age"] == [
        {"user_name": "archive", "owner": None, "max_age_days": 365, "keys_past_max_age": 0},
        {"user_name": "pay", "owner": "payments", "max_age_days": 30, "keys_past_max_age": 1},
    ]


def test_invalid_tags_and_unreadable_tags_are_reported_per_user_without_stopping_the_others(report):
    problems = {(p["user_name"], p["tag"]): p for p in report["policy_problems"]}
    assert set(problems) == {("typo", "rotor:max-age-days"), ("fuzzy", "rotor:exempt-until"), ("hidden", None)}
    assert problems[("typo", "rotor:max-age-days")]["owner"] == "data"
    assert problems[("typo", "rotor:max-age-days")]["value"] == "ninety"
    assert "could not be read (Access denied" in problems[("hidden", None)]["problem"]
    assert report["summary"]["policy_problems"] == 3
    assert report["user_tags"] == {"read": True, "users": 8, "unreadable": 1, "calls": 9}


def test_owners_are_on_every_key_row_and_finding(report):
    keys = {k["user_name"]: k for k in report["access_keys"]}
    assert keys["alice"]["owner"] == "team-a@example.com" and keys["plain"]["owner"] is None
    assert {r["user_name"]: r["owner"] for r in report["host_keys"]} == {"pay": "payments", "vendor": "ops"}
    findings = {f["host"]: f for f in report["host_findings"]}
    assert set(findings) == {"pay1"}  # vendor1's key is past its policy, but its user is exempt
    assert findings["pay1"]["owner"] == "payments"
    assert findings["pay1"]["problem"] == "holds AKIAPAY0000000000000, which is due for rotation (40 days old; its own policy is 30 days)"
    assert report["summary"]["users_with_owner"] == 4
    users = {u["user_name"]: u for u in report["users"]}
    assert users["alice"]["owner"] == "team-a@example.com" and users["hidden"]["tags_read"] is False


def test_without_tags_every_user_has_the_default_policy():
    info = dict(TAGGED, users=[{k: v for k, v in u.items() if k not in ("tags", "tags_error")} for u in TAGGED["users"]])
    info.pop("user_tags_calls")
    report = build_audit(info, {}, max_age_days=90, now=NOW)
    assert due_users(report) == ["archive", "vendor", "legacy", "alice", "typo", "fuzzy", "hidden"]
    assert report["exempt_users"] == [] and report["policy_problems"] == [] and report["users_with_own_max_age"] == []
    assert report["user_tags"] == {"read": False, "users": 0, "unreadable": 0, "calls": 0}
    assert all(k["owner"] is None for k in report["access_keys"])


def test_a_per_user_policy_works_both_ways_against_a_changed_default():
    info = {"access_keys": [key("pay", 1, 40), key("archive", 1, 200)],
            "users": [user("pay", {"rotor:max-age-days": "30"}), user("archive", {"rotor:max-age-days": "365"})]}
    assert due_users(build_audit(info, {}, max_age_days=20, now=NOW)) == ["pay"]  # archive's 365 wins over 20
    assert due_users(build_audit(info, {}, max_age_days=500, now=NOW)) == ["pay"]  # pay's 30 wins over 500


def test_a_key_of_a_user_not_in_users_has_the_default_policy():
    report = build_audit({"access_keys": [key("stray", 1, 100)], "users": []}, {}, now=NOW)
    assert due_users(report) == ["stray"] and report["access_keys"][0]["owner"] is None
