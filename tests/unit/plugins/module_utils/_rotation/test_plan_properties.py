"""Property-based tests of the rotation's decisions: the planner and the journal's lock.

Generated states (keys, journals written by rotor or edited by hand, hosts holding keys, plays covering
all or part of a user's fleet) must never lead to a plan that harms what the rotation protects.
"""

import datetime

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import PHASES
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import TAG_VALUE_MAX
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import journal_from_tags
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import lock_journal
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import sanitize_tag_value
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import update_journal
from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan import IAM_KEY_LIMIT
from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan import plan_rotation
from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan import rotor_deactivated
from fake_iam import OneUserIAM  # noqa: E402  pylint: disable=wrong-import-order

NOW = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.timezone.utc)
KEY_IDS = ["AKIAAAAAAAAAAAAAAAA1", "AKIAAAAAAAAAAAAAAAA2", "AKIAAAAAAAAAAAAAAAA3"]
UNKNOWN_KEY = "AKIAZZZZZZZZZZZZZZZZ"  # held by a host, unknown to IAM
WINDOW = 60
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def minutes_ago(minutes):
    return (NOW - datetime.timedelta(minutes=minutes)).isoformat()


@st.composite
def user_keys(draw):
    """0-2 keys of one user, as rotor.iam.access_key_info returns them."""
    ids = draw(st.lists(st.sampled_from(KEY_IDS), max_size=IAM_KEY_LIMIT, unique=True))
    keys = []
    for key_id in ids:
        age = draw(st.integers(min_value=0, max_value=400 * 1440))
        used = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=age)))
        keys.append({
            "access_key_id": key_id,
            "status": draw(st.sampled_from(["Active", "Inactive"])),
            "create_date": minutes_ago(age),
            "age_days": age // 1440,
            "last_used_date": None if used is None else minutes_ago(used),
        })
    return keys


GARBAGE = ["", "garbage", "not-a-date", "AKIA lower", "2026-13-45"]


@st.composite
def journal_tags(draw, key_ids=None):
    """The rotor: tags of a user: none, written by a run (any phase, about the user's own keys), or edited by hand."""
    kind = draw(st.sampled_from(["none", "rotor", "rotor", "hand-edited"]))
    if kind == "none":
        return {}
    key_id = st.sampled_from(list(key_ids or []) or KEY_IDS)
    moment = st.integers(min_value=0, max_value=400 * 1440).map(minutes_ago)
    run_start = draw(st.integers(min_value=0, max_value=500 * 1440))
    run_id = (NOW - datetime.timedelta(minutes=run_start)).strftime("%Y%m%dT%H%M%SZ") + "-42"
    tags = {
        "rotor:phase": draw(st.sampled_from(PHASES)),
        "rotor:current": draw(st.one_of(st.none(), key_id)),
        "rotor:pending": draw(st.one_of(st.none(), key_id)),
        "rotor:previous": draw(st.one_of(st.none(), key_id)),
        "rotor:inactive-since": draw(st.one_of(st.none(), moment)),
        "rotor:updated": draw(moment),
        "rotor:run": draw(st.sampled_from([run_id, run_id, "hand-made-run"])),
    }
    if kind == "hand-edited":
        edited = draw(st.sampled_from(sorted(tags)))
        tags[edited] = draw(st.sampled_from(GARBAGE))
    return {k: v for k, v in tags.items() if v is not None}


@st.composite
def fleets(draw, user, key_ids=None):
    """Play hosts of ``user`` with the key ids their files hold, and inventory hosts outside the play."""
    count = draw(st.integers(min_value=1, max_value=4))
    holdable = st.lists(st.sampled_from(list(key_ids or KEY_IDS) * 3 + [UNKNOWN_KEY, KEY_IDS[2]]), max_size=2, unique=True)
    hosts = {f"{user}-h{n}": {"user": user, "key_ids": draw(holdable), "reachable": True} for n in range(count)}
    outside = [f"{user}-out{n}" for n in range(draw(st.sampled_from([0, 0, 1, 2])))]
    return hosts, sorted(hosts) + outside


