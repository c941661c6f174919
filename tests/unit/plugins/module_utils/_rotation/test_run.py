"""The run record: start, advance over events carrying every failure kind, report; one function decides every outcome."""

import datetime

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.module_utils._rotation import run as engine
import run_record_builders
from run_record_builders import NEW, OLD, host


def plan(user="app", **extra):
    return dict({"due": True, "error": None, "new_key_id": None, "old_key_id": OLD, "old_key_status": "Active", "user_name": user,
                 "hosts": ["web1", "web2"], "reason": "key is 120 days old"}, **extra)


def started(plans=None, **options):
    return run_record_builders.started(plans or {"app": plan()}, **options)


def test_a_healthy_fleet_cuts_over_and_the_work_lists_say_what_comes_next():
    run = engine.advance(started(), "hosts", {"hosts": {"web1": host(), "web2": host()}})

    assert run["outcome"]["app"]["action"] == "cutover"
    todo = run["todo"]
    assert todo["prove_secrets"] == ["app"] and todo["deactivate"] == ["app"] and todo["retire"] == ["app"]
    assert todo["rollback"] == [] and todo["reactivate"] == []
    assert todo["settle"] == {"web1": {"state": "backups_absent", "backup_files": []}, "web2": {"state": "backups_absent", "backup_files": []}}


def test_a_deactivation_is_recorded_with_when_and_a_failed_one_stops_the_user():
    run = engine.advance(started(), "hosts", {"hosts": {"web1": host(), "web2": host()}})
    done = engine.advance(run, "deactivated", {"results": [{"item": "app", "changed": True}], "now": "2026-12-06T00:01:00Z"})

    assert done["users"]["app"]["deactivated"] == {"key_id": OLD, "at": "2026-12-06T00:01:00Z", "reactivatable": True}
    assert done["todo"]["deactivate"] == [] and done["todo"]["prove_deactivated"] == ["app"]
    assert engine.inactive_since(done) == {"app": "2026-12-06T00:01:00Z"}

    denied = engine.advance(run, "deactivated", {"results": [{"item": "app", "failed": True, "msg": "AccessDenied"}], "now": "x"})
    assert denied["outcome"]["app"]["action"] == "stopped" and denied["todo"]["retire"] == []


def test_a_deactivation_aws_does_not_confirm_rolls_back_and_reactivates_only_what_rotor_deactivated():
    run = engine.advance(started(), "hosts", {"hosts": {"web1": host(), "web2": host()}})
    run = engine.advance(run, "deactivated", {"results": [{"item": "app", "changed": True}], "now": "t1"})
    run = engine.advance(run, "proved", {"expect": "invalid", "failures": {"app": "AWS did not confirm"}})

    assert run["outcome"]["app"]["action"] == "rollback"
    assert run["todo"]["reactivate"] == ["app"] and run["todo"]["settle"]["web1"]["state"] == "restored"

    disabled = engine.start({"app": plan(old_key_disabled=True)}, new_key_ids={"app": NEW})
    disabled = engine.advance(disabled, "hosts", {"hosts": {"web1": host(state="failed", failure={"check": "c", "msg": "m"})}})
    disabled = engine.advance(disabled, "deactivated", {"results": [{"item": "app", "changed": False}], "now": "t"})
    assert disabled["todo"]["reactivate"] == []


@pytest.mark.parametrize("kind, message", [
    ("verify_timeout", "the new key AKIANEW0000000000001 was not accepted by AWS within rotor_verify_timeout=4s"),
    ("connection", "AWS STS could not be reached to verify the new key AKIANEW0000000000001 (connection error)"),
    ("permission", "no new key could be made (Access denied for iam:CreateAccessKey on IAM user 'app')"),
    ("stage", "the pending secret of the new key AKIANEW0000000000001 could not be stored in Secrets Manager"),
])
def test_a_create_failure_ends_with_its_own_message_and_no_second_rollback(kind, message):
    """The create phase undid its work: whatever else fails later in the run, the user is never rolled back again."""
    plans = {"app": plan(), "other": plan("other", hosts=["db1"])}
    run = engine.start(plans, new_key_ids={"other": NEW})
    run = engine.advance(run, "created", {"failures": {"app": {"kind": kind, "msg": message}}})
    run = engine.advance(run, "hosts", {"hosts": {"web1": host(state="untouched", wrote=False), "db1": host("other")}})
    # Another user's proof fails: every later decision still knows that app was rolled back by the create phase.
    run = engine.advance(run, "secrets_proven", {"failures": {"other": "could not prove the secret"}})

    assert run["outcome"]["app"]["action"] == "rolled_back"
    assert "app" not in run["todo"]["rollback"] and "app" not in run["todo"]["reactivate"] and "app" not in run["todo"]["delete_new_keys"]
    assert run["users"]["app"]["failures"]["create_kind"] == kind
    reported = engine.report(run)
    assert reported["rotation"]["app"]["action"] == "rollback" and reported["rotation"]["app"]["message"] == message
    assert reported["message"].startswith("Rotation of app, other rolled back: " + message)


