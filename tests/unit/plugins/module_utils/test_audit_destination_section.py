"""The audit's secret destinations (plugins/module_utils/_audit/destinations.py): which key id each holds,
that key's IAM state, the finding, and the section in every rendering."""

import datetime
import json

import pytest

from ansible_collections.rotor.iam.plugins.module_utils.audit import AuditInputError
from ansible_collections.rotor.iam.plugins.module_utils.audit import build_audit
from ansible_collections.rotor.iam.plugins.module_utils.audit import destination_records
from ansible_collections.rotor.iam.plugins.module_utils.audit import render_all

NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.timezone.utc)


def key(user, key_id, age, status="Active"):
    created = (NOW - datetime.timedelta(days=age)).isoformat()
    return {"user_name": user, "user": user, "position": 1, "access_key_id": key_id, "status": status,
            "active": status == "Active", "create_date": created, "last_rotated": created, "age_days": age,
            "last_used_date": None, "last_used_service": None, "last_used_region": None}


KEY_INFO = {
    "access_keys": [key("app", "AKIAAPPNEW0000000000", 3), key("app", "AKIAAPPOLD0000000000", 100, "Inactive"), key("old", "AKIAOLD0000000000000", 200)],
    "users": [{"user_name": u, "arn": f"arn:aws:iam::123456789012:user/{u}", "access_key_count": 1, "active_key_count": 1}
              for u in ("app", "old")],
    "report_generated_time": NOW.isoformat(), "report_age_seconds": 1, "report_requested": False,
}


def read(user, kind, name, access_key_id=None, exists=True, **result):
    item = {"user": user, "type": kind, "name": name}
    if "failed" in result:
        return dict(result, item=item)
    return dict(result, item=item, type=kind, name=name, access_key_id=access_key_id, exists=exists, changed=False)


READS = {"results": [
    read("app", "secretsmanager", "rotor/keys/app", "AKIAAPPNEW0000000000"),
    read("app", "ssm", "/rotor/keys/app", "AKIAAPPOLD0000000000"),
    read("app", "ssm", "/rotor/keys/gone", None, exists=False),
    read("app", "secretsmanager", "rotor/keys/deleted", "AKIADELETED000000000"),
    read("old", "secretsmanager", "rotor/keys/old", "AKIAOLD0000000000000"),
    read("app", "secretsmanager", "rotor/keys/denied", failed=True, msg="Access denied for secretsmanager:GetSecretValue"),
    {"skipped": True, "item": {"user": "x", "type": "ssm", "name": "/skipped"}},
]}


@pytest.fixture
def report():
    return build_audit(KEY_INFO, max_age_days=90, now=NOW, destinations=destination_records(READS))


@pytest.mark.parametrize("name, status, finding", [
    ("rotor/keys/app", "Active", None),
    ("/rotor/keys/app", "Inactive", "holds AKIAAPPOLD0000000000, which is Inactive"),
    ("/rotor/keys/gone", None, "does not exist"),
    ("rotor/keys/deleted", None, "holds AKIADELETED000000000, which is not an access key of app (deleted?)"),
    ("rotor/keys/old", "Active", "holds AKIAOLD0000000000000, which is due for rotation"),
    ("rotor/keys/denied", None, "could not be read: Access denied for secretsmanager:GetSecretValue"),
])
def test_each_destination_with_its_keys_state_and_finding(report, name, status, finding):
    row = {d["name"]: d for d in report["destinations"]}[name]
    assert (row["status"], row["finding"]) == (status, finding)


def test_summary_counts_destinations_and_findings_and_skips_skipped_reads(report):
    assert report["summary"]["destinations"] == 6
    assert report["summary"]["destination_findings"] == 5


def test_every_rendering_shows_the_key_ids_and_messages_name_the_findings(report):
    rendered = render_all(report)
    assert json.loads(rendered["documents"]["json"])["destinations"] == report["destinations"]
    assert "## Secret destinations (6)" in rendered["documents"]["md"]
    assert "| app | ssm | /rotor/keys/app | AKIAAPPOLD0000000000 | Inactive |" in rendered["documents"]["md"]
    assert '<h2 id="secret-destinations">Secret destinations (6)</h2>' in rendered["documents"]["html"]
    assert "AKIADELETED000000000" in rendered["documents"]["html"]
    assert "ssm destination /rotor/keys/gone (user app): does not exist" in rendered["messages"]
    assert "6 secret destinations read, 5 destination findings" in rendered["summary_text"]


def test_no_destinations_is_an_empty_section_and_no_markdown_heading():
    report = build_audit(KEY_INFO, now=NOW)
    assert report["destinations"] == [] and report["summary"]["destinations"] == 0
    assert "Secret destinations" not in render_all(report)["documents"]["md"]


def test_bad_input_names_what_is_expected():
    with pytest.raises(AuditInputError, match="registered results of rotor.iam.secret_destination"):
        destination_records("not a list")
