"""Unit tests for plugins/module_utils/rotation_plan.py: pure decisions, no AWS."""

import datetime

import pytest

from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan import plan_rotation
from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan import plan_user
from ansible_collections.rotor.iam.plugins.module_utils._rotation.outcome import rotation_outcome

USER = "app"
NOW = datetime.datetime(2024, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)


def days_ago(days):
    return (NOW - datetime.timedelta(days=days)).isoformat()


def key(key_id, status="Active", age=10, last_used_days_ago=None):
    """A key as rotor.iam.access_key_info returns it."""
    return {
        "access_key_id": key_id,
        "user_name": USER,
        "status": status,
        "create_date": days_ago(age),
        "age_days": age,
        "last_used_date": days_ago(last_used_days_ago) if last_used_days_ago is not None else None,
    }


def plan(keys, hosts, **kwargs):
    kwargs.setdefault("now", NOW)
    return plan_user(USER, keys, hosts, **kwargs)


# --- plan_user: is a rotation due? ------------------------------------------


@pytest.mark.parametrize(
    "age, max_age_days, force, hosts, due, reason",
    [
        (10, 90, False, {"web1": ["AKIAOLD"], "web2": ["AKIAOLD"]}, False, "key AKIAOLD is 10 days old, under the 90-day policy"),
        (89, 90, False, {"web1": ["AKIAOLD"]}, False, "under the 90-day policy"),
        (90, 90, False, {"web1": ["AKIAOLD"]}, True, "key AKIAOLD is 90 days old (policy: 90)"),
        (200, 90, False, {"web1": ["AKIAOLD"]}, True, "key AKIAOLD is 200 days old (policy: 90)"),
        (10, 90, True, {"web1": ["AKIAOLD"]}, True, "rotor_force is set"),
        (10, 90, False, {"web1": ["AKIAOLD"], "web3": [], "web2": ["AKIAOTHER"]}, True, "hosts not on the current key AKIAOLD: web2, web3"),
        (10, 90, False, {}, False, "under the 90-day policy"),
    ],
    ids=["young", "one-day-short", "exactly-due", "old", "forced", "drifted", "no-hosts-young"],
)
def test_plan_user_decides_whether_a_rotation_is_due(age, max_age_days, force, hosts, due, reason):
    result = plan([key("AKIAOLD", age=age)], hosts, max_age_days=max_age_days, force=force)

    assert result["due"] is due
    assert reason in result["reason"]
    assert result["error"] is None
    assert result["old_key_id"] == "AKIAOLD"
    assert result["old_key_age_days"] == age


def test_plan_user_describes_the_user():
    result = plan([key("AKIAOLD", age=10)], {"web2": ["AKIAOLD"], "web1": ["AKIAOLD"]})

    assert result["user_name"] == USER
    assert result["hosts"] == ["web1", "web2"]
    assert result["keys"] == [{"access_key_id": "AKIAOLD", "status": "Active", "age_days": 10}]
    assert result["free_slot_key_id"] is None
    assert result["stale_inactive_key_ids"] == []
    assert result["hosts_on_unknown_keys"] == []


@pytest.mark.parametrize(
    "keys, hosts, old_key_id",
    [
        ([key("AKIAA", age=100), key("AKIAB", age=5)], {"web1": ["AKIAB"], "web2": ["AKIAB"], "web3": ["AKIAA"]}, "AKIAB"),
        ([key("AKIAA", age=5), key("AKIAB", age=100)], {}, "AKIAB"),
        ([key("AKIAA", age=5), key("AKIAB", age=100)], {"web1": ["AKIAA"], "web2": ["AKIAB"]}, "AKIAB"),
        # Hosts on a key someone else disabled must leave it: that key is the one to retire.
        ([key("AKIAA", "Inactive", age=100), key("AKIAB", age=5)], {"web1": ["AKIAA"]}, "AKIAA"),
    ],
    ids=["most-held-wins", "no-hosts-oldest", "tie-oldest", "held-disabled-key-is-old"],
)
def test_plan_user_picks_the_active_key_the_fleet_runs_on_as_old_key(keys, hosts, old_key_id):
    assert plan(keys, hosts)["old_key_id"] == old_key_id


