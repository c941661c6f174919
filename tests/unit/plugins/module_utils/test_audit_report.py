"""Unit tests for plugins/module_utils/audit.py: findings and their JSON, Markdown and HTML renderings."""

import datetime
import json
import re

import pytest

from ansible_collections.rotor.iam.plugins.module_utils.audit import AuditInputError
from ansible_collections.rotor.iam.plugins.module_utils.audit import age_chart_svg
from ansible_collections.rotor.iam.plugins.module_utils.audit import build_audit
from ansible_collections.rotor.iam.plugins.module_utils.audit import collect_hosts
from ansible_collections.rotor.iam.plugins.module_utils.audit import duration
from ansible_collections.rotor.iam.plugins.module_utils.audit import host_record
from ansible_collections.rotor.iam.plugins.module_utils.audit import render_all
from ansible_collections.rotor.iam.plugins.module_utils.audit import render_html
from ansible_collections.rotor.iam.plugins.module_utils.audit import render_markdown

NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.timezone.utc)


def ago(days):
    return (NOW - datetime.timedelta(days=days)).isoformat()


def key(user, position, age, status="Active", used=None, key_id=None):
    """An access_key_info (all_users) entry."""
    return {
        "user_name": user,
        "user": user,
        "position": position,
        "access_key_id": key_id,
        "status": status,
        "active": status == "Active",
        "create_date": ago(age),
        "last_rotated": ago(age),
        "age_days": age,
        "last_used_date": None if used is None else ago(used),
        "last_used_service": None if used is None else "s3",
        "last_used_region": None if used is None else "eu-west-1",
    }


KEY_INFO = {
    "access_keys": [
        key("alice", 1, 120, used=1, key_id="AKIAALICEOLD00000000"),
        key("alice", 2, 10, used=0, key_id="AKIAALICENEW00000000"),
        key("bob", 1, 30, used=None, key_id="AKIABOB0000000000000"),
        key("bob", 2, 300, status="Inactive", key_id="AKIABOBOLD0000000000"),
        key("carol", 1, 95, used=None),  # due and never used
        key("dave", 1, 200, used=100),  # due and unused for 100 days
        key("erin", 1, 90, used=89),  # exactly at the policy: due, used recently enough
    ],
    "users": [
        {"user_name": name, "arn": f"arn:aws:iam::123456789012:user/{name}", "access_key_count": n, "active_key_count": a}
        for name, n, a in (("alice", 2, 2), ("bob", 2, 1), ("carol", 1, 1), ("dave", 1, 1), ("erin", 1, 1), ("frank", 0, 0))
    ],
    "report_generated_time": ago(0),
    "report_age_seconds": 42,
    "report_requested": False,
    "missing_users": ["ghost"],
}


def read_result(path, key_id=None, exists=True, **extra):
    """What credentials_file state=read registers for one loop item."""
    result = {"changed": False, "path": path, "item": {"path": path, "format": "aws_credentials"}}
    if "msg" in extra or extra.get("unreachable"):
        result.pop("path")
        result.update(extra)
    else:
        result.update(access_key_id=key_id, exists=exists)
    return result


HOSTS = {
    "host1": host_record({"user": "alice", "results": [read_result("/etc/a", "AKIAALICEOLD00000000")]}),
    "host2": host_record({"user": "alice", "results": [read_result("/etc/a", "AKIAALICENEW00000000"), read_result("/etc/b", "AKIAALICENEW00000000")]}),
    "host3": host_record({"user": "bob", "results": [read_result("/etc/a", "AKIABOBOLD0000000000")]}),
    "host4": host_record({"user": "bob", "results": [read_result("/etc/a", "AKIADELETED000000000")]}),
    "host5": host_record({"user": "bob", "unreachable": True, "results": []}),
    "host6": host_record({"user": "bob", "results": [read_result("/etc/a", msg="/etc/a: line 3 is not valid")]}),
    "host7": host_record({"user": "bob", "results": [read_result("/etc/a", None, exists=False)]}),
    "host8": host_record({"user": "ghost", "results": [read_result("/etc/a", "AKIAGHOST00000000000")]}),
}


@pytest.fixture
def report():
    return build_audit(KEY_INFO, HOSTS, max_age_days=90, unused_days=90, now=NOW)


