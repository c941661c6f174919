"""The audit end to end: ``ansible-playbook rotor.iam.audit`` against the test IAM endpoint (and a
local fleet for the key ids hosts hold), checked through the reports it writes.

No mocks: the endpoint is moto behind our auth-enforcing wrapper, seeded through its control API;
the hosts are real processes with real credentials files; the HTML report is rendered by Chromium.
"""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from audit_helpers import (  # noqa: E402  pylint: disable=wrong-import-position
    assert_no_secrets_in,
    chromium,
    measurements,
    render_headless,
    run_audit,
)
from fleet.fleet import Fleet  # noqa: E402  pylint: disable=wrong-import-position
from iam_endpoint.seed import seed_account  # noqa: E402  pylint: disable=wrong-import-position

REPORT_ACTIONS = {"GetCredentialReport", "GenerateCredentialReport"}
TAGS_ACTION = "ListUserTags"  # one per audited user (rotor_audit_user_tags, on by default)
IAM_WRITES = ("CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey")
FAKE_KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # AWS's documentation key id: never a real key here


@pytest.fixture
def endpoint(empty_endpoint):
    """The session's endpoint with no IAM state left by an earlier test (only rotor-admin), without lags:
    the audit changes no key."""
    empty_endpoint.configure(propagation_seconds=0)
    return empty_endpoint


def seed_team(endpoint):
    """alice: a 120-day key and a 10-day key (both Active); bob: one 30-day key; carol: a 200-day
    Active key never used and a 300-day Inactive one. Returns {(user, position): (id, secret)}."""
    made = endpoint.seed(
        [
            {"user_name": "alice", "keys": [{"age_days": 120, "last_used_days_ago": 1}, {"age_days": 10, "last_used_days_ago": 0}]},
            {"user_name": "bob", "keys": [{"age_days": 30, "last_used_days_ago": 2, "service": "sts"}]},
            {"user_name": "carol", "keys": [{"age_days": 200}, {"age_days": 300, "status": "Inactive"}]},
        ]
    )
    return {
        (user["user_name"], position): (key["access_key_id"], key["secret_access_key"])
        for user in made["users"]
        for position, key in enumerate(user["keys"], 1)
    }


def tag_users(endpoint, tags):
    """IAM user tags through the endpoint's API, as people set them: {user: {key: value}}."""
    iam = endpoint.boto3_client("iam")
    for user, values in tags.items():
        iam.tag_user(UserName=user, Tags=[{"Key": k, "Value": v} for k, v in values.items()])


def by_position(keys):
    return {(k["user_name"], k["position"]): k for k in keys}


def without_tags(calls):
    """The IAM calls of a run other than the users' ListUserTags."""
    return {action: count for action, count in calls.items() if action != TAGS_ACTION}


# --------------------------------------------------------------------------- the 1,000-user account