def test_plan_user_names_hosts_on_unknown_keys():
    result = plan([key("AKIAOLD")], {"web1": ["AKIAOLD"], "web2": ["AKIAGONE"], "web3": ["AKIAOLD", "AKIAELSE"]})

    assert result["hosts_on_unknown_keys"] == ["web2", "web3"]


# --- plan_user: making room --------------------------------------------------


def test_plan_user_frees_the_slot_of_an_unheld_inactive_key():
    result = plan([key("AKIASPARE", "Inactive", age=300), key("AKIAOLD", age=120)], {"web1": ["AKIAOLD"]})

    assert result["due"] is True
    assert result["error"] is None
    assert result["free_slot_key_id"] == "AKIASPARE"
    assert result["stale_inactive_key_ids"] == []  # deleted once, to free the slot


def minutes_ago(minutes):
    return (NOW - datetime.timedelta(minutes=minutes)).isoformat()


def recent_key(key_id, created_minutes_ago, used_minutes_ago=None):
    entry = key(key_id, age=0)
    entry["create_date"] = minutes_ago(created_minutes_ago)
    entry["last_used_date"] = minutes_ago(used_minutes_ago) if used_minutes_ago is not None else None
    return entry


# The second key, when a new one needs its slot: (keys, hosts, force, kind, action, says).
@pytest.mark.parametrize(
    "other, hosts, force, kind, action, says",
    [
        (key("AKIAOTHER", age=30), {"web1": ["AKIAOLD"], "web2": ["AKIAOTHER"], "web3": ["AKIAOTHER"], "web4": ["AKIAOLD"]},
         False, "held", "refuse", "hosts web2, web3 hold it"),
        (key("AKIAOTHER", "Inactive", age=30), {"web1": ["AKIAOLD"], "web2": ["AKIAOLD", "AKIAOTHER"]},
         False, "held", "refuse", "it is Inactive and hosts web2 hold it"),
        (key("AKIAOTHER", "Inactive", age=30), {"web1": ["AKIAOLD"]}, False, "inactive", "delete", "it is Inactive"),
        (recent_key("AKIAOTHER", 600, used_minutes_ago=5), {"web1": ["AKIAOLD"]}, False, "in_use", "refuse", "used 5 minutes ago"),
        (recent_key("AKIAOTHER", 600, used_minutes_ago=5), {"web1": ["AKIAOLD"]}, True, "in_use", "delete", "rotor_force is set"),
        (recent_key("AKIAOTHER", 10), {"web1": ["AKIAOLD"]}, False, "new_unused", "refuse", "created 10 minutes ago and never used"),
        (key("AKIAOTHER", age=30), {"web1": ["AKIAOLD"]}, False, "never_used", "delete", "has never been used"),
        (key("AKIAOTHER", age=30, last_used_days_ago=3), {"web1": ["AKIAOLD"]}, False, "idle", "delete", "last used 3.0 days ago"),
    ],
    ids=["active-held", "inactive-held", "inactive", "in-use", "in-use-forced", "new-unused", "never-used", "idle"],
)
def test_plan_user_classifies_the_second_key(other, hosts, force, kind, action, says):
    result = plan([key("AKIAOLD", age=120), other], hosts, force=force)

    assert result["due"] is True
    assert result["other_key"]["class"] == kind
    assert result["other_key"]["action"] == action
    assert says in result["other_key"]["reason"]
    if action == "delete":
        assert result["error"] is None
        assert result["free_slot_key_id"] == "AKIAOTHER"
        assert result["free_slot_force"] is (other["status"] == "Active")
    else:
        assert result["free_slot_key_id"] is None
        assert "AKIAOTHER" in result["error"] and "already has 2 access keys" in result["error"]
        assert says in result["error"]


