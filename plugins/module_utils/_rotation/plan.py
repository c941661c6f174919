# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private (rotor.iam's rotation engine): the plan of a fleet rotation: who is due, which key is old, what frees a slot.

No AWS calls and no Ansible: the role feeds these functions the facts it
gathered (keys per user, key ids per host) and acts on the answer.
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import IAM_KEY_LIMIT
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import as_datetime
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import utcnow
from ansible_collections.rotor.iam.plugins.module_utils._journal_trust import lost_key_verdict
from ansible_collections.rotor.iam.plugins.module_utils._journal_trust import proven_deactivated_by_rotor
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import POLICY_TAGS
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import parse_time
from ansible_collections.rotor.iam.plugins.module_utils.rotation_settings import split_key_ids
from ansible_collections.rotor.iam.plugins.module_utils.user_policy import EXEMPT_UNTIL_TAG
from ansible_collections.rotor.iam.plugins.module_utils.user_policy import MAX_AGE_TAG
from ansible_collections.rotor.iam.plugins.module_utils.user_policy import user_policy as shared_user_policy


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


# waiting_for_quiet (the quiet-key gate stopped) resumes as distributing does: old key current, new key pending.
IN_PROGRESS_PHASES = ("creating", "distributing", "cutover", "rolling_back", "waiting_for_quiet")
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


_RUN_ID_TIME = re.compile(r"^(\d{8}T\d{6}Z)")


def run_started(run_id):
    """When a run started, from its id (``20261130T120000Z-123456``, as rotor.iam.rotate names runs); else None."""
    match = _RUN_ID_TIME.match(run_id or "")
    if not match:
        return None
    try:
        return datetime.datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def rotor_deactivated(journal, key_id):
    """Did a rotor.iam run deactivate ``key_id``? Only a sealed journal can tell (module_utils/_journal_trust.py): cutover
    (or the rollback of one) records it as the previous key with the time it went Inactive, under rotor's seal. Anyone
    with iam:TagUser can write the same tags unsealed; that is advice, never a reason to turn a key back on."""
    return proven_deactivated_by_rotor(journal, key_id)


def _claims_deactivation(journal, key_id):
    """Does the journal say, sealed or not, that a rotor run deactivated ``key_id``?"""
    return (bool(key_id) and journal.get("phase") in ("cutover", "rolling_back") and journal.get("previous_key_id") == key_id
            and parse_time(journal.get("inactive_since")) is not None)


def _when(key, field):
    moment = parse_time(key.get(field))
    return moment.replace(microsecond=0).isoformat() if moment else "never"


def _used_by_own_verify(journal, pending):
    """Whether the pending key's last use can be the recording run's own verify (rotor:verified): used no earlier
    than the verify began (AWS rounds LastUsedDate down, clocks differ: CLOCK_SKEW_SECONDS of slack)."""
    began, used = parse_time(journal.get("verified")), parse_time(pending.get("last_used_date"))
    return bool(began and used and (used - began).total_seconds() >= -CLOCK_SKEW_SECONDS)


