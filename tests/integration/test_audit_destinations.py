"""The audit reports which key id each secret destination holds (rotor_secret_destinations), end to end.

playbooks/audit.yml runs against the test endpoint (IAM, Secrets Manager and SSM over HTTP, auth enforced) with
destinations that hold the user's Active key, its Inactive key, a deleted key, one that does not exist and one the
audit's identity may not read. conftest.run_playbook (-vvvv --diff) fails the test if any secret appears in the output.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from support import PlaybookResult, assert_no_secrets, rotor_vars, run_playbook

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "audit.yml"


@pytest.fixture
def run_audit(endpoint, tmp_path, known_secrets):
    """playbooks/audit.yml at -vvvv --diff as the endpoint's admin; its output is scanned for every known secret."""

    def run(**extra_vars) -> PlaybookResult:
        completed = run_playbook(PLAYBOOK, tmp_path, endpoint=endpoint, label="audit", extra_vars=dict(extra_vars, **rotor_vars(endpoint)),
                                 verbosity=4, diff=True, combined=True, log=False, timeout=300,
                                 report_dir=Path(extra_vars["rotor_report_dir"]))
        secrets = {f"known #{n}": s for n, s in enumerate(known_secrets + [endpoint.admin_secret_access_key])}
        assert_no_secrets(completed, secrets, files=[Path(extra_vars["rotor_report_dir"])])
        return completed

    return run


def test_audit_lists_the_key_id_each_destination_holds(run_audit, endpoint, iam, create_key, tmp_path, known_secrets):
    user = f"it-dest-audit-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=user)
    (active_id, active_secret), (inactive_id, inactive_secret) = create_key(user), create_key(user, status="Inactive")
    secretsmanager, ssm = endpoint.boto3_client("secretsmanager"), endpoint.boto3_client("ssm")
    suffix = uuid.uuid4().hex[:6]
    names = {"active": f"rotor/keys/{suffix}-active", "inactive": f"/rotor/keys/{suffix}-inactive",
             "deleted": f"rotor/keys/{suffix}-deleted", "missing": f"/rotor/keys/{suffix}-missing"}
    secretsmanager.create_secret(Name=names["active"], SecretString=json.dumps(
        {"AccessKeyId": active_id, "SecretAccessKey": active_secret, "Region": "eu-west-1"}))
    ssm.put_parameter(Name=names["inactive"], Type="SecureString", Value=json.dumps(
        {"id": inactive_id, "secret": inactive_secret}))
    secretsmanager.create_secret(Name=names["deleted"], SecretString=json.dumps(
        {"AccessKeyId": "AKIADELETEDKEY000000", "SecretAccessKey": "d" * 40}))
    known_secrets.append("d" * 40)
    destinations = [
        {"user": user, "type": "secretsmanager", "name": names["active"]},
        {"user": user, "type": "ssm", "name": names["inactive"], "access_key_id_field": "id",
         "secret_access_key_field": "secret"},
        {"user": user, "type": "secretsmanager", "name": names["deleted"]},
        {"user": user, "type": "ssm", "name": names["missing"]},
    ]
    report_dir = tmp_path / "report"

    run = run_audit(rotor_report_dir=str(report_dir), rotor_secret_destinations=destinations,
                    rotor_audit_scope="account", rotor_audit_user_tags=False)

    assert run.returncode == 0, run.stdout[-5000:]
    report = json.loads((report_dir / "rotor-iam-audit.json").read_text())
    held = {d["name"]: (d["access_key_id"], d["status"], d["finding"]) for d in report["destinations"]}
    assert held == {
        names["active"]: (active_id, "Active", None),
        names["inactive"]: (inactive_id, "Inactive", f"holds {inactive_id}, which is Inactive"),
        names["deleted"]: ("AKIADELETEDKEY000000", None,
                           f"holds AKIADELETEDKEY000000, which is not an access key of {user} (deleted?)"),
        names["missing"]: (None, None, "does not exist"),
    }
    assert report["summary"]["destination_findings"] == 3
    markdown = (report_dir / "rotor-iam-audit.md").read_text()
    assert f"| {user} | secretsmanager | {names['active']} | {active_id} | Active |" in markdown
    assert active_id in (report_dir / "rotor-iam-audit.html").read_text()
    # Only key ids reach the reports.
    for path in report_dir.iterdir():
        text = path.read_text()
        assert active_secret not in text and inactive_secret not in text, path
