"""Unit tests for what a security team acts on (plugins/module_utils/_audit/actions.py, trend.py, sections.py and the
HTML's charts): key ids for every listed key, Inactive keys with a delete command, a remediation per key, the trend
against the previous report, one colour table with enough contrast, and no blank cell or empty section."""

import json
import re

import pytest

from ansible_collections.rotor.iam.plugins.module_utils._audit import cells
from ansible_collections.rotor.iam.plugins.module_utils._audit.actions import merge_key_ids
from ansible_collections.rotor.iam.plugins.module_utils._audit.actions import remediation
from ansible_collections.rotor.iam.plugins.module_utils._audit.actions import users_needing_key_ids
from ansible_collections.rotor.iam.plugins.module_utils._audit.html_report import age_histogram_svg
from ansible_collections.rotor.iam.plugins.module_utils._audit.html_report import histogram_counts
from ansible_collections.rotor.iam.plugins.module_utils._audit.trend import load_previous
from ansible_collections.rotor.iam.plugins.module_utils.audit import AuditInputError
from ansible_collections.rotor.iam.plugins.module_utils.audit import build_audit
from ansible_collections.rotor.iam.plugins.module_utils.audit import host_record
from ansible_collections.rotor.iam.plugins.module_utils.audit import render_html
from ansible_collections.rotor.iam.plugins.module_utils.audit import render_markdown
from test_audit_model import NOW, TAGGED, key, user  # noqa: I100 (a sibling test module)

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documentation secret


def judge(info):
    return build_audit(info, max_age_days=90, unused_days=90, now=NOW)["access_keys"]


def account():
    """healthy: one fresh key; old: a 200-day key; idle: a key unused for 120 days; gone: an Inactive key;
    twice: two fresh Active keys; known: a due key whose id is known already."""
    return {
        "access_keys": [
            key("healthy", 1, 10), key("old", 1, 200), key("idle", 1, 40, used=120), key("gone", 1, 300, status="Inactive"),
            key("twice", 1, 5), key("twice", 2, 3), key("known", 1, 150, key_id="AKIAKNOWN00000000000"),
            key("<root_account>", 1, 400),
        ],
        "users": [user(n, {}) for n in ("healthy", "old", "idle", "gone", "twice", "known", "<root_account>")],
    }


def test_only_users_with_a_listed_key_without_id_are_looked_up():
    assert users_needing_key_ids(account(), judge) == [["gone", "idle", "old", "twice"]]
    looped = {"results": [account(), {"skipped": True}]}
    assert users_needing_key_ids(looped, judge) == [["gone", "idle", "old", "twice"], []]


def test_looked_up_keys_replace_the_report_lines_of_their_user_only():
    listing = {"access_keys": [key("old", 1, 200, key_id="AKIAOLD0000000000000"), key("old", None, 0, key_id="AKIAOLDNEW0000000000")],
               "missing_users": []}
    merged = merge_key_ids({"results": [account()]}, {"results": [listing]})["results"][0]
    assert [k["access_key_id"] for k in merged["access_keys"] if k["user_name"] == "old"] == ["AKIAOLD0000000000000", "AKIAOLDNEW0000000000"]
    assert [k["user_name"] for k in merged["access_keys"]].count("healthy") == 1 and merged["key_id_calls"] == 1
    assert merge_key_ids(account(), None) == account()  # nothing looked up: unchanged
    with pytest.raises(AuditInputError, match="looking up the key ids failed: denied"):
        merge_key_ids(account(), {"failed": True, "msg": "denied", "access_keys": []})


def test_every_listed_key_has_its_id_once_merged():
    info = account()
    needed = users_needing_key_ids(info, judge)[0]
    listing = {"access_keys": [dict(k, access_key_id=f"AKIA{k['user_name'].upper():0<16}"[:20]) for k in info["access_keys"]
                               if k["user_name"] in needed]}
    report = build_audit(merge_key_ids(info, listing), max_age_days=90, unused_days=90, now=NOW)
    listed = report["rotation_due"] + report["unused"] + report["inactive"]
    assert listed and all(k["access_key_id"] for k in listed if k["user_name"] != "<root_account>")
    assert all(k["access_key_id"] for u in report["users_with_two_active_keys"] for k in u["access_keys"])


