# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private (rotor.iam's rotation engine): the rotation as separate jobs (an AWX workflow): which IAM users a distribute or finish job acts for.

rotor.iam.rotate_prepare plans, locks, creates, verifies and stages the new key under a run id
(``rotor_run_id``); rotor.iam.rotate_distribute (one job per inventory slice) and rotor.iam.rotate_finish
act only for the users whose journal that run id wrote. Each job reads every user's journal first
(rotation_journal state=read) and this module says, per user, what the job may do:

- ``in_run``: the journal belongs to the run and is in a phase the job acts on;
- ``skipped``: not part of the run (never rotated by it, or done with), with a note;
- ``errors``: the journal belongs to another run that is still in progress or holds the lock: the job
  refuses, naming both run ids, before it changes anything.
"""

from __future__ import annotations

IN_PROGRESS = ("creating", "distributing", "cutover", "rolling_back")


class WorkflowRunError(ValueError):
    """Input that is not what the role passes (a programming error, not a refusal)."""


def _journal_of(result):
    if not isinstance(result, dict):
        raise WorkflowRunError(f"a journal read result must be a dict, not {type(result).__name__}")
    return result.get("journal") if isinstance(result.get("journal"), dict) else {}


def check_run(journal_results, run_id, phases=("distributing",), require_lock=True, job="distribute"):
    """Per user (the C(item) of each read result): in the run, skipped, or a refusal naming both run ids.

    ``phases``: the journal phases the job acts on (distribute: distributing; finish: distributing, cutover,
    rolling_back). ``require_lock``: the run must still hold the user's lock (distribute: it takes no lock of
    its own, so a lock that expired or passed to another run means the workflow lost the user).
    Returns {in_run: [ref], skipped: {ref: note}, errors: [message], journals: {ref: journal}}.
    """
    run_id = str(run_id or "").strip()
    if not run_id:
        raise WorkflowRunError("run_id is empty")
    in_run, skipped, errors, journals = [], {}, [], {}
    for result in journal_results or []:
        ref = str((result or {}).get("item") or "") if isinstance(result, dict) else ""
        if not ref:
            raise WorkflowRunError("a journal read result has no item (the user it was read for)")
        if result.get("failed"):
            errors.append(f"IAM user {ref!r}: its journal could not be read ({result.get('msg') or 'failed'}); the {job} job of run "
                          f"{run_id} changes nothing. Fix the access to the user and run the job again.")
            continue
        journal = _journal_of(result)
        journals[ref] = journal
        theirs = str(journal.get("run_id") or "")
        phase = journal.get("phase")
        lock = journal.get("lock") if isinstance(journal.get("lock"), dict) else None
        lock_run = str((lock or {}).get("run_id") or "")
        live_lock = bool(lock) and not lock.get("expired")
        if journal.get("problems"):
            errors.append(f"IAM user {ref!r}: its journal has malformed tags ({', '.join(str(p.get('tag')) for p in journal['problems'])}); "
                          f"the {job} job of run {run_id} changes nothing. See docs/journal.md.")
            continue
        if live_lock and lock_run != run_id:
            errors.append(f"IAM user {ref!r}: this {job} job is run {run_id}, but the user's lock belongs to run {lock_run} "
                          f"(until {lock.get('expires')}). A {job} job acts only for the run its prepare job started: run it "
                          f"with rotor_run_id={lock_run}, or let run {lock_run} finish first.")
            continue
        if theirs != run_id:
            if journal.get("in_progress") or phase in IN_PROGRESS:
                errors.append(f"IAM user {ref!r}: this {job} job is run {run_id}, but the journal belongs to run {theirs or '(none)'} "
                              f"(phase {phase}). A {job} job acts only for the run its prepare job started: run it with "
                              f"rotor_run_id={theirs}, or finish or roll back run {theirs} first (rotor.iam.rotate resumes it).")
            else:
                skipped[ref] = f"{ref}: not part of run {run_id} (journal: run {theirs or '(none)'}, phase {phase or '(none)'}): nothing to do"
            continue
        if phase not in phases:
            skipped[ref] = f"{ref}: run {run_id} is in phase {phase or '(none)'}, not {' or '.join(phases)}: nothing for the {job} job to do"
            continue
        if require_lock and not (lock and lock_run == run_id and not lock.get("expired")):
            errors.append(f"IAM user {ref!r}: run {run_id} no longer holds the user's lock "
                          + (f"(it expired at {lock.get('expires')})" if lock else "(it was released)")
                          + f"; the {job} job changes nothing. Give the workflow a longer rotor_lock_ttl_minutes, and run "
                          f"rotor.iam.rotate_finish with rotor_run_id={run_id} to cut over or roll back.")
            continue
        in_run.append(ref)
    return {"run_id": run_id, "in_run": sorted(in_run), "skipped": dict(sorted(skipped.items())), "errors": errors, "journals": journals}


def slice_plan(check):
    """The plan a distribute job passes to the role's distribute step: the users of the run are due, others not."""
    plans = {ref: {"due": True, "error": None} for ref in check.get("in_run") or []}
    plans.update({ref: {"due": False, "error": None, "reason": note} for ref, note in (check.get("skipped") or {}).items()})
    return plans