def _resume(plan, journal, by_id, held, now, outside, holders=None):
    """Read an interrupted run's journal: which key is old, which is new, what to do with the new one.

    ``outside``: hosts of the user that are in the inventory but not in this play (their keys are unknown).
    ``held``: {key id: hosts}, where a lost secret can be recovered from; ``holders``: the same with the user's
    secret destinations, for what must never be deleted or left disabled while something holds it.
    Returns the old key (or None to plan as usual). Sets ``plan["error"]`` when resuming would destroy
    something that may be in use.
    """
    phase = journal.get("phase")
    if phase not in IN_PROGRESS_PHASES:
        return None
    holders = held if holders is None else holders
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
    user = plan["user_name"]
    prefix = f"resuming run {run}, interrupted in phase {phase}"
    if phase == "creating":
        # The run died around CreateAccessKey: a key it made has no secret anywhere. It is that run's only if IAM dates it
        # inside the creation window the run recorded before the call, it was never used and nothing holds it.
        for key in by_id.values():
            if key["access_key_id"] == old_id:
                continue
            ours, why = lost_key_verdict(journal, key, holders.get(key["access_key_id"]), require_seal=bool(journal.get("seal_required")))
            if ours:
                plan["replace_key_id"] = key["access_key_id"]
                plan["notes"].append(f"key {key['access_key_id']} was created by run {run}, which died before recording it: "
                                     f"no one holds its secret, so it is deleted")
            else:
                plan["notes"].append(f"key {key['access_key_id']} is not taken for a key run {run} lost ({why}): it is not deleted")
        plan["reason"] = prefix
    elif phase == "cutover" and outside:
        plan["error"] = (
            f"IAM user {user!r}: run {run} stopped after cutover, and finishing it deletes the old key {old_id}, which "
            f"needs every host of the user; {len(outside)} of them are outside this play ({', '.join(outside)}). Run "
            f"the rotation over all hosts of {user} (without --limit, with rotor_hosts covering them)."
        )
    elif new_id in by_id and held.get(new_id):
        plan["new_key_id"] = new_id
        plan["new_key_holders"] = sorted(held[new_id])
        plan["reason"] = f"{prefix}: {len(held[new_id])} of {len(plan['hosts'])} hosts in this play already hold the new key {new_id}"
    elif new_id in by_id and holders.get(new_id):
        # A lost secret is recovered from a host only; a key a destination holds is never deleted.
        # A workflow's finish job needs no secret: it goes on with the key (module_utils/workflow_run.py).
        plan["pending_held_by"] = sorted(holders[new_id])
        plan["error"] = (
            f"IAM user {user!r}: the pending key {new_id} of run {run} is held by its secret destinations "
            f"({', '.join(sorted(holders[new_id]))}) but by no host in this play, so rotor.iam.rotate can neither recover "
            f"its secret nor delete it. If run {run} is a workflow, finish it: rotor.iam.rotate_finish with "
            f"rotor_run_id={run}. Otherwise put the old key {old_id} back into those destinations, delete {new_id} "
            f"(rotor.iam.access_key_delete force=true) and clear the journal (rotor.iam.rotation_journal state=absent), "
            f"then run again."
        )
    elif new_id in by_id:
        pending = by_id[new_id]
        created = parse_time(pending.get("create_date"))
        if outside:
            plan["error"] = (
                f"IAM user {user!r}: the pending key {new_id} of run {run} is held by no host in this play, but "
                f"{len(outside)} hosts of the user are outside it ({', '.join(outside)}) and may run on it; it is "
                f"neither deleted nor replaced. Run again over all hosts of {user}, or include at least one host that "
                f"holds {new_id} in the play."
            )
        elif pending.get("last_used_date") and not _used_by_own_verify(journal, pending):
            plan["error"] = (
                f"IAM user {user!r}: the pending key {new_id} of run {run} is held by no host in the inventory, yet "
                f"AWS says it was last used at {_when(pending, 'last_used_date')}: something outside the inventory may "
                f"run on it, so it is neither deleted nor replaced. Find what uses it (CloudTrail, "
                f"rotor.iam.access_key_info) and add that host to the inventory; if it is truly unused, delete it "
                f"(rotor.iam.access_key_delete force=true) and clear the journal "
                f"(rotor.iam.rotation_journal state=absent), then run again."
            )
        elif not lost_key_verdict(journal, pending, require_seal=bool(journal.get("seal_required")),
                                  used_by_own_verify=_used_by_own_verify(journal, pending))[0]:
            plan["error"] = (
                f"IAM user {user!r}: the journal names {new_id} as the pending key of run {run}, but that key was "
                f"created at {_when(pending, 'create_date')} and "
                + lost_key_verdict(journal, pending, require_seal=bool(journal.get("seal_required")),
                                   used_by_own_verify=_used_by_own_verify(journal, pending))[1]
                + ", so it may not be that run's key and is not deleted. Check who made it; if it is unused, delete it "
                "(rotor.iam.access_key_delete force=true) and clear the journal (rotor.iam.rotation_journal state=absent), "
                "then run again."
            )
        else:
            plan["replace_key_id"] = new_id
            plan["reason"] = (f"{prefix}: no inventory host holds the new key {new_id} and AWS says it was "
                              + ("used only by that run's own verify" if pending.get("last_used_date") else "never used")
                              + ": its secret is lost, so it is deleted and replaced")
    else:
        plan["reason"] = f"{prefix}: its new key {new_id or '(none)'} no longer exists, so a new one is made"
        # Nothing of that run is left but the journal's word: the old key is judged as in a fresh rotation.
        plan["resume"]["new_key_gone"] = True
    if plan["error"]:
        return old
    if old["status"] != "Active" and (holders.get(old_id) or not plan["new_key_id"]):
        if rotor_deactivated(journal, old_id):
            plan["reactivate_old"] = True
            plan["notes"].append(f"old key {old_id} was deactivated by run {run} while the fleet may still need it: it is reactivated first")
        else:
            plan["old_key_disabled"] = True
            if _claims_deactivation(journal, old_id):
                plan["notes"].append(f"the journal says run {run} deactivated the old key {old_id}, but the record is not sealed "
                                     f"by rotor (anyone with iam:TagUser can write it), so it is not believed")
            plan["notes"].append(_disabled_note(old_id))
    elif old["status"] != "Active" and not rotor_deactivated(journal, old_id):
        # The derived cutover: the journal's last word is "distributing" (the role records no separate cutover
        # when there is no drain), IAM shows the old key Inactive and hosts hold the new one. Whoever deactivated
        # it, the journal does not say rotor.iam did, so it is never turned back on: the run finishes forward.
        plan["old_key_disabled"] = True
        plan["notes"].append(
            f"the old key {old_id} is Inactive and the journal (phase {phase}) does not record who deactivated it: run "
            f"{run} may have died right after its cutover, or someone disabled the key; it is never reactivated, the "
            f"rotation is finished on the new key {new_id}, and a host that fails on it is reported, not rolled back")
    return old


