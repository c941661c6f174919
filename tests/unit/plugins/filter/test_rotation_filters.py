"""Unit tests for the rotation filters (plugins/filter/rotation.py): the role's work lists and summaries."""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.rotor.iam.plugins.filter.rotation import inventory_fleet
from ansible_collections.rotor.iam.plugins.filter.rotation import key_proofs
from ansible_collections.rotor.iam.plugins.filter.rotation import proof_failures
from ansible_collections.rotor.iam.plugins.filter.rotation import rotation_failure_message
from ansible_collections.rotor.iam.plugins.filter.rotation import rotation_result
from ansible_collections.rotor.iam.plugins.filter.rotation import rotation_run_summary
from ansible_collections.rotor.iam.plugins.filter.rotation import rotation_summary

OLD, NEW = "AKIAOLDOLDOLDOLDOLD1", "AKIANEWNEWNEWNEWNEW2"
FILE = {"path": "/etc/app/credentials", "format": "aws_credentials"}


def plan(**overrides):
    base = {"due": True, "error": None, "old_key_id": OLD, "hosts": ["web1", "web2"], "fleet_hosts": ["web1", "web2"],
            "hosts_outside_play": [], "staged": False, "old_key_disabled": False, "new_key_id": None, "resume": None}
    base.update(overrides)
    return base


def hostvars(**per_host):
    return {host: dict({"rotor_iam_user": "app", "rotor_credentials_files": [FILE]}, **facts) for host, facts in per_host.items()}


def test_inventory_fleet_sees_every_host_that_names_a_user_even_outside_the_play():
    facts = {"web1": {"rotor_iam_user": "app"}, "web2": {"rotor_iam_user": "app"}, "db1": {"rotor_iam_user": "db"},
             "bastion": {}, "odd": {"rotor_iam_user": 42}}
    assert inventory_fleet(facts, ["web2", "db1", "web1", "bastion", "odd"]) == {"app": ["web1", "web2"], "db": ["db1"]}


def test_inventory_fleet_reports_malformed_input():
    with pytest.raises(AnsibleFilterError, match="inventory_fleet"):
        inventory_fleet(None, ["web1"])


def test_rotation_result_rolls_back_a_user_whose_key_change_was_not_confirmed():
    facts = hostvars(web1={"__rotor_state": "healthy", "__rotor_wrote": True}, web2={"__rotor_state": "healthy", "__rotor_wrote": True})
    outcome = rotation_result({"app": plan()}, facts, ["web1", "web2"], ["web1", "web2"],
                              user_failures={"app": "AWS did not confirm that it rejects key AKIA... in time"})
    assert outcome["app"]["action"] == "rollback"
    assert outcome["app"]["message"].startswith("failed: AWS did not confirm")


@pytest.mark.parametrize(
    "overrides, action, keep",
    [({}, "cutover", False), ({"staged": True, "hosts_outside_play": ["web3"]}, "staged", False)],
    ids=["whole-fleet", "staged"],
)
def test_rotation_result_cutover_or_staged_when_every_host_is_healthy(overrides, action, keep):
    facts = hostvars(web1={"__rotor_state": "healthy", "__rotor_wrote": True}, web2={"__rotor_state": "healthy", "__rotor_wrote": True})
    outcome = rotation_result({"app": plan(**overrides)}, facts, ["web1", "web2"], ["web1", "web2"])
    assert outcome["app"]["action"] == action and outcome["app"]["keep_new_key"] is keep


@pytest.mark.parametrize(
    "overrides, action, keep",
    [({}, "rollback", False), ({"old_key_disabled": True}, "failed", False),
     ({"staged": True, "hosts_outside_play": ["web3"], "new_key_id": NEW}, "rollback", True)],
    ids=["rollback", "disabled-old-key-never-rolled-back-onto", "staged-resumed-key-kept"],
)
def test_rotation_result_when_a_host_fails(overrides, action, keep):
    facts = hostvars(web1={"__rotor_state": "healthy", "__rotor_wrote": True},
                     web2={"__rotor_state": "failed", "__rotor_wrote": True, "__rotor_failure": {"check": "health check", "msg": "503"}})
    outcome = rotation_result({"app": plan(**overrides)}, facts, ["web1", "web2"], ["web1", "web2"])
    assert outcome["app"]["action"] == action and outcome["app"]["keep_new_key"] is keep
    assert "host web2 failed health check: 503" in outcome["app"]["message"]


