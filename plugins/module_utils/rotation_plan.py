# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure decisions of a fleet rotation: who is due, which key is old, what frees a slot, what the outcome is.

No AWS calls and no Ansible: the role feeds these functions the facts it
gathered (keys per user, key ids per host) and acts on the answer.
"""

from __future__ import annotations

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import IAM_KEY_LIMIT
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import as_datetime
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import utcnow


def _inactive_since(key, keys):
    """When a key went Inactive, as far as IAM can tell.

    IAM does not record deactivation time; the key cannot have been retired
    before its successor existed nor before its last use, so the later of the
    two is a safe lower bound.
    """
    created = as_datetime(key.get("create_date"))
    created_dates = [as_datetime(k.get("create_date")) for k in keys]
    candidates = [moment for moment in created_dates if moment and created and moment > created]
    candidates.append(as_datetime(key.get("last_used_date")))
    candidates.append(created)
    known = [c for c in candidates if c is not None]
    return max(known) if known else None


IN_PROGRESS_PHASES = ("creating", "distributing", "cutover", "rolling_back")
# A key created this long before the journal said "creating" cannot be the one that run created.
CLOCK_SKEW_SECONDS = 120


def _minutes_since(value, now):
    moment = as_datetime(value)
    return None if moment is None else (now - moment).total_seconds() / 60


def _held_by(host_key_ids):
    held = {}
    for host, ids in host_key_ids.items():
        for key_id in ids or []:
            held.setdefault(key_id, []).append(host)
    return held


def _resume(plan, journal, by_id, held, now):
    """Read an interrupted run's journal: which key is old, which is new, what to do with the new one.

    Returns the old key (or None to plan as usual).
    """
    phase = journal.get("phase")
    if phase not in IN_PROGRESS_PHASES:
        return None
    run = journal.get("run_id") or "?"
    if phase == "cutover":
        old_id, new_id = journal.get("previous_key_id"), journal.get("current_key_id")
    else:
        old_id, new_id = journal.get("current_key_id"), journal.get("pending_key_id")
    plan["resume"] = {"phase": phase, "run_id": run, "updated": journal.get("updated")}
    old = by_id.get(old_id)
    if old is None:
        if new_id in by_id:
            plan["notes"].append(f"run {run} stopped in phase {phase} after the old key {old_id} was deleted; its rotation is complete")
            plan["finish_journal"] = True
        return None
    prefix = f"resuming run {run}, interrupted in phase {phase}"
    if phase == "creating":
        # The run died around CreateAccessKey: a key it made has no secret anywhere.
        started = as_datetime(journal.get("updated"))
        for key in by_id.values():
            created = as_datetime(key.get("create_date"))
            if (key["access_key_id"] != old_id and key["access_key_id"] not in held and not key.get("last_used_date")
                    and started and created and (started - created).total_seconds() <= CLOCK_SKEW_SECONDS):
                plan["replace_key_id"] = key["access_key_id"]
                plan["notes"].append(f"key {key['access_key_id']} was created by run {run}, which died before recording it: "
                                     f"no one holds its secret, so it is deleted")
        plan["reason"] = prefix
    elif new_id in by_id and held.get(new_id):
        plan["new_key_id"] = new_id
        plan["new_key_holders"] = sorted(held[new_id])
        plan["reason"] = f"{prefix}: {len(held[new_id])} of {len(plan['hosts'])} hosts already hold the new key {new_id}"
    elif new_id in by_id:
        plan["replace_key_id"] = new_id
        plan["reason"] = f"{prefix}: no host holds the new key {new_id} and its secret is lost, so it is deleted and replaced"
    else:
        plan["reason"] = f"{prefix}: its new key {new_id or '(none)'} no longer exists, so a new one is made"
    if old["status"] != "Active" and (held.get(old_id) or not plan["new_key_id"]):
        plan["reactivate_old"] = True
        plan["notes"].append(f"old key {old_id} is Inactive while the fleet may still need it: it is reactivated first")
    return old


def _classify_other(other, held, now, in_use_window_minutes, force):
    """What to do with the user's second key when a new one needs its slot: (class, action, reason)."""
    key_id = other["access_key_id"]
    holders = held.get(key_id)
    used_minutes = _minutes_since(other.get("last_used_date"), now)
    age_minutes = _minutes_since(other.get("create_date"), now)
    where = ", ".join(x for x in (other.get("last_used_service"), other.get("last_used_region")) if x)
    if holders:
        return "held", "refuse", (
            f"it is {other['status']} and hosts {', '.join(sorted(holders))} hold it; rotor.iam.rotate moves a fleet from one key "
            f"only. Put those hosts on one key first (or remove the key from them), then run again"
        )
    if other["status"] != "Active":
        return "inactive", "delete", "it is Inactive and no host in the inventory holds it"
    if used_minutes is not None and used_minutes < in_use_window_minutes:
        reason = (f"it is Active and was used {used_minutes:.0f} minutes ago{(' (' + where + ')') if where else ''}, within "
                  f"rotor_in_use_window_minutes={in_use_window_minutes}, by something outside this inventory")
        return ("in_use", "delete", reason + "; deleted because rotor_force is set") if force else ("in_use", "refuse", reason)
    if used_minutes is None and age_minutes is not None and age_minutes < in_use_window_minutes:
        reason = (f"it is Active, was created {age_minutes:.0f} minutes ago and never used: it may be about to be "
                  f"deployed somewhere outside this inventory")
        return ("new_unused", "delete", reason + "; deleted because rotor_force is set") if force else ("new_unused", "refuse", reason)
    if used_minutes is None:
        return "never_used", "delete", "it is Active but has never been used and no host in the inventory holds it"
    return "idle", "delete", (
        f"it is Active but was last used {used_minutes / 1440:.1f} days ago, outside rotor_in_use_window_minutes="
        f"{in_use_window_minutes}, and no host in the inventory holds it"
    )