def user_policy(policy, default_max_age_days, now):
    """A user's own policy, as the rotation applies it: the tags mean what ``user_policy.user_policy`` (shared
    with the audit) says they mean; the rotation refuses a user whose max age is invalid.

    ``policy``: the journal's view of the tags ({exempt, exempt_until, owner, max_age_days}).
    Returns {owner, max_age_days, exempt (reason or None), exempt_until, exemption_expired, notes, error}.
    An exemption whose end date does not parse stays in effect (a typo never rotates a key that cannot be
    reloaded), with a note.
    """
    tags = {POLICY_TAGS[field]: value for field, value in (policy or {}).items() if field in POLICY_TAGS and value is not None}
    shared = shared_user_policy(tags, default_max_age_days, now)
    reason = shared["exempt_reason"]
    result = {"owner": shared["owner"], "max_age_days": shared["max_age_days"], "exempt": reason if shared["exempt"] else None,
              "exempt_until": (shared["exemption_ends"] or shared["exempt_until"]) if reason else None,
              "exemption_expired": shared["exemption_expired"], "notes": [], "error": None}
    for problem in shared["problems"]:
        if problem["tag"] == MAX_AGE_TAG:
            result["error"] = (f"its tag {MAX_AGE_TAG} holds {problem['value']!r}, which is not a positive whole number of days. "
                               f"Fix the tag (e.g. 30), or remove it to use rotor_max_key_age_days={default_max_age_days}")
        elif problem["tag"] == EXEMPT_UNTIL_TAG:
            result["notes"].append(f"{EXEMPT_UNTIL_TAG} holds {problem['value']!r}, which is not a date (YYYY-MM-DD): the exemption "
                                   f"stays in effect until the tag is fixed")
    if shared["exemption_expired"]:
        result["notes"].append(f"the exemption '{reason}' ended at {shared['exemption_ends']}: the user is rotated under its policy")
    return result


