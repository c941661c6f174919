# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private (rotor.iam's rotation engine): what happens to each user after a phase, from its plan and its hosts' states."""

from __future__ import annotations

from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan import is_incident
from ansible_collections.rotor.iam.plugins.module_utils._rotation.quiet import STOP_PREFIX as QUIET_GATE_STOP


def stopped_message(user, plan, new_key_id, hosts, failure):
    """What a user whose key change failed after distribution is left with, and the commands that finish or undo it."""
    if str(failure).startswith(QUIET_GATE_STOP):
        return str(failure)  # the quiet-key gate's message says what is left and how to go on
    old = plan.get("old_key_id")
    on_new = sorted(h for h, s in hosts.items() if s.get("wrote") and s.get("state") != "unreachable")
    on_old = sorted(h for h in hosts if h not in on_new)
    held = "; ".join(part for part in (f"{', '.join(on_new)} hold the new key {new_key_id}" if on_new else "",
                                       f"{', '.join(on_old)} still hold {old}" if on_old else "") if part)
    return (f"stopped after distribution: {str(failure).rstrip('.')}. State left: the old key {old} and the new key {new_key_id} are "
            f"both Active; {held or 'no host holds either'}; the journal records the rotation as distributing, so nothing is broken. "
            f"To finish: fix the cause and run the rotation again (ansible-playbook rotor.iam.rotate with the same inventory): it "
            f"resumes from the journal and retires {old}. To undo instead: put those hosts back on {old} (their backups hold it), then "
            f"delete {new_key_id} (rotor.iam.access_key_delete user_name={plan.get('user_name') or user} access_key_id={new_key_id} "
            f"force=true) and clear the journal (rotor.iam.rotation_journal state=absent)")