def test_in_use_window_is_configurable():
    other = recent_key("AKIAOTHER", 600, used_minutes_ago=30)

    assert plan([key("AKIAOLD", age=120), other], {"web1": ["AKIAOLD"]}, in_use_window_minutes=60)["error"]
    assert plan([key("AKIAOLD", age=120), other], {"web1": ["AKIAOLD"]}, in_use_window_minutes=20)["error"] is None


@pytest.mark.parametrize(
    "keys, says",
    [
        ([key("AKIAA", "Inactive", age=3)], "AKIAA Inactive"),
        ([key("AKIAA", "Inactive", age=3), key("AKIAB", "Inactive", age=1)], "AKIAA Inactive, AKIAB Inactive"),
        ([], "no keys"),
    ],
    ids=["one-inactive", "two-inactive", "no-keys"],
)
def test_plan_user_without_an_active_key_is_an_error(keys, says):
    result = plan(keys, {"web1": []}, force=True)

    assert result["due"] is False
    assert result["old_key_id"] is None
    assert f"IAM user {USER!r} has no Active access key" in result["error"]
    assert says in result["error"]


# --- plan_user: stale Inactive keys ------------------------------------------


@pytest.mark.parametrize(
    "inactive, successor_age, hosts, stale",
    [
        (key("AKIAIN", "Inactive", age=200), 10, {"web1": ["AKIACUR"]}, True),
        (key("AKIAIN", "Inactive", age=200), 7, {"web1": ["AKIACUR"]}, True),
        (key("AKIAIN", "Inactive", age=200), 3, {"web1": ["AKIACUR"]}, False),
        (key("AKIAIN", "Inactive", age=200, last_used_days_ago=2), 30, {"web1": ["AKIACUR"]}, False),
        (key("AKIAIN", "Inactive", age=200, last_used_days_ago=8), 30, {"web1": ["AKIACUR"]}, True),
        (key("AKIAIN", "Inactive", age=200), 30, {"web1": ["AKIACUR"], "web2": ["AKIAIN"]}, False),
    ],
    ids=["retired-long-ago", "exactly-n-days", "retired-recently", "used-recently", "used-long-ago", "held-by-a-host"],
)
def test_plan_user_deletes_stale_inactive_keys_unless_held(inactive, successor_age, hosts, stale):
    keys = [inactive, key("AKIACUR", age=successor_age)]

    # The current key is young: no rotation, only housekeeping.
    result = plan(keys, hosts, delete_inactive_after_days=7)

    assert result["due"] is (len(hosts) > 1)  # a host on the old key is drift
    assert result["stale_inactive_key_ids"] == (["AKIAIN"] if stale else [])


def test_plan_user_stale_inactive_key_without_successor_counts_from_its_creation():
    result = plan([key("AKIAIN", "Inactive", age=30)], {}, delete_inactive_after_days=7)

    assert result["error"] is not None
    assert result["stale_inactive_key_ids"] == ["AKIAIN"]


# --- plan_rotation -----------------------------------------------------------


def test_plan_rotation_plans_each_user_with_its_own_hosts():
    key_infos = [
        {"user_name": "app", "access_keys": [key("AKIAAPP", age=100)]},
        {"user_name": "batch", "access_keys": [dict(key("AKIABATCH", age=5), user_name="batch")]},
        {"user_name": "lonely", "access_keys": [dict(key("AKIALONE", age=5), user_name="lonely")]},
    ]
    hosts = {
        "web1": {"user": "app", "key_ids": ["AKIAAPP"]},
        "web2": {"user": "app", "key_ids": None},
        "job1": {"user": "batch", "key_ids": ["AKIABATCH"]},
    }

    plans = plan_rotation(key_infos, hosts, max_age_days=90, now=NOW)

    assert sorted(plans) == ["app", "batch", "lonely"]
    assert plans["app"]["hosts"] == ["web1", "web2"]
    assert plans["app"]["due"] is True and "100 days old" in plans["app"]["reason"]
    assert plans["batch"]["hosts"] == ["job1"]
    assert plans["batch"]["due"] is False
    assert plans["lonely"]["hosts"] == []
    assert plans["lonely"]["due"] is False


