"""Unit tests for the audit across accounts (plugins/module_utils/_audit/accounts.py): which connections the
hosts use, which account each reaches, and users named ACCOUNT:NAME so a host matches its own account's user."""

import datetime

import pytest

from ansible_collections.rotor.iam.plugins.module_utils.audit import AuditInputError
from ansible_collections.rotor.iam.plugins.module_utils.audit import audit_accounts
from ansible_collections.rotor.iam.plugins.module_utils.audit import audit_connections
from ansible_collections.rotor.iam.plugins.module_utils.audit import build_audit
from ansible_collections.rotor.iam.plugins.module_utils.audit import combine_accounts
from ansible_collections.rotor.iam.plugins.module_utils.audit import render_all

NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.timezone.utc)
URL = "http://127.0.0.1:5000"
A, B = "123456789012", "222222222222"


def ago(days):
    return (NOW - datetime.timedelta(days=days)).isoformat()


def key(user, key_id, age):
    return {"user_name": user, "user": user, "position": 1, "access_key_id": key_id, "status": "Active", "active": True,
            "create_date": ago(age), "age_days": age, "last_used_date": ago(1)}


def user(name, account):
    return {"user_name": name, "arn": f"arn:aws:iam::{account}:user/{name}", "access_key_count": 1, "active_key_count": 1}


def record(user_name, *key_ids):
    return {"user": user_name, "reachable": True,
            "files": [{"path": "/etc/app/credentials", "access_key_id": k, "exists": True, "error": None} for k in key_ids]}


# host1-2 reach the admin's account from the environment; host3-4 the other one through profile acct-b.
HOSTVARS = {
    "host1": {"rotor_aws_endpoint_url": URL},
    "host2": {"rotor_aws_endpoint_url": URL, "rotor_aws_profile": ""},
    "host3": {"rotor_aws_endpoint_url": URL, "rotor_aws_profile": "acct-b"},
    "host4": {"rotor_aws_endpoint_url": URL, "rotor_aws_profile": "acct-b"},
}
HOSTS = {"host1": record("svc-app", "AKIAA1"), "host2": record("svc-app", "AKIAA1"),
         "host3": record("svc-app", "AKIAB1"), "host4": record("svc-app", "AKIAA1")}
ENV = {"profile": "", "region": "", "endpoint_url": URL}
ACCT_B = {"profile": "acct-b", "region": "", "endpoint_url": URL}
IDENTITIES = [{"item": ENV, "account": A, "changed": False}, {"item": ACCT_B, "account": B, "changed": False}]
KEY_INFOS = {"results": [
    {"access_keys": [key("svc-app", "AKIAA1", 120), key("rotor-admin", "AKIAADMIN", 5)],
     "users": [user("svc-app", A), user("rotor-admin", A)], "missing_users": [], "report_age_seconds": 10,
     "report_generated_time": "2026-11-26T11:59:50+00:00", "user_tags_calls": 2},
    {"access_keys": [key("svc-app", "AKIAB1", 30)], "users": [user("svc-app", B)], "missing_users": [],
     "report_age_seconds": 600, "report_generated_time": "2026-11-26T11:50:00+00:00", "user_tags_calls": 1},
]}


def test_the_distinct_connections_of_the_audited_hosts_empty_meaning_unset():
    assert audit_connections(HOSTS, HOSTVARS) == [ENV, ACCT_B]
    assert audit_connections({"host1": HOSTS["host1"]}, HOSTVARS) == [ENV]


def test_one_connection_is_one_account_through_the_controllers_connection():
    hosts = {h: HOSTS[h] for h in ("host1", "host2")}
    assert audit_accounts([], hosts, HOSTVARS) == [{"account": None, "connection": None, "users": ["svc-app"], "hosts": ["host1", "host2"]}]
    # The caller_identity task is skipped with one connection.
    assert audit_accounts([{"skipped": True, "item": ENV}], hosts, HOSTVARS)[0]["account"] is None


def test_several_connections_are_one_entry_per_account_with_its_own_connection_users_and_hosts():
    accounts = audit_accounts(IDENTITIES, HOSTS, HOSTVARS)
    assert accounts == [
        {"account": A, "connection": ENV, "users": ["svc-app"], "hosts": ["host1", "host2"]},
        {"account": B, "connection": ACCT_B, "users": ["svc-app"], "hosts": ["host3", "host4"]},
    ]


