"""Unit tests for the rotation filters (plugins/filter/rotation.py): the role's work lists and summaries."""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.rotor.iam.plugins.filter.rotation import fleet_users
from ansible_collections.rotor.iam.plugins.filter.rotation import key_proofs
from ansible_collections.rotor.iam.plugins.filter.rotation import proof_failures
from ansible_collections.rotor.iam.plugins.filter.rotation import lockable_users
from ansible_collections.rotor.iam.plugins.filter.rotation import locks_still_held
from ansible_collections.rotor.iam.plugins.filter.rotation import locks_to_renew
from ansible_collections.rotor.iam.plugins.filter.rotation import plan_lines
from ansible_collections.rotor.iam.plugins.filter.rotation import plan_users
from ansible_collections.rotor.iam.plugins.filter.rotation import planned_cutover
from ansible_collections.rotor.iam.plugins.filter.rotation import planned_switches
from ansible_collections.rotor.iam.plugins.filter.rotation import rotation_plan
from ansible_collections.rotor.iam.plugins.filter.rotation import stale_keys_of_users_not_due
from ansible_collections.rotor.iam.plugins.filter.rotation import succeeded_items
from ansible_collections.rotor.iam.plugins.filter.rotation import users_to_switch
from ansible_collections.rotor.iam.plugins.module_utils._rotation.hosts import host_state
from rotation_builders import FILE, NEW, OLD, Registers, hostvars, plan

_REGISTERS = Registers()
read, switched = _REGISTERS.read, _REGISTERS.switched


HEALTHY = switched()


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


# --------------------------------------------------------------------------- host states from registered results

def test_host_state_follows_the_phases():
    assert host_state(read(OLD))["state"] == "untouched" and host_state(read(OLD))["key_ids"] == [OLD]
    assert host_state({})["reachable"] is False
    healthy = host_state(dict(HEALTHY))
    assert healthy["state"] == "healthy" and healthy["wrote"] and healthy["moved_at"] == "2026-12-01T10:00:00Z"
    rechecked = host_state(dict(HEALTHY, __rotor_recheck={"failed": True, "msg": "HTTP 503", "attempts": 3}, rotor_health_check={"url": "http://h/"}))
    assert rechecked["state"] == "failed"
    assert rechecked["failure"] == {"check": "health check after deactivating the old key (http://h/)", "msg": "HTTP 503"}
    assert host_state(dict(HEALTHY, __rotor_recheck={"skipped": True}))["state"] == "healthy"
    assert host_state(switched(unreachable=True))["state"] == "unreachable"
    assert host_state(dict(HEALTHY), in_play=False)["state"] == "unreachable"
    restored = host_state(dict(HEALTHY, __rotor_settle={"changed": True, "restored": True, "invocation": {"module_args": {"state": "restored"}}}))
    assert restored["restored"] and not restored["restore_failure"]
    cleanup_failed = {"failed": True, "msg": "x", "step": "backups", "invocation": {"module_args": {"state": "backups_absent"}}}
    cleaned = host_state(dict(HEALTHY, __rotor_settle=cleanup_failed))
    assert not cleaned["restored"] and not cleaned["restore_failure"]


def test_users_to_switch_stops_later_batches_after_a_failure():
    plans = {"app": plan(), "db": plan(), "idle": plan(due=False), "refused": plan(error="locked")}
    assert users_to_switch(plans, hostvars(web1=HEALTHY, web2=read(OLD)), ["web1", "web2"]) == ["app", "db"]
    assert users_to_switch(plans, hostvars(web1=HEALTHY), ["web1"], create_errors={"db": "not accepted"}) == ["app"]
    failed = hostvars(web1=switched(failure={"check": "health check", "msg": "503"}), web2=read(OLD))
    assert users_to_switch(plans, failed, ["web1", "web2"]) == []
    assert users_to_switch(plans, failed, ["web1", "web2"], check_mode=True) == ["app", "db"]


