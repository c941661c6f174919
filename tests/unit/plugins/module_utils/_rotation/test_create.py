"""The create phase in the run record: each step's work list, what its registered loop says per user, and the undo, once."""

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.module_utils._rotation import create
from ansible_collections.rotor.iam.plugins.module_utils._rotation import run as engine
from run_record_builders import NEW, OLD, host

SLOT = "AKIASLOT000000000001"
PENDING = "AKIAPENDING000000001"


def plan(user="app", **extra):
    return dict({"due": True, "error": None, "new_key_id": None, "old_key_id": OLD, "old_key_status": "Active", "user_name": user,
                 "hosts": ["web1"], "reason": "key is 120 days old", "lease": {"run_id": "r1", "n": 0}, "locked": True}, **extra)


def resumed(user="old", **extra):
    return plan(user, **dict({"new_key_id": PENDING, "new_key_holders": ["db1"], "hosts": ["db1"],
                             "new_key_holder": {"host": "db1", "file": {"path": "/etc/app/credentials"}}}, **extra))


def loop(items, failed=(), **fields):
    """A registered loop over work items: the users in ``failed`` failed, the others returned ``fields`` (per user if a dict
    of dicts)."""
    results = []
    for item in items:
        user = item["user"]
        if user in failed:
            results.append(dict({"item": item, "failed": True, "msg": "refused"}, **failed[user]) if isinstance(failed, dict)
                           else {"item": item, "failed": True, "msg": "refused"})
        else:
            results.append(dict({"item": item, "changed": True}, **(fields.get(user, {}) if user in fields else fields)))
    return {"results": results}


def step(run, name, register, **extra):
    return engine.advance(run, "created", dict({name: register}, **extra))


def users_of(items):
    return [item["user"] for item in items]


def test_a_new_key_is_journaled_made_journaled_again_verified_and_staged_under_the_latest_lease():
    run = engine.start({"app": plan(free_slot_key_id=SLOT)})
    todo = run["todo"]
    assert todo["creating"] == [{"user": "app", "current_key_id": OLD, "lease": {"run_id": "r1", "n": 0}}]
    assert todo["free_slots"] == [] and todo["create"] == []  # nothing before the journal says "creating"

    run = step(run, "creating", loop(run["todo"]["creating"], lease={"run_id": "r1", "n": 1}))
    assert run["todo"]["free_slots"] == [{"user": "app", "access_key_id": SLOT, "lease": {"run_id": "r1", "n": 0}, "force": False}]
    run = step(run, "freed", loop(run["todo"]["free_slots"]))
    assert users_of(run["todo"]["create"]) == ["app"]
    run = step(run, "created", loop(run["todo"]["create"], access_key_id=NEW, secret_access_key="not-kept"))
    assert run["users"]["app"]["new_key_id"] == NEW and "not-kept" not in repr(run)
    assert run["todo"]["distributing"] == [{"user": "app", "pending_key_id": NEW, "lease": {"run_id": "r1", "n": 1}}]

    run = step(run, "distributing", loop(run["todo"]["distributing"], lease={"run_id": "r1", "n": 2}))
    assert run["leases"] == {"app": {"run_id": "r1", "n": 2}} and run["notes"] == [f"app: created {NEW}"]
    assert run["todo"]["verify"] == [{"user": "app", "access_key_id": NEW}] and run["todo"]["stage"] == []
    run = step(run, "verified", loop(run["todo"]["verify"]), verify_timeout=4)
    run = step(run, "staged", loop(run["todo"]["stage"]))
    assert run["todo"]["stage"] == [{"user": "app", "access_key_id": NEW}]
    assert run["todo"]["undo_keys"] == [] and run["todo"]["undo_journal"] == [] and run["todo"]["not_created"] == {}


def made(plans, user="app"):
    """The run once ``user``'s new key NEW is made (every step before succeeded)."""
    run = engine.start(plans)
    run = step(run, "creating", loop(run["todo"]["creating"], lease={"n": 1}))
    run = step(run, "freed", loop(run["todo"]["free_slots"]))
    return step(run, "created", loop(run["todo"]["create"], access_key_id=NEW))