def _disabled_note(key_id):
    return (f"key {key_id} is Inactive and no rotor.iam run deactivated it (someone disabled it, e.g. after a leak): it is "
            f"never reactivated; the hosts are moved onto a new key, and a host that fails on the new key is reported, "
            f"not rolled back onto {key_id}")


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
              journal=None, in_use_window_minutes=60, fleet_hosts=None, compromised_key_ids=None, destination_key_ids=None):
    """Decide what a rotation does for one IAM user.

    ``keys``: the user's keys as rotor.iam.access_key_info returns them (with last use).
    ``host_key_ids``: {host: [key ids found in that host's credentials files]}, for the hosts of this play.
    ``journal``: the user's rotation journal (rotor.iam.rotation_journal), to resume an interrupted run.
    ``fleet_hosts``: every inventory host that names the user (default: the play's hosts). Hosts outside
    the play make the run a staged rollout: the old key stays Active.
    ``compromised_key_ids``: leaked keys; the rotation of a user whose fleet key is one of them becomes
    incident response (the key is deactivated first, never reactivated, deleted at the end).
    The user's own policy comes from ``journal["policy"]`` (its rotor:exempt, rotor:owner and
    rotor:max-age-days tags).
    ``destination_key_ids``: {label: key id or None} of the user's secret destinations (rotor_secret_destinations,
    read before the plan). They hold keys as hosts do: the key they run on is the old key, a key they hold is
    never deleted to make room, and one that is not on the old key makes the user due. A user may have
    destinations and no host at all.
    """
    now = now or utcnow()
    journal = journal or {}
    by_id = {k["access_key_id"]: k for k in keys}
    active = [k for k in keys if k["status"] == "Active"]
    inactive = [k for k in keys if k["status"] != "Active"]
    held = _held_by(host_key_ids)
    destinations = {str(label): (str(key_id) if key_id else None) for label, key_id in (destination_key_ids or {}).items()}
    # Who holds each key: hosts and destinations alike (the recovery of a lost secret reads hosts only: _resume).
    holders = _held_by({**host_key_ids, **{label: [key_id] for label, key_id in destinations.items() if key_id}})

    plan = {
        "user_name": user_name,
        "hosts": sorted(host_key_ids),
        "destinations": dict(sorted(destinations.items())),
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
        # Secret destinations that hold a resumed pending key no host holds (see _resume).
        "pending_held_by": [],
        "replace_key_id": None,
        "reactivate_old": False,
        "finish_journal": False,
        "other_key": None,
        "fleet_hosts": sorted(set(fleet_hosts or []) | set(host_key_ids)),
        "hosts_outside_play": sorted(set(fleet_hosts or []) - set(host_key_ids)),
        "staged": False,
        "old_key_disabled": False,
        "old_key_status": None,
        # This run's lease on the user's lock (rotor.iam.rotation_journal), for the writes and key changes that follow.
        "lease": journal.get("lease"),
        "owner": None,
        "max_age_days": max_age_days,
        "exempt": None,
        "exempt_until": None,
        "compromised_key_id": None,
        "deactivate_first": False,
        "notes": [],
        "error": None,
    }
    outside = plan["hosts_outside_play"]
    compromised = set(split_key_ids(compromised_key_ids))  # a list, or an AWX survey's comma/space separated text
    policy = user_policy(journal.get("policy"), max_age_days, now)
    plan.update(owner=policy["owner"], max_age_days=policy["max_age_days"], exempt_until=policy["exempt_until"])
    plan["notes"].extend(policy["notes"])
    if policy["error"]:
        plan["error"] = f"IAM user {user_name!r}: {policy['error']}. The other users of the run are not affected."
        return plan
    max_age_days = policy["max_age_days"]

    problems = journal.get("problems") or []
    if problems:
        first = problems[0]
        plan["error"] = (
            f"IAM user {user_name!r}: its rotation journal tag {first['tag']} holds {first['value']!r}, which is "
            f"{first['why']}" + (f" (and {len(problems) - 1} more malformed tags)" if len(problems) > 1 else "")
            + "; rotor.iam.rotate will not guess where this user's last rotation stands. Check the user's keys and "
            f"hosts, then fix the tag, or clear the journal: ansible localhost -m rotor.iam.rotation_journal "
            f"-a 'user_name={user_name} state=absent'. The other users of the run are not affected."
        )
        return plan

    old = _resume(plan, journal, by_id, held, now, outside, holders)
    if plan["error"]:
        return plan
    resuming = old is not None
    leaked = sorted(k["access_key_id"] for k in keys if k["access_key_id"] in compromised)
    if not resuming:
        # The old key is the Active key the fleet runs on; with no host holding one, the oldest Active key.
        # A key the hosts hold that someone else disabled is the old key too: the hosts must leave it.
        held_active = [k for k in active if k["access_key_id"] in holders]
        held_disabled = [k for k in inactive if k["access_key_id"] in holders and not rotor_deactivated(journal, k["access_key_id"])]
        by_holders = sorted(held_active + held_disabled, key=lambda k: (-len(holders.get(k["access_key_id"], [])), k.get("create_date") or ""))
        if by_holders:
            old = by_holders[0]
            if old["status"] != "Active":
                plan["old_key_disabled"] = True
                plan["notes"].append(_disabled_note(old["access_key_id"]))
        else:
            candidates = sorted(active, key=lambda k: k.get("create_date") or "")
            old = candidates[0] if candidates else None
    if old:
        plan["old_key_id"] = old["access_key_id"]
        plan["old_key_age_days"] = old.get("age_days")
        plan["old_key_status"] = old["status"]

    # Inactive keys left by a deactivate-only rotation are deleted once they have been Inactive long enough,
    # and never while a host still holds them. The journal knows when rotor.iam deactivated a key.
    for key in inactive:
        if key is old or key["access_key_id"] == plan["new_key_id"]:
            continue
        since = _inactive_since(key, keys)
        if key["access_key_id"] == journal.get("previous_key_id") and as_datetime(journal.get("inactive_since")):
            since = as_datetime(journal.get("inactive_since"))
        old_enough = since is not None and (now - since).total_seconds() >= delete_inactive_after_days * 86400
        if old_enough and key["access_key_id"] not in holders:
            plan["stale_inactive_key_ids"].append(key["access_key_id"])

    if old is None:
        plan["error"] = (
            f"IAM user {user_name!r} has no Active access key ({_describe(keys)}); rotor.iam.rotate rotates an "
            f"existing key. Create one with rotor.iam.access_key_create and distribute it first."
        )
        return plan

    if leaked:
        plan["compromised_key_id"] = leaked[0]
    if old["access_key_id"] in compromised:
        # Incident response: the leaked key goes off first; a host that fails on the new key is not put back on it.
        plan["deactivate_first"] = old["status"] == "Active"
        plan["old_key_disabled"] = True
        plan["reactivate_old"] = False
        plan["due"] = True
        plan["reason"] = (f"key {old['access_key_id']} is compromised (rotor_compromised_key_ids): it is deactivated first, "
                          f"then every host moves to a new key at once; it is never reactivated and is deleted at the end")
        plan["notes"] = [n for n in plan["notes"] if "never reactivated" not in n and "reactivated first" not in n]
        return _finish_slot(plan, keys, old, holders, now, in_use_window_minutes, force, user_name)
    if leaked and leaked[0] not in holders and not resuming:
        # A leaked key the hosts do not run on: it takes the second slot, so it goes, and the fleet's key turns too.
        plan["due"] = True
        plan["reason"] = (f"key {leaked[0]} is compromised (rotor_compromised_key_ids) and no host runs on it: it is deleted "
                          f"to make room, and the hosts' key {old['access_key_id']} is rotated as well")
        plan["free_slot_key_id"], plan["free_slot_force"] = leaked[0], True
        plan["other_key"] = {"access_key_id": leaked[0], "class": "compromised", "action": "delete", "reason": "compromised"}
        return _drop_free_slot_from_stale(plan)
    if policy["exempt"] and not resuming:
        plan["exempt"] = policy["exempt"]
        plan["reason"] = (f"exempt: {policy['exempt']}" + (f" (until {policy['exempt_until']})" if policy["exempt_until"] else "")
                          + " - IAM user tag rotor:exempt")
        return plan
    if policy["exempt"] and resuming:
        plan["notes"].append(f"the user is exempt ({policy['exempt']}), but run {plan['resume']['run_id']} left its rotation "
                             f"half done: it is finished first")
    drifted = sorted(h for h, ids in host_key_ids.items() if old["access_key_id"] not in (ids or []))
    drifted_destinations = [label for label, key_id in sorted(destinations.items()) if key_id != old["access_key_id"]]
    drifted += drifted_destinations
    age = old.get("age_days") or 0
    used_minutes = _minutes_since(old.get("last_used_date"), now)
    fresh = not resuming or bool((plan.get("resume") or {}).get("new_key_gone"))
    if (fresh and not force and old["status"] == "Active" and old["access_key_id"] not in holders and not outside
            and used_minutes is not None and used_minutes < in_use_window_minutes):
        # No host of the inventory holds the key, yet something signed with it just now.
        where = ", ".join(x for x in (old.get("last_used_service"), old.get("last_used_region")) if x)
        plan["error"] = (
            f"IAM user {user_name!r}: its Active key {old['access_key_id']} is held by no host in the inventory, but "
            f"AWS says it was used {used_minutes:.0f} minutes ago{(' (' + where + ')') if where else ''}, within "
            f"rotor_in_use_window_minutes={in_use_window_minutes}: something outside the inventory depends on it, and "
            f"a rotation would retire it. Find what uses it (CloudTrail) and add those hosts to the inventory, check "
            f"rotor_iam_user on the hosts that name {user_name}, or set rotor_force=true if you know it is safe."
        )
        return plan
    if resuming or plan["old_key_disabled"]:
        plan["due"] = True
        if not resuming:
            plan["reason"] = f"the hosts hold key {old['access_key_id']}, which is Inactive: they are moved onto a new key"
    elif force:
        plan["due"], plan["reason"] = True, "rotor_force is set"
    elif age >= max_age_days:
        plan["due"], plan["reason"] = True, f"key {old['access_key_id']} is {age} days old (policy: {max_age_days})"
    elif drifted:
        what = {(True, False): "hosts", (True, True): "hosts and destinations", (False, True): "destinations"}[
            (len(drifted) > len(drifted_destinations), bool(drifted_destinations))]
        plan["due"], plan["reason"] = True, f"{what} not on the current key {old['access_key_id']}: {', '.join(drifted)}"
    else:
        plan["reason"] = f"key {old['access_key_id']} is {age} days old, under the {max_age_days}-day policy"
        return plan

    return _finish_slot(plan, keys, old, holders, now, in_use_window_minutes, force, user_name)


