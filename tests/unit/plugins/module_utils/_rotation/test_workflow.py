"""Which IAM users the jobs of a workflow act for (module_utils/workflow_run.py), and how a finish job sees hosts
that other jobs switched (module_utils/rotation_state.py, __rotor_observed)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.module_utils._rotation.outcome import rotation_outcome
from ansible_collections.rotor.iam.plugins.module_utils._rotation.hosts import host_state
from ansible_collections.rotor.iam.plugins.module_utils._rotation.workflow import WorkflowRunError
from ansible_collections.rotor.iam.plugins.module_utils._rotation.workflow import check_run
from ansible_collections.rotor.iam.plugins.module_utils._rotation.workflow import finish_plan
from ansible_collections.rotor.iam.plugins.module_utils._rotation.workflow import pending_key_errors
from ansible_collections.rotor.iam.plugins.module_utils._rotation.workflow import pending_keys
from ansible_collections.rotor.iam.plugins.module_utils._rotation.workflow import run_new_keys
from ansible_collections.rotor.iam.plugins.module_utils._rotation.workflow import slice_plan
from ansible_collections.rotor.iam.plugins.module_utils._rotation.workflow import slice_result
from ansible_collections.rotor.iam.plugins.module_utils._rotation.workflow import workflow_users

OLD, NEW = "AKIAOLDOLDOLDOLDOLD1", "AKIANEWNEWNEWNEWNEW2"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
RUN, OTHER = "4711", "4712"


def journal(run=RUN, phase="distributing", lock_run=RUN, expired=False, pending=NEW, current=OLD, **extra):
    lock = {"run_id": lock_run, "expires": "2026-12-01T16:00:00Z", "expired": expired} if lock_run else None
    return dict({"run_id": run, "phase": phase, "pending_key_id": pending, "current_key_id": current, "lock": lock,
                 "in_progress": phase in ("creating", "distributing", "cutover", "rolling_back"), "problems": []}, **extra)


def read(user, entry):
    return {"item": user, "changed": False, "journal": entry}


# --------------------------------------------------------------------------- check_run


@pytest.mark.parametrize("entry, kind", [
    (journal(), "in_run"),
    (journal(phase="completed", lock_run=None), "skipped"),
    (journal(run=OTHER, phase="completed", lock_run=None), "skipped"),
    (journal(run=None, phase=None, lock_run=None, pending=None), "skipped"),
    (journal(run=OTHER, lock_run=OTHER), "error"),
    (journal(run=OTHER, lock_run=None), "error"),          # another run in progress, its lock expired and gone
    (journal(lock_run=OTHER), "error"),                    # our journal, but another run took the lock
    (journal(expired=True), "error"),                      # a slice may not go on without the run's lock
    (journal(lock_run=None), "error"),
    (journal(problems=[{"tag": "rotor:phase", "value": "x", "why": "unknown"}]), "error"),
], ids=["ours", "ours-done", "other-done", "never", "other-locked", "other-in-progress", "lock-taken", "lock-expired",
        "lock-released", "malformed"])
def test_a_distribute_job_acts_only_for_its_own_run_holding_the_lock(entry, kind):
    check = check_run([read("app", entry)], RUN)
    assert ("app" in check["in_run"]) == (kind == "in_run")
    assert ("app" in check["skipped"]) == (kind == "skipped")
    assert bool(check["errors"]) == (kind == "error")


def test_a_refusal_names_both_run_ids_and_what_to_do():
    check = check_run([read("app", journal(run=OTHER, lock_run=OTHER))], RUN)
    message = check["errors"][0]
    assert "run 4711" in message and "run 4712" in message and "rotor_run_id=4712" in message


def test_a_finish_job_may_retake_an_expired_lock_of_its_run_and_resume_a_cutover():
    check = check_run([read("a", journal(expired=True)), read("b", journal(phase="cutover", pending="", current=NEW))], RUN,
                      phases=("distributing", "cutover", "rolling_back"), require_lock=False, job="finish")
    assert check["in_run"] == ["a", "b"] and not check["errors"]
    assert run_new_keys(check) == {"a": {"access_key_id": NEW, "secret_access_key": None}, "b": {"access_key_id": NEW, "secret_access_key": None}}


def test_a_journal_that_cannot_be_read_refuses():
    check = check_run([{"item": "app", "failed": True, "msg": "AccessDenied"}], RUN)
    assert "AccessDenied" in check["errors"][0]


@pytest.mark.parametrize("bad", [[{"journal": {}}], ["x"]])
def test_malformed_input_is_an_error_not_a_refusal(bad):
    with pytest.raises(WorkflowRunError):
        check_run(bad, RUN)


def test_an_empty_run_id_is_an_error():
    with pytest.raises(WorkflowRunError):
        check_run([], "")


runs = st.sampled_from(["4711", "4712", "20261201T120000Z-1", None])
phases = st.sampled_from([None, "creating", "distributing", "cutover", "rolling_back", "completed", "rolled_back"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(runs, phases, runs, st.booleans()), min_size=1, max_size=5), runs.filter(bool))
def test_no_job_ever_acts_for_a_journal_or_lock_of_another_run(entries, run_id):
    """Whatever the journals say: a user is acted on only when both its journal and any live lock are the job's run;
    a user left alone because another run holds it is refused, naming both runs."""
    results = [read(f"u{i}", journal(run=r, phase=p, lock_run=lr, expired=exp)) for i, (r, p, lr, exp) in enumerate(entries)]
    for require_lock in (True, False):
        check = check_run(results, run_id, phases=("distributing", "cutover"), require_lock=require_lock)
        for result in results:
            user, entry = result["item"], result["journal"]
            live_other = entry["lock"] and not entry["lock"]["expired"] and entry["lock"]["run_id"] != run_id
            if user in check["in_run"]:
                assert entry["run_id"] == run_id and not live_other
                assert not require_lock or (entry["lock"]["run_id"] == run_id and not entry["lock"]["expired"])
            if live_other or (entry["run_id"] != run_id and entry["in_progress"]):
                assert user not in check["in_run"] and user not in check["skipped"]
                assert any(f"run {run_id}" in message and user in message for message in check["errors"])


# --------------------------------------------------------------------------- what a distribute job does


def test_a_slice_plan_makes_the_run_users_due_and_no_other():
    check = check_run([read("a", journal()), read("b", journal(run=OTHER, phase="completed", lock_run=None))], RUN)
    plans = slice_plan(check)
    assert plans["a"]["due"] and not plans["b"]["due"] and "not part of run 4711" in plans["b"]["reason"]


def test_pending_keys_come_from_the_store_only_for_the_journal_s_pending_key():
    check = check_run([read("a", journal()), read("b", journal())], RUN)
    reads = [{"item": "a", "exists": True, "access_key_id": NEW, "secret_access_key": SECRET},
             {"item": "b", "exists": True, "access_key_id": OLD, "secret_access_key": SECRET}]
    assert pending_keys(check, reads) == {"a": {"access_key_id": NEW, "secret_access_key": SECRET}}
    errors = pending_key_errors(check, reads)
    assert len(errors) == 1 and "'b'" in errors[0] and OLD in errors[0] and NEW in errors[0]
    missing = pending_key_errors(check, [{"item": "a", "failed": True, "msg": "ResourceNotFoundException"}])
    assert any("ResourceNotFoundException" in message for message in missing)
    assert SECRET not in json.dumps(errors + missing)


def test_the_slice_result_lists_switched_failed_and_untouched_hosts():
    check = check_run([read("a", journal())], RUN)
    states = {"h1": {"user": "a", "state": "healthy"}, "h2": {"user": "a", "state": "failed", "failure": {"check": "health check", "msg": "503"}},
              "h3": {"user": "a", "state": "untouched"}, "h4": {"user": "z", "state": "failed"}}
    result = slice_result(check, states, RUN)
    assert result["switched"] == ["h1"] and list(result["failed"]) == ["h2"] and result["untouched"] == ["h3"]
    assert "h2 failed health check: 503" in result["message"] and "rotor.iam.rotate_finish" in result["message"]
    assert slice_result(check, {"h1": {"user": "a", "state": "healthy"}}, RUN)["message"] == ""


def test_a_check_mode_slice_switches_nobody_and_says_which_hosts_would_take_which_key():
    check = check_run([read("a", journal()), read("b", journal(run=OTHER, phase="completed", lock_run=None))], RUN)
    states = {"h1": {"user": "a", "state": "healthy"}, "h2": {"user": "a", "state": "failed", "failure": {"check": "read", "msg": "EACCES"}},
              "h3": {"user": "b", "state": "untouched"}}
    result = slice_result(check, states, RUN, check_mode=True, host_files={"h1": ["/etc/app/credentials"]})
    assert result["switched"] == [] and result["would_switch"] == ["h1"] and list(result["failed"]) == ["h2"]
    assert result["lines"] == [f"h1: would switch to the new key {NEW} of a (run {RUN}; the run's old key {OLD}) in /etc/app/credentials",
                               "h2: would fail - read: EACCES"]
    assert result["message"].startswith(f"run {RUN} (check mode): 1 hosts of this slice would not take the new key")
    real = slice_result(check, states, RUN)
    assert real["switched"] == ["h1"] and real["would_switch"] == [] and real["lines"] == [] and not real["check_mode"]


# --------------------------------------------------------------------------- what a prepare job publishes


def test_prepare_publishes_key_ids_and_refuses_users_it_could_not_prepare():
    plans = {"a": {"due": True, "old_key_id": OLD, "hosts": ["h2", "h1"], "reason": "old"},
             "b": {"due": False, "reason": "key is 3 days old"},
             "c": {"due": True, "error": "locked by run 9"}}
    out = workflow_users(plans, {"a": {"access_key_id": NEW, "secret_access_key": SECRET}}, {})
    assert out["users"]["a"] == {"prepared": True, "old_key_id": OLD, "new_key_id": NEW, "hosts": ["h1", "h2"], "message": "old"}
    assert not out["users"]["b"]["prepared"] and not out["users"]["c"]["prepared"]
    assert len(out["refusals"]) == 1 and "locked by run 9" in out["refusals"][0]
    assert SECRET not in json.dumps(out)
    failed = workflow_users({"a": plans["a"]}, {"a": {"access_key_id": NEW}}, {"a": "could not be stored"})
    assert not failed["users"]["a"]["prepared"] and failed["refusals"]


def test_prepare_in_check_mode_says_what_it_would_stage_and_refuses_nothing():
    plans = {"a": {"due": True, "new_key_id": None, "old_key_id": OLD, "hosts": ["h1", "h2"], "reason": "key is 120 days old"},
             "b": {"due": True, "new_key_id": NEW, "old_key_id": OLD, "hosts": ["h1"], "reason": "resumed"},
             "c": {"due": False, "reason": "key is 3 days old"}}
    out = workflow_users(plans, {}, {})  # check mode: no key made or recovered
    assert out["refusals"] == [] and not any(user["prepared"] or user["new_key_id"] for user in out["users"].values())
    assert out["lines"] == [
        f"a: would make a new key for 2 hosts (old key {OLD}; check mode: none made) - key is 120 days old",
        f"b: would stage the new key {NEW} recovered from a host for 1 hosts (old key {OLD}; check mode: none made) - resumed",
        "c: nothing to do - key is 3 days old",
    ]


# --------------------------------------------------------------------------- what a finish job decides with


def test_finish_drops_users_outside_the_run_and_never_makes_a_key():
    check = check_run([read("a", journal()), read("b", journal(run=OTHER, phase="completed", lock_run=None))], RUN,
                      phases=("distributing",), require_lock=False)
    plans = {"a": {"due": True, "replace_key_id": NEW, "new_key_id": None, "old_key_id": OLD},
             "b": {"due": True, "error": None, "old_key_id": "AKIAB"}}
    out = finish_plan(plans, check)
    assert out["a"]["due"] and out["a"]["replace_key_id"] is None
    assert not out["b"]["due"] and "not part of run 4711" in out["b"]["reason"]


@pytest.mark.parametrize("error, cleared", [
    (f"IAM user 'a': the pending key {NEW} of run 4711 is held by no host in the inventory, yet AWS says it was last used", True),
    (f"IAM user 'a': the journal names {NEW} as the pending key of run 4711, but ... the run id does not say when", True),
    ("cannot rotate IAM user 'a': hosts h1 are unreachable, so the key they hold is unknown", False),
])
def test_finish_rolls_back_a_pending_key_no_host_took_unless_a_host_is_unknown(error, cleared):
    check = check_run([read("a", journal())], RUN, require_lock=False)
    out = finish_plan({"a": {"due": False, "error": error, "new_key_id": None, "old_key_id": None, "hosts_outside_play": []}}, check)
    assert (out["a"]["error"] is None) == cleared
    if cleared:
        assert out["a"]["due"] and out["a"]["old_key_id"] == OLD


def test_finish_goes_on_with_a_pending_key_only_secret_destinations_hold():
    check = check_run([read("a", journal())], RUN, require_lock=False)
    plan = {"due": False, "error": f"the pending key {NEW} of run 4711 is held by its secret destinations", "new_key_id": None,
            "old_key_id": None, "hosts_outside_play": [], "pending_held_by": ["secretsmanager:rotor/keys/a"]}
    out = finish_plan({"a": plan}, check)["a"]
    assert out["error"] is None and out["due"] and out["new_key_id"] == NEW and out["old_key_id"] == OLD
    assert "secretsmanager:rotor/keys/a" in out["reason"]


def test_finish_keeps_the_refusal_when_hosts_outside_the_play_may_hold_the_key():
    check = check_run([read("a", journal())], RUN, require_lock=False)
    plan = {"due": False, "error": f"the pending key {NEW} of run 4711 ...", "new_key_id": None, "hosts_outside_play": ["h9"]}
    assert finish_plan({"a": plan}, check)["a"]["error"]


# --------------------------------------------------------------------------- hosts a finish job observed


def observed(key_ids, failed=False, unreachable=False):
    facts = {"rotor_iam_user": "a", "rotor_health_check": {"command": "true"},
             "__rotor_read": {"changed": False, "file_key_ids": key_ids, "key_ids": sorted({k for k in key_ids if k})}}
    facts["__rotor_observed"] = {"failed": failed, "unreachable": unreachable, "msg": "unhealthy" if failed else ""}
    return facts


@pytest.mark.parametrize("facts, state", [
    (observed([NEW]), "healthy"),
    (observed([NEW, NEW]), "healthy"),
    (observed([NEW], failed=True), "failed"),
    (observed([NEW], unreachable=True), "unreachable"),
    (observed([NEW, OLD]), "failed"),      # a switch killed between two files
    (observed([NEW, ""]), "failed"),
])
def test_an_observed_host_counts_as_switched_by_another_job(facts, state):
    result = host_state(facts)
    assert result["state"] == state and result["wrote"] is True and result["backups"] == []


def test_a_host_not_observed_is_untouched_and_stops_the_cutover():
    plans = {"a": {"due": True, "old_key_id": OLD}}
    states = {"h1": dict(host_state(observed([NEW])), user="a"),
              "h2": dict(host_state({"rotor_iam_user": "a", "__rotor_read": {"file_key_ids": [OLD], "key_ids": [OLD]},
                                     "__rotor_observed": {"skipped": True}}), user="a")}
    assert states["h2"]["state"] == "untouched"
    outcome = rotation_outcome(plans, states)["a"]
    assert outcome["action"] == "rollback" and outcome["switched_hosts"] == ["h1"] and "h2" in outcome["message"]
    healthy = rotation_outcome(plans, {"h1": states["h1"], "h3": dict(states["h1"])})["a"]
    assert healthy["action"] == "cutover"
