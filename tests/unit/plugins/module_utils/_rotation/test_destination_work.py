"""The run record's secret destinations (module_utils/_rotation/destinations.py, run.py): which destinations are written,
checked, re-checked and restored, which users fail, what the operator is shown. Property tests state what must never happen."""

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.module_utils._rotation import destinations as dests
from ansible_collections.rotor.iam.plugins.module_utils._rotation import run as engine
from run_record_builders import host

NEW_ID, OLD_ID = "AKIANEW0000000000000", "AKIAOLD0000000000000"
FLEET = {"users": {"app": {"connection": {"profile": "", "region": "eu-west-1", "endpoint_url": "http://iam"}}}}


def plan(**extra):
    return dict({"due": True, "error": None, "new_key_id": None, "old_key_id": OLD_ID, "old_key_status": "Active",
                 "hosts": ["web1"], "reason": "old"}, **extra)


PLANS = {"app": plan(), "idle": plan(due=False), "locked": plan(error="locked by another run"), "broken": plan(), "db": plan(hosts=["db1"])}


def dest(user, kind="secretsmanager", name=None, **extra):
    return dict({"user": user, "type": kind, "name": name or f"rotor/keys/{user}-{kind}"}, **extra)


def write(entry, failed=False, changed=True, key_id=NEW_ID, previous=OLD_ID):
    result = {"item": entry, "changed": changed and not failed, "access_key_id": key_id, "previous_access_key_id": previous,
              "previous_version_id": "v1"}
    if failed:
        result.update(failed=True, msg="Access denied for ssm:PutParameter")
    return result


def created(destinations, plans=None, failures=None):
    run = engine.start(plans or PLANS, run_id="r1")
    run["fleet"] = FLEET
    return engine.advance(run, "created", {"destinations": destinations, "failures": failures or {}})


def written(run, destinations):
    """The run after its write loop wrote ``destinations`` (as the role registers them: items are the todo's entries)."""
    return engine.advance(run, "destinations", {"writes": {"results": [write(d, **extra) for d, extra in destinations]}})


def test_only_destinations_of_due_users_with_a_verified_key_are_written_with_their_users_connection():
    run = created([dest("app"), dest("idle"), dest("locked"), dest("broken"), dest("nobody")],
                  failures={"broken": {"kind": "verify_timeout", "msg": "not accepted"}})
    chosen = run["todo"]["write_destinations"]
    assert [d["user"] for d in chosen] == ["app"]
    assert chosen[0]["region"] == "eu-west-1" and chosen[0]["endpoint_url"] == "http://iam"
    assert chosen[0]["access_key_id_field"] == "AccessKeyId" and chosen[0]["secret_access_key_field"] == "SecretAccessKey"
    assert [d["user"] for d in run["todo"]["destinations_unknown"]] == ["nobody"]


def test_a_destinations_own_connection_wins():
    chosen = created([dest("app", region="us-west-2")])["todo"]["write_destinations"]
    assert chosen[0]["region"] == "us-west-2"
    # ... also in the one value the role passes as the module's iam_user
    assert chosen[0]["target"] == {"profile": chosen[0]["profile"], "region": "us-west-2", "endpoint_url": chosen[0]["endpoint_url"]}


def test_a_run_without_destinations_has_nothing_to_do_for_them():
    run = engine.start(PLANS)
    names = ("write_destinations", "check_destinations", "recheck_destinations", "restore_destinations", "destinations_unknown")
    assert all(run["todo"][name] == [] for name in names)


@pytest.mark.parametrize("bad, message", [
    ("not a list", "must be a list"),
    (["x"], r"rotor_secret_destinations\[0\] must be a mapping"),
    ([{"user": "app", "type": "ssm"}], r"rotor_secret_destinations\[0\] needs 'name'"),
    ([dest("app", kind="vault")], "type 'vault': use one of secretsmanager, ssm"),
    ([dest("app"), dest("app")], r"rotor_secret_destinations\[1\]: secretsmanager .* is listed twice"),
    ([dest("app", health_check="curl")], "health_check must be a mapping"),
])
def test_bad_destinations_are_refused_naming_the_entry(bad, message):
    with pytest.raises(dests.DestinationError, match=message):
        created(bad)