def _finish_slot(plan, keys, old, held, now, in_use_window_minutes, force, user_name):
    """Make room for the new key: IAM holds two keys per user. The resumed or replaced new key is not "another" key."""
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


def _name_owner(plan):
    """Every refusal about a user names its owner (IAM user tag rotor:owner), so the message can be routed."""
    owner, error = plan.get("owner"), plan.get("error")
    if owner and error and f"(owner: {owner})" not in error:
        head = f"IAM user {plan['user_name']!r}"
        plan["error"] = error.replace(head, f"{head} (owner: {owner})", 1) if head in error else f"{error} (owner: {owner})"
    return plan


def unknown_compromised_keys(compromised_key_ids, key_infos):
    """The leaked key ids that belong to no IAM user of this run: reported, never ignored."""
    known = {k["access_key_id"] for info in key_infos for k in info.get("access_keys") or []}
    return sorted(set(split_key_ids(compromised_key_ids)) - known)


def _mark_staged(plan):
    """A due user with hosts outside the play: write the new key to the play's hosts, retire nothing."""
    if plan["due"] and not plan["error"] and plan["hosts_outside_play"]:
        plan["staged"] = True
        if is_incident(plan):
            plan["notes"].append(_incident_staged_note(plan))
            return plan
        plan["notes"].append(
            f"staged: {len(plan['hosts'])} of {len(plan['fleet_hosts'])} hosts of {plan['user_name']}; the old key "
            f"{plan['old_key_id']} stays Active until a run covers all of them (outside this play: "
            f"{', '.join(plan['hosts_outside_play'])})"
        )
    return plan


