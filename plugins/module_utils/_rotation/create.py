# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private (rotor.iam's rotation engine): the create phase of a run, its work lists and what its loops registered.

The role runs each list (one task, a loop over ``todo``) and hands what the loop registered back to
``run.advance(run, "created", {step: register})``, one step at a time, in the order of ``STEPS``. Here the registers
are read for key ids, failures and leases only; the secrets in them are never copied (the role keeps them in its one
fact of secrets, built from the same registers). A user that fails a step fails alone, with the kind and message of
that step, and leaves every later list; a key this run made for it is deleted and its journal rolled back once
(``undo_keys``, ``undo_journal``): a user the undo step was run for is never listed for it again.
"""

from __future__ import annotations

import re

# The registered loops the create phase hands back, in the order the role runs them.
STEPS = ("incident", "leak_reads", "leak_proofs", "creating", "freed", "created", "stored", "recovered", "distributing", "verified",
         "staged", "undone")
_PERMISSION = re.compile("AccessDenied|UnauthorizedOperation")


def user_of(result):
    """The user a registered loop result is for (its item is the user, or a work item naming it)."""
    item = result.get("item")
    return item.get("user") if isinstance(item, dict) else item


def results(registered):
    """The results of a registered loop (the register itself or its results)."""
    if isinstance(registered, dict):
        registered = registered.get("results")
    return [r for r in registered or [] if isinstance(r, dict)]


def _ok(result):
    return not result.get("failed") and not result.get("skipped")


def _mark(entry, step):
    entry["steps"] = sorted(set(entry.get("steps") or []) | {step})  # a new list: the record before this one keeps its own


def _done(entry, step):
    return step in (entry.get("steps") or [])


def _no_key_failure(result):
    """A refused write before a key existed (the journal, DeleteAccessKey, CreateAccessKey): no host was touched."""
    kind = "permission" if _PERMISSION.search(str(result.get("error_code") or "")) else "create"
    return {"kind": kind, "msg": f"no new key could be made ({result.get('msg', 'a step failed')}), so no host was touched"}


def _key_failure(plan, kind, new_key_id, msg, verify_timeout):
    """The new key failed after it was made (not accepted in time, STS unreachable, not staged), or a recovered key failed."""
    if plan.get("new_key_id"):
        holders = plan.get("new_key_holders") or []
        if holders:
            return {"kind": "recovered", "msg": f"the new key {plan['new_key_id']} recovered from {', '.join(holders)} is not accepted by "
                                                f"AWS ({msg}); the hosts holding it need attention"}
        # Recovered from Secrets Manager (rotor_pending_store): no host of the inventory holds it.
        return {"kind": "recovered", "msg": f"the new key {plan['new_key_id']} recovered from Secrets Manager (rotor_pending_store) is "
                                            f"not accepted by AWS ({msg}); no host of the inventory holds it"}
    why = {
        "stage": f"the pending secret of the new key {new_key_id} could not be stored in Secrets Manager (rotor_pending_store), so the key "
                 f"was deleted and no host was touched ({msg})",
        "connection": f"AWS STS could not be reached to verify the new key {new_key_id} (connection error, not a propagation delay), so it "
                      f"was deleted and no host was touched ({msg})",
        "verify_timeout": f"the new key {new_key_id} was not accepted by AWS within rotor_verify_timeout={verify_timeout}s, so it was "
                          f"deleted and no host was touched ({msg})",
    }
    return {"kind": kind, "msg": why[kind]}


def fold(run, seen):
    """Read the registers of ``seen`` ({step: register}) into ``run`` (a copy the caller owns, its user entries copied):
    returns the create failures found, {user: {kind, msg}}, for the caller to record (the first failure of a user stays)."""
    plans, users = run["plans"], run["users"]
    leases = dict(run.get("leases") or {})
    failures = {}

    def each(step):
        for result in results(seen.get(step)):
            user = user_of(result)
            if user in users and user not in failures:
                yield user, users[user], plans[user], result

    for user, entry, plan, result in each("incident"):
        if _ok(result) and "lease" in result:
            leases[user] = result["lease"]
    for user, entry, plan, result in each("leak_reads"):
        if _ok(result) and result.get("access_key_id") == plan.get("old_key_id"):
            _mark(entry, "leak_read")
    for user, entry, plan, result in each("leak_proofs"):
        if _ok(result):
            _mark(entry, "leak_rejected")
    for step in ("creating", "freed", "created"):
        for user, entry, plan, result in each(step):
            if result.get("failed"):
                failures[user] = _no_key_failure(result)
            elif step == "creating" and not result.get("skipped"):
                _mark(entry, "journaled")
                if "lease" in result:
                    leases[user] = result["lease"]
            elif step == "created" and result.get("access_key_id"):
                entry["new_key_id"] = result["access_key_id"]
                _mark(entry, "created")
    for step in ("stored", "recovered"):
        for user, entry, plan, result in each(step):
            # A secret not stored (or for another key) is read back from a host (todo.read_back).
            if _ok(result) and (step == "recovered" or result.get("exists")):
                entry["new_key_id"] = plan.get("new_key_id")
                _mark(entry, step)
    for user, entry, plan, result in each("distributing"):
        if _ok(result) and "lease" in result:
            leases[user] = result["lease"]
    if "distributing" in seen and not run["check_mode"]:
        # The later writes under the lease (completion) are judged on the journal as the create phase left it.
        for user in _with_key(run):
            leases.setdefault(user, plans[user].get("lease"))
    for step in ("verified", "staged"):
        for user, entry, plan, result in each(step):
            if result.get("failed"):
                kind = "stage" if step == "staged" else "connection" if result.get("error_code") == "ConnectionError" else "verify_timeout"
                failures[user] = _key_failure(plan, kind, entry.get("new_key_id"), result.get("msg", ""), seen.get("verify_timeout"))
            elif step == "verified" and _ok(result):
                _mark(entry, "verified")
    for user, entry, plan, result in each("undone"):
        if not result.get("skipped"):
            _mark(entry, "undone")  # tried once, whatever it answered: never listed again
    if leases:
        run["leases"] = leases
    return failures


def _failed(entry):
    return bool(entry["failures"].get("create"))


def _due(run):
    return sorted(user for user, plan in run["plans"].items() if (plan or {}).get("due") and not (plan or {}).get("error"))


def _with_key(run):
    """The due users that have a new key in hand: made by this run, or resumed (the plan names it; not in check mode)."""
    users, plans = run["users"], run["plans"]
    return [user for user in _due(run) if not _failed(users[user])
            and (_done(users[user], "created") or (plans[user].get("new_key_id") and not run["check_mode"]))]


def lease(run, user):
    """This run's lease on the user's lock after its last journal write (the plan's until the run wrote one)."""
    leases = run.get("leases") or {}
    return leases[user] if user in leases else run["plans"][user].get("lease")


def _slot_keys(plan):
    return [key for key in (plan.get("replace_key_id"), plan.get("free_slot_key_id")) if isinstance(key, str) and key]


def notes(run, seen):
    """The lines the step of ``seen`` shows: the compromised keys taken out, or the new key of each due user."""
    plans, users = run["plans"], run["users"]
    if "leak_proofs" in seen:
        return [f"{user}: {plans[user].get('old_key_id')} is Inactive"
                + (" and AWS rejects it" if _done(users[user], "leak_rejected") else
                   " (AWS did not yet confirm that it rejects it within rotor_verify_timeout; it stays Inactive and is deleted at the end)")
                + "; moving every host to a new key" for user in _incident(run)]
    if "distributing" in seen:
        lines = []
        for user in _due(run):
            plan, entry = plans[user], users[user]
            if _failed(entry):
                continue
            if plan.get("new_key_id"):
                source = "Secrets Manager" if _done(entry, "stored") else (plan.get("new_key_holders") or ["a host"])[0]
                lines.append(f"{user}: recovered {plan['new_key_id']} from {source}")
            else:
                lines.append(f"{user}: created {entry.get('new_key_id') or '(check mode: no key)'}")
        return lines
    return []


def _incident(run):
    """The due users whose compromised key is taken out of service before anything else (not in check mode)."""
    if run["check_mode"]:
        return []
    return [user for user in _due(run) if run["plans"][user].get("deactivate_first")]


def work(run):
    """The create phase's work lists, each of work items {user, ...} (sorted by user), in the order the role runs them."""
    plans, users, check_mode = run["plans"], run["users"], run["check_mode"]
    due = _due(run)
    live = [user for user in due if not _failed(users[user])]
    fresh = [user for user in live if not plans[user].get("new_key_id")]  # a new key is made
    resumed = [] if check_mode else [user for user in live if plans[user].get("new_key_id")]  # the pending key is recovered
    incident = _incident(run)
    with_key = _with_key(run)
    undo = [user for user in due if _failed(users[user]) and not plans[user].get("new_key_id") and not _done(users[user], "undone")]
    not_due = [user for user, plan in sorted(plans.items()) if not (plan or {}).get("due") and not (plan or {}).get("error")]
    return {
        # Stale Inactive keys (left by a deactivate-only rotation) of every user the run may touch, under the plan's lease.
        "stale_keys": [{"user": user, "access_key_id": key_id, "lease": plans[user].get("lease")}
                       for user in sorted(not_due + due) for key_id in plans[user].get("stale_inactive_key_ids") or []],
        "reactivate_old": [{"user": user, "access_key_id": plans[user].get("old_key_id"), "lease": plans[user].get("lease")}
                           for user in due if plans[user].get("reactivate_old")],
        # Incident response: journal, deactivate, read the key back from a host that runs on it, prove AWS rejects it.
        "incident": [{"user": user, "access_key_id": plans[user].get("old_key_id"), "lease": plans[user].get("lease")} for user in incident],
        "leak_reads": [dict(plans[user]["old_key_holder"], user=user) for user in incident
                       if (plans[user].get("old_key_holder") or {}).get("host")],
        "leak_proofs": [{"user": user, "access_key_id": plans[user].get("old_key_id")} for user in incident if _done(users[user], "leak_read")],
        # A new key: journal "creating" (under the latest lease), free the second slot, create.
        "creating": [{"user": user, "current_key_id": plans[user].get("old_key_id"), "lease": lease(run, user)} for user in fresh],
        "free_slots": [{"user": user, "access_key_id": key_id, "lease": plans[user].get("lease"),
                        "force": key_id == plans[user].get("replace_key_id") or bool(plans[user].get("free_slot_force"))}
                       for user in fresh if _done(users[user], "journaled") for key_id in _slot_keys(plans[user])],
        # Check mode deletes nothing: a slot it would free is still taken, and the create would refuse.
        "create": [{"user": user} for user in fresh if _done(users[user], "journaled") and not (check_mode and _slot_keys(plans[user]))],
        # A resumed pending key: its secret from Secrets Manager (rotor_pending_store), else from a host that holds it.
        "recover": [{"user": user, "access_key_id": plans[user]["new_key_id"]} for user in resumed],
        "read_back": [dict(plans[user].get("new_key_holder") or {}, user=user, access_key_id=plans[user]["new_key_id"]) for user in resumed
                      if not _done(users[user], "stored")],
        # Journal "distributing" with the new key; a run resumed in cutover after deactivating the old key stays there.
        "distributing": [] if check_mode else [
            {"user": user, "pending_key_id": users[user].get("new_key_id") or plans[user].get("new_key_id"), "lease": lease(run, user)}
            for user in with_key if not ((plans[user].get("resume") or {}).get("phase") == "cutover" and not plans[user].get("reactivate_old")
                                         and plans[user].get("new_key_id"))],
        "verify": [] if check_mode else [
            {"user": user, "access_key_id": users[user].get("new_key_id") or plans[user].get("new_key_id")} for user in with_key],
        "stage": [{"user": user, "access_key_id": users[user].get("new_key_id")} for user in with_key if _done(users[user], "verified")],
        # Undone once: the key this run made and no host holds, and the journal this run wrote.
        "undo_keys": [{"user": user, "access_key_id": users[user]["new_key_id"]} for user in undo if _done(users[user], "created")],
        "undo_journal": [{"user": user} for user in undo if _done(users[user], "journaled")],
    }


__all__ = ["STEPS", "fold", "work", "notes", "lease", "results", "user_of"]
