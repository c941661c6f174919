# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private (rotor.iam's rotation engine): the run record and its step function.

One structure holds the whole run, per user: the plan, the new key id, what was deactivated and when, every
failure of every kind, and the outcome. ``start`` makes it from the plan, ``advance(run, event, observations)``
folds in what a phase observed and decides again, ``report(run)`` says what happened. The role loops over the
work lists ``advance`` leaves in ``run["todo"]`` and feeds back what its module calls registered; it decides
nothing itself, and no failure can reach the outcome by one path and miss it by another.

Events and their observations (every key optional; a registered loop is passed as it was registered, by the
role, never looked up by name):

- ``created``: one step of the create phase at a time (create.py): the registered loop of each of its work lists,
  named by the step (``incident``, ``leak_reads``, ``leak_proofs``, ``creating``, ``freed``, ``created``, ``stored``,
  ``recovered``, ``distributing``, ``verified`` with ``verify_timeout``, ``staged``, ``undone``), from which the create
  failures (kinds: ``verify_timeout``, ``connection``, ``permission``, ``stage``, ``create``, ``recovered``), the new key
  ids and this run's leases (``run["leases"]``) are read; also ``failures`` {user: message | {kind, msg}},
  ``new_key_ids`` {user: key id}, ``leases`` {user: lease}, ``destinations`` (rotor_secret_destinations: kept validated,
  each with its user's connection). The create phase undoes its own work once: such a user is ``rolled_back`` and is
  never listed for a second rollback.
- ``destinations``: ``writes`` the registered write loop (items: destinations; key ids kept, failures recorded),
  ``checks`` a registered restart/health-check loop (items: destinations), ``failures`` {user: message}.
- ``batch``: ``now_epoch``, ``renewed_epoch`` (when the locks were last renewed: the role gives the run's start) and ``ttl_minutes``, for the
  batch's lock renewals (``todo.renew_locks``); with the hosts' states, whose hosts may switch (``todo.switch``).
- ``hosts``: ``hosts`` {host: host state} (module_utils/_rotation/hosts.py) after a switch, a re-check, a drain
  check; ``now`` (ISO time) for the drain's wait (``todo.drain_wait``).
- ``secrets_proven``: ``checks`` the registered validity proofs of the backups read (``todo.secret_reads``),
  ``failures`` {user: message}: a user whose old key no backup could prove is rolled back before deactivation.
- ``deactivated``: ``results`` the registered deactivation loop (item = user), ``now`` when it ran, ``journal``
  the registered cutover journal writes (they carry when an earlier run deactivated the key), ``drain_seconds``.
- ``proved``: ``expect`` (invalid | valid), ``checks`` the registered verify loop (or ``failures`` {user: message}):
  deactivations AWS did not confirm roll their user back; reactivations it did not confirm are reported.
- ``released``: ``journal`` the registered journal loops that released users (items: users): ``todo.release``
  is what the run still holds.

``run["notes"]`` holds the lines the last event has to show the operator (destination writes, failed proofs,
backups that could not prove their key): key ids and hosts only.

Failure kinds kept per user: ``create``, ``destination``, ``proof``, ``stopped``, ``reactivation``; host failures
live in the host states.
"""

from __future__ import annotations

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import as_datetime
from ansible_collections.rotor.iam.plugins.module_utils._rotation import create
from ansible_collections.rotor.iam.plugins.module_utils._rotation import destinations as dests
from ansible_collections.rotor.iam.plugins.module_utils._rotation import proofs
from ansible_collections.rotor.iam.plugins.module_utils._rotation.outcome import rotation_outcome
from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan import seconds_left_to_drain
from ansible_collections.rotor.iam.plugins.module_utils.redact import shown_key_id

EVENTS = ("created", "destinations", "batch", "hosts", "secrets_proven", "deactivated", "proved", "released")
CREATE_KINDS = ("verify_timeout", "connection", "permission", "stage", "create", "recovered")


class RunError(ValueError):
    """An event or observation the run record cannot take (a programming error in the role)."""


def _empty_failures():
    return {"create": None, "destination": None, "proof": None, "stopped": None, "reactivation": None}


def start(plans, run_id="", started="", started_epoch=0.0, check_mode=False, old_key_action="delete", new_key_ids=None,
          compromised_not_found=None):
    """The run record of a run that planned ``plans`` ({user: plan}); nothing has happened yet. ``compromised_not_found``:
    the leaked key ids no IAM user of the run owns (key ids as shown), which its report names."""
    new_key_ids = dict(new_key_ids or {})
    users = {}
    for user, plan in dict(plans).items():
        users[user] = {
            "new_key_id": new_key_ids.get(user),  # the key this run made or recovered (none in check mode)
            "deactivated": None,  # {key_id, at, reactivatable} once its old key is Inactive
            "failures": _empty_failures(),
        }
    run = {"run_id": run_id, "started": started, "started_epoch": started_epoch, "check_mode": bool(check_mode),
           "old_key_action": old_key_action, "plans": dict(plans), "users": users, "hosts": {}, "outcome": {}, "todo": {}}
    if compromised_not_found:
        run["compromised_not_found"] = sorted(set(compromised_not_found))
    return _decide(run)


def _failure_message(value):
    if isinstance(value, dict):
        return str(value.get("msg") or "failed")
    return str(value)


def _record(run, kind, failures, keep_first=True):
    for user, value in dict(failures or {}).items():
        entry = run["users"].get(user)
        if entry is None:
            continue
        if keep_first and entry["failures"][kind]:
            continue
        entry["failures"][kind] = _failure_message(value)
        if kind == "create" and isinstance(value, dict) and value.get("kind"):
            entry["failures"]["create_kind"] = str(value["kind"])


def _deactivated(run, results, now, journal):
    recorded = {}
    for result in journal or []:
        item = result.get("item")
        user = item.get("item") if isinstance(item, dict) else item
        when = (result.get("journal") or {}).get("inactive_since")
        if user and when:
            recorded[user] = when
    for result in results or []:
        user = result.get("item")
        entry = run["users"].get(user)
        if entry is None:
            continue
        if result.get("failed"):
            entry["failures"]["stopped"] = str(result.get("msg") or "the key change failed")
            continue
        plan = run["plans"][user]
        at = str(now) if result.get("changed") else recorded.get(user, "")
        entry["deactivated"] = {"key_id": plan.get("old_key_id"), "at": at or recorded.get(user, ""),
                                # a key someone else had disabled is never reactivated by rotor
                                "reactivatable": not plan.get("old_key_disabled")}


def advance(run, event, observations=None):
    """The run after ``event`` with ``observations`` (see the module docstring), decided again, with its work lists."""
    if event not in EVENTS:
        raise RunError(f"unknown event {event!r}: one of {', '.join(EVENTS)}")
    run = dict(run)
    run["users"] = {user: dict(entry, failures=dict(entry["failures"])) for user, entry in run["users"].items()}
    seen = dict(observations or {})
    run["notes"] = []
    if event == "created":
        _record(run, "create", create.fold(run, seen))
        _record(run, "create", seen.get("failures"))
        run["notes"] = create.notes(run, seen)
        for user, key_id in dict(seen.get("new_key_ids") or {}).items():
            if user in run["users"] and key_id:
                run["users"][user]["new_key_id"] = key_id
        if seen.get("leases"):
            run["leases"] = dict(run.get("leases") or {}, **dict(seen["leases"]))
        if seen.get("destinations") is not None:
            run["destinations"] = {"configured": dests.configured(seen["destinations"], run.get("fleet")), "written": []}
    elif event == "destinations":
        _destinations(run, seen)
    elif event == "batch":
        run["batch"] = {"now_epoch": float(seen.get("now_epoch") or 0), "renewed_epoch": float(seen.get("renewed_epoch") or 0),
                        "ttl_minutes": float(seen.get("ttl_minutes") or 0)}
    elif event == "hosts":
        run["hosts"] = dict(run["hosts"], **dict(seen.get("hosts") or {}))
        if seen.get("now"):
            run["now"] = str(seen["now"])
    elif event == "secrets_proven":
        _record(run, "proof", seen.get("failures"))
        if seen.get("checks") is not None:
            found = proofs.proven_secrets(_loop(seen["checks"]))
            run["proven"] = dict(run.get("proven") or {}, **found["proven"])
            _record(run, "proof", found["failures"])
            run["notes"] = [f"{user}: the backup on {', '.join(hosts)} could not prove old key {run['plans'][user].get('old_key_id')}"
                            for user, hosts in found["unproven"].items()]
    elif event == "deactivated":
        _deactivated(run, seen.get("results"), seen.get("now", ""), seen.get("journal"))
        if seen.get("drain_seconds") is not None:
            run["drain_seconds"] = int(seen["drain_seconds"])
    elif event == "proved":
        expect = seen.get("expect")
        if expect not in ("invalid", "valid"):
            raise RunError(f"proved: expect must be invalid or valid, not {expect!r}")
        failures = dict(seen.get("failures") or {})
        if seen.get("checks") is not None:
            failures.update(proofs.proof_failures(_loop(seen["checks"]), expect))
        _record(run, "proof" if expect == "invalid" else "reactivation", failures)
        run["notes"] = [f"{user}: {message}" for user, message in failures.items()]
    elif event == "released":
        done = {r.get("item") for loop in seen.get("journal") or [] for r in _loop(loop) if not r.get("failed") and not r.get("skipped")}
        run["released"] = sorted(set(run.get("released") or []) | {user for user in done if isinstance(user, str)})
    return _decide(run)


def _loop(registered):
    """The results of a registered loop (the register itself or its results)."""
    if isinstance(registered, dict):
        registered = registered.get("results")
    return [r for r in registered or [] if isinstance(r, dict)]


def _destinations(run, seen):
    current = dict(run.get("destinations") or {"configured": [], "written": []})
    if seen.get("writes") is not None:
        records = dests.written(seen["writes"])
        current["written"] = list(current.get("written") or []) + records
        _record(run, "destination", dests.write_failures(records))
        run["notes"] = dests.lines(records, run["check_mode"])
    if seen.get("checks") is not None:
        _record(run, "destination", dests.check_failures(seen["checks"]))
    _record(run, "destination", seen.get("failures"))
    run["destinations"] = current


def _failures_of(run, kind):
    return {user: entry["failures"][kind] for user, entry in run["users"].items() if entry["failures"].get(kind)}


def _decide(run):
    """The outcome from every failure kind at once, and the work lists that follow from it."""
    plans = run["plans"]
    rolled_back_failures = _failures_of(run, "destination")
    rolled_back_failures.update({u: m for u, m in _failures_of(run, "proof").items() if u not in rolled_back_failures})
    stopped = {user: {"msg": msg, "new_key_id": run["users"][user]["new_key_id"]} for user, msg in _failures_of(run, "stopped").items()}
    decided = rotation_outcome(plans, run["hosts"], user_failures=rolled_back_failures, create_failures=_failures_of(run, "create"),
                               stopped=stopped)
    # Check mode does nothing: its outcome is the plan; what the hosts already show (a workflow's finish job) is "would".
    run["outcome"] = planned_outcome(plans) if run["check_mode"] else decided
    if run["check_mode"]:
        run["would"] = decided
    run["todo"] = work_lists(run)
    return run


def planned_outcome(plans):
    """What a check-mode run reports: what would happen per user, nothing done."""
    return {
        user: {"action": "planned" if plan.get("due") and not plan.get("error") else "skip", "failures": [], "switched_hosts": [],
               "unreachable_with_new_key": [], "keep_new_key": False, "message": plan.get("error") or plan.get("reason") or ""}
        for user, plan in dict(plans).items()
    }


PLAN_KINDS = {
    "due": lambda plan: bool(plan.get("due")) and not plan.get("error"),
    "not_due": lambda plan: not plan.get("due") and not plan.get("error"),
    "refused": lambda plan: bool(plan.get("error")),
}


def plan_users(plans, kind="due"):
    """The users (sorted) of the plan of one ``kind``: due (to rotate), not_due (nothing to rotate, not refused),
    refused (the run may not touch them)."""
    if kind not in PLAN_KINDS:
        raise RunError(f"plan users: kind must be one of {', '.join(PLAN_KINDS)}, not {kind!r}")
    return sorted(user for user, plan in dict(plans).items() if PLAN_KINDS[kind](plan or {}))


def users_with(outcome, *actions):
    """The users (sorted) whose outcome is one of ``actions``."""
    return sorted(user for user, entry in dict(outcome or {}).items() if entry.get("action") in actions)


def _active_at_cutover(plan):
    """Is the old key Active when the cutover starts? Not when it was Inactive already (a resumed run, a key disabled
    outside rotor) nor when an incident deactivated it first; yes when a resumed run reactivated it."""
    if plan.get("reactivate_old"):
        return True
    return (plan.get("old_key_status") or "").lower() == "active" and not plan.get("deactivate_first") and not plan.get("old_key_disabled")


def hosts_to_settle(outcome, hosts):
    """{host: {state, backup_files}}: restore the hosts of users rolled back that may hold the new key, remove the backups of
    hosts of users that cut over (their backups hold the old secret)."""
    work = {}
    for host, state in dict(hosts).items():
        entry = dict(outcome).get(state.get("user")) or {}
        action = entry.get("action")
        if action == "rollback" and state.get("wrote") and state.get("state") != "unreachable" and host not in (entry.get("not_restored") or []):
            work[host] = {"state": "restored", "backup_files": state.get("backups") or []}
        elif action == "cutover" and state.get("state") != "unreachable":
            work[host] = {"state": "backups_absent", "backup_files": []}
    return work


def new_keys_to_delete(outcome, hosts):
    """The users rolled back whose new key goes: no host may still hold it (every host that got it was put back, none is
    unreachable with it) and it is not the resumed pending key of a staged rollout."""
    holding = {s.get("user") for s in dict(hosts).values() if s.get("wrote") and not s.get("restored")}
    return [user for user in users_with(outcome, "rollback")
            if not outcome[user].get("unreachable_with_new_key") and not outcome[user].get("keep_new_key") and user not in holding]


def leaked_keys_to_delete(outcome, plans, hosts):
    """[{user, access_key_id}]: compromised keys of users that failed on the new key once every host of theirs holds it."""
    found = []
    for user in users_with(outcome, "failed"):
        plan = plans[user]
        leaked = plan.get("compromised_key_id")
        if leaked and leaked == plan.get("old_key_id") and all((hosts.get(h) or {}).get("wrote") for h in plan.get("hosts") or []):
            found.append({"user": user, "access_key_id": leaked})
    return found


def work_lists(run):
    """What the role does next, from the outcome: every list is of users (sorted) unless said otherwise."""
    outcome, plans, users = run["outcome"], run["plans"], run["users"]
    cutover, rollback = users_with(outcome, "cutover"), users_with(outcome, "rollback")
    deactivated = sorted(u for u, e in users.items() if e["deactivated"])
    not_created = _failures_of(run, "create")
    destination = _failures_of(run, "destination")
    due = plan_users(plans, "due")
    locked = sorted(user for user, plan in plans.items() if (plan or {}).get("locked"))  # the users whose lock this run holds
    proven = dict(run.get("proven") or {})
    prove_secrets = [u for u in cutover if _active_at_cutover(plans[u] or {})]
    prove_deactivated = [u for u in deactivated if u in cutover or u in rollback]
    reactivate = [u for u in rollback if (users[u]["deactivated"] or {}).get("reactivatable")]
    drains = run["old_key_action"] == "delete" and int(run.get("drain_seconds") or 0) > 0
    lists = {
        # From the plan alone: who is rotated (due), who is not (not_due; stale_not_due: their stale Inactive keys, left by
        # a deactivate-only rotation, as [{user, access_key_id}]), who may not be touched (refused).
        "due": due,
        "not_due": plan_users(plans, "not_due"),
        "refused": plan_users(plans, "refused"),
        "locked": locked,
        "stale_not_due": [{"user": user, "access_key_id": key_id} for user in plan_users(plans, "not_due")
                          for key_id in plans[user].get("stale_inactive_key_ids") or []],
        "not_created": not_created,  # {user: message}: no new key to distribute (the create phase undid its work)
        "not_distributed": dict(destination, **not_created),  # {user: message}: no host of theirs takes the new key
        "destination_failed": sorted(destination),
        # The users whose hosts take the new key in this batch: none once a host of the play failed (a failure anywhere
        # stops the later batches); in check mode every due user (the hosts report what would change).
        "switch": switching(run, due, dict(destination, **not_created)),
        "renew_locks": locks_to_renew(run, due, locked),  # before a batch, once half the lock's TTL has passed
        "prove_secrets": prove_secrets,
        # [{user, access_key_id, host, file}]: the backups (up to three hosts per user) whose secret is proven the old key's own
        "secret_reads": proofs.key_proofs(outcome, plans, run["hosts"], "cutover", prove_secrets, 3),
        "deactivate": [u for u in cutover if not users[u]["deactivated"]],
        "prove_deactivated": prove_deactivated,
        # Per proof, the backups still to read (keys no secret was proven for before) and the proofs already made.
        "proofs": {
            "deactivated": _proof_work(run, "cutover", prove_deactivated, proven),
            "reactivated": _proof_work(run, "rollback", reactivate, proven),
        },
        "recheck": cutover,
        "retire": cutover,
        "drain": cutover if drains else [],  # users whose old key stays Inactive rotor_drain_seconds before it goes
        "drain_wait": drain_wait(run, cutover) if drains else 0,  # seconds, as of the last ``now`` the run was given
        "rollback": rollback,
        "reactivate": reactivate,
        "settle": hosts_to_settle(outcome, run["hosts"]),
        "delete_new_keys": new_keys_to_delete(outcome, run["hosts"]),
        "keep_pending": [u for u in rollback if outcome[u].get("keep_new_key")],
        "delete_leaked": leaked_keys_to_delete(outcome, plans, run["hosts"]),
        "inactive_since": inactive_since(run),  # {user: when its old key went Inactive}, for the drain
        "release": [user for user in locked if user not in set(run.get("released") or [])],  # locks the run still holds
    }
    # The create phase's steps, each a list of work items {user, ...} (create.py).
    lists.update(create.work(run))
    # The secret destinations (rotor_secret_destinations): what to write, check, re-check and restore.
    lists.update(dests.work(run.get("destinations"), plans, not_created, cutover, users_with(outcome, "rollback", "failed")))
    return lists


def _proof_work(run, action, users, proven):
    """{read: backups to read, proven: proofs made before the deactivation} for ``users`` whose outcome is ``action``."""
    return {"read": proofs.key_proofs(run["outcome"], run["plans"], run["hosts"], action, [u for u in users if u not in proven]),
            "proven": [proven[u] for u in users if u in proven]}


def switching(run, due, not_distributed):
    """The users whose hosts may take the new key in this batch (see work_lists)."""
    ready = [user for user in due if user not in not_distributed]
    if run["check_mode"]:
        return ready
    if any(state.get("state") in ("failed", "unreachable") for state in run["hosts"].values()):
        return []
    return ready


def locks_to_renew(run, due, locked):
    """The due users whose lock to renew before a batch: those this run holds, once half the lock's TTL has passed since
    it was last renewed, so a long batched rollout never outlives its lock and a short one costs no IAM calls."""
    batch = run.get("batch")
    if not batch or batch["now_epoch"] - batch["renewed_epoch"] < batch["ttl_minutes"] * 60 / 2:
        return []
    return [user for user in due if user in set(locked)]


def drain_wait(run, users):
    """Seconds still to wait until every user's old key has been Inactive the drain period, as of ``run["now"]``."""
    now = as_datetime(run.get("now")) if run.get("now") else None
    return seconds_left_to_drain(inactive_since(run), list(users), int(run.get("drain_seconds") or 0), now=now)


def inactive_since(run):
    """{user: when its old key went Inactive} (what this run did, else what the journal recorded)."""
    return {user: entry["deactivated"]["at"] for user, entry in run["users"].items() if (entry["deactivated"] or {}).get("at")}


def summary(run):
    """Per user (published as C(rotor_rotation)): action, owner, key ids, hosts, failures, message. Key ids only."""
    plans, old_key_action = run["plans"], run["old_key_action"]
    result = {}
    for user, entry in run["outcome"].items():
        plan, record = plans[user], run["users"][user]
        create, reactivation = record["failures"].get("create"), record["failures"].get("reactivation")
        action = entry["action"] if plan.get("due") else ("exempt" if plan.get("exempt") else "skipped")
        if create or action == "rolled_back":
            action = "rollback"
        if action == "cutover":
            old_key = "deleted" if old_key_action == "delete" else "inactive"
        else:
            old_key = "inactive" if plan.get("old_key_disabled") else "active"
        message = create or entry.get("message") or ""
        if reactivation:
            message = f"{message}; {reactivation}" if message else reactivation
        if not message and action in ("skipped", "exempt"):
            message = plan.get("reason") or ""
        owner = plan.get("owner")
        if owner and message and action in ("rollback", "failed") and f"(owner: {owner})" not in message:
            message = f"{message} (owner: {owner})"
        new_id = record["new_key_id"]
        moves = {}
        for host in plan.get("hosts") or []:
            state = run["hosts"].get(host)
            if state is None:
                continue
            held = (state.get("key_ids") or [None])[0]
            moved = state.get("wrote") and not state.get("restored") and new_id is not None
            moves[host] = {"held": shown_key_id(held), "moved_to": shown_key_id(new_id) if moved else None,
                           "moved_at": state.get("moved_at") if moved else None}
        result[user] = {
            "action": action, "owner": owner, "reason": plan.get("reason") or "", "exempt": plan.get("exempt"),
            "exempt_until": plan.get("exempt_until"), "max_age_days": plan.get("max_age_days"),
            "compromised_key_id": shown_key_id(plan.get("compromised_key_id")), "old_access_key_id": shown_key_id(plan.get("old_key_id")),
            "new_access_key_id": shown_key_id(new_id), "old_key": old_key, "hosts": plan.get("hosts") or [],
            "hosts_outside_play": plan.get("hosts_outside_play") or [],
            "hosts_switched": (entry.get("switched_hosts") or []) if action in ("cutover", "staged", "failed") else [],
            "resumed_run": (plan.get("resume") or {}).get("run_id"), "failures": entry.get("failures") or [],
            "error": plan.get("error"), "host_moves": moves, "message": message,
        }
    return result


def failure_message(rotation, hosts=None):
    """The message that fails a run in which users were rolled back, failed or stopped; empty when none did."""
    unrestored = {host: str(state["restore_failure"]) for host, state in sorted(dict(hosts or {}).items()) if state.get("restore_failure")}
    refused = sorted(user for user, entry in rotation.items() if entry.get("error"))
    rolled = sorted(user for user, entry in rotation.items() if entry["action"] == "rollback")
    stuck = sorted(user for user, entry in rotation.items() if entry["action"] == "failed")
    stopped = sorted(user for user, entry in rotation.items() if entry["action"] == "stopped")
    parts = [f"Rotation of {user} {rotation[user]['message'].rstrip('.')}." for user in stopped]
    if rolled:
        parts.append(f"Rotation of {', '.join(rolled)} rolled back: " + "; ".join(rotation[u]["message"].rstrip(".") for u in rolled) + ".")
        if unrestored:
            parts.append("Each old key is Active again; these hosts could NOT be put back and need attention: "
                         + "; ".join(f"{host} ({why.rstrip('.')})" for host, why in unrestored.items()) + ".")
        else:
            parts.append("Each old key is Active again and every reachable host is back on it.")
    if stuck:
        parts.append(f"Rotation of {', '.join(stuck)} failed on hosts that cannot go back: " + "; ".join(rotation[u]["message"].rstrip(".") for u in stuck)
                     + ". Fix those hosts (they hold the new key) and run the rotation again to finish.")
    if refused:
        parts.append("Not rotated: " + "; ".join(str(rotation[u]["error"]).rstrip(".") for u in refused) + ".")
    return " ".join(parts)


def run_summary(rotation, run, finished=None, now_epoch=None, compromised_not_found=None):
    """The run as a whole (published as C(rotor_rotation_run)): which users rotated, failed, were staged or skipped."""
    def users(*actions):
        return sorted(user for user, entry in rotation.items() if entry["action"] in actions)

    return {
        "run_id": run["run_id"], "started": run["started"], "finished": finished,
        "duration_seconds": round(float(now_epoch or 0) - float(run["started_epoch"] or 0), 1) if now_epoch else None,
        "users_rotated": users("cutover"), "users_staged": users("staged"), "users_failed": users("rollback", "failed", "stopped"),
        "users_skipped": users("skipped"), "users_exempt": users("exempt"),
        "hosts_switched": sorted({host for entry in rotation.values() for host in entry.get("hosts_switched") or []}),
        "compromised_keys_not_found": sorted(set(shown_key_id(k) for k in compromised_not_found or [])),
        "check_mode": run["check_mode"],
    }


def report(run, finished=None, now_epoch=None, compromised_not_found=None):
    """{rotation, run, message}: the per-user summary, the run's summary and the message that fails the run ('' if none)."""
    rotation = summary(run)
    compromised_not_found = compromised_not_found or run.get("compromised_not_found")  # the plan step records them in the run
    return {"rotation": rotation, "run": run_summary(rotation, run, finished, now_epoch, compromised_not_found),
            "message": failure_message(rotation, run["hosts"])}


__all__ = ["start", "advance", "report", "EVENTS", "CREATE_KINDS", "RunError"]