def test_inactive_keys_are_listed_oldest_first_with_the_exact_delete_command():
    info = dict(account(), access_keys=[key("gone", 1, 300, status="Inactive", key_id="AKIAGONE000000000000"),
                                        key("gone", 2, 20, status="Inactive", key_id="AKIAGONE200000000000")])
    report = build_audit(info, max_age_days=90, now=NOW)
    assert [(k["access_key_id"], k["age_days"]) for k in report["inactive"]] == [("AKIAGONE000000000000", 300), ("AKIAGONE200000000000", 20)]
    assert report["inactive"][0]["remediation"]["command"] == "aws iam delete-access-key --user-name gone --access-key-id AKIAGONE000000000000"
    assert report["summary"]["inactive_access_keys"] == 2
    page = render_html(report)
    assert '<h2 id="inactive-keys">Inactive keys to delete (2)</h2>' in page
    assert "<code>aws iam delete-access-key --user-name gone --access-key-id AKIAGONE000000000000</code>" in page


def test_remediation_names_the_owner_and_what_to_run():
    due = {"user_name": "app", "owner": "team@example.com", "active": True, "status": "Active", "past_max_age": True,
           "rotation_due": True, "exempt": False, "unused": False, "hosts": ["web1", "web2"], "access_key_id": "AKIAAPP0000000000000"}
    fix = remediation(due, ["/etc/rotor/hosts.ini"])
    assert fix == {"owner": "team@example.com", "action": "rotate on the hosts that hold it",
                   "command": "ansible-playbook rotor.iam.rotate -i /etc/rotor/hosts.ini --limit web1,web2"}
    assert remediation(dict(due, hosts=[]), None)["command"] == "ansible-playbook rotor.iam.discover -i INVENTORY"
    exempt = dict(due, rotation_due=False, exempt=True, exempt_until="2027-03-31", owner=None)
    assert remediation(exempt)["action"] == "rotate in the window before the exemption ends (2027-03-31)"
    assert remediation(exempt)["owner"].startswith("no owner")
    unused = dict(due, past_max_age=False, rotation_due=False, unused=True)
    assert remediation(unused)["command"] == "aws iam update-access-key --user-name app --access-key-id AKIAAPP0000000000000 --status Inactive"
    odd = dict(due, user_name="a b;rm", hosts=["h;x"])
    assert "--limit 'h;x'" in remediation(odd, ["inv dir"])["command"] and "-i 'inv dir'" in remediation(odd, ["inv dir"])["command"]


def test_the_report_carries_a_remediation_for_every_listed_key_and_none_for_healthy_ones():
    report = build_audit(TAGGED, {}, max_age_days=90, now=NOW)
    for k in report["access_keys"]:
        listed = (not k["active"]) or k["past_max_age"] or k["unused"]
        assert (k["remediation"] is not None) == listed, k
    vendor = next(k for k in report["access_keys"] if k["user_name"] == "vendor")
    assert vendor["remediation"]["action"] == "rotate in the window before the exemption ends (2027-03-31)"


def previous_report(keys, **summary):
    return {"format_version": 3, "generated_at": "2026-10-26T12:00:00+00:00", "access_keys": keys, "summary": summary}


def test_trend_names_keys_newly_due_retired_and_created_and_the_age_distribution():
    before = build_audit({"access_keys": [key("a", 1, 60), key("b", 1, 300), key("c", 1, 100)], "users": []},
                         max_age_days=90, now=NOW)
    now_info = {"access_keys": [dict(key("a", 1, 60), age_days=91), key("c", 1, 100), key("d", 1, 1)], "users": []}
    now_info["access_keys"][0]["create_date"] = before["access_keys"][0]["create_date"]  # the same key, 31 days older
    report = build_audit(now_info, max_age_days=90, now=NOW, previous=json.dumps(before))
    trend = report["trend"]
    assert [k["user_name"] for k in trend["newly_due"]] == ["a"]
    assert [k["user_name"] for k in trend["retired"]] == ["b"] and [k["user_name"] for k in trend["new"]] == ["d"]
    assert trend["counts"]["rotation_due"] == {"then": 2, "now": 2}
    bands = {b["band"]: (b["then"], b["now"]) for b in trend["age_distribution"]}
    assert bands["60-89 days"] == (1, 0) and bands["90-179 days"] == (1, 2) and bands["180-364 days"] == (1, 0)
    assert report["summary"]["newly_due"] == 1 and report["summary"]["retired"] == 1
    text = render_markdown(report)
    assert "## Trend since the previous report (2026-11-26T12:00:00+00:00)" in text and "### Keys newly due since then (1)" in text
    assert '<h2 id="trend">' in render_html(report)


