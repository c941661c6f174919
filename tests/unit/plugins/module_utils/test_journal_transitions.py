"""The rotation journal's transition table (module_utils/rotation_journal.py): which phase may follow which,
what the fields a write leaves out become, and that every write the rotate role makes today stays legal."""

import datetime

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import IN_PROGRESS_PHASES
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import PHASES
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import TRANSITIONS
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import journal_from_tags
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import lock_journal
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import update_journal
from fake_iam import OneUserIAM  # noqa: E402  pylint: disable=wrong-import-order

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.timezone.utc)
ME = {"owner": "ops@ctl", "host": "ctl", "machine": "a" * 32, "pid": 4242, "started": "100"}
RUN = "20261125T115000Z-1"
OLD, NEW, NEWER = "AKIAOLDKEYEXAMPLE001", "AKIANEWKEYEXAMPLE002", "AKIANEWERKEYEXAMP003"
SINCE = (NOW - datetime.timedelta(minutes=3)).isoformat()
FIELDS = ("pending_key_id", "current_key_id", "previous_key_id", "inactive_since")
TAG_OF = {"phase": "rotor:phase", "pending_key_id": "rotor:pending", "current_key_id": "rotor:current",
          "previous_key_id": "rotor:previous", "inactive_since": "rotor:inactive-since"}
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


TagStore = OneUserIAM  # the one fake IAM client (tests/unit/fake_iam.py), one user


def lock(run_id=RUN):
    return {"rotor:lock-run": run_id, "rotor:lock-owner": "ops@ctl", "rotor:lock-host": "ctl", "rotor:lock-machine": "a" * 32,
            "rotor:lock-pid": "4242", "rotor:lock-started": "100", "rotor:lock-expires": (NOW + datetime.timedelta(minutes=30)).isoformat()}


# What the journal holds in each phase, as the rotate role leaves it (None: never rotated).
JOURNALS = {
    None: {},
    "creating": {"current_key_id": OLD},
    "distributing": {"current_key_id": OLD, "pending_key_id": NEW},
    "cutover": {"current_key_id": NEW, "previous_key_id": OLD, "inactive_since": SINCE},
    "rolling_back": {"current_key_id": OLD, "pending_key_id": NEW, "previous_key_id": OLD, "inactive_since": SINCE},
    "completed": {"current_key_id": NEW},
    "rolled_back": {"current_key_id": OLD},
    "waiting_for_quiet": {"current_key_id": OLD, "pending_key_id": NEW},
}


def tags_in(phase, locked_by=RUN, **fields):
    values = dict(JOURNALS[phase], **fields)
    tags = {TAG_OF[name]: value for name, value in values.items() if value is not None}
    if phase:
        tags.update({"rotor:phase": phase, "rotor:run": "20261125T100000Z-9", "rotor:updated": SINCE})
    return dict(tags, **(lock(locked_by) if locked_by else {}))


def write(store, state, fields):
    """What the module does for state=locked / state=unlocked with these fields."""
    if state == "locked":
        return lock_journal(store, "app", RUN, fields=fields, identity=ME, sleep=lambda s: None, now=NOW)
    return update_journal(store, "app", RUN, fields, unlock=True, now=NOW, identity=ME)


def recorded(store):
    return journal_from_tags(store.tags, now=NOW)


# --- the table itself ------------------------------------------------------------------------------------


def test_the_table_covers_every_phase_and_only_phases():
    assert set(TRANSITIONS) == {None, *PHASES}
    assert all(set(targets) <= set(PHASES) for targets in TRANSITIONS.values())


@pytest.mark.parametrize("phase", PHASES)
def test_every_phase_may_be_written_again_and_creating_starts_over_from_anywhere(phase):
    assert phase in TRANSITIONS[phase] and "creating" in TRANSITIONS[phase]


@pytest.mark.parametrize("phase", IN_PROGRESS_PHASES)
def test_a_run_taking_over_an_interrupted_journal_can_go_on_or_roll_back(phase):
    allowed = set(TRANSITIONS[phase])
    assert allowed & {"distributing", "cutover", "completed"}, "cannot go on"
    assert allowed & {"rolling_back", "rolled_back"}, "cannot roll back"


def test_a_finished_or_missing_journal_only_starts_a_new_rotation():
    for phase in (None, "completed", "rolled_back"):
        assert set(TRANSITIONS[phase]) - {phase} == {"creating"}


# --- every write the rotate role makes today -------------------------------------------------------------

