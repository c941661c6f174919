# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure decisions of a fleet rotation: who is due, which key is old, what frees a slot, what the outcome is.

No AWS calls and no Ansible: the role feeds these functions the facts it
gathered (keys per user, key ids per host) and acts on the answer.
"""

from __future__ import annotations

import datetime

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import IAM_KEY_LIMIT
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import utcnow


def _parse(value):
    if not value:
        return None
    parsed = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def _inactive_since(key, keys):
    """When a key went Inactive, as far as IAM can tell.

    IAM does not record deactivation time; the key cannot have been retired
    before its successor existed nor before its last use, so the later of the
    two is a safe lower bound.
    """
    created = _parse(key.get("create_date"))
    candidates = [_parse(k.get("create_date")) for k in keys if _parse(k.get("create_date")) and created and _parse(k.get("create_date")) > created]
    candidates.append(_parse(key.get("last_used_date")))
    candidates.append(created)
    known = [c for c in candidates if c is not None]
    return max(known) if known else None


def plan_user(user_name, keys, host_key_ids, max_age_days=90, force=False, delete_inactive_after_days=7, now=None):
    """Decide what a rotation does for one IAM user.

    ``keys``: the user's keys as rotor.iam.access_key_info returns them.
    ``host_key_ids``: {host: [key ids found in that host's credentials files]}.
    """
    now = now or utcnow()
    by_id = {k["access_key_id"]: k for k in keys}
    active = [k for k in keys if k["status"] == "Active"]
    inactive = [k for k in keys if k["status"] != "Active"]
    held = {}
    for host, ids in host_key_ids.items():
        for key_id in ids or []:
            held.setdefault(key_id, []).append(host)

    plan = {
        "user_name": user_name,
        "hosts": sorted(host_key_ids),
        "keys": [{"access_key_id": k["access_key_id"], "status": k["status"], "age_days": k.get("age_days")} for k in keys],
        "due": False,
        "reason": "",
        "old_key_id": None,
        "old_key_age_days": None,
        "free_slot_key_id": None,
        "stale_inactive_key_ids": [],
        "hosts_on_unknown_keys": sorted({h for key_id, hosts in held.items() if key_id not in by_id for h in hosts}),
        "error": None,
    }

    # The old key is the Active key the fleet runs on; with no host holding one, the oldest Active key.
    held_active = [k for k in active if k["access_key_id"] in held]
    candidates = sorted(held_active or active, key=lambda k: (-len(held.get(k["access_key_id"], [])), k.get("create_date") or ""))
    old = candidates[0] if candidates else None
    if old:
        plan["old_key_id"] = old["access_key_id"]
        plan["old_key_age_days"] = old.get("age_days")

    # Inactive keys left by a deactivate-only rotation are deleted once they have been Inactive long enough,
    # and never while a host still holds them.
    for key in inactive:
        since = _inactive_since(key, keys)
        old_enough = since is not None and (now - since).total_seconds() >= delete_inactive_after_days * 86400
        if old_enough and key["access_key_id"] not in held:
            plan["stale_inactive_key_ids"].append(key["access_key_id"])

    if old is None:
        plan["error"] = (
            f"IAM user {user_name!r} has no Active access key ({_describe(keys)}); rotor.iam.rotate rotates an "
            f"existing key. Create one with rotor.iam.access_key_create and distribute it first."
        )
        return plan

    drifted = sorted(h for h, ids in host_key_ids.items() if old["access_key_id"] not in (ids or []))
    age = old.get("age_days") or 0
    if force:
        plan["due"], plan["reason"] = True, "rotor_force is set"
    elif age >= max_age_days:
        plan["due"], plan["reason"] = True, f"key {old['access_key_id']} is {age} days old (policy: {max_age_days})"
    elif drifted:
        plan["due"], plan["reason"] = True, f"hosts not on the current key {old['access_key_id']}: {', '.join(drifted)}"
    else:
        plan["reason"] = f"key {old['access_key_id']} is {age} days old, under the {max_age_days}-day policy"
        return plan

    # Make room: IAM holds two keys per user.
    if len(keys) >= IAM_KEY_LIMIT:
        others = [k for k in keys if k["access_key_id"] != old["access_key_id"]]
        spare = [k for k in others if k["status"] != "Active" and k["access_key_id"] not in held]
        if spare:
            plan["free_slot_key_id"] = spare[0]["access_key_id"]
        else:
            other = others[0]
            holders = held.get(other["access_key_id"], [])
            if holders:
                why = f"hosts {', '.join(sorted(holders))} still use it"
            else:
                why = f"it is {other['status']} and may be used outside this inventory (last used {other.get('last_used_date') or 'never'})"
            plan["error"] = (
                f"IAM user {user_name!r} already has {len(keys)} access keys and rotor.iam.rotate will not delete "
                f"{other['access_key_id']} to make room: {why}. Retire it first (deactivate, check, then delete it "
                f"with rotor.iam.access_key_delete), then run the rotation again."
            )
    if plan["free_slot_key_id"] in plan["stale_inactive_key_ids"]:
        plan["stale_inactive_key_ids"].remove(plan["free_slot_key_id"])
    return plan


def _describe(keys):
    return ", ".join(f"{k['access_key_id']} {k['status']}" for k in keys) or "no keys"


def plan_rotation(key_infos, hosts, max_age_days=90, force=False, delete_inactive_after_days=7, now=None):
    """Plan every user. ``key_infos``: access_key_info results; ``hosts``: {host: {"user": u, "key_ids": [...]}}."""
    per_user_hosts = {}
    for host, info in hosts.items():
        per_user_hosts.setdefault(info["user"], {})[host] = info.get("key_ids") or []
    unreachable = {}
    for host, info in hosts.items():
        if info.get("reachable") is False:
            unreachable.setdefault(info["user"], []).append(host)
    plans = {}
    for info in key_infos:
        user = info["user_name"]
        plans[user] = plan_user(
            user,
            info["access_keys"],
            per_user_hosts.get(user, {}),
            max_age_days=max_age_days,
            force=force,
            delete_inactive_after_days=delete_inactive_after_days,
            now=now,
        )
        if user in unreachable and plans[user]["due"]:
            plans[user]["error"] = (
                f"cannot rotate IAM user {user!r}: hosts {', '.join(sorted(unreachable[user]))} are unreachable, so the "
                f"key they hold is unknown and retiring the old key could cut them off. Bring them back and run again."
            )
    return plans


def rotation_outcome(plans, host_states):
    """Per user, what the cutover phase may do, from each host's state after distribution.

    ``host_states``: {host: {"user": u, "state": untouched|written|healthy|failed|unreachable, "failure": {...}}}
    States: ``written`` = the new key is in its files but the host is not proven healthy.
    Returns {user: {"action": cutover|rollback|skip, "failures": [...], "switched_hosts": [...],
    "unreachable_with_new_key": [...]}}.
    """
    outcome = {}
    for user, plan in plans.items():
        hosts = {h: s for h, s in host_states.items() if s.get("user") == user}
        entry = {"action": "skip", "failures": [], "switched_hosts": [], "unreachable_with_new_key": [], "message": ""}
        if not plan.get("due") or plan.get("error"):
            outcome[user] = entry
            continue
        entry["switched_hosts"] = sorted(h for h, s in hosts.items() if s.get("state") in ("written", "healthy", "failed") and s.get("wrote"))
        entry["unreachable_with_new_key"] = sorted(h for h, s in hosts.items() if s.get("state") == "unreachable" and s.get("wrote"))
        entry["failures"] = [dict(s["failure"], host=h) for h, s in sorted(hosts.items()) if s.get("failure")]
        healthy = all(s.get("state") == "healthy" for s in hosts.values())
        if healthy and hosts:
            entry["action"] = "cutover"
        else:
            entry["action"] = "rollback"
            if entry["failures"]:
                first = entry["failures"][0]
                entry["message"] = f"host {first['host']} failed {first.get('check', 'a step')}: {first.get('msg', '')}"
            else:
                pending = sorted(h for h, s in hosts.items() if s.get("state") != "healthy")
                entry["message"] = "rollout stopped by a failure elsewhere before these hosts switched: " + ", ".join(pending)
        outcome[user] = entry
    return outcome