def test_account_of_1000_users_costs_at_most_6_report_calls_one_tags_call_per_user_and_one_key_id_call_per_listed_user(empty_endpoint, tmp_path):
    """The whole account from the credential report: every number in the reports matches what was
    seeded, in at most 5 IAM calls for the keys (and, with the users' tags, one ListUserTags per user;
    without them, 5 calls in all), and the HTML chart renders the ages in Chromium."""
    endpoint = empty_endpoint  # the session endpoint, reset (tests/integration/conftest.py)
    endpoint.configure(propagation_seconds=0)  # this test is about something else
    account = seed_account(endpoint, users=1000, prefix="acct")

    run = run_audit(endpoint, tmp_path / "run1", label="first")

    assert run.returncode == 0, run.explain()
    report = run.report()
    report_calls = {a: n for a, n in without_tags(run.calls).items() if a != "ListAccessKeys"}
    # The keys: at most 5 calls for the credential report, one more to read it again with the key ids.
    assert sum(report_calls.values()) <= 6 and set(report_calls) <= REPORT_ACTIONS, run.calls
    assert run.calls[TAGS_ACTION] == 1001, run.calls  # one per user, rotor-admin included
    # The key ids: one ListAccessKeys per user with a key the report lists (due, unused, Inactive, two Active), no more.
    listed_users = {k["user_name"] for k in report["rotation_due"] + report["unused"] + report["inactive"]}
    listed_users |= {u["user_name"] for u in report["users_with_two_active_keys"]}
    listed_users.discard("rotor-admin")
    assert run.calls["ListAccessKeys"] == report["summary"]["key_id_calls"] == len(listed_users), run.calls
    assert all(k["access_key_id"] for k in report["rotation_due"] + report["unused"] + report["inactive"])
    print(f"\naudit of 1,000 users with their tags: {run.iam_calls} IAM calls {run.calls}, {run.seconds:.1f}s")
    seeded = {(k.user_name, k.position): k for k in account.keys}
    keys = {pos: k for pos, k in by_position(report["access_keys"]).items() if pos[0] != "rotor-admin"}
    assert set(keys) == set(seeded)
    wrong = [
        (pos, k["age_days"], seeded[pos].age_days)
        for pos, k in keys.items()
        if (k["age_days"], k["status"]) != (seeded[pos].age_days, seeded[pos].status)
    ]
    assert not wrong, f"ages/status differ from the seed (report, seeded): {wrong[:10]}"
    due = {(k["user_name"], k["position"]) for k in report["rotation_due"]}
    assert due == {(k.user_name, k.position) for k in account.due(90)}
    unused = {(k["user_name"], k["position"]) for k in report["unused"]}
    assert unused == {(k.user_name, k.position) for k in account.unused(90)}
    assert [u["user_name"] for u in report["users_with_two_active_keys"]] == account.two_active()
    summary = report["summary"]
    assert summary["users"] == 1001  # with rotor-admin, the endpoint's own user
    assert summary["rotation_due"] == len(account.due(90)) > 100
    assert summary["access_keys"] == len(account.keys) + 1
    assert report["policy"] == {"max_age_days": 90, "unused_days": 90}
    assert report["credential_report"]["generated_time"]  # moto's is fixed; AWS's is real
    assert report["user_tags"] == {"read": True, "users": 1001, "unreadable": 0, "calls": 1001}

    markdown = run.markdown_path.read_text()
    assert f"| Due for rotation | {summary['rotation_due']} |" in markdown
    assert f"| Users | 1001 ({summary['users_with_keys']} with keys) |" in markdown
    assert_no_secrets_in(run, account.secrets() + [endpoint.admin_secret_access_key])

    if chromium():
        measured = measurements(render_headless(run.html_path, tmp_path))
        oldest = sorted((k["age_days"] for k in report["access_keys"]), reverse=True)[:200]
        assert [shape["age"] for shape in measured["bars"]] == oldest  # the 200 oldest, oldest first
        assert [shape["label"] for shape in measured["bars"]] == [f"{age} d" for age in oldest]
        assert measured["policy"]["label"] == "policy: 90 days"

    # A second run without the tags nor the key ids: the report exists (moto's looks old, so a fresh one is asked for): <= 5.
    again = run_audit(endpoint, tmp_path / "run2", label="second", extra_vars={"rotor_audit_user_tags": False, "rotor_audit_key_ids": False})
    assert again.returncode == 0, again.explain()
    assert again.iam_calls <= 5 and set(again.calls) <= REPORT_ACTIONS, again.calls
    print(f"audit of 1,000 users without tags: {again.iam_calls} IAM calls {again.calls}, {again.seconds:.1f}s")
    assert again.report()["user_tags"]["read"] is False


# --------------------------------------------------------------------------- hosts and key ids


@pytest.fixture
def team_fleet(endpoint, fleets):
    """Seeded team, and 4 local hosts: host1 on alice's old key, host2 on alice's new key, host3 on
    bob's key, host4 (bob) on a key id IAM does not know."""
    keys = seed_team(endpoint)
    fleet = fleets.start({"host1": "alice", "host2": "alice", "host3": "bob", "host4": "bob"},
                         {"alice": keys[("alice", 1)], "bob": keys[("bob", 1)]}, name="fleet")
    fleet.write_credentials("host2", *keys[("alice", 2)])
    fleet.write_credentials("host4", FAKE_KEY_ID, "not-a-real-secret-but-forty-characters-x")
    fleet.write_inventory()
    return fleet, keys