# (task, phases it is written from, state, fields as the task passes them; an omitted option is left out)
ROLE_WRITES = [
    ("create_user: incident response records the compromised key", (None, *PHASES), "locked",
     {"phase": "creating", "current_key_id": OLD, "pending_key_id": "", "previous_key_id": "", "inactive_since": ""}),
    ("create_user: a key is being created", (None, *PHASES), "locked",
     {"phase": "creating", "current_key_id": OLD, "pending_key_id": "", "previous_key_id": "", "inactive_since": ""}),
    ("create_user: the new key is recorded", ("creating", "distributing", "cutover", "rolling_back", "waiting_for_quiet"), "locked",
     {"phase": "distributing", "current_key_id": OLD, "pending_key_id": NEWER, "previous_key_id": "", "inactive_since": ""}),
    ("create_user: a new key never accepted is rolled back", ("creating", "distributing"), "unlocked",
     {"phase": "rolled_back", "pending_key_id": ""}),
    ("cutover: the old key was deactivated now", ("creating", "distributing", "cutover", "waiting_for_quiet"), "locked",
     {"phase": "cutover", "current_key_id": NEW, "previous_key_id": OLD, "pending_key_id": "", "inactive_since": "now"}),
    ("cutover: the old key was Inactive already", ("creating", "distributing", "cutover", "waiting_for_quiet"), "locked",
     {"phase": "cutover", "current_key_id": NEW, "previous_key_id": OLD, "pending_key_id": ""}),
    ("rollback: starts, rotor deactivated the old key", ("creating", "distributing", "cutover", "rolling_back", "waiting_for_quiet"), "locked",
     {"phase": "rolling_back", "current_key_id": OLD, "pending_key_id": NEW, "previous_key_id": OLD}),
    ("rollback: starts, the old key was not deactivated", ("creating", "distributing", "cutover", "rolling_back", "waiting_for_quiet"), "locked",
     {"phase": "rolling_back", "current_key_id": OLD, "pending_key_id": NEW, "previous_key_id": "", "inactive_since": ""}),
    ("rollback: finished", ("rolling_back",), "locked",
     {"phase": "rolled_back", "pending_key_id": "", "previous_key_id": "", "inactive_since": ""}),
    ("rollback_finish: finished and released", ("rolling_back",), "unlocked",
     {"phase": "rolled_back", "pending_key_id": "", "previous_key_id": "", "inactive_since": ""}),
    ("rollback: a new key some host keeps stays pending", ("rolling_back",), "locked",
     {"phase": "distributing", "previous_key_id": "", "inactive_since": ""}),
    ("retire: the old key deleted", ("cutover",), "locked",
     {"phase": "completed", "previous_key_id": "", "inactive_since": ""}),
    ("retire: the old key left Inactive", ("cutover",), "locked", {"phase": "completed"}),
    ("retire: the old key deleted, completed and released", ("cutover",), "unlocked",
     {"phase": "completed", "previous_key_id": "", "inactive_since": ""}),
    ("retire: the old key left Inactive, completed and released", ("cutover",), "unlocked", {"phase": "completed"}),
    ("quiet_gate: an unknown consumer still uses the old key", ("distributing", "waiting_for_quiet"), "locked",
     {"phase": "waiting_for_quiet"}),
    ("create: closing a journal whose old key is gone", ("distributing", "cutover", "rolling_back", "waiting_for_quiet"), "unlocked",
     {"phase": "completed", "pending_key_id": "", "previous_key_id": "", "inactive_since": ""}),
    ("plan/cutover/drain: lock, renew or release only", (None, *PHASES), "locked", {}),
    ("plan/cutover/create: release only", (None, *PHASES), "unlocked", {}),
]
ROLE_CASES = [pytest.param(phase, state, fields, id=f"{task} (from {phase})")
              for task, phases, state, fields in ROLE_WRITES for phase in phases]


@pytest.mark.parametrize("phase, state, fields", ROLE_CASES)
def test_every_write_the_role_makes_today_is_legal_and_keeps_what_it_passes(phase, state, fields):
    store = TagStore(tags_in(phase, locked_by=RUN))
    store.tags["team:cost-centre"] = "42"  # a tag of the user's own

    write(store, state, dict.fromkeys(("phase", *FIELDS)) | fields)

    after = recorded(store)
    assert after["problems"] == []
    assert after["phase"] == (fields.get("phase") or phase)
    for name in FIELDS:
        if fields.get(name) not in (None, "now"):
            assert (after[name] or "") == fields[name], name  # what the caller passes always wins
    assert store.tags["team:cost-centre"] == "42"
    assert (after["lock"] is None) == (state == "unlocked")


def test_retiring_with_the_old_key_left_inactive_keeps_it_as_previous_with_its_date():
    # The planner deletes such a key once it has been Inactive long enough, dated by the journal.
    store = TagStore(tags_in("cutover"))

    write(store, "locked", {"phase": "completed"})

    after = recorded(store)
    assert (after["current_key_id"], after["previous_key_id"], after["inactive_since"]) == (NEW, OLD, SINCE)