def seconds_left_to_drain(inactive_since, users, drain_seconds, now=None):
    """The wait until each user's old key has been Inactive ``drain_seconds``; an unknown start waits it all."""
    now = now or utcnow()
    waits = [0]
    for user in users:
        since = as_datetime(inactive_since.get(user))
        elapsed = (now - since).total_seconds() if since else 0
        waits.append(drain_seconds - elapsed)
    return max(0, int(max(waits) + 0.999))


def known_old_key_status(plan):
    """The old key's status the cutover may take as known without listing the keys again (lower case), or None
    when this run changes it before the cutover (a reactivation on resume, an incident's deactivation first)."""
    status = plan.get("old_key_status")
    if not status or plan.get("reactivate_old") or plan.get("deactivate_first"):
        return None
    return status.lower()


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
                  in_use_window_minutes=60, fleet=None, compromised_key_ids=None, destinations=None):
    """Plan every user. ``key_infos``: access_key_info results; ``hosts``: {host: {"user": u, "key_ids": [...]}};
    ``journals``: {user: rotation journal}; ``fleet``: {user: [every inventory host naming the user]};
    ``compromised_key_ids``: leaked keys (incident response for the users that own them);
    ``destinations``: {user: {label: key id or None}}, what each secret destination of the user holds.

    One user's bad state never stops another: a user whose facts cannot be planned is refused, alone.
    """
    journals = journals or {}
    fleet = fleet or {}
    per_user_hosts = {}
    for host, info in hosts.items():
        per_user_hosts.setdefault(info["user"], {})[host] = info.get("key_ids") or []
    unreachable, unread = {}, {}
    for host, info in hosts.items():
        if info.get("reachable") is False:
            unreachable.setdefault(info["user"], []).append(host)
            unread[host] = info.get("unread") or "unreachable"
    plans = {}
    for info in key_infos:
        user = info["user_name"]
        try:
            plans[user] = _mark_staged(plan_user(
                user,
                info["access_keys"],
                per_user_hosts.get(user, {}),
                max_age_days=max_age_days,
                force=force,
                delete_inactive_after_days=delete_inactive_after_days,
                now=now,
                journal=journals.get(user),
                in_use_window_minutes=in_use_window_minutes,
                fleet_hosts=fleet.get(user),
                compromised_key_ids=compromised_key_ids,
                destination_key_ids=(destinations or {}).get(user),
            ))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            plans[user] = refused_user_plan(
                f"IAM user {user!r} cannot be planned: its keys or journal hold a value rotor.iam does not understand "
                f"({type(exc).__name__}: {exc}). Check the user's keys and rotor: tags; the other users are not affected.",
                user_name=user,
            )
            continue
        _name_owner(plans[user])
        plans[user]["old_key_known_status"] = known_old_key_status(plans[user])
        if user in unreachable and plans[user]["due"] and is_incident(plans[user]):
            _incident_goes_on_without(plans[user], unreachable[user])
        elif user in unreachable and plans[user]["due"]:
            plans[user]["error"] = unread_hosts_message(user, {host: unread[host] for host in unreachable[user]})
            _name_owner(plans[user])
    return plans


