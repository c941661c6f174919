"""A user that fails before any host has its new key is rolled back once, by rotation_outcome (its failure an input)."""

from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.module_utils._rotation.outcome import rotation_outcome

USER = "app"
DUE = {"due": True, "error": None, "new_key_id": None}
VERIFY_TIMEOUT = "the new key AKIANEW0000000000001 was not accepted by AWS within rotor_verify_timeout=4s, so it was deleted"


def untouched(user=USER):
    return {"user": user, "state": "untouched", "wrote": False, "failure": {}}


def test_a_create_failure_is_already_rolled_back_and_named():
    entry = rotation_outcome({USER: DUE}, {"web1": untouched(), "web2": untouched()}, create_failures={USER: VERIFY_TIMEOUT})[USER]

    assert entry["action"] == "rolled_back"  # not "rollback": the create phase undid it; rollback.yml must not run again
    assert entry["message"] == VERIFY_TIMEOUT
    assert entry["failures"] == [{"host": None, "check": "new key", "msg": VERIFY_TIMEOUT}]


def test_a_recovered_key_that_fails_is_rolled_back_by_the_cutover_phase():
    """A resumed run's recovered key is not the create phase's to delete: the usual rollback puts its holders back."""
    plan = dict(DUE, new_key_id="AKIANEW0000000000001")
    entry = rotation_outcome({USER: plan}, {"web1": untouched()}, create_failures={USER: "not accepted"})[USER]

    assert entry["action"] == "rollback"
    assert entry["message"] == "failed: not accepted"


def test_a_create_failure_of_one_user_leaves_the_others_alone():
    plans = {USER: DUE, "other": dict(DUE)}
    states = {"web1": untouched(), "db1": {"user": "other", "state": "healthy", "wrote": True, "failure": {}}}

    outcome = rotation_outcome(plans, states, create_failures={USER: VERIFY_TIMEOUT})

    assert outcome[USER]["action"] == "rolled_back" and outcome["other"]["action"] == "cutover"


@given(st.lists(st.sampled_from(["untouched", "written", "healthy", "failed", "unreachable"]), max_size=4),
       st.booleans(), st.booleans())
def test_rolled_back_only_for_create_failures_and_never_twice(states, failed_in_create, recovered):
    """Whatever the hosts report, a user is rolled_back exactly when its create phase failed and undid its own key."""
    plan = dict(DUE, new_key_id="AKIANEW0000000000001" if recovered else None)
    host_states = {f"h{n}": {"user": USER, "state": s, "wrote": s in ("written", "healthy", "failed"), "failure": {}}
                   for n, s in enumerate(states)}
    create = {USER: "verify timed out"} if failed_in_create else {}

    action = rotation_outcome({USER: plan}, host_states, create_failures=create)[USER]["action"]

    assert (action == "rolled_back") == (failed_in_create and not recovered)
    if failed_in_create:
        assert action in ("rolled_back", "rollback")


def test_a_key_change_that_fails_after_distribution_stops_the_user_with_the_state_left():
    plan = {"due": True, "error": None, "new_key_id": None, "old_key_id": "AKIAOLD0000000000001", "user_name": USER}
    states = {"web1": {"user": USER, "state": "healthy", "wrote": True, "failure": {}},
              "web2": {"user": USER, "state": "untouched", "wrote": False, "failure": {}}}

    stopped = {USER: {"msg": "Access denied for iam:UpdateAccessKey.", "new_key_id": "AKIANEW0000000000001"}}
    entry = rotation_outcome({USER: plan}, states, stopped=stopped)[USER]

    assert entry["action"] == "stopped"  # neither cut over nor rolled back: nothing more is done this run
    assert entry["message"].startswith(
        "stopped after distribution: Access denied for iam:UpdateAccessKey. State left: the old key AKIAOLD0000000000001 and the "
        "new key AKIANEW0000000000001 are both Active; web1 hold the new key AKIANEW0000000000001; web2 still hold AKIAOLD0000000000001;")
    assert "rotor.iam.access_key_delete user_name=app access_key_id=AKIANEW0000000000001 force=true" in entry["message"]