@pytest.mark.parametrize("at, error_code, kind", [
    ("creating", "AccessDenied", "permission"),
    ("freed", "UnauthorizedOperation", "permission"),
    ("created", "LimitExceeded", "create"),
])
def test_a_refused_write_before_the_key_exists_fails_its_user_alone(at, error_code, kind):
    run = engine.start({"app": plan(replace_key_id=SLOT), "db": plan("db")})
    for name, listed in (("creating", "creating"), ("freed", "free_slots"), ("created", "create")):
        failed = {"app": {"error_code": error_code, "msg": f"Access denied for {name}"}} if name == at else {}
        run = step(run, name, loop(run["todo"][listed], failed=failed, lease={"n": 1}, access_key_id=NEW))
        if name == at:
            break

    assert run["users"]["app"]["failures"]["create"] == f"no new key could be made (Access denied for {at}), so no host was touched"
    assert run["users"]["app"]["failures"]["create_kind"] == kind and run["outcome"]["app"]["action"] == "rolled_back"
    assert "app" not in users_of(run["todo"]["create"]) + users_of(run["todo"]["verify"]) + users_of(run["todo"]["distributing"])
    assert run["todo"]["undo_keys"] == []
    # The journal says "creating" only if this run wrote it: only then is it rolled back.
    assert run["todo"]["undo_journal"] == ([] if at == "creating" else [{"user": "app"}])
    assert "db" not in run["todo"]["not_created"]


@pytest.mark.parametrize("at, failure, kind, message", [
    ("verified", {"error_code": "InvalidClientTokenId", "msg": "still rejected"}, "verify_timeout",
     f"the new key {NEW} was not accepted by AWS within rotor_verify_timeout=4s, so it was deleted and no host was touched (still rejected)"),
    ("verified", {"error_code": "ConnectionError", "msg": "no route"}, "connection",
     f"AWS STS could not be reached to verify the new key {NEW} (connection error, not a propagation delay), so it was deleted and no "
     "host was touched (no route)"),
    ("staged", {"msg": "KMS denied"}, "stage",
     f"the pending secret of the new key {NEW} could not be stored in Secrets Manager (rotor_pending_store), so the key was deleted "
     "and no host was touched (KMS denied)"),
])
def test_a_new_key_that_never_became_usable_is_deleted_and_its_journal_rolled_back_once(at, failure, kind, message):
    run = made({"app": plan()})
    run = step(run, "distributing", loop(run["todo"]["distributing"]))
    run = step(run, "verified", loop(run["todo"]["verify"], failed={"app": failure} if at == "verified" else {}), verify_timeout=4)
    if at == "staged":
        run = step(run, "staged", loop(run["todo"]["stage"], failed={"app": failure}))

    assert run["users"]["app"]["failures"]["create"] == message and run["users"]["app"]["failures"]["create_kind"] == kind
    assert run["todo"]["undo_keys"] == [{"user": "app", "access_key_id": NEW}] and run["todo"]["undo_journal"] == [{"user": "app"}]
    run = step(run, "undone", loop(run["todo"]["undo_journal"]))
    assert run["todo"]["undo_keys"] == [] and run["todo"]["undo_journal"] == []
    assert engine.report(run)["rotation"]["app"]["message"] == message


