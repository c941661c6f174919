"""Incident mode never waits on a host (issue 20, point 5): the plan's decisions and the lines an operator reads."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan import plan_rotation
from ansible_collections.rotor.iam.plugins.module_utils._rotation.outcome import rotation_outcome
from ansible_collections.rotor.iam.plugins.module_utils._rotation.tables import plan_action

USER = "app"
NOW = datetime.datetime(2024, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)
LEAKED = "AKIALEAKED0000000001"


def key(key_id, status="Active", age=10):
    return {"access_key_id": key_id, "user_name": USER, "status": status, "age_days": age, "last_used_date": None,
            "create_date": (NOW - datetime.timedelta(days=age)).isoformat()}


def plans_for(hosts, compromised=(LEAKED,), fleet=None, **kwargs):
    return plan_rotation([{"user_name": USER, "access_keys": [key(LEAKED)]}], hosts, now=NOW,
                         compromised_key_ids=list(compromised), fleet=fleet, **kwargs)


def test_an_unreadable_host_does_not_refuse_incident_response_and_is_named():
    hosts = {"web1": {"user": USER, "key_ids": [LEAKED]}, "web2": {"user": USER, "key_ids": [], "reachable": False}}

    plan = plans_for(hosts)[USER]

    assert plan["error"] is None and plan["due"] and plan["deactivate_first"]
    assert plan["hosts_unreachable"] == ["web2"]
    assert any("web2" in note and "deactivated anyway" in note for note in plan["notes"])
    line = plan_action(plan)
    assert line.startswith("INCIDENT - ") and "deactivated now" in line and "still on it: web2" in line


def test_an_unreachable_host_still_refuses_a_calm_rotation():
    hosts = {"web1": {"user": USER, "key_ids": [LEAKED]}, "web2": {"user": USER, "key_ids": [], "reachable": False}}

    plan = plans_for(hosts, compromised=(), force=True)[USER]

    assert plan["due"] and "hosts web2 are unreachable" in plan["error"]


def test_a_limited_incident_says_the_leaked_key_is_deactivated_not_kept_active():
    plans = plans_for({"web1": {"user": USER, "key_ids": [LEAKED]}}, fleet={USER: ["web1", "web2"]})
    plan = plans[USER]

    assert plan["staged"] and plan["deactivate_first"]
    line = plan_action(plans[USER])
    assert "Active" not in line.split("INCIDENT - ", 1)[1].replace("never reactivated", ""), line
    assert "deactivated now" in line and "web2" in line
    outcome = rotation_outcome(plans, {"web1": {"user": USER, "state": "healthy", "wrote": True, "failure": {}}})[USER]
    assert outcome["action"] == "staged" and "stays Active" not in outcome["message"] and "Inactive" in outcome["message"]


@given(st.dictionaries(st.sampled_from(["web1", "web2", "web3", "web4"]),
                       st.tuples(st.booleans(), st.booleans()), min_size=1))
def test_incident_response_is_never_refused_because_of_a_host(hosts):
    """Whatever the hosts (reachable or not, on the leaked key or not), the leaked key is deactivated first."""
    facts = {name: {"user": USER, "key_ids": [LEAKED] if on_leaked else [], "reachable": reachable}
             for name, (reachable, on_leaked) in hosts.items()}

    plan = plans_for(facts)[USER]

    assert plan["error"] is None and plan["due"] and plan["deactivate_first"] and not plan["reactivate_old"]
    assert plan.get("hosts_unreachable", []) == sorted(name for name, (reachable, _on) in hosts.items() if not reachable)


@pytest.mark.parametrize("staged", [False, True])
def test_a_calm_plan_line_is_unchanged(staged):
    fleet = {USER: ["web1", "web2"]} if staged else None
    plans = plans_for({"web1": {"user": USER, "key_ids": [LEAKED]}}, compromised=(), fleet=fleet)
    plans[USER]["due"] = True
    plans[USER]["staged"] = staged
    line = plan_action(plans[USER])
    assert ("kept Active (staged rollout)" in line) is staged
