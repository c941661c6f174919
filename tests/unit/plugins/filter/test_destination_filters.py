"""The rotate role's secret-destination filters (plugins/filter/destinations.py): which destinations are written,
which users fail, what a rollback restores. Property tests state what must never happen."""

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.filter.destinations import destination_failures
from ansible_collections.rotor.iam.plugins.filter.destinations import destination_lines
from ansible_collections.rotor.iam.plugins.filter.destinations import destinations_due
from ansible_collections.rotor.iam.plugins.filter.destinations import destinations_to_check
from ansible_collections.rotor.iam.plugins.filter.destinations import destinations_to_read
from ansible_collections.rotor.iam.plugins.filter.destinations import destinations_unknown
from ansible_collections.rotor.iam.plugins.filter.destinations import destinations_written
from ansible_collections.rotor.iam.plugins.filter.destinations import run_destinations

PLANS = {"app": {"due": True, "error": None}, "idle": {"due": False, "error": None},
         "locked": {"due": True, "error": "locked by another run"}, "broken": {"due": True, "error": None}}
USERS = {"users": {"app": {"connection": {"profile": "", "region": "eu-west-1", "endpoint_url": "http://iam"}}}}


def dest(user, kind="secretsmanager", name=None, **extra):
    return dict({"user": user, "type": kind, "name": name or f"rotor/keys/{user}-{kind}"}, **extra)


def write(entry, failed=False, changed=True, key_id="AKIANEW0000000000000", previous="AKIAOLD0000000000000"):
    result = {"item": entry, "changed": changed and not failed, "access_key_id": key_id, "previous_access_key_id": previous}
    if failed:
        result.update(failed=True, msg="Access denied for ssm:PutParameter")
    return result


def test_only_destinations_of_due_users_with_a_verified_key_are_written_with_their_users_connection():
    chosen = destinations_due([dest("app"), dest("idle"), dest("locked"), dest("broken"), dest("nobody")], PLANS,
                              create_errors={"broken": "not accepted"}, users=USERS)
    assert [d["user"] for d in chosen] == ["app"]
    assert chosen[0]["region"] == "eu-west-1" and chosen[0]["endpoint_url"] == "http://iam"
    assert chosen[0]["access_key_id_field"] == "AccessKeyId" and chosen[0]["secret_access_key_field"] == "SecretAccessKey"


def test_a_destinations_own_connection_wins():
    chosen = destinations_due([dest("app", region="us-west-2")], PLANS, users=USERS)
    assert chosen[0]["region"] == "us-west-2"
    # ... also in the one value the role passes as the module's iam_user
    assert chosen[0]["target"] == {"profile": chosen[0]["profile"], "region": "us-west-2", "endpoint_url": chosen[0]["endpoint_url"]}


def test_destinations_of_users_outside_the_run_are_reported():
    assert [d["user"] for d in destinations_unknown([dest("app"), dest("nobody")], PLANS)] == ["nobody"]


@pytest.mark.parametrize("bad, message", [
    ("not a list", "must be a list"),
    (["x"], r"rotor_secret_destinations\[0\] must be a mapping"),
    ([{"user": "app", "type": "ssm"}], r"rotor_secret_destinations\[0\] needs 'name'"),
    ([dest("app", kind="vault")], "type 'vault': use one of secretsmanager, ssm"),
    ([dest("app"), dest("app")], r"rotor_secret_destinations\[1\]: secretsmanager .* is listed twice"),
    ([dest("app", health_check="curl")], "health_check must be a mapping"),
])
def test_bad_destinations_are_refused_naming_the_entry(bad, message):
    with pytest.raises(AnsibleFilterError, match=message):
        destinations_due(bad, PLANS)


def test_a_failed_write_or_check_fails_its_user_first_failure_wins():
    sm, ssm = dest("app"), dest("app", kind="ssm")
    writes = {"results": [write(sm), write(ssm, failed=True)]}
    checks = {"results": [{"item": write(sm), "failed": True, "msg": "exit 1"}]}
    failures = destination_failures(writes, checks)
    assert list(failures) == ["app"] and "writing the new key into ssm destination" in failures["app"]
    assert destination_failures({"results": [write(sm)]}, checks) == {
        "app": "secretsmanager destination rotor/keys/app-secretsmanager failed its restart or health check on the new key: exit 1"}
    assert destination_failures({"results": []}, None, {"other": "kept"}) == {"other": "kept"}


def test_what_a_rollback_restores_and_what_is_checked():
    sm, ssm, other = dest("app", restart_command="x"), dest("app", kind="ssm"), dest("idle", health_check={"command": "true"})
    writes = {"results": [write(sm), write(ssm, changed=False), write(other), write(dest("app", name="n"), failed=True),
                          {"skipped": True, "item": dest("x")}]}
    assert [r["item"]["name"] for r in destinations_written(writes, ["app"])] == [sm["name"]]
    assert [r["item"]["name"] for r in destinations_to_check(writes)] == [sm["name"], other["name"]]
    assert [r["item"]["name"] for r in destinations_to_check(writes, ["idle"])] == [other["name"]]


