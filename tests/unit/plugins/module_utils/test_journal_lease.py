"""The lease on the rotation lock (module_utils/rotation_journal.py): while it holds, the holder reads nothing
before a journal write or a key change; the transition table still judges every write; completion clears the
journal in one call. And how the planner derives a cutover the journal did not record (rotation_plan.py)."""

import datetime

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.module_utils import rotation_journal as rj
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import delete_access_key
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import set_access_key_status
from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan import plan_user
from ansible_collections.rotor.iam.plugins.module_utils._rotation.outcome import rotation_outcome
from fake_iam import OneUserIAM  # noqa: E402  pylint: disable=wrong-import-order

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.timezone.utc)
ME = {"owner": "ops@ctl", "host": "ctl", "pid": 4242}
OLD, NEW = "AKIAOLDKEY0000000001", "AKIANEWKEY0000000002"


class Clock:
    def __init__(self, start=1000.0):
        self.now = start

    def __call__(self):
        return self.now


CountingIAM = OneUserIAM  # the one fake IAM client (tests/unit/fake_iam.py), one user; calls by IAM action


@pytest.fixture(autouse=True)
def same_boot(monkeypatch):
    monkeypatch.setattr(rj, "boot_id", lambda: "boot-1")


def take(iam, clock, run_id="run-1", ttl=60):
    result = rj.lock_journal(iam, "app", run_id, ttl_minutes=ttl, settle_seconds=0, identity=ME, sleep=lambda s: None,
                             now=NOW, clock=clock)
    iam.calls.clear()
    return result["lease"]


def test_taking_the_lock_returns_a_lease_that_ends_before_the_lock_expires():
    iam, clock = CountingIAM(), Clock()
    lease = take(iam, clock, ttl=60)
    assert lease["run_id"] == "run-1" and lease["user_name"] == "app" and lease["boot_id"] == "boot-1"
    assert lease["valid_until"] == pytest.approx(1000.0 + 3600 - 300)
    assert rj.lease_valid(lease, "app", "run-1", clock=clock)
    assert "rotor:lock-run" in lease["tags"] and lease["journal"]["phase"] is None


def test_short_ttls_keep_a_quarter_as_margin():
    assert rj.lease_margin(1) == 15.0 and rj.lease_margin(60) == 300.0 and rj.lease_margin(8) == 120.0


def test_phase_writes_under_the_lease_are_one_tag_user_each_and_read_nothing():
    iam, clock = CountingIAM(), Clock()
    lease = take(iam, clock)
    creating = rj.lock_journal(iam, "app", "run-1", fields={"phase": "creating", "current_key_id": OLD}, identity=ME, now=NOW,
                               lease=lease, clock=clock)
    distributing = rj.lock_journal(iam, "app", "run-1", fields={"phase": "distributing", "pending_key_id": NEW}, identity=ME,
                                   now=NOW, lease=creating["lease"], clock=clock)
    assert iam.calls == ["TagUser", "TagUser"]
    # Derived on the journal the lease says this run left: the old key stays current.
    assert iam.tags["rotor:phase"] == "distributing" and iam.tags["rotor:current"] == OLD and iam.tags["rotor:pending"] == NEW
    assert iam.tags["rotor:lock-run"] == "run-1"
    # ... with what a seal covers: the run that wrote it, and the creation window around CreateAccessKey.
    assert distributing["lease"]["journal"] == {"phase": "distributing", "pending_key_id": NEW, "current_key_id": OLD,
                                                "previous_key_id": None, "inactive_since": None, "verified": None, "run_id": "run-1",
                                                "updated": NOW.isoformat(), "created_after": NOW.isoformat(),
                                                "created_before": NOW.isoformat()}


def test_an_illegal_transition_under_the_lease_is_refused_before_writing():
    iam, clock = CountingIAM(), Clock()
    lease = take(iam, clock)
    with pytest.raises(RotorIAMError) as raised:
        rj.lock_journal(iam, "app", "run-1", fields={"phase": "cutover", "current_key_id": NEW, "previous_key_id": OLD},
                        identity=ME, now=NOW, lease=lease, clock=clock)
    assert raised.value.code == "IllegalTransition" and iam.calls == []


