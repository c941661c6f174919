"""The audit's HTML report as a security team reads it: laid out by headless Chromium at 800 and 1400 px (nothing
overflows the window, no chart label overlaps another, the charts shrink to fit), with its accessibility basics
(charts named by a text alternative, headers with scope, the palette's contrast computed from what the browser
drew), and the trend against a previous report, all through ``ansible-playbook rotor.iam.audit``.

Layout is checked by measurements taken in the browser, not by comparing pixels (fonts differ between machines);
each run also leaves a screenshot per width in the test's directory for people to look at.
"""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from audit_helpers import assert_no_secrets_in, chromium, render_layout, run_audit  # noqa: E402  pylint: disable=wrong-import-position
from iam_endpoint.seed import seed_account  # noqa: E402  pylint: disable=wrong-import-position

WIDTHS = (800, 1400)


@pytest.fixture
def endpoint(empty_endpoint):
    """The session's endpoint, reset, without lags: the audit changes no key."""
    empty_endpoint.configure(propagation_seconds=0)
    return empty_endpoint


def _rgb(css):
    r, g, b = (int(v) for v in re.findall(r"\d+", css)[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def _luminance(colour):
    def channel(value):
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a, b):
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.skipif(chromium() is None, reason="chromium is not installed (scripts/test.sh installs it)")
def test_report_reads_at_800_and_1400_px_with_labelled_charts_and_a_readable_palette(endpoint, tmp_path):
    # Keys up to two years old: over 20 age bands in the histogram, whose labels used to overlap.
    account = seed_account(endpoint, users=80, prefix="lay", max_age=730, rng_seed=3)
    tags = endpoint.boto3_client("iam")
    tags.tag_user(UserName="lay-0001", Tags=[{"Key": "rotor:exempt", "Value": "vendor appliance"}])

    run = run_audit(endpoint, tmp_path, extra_vars={"rotor_audit_chart_max_keys": 60})
    assert run.returncode == 0, run.explain()
    report = run.report()
    assert len(re.findall(r'<g class="band"', run.html_path.read_text())) >= 20

    for width in WIDTHS:
        layout = render_layout(run.html_path, tmp_path, width)
        assert layout["viewport"] <= width
        assert layout["scrollWidth"] <= layout["viewport"], f"the page scrolls sideways at {width}px: {layout['overflowing'][:5]}"
        assert layout["overflowing"] == [], f"at {width}px: {layout['overflowing'][:5]}"
        assert layout["overlaps"] == [], f"chart labels overlap at {width}px: {layout['overlaps'][:5]}"
        charts = {c["id"]: c for c in layout["charts"]}
        assert set(charts) == {"age-histogram", "key-age-chart"}
        for chart in charts.values():
            assert chart["role"] == "img" and len(chart["name"]) > 20, chart  # a text alternative that says something
            assert chart["right"] <= layout["viewport"], chart
        assert layout["headers"] and set(layout["headers"]) == {"col"}
        # The colours the browser drew: one per status in both charts, each readable against the page's background.
        background = _rgb(layout["background"])
        for status, fill in layout["fills"].items():
            assert contrast(_rgb(fill), background) >= 4.5, (status, fill, background)
        for status in ("due", "ok"):
            assert layout["fills"][status] == layout["fills"][f"bar-{status}"]
        if "exempt" in layout["fills"] and "bar-exempt" in layout["fills"]:
            assert layout["fills"]["exempt"] == layout["fills"]["bar-exempt"]
    assert (tmp_path / "layout-800.png").exists() and (tmp_path / "layout-1400.png").exists()

    # Empty sections are one line, not a heading each.
    layout = render_layout(run.html_path, tmp_path, 1400)
    assert layout["nothing"] and layout["nothing"].startswith("Nothing to report in:") and "Host findings" in layout["nothing"]
    assert not any(title.startswith("Host findings") for title in layout["sections"])
    # Every key the report lists has its id (looked up once per user), and the Inactive ones their delete command.
    listed = report["rotation_due"] + report["unused"] + report["inactive"]
    assert listed and all(k["access_key_id"] for k in listed)
    listed_users = {k["user_name"] for k in listed} | {u["user_name"] for u in report["users_with_two_active_keys"]}
    assert report["summary"]["key_id_calls"] == run.calls["ListAccessKeys"] == len(listed_users)
    for k in report["inactive"]:
        assert k["remediation"]["command"] == f"aws iam delete-access-key --user-name {k['user_name']} --access-key-id {k['access_key_id']}"
    assert_no_secrets_in(run, account.secrets() + [endpoint.admin_secret_access_key])


def test_trend_against_the_previous_report(endpoint, tmp_path):
    """Run 1; then bob's policy shortens to 20 days (his 30-day key becomes due), carol's Inactive key is deleted and
    bob gets a second key; run 2 with rotor_audit_previous_report = run 1's JSON names each change."""
    made = endpoint.seed([
        {"user_name": "bob", "keys": [{"age_days": 30, "last_used_days_ago": 2}]},
        {"user_name": "carol", "keys": [{"age_days": 200, "last_used_days_ago": 1}, {"age_days": 300, "status": "Inactive"}]},
    ])
    ids = {(u["user_name"], p): k["access_key_id"] for u in made["users"] for p, k in enumerate(u["keys"], 1)}
    first = run_audit(endpoint, tmp_path, label="first")
    assert first.returncode == 0, first.explain()

    iam = endpoint.boto3_client("iam")
    iam.tag_user(UserName="bob", Tags=[{"Key": "rotor:max-age-days", "Value": "20"}])
    iam.delete_access_key(UserName="carol", AccessKeyId=ids[("carol", 2)])
    created = iam.create_access_key(UserName="bob")["AccessKey"]

    second = run_audit(endpoint, tmp_path, label="second", extra_vars={"rotor_audit_previous_report": str(first.json_path)})
    assert second.returncode == 0, second.explain()
    trend = second.report()["trend"]
    assert trend["previous_generated_at"] == first.report()["generated_at"]
    assert [(k["user_name"], k["access_key_id"]) for k in trend["newly_due"]] == [("bob", ids[("bob", 1)])]
    assert [(k["user_name"], k["access_key_id"], k["status"]) for k in trend["retired"]] == [("carol", ids[("carol", 2)], "Inactive")]
    assert [k["user_name"] for k in trend["new"]] == ["bob"]
    assert trend["counts"]["inactive_access_keys"] == {"then": 1, "now": 0}
    assert sum(b["now"] for b in trend["age_distribution"]) == sum(b["then"] for b in trend["age_distribution"]) + 1
    assert "Since the previous report: 1 keys newly due, 1 retired." in second.stdout
    markdown = second.markdown_path.read_text()
    assert "### Keys newly due since then (1)" in markdown and "### Keys retired since then (1)" in markdown
    page = second.html_path.read_text()
    assert '<h2 id="trend">' in page and 'data-metric="newly_due"><span class="n">1</span>' in page
    assert_no_secrets_in(second, [created["SecretAccessKey"], endpoint.admin_secret_access_key]
                         + [k["secret_access_key"] for u in made["users"] for k in u["keys"]])

    missing = run_audit(endpoint, tmp_path, label="missing", extra_vars={"rotor_audit_previous_report": str(tmp_path / "nope.json")})
    assert missing.returncode != 0 and "rotor_audit_previous_report" in missing.stdout and "is not a file" in missing.stdout
    not_a_report = tmp_path / "other.json"
    not_a_report.write_text(json.dumps({"hello": 1}))
    wrong = run_audit(endpoint, tmp_path, label="wrong", extra_vars={"rotor_audit_previous_report": str(not_a_report)})
    assert wrong.returncode != 0 and "is not a JSON report of rotor.iam.audit" in wrong.stdout
    assert "Traceback" not in wrong.stdout + wrong.stderr
