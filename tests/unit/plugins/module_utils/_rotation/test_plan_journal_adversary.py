"""The journal's adversary (issue 20): someone with iam:TagUser alone writes the user's rotor: tags by hand.

Generated forged journals (every phase, any of the user's key ids or others, any dates, a creation window anywhere,
a seal that is not rotor's) must never make a run reactivate a key (rotor deactivated none here), nor delete a key
that the truth alone protects: one a host or destination holds, one used or created within rotor_in_use_window_minutes
(a forged journal can make a user look due, and a rotation then frees a slot by the two-key rules, which delete only
keys nothing uses). With a seal key configured that holds for every forgery; without one, the only other deletion a
forgery can get is the documented residual (docs/security.md): a key that nothing holds, that AWS says was never
used, and that IAM dates inside a creation window of at most 15 minutes the forger named (the forger had to know
when it was made to the quarter hour).
"""

import datetime

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.module_utils._journal_trust import WINDOW_MARGIN_SECONDS
from ansible_collections.rotor.iam.plugins.module_utils._journal_trust import WINDOW_MAX_SECONDS
from ansible_collections.rotor.iam.plugins.module_utils._journal_trust import seal
from ansible_collections.rotor.iam.plugins.module_utils._journal_trust import sealed
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import PHASES
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import journal_from_tags
from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan import plan_rotation

from test_plan_properties import KEY_IDS, NOW, UNKNOWN_KEY, WINDOW, deleted_ids, minutes_ago, user_states

SEAL_KEY = "only-rotor-knows-this-0123456789"
SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def forged_tags(draw, key_ids):
    """What someone with iam:TagUser can write: any phase, any key ids, any dates, any window, any seal but rotor's."""
    ids = st.sampled_from(list(key_ids) + [UNKNOWN_KEY, KEY_IDS[0]])
    moment = st.one_of(st.integers(min_value=-60, max_value=800 * 1440).map(minutes_ago),
                       st.sampled_from(["", "garbage", "2026-13-45"]))
    started = NOW - datetime.timedelta(minutes=draw(st.integers(min_value=0, max_value=800 * 1440)))
    tags = {
        "rotor:phase": draw(st.sampled_from(PHASES)),
        "rotor:current": draw(st.one_of(st.none(), ids)),
        "rotor:pending": draw(st.one_of(st.none(), ids)),
        "rotor:previous": draw(st.one_of(st.none(), ids)),
        "rotor:inactive-since": draw(st.one_of(st.none(), moment)),
        "rotor:updated": draw(moment),
        "rotor:run": draw(st.sampled_from([started.strftime("%Y%m%dT%H%M%SZ") + "-42", "hand-made"])),
        "rotor:created-after": draw(st.one_of(st.none(), moment)),
        "rotor:created-before": draw(st.one_of(st.none(), moment)),
        "rotor:seal": draw(st.one_of(st.none(), st.sampled_from(["v1.forged", seal("a-guessed-key", "app", {})]))),
    }
    return {k: v for k, v in tags.items() if v is not None}


@st.composite
def forged_states(draw):
    state = draw(user_states())
    ids = [k["access_key_id"] for k in state["keys"]]
    state["forged"] = draw(forged_tags(ids))
    return state


def read_as_rotor(tags, seal_key):
    """The journal as rotor.iam.rotation_journal reads it (read_journal): its seal judged with rotor's key."""
    journal = journal_from_tags(tags, now=NOW)
    journal["sealed"] = sealed(seal_key, "app", journal, journal.get("seal"))
    journal["seal_required"] = bool(seal_key)
    return journal


def plan_with(state, journal):
    return plan_rotation([{"user_name": "app", "access_keys": state["keys"]}], state["hosts"], now=NOW, journals={"app": journal},
                         in_use_window_minutes=WINDOW, fleet={"app": state["fleet"]}, destinations={"app": state["destinations"]})["app"]


def _time(value):
    try:
        moment = datetime.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def inside_a_named_window(key, journal):
    after, before, created = _time(journal.get("created_after")), _time(journal.get("created_before")), _time(key["create_date"])
    if after is None or created is None:
        return False
    end = before or after + datetime.timedelta(minutes=5)
    margin = datetime.timedelta(seconds=WINDOW_MARGIN_SECONDS)
    return (end - after).total_seconds() <= WINDOW_MAX_SECONDS and after - margin <= created <= end + margin