@st.composite
def user_states(draw, user="app"):
    keys = draw(user_keys())
    for key in keys:
        key["user_name"] = user
    ids = [k["access_key_id"] for k in keys]
    hosts, fleet = draw(fleets(user, ids))
    # Secret destinations hold keys as hosts do; a user may have them and no host at all.
    destinations = {f"secretsmanager:rotor/keys/{user}-{n}": draw(st.sampled_from(ids + [None, UNKNOWN_KEY]))
                    for n in range(draw(st.sampled_from([0, 0, 1, 2])))}
    if destinations and draw(st.booleans()):
        hosts, fleet = {}, []
    return {"keys": keys, "journal": journal_from_tags(draw(journal_tags(ids)), now=NOW), "hosts": hosts, "fleet": fleet,
            "destinations": destinations}


def plan_one(state, user="app", force=False):
    return plan_rotation([{"user_name": user, "access_keys": state["keys"]}], state["hosts"], force=force, now=NOW,
                         journals={user: state["journal"]}, in_use_window_minutes=WINDOW, fleet={user: state["fleet"]},
                         destinations={user: state["destinations"]})[user]


def held_ids(state):
    """Every key a host or a secret destination of the user holds."""
    return ({key_id for info in state["hosts"].values() for key_id in info["key_ids"]}
            | {key_id for key_id in state["destinations"].values() if key_id})


def deleted_ids(plan):
    return set(plan["stale_inactive_key_ids"]) | {k for k in (plan["free_slot_key_id"], plan["replace_key_id"]) if k}


def used_within_window(key):
    last = key.get("last_used_date")
    return last is not None and (NOW - datetime.datetime.fromisoformat(last)).total_seconds() < WINDOW * 60


@SETTINGS
@given(user_states(), st.booleans())
def test_never_deletes_or_replaces_a_key_an_inventory_host_holds(state, force):
    plan = plan_one(state, force=force)
    assert not deleted_ids(plan) & held_ids(state), plan


@SETTINGS
@given(user_states())
def test_never_deletes_a_key_used_within_the_window_without_force(state):
    plan = plan_one(state)
    by_id = {k["access_key_id"]: k for k in state["keys"]}
    assert not [k for k in deleted_ids(plan) if used_within_window(by_id[k]) and by_id[k]["status"] == "Active"], plan
    if plan["replace_key_id"]:
        assert by_id[plan["replace_key_id"]]["last_used_date"] is None, "a replaced pending key was used"


@SETTINGS
@given(user_states(), st.booleans())
def test_never_reactivates_a_key_rotor_did_not_deactivate(state, force):
    plan = plan_one(state, force=force)
    if plan["reactivate_old"]:
        assert rotor_deactivated(state["journal"], plan["old_key_id"]), (plan, state["journal"])


@SETTINGS
@given(user_states(), st.booleans())
def test_never_plans_a_third_key(state, force):
    plan = plan_one(state, force=force)
    if plan["due"] and not plan["error"]:
        remaining = {k["access_key_id"] for k in state["keys"]} - deleted_ids(plan)
        made = 0 if plan["new_key_id"] else 1
        assert len(remaining) + made <= IAM_KEY_LIMIT, plan


@SETTINGS
@given(user_states(), st.booleans())
def test_a_refusal_names_the_user_and_the_reason(state, force):
    plan = plan_one(state, force=force)
    if plan["error"]:
        assert "'app'" in plan["error"] and len(plan["error"]) > 60, plan["error"]
        assert plan["due"] is False or plan["error"]


@SETTINGS
@given(user_states(), st.booleans())
def test_a_staged_play_never_touches_the_pending_key_or_finishes(state, force):
    plan = plan_one(state, force=force)
    if plan["hosts_outside_play"]:
        pending = state["journal"].get("pending_key_id")
        assert plan["replace_key_id"] is None or plan["replace_key_id"] != pending or state["journal"].get("phase") == "creating"
        if plan["due"] and not plan["error"]:
            assert plan["staged"] is True


@SETTINGS
@given(user_states())
def test_a_malformed_journal_refuses_that_user(state):
    plan = plan_one(state)
    if state["journal"]["problems"]:
        assert plan["error"] and state["journal"]["problems"][0]["tag"] in plan["error"]