def test_work_lists_from_plan_and_outcome():
    plans = {"b": plan(), "a": plan(), "idle": plan(due=False, stale_inactive_key_ids=[OLD]), "no": plan(error="locked")}
    assert plan_users(plans) == ["a", "b"] and plan_users(plans, "not_due") == ["idle"] and plan_users(plans, "refused", ["a"]) == []
    assert plan_users(plans, "due", among=["b", "idle"]) == ["b"]
    with pytest.raises(AnsibleFilterError, match="kind must be one of"):
        plan_users(plans, "bogus")
    assert stale_keys_of_users_not_due(plans) == [{"user": "idle", "access_key_id": OLD}]
    assert lockable_users({"users": {"b": {"error": None}, "a": {"error": None}, "x": {"error": "disagree"}}}) == ["a", "b"]
    assert succeeded_items([{"item": "a"}, {"item": "b", "failed": True}]) == ["a"]
    assert locks_still_held(["a", "b", "c"], {"results": [{"item": "a"}]}, [{"item": "c", "failed": True}], {}) == ["b", "c"]


def test_locks_are_renewed_once_half_their_ttl_has_passed():
    plans = {"a": plan(), "idle": plan(due=False)}
    assert locks_to_renew(plans, ["a", "idle"], 1000, 60, now_epoch=1000 + 29 * 60) == []
    assert locks_to_renew(plans, ["a", "idle"], 1000, 60, now_epoch=1000 + 31 * 60) == ["a"]
    assert locks_to_renew(plans, [], 1000, 1, now_epoch=2000) == []


def test_plan_lines_and_planned_cutover_say_what_happens():
    plans = {"app": plan(reason="key 120 days old", owner="team-a", free_slot_key_id=None, notes=[]),
             "no": plan(error="locked by run r-1", due=False), "ex": plan(due=False, exempt=True, reason="vendor appliance")}
    lines = plan_lines(plans)
    assert lines[0].startswith("app (owner: team-a): ROTATE - key 120 days old; old key " + OLD + " will be deleted; hosts: web1, web2")
    assert "ex: EXEMPT - vendor appliance" in lines and "no: CANNOT ROTATE - locked by run r-1" in lines
    (cutover,) = planned_cutover(plans, "deactivate")
    assert cutover.startswith(f"app: would deactivate {OLD}") and f"leave {OLD} Inactive" in cutover


def test_planned_cutover_of_a_finish_job_follows_the_decision_already_known():
    plans = {"app": plan(reason="resuming", notes=[]), "ok": plan(reason="resuming", notes=[])}
    outcome = {"app": {"action": "rollback", "message": "host web2 failed health check"}, "ok": {"action": "cutover"}}
    lines = dict(line.split(": ", 1) for line in planned_cutover(plans, "delete", outcome, {"app": {"access_key_id": "AKIANEW"}}))
    assert lines["app"].startswith("would roll back (host web2 failed health check)") and "delete AKIANEW" in lines["app"]
    assert lines["ok"].startswith(f"would deactivate {OLD}") and f"then delete {OLD}" in lines["ok"]


def test_plan_lines_name_a_users_destinations():
    lines = plan_lines({"app": plan(reason="key 120 days old", notes=[], hosts=[], destinations={"ssm:/k/app": OLD})})
    assert f"hosts: (none); destinations: ssm:/k/app (on {OLD})" in lines[0]