def test_check_mode_reports_the_plan():
    run = started(check_mode=True, new_key_ids={})
    assert run["outcome"]["app"]["action"] == "planned" and run["todo"]["deactivate"] == []
    assert engine.report(run)["rotation"]["app"]["action"] == "planned"


def test_the_report_names_key_ids_only_and_the_hosts_that_could_not_be_put_back():
    run = engine.advance(started(), "destinations", {"failures": {"app": "the secret destination failed"}})
    run = engine.advance(run, "hosts", {"hosts": {"web1": host(restored=False, restore_failure="restore: disk full"), "web2": host()}})
    reported = engine.report(run, finished="2026-12-06T00:02:00Z", now_epoch=160.0)

    assert reported["rotation"]["app"]["action"] == "rollback"
    assert reported["run"]["users_failed"] == ["app"] and reported["run"]["duration_seconds"] == 60.0
    assert "web1 (restore: disk full)" in reported["message"]
    assert reported["rotation"]["app"]["host_moves"]["web2"] == {"held": OLD, "moved_to": NEW, "moved_at": "t"}


def test_an_unknown_event_or_proof_is_refused():
    with pytest.raises(engine.RunError):
        engine.advance(started(), "teleported", {})
    with pytest.raises(engine.RunError):
        engine.advance(started(), "proved", {"expect": "maybe"})


EVENT = st.sampled_from(["created", "destinations", "secrets_proven", "deactivated", "proved_invalid", "proved_valid", "hosts"])
STATE = st.sampled_from(["untouched", "healthy", "failed", "unreachable"])


@given(st.lists(st.tuples(EVENT, STATE, st.booleans()), max_size=8), st.booleans())
@settings(deadline=None)  # a loaded machine must not fail a property
def test_whatever_the_events_the_outcome_never_contradicts_the_failures(events, recovered):
    """Properties: a user the create phase rolled back is never in a later rollback, reactivation or key deletion list;
    a user with any failure is never cut over; a user is reactivated only if rotor deactivated its key."""
    run = engine.start({"app": plan(new_key_id=NEW if recovered else None)}, new_key_ids={"app": NEW})
    failed = False
    for event, state, changed in events:
        if event == "created":
            run, failed = engine.advance(run, "created", {"failures": {"app": "verify timed out"}}), True
        elif event in ("destinations", "secrets_proven"):
            run, failed = engine.advance(run, event, {"failures": {"app": "failed"}}), True
        elif event == "deactivated":
            run = engine.advance(run, "deactivated", {"results": [{"item": "app", "changed": changed}], "now": "t"})
        elif event.startswith("proved"):
            expect = event.split("_")[1]
            run = engine.advance(run, "proved", {"expect": expect, "failures": {"app": "not confirmed"}})
            failed = failed or expect == "invalid"
        else:
            run = engine.advance(run, "hosts", {"hosts": {"web1": host(state=state, wrote=state != "untouched")}})
    action, todo = run["outcome"]["app"]["action"], run["todo"]
    if run["users"]["app"]["failures"]["create"] and not recovered:
        assert action == "rolled_back" and "app" not in todo["rollback"] + todo["reactivate"] + todo["delete_new_keys"]
    if failed:
        assert action != "cutover" and "app" not in todo["retire"]
    if "app" in todo["reactivate"]:
        assert run["users"]["app"]["deactivated"] and action == "rollback"


def test_the_plan_alone_says_who_is_due_not_due_or_refused_and_which_stale_keys_go():
    plans = {"app": {"due": True, "old_key_id": "AKIAOLD0000000000001"},
             "idle": {"due": False, "stale_inactive_key_ids": ["AKIASTALE00000000001"]},
             "gone": {"due": False, "error": "locked by another run"}}
    todo = engine.start(plans)["todo"]
    assert (todo["due"], todo["not_due"], todo["refused"]) == (["app"], ["idle"], ["gone"])
    assert todo["stale_not_due"] == [{"user": "idle", "access_key_id": "AKIASTALE00000000001"}]
    with pytest.raises(engine.RunError):
        engine.plan_users(plans, "bogus")


def test_the_locks_this_run_holds_and_its_leases_are_the_records():
    plans = {"app": {"due": True, "locked": True}, "idle": {"due": False, "locked": True}, "gone": {"due": False, "error": "locked elsewhere"}}
    run = engine.start(plans)
    assert run["todo"]["locked"] == ["app", "idle"]
    run = engine.advance(run, "created", {"leases": {"app": {"run_id": "r1"}}})
    run = engine.advance(run, "created", {"leases": {"idle": {"run_id": "r1"}}})
    assert run["leases"] == {"app": {"run_id": "r1"}, "idle": {"run_id": "r1"}}
    assert run["todo"]["locked"] == ["app", "idle"]  # a failure later does not unlock: the run releases its own locks