def test_due_keys_are_active_and_at_least_the_policy_old_oldest_first(report):
    due = [(k["user_name"], k["age_days"]) for k in report["rotation_due"]]
    assert due == [("dave", 200), ("alice", 120), ("carol", 95), ("erin", 90)]
    assert report["summary"]["rotation_due"] == 4


def test_unused_keys_are_active_and_idle_for_the_period(report):
    # carol never used a 95-day-old key; dave last used his 100 days ago; bob's Inactive key does not count.
    assert [(k["user_name"], k["idle_days"]) for k in report["unused"]] == [("dave", 100), ("carol", 95)]
    assert report["summary"]["unused"] == 2


def test_users_with_two_active_keys(report):
    assert [u["user_name"] for u in report["users_with_two_active_keys"]] == ["alice"]
    assert [k["access_key_id"] for k in report["users_with_two_active_keys"][0]["access_keys"]] == ["AKIAALICEOLD00000000", "AKIAALICENEW00000000"]


def test_summary_counts(report):
    s = report["summary"]
    assert (s["users"], s["users_with_keys"], s["access_keys"], s["active_access_keys"]) == (6, 5, 7, 6)
    assert s["oldest_active_key_days"] == 200
    assert (s["hosts"], s["hosts_unreachable"]) == (8, 1)
    assert report["account_id"] == "123456789012"
    assert report["credential_report"] == {"generated_time": ago(0), "age_seconds": 42, "requested": False}
    assert report["policy"] == {"max_age_days": 90, "unused_days": 90}


def test_which_hosts_hold_which_key(report):
    rows = {(r["user_name"], r["access_key_id"]): (r["status"], r["rotation_due"], r["hosts"]) for r in report["host_keys"]}
    assert rows[("alice", "AKIAALICEOLD00000000")] == ("Active", True, ["host1"])
    assert rows[("alice", "AKIAALICENEW00000000")] == ("Active", False, ["host2"])  # two files, one host
    assert rows[("bob", "AKIABOBOLD0000000000")] == ("Inactive", False, ["host3"])
    assert rows[("bob", "AKIADELETED000000000")][0] == "not a key of this user"
    assert rows[("ghost", "AKIAGHOST00000000000")][0] == "user does not exist"
    keys = {k["access_key_id"]: k for k in report["access_keys"] if k["access_key_id"]}
    assert keys["AKIAALICEOLD00000000"]["hosts"] == ["host1"]
    assert keys["AKIABOB0000000000000"]["hosts"] == []


def test_host_findings_name_the_host_and_the_problem(report):
    problems = {f["host"]: f["problem"] for f in report["host_findings"]}
    assert "due for rotation (120 days old)" in problems["host1"]
    assert "host2" not in problems
    assert "AKIABOBOLD0000000000, which is Inactive" in problems["host3"]
    assert "AKIADELETED000000000, which is not an access key of bob" in problems["host4"]
    assert problems["host5"].startswith("unreachable")
    assert "line 3 is not valid" in problems["host6"]
    assert "holds no access key" in problems["host7"]
    assert "ghost, which does not exist" in problems["host8"]
    assert report["summary"]["host_findings"] == 7


def test_host_record_from_read_results():
    record = host_record({"user": "bob", "results": [read_result("/etc/a", unreachable=True, msg="ssh: timed out")]})
    assert record == {"user": "bob", "reachable": False, "files": [{"path": "/etc/a", "access_key_id": None, "exists": None, "error": "host unreachable"}]}


def test_collect_hosts_skips_hosts_that_were_not_audited():
    hostvars = {"web1": {"__rotor_audit_host": {"user": "alice", "results": []}}, "db1": {"ansible_host": "x"}}
    assert list(collect_hosts(hostvars, ["web1", "db1"])) == ["web1"]


def test_the_policy_threshold_is_inclusive_and_configurable():
    report = build_audit(KEY_INFO, {}, max_age_days=121, unused_days=200, now=NOW)
    assert [k["user_name"] for k in report["rotation_due"]] == ["dave"]
    assert report["unused"] == []


@pytest.mark.parametrize("bad", [None, {}, {"access_keys": "x"}])
def test_input_that_is_not_access_key_info_is_refused(bad):
    with pytest.raises(AuditInputError, match="access_key_info"):
        build_audit(bad)


def test_negative_policy_is_refused():
    with pytest.raises(AuditInputError, match="0 or more"):
        build_audit(KEY_INFO, max_age_days=-1)


