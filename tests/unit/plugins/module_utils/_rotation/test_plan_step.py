"""The plan step's reads before the plan (plugins/module_utils/_rotation/plan_step.py): the run's name, its checked
settings, the callers that cannot reach AWS, the locks taken, the leaked keys no user of the run owns."""

import datetime

from ansible_collections.rotor.iam.plugins.module_utils._rotation import plan_step

OWNED, LEAKED = "AKIAOWNEDOWNEDOWNED1", "AKIALEAKEDLEAKEDLEA2"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_a_run_is_named_by_rotor_run_id_else_by_its_start_and_a_random_number():
    when = datetime.datetime(2026, 12, 1, 10, 20, 30, tzinfo=datetime.timezone.utc)
    assert plan_step.name_run("awx-42", when)["run_id"] == "awx-42"
    named = plan_step.name_run("", when)
    assert named["run_id"].startswith("20261201T102030Z-") and named["started"] == "2026-12-01T10:20:30Z"
    assert isinstance(named["started_epoch"], float)


def test_settings_out_of_bounds_refuse_the_run_and_a_secret_among_the_leaked_ids_is_never_kept_nor_shown():
    settings, problems = plan_step.plan_settings({"rotor_compromised_key_ids": [LEAKED, SECRET], "rotor_max_key_age_days": 90})
    assert settings == {} and len(problems) == 1 and SECRET not in problems[0]
    settings, problems = plan_step.plan_settings({"rotor_batch_size": 0})
    assert settings == {} and "rotor_batch_size" in problems[0]


def test_the_plan_reads_the_checked_settings_under_its_own_names():
    settings, problems = plan_step.plan_settings({"rotor_compromised_key_ids": f"{LEAKED}, {LEAKED}", "rotor_max_key_age_days": 30,
                                                  "rotor_force": True, "rotor_delete_inactive_after_days": 7,
                                                  "rotor_in_use_window_minutes": 60, "rotor_drain_seconds": 0})
    assert problems == []
    assert settings == {"max_age_days": 30, "force": True, "delete_inactive_after_days": 7, "in_use_window_minutes": 60,
                        "compromised_key_ids": [LEAKED]}


def test_only_connection_errors_stop_the_run_each_message_once():
    callers = [{"error_code": "ConnectionError", "msg": "Cannot reach AWS STS at http://127.0.0.1:9"},
               {"error_code": "ConnectionError", "msg": "Cannot reach AWS STS at http://127.0.0.1:9"},
               {"failed": True, "error_code": "InvalidClientTokenId", "msg": "refused"}, {"account": "123456789012"}]
    assert plan_step.unreachable_connections(callers) == ["Cannot reach AWS STS at http://127.0.0.1:9"]
    assert plan_step.unreachable_connections([]) == []


def test_locks_taken_and_locks_taken_over():
    locks = [{"item": "a", "changed": False}, {"item": "b", "failed": True}, {"item": "c", "skipped": True}]
    assert plan_step.locked_users(locks) == ["a"] and plan_step.locked_users(locks, check_mode=True) == []
    assert plan_step.lock_notes([{"item": "a", "lock_note": "took over the lock of dead run r-1"}, {"item": "b", "lock_note": None}]) == [
        {"user": "a", "note": "took over the lock of dead run r-1"}]


def test_leaked_keys_no_user_of_the_run_owns_are_named_and_a_secret_is_withheld():
    infos = [{"item": "app", "access_keys": [{"access_key_id": OWNED}]}, {"item": "gone", "failed": True, "msg": "no such user"}]
    assert plan_step.compromised_not_found([OWNED, LEAKED], infos) == [LEAKED]
    found = plan_step.compromised_not_found(f"{SECRET} {OWNED}", infos)
    assert len(found) == 1 and SECRET not in found[0] and "withheld" in found[0]