def plan_user(user_name, keys, host_key_ids, max_age_days=90, force=False, delete_inactive_after_days=7, now=None,
              journal=None, in_use_window_minutes=60):
    """Decide what a rotation does for one IAM user.

    ``keys``: the user's keys as rotor.iam.access_key_info returns them (with last use).
    ``host_key_ids``: {host: [key ids found in that host's credentials files]}.
    ``journal``: the user's rotation journal (rotor.iam.rotation_journal), to resume an interrupted run.
    """
    now = now or utcnow()
    journal = journal or {}
    by_id = {k["access_key_id"]: k for k in keys}
    active = [k for k in keys if k["status"] == "Active"]
    inactive = [k for k in keys if k["status"] != "Active"]
    held = _held_by(host_key_ids)

    plan = {
        "user_name": user_name,
        "hosts": sorted(host_key_ids),
        "keys": [{"access_key_id": k["access_key_id"], "status": k["status"], "age_days": k.get("age_days")} for k in keys],
        "due": False,
        "reason": "",
        "old_key_id": None,
        "old_key_age_days": None,
        "free_slot_key_id": None,
        "free_slot_force": False,
        "stale_inactive_key_ids": [],
        "hosts_on_unknown_keys": sorted({h for key_id, hosts in held.items() if key_id not in by_id for h in hosts}),
        "resume": None,
        "new_key_id": None,
        "new_key_holders": [],
        "replace_key_id": None,
        "reactivate_old": False,
        "finish_journal": False,
        "other_key": None,
        "notes": [],
        "error": None,
    }

    old = _resume(plan, journal, by_id, held, now)
    resuming = old is not None
    if not resuming:
        # The old key is the Active key the fleet runs on; with no host holding one, the oldest Active key.
        held_active = [k for k in active if k["access_key_id"] in held]
        candidates = sorted(held_active or active, key=lambda k: (-len(held.get(k["access_key_id"], [])), k.get("create_date") or ""))
        old = candidates[0] if candidates else None
    if old:
        plan["old_key_id"] = old["access_key_id"]
        plan["old_key_age_days"] = old.get("age_days")

    # Inactive keys left by a deactivate-only rotation are deleted once they have been Inactive long enough,
    # and never while a host still holds them. The journal knows when rotor.iam deactivated a key.
    for key in inactive:
        if key is old or key["access_key_id"] == plan["new_key_id"]:
            continue
        since = _inactive_since(key, keys)
        if key["access_key_id"] == journal.get("previous_key_id") and as_datetime(journal.get("inactive_since")):
            since = as_datetime(journal.get("inactive_since"))
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
    if resuming:
        plan["due"] = True
    elif force:
        plan["due"], plan["reason"] = True, "rotor_force is set"
    elif age >= max_age_days:
        plan["due"], plan["reason"] = True, f"key {old['access_key_id']} is {age} days old (policy: {max_age_days})"
    elif drifted:
        plan["due"], plan["reason"] = True, f"hosts not on the current key {old['access_key_id']}: {', '.join(drifted)}"
    else:
        plan["reason"] = f"key {old['access_key_id']} is {age} days old, under the {max_age_days}-day policy"
        return plan

    # Make room: IAM holds two keys per user. The resumed or replaced new key is not "another" key.
    if plan["new_key_id"] or len(keys) < IAM_KEY_LIMIT:
        return _drop_free_slot_from_stale(plan)
    others = [k for k in keys if k["access_key_id"] not in (old["access_key_id"], plan["replace_key_id"])]
    if not others:
        return _drop_free_slot_from_stale(plan)
    other = next((k for k in others if k["access_key_id"] in plan["stale_inactive_key_ids"]), others[0])
    kind, action, why = _classify_other(other, held, now, in_use_window_minutes, force)
    plan["other_key"] = {"access_key_id": other["access_key_id"], "status": other["status"], "class": kind, "action": action, "reason": why}
    if action == "delete":
        plan["free_slot_key_id"] = other["access_key_id"]
        plan["free_slot_force"] = other["status"] == "Active"
        plan["notes"].append(f"key {other['access_key_id']} is deleted to make room for the new key: {why}")
    else:
        plan["error"] = (
            f"IAM user {user_name!r} already has {len(keys)} access keys and rotor.iam.rotate will not delete "
            f"{other['access_key_id']} to make room: {why}. Retire it first (deactivate, check, then delete it "
            f"with rotor.iam.access_key_delete){', or set rotor_force=true' if kind in ('in_use', 'new_unused') else ''}, "
            f"then run the rotation again."
        )
    return _drop_free_slot_from_stale(plan)