@pytest.mark.smoke
def test_reports_which_hosts_hold_which_key_id(endpoint, team_fleet, tmp_path):
    fleet, keys = team_fleet
    alice_old, alice_new, bob_key = keys[("alice", 1)][0], keys[("alice", 2)][0], keys[("bob", 1)][0]
    tag_users(endpoint, {"bob": {"rotor:owner": "team-bob@example.com"}})

    run = run_audit(endpoint, tmp_path, inventories=[fleet.inventory_path], verbosity=2)

    assert run.returncode == 0, run.explain()
    # Key ids are looked up for the users that hosts use (alice, bob) and for the users with a key the report lists
    # (carol: due, unused and Inactive), one ListAccessKeys each; the second listing answers from the same credential
    # report (one GetCredentialReport more).
    assert run.calls.get("ListAccessKeys") == 3, run.calls
    assert run.calls.get(TAGS_ACTION) == 4, run.calls  # rotor-admin, alice, bob, carol
    assert set(without_tags(run.calls)) <= REPORT_ACTIONS | {"ListAccessKeys"} and sum(without_tags(run.calls).values()) <= 8, run.calls
    assert run.calls.get("GenerateCredentialReport", 0) <= 2, run.calls
    report = run.report()
    held = {(r["user_name"], r["access_key_id"]): r for r in report["host_keys"]}
    assert held[("alice", alice_old)]["hosts"] == ["host1"] and held[("alice", alice_old)]["rotation_due"] is True
    assert held[("alice", alice_new)]["hosts"] == ["host2"] and held[("alice", alice_new)]["status"] == "Active"
    assert held[("bob", bob_key)]["hosts"] == ["host3"] and held[("bob", bob_key)]["age_days"] == 30
    assert held[("bob", FAKE_KEY_ID)]["status"] == "not a key of this user"
    keys_by_pos = by_position(report["access_keys"])
    assert keys_by_pos[("alice", 1)]["access_key_id"] == alice_old and keys_by_pos[("alice", 1)]["hosts"] == ["host1"]
    carol_due, carol_inactive = keys[("carol", 1)][0], keys[("carol", 2)][0]
    assert keys_by_pos[("carol", 1)]["access_key_id"] == carol_due  # listed (due): its id looked up although on no host
    due = [(k["user_name"], k["age_days"], k["access_key_id"]) for k in report["rotation_due"]]
    assert due == [("carol", 200, carol_due), ("alice", 120, alice_old)]
    assert report["summary"]["key_id_calls"] == 1
    # What to do: rotate alice's key on host1 (the exact command, with this run's inventory); carol's key is on no host.
    assert report["rotation_due"][1]["remediation"]["command"] == (
        f"ansible-playbook rotor.iam.rotate -i {fleet.inventory_path} --limit host1")
    assert report["rotation_due"][0]["remediation"]["command"].startswith("ansible-playbook rotor.iam.discover -i ")
    assert [(k["user_name"], k["access_key_id"], k["age_days"], k["remediation"]["command"]) for k in report["inactive"]] == [
        ("carol", carol_inactive, 300, f"aws iam delete-access-key --user-name carol --access-key-id {carol_inactive}")]
    assert [(k["user_name"], k["idle_days"]) for k in report["unused"]] == [("carol", 200)]
    assert [u["user_name"] for u in report["users_with_two_active_keys"]] == ["alice"]
    findings = {f["host"]: f["problem"] for f in report["host_findings"]}
    assert set(findings) == {"host1", "host4"}
    assert "due for rotation (120 days old)" in findings["host1"]
    assert f"{FAKE_KEY_ID}, which is not an access key of bob" in findings["host4"]
    assert report["summary"]["hosts"] == 4
    # The owner (IAM user tag rotor:owner) is on the user's rows and findings.
    assert held[("bob", bob_key)]["owner"] == "team-bob@example.com" and held[("alice", alice_old)]["owner"] is None
    assert {f["host"]: f["owner"] for f in report["host_findings"]} == {"host1": None, "host4": "team-bob@example.com"}

    markdown = run.markdown_path.read_text()
    assert f"| alice | {alice_old} | Active | 120 | yes | host1 |" in markdown
    assert f"| bob | {bob_key} | Active | 30 | no | host3 | team-bob@example.com |" in markdown
    page = run.html_path.read_text()
    assert f"<td>{alice_old}</td><td>Active</td><td class=\"num\">120</td><td>yes</td><td>host1</td>" in page
    assert "policy: 90 days" in page
    assert_no_secrets_in(run, [secret for dummy, secret in keys.values()] + [endpoint.admin_secret_access_key])