def test_two_connections_to_the_same_account_audit_it_once_through_the_first():
    hostvars = dict(HOSTVARS, host4={"rotor_aws_endpoint_url": URL, "rotor_aws_profile": "acct-b2"})
    acct_b2 = dict(ACCT_B, profile="acct-b2")
    accounts = audit_accounts(IDENTITIES + [{"item": acct_b2, "account": B}], HOSTS, hostvars)
    assert [(a["account"], a["connection"]["profile"], a["hosts"]) for a in accounts] == [
        (A, "", ["host1", "host2"]), (B, "acct-b", ["host3", "host4"])]


def test_a_connection_without_an_account_refuses_the_audit_naming_it():
    failed = [IDENTITIES[0], {"item": ACCT_B, "failed": True, "msg": "could not assume role"}]
    with pytest.raises(AuditInputError, match="profile acct-b.*could not assume role"):
        audit_accounts(failed, HOSTS, HOSTVARS)


def test_one_account_passes_access_key_info_and_hosts_through_unchanged():
    single = KEY_INFOS["results"][0]
    hosts = {"host1": HOSTS["host1"]}
    assert combine_accounts(single, None, hosts) == (single, hosts, None)
    assert combine_accounts({"results": [single]}, [{"account": None}], hosts) == (single, hosts, None)


def test_several_accounts_name_users_account_colon_name_and_hosts_match_their_own_accounts_user():
    accounts = audit_accounts(IDENTITIES, HOSTS, HOSTVARS)
    info, hosts, spanned = combine_accounts(KEY_INFOS, accounts, HOSTS)
    report = build_audit(info, hosts=hosts, accounts=spanned, now=NOW)

    assert report["account_id"] is None
    assert [(a["account"], a["profile"], a["hosts"]) for a in report["accounts"]] == [(A, "", ["host1", "host2"]), (B, "acct-b", ["host3", "host4"])]
    assert sorted(u["user_name"] for u in report["users"]) == [f"{A}:rotor-admin", f"{A}:svc-app", f"{B}:svc-app"]
    held = {(r["user_name"], r["access_key_id"]): r["hosts"] for r in report["host_keys"]}
    assert held == {(f"{A}:svc-app", "AKIAA1"): ["host1", "host2"], (f"{B}:svc-app", "AKIAB1"): ["host3"],
                    (f"{B}:svc-app", "AKIAA1"): ["host4"]}
    # host4 reaches 222222222222 but holds the other account's key: not a key of its user.
    assert [(f["host"], f["user"]) for f in report["host_findings"] if "not an access key" in f["problem"]] == [("host4", f"{B}:svc-app")]
    assert [k["user_name"] for k in report["rotation_due"]] == [f"{A}:svc-app"]
    # The oldest credential report of the accounts; the tag calls of all of them.
    assert report["credential_report"]["age_seconds"] == 600 and report["user_tags"]["calls"] == 0

    documents = render_all(report)["documents"]
    assert f"| {A}:svc-app | AKIAA1 |" in documents["md"] and f"| {B}:svc-app | AKIAB1 |" in documents["md"]
    assert f"accounts {A}, {B}" in documents["md"] and f"Accounts {A}, {B}" in documents["html"]
    assert f"{B}:svc-app" in documents["html"] and f'"{B}:svc-app"' in documents["json"]


def test_a_missing_user_is_named_by_its_account():
    results = {"results": [dict(KEY_INFOS["results"][0], missing_users=["svc-gone"]), KEY_INFOS["results"][1]]}
    info, dummy, dummy2 = combine_accounts(results, audit_accounts(IDENTITIES, HOSTS, HOSTVARS), HOSTS)
    assert info["missing_users"] == [f"{A}:svc-gone"]


def test_results_that_do_not_match_the_accounts_are_refused():
    with pytest.raises(AuditInputError, match="2 access_key_info results for 3 accounts"):
        combine_accounts(KEY_INFOS, [{"account": A}, {"account": B}, {"account": "333333333333"}], HOSTS)