def _pending_reads(check, reads):
    by_ref = {}
    for result in reads or []:
        if isinstance(result, dict) and result.get("item"):
            by_ref[str(result["item"])] = result
    for ref in check.get("in_run") or []:
        pending = str((check.get("journals", {}).get(ref) or {}).get("pending_key_id") or "")
        result = by_ref.get(ref) or {}
        if result.get("failed") or not result.get("exists") or not result.get("secret_access_key"):
            why = str(result.get("msg") or "it is not in Secrets Manager")
            yield ref, pending, None, (f"IAM user {ref!r}: the pending secret of key {pending or '(none)'} could not be read ({why}); "
                                       f"this job writes nothing. Check rotor_pending_store_prefix and the job's Secrets Manager access.")
        elif str(result.get("access_key_id") or "") != pending:
            yield ref, pending, None, (f"IAM user {ref!r}: Secrets Manager holds key {result.get('access_key_id')}, but the journal's "
                                       f"pending key is {pending}; this job writes nothing.")
        else:
            yield ref, pending, result["secret_access_key"], None


def pending_keys(check, reads):
    """{ref: {access_key_id, secret_access_key}} of the users of the run whose staged secret is the journal's
    pending key, from pending_secret state=read results (each with C(item) the ref)."""
    return {ref: {"access_key_id": key_id, "secret_access_key": secret}
            for ref, key_id, secret, error in _pending_reads(check, reads) if not error}


def pending_key_errors(check, reads):
    """Why the staged secret of a user of the run cannot be used: messages that name the user and key ids only."""
    return [error for _ref, _key_id, _secret, error in _pending_reads(check, reads) if error]


def workflow_users(plans, new_keys, create_errors):
    """What a prepare job publishes for the next jobs, and what it says and refuses.

    Returns {users: {ref: {prepared, old_key_id, new_key_id, hosts, message}}, lines: [str], refusals: [str]}:
    C(refusals) names the users that were due (or refused by the plan) but got no new key.

    A due user without an error and without a new key is a check-mode run (a real run that cannot make or
    recover the key fails at that step, or records an error): its line says what the run would stage."""
    users, lines, refusals = {}, [], []
    for ref, plan in sorted(dict(plans or {}).items()):
        plan = dict(plan or {})
        new_key_id = (dict(new_keys or {}).get(ref) or {}).get("access_key_id")
        error = (create_errors or {}).get(ref) or plan.get("error")
        prepared = bool(plan.get("due") and not error and new_key_id)
        message = str(error or plan.get("reason") or "")
        users[ref] = {"prepared": prepared, "old_key_id": plan.get("old_key_id"), "new_key_id": new_key_id if prepared else None,
                      "hosts": sorted(plan.get("hosts") or []), "message": message}
        if prepared:
            lines.append(f"{ref}: new key {new_key_id} staged for {len(users[ref]['hosts'])} hosts (old key {plan.get('old_key_id')})")
        elif error:
            refusals.append(f"IAM user {ref!r} was not prepared: {message}")
            lines.append(f"{ref}: not prepared - {message}")
        elif plan.get("due"):
            hosts = len(users[ref]["hosts"])
            planned = (f"would stage the new key {plan['new_key_id']} recovered from a host" if plan.get("new_key_id")
                       else "would make a new key")
            lines.append(f"{ref}: {planned} for {hosts} hosts (old key {plan.get('old_key_id')}; check mode: none made) - {message}")
        else:
            lines.append(f"{ref}: nothing to do - {message}")
    return {"users": users, "lines": lines, "refusals": refusals}