def test_plan_lines_show_key_ids_only():
    lines = destination_lines({"results": [write(dest("app")), write(dest("app", kind="ssm"), changed=False),
                                           write(dest("app", name="n"), failed=True)]}, check_mode=True)
    assert lines == ["secretsmanager rotor/keys/app-secretsmanager (app): would move from AKIAOLD0000000000000 to AKIANEW0000000000000",
                     "ssm rotor/keys/app-ssm (app): already holds AKIANEW0000000000000",
                     "secretsmanager n (app): FAILED - Access denied for ssm:PutParameter"]


outcomes = st.lists(st.tuples(st.sampled_from(["app", "db", "web"]), st.sampled_from(["secretsmanager", "ssm"]),
                              st.booleans(), st.booleans()), max_size=8, unique_by=lambda t: t[:2])


@given(outcomes)
def test_never_restore_a_destination_that_was_not_written_nor_miss_a_failure(cases):
    """A rollback never touches a destination the run did not change; every failed write fails its user."""
    writes = {"results": [write(dest(user, kind), failed=failed, changed=changed) for user, kind, failed, changed in cases]}
    restored = destinations_written(writes)
    assert all(r["changed"] and not r.get("failed") for r in restored)
    assert len(restored) == sum(1 for _u, _k, failed, changed in cases if changed and not failed)
    failures = destination_failures(writes)
    assert set(failures) == {user for user, _kind, failed, _changed in cases if failed}
    for user in failures:  # a failing user is never switched: it is in the failures the distribute phase reads
        assert failures[user]


def test_destinations_to_read_are_those_of_the_runs_users_with_their_connection():
    chosen = destinations_to_read([dest("app"), dest("nobody")], USERS)
    assert [d["user"] for d in chosen] == ["app"] and chosen[0]["endpoint_url"] == "http://iam"


def read(entry, key_id=None, failed=False):
    result = {"item": entry, "changed": False, "access_key_id": key_id}
    if failed:
        result.update(failed=True, msg="AccessDenied")
    return result


FINISH_PLANS = {"app": {"due": True, "error": None, "old_key_id": "AKIAOLD0000000000000"}, "idle": {"due": False, "error": None}}
NEW_KEYS = {"app": {"access_key_id": "AKIANEW0000000000000"}}


def test_a_finish_job_restores_what_holds_the_new_key_and_fails_a_user_whose_destination_does_not():
    on_new, on_old = dest("app"), dest("app", kind="ssm")
    known = run_destinations({"results": [read(on_new, "AKIANEW0000000000000"), read(on_old, "AKIAOLD0000000000000"),
                                          read(dest("idle"), "AKIAX000000000000000")]},
                             FINISH_PLANS, NEW_KEYS, {"run_id": "R1", "journals": {"app": {"phase": "distributing"}}})
    assert [(r["item"]["type"], r["previous_access_key_id"], r["changed"]) for r in known["writes"]["results"]] == [
        ("secretsmanager", "AKIAOLD0000000000000", True)]
    assert list(known["failures"]) == ["app"]
    assert "holds key AKIAOLD0000000000000, not the new key AKIANEW0000000000000 of run R1" in known["failures"]["app"]
    # The restore loop takes these as it takes the writes of state=present.
    assert destinations_written(known["writes"], ["app"]) == known["writes"]["results"]


def test_a_user_left_rolling_back_by_the_prepare_job_is_rolled_back_even_when_its_destinations_hold_the_new_key():
    known = run_destinations([read(dest("app"), "AKIANEW0000000000000")], FINISH_PLANS, NEW_KEYS,
                             {"run_id": "R1", "journals": {"app": {"phase": "rolling_back"}}})
    assert "rolling_back" in known["failures"]["app"] and len(known["writes"]["results"]) == 1


@given(st.lists(st.tuples(st.sampled_from(["app", "idle", "other"]),
                          st.sampled_from([None, "AKIANEW0000000000000", "AKIAOLD0000000000000", "AKIAX000000000000000"]),
                          st.booleans()), max_size=8))
def test_run_destinations_never_restores_a_destination_off_the_new_key_nor_one_of_a_user_outside_the_run(entries):
    reads = [read(dest(user, name=f"n{index}"), key_id, failed) for index, (user, key_id, failed) in enumerate(entries)]
    known = run_destinations({"results": reads}, FINISH_PLANS, NEW_KEYS, {"run_id": "R1", "journals": {}})
    for result in known["writes"]["results"]:
        assert result["item"]["user"] == "app" and result["access_key_id"] == "AKIANEW0000000000000"
    # Every readable destination of the run's user is either restorable or fails the user.
    off_key = [r for r in reads if r["item"]["user"] == "app" and not r.get("failed") and r["access_key_id"] != "AKIANEW0000000000000"]
    assert bool(off_key) == ("app" in known["failures"])
    assert set(known["failures"]) <= {"app"}