@pytest.mark.skipif(chromium() is None, reason="chromium is not installed (scripts/test.sh installs it)")
def test_html_chart_renders_ages_against_the_policy_line(endpoint, team_fleet, tmp_path):
    """Chromium lays the chart out: one shape per key, labelled with its age, its width proportional to
    the age, and the policy line where the scale puts max_age_days."""
    fleet = team_fleet[0]
    run = run_audit(endpoint, tmp_path, inventories=[fleet.inventory_path], extra_vars={"rotor_max_key_age_days": 100})
    assert run.returncode == 0, run.explain()
    report = run.report()

    dom = render_headless(run.html_path, tmp_path)
    measured = measurements(dom)

    expected = sorted(((k["age_days"], k["user_name"]) for k in report["access_keys"]), key=lambda a: (-a[0], a[1]))
    assert [(shape["age"], shape["user"]) for shape in measured["bars"]] == expected
    assert [shape["label"] for shape in measured["bars"]] == [f"{age} d" for age, dummy in expected]
    assert all(shape["visible"] for shape in measured["bars"])
    scale = int(re.search(r'data-scale-max-days="(\d+)"', dom).group(1))
    plot_x = float(re.search(r'data-plot-x="(\d+)"', dom).group(1))
    plot_w = float(re.search(r'data-plot-width="(\d+)"', dom).group(1))
    for shape in measured["bars"]:
        assert shape["left"] == pytest.approx(plot_x, abs=1.5)
        assert shape["width"] == pytest.approx(max(1.0, plot_w * shape["age"] / scale), abs=1.5), shape
    assert measured["policy"]["label"] == "policy: 100 days"
    assert measured["policy"]["x"] == pytest.approx(plot_x + plot_w * 100 / scale, abs=1.5)
    # The numbers on the summary cards, as the browser shows them.
    assert re.search(r'data-metric="rotation_due"><span class="n">2</span>', dom)  # carol 200, alice 120


def test_inventory_scope_audits_only_the_users_hosts_use(endpoint, team_fleet, tmp_path):
    fleet, keys = team_fleet
    run = run_audit(endpoint, tmp_path, inventories=[fleet.inventory_path], extra_vars={"rotor_audit_scope": "inventory"})

    assert run.returncode == 0, run.explain()
    report = run.report()
    assert report["scope"] == "inventory"
    assert sorted({k["user_name"] for k in report["access_keys"]}) == ["alice", "bob"]
    assert all(k["access_key_id"] for k in report["access_keys"])  # user_names always resolves ids
    assert [k["access_key_id"] for k in report["rotation_due"]] == [keys[("alice", 1)][0]]


# --------------------------------------------------------------------------- the users' own policy (IAM user tags)


POLICY_TAGS = {
    "vendor": {"rotor:exempt": "appliance cannot reload keys", "rotor:exempt-until": "2099-12-31", "rotor:owner": "ops@example.com"},
    "legacy": {"rotor:exempt": "legacy batch", "rotor:exempt-until": "2020-01-31T00:00:00Z", "rotor:owner": "batch-team"},
    "pay": {"rotor:max-age-days": "30", "rotor:owner": "payments@example.com"},
    "archive": {"rotor:max-age-days": "365"},
    "typo": {"rotor:max-age-days": "ninety", "rotor:owner": "data-team"},
}


def seed_policies(endpoint):
    """One key each: vendor 200 days (exempt), legacy 150 (exemption expired in 2020), pay 40 (own policy 30),
    archive 200 (own policy 365), typo 100 (invalid max age), plain 100 and fresh 10 (no tags)."""
    made = endpoint.seed([
        {"user_name": name, "keys": [{"age_days": age, "last_used_days_ago": 1}]}
        for name, age in (("vendor", 200), ("legacy", 150), ("pay", 40), ("archive", 200), ("typo", 100), ("plain", 100), ("fresh", 10))
    ])
    tag_users(endpoint, POLICY_TAGS)
    return {user["user_name"]: user["keys"][0]["secret_access_key"] for user in made["users"]}