@pytest.mark.parametrize("change, why", [
    (lambda lease, clock: setattr(clock, "now", lease["valid_until"] + 1), "run out"),
    (lambda lease, clock: lease.update(run_id="run-2"), "another run"),
    (lambda lease, clock: lease.update(user_name="other"), "another user"),
    (lambda lease, clock: lease.update(boot_id="boot-0"), "another boot or controller"),
    (lambda lease, clock: lease.update(valid_until="soon"), "malformed"),
    (lambda lease, clock: lease.update(valid_until=clock.now + 30 * 86400), "longer than any lock"),
])
def test_a_lease_that_does_not_hold_is_no_lease(change, why):
    iam, clock = CountingIAM(), Clock()
    lease = take(iam, clock)
    change(lease, clock)
    assert not rj.lease_valid(lease, "app", "run-1", clock=clock), why
    rj.lock_journal(iam, "app", "run-1", fields={"phase": "creating", "current_key_id": OLD}, identity=ME, now=NOW,
                    lease=lease, clock=clock, sleep=lambda s: None, settle_seconds=0)
    assert iam.calls[0] == "ListUserTags", why


def test_a_lock_broken_meanwhile_is_found_once_the_lease_runs_out():
    iam, clock = CountingIAM(), Clock()
    lease = take(iam, clock, ttl=10)
    iam.tags["rotor:lock-run"] = "run-breaker"
    iam.tags["rotor:lock-expires"] = (NOW + datetime.timedelta(minutes=30)).isoformat()
    clock.now = lease["valid_until"] + 1
    guard = rj.lock_guard(iam, "app", "run-1", "deleting the key", lease=lease, clock=clock)
    with pytest.raises(RotorIAMError) as raised:
        guard()
    assert raised.value.code == "LockLost"


def test_key_changes_under_the_lease_skip_the_lock_read():
    iam, clock = CountingIAM(keys={OLD: "Active", NEW: "Active"}), Clock()
    lease = take(iam, clock)
    assert rj.lock_guard(iam, "app", "run-1", "deactivating", lease=lease, clock=clock) is None
    assert rj.lock_guard(iam, "app", "run-1", "deactivating", check_mode=True) is None
    assert callable(rj.lock_guard(iam, "app", "run-1", "deactivating", lease=None))


def test_known_status_changes_a_key_in_one_call():
    iam = CountingIAM(keys={OLD: "Active", NEW: "Active"})
    result = set_access_key_status(iam, "app", OLD, "inactive", known_status="active")
    assert result["changed"] is True and result["previous_status"] == "Active" and iam.calls == ["UpdateAccessKey"]
    iam.calls.clear()
    assert set_access_key_status(iam, "app", OLD, "inactive", known_status="inactive")["changed"] is False
    assert iam.calls == []
    deleted = delete_access_key(iam, "app", OLD, known_status="inactive")
    assert deleted["changed"] is True and iam.calls == ["DeleteAccessKey"] and OLD not in iam.key_statuses()


def test_known_status_still_refuses_an_active_key_without_force():
    iam = CountingIAM(keys={OLD: "Active"})
    with pytest.raises(RotorIAMError) as raised:
        delete_access_key(iam, "app", OLD, known_status="active")
    assert raised.value.code == "KeyActive" and iam.calls == []


def test_completion_under_the_lease_clears_journal_and_lock_in_one_untag_user():
    iam, clock = CountingIAM(tags={"rotor:owner": "team-a", "rotor:phase": "completed", "rotor:previous": OLD}), Clock()
    lease = take(iam, clock)
    rj.lock_journal(iam, "app", "run-1", fields={"phase": "creating", "current_key_id": OLD}, identity=ME, now=NOW, lease=lease,
                    clock=clock)
    iam.calls.clear()
    rj.clear_journal(iam, "app", run_id="run-1", lease=lease, clock=clock)
    assert iam.calls == ["UntagUser"]
    assert iam.tags == {"rotor:owner": "team-a"}, "the user's policy tags stay; the journal and the lock go"


