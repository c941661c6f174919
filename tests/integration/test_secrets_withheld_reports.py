"""A secret where a key id belongs never shows in the rotate role's plan, summary and compromised-keys report, nor
in the audit's reports, which are written 0600 (issue 20, point 4), through ansible-playbook at -vvv.

The secret sits in a Secrets Manager destination with id and secret swapped, in rotor_compromised_key_ids, and in
hand-written rotor:* journal tags. Every output, log, summary file and report is scanned for it.
"""

from __future__ import annotations

import json
import stat
import time
import uuid
from pathlib import Path

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from support import assert_no_leaks, leaks_in_files, rotor_vars, run_playbook  # noqa: E402  pylint: disable=wrong-import-position
from support import assert_no_secrets as assert_no_secrets_anywhere  # noqa: E402  pylint: disable=wrong-import-position
from rotation_helpers import assert_no_secrets, key_statuses, run_rotation  # noqa: E402  pylint: disable=wrong-import-position
from test_rotate_organisations import FAST, endpoint, fleet_of  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

pytestmark = pytest.mark.slow

WITHHELD = "(withheld: not an access key id)"
AUDIT = Path(__file__).resolve().parents[2] / "playbooks" / "audit.yml"


def swapped_destination(endpoint, user, key_id, leaked):
    name = f"rotor/keys/swapped-{user}-{uuid.uuid4().hex[:6]}"
    endpoint.boto3_client("secretsmanager").create_secret(
        Name=name, SecretString=json.dumps({"AccessKeyId": leaked, "SecretAccessKey": key_id}))
    return {"user": user, "type": "secretsmanager", "name": name}


def test_the_rotation_shows_no_secret_found_in_a_key_id_slot(endpoint, fleet_of, tmp_path):  # noqa: F811
    fleet, keys = fleet_of({"host1": "wh-rotate"}, {"wh-rotate": 120})
    key_id, key_secret = keys["wh-rotate"]
    leaked = "LeakedIntoAKeyIdSlot/" + uuid.uuid4().hex[:19]
    destination = swapped_destination(endpoint, "wh-rotate", key_id, leaked)
    summary = tmp_path / "summary.json"

    # A secret given as a leaked key id is refused before anything changes, and never shown.
    refused = run_rotation(endpoint, [fleet.inventory_path], tmp_path / "runs", verbosity=3, label=f"run{time.monotonic_ns()}",
                           extra_vars=dict(FAST, rotor_summary_file=str(summary), rotor_secret_destinations=[destination],
                                           rotor_compromised_key_ids=[leaked]))

    assert refused.returncode != 0, refused.explain()
    assert "rotor_compromised_key_ids: entry 1 (a text of 40 characters) is not an access key id" in refused.stdout, refused.explain()
    assert key_statuses(endpoint, "wh-rotate") == {key_id: "Active"}
    assert_no_secrets(refused, {"the secret in the key-id slots": leaked, "old secret": key_secret})

    run = run_rotation(endpoint, [fleet.inventory_path], tmp_path / "runs", verbosity=3, label=f"run{time.monotonic_ns()}",
                       extra_vars=dict(FAST, rotor_summary_file=str(summary), rotor_secret_destinations=[destination]))

    assert run.returncode == 0, run.explain()
    assert f"secretsmanager:{destination['name']} (on {WITHHELD})" in run.stdout, run.explain()
    statuses = key_statuses(endpoint, "wh-rotate")
    assert key_id not in statuses and len(statuses) == 1  # rotated, the destination too
    secrets = {"the secret in the key-id slots": leaked, "old secret": key_secret, "new secret": fleet.read_credentials("host1")[1]}
    assert_no_secrets(run, secrets)
    assert_no_leaks(leaks_in_files([summary], secrets), "the summary file")


def test_the_audit_reports_withhold_it_and_are_owner_only(endpoint, tmp_path):  # noqa: F811
    iam = endpoint.boto3_client("iam")
    user = f"wh-audit-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=user)
    created = iam.create_access_key(UserName=user)["AccessKey"]
    leaked = "LeakedIntoAKeyIdSlot/" + uuid.uuid4().hex[:19]
    destination = swapped_destination(endpoint, user, created["AccessKeyId"], leaked)
    iam.tag_user(UserName=user, Tags=[{"Key": "rotor:pending", "Value": leaked}, {"Key": "rotor:current", "Value": leaked}])
    report_dir = tmp_path / "report"

    done = run_playbook(AUDIT, tmp_path, endpoint=endpoint, label="audit", verbosity=3, diff=True, combined=True, log=False, timeout=300,
                        report_dir=report_dir, extra_vars=dict(rotor_vars(endpoint), rotor_report_dir=str(report_dir),
                                                               rotor_secret_destinations=[destination], rotor_audit_scope="account"))

    assert done.returncode == 0, done.stdout[-4000:]
    secrets = {"the secret in the key-id slots": leaked, "the key's secret": created["SecretAccessKey"]}
    assert_no_secrets_anywhere(done, secrets, files=[report_dir])
    reports = sorted(report_dir.iterdir())
    assert {p.suffix for p in reports} == {".json", ".md", ".html"}
    for path in reports:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path.name} is not owner-only"
    report = json.loads((report_dir / "rotor-iam-audit.json").read_text())
    (entry,) = [d for d in report["destinations"] if d["name"] == destination["name"]]
    assert entry["access_key_id"] == WITHHELD