def test_exemptions_owners_and_per_user_max_age_from_the_users_tags(endpoint, tmp_path):
    secrets = seed_policies(endpoint)

    run = run_audit(endpoint, tmp_path, extra_vars={"rotor_audit_fail_on_due": True}, label="tags")

    # Due: legacy (its exemption expired), pay (only under its own 30 days), typo (default 90: its tag is invalid,
    # and that stops nobody else), plain. Not due: vendor (exempt), archive (not under its own 365 days), fresh.
    assert run.returncode == 2, run.explain()
    report = run.report()
    assert [k["user_name"] for k in report["rotation_due"]] == ["legacy", "plain", "typo", "pay"]
    assert run.calls[TAGS_ACTION] == 8, run.calls  # the 7 users and rotor-admin, one call each
    # The due keys and vendor's (past its policy, exempt): their ids looked up, one ListAccessKeys per user.
    assert run.calls["ListAccessKeys"] == report["summary"]["key_id_calls"] == 5, run.calls
    assert sum(n for a, n in without_tags(run.calls).items() if a != "ListAccessKeys") <= 6, run.calls
    assert report["user_tags"] == {"read": True, "users": 8, "unreadable": 0, "calls": 8}
    keys = {k["user_name"]: k for k in report["access_keys"]}
    assert (keys["vendor"]["past_max_age"], keys["vendor"]["exempt"], keys["vendor"]["rotation_due"]) == (True, True, False)
    assert (keys["archive"]["max_age_days"], keys["archive"]["rotation_due"]) == (365, False)
    assert (keys["pay"]["max_age_days"], keys["pay"]["rotation_due"]) == (30, True)
    assert (keys["typo"]["max_age_days"], keys["typo"]["owner"]) == (90, "data-team")

    assert [(e["user_name"], e["reason"], e["exempt_until"], e["owner"]) for e in report["exempt_users"]] == [
        ("vendor", "appliance cannot reload keys", "2099-12-31", "ops@example.com")]
    assert [(e["user_name"], e["exemption_ends"]) for e in report["expired_exemptions"]] == [("legacy", "2020-01-31T00:00:00+00:00")]
    assert [(u["user_name"], u["max_age_days"]) for u in report["users_with_own_max_age"]] == [("archive", 365), ("pay", 30)]
    assert [(p["user_name"], p["tag"], p["value"]) for p in report["policy_problems"]] == [("typo", "rotor:max-age-days", "ninety")]

    # The play says it: the problem for that user, and the due keys with their owners.
    assert "IAM user typo (owner: data-team): rotor:max-age-days holds 'ninety'" in run.stdout, run.explain()
    assert "4 access key(s) are due for rotation (Active and at least 90 days old, or their own rotor:max-age-days)" in run.stdout
    assert f"pay {keys['pay']['access_key_id']} (40 days, policy 30 days, owner payments@example.com)" in run.stdout
    assert "User tags read for 8 users in 8 ListUserTags calls: 1 exempt (1 keys past their policy), 1 expired exemptions" in run.stdout

    markdown = run.markdown_path.read_text()
    vendor_id = keys["vendor"]["access_key_id"]
    assert f"| vendor | appliance cannot reload keys | 2099-12-31 | {vendor_id} (200) | ops@example.com |" in markdown
    assert "## Expired exemptions (1)" in markdown and "| legacy | legacy batch | 2020-01-31T00:00:00+00:00 |" in markdown
    assert "| pay | 30 | 1 | payments@example.com |" in markdown
    assert "| typo | rotor:max-age-days | ninety |" in markdown
    page = run.html_path.read_text()
    assert "<td>vendor</td><td>appliance cannot reload keys</td><td>2099-12-31</td>" in page
    assert "<td>payments@example.com</td>" in page and 'data-metric="exempt_users"><span class="n">1</span>' in page
    assert_no_secrets_in(run, list(secrets.values()) + [endpoint.admin_secret_access_key])

    # Without the tags: the default policy for everyone, and no ListUserTags.
    plain = run_audit(endpoint, tmp_path, extra_vars={"rotor_audit_user_tags": False}, label="no-tags")
    assert plain.returncode == 0, plain.explain()
    assert TAGS_ACTION not in plain.calls, plain.calls
    assert [k["user_name"] for k in plain.report()["rotation_due"]] == ["archive", "vendor", "legacy", "plain", "typo"]