@pytest.mark.parametrize(
    "kwargs, due",
    [
        ({"max_age_days": 90}, False),
        ({"max_age_days": 30}, True),
        ({"max_age_days": 90, "force": True}, True),
    ],
)
def test_plan_rotation_passes_the_policy_to_every_user(kwargs, due):
    plans = plan_rotation([{"user_name": USER, "access_keys": [key("AKIAOLD", age=45)]}], {"web1": {"user": USER, "key_ids": ["AKIAOLD"]}}, now=NOW, **kwargs)

    assert plans[USER]["due"] is due


# --- rotation_outcome --------------------------------------------------------

DUE = {"due": True, "error": None}


def host(state, user=USER, wrote=None, failure=None):
    return {"user": user, "state": state, "wrote": state in ("written", "healthy", "failed") if wrote is None else wrote, "failure": failure or {}}


@pytest.mark.parametrize(
    "user_plan",
    [{"due": False, "error": None}, {"due": True, "error": "no Active access key"}],
    ids=["not-due", "plan-error"],
)
def test_rotation_outcome_skips_users_not_rotated(user_plan):
    outcome = rotation_outcome({USER: user_plan}, {"web1": host("failed", failure={"check": "x", "msg": "y"})})

    assert outcome[USER] == {"action": "skip", "failures": [], "switched_hosts": [], "unreachable_with_new_key": [], "message": "", "keep_new_key": False}


def test_rotation_outcome_cuts_over_when_every_host_is_healthy():
    outcome = rotation_outcome({USER: DUE}, {"web2": host("healthy"), "web1": host("healthy")})

    assert outcome[USER]["action"] == "cutover"
    assert outcome[USER]["switched_hosts"] == ["web1", "web2"]
    assert outcome[USER]["failures"] == []
    assert outcome[USER]["message"] == ""


@pytest.mark.parametrize(
    "other_state",
    ["written", "untouched", "failed", "unreachable"],
)
def test_rotation_outcome_rolls_back_unless_every_host_is_healthy(other_state):
    outcome = rotation_outcome({USER: DUE}, {"web1": host("healthy"), "web2": host(other_state)})

    assert outcome[USER]["action"] == "rollback"


def test_rotation_outcome_needs_at_least_one_host_to_cut_over():
    assert rotation_outcome({USER: DUE}, {"other": host("healthy", user="someone-else")})[USER]["action"] == "rollback"


def test_rotation_outcome_rollback_names_the_failed_host_and_check():
    host_states = {
        "web1": host("healthy"),
        "web3": host("failed", failure={"check": "restart", "msg": "unit did not start"}),
        "web2": host("failed", failure={"check": "health check", "msg": "HTTP 503 from /health"}),
        "web4": host("untouched"),
    }

    entry = rotation_outcome({USER: DUE}, host_states)[USER]

    assert entry["action"] == "rollback"
    assert entry["message"] == "host web2 failed health check: HTTP 503 from /health"
    assert entry["failures"] == [
        {"check": "health check", "msg": "HTTP 503 from /health", "host": "web2"},
        {"check": "restart", "msg": "unit did not start", "host": "web3"},
    ]
    assert entry["switched_hosts"] == ["web1", "web2", "web3"]


def test_rotation_outcome_rollback_of_a_failure_without_check_says_a_step():
    entry = rotation_outcome({USER: DUE}, {"web1": host("failed", failure={"msg": "boom"})})[USER]

    assert entry["message"] == "host web1 failed a step: boom"