def test_closing_a_journal_whose_old_key_is_gone_makes_the_new_key_current():
    store = TagStore(tags_in("distributing"))

    write(store, "unlocked", {"phase": "completed", "pending_key_id": "", "previous_key_id": "", "inactive_since": ""})

    after = recorded(store)
    assert (after["current_key_id"], after["pending_key_id"], after["previous_key_id"]) == (NEW, None, None)


@pytest.mark.parametrize(
    "phase, fields, expected",
    [
        (None, {"phase": "creating", "current_key_id": OLD}, {"current_key_id": OLD}),
        ("creating", {"phase": "distributing", "pending_key_id": NEW}, {"current_key_id": OLD, "pending_key_id": NEW}),
        ("distributing", {"phase": "cutover", "inactive_since": "2026-11-25T11:59:00+00:00"},
         {"current_key_id": NEW, "previous_key_id": OLD, "inactive_since": "2026-11-25T11:59:00+00:00"}),
        ("cutover", {"phase": "rolling_back", "previous_key_id": OLD},
         {"current_key_id": OLD, "pending_key_id": NEW, "previous_key_id": OLD, "inactive_since": SINCE}),
        ("cutover", {"phase": "rolling_back"}, {"current_key_id": OLD, "pending_key_id": NEW}),
        ("cutover", {"phase": "distributing"}, {"current_key_id": OLD, "pending_key_id": NEW}),
        ("rolling_back", {"phase": "rolled_back"}, {"current_key_id": OLD}),
        ("rolling_back", {"phase": "distributing"}, {"current_key_id": OLD, "pending_key_id": NEW}),
        ("completed", {"phase": "creating"}, {"current_key_id": NEW}),
    ],
    ids=["start", "pending", "cutover", "rollback-given-previous", "rollback-bare", "reactivated-on-resume",
         "rolled-back", "staged-key-kept", "next-rotation"],
)
def test_fields_left_out_follow_from_the_phase(phase, fields, expected):
    store = TagStore(tags_in(phase))

    write(store, "locked", fields)

    after = recorded(store)
    assert {name: after[name] for name in FIELDS} == dict(dict.fromkeys(FIELDS), **expected)


# --- refusals ------------------------------------------------------------------------------------------


ILLEGAL = [(current, phase) for current in TRANSITIONS for phase in PHASES if phase not in TRANSITIONS[current]]


@pytest.mark.parametrize("current, phase", ILLEGAL, ids=[f"{c}->{p}" for c, p in ILLEGAL])
@pytest.mark.parametrize("state", ["locked", "unlocked"])
def test_an_illegal_transition_is_refused_before_anything_is_written(current, phase, state):
    store = TagStore(tags_in(current))
    before = dict(store.tags)

    with pytest.raises(RotorIAMError) as caught:
        write(store, state, {"phase": phase, "current_key_id": NEWER, "pending_key_id": ""})

    message = caught.value.message
    assert caught.value.code == "IllegalTransition"
    assert "'app'" in message and repr(phase) in message and (repr(current) if current else "no rotation recorded") in message
    assert "state=absent" in message and "Nothing was written" in message
    assert store.tags == before and store.calls == ["ListUserTags"]


def test_a_phase_tag_edited_by_hand_refuses_every_phase_and_says_so():
    store = TagStore(dict(tags_in("distributing"), **{"rotor:phase": "half-way"}))
    before = dict(store.tags)
    with pytest.raises(RotorIAMError) as caught:
        write(store, "locked", {"phase": "creating", "current_key_id": OLD})
    assert caught.value.code == "IllegalTransition" and "'half-way', which is not a phase" in caught.value.message
    assert "state=absent" in caught.value.message and store.tags == before


def test_an_illegal_transition_is_refused_in_check_mode_too():
    store = TagStore(tags_in("completed"))
    with pytest.raises(RotorIAMError) as caught:
        lock_journal(store, "app", RUN, fields={"phase": "cutover"}, identity=ME, check_mode=True, now=NOW)
    assert caught.value.code == "IllegalTransition" and store.calls == ["ListUserTags"]


def test_an_illegal_transition_is_refused_before_the_lock_is_taken():
    store = TagStore(tags_in("rolled_back", locked_by=None))
    with pytest.raises(RotorIAMError):
        lock_journal(store, "app", RUN, fields={"phase": "completed"}, identity=ME, sleep=lambda s: None, now=NOW)
    assert store.calls == ["ListUserTags"] and recorded(store)["lock"] is None