@pytest.mark.skipif(chromium() is None, reason="chromium is not installed (scripts/test.sh installs it)")
def test_html_chart_marks_exempt_keys_and_keys_due_under_their_own_policy(endpoint, tmp_path):
    seed_policies(endpoint)
    run = run_audit(endpoint, tmp_path, extra_vars={"rotor_audit_formats": ["html"]}, label="tags-chart")
    assert run.returncode == 0, run.explain()

    dom = render_headless(run.html_path, tmp_path)

    bars = dict(re.findall(r'data-user="(\w+)".*?<rect class="bar (\w+)"', re.search(r'<svg id="key-age-chart".*?</svg>', dom, re.S).group(0)))
    assert (bars["vendor"], bars["pay"], bars["archive"], bars["fresh"]) == ("exempt", "due", "ok", "ok")
    assert all(shape["visible"] for shape in measurements(dom)["bars"])


# --------------------------------------------------------------------------- compliance gate, check mode, errors


def test_fail_on_due_fails_after_writing_the_reports(endpoint, tmp_path):
    keys = seed_team(endpoint)

    # A relative rotor_report_dir is relative to where ansible-playbook runs (run_audit: tmp_path).
    run = run_audit(endpoint, tmp_path, extra_vars={"rotor_audit_fail_on_due": True, "rotor_report_dir": "compliance"}, label="gate")

    assert run.returncode == 2, run.explain()
    assert (tmp_path / "compliance" / "rotor-iam-audit.json").is_file()
    # The due keys by id: looked up because the report lists them.
    assert (f"2 access key(s) are due for rotation (Active and at least 90 days old): carol {keys[('carol', 1)][0]} (200 days); "
            f"alice {keys[('alice', 1)][0]} (120 days)") in run.stdout, run.explain()
    assert "Traceback" not in run.stdout + run.stderr
    assert run.report()["summary"]["rotation_due"] == 2  # written before failing

    relaxed = run_audit(
        endpoint, tmp_path, label="relaxed",
        extra_vars={"rotor_audit_fail_on_due": True, "rotor_max_key_age_days": 365, "rotor_audit_formats": ["json"]},
    )
    assert relaxed.returncode == 0, relaxed.explain()
    assert relaxed.report()["rotation_due"] == []
    assert not relaxed.markdown_path.exists() and not relaxed.html_path.exists()
    assert_no_secrets_in(run, [secret for dummy, secret in keys.values()])


def test_check_mode_reads_and_reports_but_writes_nothing(endpoint, team_fleet, tmp_path):
    fleet = team_fleet[0]
    before = {name: fleet.read_credentials(name)[0] for name in fleet.hosts}

    run = run_audit(endpoint, tmp_path, inventories=[fleet.inventory_path], check=True, extra_vars={"rotor_audit_fail_on_due": False})

    assert run.returncode == 0, run.explain()
    assert not run.report_dir.exists(), "check mode wrote the report directory"
    assert "Check mode: no report written." in run.stdout
    assert re.search(r"Audited 4 IAM users with 6 access keys \(5 Active\): 2 due for rotation", run.stdout), run.explain()
    assert all(run.calls.get(action, 0) == 0 for action in IAM_WRITES), run.calls
    assert {name: fleet.read_credentials(name)[0] for name in fleet.hosts} == before


@pytest.mark.parametrize(
    "extra_vars, message",
    [
        ({"rotor_audit_scope": "everything"}, "rotor_audit_scope"),
        ({"rotor_audit_unused_days": -1}, "rotor_audit_unused_days (-1)"),
        ({"rotor_max_key_age_days": "ninety"}, "rotor_max_key_age_days"),
        ({"rotor_audit_scope": "inventory"}, "no audited host has rotor_iam_user set"),
    ],
)
def test_bad_settings_fail_with_a_message_naming_them(endpoint, tmp_path, extra_vars, message):
    run = run_audit(endpoint, tmp_path, extra_vars=extra_vars)

    assert run.returncode != 0, run.explain()
    assert message in run.stdout + run.stderr, run.explain()
    assert "Traceback" not in run.stdout + run.stderr
    assert run.iam_calls == 0 or "inventory" in json.dumps(extra_vars), run.calls


# --------------------------------------------------------------------------- many accounts

OTHER_ACCOUNT = "222222222222"