@SETTINGS
@given(user_states("alice"), user_states("bob"), st.booleans())
def test_one_users_state_never_changes_another_users_plan(alice, bob, force):
    both = plan_rotation(
        [{"user_name": "alice", "access_keys": alice["keys"]}, {"user_name": "bob", "access_keys": bob["keys"]}],
        dict(alice["hosts"], **bob["hosts"]), force=force, now=NOW, in_use_window_minutes=WINDOW,
        journals={"alice": alice["journal"], "bob": bob["journal"]}, fleet={"alice": alice["fleet"], "bob": bob["fleet"]},
        destinations={"alice": alice["destinations"], "bob": bob["destinations"]},
    )
    alone = plan_rotation([{"user_name": "alice", "access_keys": alice["keys"]}], alice["hosts"], force=force, now=NOW,
                          in_use_window_minutes=WINDOW, journals={"alice": alice["journal"]}, fleet={"alice": alice["fleet"]},
                          destinations={"alice": alice["destinations"]})
    assert both["alice"] == alone["alice"]


# --------------------------------------------------------------------------- the journal and its lock


TagStore = OneUserIAM  # the one fake IAM client (tests/unit/fake_iam.py), one user


RUNS = {
    "run-a": {"owner": "a@ctl-a", "host": "ctl", "machine": "a" * 32, "pid": 1, "started": "100"},
    "run-b": {"owner": "b@ctl-b", "host": "ctl", "machine": "b" * 32, "pid": 1, "started": "100"},
}
OPERATIONS = st.lists(st.tuples(st.sampled_from(sorted(RUNS)), st.sampled_from(["lock", "phase", "unlock"]),
                                st.sampled_from(PHASES)), max_size=12)


@SETTINGS
@given(OPERATIONS)
def test_two_runs_on_other_machines_never_hold_the_lock_together(operations):
    """Same hostname, same pid, different machines (two containers): a live lock is never taken over."""
    store, holder = TagStore(), None
    for run_id, operation, phase in operations:
        before = dict(store.tags)
        try:
            if operation == "lock":
                lock_journal(store, "app", run_id, identity=RUNS[run_id], sleep=lambda s: None, now=NOW)
            elif operation == "phase":
                fields = {"phase": phase, "current_key_id": "AKIAOLDKEYEXAMPLE001" if phase == "creating" else None}
                lock_journal(store, "app", run_id, fields=fields, identity=RUNS[run_id], sleep=lambda s: None, now=NOW)
            else:
                update_journal(store, "app", run_id, {}, unlock=True, now=NOW, identity=RUNS[run_id])
        except RotorIAMError as exc:
            if exc.code in ("IllegalTransition", "InvalidJournalWrite"):
                # A phase the transition table refuses: nothing written, the lock where it was.
                assert holder in (None, run_id) and store.tags == before, exc.message
                continue
            assert holder is not None and holder != run_id, f"{run_id} refused while {holder} held the lock: {exc.message}"
            assert exc.code in ("RotationLocked", "LockLost") and holder in exc.message
            continue
        assert holder in (None, run_id), f"{run_id} went on while {holder} held the lock"
        holder = None if operation == "unlock" else run_id
        assert journal_from_tags(store.tags, now=NOW)["lock"] == (None if holder is None else journal_from_tags(store.tags, now=NOW)["lock"])


@SETTINGS
@given(st.text(max_size=400))
def test_tag_values_are_sanitised_to_what_iam_accepts(value):
    clean = sanitize_tag_value(value)
    assert len(clean) <= TAG_VALUE_MAX
    assert all(ch.isalnum() or ch in "_ .:/=+-@" for ch in clean), clean


@SETTINGS
@given(journal_tags())
def test_reading_any_journal_never_raises_and_lists_what_is_malformed(tags):
    journal = journal_from_tags(tags, now=NOW)
    bad = {p["tag"] for p in journal["problems"]}
    for tag in ("rotor:phase", "rotor:current", "rotor:pending", "rotor:previous", "rotor:inactive-since", "rotor:updated"):
        value = tags.get(tag) or None
        if value in GARBAGE[1:]:
            assert tag in bad, (tag, value, journal["problems"])