def unread_hosts_message(user, unread):
    """Why a due user is not rotated when hosts of its ({host: unreachable | failed | not_read}) could not be read."""
    groups = {why: sorted(host for host, reason in unread.items() if reason == why) for why in ("unreachable", "failed", "not_read")}
    parts = [f"hosts {', '.join(groups['unreachable'])} are unreachable"] if groups["unreachable"] else []
    if groups["failed"]:
        parts.append(f"hosts {', '.join(groups['failed'])} could not read their credentials files")
    if groups["not_read"]:
        parts.append(f"hosts {', '.join(groups['not_read'])} failed earlier in this run (their error is shown above: often a "
                     f"rotor_* variable of theirs that is not valid)")
    fix = "Bring them back and run again." if parts and groups["unreachable"] and len(parts) == 1 else "Fix them and run again."
    return (f"cannot rotate IAM user {user!r}: {'; '.join(parts)}, so the key they hold is unknown and retiring the old key "
            f"could cut them off. {fix}")


def is_incident(plan):
    """Whether the user's rotation is incident response for the key its hosts run on (deactivated first)."""
    return bool(plan.get("compromised_key_id")) and plan.get("compromised_key_id") == plan.get("old_key_id") and not plan.get("error")


def _incident_goes_on_without(plan, hosts):
    """Incident response never waits on a host: the leaked key is deactivated whatever the hosts' state.

    Hosts that cannot be reached or read are named; they keep the leaked key (Inactive, never deleted while a
    host may hold it) and the next run that reaches them moves them onto the new key."""
    plan["hosts_unreachable"] = sorted(hosts)
    plan["notes"].append(
        f"hosts {', '.join(sorted(hosts))} cannot be reached or read: the compromised key {plan['old_key_id']} is "
        f"deactivated anyway; they stay on it (Inactive) and are moved onto the new key by the next run that reaches them"
    )


def _incident_staged_note(plan):
    return (f"staged: {len(plan['hosts'])} of {len(plan['fleet_hosts'])} hosts of {plan['user_name']}; the compromised key "
            f"{plan['old_key_id']} is deactivated all the same: the hosts outside this play ({', '.join(plan['hosts_outside_play'])}) "
            f"stay on it, Inactive, until a run reaches them")