def seconds_left_to_drain(inactive_since, users, drain_seconds, now=None):
    """The wait until each user's old key has been Inactive ``drain_seconds``; an unknown start waits it all."""
    now = now or utcnow()
    waits = [0]
    for user in users:
        since = as_datetime(inactive_since.get(user))
        elapsed = (now - since).total_seconds() if since else 0
        waits.append(drain_seconds - elapsed)
    return max(0, int(max(waits) + 0.999))


def refused_user_plan(message, user_name=None):
    """A plan that does nothing for a user and says why (e.g. another run holds its lock)."""
    plan = plan_user(user_name or "", [], {})
    plan.update(error=message, hosts=[], reason=message)
    return plan


def _drop_free_slot_from_stale(plan):
    if plan["free_slot_key_id"] in plan["stale_inactive_key_ids"]:
        plan["stale_inactive_key_ids"].remove(plan["free_slot_key_id"])
    return plan


def _describe(keys):
    return ", ".join(f"{k['access_key_id']} {k['status']}" for k in keys) or "no keys"


def plan_rotation(key_infos, hosts, max_age_days=90, force=False, delete_inactive_after_days=7, now=None, journals=None,
                  in_use_window_minutes=60):
    """Plan every user. ``key_infos``: access_key_info results; ``hosts``: {host: {"user": u, "key_ids": [...]}};
    ``journals``: {user: rotation journal}."""
    journals = journals or {}
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
            journal=journals.get(user),
            in_use_window_minutes=in_use_window_minutes,
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
