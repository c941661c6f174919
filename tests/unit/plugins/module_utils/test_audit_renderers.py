"""Unit tests for the audit's renderers (plugins/module_utils/_audit/*_report.py, render.py): each shows the
exemptions, expired exemptions, per-user policies, policy tag problems and owners that the model found."""

import json
import re

import pytest

from ansible_collections.rotor.iam.plugins.module_utils.audit import build_audit
from ansible_collections.rotor.iam.plugins.module_utils.audit import render_all
from ansible_collections.rotor.iam.plugins.module_utils.audit import render_html
from ansible_collections.rotor.iam.plugins.module_utils.audit import render_json
from ansible_collections.rotor.iam.plugins.module_utils.audit import render_markdown
from test_audit_model import NOW, TAGGED, key, user  # noqa: I100 (a sibling test module)


@pytest.fixture
def report():
    return build_audit(TAGGED, {}, max_age_days=90, unused_days=90, now=NOW)


def test_json_is_the_whole_model(report):
    document = json.loads(render_json(report))
    assert document == json.loads(json.dumps(report))
    assert document["format_version"] == 3
    assert [e["user_name"] for e in document["exempt_users"]] == ["fuzzy", "vendor"]


def test_markdown_has_a_section_per_policy_finding_and_an_owner_column(report):
    text = render_markdown(report)
    assert "| Exempt users | 2 (2 keys past their policy) |" in text
    assert "## Exempt users (2)" in text
    assert "| vendor | appliance cannot reload keys | 2027-03-31 | AKIAVENDOR0000000000 (200) | ops |" in text
    assert "| fuzzy | migration | soon (invalid: no end) | id not looked up (key 1) (95) | no owner tag |" in text
    assert "## Expired exemptions (1)" in text and "| legacy | legacy batch | 2026-11-01T00:00:00+00:00 |" in text
    assert "## Users with their own max age (2)" in text and "| pay | 30 | 1 | payments |" in text
    assert "## Policy tag problems (3)" in text and "| typo | rotor:max-age-days | ninety |" in text
    # The due keys' table: the rule that applied, the owner, what to do and the command.
    assert "| User | Key | Age (days) | Policy (days) | Last used | Hosts | Owner | What to do | Command |" in text
    assert re.search(r"\| pay \| AKIAPAY0000000000000 \| 40 \| 30 \| [-0-9]+ \| not in inventory \| payments \| no inventory host", text)
    assert "Policy: rotate Active keys at 90 days (2 users have their own, IAM user tag rotor:max-age-days)" in text
    assert "read for 8 users in 9 ListUserTags calls; 1 could not be read." in text


def test_html_has_the_same_sections_owners_and_an_amber_bar_for_exempt_keys(report):
    page = render_html(report)
    for section in ("exempt-users", "expired-exemptions", "users-with-their-own-max-age", "policy-tag-problems"):
        assert f'<h2 id="{section}">' in page
    assert "<td>vendor</td><td>appliance cannot reload keys</td><td>2027-03-31</td><td>AKIAVENDOR0000000000 (200)</td><td>ops</td>" in page
    assert "<td>typo</td><td>rotor:max-age-days</td><td>ninety</td>" in page
    assert 'data-metric="exempt_users"><span class="n">2</span>' in page
    assert 'data-metric="policy_problems"><span class="n">3</span>' in page
    chart = re.search(r'<svg id="key-age-chart".*?</svg>', page).group(0)
    bars = dict(re.findall(r'data-user="(\w+)".*?<rect class="bar (\w+)"', chart))
    assert bars["vendor"] == "exempt" and bars["pay"] == "due" and bars["archive"] == "ok"
    assert 'data-user="pay"' in chart and 'data-key-max-age-days="30"' in chart
    assert "user tags read for 8 users (9 ListUserTags calls)" in page


def test_html_escapes_owners_and_reasons():
    info = {"access_keys": [key("x", 1, 10)], "users": [user("x", {"rotor:owner": "<b>ops</b>", "rotor:exempt": "a&b"})]}
    page = render_html(build_audit(info, {}, now=NOW))
    assert "<b>ops</b>" not in page and "&lt;b&gt;ops&lt;/b&gt;" in page and "a&amp;b" in page


def test_the_role_gets_its_messages_from_python(report):
    out = render_all(report, formats=["json"], fail_list_max=2)
    assert out["summary_text"].startswith("Audited 9 IAM users with 9 access keys (9 Active): 5 due for rotation "
                                          "(Active, 90+ days old or their own rotor:max-age-days)")
    assert "2 exempt (2 keys past their policy), 1 expired exemptions, 2 with their own max age, 3 policy tag problems" in out["summary_text"]
    assert out["due_message"] == (
        "5 access key(s) are due for rotation (Active and at least 90 days old, or their own rotor:max-age-days): "
        "legacy key 1 (150 days); alice AKIAALICE00000000000 (120 days, owner team-a@example.com); and 3 more. "
        "Rotate them with rotor.iam.rotate; the reports list every key.")
    assert any(m.startswith("IAM user typo (owner: data): rotor:max-age-days holds 'ninety'") for m in out["messages"])
    assert [d["label"] for d in out["rotation_due"]][-1] == "pay AKIAPAY0000000000000 (40 days, policy 30 days, owner payments)"
    assert out["user_tags"]["calls"] == 9


def test_without_tags_the_reports_say_so():
    report = build_audit({"access_keys": [key("a", 1, 100)], "users": [{"user_name": "a", "access_key_count": 1}]}, {}, now=NOW)
    out = render_all(report)
    assert "User tags not read" in out["summary_text"] and out["due_message"].startswith("1 access key(s) are due")
    assert "User tags were not read" in out["documents"]["md"] and "user tags not read" in out["documents"]["html"]
    assert render_all(build_audit({"access_keys": [], "users": []}, {}, now=NOW))["due_message"] is None