@SETTINGS
@given(forged_states(), st.booleans())
def test_a_forged_journal_never_reactivates_a_key(state, seal_configured):
    """rotor deactivated nothing here: whatever the tags say, no plan turns a key back on."""
    plan = plan_with(state, read_as_rotor(state["forged"], SEAL_KEY if seal_configured else None))
    assert plan["reactivate_old"] is False, (state["forged"], plan)


def protected(key, state):
    """A key the two-key rules never delete: held, or Active and used or created within rotor_in_use_window_minutes
    (an Inactive key nothing holds serves no one: any rotation may delete it to make room)."""
    held = {key_id for info in state["hosts"].values() for key_id in info["key_ids"]} | {v for v in state["destinations"].values() if v}
    if key["access_key_id"] not in held and key.get("status") != "Active":
        return False
    recent = [_time(key.get("last_used_date")), _time(key.get("create_date"))]
    return key["access_key_id"] in held or any(m is not None and (NOW - m).total_seconds() < WINDOW * 60 for m in recent)


def extra_deletions(state, forged_plan):
    truth = deleted_ids(plan_with(state, journal_from_tags({}, now=NOW)))
    return [next(k for k in state["keys"] if k["access_key_id"] == key_id) for key_id in deleted_ids(forged_plan) - truth]


@SETTINGS
@given(forged_states())
def test_with_a_seal_key_a_forged_journal_never_deletes_a_key_the_truth_protects(state):
    forged = plan_with(state, read_as_rotor(state["forged"], SEAL_KEY))
    for key in extra_deletions(state, forged):
        assert not protected(key, state), (state["forged"], forged)
    assert forged["replace_key_id"] is None, "an unsealed record named a key rotor lost"


@SETTINGS
@given(forged_states())
def test_without_a_seal_key_a_forgery_deletes_nothing_protected_but_the_documented_residual(state):
    journal = read_as_rotor(state["forged"], None)
    forged = plan_with(state, journal)
    for key in extra_deletions(state, forged):
        residual = (key["access_key_id"] == forged["replace_key_id"] and not key.get("last_used_date")
                    and inside_a_named_window(key, journal))
        assert residual or not protected(key, state), (state["forged"], forged)


def test_rotors_own_sealed_record_still_allows_the_reactivation_it_earned():
    old, new = KEY_IDS[0], KEY_IDS[1]
    keys = [{"access_key_id": old, "status": "Inactive", "create_date": minutes_ago(200 * 1440), "age_days": 200, "last_used_date": minutes_ago(10),
             "user_name": "app"},
            {"access_key_id": new, "status": "Active", "create_date": minutes_ago(12), "age_days": 0, "last_used_date": minutes_ago(5), "user_name": "app"}]
    fields = {"phase": "rolling_back", "current_key_id": old, "pending_key_id": new, "previous_key_id": old,
              "inactive_since": minutes_ago(3), "run_id": "20261130T114800Z-42", "updated": minutes_ago(3),
              "created_after": minutes_ago(13), "created_before": minutes_ago(12)}
    tags = {"rotor:phase": "rolling_back", "rotor:current": old, "rotor:pending": new, "rotor:previous": old,
            "rotor:inactive-since": fields["inactive_since"], "rotor:run": fields["run_id"], "rotor:updated": fields["updated"],
            "rotor:created-after": fields["created_after"], "rotor:created-before": fields["created_before"],
            "rotor:seal": seal(SEAL_KEY, "app", fields)}
    state = {"keys": keys, "hosts": {"web1": {"user": "app", "key_ids": [new], "reachable": True},
                                     "web2": {"user": "app", "key_ids": [old], "reachable": True}},
             "fleet": ["web1", "web2"], "destinations": {}}
    assert plan_with(state, read_as_rotor(tags, SEAL_KEY))["reactivate_old"] is True
    assert plan_with(state, read_as_rotor(tags, None))["reactivate_old"] is False  # no key: not believed
    tampered = dict(tags, **{"rotor:previous": new})
    assert plan_with(state, read_as_rotor(tampered, SEAL_KEY))["reactivate_old"] is False