def test_key_proofs_pick_a_switched_host_and_its_first_file():
    outcome = {"app": {"action": "cutover", "switched_hosts": ["web2"]}, "db": {"action": "rollback", "switched_hosts": []}}
    proofs = key_proofs(outcome, {"app": plan(), "db": plan()}, hostvars(web1={}, web2={}), "cutover")
    assert proofs == [{"user": "app", "access_key_id": OLD, "host": "web2", "file": FILE}]


def test_key_proofs_only_for_the_users_asked():
    outcome = {"app": {"action": "rollback", "switched_hosts": ["web1"]}}
    assert key_proofs(outcome, {"app": plan()}, hostvars(web1={}), "rollback", users=[]) == []


def test_proof_failures_name_key_and_host_never_a_secret():
    checks = [
        {"skipped": True, "item": {"failed": True, "msg": "no backup holds AKIA...", "item": {"user": "app", "access_key_id": OLD, "host": "web1"},
                                   "secret_access_key": "s3cr3t"}},
        {"failed": True, "msg": "The access key did not prove invalid within 30s", "item": {
            "secret_access_key": "s3cr3t", "item": {"user": "db", "access_key_id": NEW, "host": "db1"}}},
        {"failed": False, "item": {"item": {"user": "ok", "access_key_id": NEW, "host": "x"}}},
    ]
    failures = proof_failures(checks, "invalid")
    assert set(failures) == {"app", "db"}
    assert OLD in failures["app"] and "web1" in failures["app"]
    assert "within 30s" in failures["db"] and NEW in failures["db"]
    assert "s3cr3t" not in str(failures)


def test_rotation_summary_and_run_summary():
    outcome = {
        "app": {"action": "cutover", "switched_hosts": ["web1", "web2"], "failures": [], "message": ""},
        "canary": {"action": "staged", "switched_hosts": ["c1"], "failures": [], "message": "staged: 1 of 3"},
        "db": {"action": "rollback", "switched_hosts": ["db1"], "failures": [{"host": "db1"}], "message": "host db1 failed"},
        "idle": {"action": "skip", "switched_hosts": [], "failures": [], "message": ""},
    }
    plans = {"app": plan(), "canary": plan(staged=True), "db": plan(), "idle": plan(due=False)}
    summary = rotation_summary(outcome, plans, {"app": {"access_key_id": NEW, "secret_access_key": "s3cr3t"}},
                               reactivation_failures={"db": "AWS did not confirm that it accepts key X in time"})
    assert "s3cr3t" not in str(summary)
    assert summary["app"]["new_access_key_id"] == NEW and summary["app"]["old_key"] == "deleted"
    assert summary["canary"]["old_key"] == "active" and summary["canary"]["hosts_switched"] == ["c1"]
    assert summary["db"]["hosts_switched"] == [] and "accepts key X" in summary["db"]["message"]
    assert summary["idle"]["action"] == "skipped"
    run = rotation_run_summary(summary, "run-1", "2026-12-01T00:00:00Z", 100.0, False, 112.34, "2026-12-01T00:00:12Z")
    assert run["users_rotated"] == ["app"] and run["users_staged"] == ["canary"] and run["users_failed"] == ["db"]
    assert run["users_skipped"] == ["idle"] and run["hosts_switched"] == ["c1", "web1", "web2"] and run["duration_seconds"] == 12.3


def test_failure_message_names_users_and_unrestored_hosts():
    summary = {"db": {"action": "rollback", "message": "host db1 failed health check"},
               "leak": {"action": "failed", "message": "host l1 failed"}, "app": {"action": "cutover", "message": ""}}
    message = rotation_failure_message(summary, {"db1": {"__rotor_restore_failure": "restore: unreachable"}, "l1": {}}, ["db1", "l1"])
    assert "Rotation of db rolled back: host db1 failed health check." in message
    assert "db1 (restore: unreachable)" in message
    assert "Rotation of leak failed on hosts that cannot go back" in message
    assert rotation_failure_message({"app": {"action": "cutover", "message": ""}}) == ""