def test_rotation_outcome_rollback_caused_elsewhere_lists_the_pending_hosts():
    host_states = {"web1": host("healthy"), "web3": host("untouched"), "web2": host("written")}

    entry = rotation_outcome({USER: DUE}, host_states)[USER]

    assert entry["action"] == "rollback"
    assert entry["failures"] == []
    assert entry["message"] == "rollout stopped by a failure elsewhere before these hosts switched: web2, web3"


def test_rotation_outcome_reports_unreachable_hosts_left_with_the_new_key():
    failure = {"check": "reachability", "msg": "host became unreachable"}
    host_states = {
        "web1": host("healthy"),
        "web2": host("unreachable", wrote=True, failure=failure),
        "web3": host("unreachable", wrote=False, failure=failure),
    }

    entry = rotation_outcome({USER: DUE}, host_states)[USER]

    assert entry["action"] == "rollback"
    assert entry["unreachable_with_new_key"] == ["web2"]
    assert entry["switched_hosts"] == ["web1"]
    assert entry["message"] == "host web2 failed reachability: host became unreachable"


def test_rotation_outcome_keeps_users_apart():
    plans = {"app": DUE, "batch": DUE}
    host_states = {
        "web1": host("healthy", user="app"),
        "job1": host("failed", user="batch", failure={"check": "health check", "msg": "denied"}),
    }

    outcome = rotation_outcome(plans, host_states)

    assert outcome["app"]["action"] == "cutover"
    assert outcome["batch"]["action"] == "rollback"
    assert outcome["batch"]["message"] == "host job1 failed health check: denied"


# --- the user's own policy (IAM user tags) and leaked keys ---------------------------------------------


def policy_journal(**policy):
    return {"policy": {"exempt": None, "exempt_until": None, "owner": None, "max_age_days": None, **policy}}


@pytest.mark.parametrize(
    "policy, due, says",
    [
        ({"exempt": "vendor appliance"}, False, "exempt: vendor appliance"),
        ({"exempt": "vendor appliance", "exempt_until": "2099-01-31"}, False, "(until 2099-02-01"),
        ({"exempt": "migration", "exempt_until": "2024-05-01"}, True, "key AKIAOLD is 120 days old"),
        ({"exempt": "migration", "exempt_until": "soon"}, False, "exempt: migration"),
        ({"max_age_days": "365"}, False, "under the 365-day policy"),
        ({"max_age_days": " 30 "}, True, "(policy: 30)"),
    ],
    ids=["exempt", "exempt-until-later", "exemption-expired", "exempt-until-invalid-stays-exempt", "longer-own-policy", "shorter-own-policy"],
)
def test_the_users_own_policy(policy, due, says):
    result = plan([key("AKIAOLD", age=120 if "max_age_days" not in policy else (120 if policy["max_age_days"].strip() == "365" else 40))],
                  {"web1": ["AKIAOLD"]}, journal=policy_journal(**policy))
    assert result["due"] is due and result["error"] is None
    assert says in result["reason"], result["reason"]


def test_an_exemption_wins_over_force_and_an_invalid_max_age_refuses_only_that_user():
    assert plan([key("AKIAOLD", age=200)], {"web1": ["AKIAOLD"]}, force=True, journal=policy_journal(exempt="appliance"))["due"] is False
    plans = plan_rotation(
        [{"user_name": "bad", "access_keys": [key("AKIAB", age=200)]}, {"user_name": "good", "access_keys": [key("AKIAG", age=200)]}],
        {"h1": {"user": "bad", "key_ids": ["AKIAB"]}, "h2": {"user": "good", "key_ids": ["AKIAG"]}}, now=NOW,
        journals={"bad": policy_journal(max_age_days="thirty", owner="team-b")},
    )
    assert "rotor:max-age-days holds 'thirty'" in plans["bad"]["error"] and "(owner: team-b)" in plans["bad"]["error"]
    assert plans["good"]["due"] is True and plans["good"]["error"] is None


