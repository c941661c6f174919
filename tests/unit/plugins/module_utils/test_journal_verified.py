"""rotor:verified: a run killed after its verify used the new key (before any host had it) is resumed, not refused."""

import datetime

import pytest

from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import derive_fields
from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan import plan_user

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.timezone.utc)
RUN = (NOW - datetime.timedelta(minutes=10)).strftime("%Y%m%dT%H%M%SZ") + "-4711"  # started 10 minutes ago


def at(minutes):
    return (NOW + datetime.timedelta(minutes=minutes)).isoformat()


def keys(new_used_minutes_ago):
    return [{"access_key_id": "AKIAOLD", "status": "Active", "create_date": at(-200 * 1440), "age_days": 200, "last_used_date": at(-1)},
            {"access_key_id": "AKIANEW", "status": "Active", "create_date": at(-6), "age_days": 0,
             "last_used_date": at(-new_used_minutes_ago) if new_used_minutes_ago is not None else None}]


def distributing(verified_minutes_ago):
    return {"phase": "distributing", "current_key_id": "AKIAOLD", "pending_key_id": "AKIANEW", "previous_key_id": None,
            "run_id": RUN, "updated": at(-5), "inactive_since": None,
            "verified": at(-verified_minutes_ago) if verified_minutes_ago is not None else None,
            # The creation window the run recorded around its CreateAccessKey (the new key was created 6 minutes ago).
            "created_after": at(-7), "created_before": at(-6)}


@pytest.mark.parametrize("used, verified", [(4, 5), (5, 5), (6, 5)], ids=["after", "same-minute", "within-skew"])
def test_a_use_since_the_runs_own_verify_is_not_a_consumers(used, verified):
    result = plan_user("app", keys(used), {"web1": ["AKIAOLD"]}, now=NOW, journal=distributing(verified))

    assert result["error"] is None and result["replace_key_id"] == "AKIANEW"
    assert "used only by that run's own verify: its secret is lost, so it is deleted and replaced" in result["reason"]


@pytest.mark.parametrize("used, verified", [(4, None), (9, 5)], ids=["no-verify-recorded", "used-before-the-verify"])
def test_any_other_use_still_refuses_the_pending_key(used, verified):
    result = plan_user("app", keys(used), {"web1": ["AKIAOLD"]}, now=NOW, journal=distributing(verified))

    assert "something outside the inventory may run on it" in result["error"] and result["replace_key_id"] is None


def test_verified_lives_as_long_as_its_pending_key():
    journal = {"phase": "distributing", "current_key_id": "AKIAOLD", "pending_key_id": "AKIANEW", "verified": at(-5)}

    assert derive_fields(journal, "distributing", {})["verified"] == at(-5)
    assert derive_fields(journal, "rolling_back", {})["verified"] == at(-5)
    assert derive_fields(journal, "distributing", {"pending_key_id": "AKIAOTHER"})["verified"] == ""
    assert derive_fields(journal, "cutover", {})["verified"] == ""
    assert derive_fields(journal, "creating", {})["verified"] == ""
    assert derive_fields(journal, "distributing", {"verified": "now"})["verified"] == "now"