def rotation_outcome(plans, host_states, user_failures=None, create_failures=None, stopped=None):
    """Per user, what the cutover phase may do, from each host's state after distribution.

    ``host_states``: {host: {"user": u, "state": untouched|written|healthy|failed|unreachable, "failure": {...}}}
    States: ``written`` = the new key is in its files but the host is not proven healthy.
    ``user_failures``: {user: message} for steps that failed for the user as a whole (a key change AWS did
    not confirm in time); such a user is rolled back.
    ``create_failures``: {user: message} for users whose create phase failed (the new key not accepted in time, its
    secret not staged, a connection or permission error) before any host had the new key. The create phase already
    deleted the key it made and closed the journal (roles/rotate/tasks/create.yml): such a user is
    ``rolled_back``, with nothing left to undo. A recovered key (a resumed run, hosts hold it) is not the create
    phase's to delete: that user is rolled back like any other failure.
    Returns {user: {"action": ..., "failures": [...], "switched_hosts": [...], "unreachable_with_new_key": [...],
    "keep_new_key": bool, "message": str}}. Actions:

    - ``cutover``: every host of the user is healthy on the new key; retire the old key.
    - ``staged``: every host of this play is healthy on the new key, but the user has hosts outside the play:
      the old key stays Active, the new key stays pending for a later run.
    - ``rollback``: put the hosts back on the old key (reactivated if it was deactivated); delete the new key
      unless ``keep_new_key`` (hosts outside the play may hold it).
    - ``failed``: hosts failed on the new key, but the old key was disabled by someone else: nothing is rolled
      back onto it; the hosts stay on the new key and are reported.
    - ``rolled_back``: the create phase failed and undid its work; nothing is left to undo (no second rollback).
    - ``stopped``: a key change after distribution failed (``stopped``: {user: {msg, new_key_id}}, e.g. UpdateAccessKey
      denied): both keys stay Active, the hosts stay where they are, and the message states that and how to go on.
    - ``skip``: nothing to do.
    """
    user_failures = dict(user_failures or {})
    create_failures = create_failures or {}
    # A key this run made and the create phase deleted again leaves nothing to undo, whatever else failed since; a
    # recovered key (a resumed run's) is not the create phase's to delete: its user is rolled back like any other.
    undone = {user for user in create_failures if user in plans and not plans[user].get("new_key_id")}
    for user, message in create_failures.items():
        if user not in undone:
            user_failures.setdefault(user, message)
    outcome = {}
    for user, plan in plans.items():
        hosts = {h: s for h, s in host_states.items() if s.get("user") == user}
        entry = {"action": "skip", "failures": [], "switched_hosts": [], "unreachable_with_new_key": [], "message": "",
                 "keep_new_key": False}
        if not plan.get("due") or plan.get("error"):
            outcome[user] = entry
            continue
        if user in (stopped or {}):
            failure = stopped[user]
            entry.update(action="stopped", failures=[{"host": None, "check": "key change", "msg": str(failure.get("msg"))}],
                         switched_hosts=sorted(h for h, s in hosts.items() if s.get("wrote")),
                         message=stopped_message(user, plan, failure.get("new_key_id"), hosts, failure.get("msg")))
            outcome[user] = entry
            continue
        if user in undone:
            entry.update(action="rolled_back", message=str(create_failures[user]),
                         failures=[{"host": None, "check": "new key", "msg": str(create_failures[user])}])
            outcome[user] = entry
            continue
        entry["switched_hosts"] = sorted(h for h, s in hosts.items() if s.get("state") in ("written", "healthy", "failed") and s.get("wrote"))
        entry["unreachable_with_new_key"] = sorted(h for h, s in hosts.items() if s.get("state") == "unreachable" and s.get("wrote"))
        entry["failures"] = [dict(s["failure"], host=h) for h, s in sorted(hosts.items()) if s.get("failure")]
        if user in user_failures:
            entry["failures"].insert(0, {"host": None, "check": "key change", "msg": user_failures[user]})
        healthy = all(s.get("state") == "healthy" for s in hosts.values()) and user not in user_failures
        # A resumed pending key may be held by hosts outside the play: only a key made by this run may be deleted.
        entry["keep_new_key"] = bool(plan.get("staged") and plan.get("new_key_id"))
        # A host that held a key IAM no longer has is never restored onto it: it keeps the new key (holders.py).
        not_restored = sorted(set(plan.get("broken_hosts") or []) & set(entry["switched_hosts"]))
        if not_restored:
            entry.update(not_restored=not_restored, keep_new_key=True)
        # A user whose key lives only in secret destinations has no host: their writes and checks (user_failures) judge it.
        if healthy and (hosts or plan.get("destinations")):
            entry["action"] = "staged" if plan.get("staged") else "cutover"
            if plan.get("staged") and is_incident(plan):
                entry["message"] = (f"staged: {len(hosts)} of {len(plan.get('fleet_hosts') or hosts)} hosts of {user} run on the "
                                    f"new key; the compromised key {plan.get('old_key_id')} is Inactive and the hosts outside this "
                                    f"play stay on it until a run covers them")
            elif plan.get("staged"):
                entry["message"] = (f"staged: {len(hosts)} of {len(plan.get('fleet_hosts') or hosts)} hosts of {user} run on the "
                                    f"new key; the old key {plan.get('old_key_id')} stays Active until a run covers all of them")
            outcome[user] = entry
            continue
        entry["action"] = "failed" if plan.get("old_key_disabled") else "rollback"
        if entry["failures"]:
            first = entry["failures"][0]
            where = f"host {first['host']} failed" if first.get("host") else "failed:"
            check, msg = first.get("check", "a step"), first.get("msg", "")
            if first.get("host") and msg.startswith(f"{check} failed "):
                # The host's message names its check already ("HTTP health check URL failed after 3 attempt(s): ..."): once.
                msg = msg[len(check) + len(" failed "):]
                entry["message"] = f"{where} {check} {msg}"
            else:
                entry["message"] = f"{where} {check}: {msg}".replace("failed: key change:", "failed:")
        else:
            pending = sorted(h for h, s in hosts.items() if s.get("state") != "healthy")
            entry["message"] = "rollout stopped by a failure elsewhere before these hosts switched: " + ", ".join(pending)
        if entry.get("not_restored"):
            entry["message"] += (f"; {', '.join(entry['not_restored'])} held a key IAM no longer has before the run: "
                                 f"not restored onto it, they stay on the new key, which is kept")
        if entry["action"] == "failed":
            entry["message"] += (f"; the old key {plan.get('old_key_id')} was disabled outside rotor.iam, so no host is "
                                 f"rolled back onto it: the hosts stay on the new key")
        outcome[user] = entry
    return outcome