def test_a_resumed_key_comes_from_the_store_or_a_host_and_is_never_deleted_by_the_create_phase():
    plans = {"old": resumed(), "cut": resumed("cut", resume={"phase": "cutover"})}
    run = engine.start(plans)
    assert run["todo"]["creating"] == [] and users_of(run["todo"]["recover"]) == ["cut", "old"]

    run = step(run, "stored", loop(run["todo"]["recover"], failed={"cut": {}}, exists=True))
    assert run["todo"]["read_back"] == [{"host": "db1", "file": {"path": "/etc/app/credentials"}, "user": "cut", "access_key_id": PENDING}]
    run = step(run, "recovered", loop(run["todo"]["read_back"]))
    # A run resumed in cutover (the old key already Inactive) stays there: no "distributing".
    assert users_of(run["todo"]["distributing"]) == ["old"] and users_of(run["todo"]["verify"]) == ["cut", "old"]
    run = step(run, "distributing", loop(run["todo"]["distributing"]))
    assert run["notes"] == ["cut: recovered AKIAPENDING000000001 from db1", "old: recovered AKIAPENDING000000001 from Secrets Manager"]
    assert run["leases"] == {"cut": plans["cut"]["lease"], "old": plans["old"]["lease"]}

    run = step(run, "verified", loop(run["todo"]["verify"], failed={"old": {"msg": "rejected"}}), verify_timeout=4)
    assert run["users"]["old"]["failures"]["create"] == (f"the new key {PENDING} recovered from db1 is not accepted by AWS (rejected); "
                                                         "the hosts holding it need attention")
    assert run["todo"]["undo_keys"] == [] and run["todo"]["undo_journal"] == []
    assert run["outcome"]["old"]["action"] == "rollback"  # rolled back with its hosts, like any other failure


def test_an_incident_takes_the_compromised_key_out_first_and_says_whether_aws_rejects_it():
    leaked = {"user": "app", "access_key_id": OLD}
    plans = {"app": plan(deactivate_first=True, old_key_holder={"host": "web1", "file": {"path": "/c"}}),
             "db": plan("db", deactivate_first=True, old_key_holder={})}
    run = engine.start(plans)
    assert users_of(run["todo"]["incident"]) == ["app", "db"] and run["todo"]["leak_reads"] == [{"host": "web1", "file": {"path": "/c"}, "user": "app"}]

    run = engine.advance(run, "created", {"incident": loop(run["todo"]["incident"], lease={"n": 5}),
                                          "leak_reads": loop(run["todo"]["leak_reads"], access_key_id=OLD, secret_access_key="s3cr3t-of-the-leak")})
    assert run["todo"]["leak_proofs"] == [leaked] and "s3cr3t-of-the-leak" not in repr(run)
    assert run["todo"]["creating"][0]["lease"] == {"n": 5}  # the incident's journal write is the latest
    run = step(run, "leak_proofs", loop(run["todo"]["leak_proofs"]))
    assert run["notes"] == [
        f"app: {OLD} is Inactive and AWS rejects it; moving every host to a new key",
        f"db: {OLD} is Inactive (AWS did not yet confirm that it rejects it within rotor_verify_timeout; it stays Inactive and is deleted "
        "at the end); moving every host to a new key"]


def test_check_mode_plans_the_writes_it_can_and_touches_nothing_else():
    plans = {"app": plan(), "full": plan("full", replace_key_id=SLOT), "old": resumed(), "hit": plan("hit", deactivate_first=True)}
    run = engine.start(plans, check_mode=True)
    assert run["todo"]["incident"] == [] and run["todo"]["recover"] == [] and run["todo"]["read_back"] == []
    run = step(run, "creating", loop(run["todo"]["creating"]))
    assert users_of(run["todo"]["create"]) == ["app", "hit"]  # a slot check mode does not free is still taken
    run = step(run, "created", loop(run["todo"]["create"], access_key_id=None, secret_access_key=None))
    run = step(run, "distributing", {"results": []})
    assert run["todo"]["distributing"] == [] and run["todo"]["verify"] == [] and "leases" not in run
    assert "app: created (check mode: no key)" in run["notes"] and f"old: recovered {PENDING} from db1" in run["notes"]


def test_stale_keys_of_every_user_the_run_may_touch_and_old_keys_to_reactivate():
    plans = {"app": plan(stale_inactive_key_ids=[SLOT], reactivate_old=True), "idle": plan("idle", due=False, stale_inactive_key_ids=[PENDING]),
             "gone": plan("gone", due=False, error="locked elsewhere", stale_inactive_key_ids=["AKIAGONE000000000001"])}
    todo = engine.start(plans)["todo"]
    assert todo["stale_keys"] == [{"user": "app", "access_key_id": SLOT, "lease": plans["app"]["lease"]},
                                  {"user": "idle", "access_key_id": PENDING, "lease": plans["idle"]["lease"]}]
    assert todo["reactivate_old"] == [{"user": "app", "access_key_id": OLD, "lease": plans["app"]["lease"]}]