def test_a_compromised_fleet_key_is_incident_response():
    result = plan([key("AKIAOLD", age=5)], {"web1": ["AKIAOLD"], "web2": ["AKIAOLD"]}, compromised_key_ids=["AKIAOLD"],
                  journal=policy_journal(exempt="appliance"))
    assert result["due"] is True and result["deactivate_first"] is True and result["old_key_disabled"] is True
    assert result["reactivate_old"] is False and "compromised" in result["reason"]


def test_a_compromised_second_key_makes_room_and_the_fleet_key_turns_too():
    result = plan([key("AKIAOLD", age=5), key("AKIALEAK", age=1, last_used_days_ago=0)], {"web1": ["AKIAOLD"]},
                  compromised_key_ids=["AKIALEAK"])
    assert result["due"] is True and result["free_slot_key_id"] == "AKIALEAK" and result["free_slot_force"] is True
    assert result["old_key_id"] == "AKIAOLD"


# --- secret destinations hold keys as hosts do ---------------------------------

SM, SSM = "secretsmanager:rotor/keys/app", "ssm:/rotor/keys/app"


def test_a_user_with_destinations_and_no_host_is_planned_from_what_they_hold():
    keys = [key("AKIAYOUNG", age=5), key("AKIAOLD", age=120, last_used_days_ago=0)]
    planned = plan(keys, {}, destination_key_ids={SM: "AKIAOLD", SSM: "AKIAOLD"})
    # The destinations run on the older key and use it right now: it is the old key, and no "in use outside" refusal.
    assert planned["error"] is None and planned["due"] and planned["old_key_id"] == "AKIAOLD"
    assert planned["destinations"] == {SM: "AKIAOLD", SSM: "AKIAOLD"} and planned["hosts"] == []


def test_a_destination_off_the_current_key_makes_the_user_due():
    planned = plan([key("AKIAOLD")], {"web1": ["AKIAOLD"]}, destination_key_ids={SM: "AKIAOLD", SSM: None})
    assert planned["due"] and planned["reason"] == f"destinations not on the current key AKIAOLD: {SSM}"
    both = plan([key("AKIAOLD")], {"web1": []}, destination_key_ids={SM: None})
    assert both["reason"] == f"hosts and destinations not on the current key AKIAOLD: web1, {SM}"


def test_a_key_a_destination_holds_is_never_deleted_to_make_room():
    keys = [key("AKIAOLD", age=120), key("AKIAIDLE", age=60, last_used_days_ago=30)]
    planned = plan(keys, {"web1": ["AKIAOLD"]}, destination_key_ids={SM: "AKIAIDLE"})
    assert planned["error"] and "AKIAIDLE" in planned["error"] and planned["free_slot_key_id"] is None
    assert planned["other_key"]["class"] == "held"


def test_a_stale_inactive_key_a_destination_holds_is_kept():
    keys = [key("AKIAOLD", age=20), key("AKIASTALE", status="Inactive", age=200)]
    assert plan(keys, {"web1": ["AKIAOLD"]})["stale_inactive_key_ids"] == ["AKIASTALE"]
    assert plan(keys, {"web1": ["AKIAOLD"]}, destination_key_ids={SM: "AKIASTALE"})["stale_inactive_key_ids"] == []


def test_a_user_with_only_destinations_cuts_over_unless_one_of_them_failed():
    only_destinations = dict(DUE, destinations={SM: "AKIAOLD"})
    assert rotation_outcome({USER: only_destinations}, {})[USER]["action"] == "cutover"
    failed = rotation_outcome({USER: only_destinations}, {}, {USER: f"writing the new key into {SM} failed"})
    assert failed[USER]["action"] == "rollback" and SM in failed[USER]["message"]
    # Without hosts or destinations there is nothing that proves the new key: never a cutover.
    assert rotation_outcome({USER: DUE}, {})[USER]["action"] == "rollback"