HOST_STATES = st.fixed_dictionaries({"state": st.sampled_from(["untouched", "healthy", "failed", "unreachable"]), "wrote": st.booleans(),
                                     "restored": st.booleans()})


@given(st.dictionaries(st.sampled_from(["web1", "web2", "db1"]), HOST_STATES, min_size=1), st.booleans())
@settings(deadline=None)  # a loaded machine must not fail a property
def test_a_key_is_never_deleted_while_a_host_the_run_read_still_holds_it(states, settled):
    """The old key goes (retire) only when every host of its user the run read is healthy after its switch; a rolled-back
    user's new key goes (delete_new_keys) only when no host may still hold it."""
    plans = {"app": plan(hosts=["web1", "web2"]), "db": plan("db", hosts=["db1"])}
    hosts = {name: host("db" if name == "db1" else "app", failure={} if s["state"] in ("untouched", "healthy") else {"check": "c", "msg": "m"},
                        **dict(s, restored=s["restored"] and settled)) for name, s in states.items()}
    run = engine.advance(started(plans, new_key_ids={"app": NEW, "db": NEW}), "hosts", {"hosts": hosts})
    for user in run["todo"]["retire"]:
        for name in plans[user]["hosts"]:
            if name in hosts:
                assert hosts[name]["state"] == "healthy", f"{user}'s old key retired while {name} may hold it"
    for user in run["todo"]["delete_new_keys"]:
        assert not any(s["wrote"] and not s["restored"] for s in hosts.values() if s["user"] == user), \
            f"{user}'s new key deleted while a host may hold it"


@given(st.dictionaries(st.sampled_from(["web1", "web2", "db1"]), HOST_STATES), st.booleans())
@settings(deadline=None)  # a loaded machine must not fail a property
def test_a_failure_anywhere_stops_the_later_batches(states, check_mode):
    plans = {"app": plan(hosts=["web1", "web2"]), "db": plan("db", hosts=["db1"])}
    hosts = {name: host("db" if name == "db1" else "app", **s) for name, s in states.items()}
    run = engine.advance(started(plans, check_mode=check_mode), "batch", {})
    run = engine.advance(run, "hosts", {"hosts": hosts})
    stopped = any(s["state"] in ("failed", "unreachable") for s in states.values())
    assert run["todo"]["switch"] == ([] if stopped and not check_mode else ["app", "db"])


def test_locks_are_renewed_once_half_their_ttl_has_passed():
    plans = {"app": plan(locked=True), "db": plan("db"), "idle": plan("idle", due=False, locked=True)}
    run = started(plans)
    assert run["todo"]["renew_locks"] == []  # no batch yet
    early = engine.advance(run, "batch", {"now_epoch": 1000 + 29 * 60, "renewed_epoch": 1000, "ttl_minutes": 60})
    late = engine.advance(run, "batch", {"now_epoch": 1000 + 30 * 60, "renewed_epoch": 1000, "ttl_minutes": 60})
    assert early["todo"]["renew_locks"] == [] and late["todo"]["renew_locks"] == ["app"]


@given(st.integers(min_value=0, max_value=3600), st.integers(min_value=-100, max_value=7200))
@settings(deadline=None)  # a loaded machine must not fail a property
def test_the_drain_waits_what_is_left_of_it_never_more(drain_seconds, elapsed):
    run = engine.advance(started(), "hosts", {"hosts": {"web1": host(), "web2": host()}})
    run = engine.advance(run, "deactivated", {"results": [{"item": "app", "changed": True}], "now": "2026-12-06T00:00:00+00:00",
                                              "drain_seconds": drain_seconds})
    when = 1796515200 + elapsed  # 2026-12-06T00:00:00Z + elapsed
    now = datetime.datetime.fromtimestamp(when, tz=datetime.timezone.utc).isoformat()
    run = engine.advance(run, "hosts", {"now": now})
    assert run["todo"]["drain"] == (["app"] if drain_seconds else [])
    wait = run["todo"]["drain_wait"]
    assert 0 <= wait <= max(drain_seconds, drain_seconds - elapsed)
    if drain_seconds and elapsed >= 0:
        assert wait == max(0, drain_seconds - elapsed)
    kept = engine.advance(engine.start({"app": plan()}, old_key_action="deactivate", new_key_ids={"app": NEW}), "deactivated",
                          {"drain_seconds": drain_seconds})
    assert kept["todo"]["drain"] == [] and kept["todo"]["drain_wait"] == 0


def test_the_locks_still_held_are_released_at_the_end():
    run = started({"app": plan(locked=True), "db": plan("db", locked=True), "x": plan("x")})
    assert run["todo"]["release"] == ["app", "db"]
    run = engine.advance(run, "released", {"journal": [{"results": [{"item": "app"}, {"item": "db", "failed": True}]}, {}]})
    assert run["todo"]["release"] == ["db"]