def slice_result(check, host_states, run_id=None, check_mode=False, host_files=None):
    """What a distribute job did, from the role's host states (module_utils/rotation_state.py): the hosts that run
    healthy on the new key, those that failed (with the check and message), those left untouched, and a message.

    In check mode nothing was written: no host is C(switched); C(would_switch) names the hosts the real job would
    move to the run's new key, and C(lines) says so per host with key ids and paths (``host_files``: {host: [path]})."""
    in_run = set(check.get("in_run") or [])
    switched, failed, untouched = [], {}, []
    for host, state in sorted(dict(host_states).items()):
        if state.get("user") not in in_run:
            continue
        if state.get("state") == "healthy":
            switched.append(host)
        elif state.get("state") in ("failed", "unreachable"):
            failure = state.get("failure") or {}
            failed[host] = f"{failure.get('check') or 'switch'}: {failure.get('msg') or 'failed'}"
        else:
            untouched.append(host)
    would_switch, lines = [], []
    if check_mode:
        would_switch, switched = switched, []
        for host in would_switch:
            ref = dict(host_states)[host].get("user")
            journal = (check.get("journals") or {}).get(ref) or {}
            paths = ", ".join(str(path) for path in (host_files or {}).get(host) or []) or "(no file)"
            lines.append(f"{host}: would switch to the new key {journal.get('pending_key_id') or '(none)'} of {ref} (run {run_id}; "
                         f"the run's old key {journal.get('current_key_id') or '(none)'}) in {paths}")
        lines += [f"{host}: would fail - {why}" for host, why in failed.items()]
    message = ""
    if failed:
        message = (f"run {run_id}{' (check mode)' if check_mode else ''}: {len(failed)} hosts of this slice "
                   + ("would not take" if check_mode else "did not take") + " the new key ("
                   + "; ".join(f"{host} failed {why}" for host, why in failed.items())
                   + (f"; not switched after the failure: {', '.join(untouched)}" if untouched else "")
                   + "). rotor.iam.rotate_finish rolls the run back, or run this slice again once the hosts are fixed.")
    return {"run_id": run_id, "users": sorted(in_run), "switched": switched, "failed": failed, "untouched": untouched, "message": message,
            "check_mode": bool(check_mode), "would_switch": would_switch, "lines": lines}


def finish_plan(plans, check):
    """The plan a finish job cuts over or rolls back with: rotor.iam.rotation_plan's, restricted to the run.

    Users outside the run are not due (their lock, if the plan took one, is released at the end). A user of
    the run never gets a key made or replaced here: only prepare creates keys, so a pending key that no host
    holds is not replaced but rolled back (deleted) with the rest."""
    result = {}
    in_run = set(check.get("in_run") or [])
    for ref, plan in dict(plans or {}).items():
        plan = dict(plan)
        if ref not in in_run:
            note = (check.get("skipped") or {}).get(ref) or f"{ref}: not part of this run"
            if plan.get("due") or plan.get("error"):
                plan.update(due=False, error=None, reason=note, finish_journal=False, stale_inactive_key_ids=[])
            result[ref] = plan
            continue
        pending = new_key_of(check, ref)
        if pending and plan.get("replace_key_id") == pending:
            # rotor.iam.rotate would replace a pending key no host took (its only use the run's own verify): here it is
            # rolled back (deleted), and no key is made.
            plan["replace_key_id"] = None
            if not plan.get("new_key_id") and not plan.get("hosts_outside_play"):
                plan["reason"] = f"no host took the new key {pending} of run {check.get('run_id')}: it is deleted"
        if pending and plan.get("pending_held_by") and plan.get("error") and not plan.get("hosts_outside_play"):
            # Only secret destinations hold the run's new key (a user without hosts, or none of its hosts switched):
            # the finish job needs no secret to cut over or roll back, so it goes on with that key.
            plan.update(error=None, due=True, new_key_id=pending, new_key_holders=[],
                        reason=f"the new key {pending} of run {check.get('run_id')} is held by {', '.join(plan['pending_held_by'])}")
            plan["old_key_id"] = plan.get("old_key_id") or ((check.get("journals") or {}).get(ref) or {}).get("current_key_id")
            result[ref] = plan
            continue
        if (pending and not plan.get("new_key_id") and plan.get("error") and pending in plan["error"]
                and "unreachable" not in plan["error"] and not plan.get("hosts_outside_play")):
            # rotor.iam.rotate would not touch a pending key nobody holds that was used (the verify used it) or whose
            # run id tells no start time; this run made it and every host was read: it is rolled back (deleted).
            plan.update(error=None, due=True, reason=f"no host took the new key {pending} of run {check.get('run_id')}: it is deleted")
            plan["old_key_id"] = plan.get("old_key_id") or ((check.get("journals") or {}).get(ref) or {}).get("current_key_id")
        result[ref] = plan
    return result


def new_key_of(check, ref):
    """The run's new key of ``ref`` as its journal names it: pending while distributing, current after cutover."""
    journal = (check.get("journals") or {}).get(ref) or {}
    if journal.get("phase") == "cutover":
        return str(journal.get("current_key_id") or "") or None
    return str(journal.get("pending_key_id") or "") or None


def run_new_keys(check):
    """{ref: {access_key_id, secret_access_key: None}}: the key ids a finish job retires or deletes (no secret)."""
    return {ref: {"access_key_id": new_key_of(check, ref), "secret_access_key": None} for ref in check.get("in_run") or []}
