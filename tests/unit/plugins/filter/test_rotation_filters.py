"""Unit tests for the rotation filters (plugins/filter/rotation.py): the role's work lists and summaries."""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.rotor.iam.plugins.filter.rotation import fleet_users
from ansible_collections.rotor.iam.plugins.filter.rotation import lockable_users
from ansible_collections.rotor.iam.plugins.filter.rotation import plan_lines
from ansible_collections.rotor.iam.plugins.filter.rotation import rotation_plan
from ansible_collections.rotor.iam.plugins.module_utils._rotation.hosts import host_state
from rotation_builders import OLD, Registers, hostvars, plan

_REGISTERS = Registers()
read, switched = _REGISTERS.read, _REGISTERS.switched


HEALTHY = switched()


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


def test_a_failed_recheck_names_the_url_without_its_credentials():
    facts = dict(HEALTHY, __rotor_recheck={"failed": True, "msg": "HTTP 503"}, rotor_health_check={"url": "http://ops:s3cr3t@h/"})
    assert host_state(facts)["failure"]["check"] == "health check after deactivating the old key (http://********@h/)"
