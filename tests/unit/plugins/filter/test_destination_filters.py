"""The secret destinations before the run record (plugins/filter/destinations.py): which are read at plan time, what a
finish job knows of them; a bad rotor_secret_destinations is refused naming the entry. What the run writes, checks and
restores: tests/unit/plugins/module_utils/_rotation/test_destination_work.py."""

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.filter.destinations import destinations_to_read
from ansible_collections.rotor.iam.plugins.filter.destinations import run_destinations

USERS = {"users": {"app": {"connection": {"profile": "", "region": "eu-west-1", "endpoint_url": "http://iam"}}}}


def dest(user, kind="secretsmanager", name=None, **extra):
    return dict({"user": user, "type": kind, "name": name or f"rotor/keys/{user}-{kind}"}, **extra)


def test_a_bad_destination_is_refused_as_a_filter_error_naming_the_entry():
    # Every refusal is the engine's (test_destination_work.py); the filter turns it into Ansible's error.
    with pytest.raises(AnsibleFilterError, match=r"rotor_secret_destinations\[1\]: secretsmanager .* is listed twice"):
        destinations_to_read([dest("app"), dest("app")], USERS)


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