def test_unlock_under_the_lease_writes_fields_then_releases_without_reading():
    iam, clock = CountingIAM(), Clock()
    lease = take(iam, clock)
    lease = rj.lock_journal(iam, "app", "run-1", fields={"phase": "creating", "current_key_id": OLD}, identity=ME, now=NOW,
                            lease=lease, clock=clock)["lease"]
    lease = rj.lock_journal(iam, "app", "run-1", fields={"phase": "distributing", "pending_key_id": NEW}, identity=ME, now=NOW,
                            lease=lease, clock=clock)["lease"]
    iam.calls.clear()
    rj.update_journal(iam, "app", "run-1", {"phase": "completed", "previous_key_id": OLD, "inactive_since": NOW.isoformat()},
                      unlock=True, now=NOW, lease=lease, clock=clock)
    assert iam.calls == ["TagUser", "UntagUser"]
    assert iam.tags["rotor:phase"] == "completed" and iam.tags["rotor:current"] == NEW and iam.tags["rotor:previous"] == OLD
    assert not [t for t in iam.tags if t.startswith("rotor:lock")]


def test_break_lock_never_trusts_a_lease():
    iam, clock = CountingIAM(), Clock()
    lease = take(iam, clock)
    rj.lock_journal(iam, "app", "run-1", identity=ME, now=NOW, lease=lease, clock=clock, break_lock=True, settle_seconds=0,
                    sleep=lambda s: None)
    assert iam.calls[0] == "ListUserTags"


# --------------------------------------------------------------------------- the derived cutover


def key(key_id, status="Active", minutes=60 * 24 * 120):
    return {"access_key_id": key_id, "status": status, "create_date": (NOW - datetime.timedelta(minutes=minutes)).isoformat(),
            "age_days": minutes // 1440, "last_used_date": None}


DEAD_RUN = (NOW - datetime.timedelta(minutes=10)).strftime("%Y%m%dT%H%M%SZ") + "-4711"


def distributing(inactive_since=None, previous=None, phase="distributing"):
    return {"phase": phase, "current_key_id": OLD, "pending_key_id": NEW, "previous_key_id": previous, "run_id": DEAD_RUN,
            "updated": NOW.isoformat(), "inactive_since": inactive_since}


def test_a_cutover_the_journal_did_not_record_is_derived_and_finished_forward():
    """The run died between UpdateAccessKey and DeleteAccessKey (no drain: no cutover write). IAM shows it."""
    keys = [key(OLD, "Inactive"), key(NEW, minutes=8)]
    hosts = {"web1": [NEW], "web2": [NEW]}

    plan = plan_user("app", keys, hosts, now=NOW, journal=distributing())

    assert plan["due"] and not plan["error"] and plan["new_key_id"] == NEW and plan["old_key_id"] == OLD
    assert plan["reactivate_old"] is False and plan["old_key_disabled"] is True
    assert any("does not record who deactivated it" in note for note in plan["notes"])
    outcome = rotation_outcome({"app": plan}, {"web1": {"user": "app", "state": "failed", "failure": {"msg": "down"}},
                                               "web2": {"user": "app", "state": "healthy"}})
    assert outcome["app"]["action"] == "failed", "a host failing on the new key is reported, never rolled back onto the old"


def test_a_recorded_cutover_keeps_its_right_to_reactivate():
    keys = [key(OLD, "Inactive"), key(NEW, minutes=8)]
    plan = plan_user("app", keys, {"web1": [NEW]}, now=NOW,
                     journal={"phase": "cutover", "current_key_id": NEW, "previous_key_id": OLD, "run_id": DEAD_RUN,
                              "updated": NOW.isoformat(), "inactive_since": NOW.isoformat(), "sealed": True})
    assert plan["old_key_disabled"] is False and plan["new_key_id"] == NEW


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(holders=st.lists(st.sampled_from([[NEW], [OLD], [OLD, NEW], []]), min_size=1, max_size=4),
       phase=st.sampled_from(["creating", "distributing"]), old_status=st.sampled_from(["Active", "Inactive"]))
def test_a_journal_without_a_recorded_deactivation_never_reactivates(holders, phase, old_status):
    """Whatever the hosts hold, a journal that names no deactivation (no cutover written) never turns the old key on."""
    keys = [key(OLD, old_status), key(NEW, minutes=8)]
    hosts = {f"web{n}": ids for n, ids in enumerate(holders)}
    plan = plan_user("app", keys, hosts, now=NOW, journal=distributing(phase=phase))
    assert plan["reactivate_old"] is False, plan
    if old_status == "Inactive" and not plan["error"]:
        assert plan["old_key_disabled"] is True, plan
    if old_status == "Inactive" and phase == "distributing" and all(ids == [NEW] for ids in holders):
        assert plan["new_key_id"] == NEW and plan["due"] and not plan["error"], plan