def test_fleet_users_adds_a_user_only_destinations_name_with_the_destinations_connection():
    facts = hostvars(web1=dict(read(OLD), rotor_aws_region="eu-west-1"))
    destinations = [{"user": "app", "type": "ssm", "name": "/k/app"},  # a user the hosts name: nothing added
                    {"user": "lambda-app", "type": "secretsmanager", "name": "k/lambda", "region": "us-east-1"},
                    {"user": "123456789012:batch", "type": "ssm", "name": "/k/batch"}]
    users = fleet_users(facts, ["web1"], destinations=destinations)["users"]
    assert sorted(users) == ["123456789012:batch", "app", "lambda-app"]
    assert users["lambda-app"]["hosts"] == [] and users["lambda-app"]["connection"]["region"] == "us-east-1"
    assert users["123456789012:batch"]["user_name"] == "batch" and users["123456789012:batch"]["account"] == "123456789012"
    assert users["123456789012:batch"]["connection"]["region"] == "eu-west-1"  # the play's first host's
    # A destination that names a user of the hosts another way never makes a second reference to that user.
    assert "999999999999:app" not in fleet_users(facts, ["web1"], destinations=[{"user": "999999999999:app"}])["users"]


def test_fleet_users_and_lockable_users_refuse_malformed_input_with_one_clear_error():
    with pytest.raises(AnsibleFilterError, match="rotor.iam.fleet_users: malformed input"):
        fleet_users({}, ["web1"])
    with pytest.raises(AnsibleFilterError, match="rotor.iam.lockable_users: malformed input"):
        lockable_users({"users": ["not", "a", "mapping"]})


def test_rotation_plan_counts_what_destinations_hold_and_refuses_a_user_whose_destination_cannot_be_read():
    keys = [{"access_key_id": OLD, "status": "Active", "age_days": 120, "create_date": "2026-08-01T00:00:00Z"}]
    infos = [{"item": user, "user_name": user, "access_keys": keys} for user in ("lone", "broken")]
    reads = {"results": [{"item": {"user": "lone", "type": "ssm", "name": "/k/lone"}, "access_key_id": OLD},
                         {"item": {"user": "broken", "type": "ssm", "name": "/k/broken"}, "failed": True, "msg": "AccessDenied"}]}
    users = {"users": {u: {"user_name": u, "hosts": [], "connection": {}, "error": None} for u in ("lone", "broken")}, "host_refs": {}}
    plans = rotation_plan(infos, hosts={}, users=users, destination_reads=reads)
    assert plans["lone"]["due"] and plans["lone"]["destinations"] == {"ssm:/k/lone": OLD} and not plans["lone"]["error"]
    assert "its ssm destination /k/broken could not be read (AccessDenied)" in plans["broken"]["error"]


def test_rotation_plan_reads_the_hosts_registered_reads():
    infos = [{"item": "app", "user_name": "app", "access_keys": [{"access_key_id": OLD, "status": "Active", "age_days": 120,
                                                                  "create_date": "2026-08-01T00:00:00Z", "last_used": None}]}]
    facts = hostvars(web1=read(OLD), web2=read(OLD))
    plans = rotation_plan(infos, hostvars=facts, play_hosts=["web1", "web2"], max_age_days=90)
    assert plans["app"]["due"] and plans["app"]["old_key_id"] == OLD and plans["app"]["hosts"] == ["web1", "web2"]


def test_planned_switches_name_key_paths_restarts_and_checks():
    facts = hostvars(web1=dict(read(OLD), rotor_restart_services=["app"], rotor_health_check={"url": "http://web1/health"}),
                     db1=dict(read(OLD), rotor_iam_user="db"))
    assert planned_switches({"app": plan(), "db": plan(due=False)}, facts, ["web1", "db1"]) == [
        f"web1: would write the new key of app over {OLD} in /etc/app/credentials; would restart app; would check http://web1/health"]


def test_planned_switches_never_show_url_credentials():
    facts = hostvars(web1=dict(read(OLD), rotor_health_check={"url": "http://ops:s3cr3t@web1/health"}))
    (line,) = planned_switches({"app": plan()}, facts, ["web1"])
    assert "s3cr3t" not in line and "web1/health" in line


def test_a_failed_recheck_names_the_url_without_its_credentials():
    facts = dict(HEALTHY, __rotor_recheck={"failed": True, "msg": "HTTP 503"}, rotor_health_check={"url": "http://ops:s3cr3t@h/"})
    assert host_state(facts)["failure"]["check"] == "health check after deactivating the old key (http://********@h/)"