STEP = st.sampled_from([name for name in create.STEPS if not name.startswith(("incident", "leak"))])
LISTED = {"creating": "creating", "freed": "free_slots", "created": "create", "stored": "recover", "recovered": "read_back",
          "distributing": "distributing", "verified": "verify", "staged": "stage", "undone": "undo_journal"}


USERS = st.sets(st.sampled_from(["app", "db", "old"]))
# The role's order, each step run once or twice, then any steps in any order: every result of every step may be a failure.
IN_ORDER = st.tuples(*[st.lists(st.tuples(st.just(name), USERS), min_size=1, max_size=2) for name in LISTED])


@given(IN_ORDER, st.lists(st.tuples(STEP, USERS), max_size=6),
       st.lists(st.sampled_from(["healthy", "failed", "unreachable"]), min_size=3, max_size=3))
@settings(deadline=None, max_examples=300)  # a loaded machine must not fail a property
def test_a_failed_user_is_rolled_back_at_most_once_whatever_the_results(in_order, shuffled, states):
    """Properties, for any order and repetition of the create steps and any of them failing for any user: a user's journal
    is rolled back at most once (by the create phase's undo or by the rollback after the hosts, never both), and the create
    phase deletes only a key this run made."""
    steps = [each for repeated in in_order for each in repeated] + shuffled
    run = engine.start({"app": plan(), "db": plan("db", free_slot_key_id=SLOT), "old": resumed(hosts=["db1"])})
    rolled_back = {"app": 0, "db": 0, "old": 0}
    made_keys = set()
    for name, failing in steps:
        items = run["todo"][LISTED[name]]
        if name == "undone":
            for item in run["todo"]["undo_keys"]:
                assert item["user"] in made_keys, f"the create phase deleted a key it did not make ({item})"
            for item in items:
                rolled_back[item["user"]] += 1
        register = loop(items, failed={u: {"error_code": "AccessDenied"} for u in failing}, access_key_id=NEW, lease={"n": 1}, exists=False)
        run = step(run, name, register, verify_timeout=4)
        if name == "created":
            made_keys |= {r["item"]["user"] for r in register["results"] if not r.get("failed")}
    hosts = {"web1": host(state=states[0]), "web2": host("db", state=states[1]), "db1": host("old", state=states[2])}
    run = engine.advance(run, "hosts", {"hosts": hosts})
    for user in run["todo"]["delete_new_keys"]:  # rollback_finish.yml: the journal says rolled_back
        rolled_back[user] += 1
    assert all(count <= 1 for count in rolled_back.values()), rolled_back
    for user, entry in run["users"].items():
        if entry["failures"]["create"] and user != "old":
            assert user not in run["todo"]["rollback"] + run["todo"]["reactivate"] + run["todo"]["delete_new_keys"]


def test_a_key_recovered_from_secrets_manager_alone_names_the_store_not_an_empty_host_list():
    plans = {"old": resumed(new_key_holders=[], new_key_holder={})}
    run = engine.start(plans)
    run = step(run, "stored", loop(run["todo"]["recover"], exists=True))
    assert run["todo"]["read_back"] == []
    run = step(run, "recovered", loop(run["todo"]["read_back"]))
    run = step(run, "distributing", loop(run["todo"]["distributing"]))
    assert run["notes"] == [f"old: recovered {PENDING} from Secrets Manager"]
    run = step(run, "verified", loop(run["todo"]["verify"], failed={"old": {"msg": "rejected"}}), verify_timeout=4)
    message = run["users"]["old"]["failures"]["create"]
    assert "()" not in message and "from Secrets Manager (rotor_pending_store)" in message and "no host of the inventory holds it" in message
