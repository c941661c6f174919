"""The rotation workflow's decisions (module_utils/_rotation/workflow.py): which users each job acts for (the fence),
the prepare plan from IAM alone, and what each job does per user or per host."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.module_utils._rotation import workflow
from ansible_collections.rotor.iam.plugins.module_utils._rotation.workflow import WorkflowRunError

OLD, NEW, ODD = "AKIAOLDOLDOLDOLDOLD1", "AKIANEWNEWNEWNEWNEW2", "AKIAODDODDODDODDODD3"
RUN, OTHER = "4711", "4712"


def journal(run=RUN, phase="distributing", lock_run=RUN, expired=False, pending=NEW, current=OLD, previous=None, **extra):
    lock = {"run_id": lock_run, "expires": "2026-12-01T16:00:00Z", "expired": expired} if lock_run else None
    return dict({"run_id": run, "phase": phase, "pending_key_id": pending, "current_key_id": current, "previous_key_id": previous,
                 "lock": lock, "problems": []}, **extra)


def read(user, entry, marks=None):
    return {"item": user, "changed": False, "journal": entry, "marks": marks or {}}


def cut_over(**extra):
    return journal(phase="cutover", pending=None, current=NEW, previous=OLD, inactive_since="2026-12-01T12:00:00Z", **extra)


# --------------------------------------------------------------------------- the fence


@pytest.mark.parametrize("job, entry, marks, kind", [
    ("distribute", journal(), {}, "act"),
    ("distribute", journal(), {"distribute": RUN}, "skipped"),       # failed in this run: no more of its hosts
    ("distribute", journal(), {"distribute": OTHER}, "act"),         # a stale mark of another run means nothing
    ("distribute", cut_over(), {}, "skipped"),                       # the cutover job moved on: a late slice stops
    ("distribute", journal(phase="rolling_back"), {}, "skipped"),
    ("distribute", journal(phase="rolled_back", lock_run=None, pending=None), {}, "skipped"),
    ("distribute", journal(run=OTHER, lock_run=OTHER), {}, "error"),  # another run in progress: refuse, name both
    ("distribute", journal(run=OTHER, phase="completed", lock_run=None), {}, "skipped"),
    ("distribute", journal(lock_run=OTHER), {}, "error"),            # our journal, another run's lock
    ("distribute", journal(problems=[{"tag": "rotor:phase"}]), {}, "error"),
    ("cutover", journal(), {}, "act"),
    ("cutover", journal(), {"distribute": RUN}, "act"),              # the cutover job decides on the mark itself
    ("settle", cut_over(), {}, "act"),
    ("settle", journal(), {}, "skipped"),
    ("rollback", journal(phase="creating", pending=None), {}, "act"),
    ("rollback", cut_over(), {}, "act"),
    ("restore", journal(phase="rolling_back"), {"restore": RUN}, "act"),       # a relaunched restore tries again
    ("restore", journal(phase="rolling_back"), {"distribute": RUN}, "act"),    # a failed user is what restore is for
    ("settle", cut_over(), {"settle": RUN}, "skipped"),
    ("finish", journal(phase="rolling_back"), {"restore": RUN}, "act"),
    ("cleanup", journal(phase="completed", lock_run=None, pending=None, current=NEW), {}, "act"),
])
def test_a_job_acts_only_for_its_own_run_in_its_own_phase(job, entry, marks, kind):
    check = workflow.fence([read("app", entry, marks)], RUN, job)
    assert ("app" in check["act"]) == (kind == "act")
    assert ("app" in check["skipped"]) == (kind == "skipped")
    assert bool(check["errors"]) == (kind == "error")
    if kind == "error" and entry["run_id"] == OTHER:
        assert RUN in check["errors"][0] and OTHER in check["errors"][0]


def test_a_journal_that_cannot_be_read_refuses_the_user_without_a_traceback():
    check = workflow.fence([{"item": "app", "failed": True, "msg": "AccessDenied"}], RUN, "distribute")
    assert check["act"] == [] and "AccessDenied" in check["errors"][0]


@pytest.mark.parametrize("bad", [dict(run_id=""), dict(job="deploy")])
def test_bad_input_is_a_workflow_error(bad):
    args = dict(reads=[], run_id=RUN, job="distribute", **{})
    args.update(bad)
    with pytest.raises(WorkflowRunError):
        workflow.fence(**args)


def test_keys_after_the_cutover_are_read_from_current_and_previous():
    check = workflow.fence([read("app", cut_over())], RUN, "settle")
    assert check["users"]["app"]["old_key_id"] == OLD and check["users"]["app"]["new_key_id"] == NEW


# --------------------------------------------------------------------------- prepare


def lock(user, entry=None, failed=False):
    return {"item": user, "failed": True, "msg": "locked by run 9"} if failed else {"item": user, "journal": entry or {}}


def info(user, *keys):
    return {"item": user, "access_keys": [{"access_key_id": k, "status": s, "age_days": a} for k, s, a in keys]}


def test_prepare_plans_from_iam_and_the_journal_only():
    plans = workflow.prepare_plans(
        [lock("due"), lock("young"), lock("full"), lock("mine", journal(phase="distributing")), lock("theirs", journal(run=OTHER)),
         lock("busy", failed=True)],
        [info("due", (OLD, "Active", 120)), info("young", (OLD, "Active", 3)), info("full", (OLD, "Active", 120), (ODD, "Inactive", 9)),
         info("mine", (OLD, "Active", 120)), info("theirs", (OLD, "Active", 120))],
        RUN, 90)
    assert plans["due"]["due"] and plans["due"]["old_key_id"] == OLD
    assert not plans["young"]["due"] and not plans["young"]["error"]
    assert "free slot" in plans["full"]["error"]
    assert "already prepared" in plans["mine"]["error"]          # one run id prepares a user once
    assert OTHER in plans["theirs"]["error"]
    assert not plans["busy"]["locked"] and "locked" in plans["busy"]["error"]


def test_prepare_outcome_names_the_step_that_failed_and_what_to_undo():
    plans = {"a": {"due": True}, "b": {"due": True}, "c": {"due": True}, "d": {"due": False}}
    created = [{"item": {"user": "a"}, "access_key_id": NEW}, {"item": {"user": "b"}, "access_key_id": ODD},
               {"item": {"user": "c"}, "failed": True, "msg": "denied"}]
    journaled = [{"item": {"user": "a"}}, {"item": {"user": "b"}}]
    verified = [{"item": {"user": "a"}}, {"item": {"user": "b"}, "failed": True, "msg": "timeout"}]
    staged = [{"item": {"user": "a"}}]
    outcome = workflow.prepare_start(plans)
    for step, results in (("created", created), ("journaled", journaled), ("verified", verified), ("staged", staged)):
        outcome = workflow.prepare_step(outcome, step, results)
    assert outcome["prepared"] == ["a"]
    assert "verify" in outcome["failed"]["b"] and outcome["undo"]["b"] == ODD
    assert "create" in outcome["failed"]["c"] and outcome["undo"]["c"] is None
    assert "d" not in outcome["failed"]
    assert outcome["new_keys"] == {"a": NEW, "b": ODD} and outcome["next"] == []


def test_a_prepare_step_passes_on_only_the_users_it_did_not_fail():
    record = workflow.prepare_start({"a": {"due": True}, "b": {"due": True}, "c": {"due": False}})
    assert record["next"] == [{"user": "a"}, {"user": "b"}]
    record = workflow.prepare_step(record, "creating", [{"item": {"user": "a"}}, {"item": {"user": "b"}, "failed": True, "msg": "AccessDenied"}])
    assert record["next"] == [{"user": "a"}] and record["journaled"] == ["a"]
    assert record["failed"]["b"] == "the journal step failed (AccessDenied); no key was made" and record["undo"]["b"] is None
    record = workflow.prepare_step(record, "created", [{"item": {"user": "a"}, "access_key_id": NEW}])
    assert record["new_keys"] == {"a": NEW} and record["next"] == [{"user": "a"}]
    skipped = workflow.prepare_step(record, "journaled", [{"item": {"user": "a"}, "skipped": True}])
    assert "not reached" in skipped["failed"]["a"] and skipped["undo"]["a"] == NEW and skipped["prepared"] == []
    with pytest.raises(workflow.WorkflowRunError):
        workflow.prepare_step(record, "deleted", [])


# --------------------------------------------------------------------------- once-per-run jobs


def test_cutover_refuses_a_user_a_slice_marked_failed():
    check = workflow.fence([read("ok", journal()), read("bad", journal(), {"distribute": RUN})], RUN, "cutover")
    todo = workflow.cutover_todo(check)
    assert todo["cutover"] == ["ok"] and "bad" in todo["refused"]


def test_rollback_reactivates_only_what_this_run_deactivated():
    check = workflow.fence([read("dist", journal()), read("cut", cut_over())], RUN, "rollback")
    todo = workflow.rollback_todo(check)
    assert not todo["dist"]["reactivate"] and todo["cut"]["reactivate"]
    assert todo["cut"]["old_key_id"] == OLD and todo["cut"]["new_key_id"] == NEW


def test_finish_retires_closes_keeps_or_refuses():
    check = workflow.fence([read("cut", cut_over()), read("back", journal(phase="rolling_back")),
                            read("stuck", journal(phase="rolling_back"), {"restore": RUN}), read("early", journal()),
                            read("unsettled", cut_over(), {"settle": RUN})], RUN, "finish")
    todo = workflow.finish_todo(check)
    assert todo["retire"] == ["cut"] and todo["close"] == ["back"] and todo["keep"] == ["stuck"]
    assert set(todo["refused"]) == {"early", "unsettled"}


def test_a_user_the_quiet_gate_stopped_is_named_by_finish_and_left_as_it_is():
    """The cutover job's gate released the user in waiting_for_quiet: finish deletes, closes and releases nothing of it,
    and its message says what state it is in and what to run; no other workflow job acts for it."""
    waiting = journal(phase="waiting_for_quiet", lock_run=None)
    todo = workflow.finish_todo(workflow.fence([read("quiet", waiting)], RUN, "finish"))
    assert todo["retire"] == todo["close"] == todo["keep"] == [] and list(todo["refused"]) == ["quiet"]
    message = todo["refused"]["quiet"]
    assert OLD in message and NEW in message and "waiting_for_quiet" in message and "rotor.iam.rotate" in message
    for job in ("distribute", "cutover", "settle", "rollback", "restore", "cleanup"):
        assert workflow.fence([read("quiet", waiting)], RUN, job)["act"] == [], job


# --------------------------------------------------------------------------- sliced jobs


def host_read(*key_ids, **extra):
    return dict({"key_ids": list(key_ids)}, **extra)


def back():
    return journal(phase="rolling_back")


@pytest.mark.parametrize("held, action", [
    ([NEW], "restore"),
    ([OLD, NEW], "restore"),   # some files switched, some not
    ([OLD], "none"),
    ([ODD], "fail"),           # a key the run does not expect fails its user
    ([], "fail"),
])
def test_the_restore_slice_checks_each_hosts_key_itself(held, action):
    check = workflow.fence([read("app", back())], RUN, "restore")
    todo = workflow.slice_todo(check, {"h1": "app"}, {"h1": host_read(*held)})
    assert todo["hosts"]["h1"]["action"] == action
    assert ("app" in todo["failed_users"]) == (action == "fail")


@pytest.mark.parametrize("job", ["distribute", "settle", "cleanup"])
def test_only_the_restore_job_reads_hosts_before_acting(job):
    entry = cut_over() if job == "settle" else journal(phase="completed") if job == "cleanup" else journal()
    with pytest.raises(WorkflowRunError):
        workflow.slice_todo(workflow.fence([read("app", entry)], RUN, job), {"h1": "app"}, {"h1": host_read(OLD)})


def test_unreachable_and_unreadable_hosts_fail_their_user():
    check = workflow.fence([read("app", back())], RUN, "restore")
    todo = workflow.slice_todo(check, {"h1": "app", "h2": "app"}, {"h1": {"unreachable": True}, "h2": {"failed": True, "msg": "EACCES"}})
    assert todo["failed_users"]["app"] == ["h1: unreachable", "h2: its credentials could not be read (EACCES)"]


def test_slice_failures_read_every_step_and_only_the_message():
    check = workflow.fence([read("app", journal()), read("other", journal(run=OTHER, phase="completed", lock_run=None))], RUN, "distribute")
    results = {"h1": [{"skipped": True}, {"failed": True, "msg": "health check failed", "secret_access_key": "x"}],
               "h2": {"changed": True}, "h3": {"failed": True, "msg": "no"}}
    failed = workflow.slice_failures(check, {"h1": "app", "h2": "app", "h3": "other"}, results)
    assert failed == {"app": ["h1: health check failed"]}


def test_a_host_on_a_key_the_run_does_not_expect_fails_its_user_with_the_modules_message():
    check = workflow.fence([read("app", journal())], RUN, "distribute")
    why = f"/etc/app/credentials holds access key id {ODD}, not the expected {OLD} (or the new key {NEW}); nothing was written"
    after = workflow.after_hosts(check, {"h1": "app", "h2": "app"}, {"h1": [{"failed": True, "step": "expected_key", "msg": why}],
                                                                     "h2": [{"changed": True}]})
    assert after == {"failed": {"app": [f"h1: {why}"]}, "left": [], "put_back": []}


def test_hosts_switched_after_their_user_left_the_phase_are_put_back():
    check = workflow.fence([read("app", journal()), read("stays", journal())], RUN, "distribute")
    reads = [read("app", cut_over()), read("stays", journal())]
    results = {"h1": [{"changed": True}], "h2": [{"changed": False}], "h3": [{"skipped": True}], "h4": [{"changed": True}]}
    after = workflow.after_hosts(check, {"h1": "app", "h2": "app", "h3": "app", "h4": "stays"}, results, reads)
    assert after["left"] == ["app"] and after["put_back"] == ["h1"]


def test_settle_proves_each_old_key_from_the_first_host_of_its_user_with_a_file():
    check = workflow.fence([read("app", cut_over()), read("web", cut_over()), read("gone", journal())], RUN, "settle")
    files = {"h1": [], "h2": [{"path": "/a", "format": "env"}], "h3": [{"path": "/b"}], "h4": [{"path": "/c"}], "h5": [{"path": "/d"}]}
    refs = {"h1": "app", "h2": "app", "h3": "app", "h4": "web", "h5": "gone"}
    proofs = workflow.settle_proofs(check, refs, ["h1", "h2", "h3", "h4", "h5"], files)
    assert proofs == [{"user": "app", "host": "h2", "access_key_id": OLD, "file": {"path": "/a", "format": "env"}},
                      {"user": "web", "host": "h4", "access_key_id": OLD, "file": {"path": "/c"}}]


def test_a_proof_that_could_not_be_read_or_made_fails_its_user_naming_the_host_and_never_the_secret():
    app, web = {"user": "app", "host": "h2", "access_key_id": OLD}, {"user": "web", "host": "h4", "access_key_id": ODD}
    reads = [{"item": app, "failed": True, "msg": "no backup holds " + OLD}, {"item": web, "secret_access_key": "s3cret/value"}]
    checks = [{"item": reads[0], "skipped": True}, {"item": reads[1], "failed": True, "msg": "timed out: the key is still accepted"}]
    failed = workflow.proof_failures(reads, checks)
    assert failed == {"app": [f"h2: the old key's backup could not be read (no backup holds {OLD})"],
                      "web": [f"h4: AWS did not reject the old key {ODD} (timed out: the key is still accepted)"]}
    assert "s3cret" not in repr(failed)
    check = workflow.fence([read("app", cut_over())], RUN, "settle")
    assert workflow.after_hosts(check, {"h2": "app"}, {"h2": [{"changed": False}]}, proofs=(reads, checks))["failed"]["web"]


def test_each_once_per_run_job_gets_its_work_with_its_fence():
    assert set(workflow.job_todo(workflow.fence([read("app", journal())], RUN, "cutover"))) == {"cutover", "refused"}
    assert set(workflow.job_todo(workflow.fence([read("app", journal())], RUN, "rollback"))) == {"rollback"}
    assert set(workflow.job_todo(workflow.fence([read("app", cut_over())], RUN, "finish"))) == {"retire", "close", "keep", "refused"}
    assert workflow.job_todo(workflow.fence([read("app", journal())], RUN, "distribute")) == {}


def test_marks_of_a_users_tags():
    tags = [{"Key": "rotor:failed-distribute", "Value": RUN}, {"Key": "rotor:failed-bogus", "Value": RUN}, {"Key": "rotor:phase", "Value": "x"}]
    assert workflow.marks_of(tags) == {"distribute": RUN}
    assert workflow.failed_in({"distribute": RUN, "settle": OTHER}, RUN) == ["distribute"]


PHASES = ("creating", "distributing", "cutover", "completed", "rolling_back", "rolled_back", None)


@settings(max_examples=300, deadline=None)
@given(job=st.sampled_from(["distribute", "settle", "restore", "cleanup"]), phase=st.sampled_from(PHASES),
       run=st.sampled_from([RUN, OTHER, None]), marked=st.booleans())
def test_no_slice_acts_for_a_user_unless_its_run_is_in_the_jobs_phase(job, phase, run, marked):
    entry = cut_over(run=run) if phase == "cutover" else journal(run=run, phase=phase)
    check = workflow.fence([read("app", entry, {job: RUN} if marked else {})], RUN, job)
    if "app" in check["act"]:
        assert run == RUN and phase in workflow.JOB_PHASES[job]
        assert not (marked and job in ("distribute", "settle"))  # a user this job failed takes no more of its hosts
    if job == "distribute" and "app" in check["act"]:
        # The switch then requires every file on the old key (or already the new one): host_credentials' expected_access_key_id.
        assert check["users"]["app"]["old_key_id"] == OLD and check["users"]["app"]["new_key_id"] == NEW


@settings(max_examples=300, deadline=None)
@given(phase=st.sampled_from(PHASES), run=st.sampled_from([RUN, OTHER, None]), held=st.lists(st.sampled_from([OLD, NEW, ODD]), max_size=3),
       marked=st.booleans())
def test_a_restore_slice_puts_back_exactly_the_hosts_on_the_runs_new_key(phase, run, held, marked):
    entry = cut_over(run=run) if phase == "cutover" else journal(run=run, phase=phase)
    check = workflow.fence([read("app", entry, {"restore": RUN} if marked else {})], RUN, "restore")
    todo = workflow.slice_todo(check, {"h1": "app"}, {"h1": host_read(*held)})
    action = (todo["hosts"].get("h1") or {}).get("action")
    if action == "restore":
        assert phase == "rolling_back" and run == RUN and NEW in held and ODD not in held
    if phase == "rolling_back" and run == RUN and NEW in held and ODD not in held:
        assert action == "restore"  # whatever marks the user has: a host on the new key always goes back