def test_a_failed_write_or_check_fails_its_user_first_failure_wins():
    run = created([dest("app"), dest("app", kind="ssm")])
    sm, ssm = run["todo"]["write_destinations"]
    run = written(run, [(sm, {}), (ssm, {"failed": True})])
    assert "writing the new key into ssm destination" in run["users"]["app"]["failures"]["destination"]
    assert run["todo"]["not_distributed"] == {"app": run["users"]["app"]["failures"]["destination"]}
    run = engine.advance(run, "destinations", {"checks": {"results": [{"item": sm, "failed": True, "msg": "exit 1"}]}})
    assert "writing the new key into ssm destination" in run["users"]["app"]["failures"]["destination"]

    only_check = written(created([dest("app")]), [(sm, {})])
    only_check = engine.advance(only_check, "destinations", {"checks": {"results": [{"item": sm, "failed": True, "msg": "exit 1"}]}})
    assert only_check["users"]["app"]["failures"]["destination"] == (
        "secretsmanager destination rotor/keys/app-secretsmanager failed its restart or health check on the new key: exit 1")
    assert only_check["todo"]["switch"] == ["broken", "db"]  # every due user with a new key but app


def test_what_is_checked_rechecked_and_restored():
    run = created([dest("app", restart_command="x"), dest("app", kind="ssm"), dest("db", health_check={"command": "true"}),
                   dest("app", name="n")])
    sm, ssm, other, failing = run["todo"]["write_destinations"]
    run = written(run, [(sm, {}), (ssm, {"changed": False}), (other, {}), (failing, {"failed": True})])
    assert [d["name"] for d in run["todo"]["check_destinations"]] == [sm["name"], other["name"]]
    # app failed (a write): it rolls back, db cuts over
    run = engine.advance(run, "hosts", {"hosts": {"web1": host("app"), "db1": host("db")}})
    assert run["outcome"]["app"]["action"] == "rollback" and run["outcome"]["db"]["action"] == "cutover"
    assert [d["name"] for d in run["todo"]["recheck_destinations"]] == [other["name"]]
    restore = run["todo"]["restore_destinations"]
    assert [d["name"] for d in restore] == [sm["name"]]
    assert restore[0]["access_key_id"] == NEW_ID and restore[0]["previous_access_key_id"] == OLD_ID
    assert restore[0]["previous_version_id"] == "v1" and restore[0]["target"]["region"] == "eu-west-1"


def test_the_operator_is_shown_key_ids_only():
    run = engine.start(PLANS, check_mode=True)
    run["fleet"] = FLEET
    run = engine.advance(run, "created", {"destinations": [dest("app"), dest("app", kind="ssm"), dest("app", name="n")]})
    sm, ssm, failing = run["todo"]["write_destinations"]
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    run = written(run, [(sm, {}), (ssm, {"changed": False}), (failing, {"failed": True, "key_id": secret})])
    assert run["notes"] == ["secretsmanager rotor/keys/app-secretsmanager (app): would move from AKIAOLD0000000000000 to AKIANEW0000000000000",
                            "ssm rotor/keys/app-ssm (app): already holds AKIANEW0000000000000",
                            "secretsmanager n (app): FAILED - Access denied for ssm:PutParameter"]
    shown = dests.lines([dict(sm, changed=True, failed=False, msg="", access_key_id=secret, previous_access_key_id=secret)])
    assert secret not in str(shown)
    # the next event has its own lines
    assert engine.advance(run, "hosts", {})["notes"] == []


outcomes = st.lists(st.tuples(st.sampled_from(["app", "db"]), st.sampled_from(["secretsmanager", "ssm"]),
                              st.booleans(), st.booleans()), max_size=8, unique_by=lambda t: t[:2])


@given(outcomes, st.sampled_from(["healthy", "failed"]))
@settings(deadline=None)  # a loaded machine must not fail a property
def test_never_restore_a_destination_that_was_not_written_nor_miss_a_failure(cases, db_host):
    """A rollback never touches a destination the run did not change, nor one of a user that cuts over; every failed write
    fails its user, whose hosts never switch."""
    run = created([dest(user, kind) for user, kind, _failed, _changed in cases])
    entries = {(d["user"], d["type"]): d for d in run["todo"]["write_destinations"]}
    run = written(run, [(entries[(user, kind)], {"failed": failed, "changed": changed}) for user, kind, failed, changed in cases])
    failed_users = {user for user, _kind, failed, _changed in cases if failed}
    assert {u for u, e in run["users"].items() if e["failures"]["destination"]} == failed_users
    assert not failed_users & set(run["todo"]["switch"])
    run = engine.advance(run, "hosts", {"hosts": {"web1": host("app", wrote="app" not in failed_users),
                                                  "db1": host("db", state=db_host, wrote="db" not in failed_users,
                                                              failure={"check": "c", "msg": "m"} if db_host == "failed" else {})}})
    restored = run["todo"]["restore_destinations"]
    going_back = {u for u in ("app", "db") if run["outcome"][u]["action"] in ("rollback", "failed")}
    for entry in restored:
        case = next(c for c in cases if c[:2] == (entry["user"], entry["type"]))
        assert case[3] and not case[2], "restored a destination the run did not change"
        assert entry["user"] in going_back
    assert len(restored) == sum(1 for user, _k, failed, changed in cases if changed and not failed and user in going_back)
