"""The plan from what the plan step registered (plugins/module_utils/_rotation/plan_inputs.py): the hosts' reads, the
locks, the key listings and the destinations' reads become plans; which host and file hold a key. The filter that calls
them, rotor.iam.rotation_start, is tested in tests/unit/plugins/filter/test_engine_filters.py."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.rotor.iam.plugins.filter.engine import rotation_start
from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan_inputs import key_holder
from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan_inputs import known_variables
from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan_inputs import rotation_plan
from ansible_collections.rotor.iam.plugins.module_utils._rotation.run import RunError
from rotation_builders import FILE, NEW, OLD, Registers, hostvars

_REGISTERS = Registers()
read = _REGISTERS.read
KEY = {"access_key_id": OLD, "status": "Active", "age_days": 120, "create_date": "2026-08-01T00:00:00Z", "last_used": None}


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
    infos = [{"item": "app", "user_name": "app", "access_keys": [KEY]}]
    facts = hostvars(web1=read(OLD), web2=read(OLD))
    plans = rotation_plan(infos, hostvars=facts, play_hosts=["web1", "web2"], max_age_days=90)
    assert plans["app"]["due"] and plans["app"]["old_key_id"] == OLD and plans["app"]["hosts"] == ["web1", "web2"]


def test_the_plan_reads_the_register_the_caller_names():
    """No register name is the engine's: under another name, the plan and the key's holder are read from it alone."""
    renamed = Registers(read="plan_time_read")
    infos = [{"item": "app", "user_name": "app", "access_keys": [KEY]}]
    facts = hostvars(web1=renamed.read(OLD), web2=renamed.read(OLD))
    names = {"read": "plan_time_read"}
    plans = rotation_plan(infos, hostvars=facts, play_hosts=["web1", "web2"], registers=names)
    assert plans["app"]["due"] and plans["app"]["hosts"] == ["web1", "web2"] and not plans["app"]["error"]
    assert key_holder(facts, ["web1", "web2"], OLD, names) == {"host": "web1", "file": FILE}
    # The role's default name finds nothing there: no host holds the key as far as the engine can see.
    assert key_holder(facts, ["web1", "web2"], OLD) == {}


def test_rotation_plan_hands_the_holders_warnings_to_warn_and_refuses_an_unknown_variable():
    infos = [{"item": "app", "user_name": "app", "access_keys": [KEY]}]
    # web2 holds the key but names no user: a warning; web1 carries a misspelt rotor_* variable: its user is refused.
    facts = dict(hostvars(web1=dict(read(OLD), rotor_credential_files=[FILE])), web2=dict(read(OLD), rotor_credentials_files=[FILE]))
    warned = []
    plans = rotation_plan(infos, hostvars=facts, play_hosts=["web1", "web2"], warn=warned.append)
    assert "`rotor_credential_files` is not a rotor.iam variable; did you mean `rotor_credentials_files`?" in plans["app"]["error"]
    assert len(warned) == 1 and "web2" in warned[0], warned
    # Without warn, the same plan is made and nothing is shown.
    assert rotation_plan(infos, hostvars=facts, play_hosts=["web1", "web2"])["app"]["error"] == plans["app"]["error"]


def test_the_known_variables_are_read_from_this_collections_roles_and_playbooks():
    known = known_variables()
    assert {"rotor_iam_user", "rotor_credentials_files", "rotor_secret_destinations"} <= known
    assert "rotor_credential_files" not in known


def test_rotation_plan_raises_the_engines_errors_on_malformed_input():
    with pytest.raises(KeyError):
        rotation_plan([], hostvars={}, play_hosts=["web1"])  # a play host without its variables
    with pytest.raises(ValueError):
        rotation_plan([], hosts={}, max_age_days="ninety")


def test_key_holder_names_the_host_and_file_that_hold_a_key():
    facts = hostvars(web1=read(NEW), web2=read(OLD))
    assert key_holder(facts, ["web1", "web2"], OLD) == {"host": "web2", "file": FILE}
    assert key_holder(facts, ["web1"], OLD) == {} and key_holder(facts, None, OLD) == {}


def test_key_holder_refuses_files_that_do_not_match_the_read_and_the_filter_names_itself():
    facts = hostvars(web1=read(NEW, OLD))  # two keys read, one file declared
    with pytest.raises(RunError, match="host web1: rotor_credentials_files has 1 entries"):
        key_holder(facts, ["web1"], OLD)
    with pytest.raises(KeyError):
        key_holder({}, ["web1"], OLD)
    # The filter that calls it (for the old key's holder) turns the engine's error into Ansible's, naming itself.
    fleet = {"users": {"app": {"user_name": "app", "hosts": ["web1"], "connection": {}, "error": None}}, "host_refs": {}, "fleet": {}}
    record = {"run_id": "r", "started": "", "started_epoch": 0, "check_mode": False, "old_key_action": "delete", "settings": {},
              "fleet": fleet}
    infos = [{"item": "app", "user_name": "app", "access_keys": [KEY]}]
    with pytest.raises(AnsibleFilterError, match=r"^rotor\.iam\.rotation_start: malformed input \(host web1: rotor_credentials_files"):
        rotation_start(record, step="plan", key_infos=infos, locks=[{"item": "app", "journal": {}}], hostvars=facts, play_hosts=["web1"])