@pytest.mark.parametrize(
    "phase, fields, says",
    [
        (None, {"phase": "creating"}, "needs current_key_id"),
        ("creating", {"phase": "distributing"}, "needs pending_key_id"),
        ("distributing", {"phase": "distributing", "pending_key_id": OLD}, "cannot also be the current or previous key"),
        ("distributing", {"phase": "cutover", "current_key_id": OLD}, "cannot also be the previous key"),
        ("distributing", {"phase": "completed", "pending_key_id": NEW}, "a finished rotation has no pending key"),
    ],
    ids=["creating-without-key", "distributing-without-pending", "pending-is-current", "cutover-to-itself", "completed-pending"],
)
def test_a_write_whose_fields_cannot_describe_the_phase_is_refused(phase, fields, says):
    store = TagStore(tags_in(phase))
    before = dict(store.tags)

    with pytest.raises(RotorIAMError) as caught:
        write(store, "locked", fields)

    assert caught.value.code == "InvalidJournalWrite" and says in caught.value.message
    assert store.tags == before


# --- IAM calls per operation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tags, state, fields, calls",
    [
        ({}, "locked", {}, ["ListUserTags", "TagUser", "ListUserTags"]),
        ({}, "locked", {"phase": "creating", "current_key_id": OLD}, ["ListUserTags", "TagUser", "ListUserTags", "TagUser"]),
        (lock(), "locked", {}, ["ListUserTags", "TagUser", "ListUserTags"]),
        (tags_in("creating"), "locked", {"phase": "distributing", "pending_key_id": NEW}, ["ListUserTags", "TagUser"]),
        (tags_in("cutover"), "unlocked", {"phase": "completed", "previous_key_id": ""}, ["ListUserTags", "TagUser", "UntagUser"]),
        (tags_in("cutover"), "unlocked", {}, ["ListUserTags", "UntagUser"]),
    ],
    ids=["take", "take-with-phase", "renew", "phase-by-holder", "complete-and-release", "release"],
)
def test_iam_calls_per_operation(tags, state, fields, calls):
    store = TagStore(tags)
    write(store, state, fields)
    assert store.calls == calls


def test_clearing_a_field_that_has_no_tag_adds_no_tag():
    store = TagStore(tags_in(None))
    write(store, "locked", {"phase": "creating", "current_key_id": OLD, "pending_key_id": "", "previous_key_id": "", "inactive_since": ""})
    assert not {"rotor:pending", "rotor:previous", "rotor:inactive-since"} & set(store.tags)


# --- properties -----------------------------------------------------------------------------------------

KEY_VALUES = st.sampled_from([None, "", OLD, NEW, NEWER])
WRITES = st.lists(
    st.tuples(
        st.sampled_from(["locked", "unlocked"]),
        st.fixed_dictionaries({
            "phase": st.sampled_from([None, *PHASES]),
            "pending_key_id": KEY_VALUES,
            "current_key_id": KEY_VALUES,
            "previous_key_id": KEY_VALUES,
            "inactive_since": st.sampled_from([None, "", "now", SINCE]),
        }),
    ),
    max_size=10,
)


@SETTINGS
@given(st.sampled_from([None, *PHASES]), WRITES)
def test_any_sequence_of_writes_leaves_a_journal_that_reads_without_problems(start, writes):
    """Legal writes land as asked and leave a sound journal; refused ones write nothing."""
    store = TagStore(tags_in(start, locked_by=None))
    for state, fields in writes:
        before_tags, before = dict(store.tags), recorded(store)
        try:
            write(store, state, fields)
        except RotorIAMError as exc:
            assert exc.code in ("IllegalTransition", "InvalidJournalWrite"), exc.message
            assert store.tags == before_tags, "a refused write changed the journal"
            if exc.code == "IllegalTransition":
                assert fields["phase"] not in TRANSITIONS[before["phase"]]
            continue
        after = recorded(store)
        assert after["problems"] == []
        if fields["phase"]:
            assert fields["phase"] in TRANSITIONS[before["phase"]]
            assert after["phase"] == fields["phase"]
        if after["phase"] in ("completed", "rolled_back"):
            assert after["pending_key_id"] is None, "a finished journal keeps a pending key"
        if after["phase"] == "distributing":
            assert after["pending_key_id"] and after["pending_key_id"] != after["current_key_id"]
        if after["phase"] in ("creating", "cutover", "rolling_back"):
            assert after["current_key_id"]
        assert after["lock"] is None if state == "unlocked" else after["lock"]["run_id"] == RUN


@SETTINGS
@given(st.sampled_from([None, *PHASES]), st.sampled_from(PHASES))
def test_a_transition_is_legal_exactly_when_the_table_says_so(start, phase):
    store = TagStore(tags_in(start))
    # Enough fields for any phase to be described: the table alone decides.
    fields = {"phase": phase, "current_key_id": NEWER if phase in ("creating", "cutover") else None,
              "pending_key_id": NEWER if phase == "distributing" else None}
    try:
        write(store, "locked", fields)
    except RotorIAMError as exc:
        assert phase not in TRANSITIONS[start] and exc.code == "IllegalTransition"
    else:
        assert phase in TRANSITIONS[start]