def test_hosts_on_two_accounts_audit_both_and_name_users_account_colon_name(endpoint, tmp_path):
    """svc-app exists in the admin's account and in 222222222222 (reached through an assumed role, profile
    acct-b of an AWS config file). host1 uses the first; host2 and host3 the second (rotor_aws_profile:
    acct-b), host3 holding the first account's key id. Both accounts are audited, each through its own
    connection, users are named account:user in every report, and each host matches its own account's user."""
    import boto3  # pylint: disable=import-outside-toplevel
    from rotation_helpers import write_host_overrides  # pylint: disable=import-outside-toplevel

    role_arn = endpoint.account_role(OTHER_ACCOUNT)
    creds = endpoint.boto3_client("sts").assume_role(RoleArn=role_arn, RoleSessionName="rotor-test")["Credentials"]
    iam_b = boto3.client("iam", endpoint_url=endpoint.endpoint_url, region_name=endpoint.region, aws_access_key_id=creds["AccessKeyId"],
                         aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    made = endpoint.seed([{"user_name": "svc-app", "keys": [{"age_days": 120, "last_used_days_ago": 1}]}])
    key_a = made["users"][0]["keys"][0]
    key_a = (key_a["access_key_id"], key_a["secret_access_key"])
    iam_b.create_user(UserName="svc-app")
    created = iam_b.create_access_key(UserName="svc-app")["AccessKey"]
    key_b = (created["AccessKeyId"], created["SecretAccessKey"])
    config = tmp_path / "aws-config"
    config.write_text("\n".join([
        "[profile admin]", f"aws_access_key_id = {endpoint.admin_access_key_id}",
        f"aws_secret_access_key = {endpoint.admin_secret_access_key}", f"region = {endpoint.region}", "",
        "[profile acct-b]", f"role_arn = {role_arn}", "source_profile = admin", f"endpoint_url = {endpoint.endpoint_url}",
        f"region = {endpoint.region}", ""]))
    config.chmod(0o600)
    fleet = Fleet(str(tmp_path / "fleet"), 3, mode="local", endpoint_url=endpoint.endpoint_url, region=endpoint.region,
                  users="svc-app", initial_keys={"svc-app": key_a})
    with fleet:
        fleet.write_inventory()
        fleet.write_credentials("host2", *key_b)
        overrides = write_host_overrides(tmp_path / "accounts.yml", {h: {"rotor_aws_profile": "acct-b"} for h in ("host2", "host3")})

        run = run_audit(endpoint, tmp_path, inventories=[fleet.inventory_path, overrides], env_extra={"AWS_CONFIG_FILE": str(config)})

    assert run.returncode == 0, run.explain()
    first, second = f"{endpoint.account_id}:svc-app", f"{OTHER_ACCOUNT}:svc-app"
    report = run.report()
    assert report["account_id"] is None
    assert [(a["account"], a["profile"], a["hosts"]) for a in report["accounts"]] == [
        (endpoint.account_id, "", ["host1"]), (OTHER_ACCOUNT, "acct-b", ["host2", "host3"])]
    keys = {k["user_name"]: k for k in report["access_keys"] if k["user_name"].endswith(":svc-app")}
    assert sorted(keys) == [first, second], report["access_keys"]
    assert keys[first]["access_key_id"] == key_a[0] and keys[first]["hosts"] == ["host1"] and keys[first]["rotation_due"] is True
    assert keys[second]["access_key_id"] == key_b[0] and keys[second]["hosts"] == ["host2"] and keys[second]["rotation_due"] is False
    held = {(r["user_name"], r["access_key_id"]): r for r in report["host_keys"]}
    assert held[(first, key_a[0])]["hosts"] == ["host1"] and held[(second, key_b[0])]["hosts"] == ["host2"]
    # host3 reaches 222222222222 with the first account's key id: not a key of its user.
    assert held[(second, key_a[0])]["status"] == "not a key of this user" and held[(second, key_a[0])]["hosts"] == ["host3"]
    findings = {f["host"]: f["problem"] for f in report["host_findings"]}
    assert f"{key_a[0]}, which is not an access key of {second}" in findings["host3"], findings
    assert [k["user_name"] for k in report["rotation_due"]] == [first]

    markdown = run.markdown_path.read_text()
    assert f"| {first} | {key_a[0]} | Active | 120 | yes | host1 |" in markdown, markdown
    assert f"| {second} | {key_b[0]} | Active | 0 | no | host2 |" in markdown, markdown
    assert f"accounts {endpoint.account_id}, {OTHER_ACCOUNT}" in markdown
    page = run.html_path.read_text()
    assert f"<td>{first}</td>" in page and f"<td>{second}</td>" in page
    assert_no_secrets_in(run, [key_a[1], key_b[1], endpoint.admin_secret_access_key])