def test_the_same_key_is_matched_across_reports_whatever_the_date_format():
    previous = previous_report([{"user_name": "a", "access_key_id": None, "status": "Active", "age_days": 100, "active": True,
                                 "rotation_due": False, "create_date": "2026-08-18T12:00:00Z"}])
    now = {"access_keys": [dict(key("a", 1, 100), create_date="2026-08-18T12:00:00.000+00:00")], "users": []}
    trend = build_audit(now, max_age_days=90, now=NOW, previous=previous)["trend"]
    assert trend["retired"] == [] and trend["new"] == [] and [k["user_name"] for k in trend["newly_due"]] == ["a"]


def test_a_previous_report_never_brings_a_secret_into_the_trend():
    previous = previous_report([{"user_name": "x", "access_key_id": SECRET, "status": "Active", "age_days": 1, "active": True,
                                 "create_date": "2026-01-01"}])
    report = build_audit({"access_keys": [], "users": []}, now=NOW, previous=previous)
    assert SECRET not in json.dumps(report) and SECRET not in render_html(report) and SECRET not in render_markdown(report)


@pytest.mark.parametrize("text, message", [("{not json", "is not JSON"), ('{"a": 1}', "is not a JSON report of rotor.iam.audit")])
def test_a_bad_previous_report_is_named_with_what_to_give(text, message):
    with pytest.raises(AuditInputError, match=f"rotor_audit_previous_report {message}"):
        load_previous(text)


def _luminance(colour):
    def channel(value):
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a, b):
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("status", sorted(cells.STATUS_COLOURS))
def test_every_status_colour_has_a_contrast_of_4_5_against_the_background(status):
    assert contrast(cells.STATUS_COLOURS[status], cells.BACKGROUND) >= 4.5


def test_the_page_uses_the_one_colour_table_and_its_background():
    page = render_html(build_audit(TAGGED, {}, now=NOW))
    for status, colour in cells.STATUS_COLOURS.items():
        assert f".{status}{{fill:{colour}}}" in page
    assert f"background:{cells.BACKGROUND}" in page
    assert "#c0392b" not in page and "#e0a526" not in page  # the old, disagreeing colours


def test_the_histogram_colours_an_exempt_key_as_the_bar_chart_does():
    report = build_audit(TAGGED, {}, max_age_days=90, now=NOW)
    svg = age_histogram_svg(report["access_keys"], 90)
    vendor_band = next(b for b in histogram_counts(report["access_keys"], 90) if b["from"] <= 200 <= b["to"])
    assert vendor_band["exempt"] == 1  # vendor (exempt, 200 days): amber in both charts
    assert 'class="exempt" data-status="exempt"' in svg
    chart = re.search(r'<svg id="key-age-chart".*?</svg>', render_html(report)).group(0)
    assert re.search(r'data-user="vendor".*?<rect class="bar exempt"', chart)


def test_the_histogram_labels_at_most_8_bands_so_that_labels_never_overlap():
    keys = [dict(key("u", 1, age), rotation_due=False, past_max_age=False, active=True) for age in range(0, 720, 7)]
    svg = age_histogram_svg(keys, 90)
    ticks = [float(x) for x in re.findall(r'<text class="tick" x="([\d.]+)"', svg)]
    assert len(re.findall(r'<g class="band"', svg)) == 24 and 2 <= len(ticks) <= 8
    assert min(b - a for a, b in zip(ticks, ticks[1:])) >= 40  # a label is at most 3 digits of 11px type


def test_charts_have_text_alternatives_and_headers_have_scope():
    page = render_html(build_audit(TAGGED, {}, now=NOW))
    for svg in re.findall(r"<svg [^>]*>", page):
        labelled = re.search(r'aria-labelledby="([\w-]+)"', svg)
        assert 'role="img"' in svg and labelled and f'<title id="{labelled.group(1)}">' in page
    assert len(re.findall(r"<th[ >]", page)) == page.count('<th scope="col">') > 0
    assert page.count("<figcaption") == 2


def test_no_blank_cell_and_empty_sections_fold_into_one_line():
    report = build_audit(TAGGED, {"h1": host_record({"user": "nobody", "results": []})}, now=NOW)
    page = render_html(report)
    assert "<td></td>" not in page and "<td class=\"num\"></td>" not in page and "None." not in page
    assert re.search(r'<p class="nothing" id="nothing-to-report">.*Nothing to report in: [^<]*Inactive keys to delete', page)
    text = render_markdown(report)
    assert "| — |" not in text and "|  |" not in text and "None." not in text
    assert "no owner tag" in text and "not in inventory" in text