def test_json_round_trips(report):
    documents = render_all(report)["documents"]
    assert json.loads(documents["json"]) == json.loads(json.dumps(report))


def test_markdown_summary_has_the_numbers_and_tables(report):
    text = render_markdown(report)
    assert "| Due for rotation | 4 |" in text
    assert "## Keys due for rotation (4)" in text
    assert "| dave | id not looked up (key 1) | 200 |" in text
    assert "| alice | AKIAALICEOLD00000000 | 120 |" in text
    assert "## Keys unused for 90 days or more (2)" in text
    assert "## Users with two Active keys (1)" in text
    assert "| alice | AKIAALICEOLD00000000 | Active | 120 | yes | host1 |" in text
    assert "holds AKIADELETED000000000, which is not an access key of bob" in text


def test_markdown_tables_are_cut_at_max_rows(report):
    text = render_markdown(report, max_rows=2)
    assert "… and 2 more in the JSON report." in text


def test_html_is_self_contained_with_a_chart_of_every_key_age(report):
    page = render_html(report)
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page and "<link" not in page
    chart = re.search(r'<svg id="key-age-chart".*?</svg>', page).group(0)
    ages = [int(a) for a in re.findall(r'data-age-days="(\d+)"', chart)]
    assert ages == [300, 200, 120, 95, 90, 30, 10]
    assert re.findall(r'class="age-label"[^>]*>(\d+) d<', chart) == [str(a) for a in ages]
    assert 'data-days="90"' in chart and "policy: 90 days" in chart
    assert 'data-metric="rotation_due"><span class="n">4</span>' in page


def test_chart_bars_are_proportional_to_age_and_the_policy_line_sits_at_max_age(report):
    chart, drawn, total = age_chart_svg(report["access_keys"], 90)
    plot_x = float(re.search(r'data-plot-x="([\d.]+)"', chart).group(1))
    plot_w = float(re.search(r'data-plot-width="([\d.]+)"', chart).group(1))
    scale = float(re.search(r'data-scale-max-days="([\d.]+)"', chart).group(1))
    widths = dict(re.findall(r'data-age-days="(\d+)".*?<rect class="bar[^"]*" x="[\d.]+" y="[\d.]+" width="([\d.]+)"', chart))
    for age, width in widths.items():
        assert float(width) == pytest.approx(max(1.0, plot_w * int(age) / scale), abs=0.1)
    policy_x = float(re.search(r'id="policy-line" class="policy" x1="([\d.]+)"', chart).group(1))
    assert policy_x == pytest.approx(plot_x + plot_w * 90 / scale, abs=0.1)
    assert scale >= 300 and (drawn, total) == (7, 7)


def test_chart_draws_only_the_oldest_keys_past_its_limit(report):
    chart, drawn, total = age_chart_svg(report["access_keys"], 90, max_keys=3)
    assert (drawn, total) == (3, 7)
    assert re.findall(r'data-age-days="(\d+)"', chart) == ["300", "200", "120"]
    assert "The 3 oldest of 7 keys are drawn" in render_html(report, chart_max_keys=3)


def test_html_escapes_names():
    info = dict(KEY_INFO, access_keys=[key("<b>x&y</b>", 1, 100)], users=[])
    page = render_html(build_audit(info, {}, now=NOW))
    assert "<b>x&y</b>" not in page and "&lt;b&gt;x&amp;y&lt;/b&gt;" in page


def test_an_empty_account_renders():
    report = build_audit({"access_keys": [], "users": []}, {}, now=NOW)
    documents = render_all(report)["documents"]
    assert "Nothing to report in: Keys due for rotation, Inactive keys to delete," in documents["md"] and "<svg" in documents["html"]
    assert report["summary"]["oldest_active_key_days"] is None


@pytest.mark.parametrize("seconds, text", [(42, "42 seconds"), (150, "2 minutes"), (7300, "2 hours"), (372750698, "4314 days")])
def test_report_age_reads_in_the_largest_unit(seconds, text):
    assert duration(seconds) == text


def test_only_the_formats_asked_for_are_rendered(report):
    assert list(render_all(report, formats=["json"])["documents"]) == ["json"]
    with pytest.raises(AuditInputError, match="unknown report format"):
        render_all(report, formats=["pdf"])
