# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: rotation_plan
short_description: Decide, per IAM user, what a fleet rotation does
version_added: 0.1.0
description:
  - Used by the C(rotor.iam.rotate) role. Takes the results of M(rotor.iam.access_key_info) per user and the
    key ids each host holds, and returns per user whether rotation is due, which key is the old one, which
    Inactive key frees the second slot, and why a user cannot be rotated.
options:
  _input:
    description: The M(rotor.iam.access_key_info) results, one per user.
    type: list
    elements: dict
    required: true
  hosts:
    description: Per host, C(user) and C(key_ids) found in its credentials files.
    type: dict
    required: true
  max_age_days:
    description: Rotation policy in days.
    type: int
    default: 90
  force:
    description: Rotate even keys younger than the policy.
    type: bool
    default: false
  delete_inactive_after_days:
    description: Inactive keys older than this are deleted.
    type: int
    default: 7
  journals:
    description: Per IAM user, the rotation journal read by M(rotor.iam.rotation_journal), to resume interrupted runs.
    type: dict
  in_use_window_minutes:
    description:
      - An Active key used this recently is never deleted to make room unless O(force) is set.
      - An Active key that no inventory host holds and that was used this recently refuses the user
        (something outside the inventory depends on it) unless O(force) is set.
    type: int
    default: 60
  fleet:
    description:
      - Per IAM user, every inventory host that names it (see the C(rotor.iam.inventory_fleet) filter), also those
        outside the play. A user with hosts outside the play is rotated as a staged rollout.
    type: dict
"""

EXAMPLES = r"""
- name: Plan
  ansible.builtin.set_fact:
    plan: "{{ key_infos | rotor.iam.rotation_plan(hosts=host_keys, max_age_days=90) }}"
"""

RETURN = r"""
_value:
  description: Per IAM user, the plan.
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.rotor.iam.plugins.module_utils.rotation_plan import plan_rotation
from ansible_collections.rotor.iam.plugins.module_utils.rotation_plan import refused_user_plan
from ansible_collections.rotor.iam.plugins.module_utils.rotation_plan import seconds_left_to_drain
from ansible_collections.rotor.iam.plugins.module_utils.rotation_plan import rotation_outcome


def rotation_plan(key_infos, hosts, max_age_days=90, force=False, delete_inactive_after_days=7, journals=None, in_use_window_minutes=60,
                  fleet=None):
    try:
        return plan_rotation(
            list(key_infos),
            dict(hosts),
            max_age_days=int(max_age_days),
            force=bool(force),
            delete_inactive_after_days=int(delete_inactive_after_days),
            journals=dict(journals or {}),
            in_use_window_minutes=int(in_use_window_minutes),
            fleet={user: list(names) for user, names in dict(fleet or {}).items()},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"rotor.iam.rotation_plan: malformed input ({exc})") from exc


def inventory_fleet(hostvars, inventory_hosts, variable="rotor_iam_user"):
    """Per IAM user, every inventory host whose ``rotor_iam_user`` names it, in the play or not.

    ``hostvars`` sees the variables of hosts outside the play (``--limit``, a narrower ``rotor_hosts``),
    so a run can tell that a user has hosts it does not cover.
    """
    fleet = {}
    try:
        for host in inventory_hosts:
            user = hostvars[host].get(variable)
            if isinstance(user, str) and user:
                fleet.setdefault(user, []).append(host)
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError(f"rotor.iam.inventory_fleet: malformed input ({exc})") from exc
    return {user: sorted(hosts) for user, hosts in fleet.items()}


def rotation_result(plans, hostvars, all_hosts, reachable_hosts, user_failures=None):
    """Outcome per user from each host's rotation facts; hosts gone from the play count as unreachable.

    ``user_failures``: {user: message} for key changes AWS did not confirm in time (the user is rolled back).
    """
    reachable = set(reachable_hosts)
    try:
        host_states = {}
        for host in all_hosts:
            facts = hostvars[host]
            state = facts.get("__rotor_state", "untouched")
            if host not in reachable and state != "untouched":
                state = "unreachable"
            host_states[host] = {
                "user": facts.get("rotor_iam_user"),
                "state": state,
                "wrote": bool(facts.get("__rotor_wrote", False)),
                "failure": facts.get("__rotor_failure") or ({"check": "reachability", "msg": "host became unreachable"} if state == "unreachable" else {}),
            }
        return rotation_outcome(dict(plans), host_states, user_failures=dict(user_failures or {}))
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"rotor.iam.rotation_result: malformed input ({exc})") from exc


def refused_plan(message):
    """The plan of a user this run may not touch (locked by another run): nothing to do, and why."""
    return refused_user_plan(str(message))


def planned_outcome(plans):
    """The outcome a check-mode run reports: what would happen per user, nothing done."""
    return {
        user: {
            "action": "planned" if plan.get("due") and not plan.get("error") else "skip",
            "failures": [],
            "switched_hosts": [],
            "unreachable_with_new_key": [],
            "keep_new_key": False,
            "message": plan.get("error") or plan.get("reason") or "",
        }
        for user, plan in dict(plans).items()
    }


def drain_remaining(inactive_since, users, drain_seconds):
    """Seconds still to wait until every user's old key has been Inactive ``drain_seconds`` (0 when done)."""
    try:
        return seconds_left_to_drain(dict(inactive_since or {}), list(users), int(drain_seconds))
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"rotor.iam.drain_remaining: malformed input ({exc})") from exc


class FilterModule:
    def filters(self):
        return {
            "rotation_plan": rotation_plan,
            "rotation_result": rotation_result,
            "inventory_fleet": inventory_fleet,
            "refused_plan": refused_plan,
            "drain_remaining": drain_remaining,
            "planned_outcome": planned_outcome,
        }
