# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private (rotor.iam's rotation engine): the rotation as an AWX workflow of phase jobs.

Two kinds of job share one run id (the workflow's):

- once-per-run jobs (prepare, cutover, rollback, finish) work on IAM only, never on a host: their cost
  depends on the number of IAM users, not of hosts;
- sliced jobs (distribute, settle, restore, cleanup) work on the hosts of one inventory slice each.

They talk through each IAM user's journal (its tags), never through artifacts:

- the journal's phase is the **fence**: each once-per-run job writes the next phase before it changes
  anything, and a sliced job acts for a user only while the journal is the run's and in the phase the job
  works in (``JOB_PHASES``), re-read before every batch;
- a sliced job that fails a user records it with a monotonic mark, the tag ``rotor:failed-<job>`` holding the
  run id (one write per failing user per slice); the once-per-run jobs decide from the marks and IAM.

Every function here is pure: the role passes what the modules returned and loops over what comes back.
"""

from __future__ import annotations

MARK_PREFIX = "rotor:failed-"
# The phase a job works in, per job (a user in another phase, or of another run, is not this job's).
JOB_PHASES = {
    "distribute": ("distributing",),
    "cutover": ("distributing",),
    "settle": ("cutover",),
    "rollback": ("creating", "distributing", "cutover", "rolling_back"),
    "restore": ("rolling_back",),
    "finish": ("distributing", "cutover", "rolling_back", "waiting_for_quiet"),
    "cleanup": ("completed",),
}
SLICED = ("distribute", "settle", "restore", "cleanup")
# The sliced jobs that stop acting for a user once they marked it failed.
STOPPED_BY_OWN_MARK = ("distribute", "settle")
# The sliced jobs whose marks fail a user (cleanup only removes backups: its failures are reported, not decided on).
MARKING = ("distribute", "settle", "restore", "cleanup")


class WorkflowRunError(ValueError):
    """Input that is not what the role passes (a programming error, not a refusal)."""


def _require(condition, message):
    if not condition:
        raise WorkflowRunError(message)


def _run_id(run_id):
    run_id = str(run_id or "").strip()
    _require(run_id, "run_id is empty")
    return run_id


def marks_of(tags):
    """{job: run id} of the failure marks among a user's tags ({key: value} or boto3's [{Key, Value}])."""
    values = dict(tags) if isinstance(tags, dict) else {t["Key"]: t.get("Value", "") for t in tags or []}
    return {key[len(MARK_PREFIX):]: str(value) for key, value in sorted(values.items())
            if key.startswith(MARK_PREFIX) and key[len(MARK_PREFIX):] in MARKING}


def failed_in(marks, run_id, jobs=MARKING):
    """The jobs that marked the user failed in run ``run_id`` (a mark of another run is stale: ignored)."""
    return [job for job in jobs if str((marks or {}).get(job) or "") == str(run_id)]


def old_and_new(journal):
    """(old key, new key) of a journal in any phase of a run (after cutover the new key is current)."""
    if journal.get("phase") in ("cutover", "completed"):
        return journal.get("previous_key_id"), journal.get("current_key_id")
    return journal.get("current_key_id"), journal.get("pending_key_id")


def fence(reads, run_id, job):
    """Per user (the C(item) of each rotor.iam.workflow_journal state=read result): does job ``job`` of run
    ``run_id`` act for it?

    Returns {run_id, job, act: [ref], skipped: {ref: note}, errors: [message], users: {ref: {phase, old_key_id,
    new_key_id, inactive_since, failed: [job]}}}. C(errors) are refusals that name both run ids (a journal that
    belongs to another run still in progress, a journal that cannot be read); C(skipped) users are not this
    job's (done with, in another phase, or failed already); C(act) are this job's.
    """
    run_id = _run_id(run_id)
    _require(job in JOB_PHASES, f"job {job!r} is not a workflow job ({', '.join(JOB_PHASES)})")
    act, skipped, errors, users = [], {}, [], {}
    for result in reads or []:
        _require(isinstance(result, dict) and result.get("item"), "a journal read result has no item (the user it was read for)")
        ref = str(result["item"])
        if result.get("failed"):
            errors.append(f"IAM user {ref!r}: its journal could not be read ({result.get('msg') or 'failed'}); the {job} job of run "
                          f"{run_id} changes nothing for it. Fix the access to the user and run the job again.")
            continue
        journal = result.get("journal") if isinstance(result.get("journal"), dict) else {}
        marks = result.get("marks") if isinstance(result.get("marks"), dict) else {}
        phase, theirs = journal.get("phase"), str(journal.get("run_id") or "")
        lock = journal.get("lock") if isinstance(journal.get("lock"), dict) else None
        old, new = old_and_new(journal)
        users[ref] = {"phase": phase, "old_key_id": old, "new_key_id": new, "inactive_since": journal.get("inactive_since"),
                      "failed": failed_in(marks, run_id)}
        if journal.get("problems"):
            errors.append(f"IAM user {ref!r}: its journal has malformed tags; the {job} job of run {run_id} changes nothing for it. "
                          f"See docs/journal.md.")
            continue
        if theirs != run_id:
            if phase in JOB_PHASES["rollback"] or (lock and not lock.get("expired") and str(lock.get("run_id")) != run_id):
                errors.append(f"IAM user {ref!r}: this {job} job is run {run_id}, but the user's journal belongs to run {theirs or '(none)'} "
                              f"(phase {phase}). A job acts only for its own workflow's run: give it rotor_run_id={theirs} if it is "
                              f"that workflow's, or let run {theirs} finish first. Nothing was changed for this user.")
            else:
                skipped[ref] = f"{ref}: not part of run {run_id} (journal: run {theirs or '(none)'}, phase {phase or '(none)'}): nothing to do"
            continue
        if phase not in JOB_PHASES[job]:
            skipped[ref] = f"{ref}: run {run_id} is in phase {phase or '(none)'}, not {' or '.join(JOB_PHASES[job])}: nothing for the {job} job to do"
            continue
        if job in STOPPED_BY_OWN_MARK and job in users[ref]["failed"]:
            # A user this job already failed takes no more of its hosts (later batches, other slices). Restore and
            # cleanup never stop on a mark: putting hosts back is exactly what a failed user needs.
            skipped[ref] = f"{ref}: run {run_id} marked it failed in {job}: this {job} job takes no more of its hosts"
            continue
        if lock and not lock.get("expired") and str(lock.get("run_id")) != run_id:
            errors.append(f"IAM user {ref!r}: the journal is run {run_id}'s, but run {lock.get('run_id')} holds the user's lock; the "
                          f"{job} job changes nothing for it.")
            continue
        act.append(ref)
    return {"run_id": run_id, "job": job, "act": sorted(act), "skipped": dict(sorted(skipped.items())), "errors": errors, "users": users}


def prepare_plans(locks, key_infos, run_id, max_age_days, force=False):
    """The prepare job's plan, from IAM and the journal only (no host is read).

    ``locks``: the registered rotation_journal state=locked loop (C(item) the user, C(journal) as read before the
    lock); ``key_infos``: the registered access_key_info loop over the locked users. Returns {ref: {due, error,
    reason, old_key_id, age_days, locked}}. A user whose hosts hold another key than its Active one is found by
    the distribute slices (it fails there), not here.
    """
    run_id = _run_id(run_id)
    infos = {str(r.get("item")): r for r in key_infos or [] if isinstance(r, dict)}
    plans = {}
    for result in locks or []:
        _require(isinstance(result, dict) and result.get("item"), "a lock result has no item (the user it was taken for)")
        ref = str(result["item"])
        if result.get("failed"):
            plans[ref] = {"due": False, "locked": False, "error": str(result.get("msg") or "the lock could not be taken"), "reason": ""}
            continue
        plan = {"due": False, "locked": True, "error": None, "reason": "", "old_key_id": None, "age_days": None}
        plans[ref] = plan
        journal = result.get("journal") if isinstance(result.get("journal"), dict) else {}
        theirs, phase = str(journal.get("run_id") or ""), journal.get("phase")
        if theirs == run_id and phase:
            plan["error"] = (f"run {run_id} already prepared this user (journal phase {phase}); a workflow prepares once. Run the "
                             f"rest of that workflow (rotor.iam.rotate_finish ends it), or start a new workflow")
            continue
        if phase in JOB_PHASES["rollback"]:
            plan["error"] = (f"run {theirs or '(unknown)'} left its rotation in phase {phase}: resume it first (rotor.iam.rotate resumes "
                             f"it, or that workflow's rollback and finish jobs end it)")
            continue
        info = infos.get(ref)
        if info is None or info.get("failed"):
            plan["error"] = f"its access keys could not be listed ({(info or {}).get('msg') or 'not listed'})"
            continue
        keys = list(info.get("access_keys") or [])
        active = [key for key in keys if key.get("status") == "Active"]
        if len(keys) >= 2:
            plan["error"] = (f"it has {len(keys)} access keys ({', '.join(str(k.get('access_key_id')) for k in keys)}): the workflow needs "
                             f"one Active key and a free slot. rotor.iam.rotate frees a slot safely (it reads every host)")
            continue
        if not active:
            plan["reason"] = "no Active key: nothing to rotate"
            continue
        old = active[0]
        plan.update(old_key_id=old.get("access_key_id"), age_days=old.get("age_days"))
        if force or int(old.get("age_days") or 0) >= int(max_age_days):
            plan.update(due=True, reason=f"key {old.get('access_key_id')} is {old.get('age_days')} days old" + (" (forced)" if force else ""))
        else:
            plan["reason"] = f"key {old.get('access_key_id')} is {old.get('age_days')} days old, under {max_age_days}: not due"
    return dict(sorted(plans.items()))


# The prepare job's steps after its plan, in order, each a registered loop over the users still to prepare; and the
# step each names in a failure.
PREPARE_STEPS = {"creating": "journal", "created": "create", "journaled": "journal", "verified": "verify", "staged": "stage"}


def prepare_start(plans):
    """The prepare job's record before its first write: ``plans`` ({ref: plan}), the due users still to prepare
    (``next``, work items {user}), those prepared, those whose journal says creating (``journaled``), C(failed) ({ref: message}),
    C(new_keys) ({ref: key id}) and C(undo) ({ref: new key id or none}: the users to roll back inside prepare)."""
    plans = dict(plans or {})
    return {"plans": plans, "next": [{"user": ref} for ref, plan in sorted(plans.items()) if (plan or {}).get("due")], "journaled": [],
            "prepared": [], "failed": {}, "new_keys": {}, "undo": {}}


def prepare_step(record, step, results):
    """The prepare record after ``step`` (one of PREPARE_STEPS) registered ``results`` (a loop over ``record["next"]``,
    each item a work item {user}): a user that failed it, or that it did not reach, fails with the step named and
    leaves the later steps; after the stage step the others are prepared."""
    _require(step in PREPARE_STEPS, f"prepare step {step!r} is not one of {', '.join(PREPARE_STEPS)}")

    def ref_of(item):
        return str(item.get("user") if isinstance(item, dict) else item)

    found = {ref_of(r.get("item")): r for r in results or [] if isinstance(r, dict) and not r.get("skipped")}
    record = dict(record, failed=dict(record["failed"]), new_keys=dict(record["new_keys"]), undo=dict(record["undo"]),
                  journaled=list(record["journaled"]), prepared=list(record["prepared"]))
    going_on = []
    for ref in [ref_of(item) for item in record["next"]]:
        result = found.get(ref)
        if step == "created" and (result or {}).get("access_key_id"):
            record["new_keys"][ref] = result["access_key_id"]
        key_id = record["new_keys"].get(ref)
        if result is None or result.get("failed"):
            why = (result or {}).get("msg") or "not reached"
            record["failed"][ref] = (f"the {PREPARE_STEPS[step]} step failed ({why}); "
                                     + ("the new key " + key_id + " is deleted" if key_id else "no key was made"))
            record["undo"][ref] = key_id
            continue
        going_on.append({"user": ref})
        if step == "creating":
            record["journaled"].append(ref)
    if step == "staged":
        record["prepared"] += [item["user"] for item in going_on]
        going_on = []
    record["next"] = going_on
    return record


def cutover_todo(check):
    """The cutover job's work from its fence: the users to cut over, and those it hands to the rollback path
    (marked failed by a distribute slice: they keep their old key Active)."""
    cut, refused = [], {}
    for ref in check.get("act") or []:
        user = check["users"][ref]
        if user["failed"]:
            refused[ref] = (f"IAM user {ref!r}: a distribute slice of run {check['run_id']} marked it failed; its old key stays Active and "
                            f"the rollback path puts its hosts back")
        elif not user.get("old_key_id") or not user.get("new_key_id"):
            refused[ref] = f"IAM user {ref!r}: the journal of run {check['run_id']} names no old or new key; nothing was changed"
        else:
            cut.append(ref)
    return {"cutover": cut, "refused": refused}


def rollback_todo(check):
    """The rollback job's work: every user of the run still in progress is rolled back (the path is taken when a
    job of the run failed or was killed, so no slice's silence proves a host healthy). Per user: the journal
    fields of phase rolling_back, and whether its old key is to be reactivated (this run deactivated it)."""
    users = {}
    for ref in check.get("act") or []:
        user = check["users"][ref]
        reactivate = user["phase"] == "cutover" or (user["phase"] == "rolling_back" and bool(user.get("inactive_since")))
        users[ref] = {"old_key_id": user["old_key_id"], "new_key_id": user["new_key_id"], "reactivate": reactivate,
                      "inactive_since": user.get("inactive_since") or ""}
    return users


def finish_todo(check):
    """The finish job's work per user of the run: C(retire) (cut over and settled: the old key goes), C(close) (rolled
    back, every host restored: the new key goes), C(keep) (a restore slice failed: a host may still hold the new key,
    which stays), C(refused) (the run is not at its end for this user: which job to run)."""
    retire, close, keep, refused = [], [], [], {}
    for ref in check.get("act") or []:
        user = check["users"][ref]
        if user["phase"] == "distributing":
            refused[ref] = (f"IAM user {ref!r}: run {check['run_id']} is still distributing; run rotor.iam.rotate_cutover (or "
                            f"rotor.iam.rotate_rollback) and its slices first. Nothing was changed for it")
        elif user["phase"] == "waiting_for_quiet":
            refused[ref] = (f"IAM user {ref!r}: the quiet-key gate of run {check['run_id']} saw its old key {user.get('old_key_id')} used "
                            f"after every host switched (the cutover job says when and where): the hosts stay on the new key "
                            f"{user.get('new_key_id')}, the old key stays Active, the journal says waiting_for_quiet and the user is "
                            f"released. Move that consumer to the new key, then run rotor.iam.rotate: it re-checks and retires the old key")
        elif user["phase"] == "cutover" and user["failed"]:
            refused[ref] = (f"IAM user {ref!r}: run {check['run_id']} marked it failed in {', '.join(user['failed'])} after the cutover; "
                            f"run rotor.iam.rotate_rollback and rotor.iam.rotate_restore first. Nothing was changed for it")
        elif user["phase"] == "cutover":
            retire.append(ref)
        elif "restore" in user["failed"]:
            keep.append(ref)
        else:
            close.append(ref)
    return {"retire": retire, "close": close, "keep": keep, "refused": refused}


def job_todo(check):
    """The work of job ``check['job']`` from its fence, merged into the fence by the role's one call: a once-per-run
    job's users (cutover_todo, rollback_todo as C(rollback), finish_todo); a sliced job's hosts come from its
    inventory, so it gets nothing more here."""
    job = check["job"]
    if job == "cutover":
        return cutover_todo(check)
    if job == "rollback":
        return {"rollback": rollback_todo(check)}
    if job == "finish":
        return finish_todo(check)
    return {}


def settle_proofs(check, host_refs, hosts, host_files):
    """Where the settle job reads each old key back, to prove AWS rejects it: per user it acts for, the first host of
    ``hosts`` (the slice, in play order) that has a credentials file, with its first file. ``host_files``: {host:
    rotor_credentials_files}. Returns [{user, host, access_key_id, file}]; a user with no such host gets no proof
    here (another slice of the run proves it)."""
    act, proofs, seen = set(check.get("act") or []), [], set()
    for host in hosts or []:
        ref = dict(host_refs or {}).get(host)
        files = (host_files or {}).get(host)
        if ref not in act or ref in seen or not isinstance(files, list) or not files or not isinstance(files[0], dict):
            continue
        old = check["users"][ref]["old_key_id"]
        if old:
            seen.add(ref)
            proofs.append({"user": ref, "host": host, "access_key_id": old, "file": dict(files[0])})
    return proofs


def slice_todo(check, host_refs, host_reads):
    """The restore job's work on each of its hosts, from the fence and each host's key ids read now.

    ``host_reads``: {host: {key_ids, failed, unreachable, msg}} (the read registered on each host). Per host of a
    user the job acts for: C(restore) (on the new key, or partly), C(none) (already on the old key), or C(fail) with
    why (unreadable, unreachable, or on a key the run did not expect). The distribute and settle jobs read nothing:
    rotor.iam.host_credentials checks the key each file holds (O(expected_access_key_id)) in the same module run
    that writes or checks it. Returns {hosts: {host: {action, user, why}}, failed_users: {ref: [host: why]}}.
    """
    _require(check.get("job") == "restore", f"slice_todo is the restore job's, not the {check.get('job')} job's")
    act, run_id = set(check.get("act") or []), check["run_id"]
    hosts, failed_users = {}, {}
    for host in sorted(dict(host_reads or {})):
        ref = dict(host_refs or {}).get(host)
        if ref not in act:
            continue
        user = check["users"][ref]
        old, new = user["old_key_id"], user["new_key_id"]
        read = dict((host_reads or {}).get(host) or {})
        held = sorted(set(read.get("key_ids") or []))
        action, why = None, ""
        if read.get("unreachable"):
            action, why = "fail", "unreachable"
        elif read.get("failed") or not read:
            action, why = "fail", f"its credentials could not be read ({read.get('msg') or 'no read'})"
        elif held == [old]:
            action = "none"
        elif held and set(held) <= {old, new}:
            action = "restore"  # on the new key, or some files switched and some not: each file back from its backup
        else:
            action, why = "fail", f"holds {', '.join(held) or 'no key'}, not {old} or {new} of run {run_id}"
        hosts[host] = {"action": action, "user": ref, "why": why}
        if action == "fail":
            failed_users.setdefault(ref, []).append(f"{host}: {why}")
    return {"hosts": hosts, "failed_users": failed_users}


def slice_failures(check, host_refs, results):
    """The users of this job whose hosts failed a host step: {ref: [host: why]}. ``results``: {host: [registered
    result of each host step]} (a skipped step did nothing). Only the message is read: never a secret."""
    act, failed = set(check.get("act") or []), {}
    for host, host_results in sorted(dict(results or {}).items()):
        ref = dict(host_refs or {}).get(host)
        if ref not in act:
            continue
        for result in host_results if isinstance(host_results, list) else [host_results]:
            if not isinstance(result, dict) or result.get("skipped"):
                continue
            if result.get("unreachable") or result.get("failed"):
                why = "unreachable" if result.get("unreachable") else str(result.get("msg") or "failed")
                failed.setdefault(ref, []).append(f"{host}: {why}")
                break
    return failed


def proof_failures(reads, checks):
    """The users whose old key was not proven rejected: {ref: [host: why]}. ``reads``: the registered loop over
    settle_proofs (the old secret read from a host's backup); ``checks``: the registered verify loop over those reads.
    Only messages are read, never a secret."""
    failed = {}
    for result in reads or []:
        item = result.get("item") if isinstance(result, dict) else None
        if isinstance(item, dict) and (result.get("failed") or result.get("unreachable")):
            why = "unreachable" if result.get("unreachable") else str(result.get("msg") or "failed")
            failed.setdefault(str(item.get("user")), []).append(f"{item.get('host')}: the old key's backup could not be read ({why})")
    for result in checks or []:
        read = result.get("item") if isinstance(result, dict) else None
        item = read.get("item") if isinstance(read, dict) else None
        if isinstance(item, dict) and result.get("failed"):
            failed.setdefault(str(item.get("user")), []).append(
                f"{item.get('host')}: AWS did not reject the old key {item.get('access_key_id')} ({result.get('msg') or 'failed'})")
    return failed


def after_hosts(check, host_refs, results, reads=None, proofs=None):
    """What a sliced job's host steps did: {failed: {ref: [host: why]} (slice_failures), left: [ref], put_back: [host]}.

    ``results``: {host: [registered result of each host step]}. ``reads``: the journals read again after the host
    steps (distribute); C(left) are the users the fence acted for whose run left the job's phase meanwhile, and
    C(put_back) their hosts that a host step changed (written or restarted): they go back to the old key at once, so a
    late slice never leaves a key a later job may delete. ``proofs``: (reads, checks) of the settle job's old-key
    proofs (proof_failures), whose failures fail their users too."""
    left = []
    if reads is not None:
        still = set(fence(reads, check["run_id"], check["job"])["act"])
        left = [ref for ref in check.get("act") or [] if ref not in still]
    put_back = [host for host, found in sorted(dict(results or {}).items()) if dict(host_refs or {}).get(host) in left
                and any(isinstance(result, dict) and result.get("changed") for result in (found if isinstance(found, list) else [found]))]
    failed = slice_failures(check, host_refs, results)
    for ref, whys in proof_failures(*(proofs or ([], []))).items():
        failed.setdefault(ref, []).extend(whys)
    return {"failed": failed, "left": left, "put_back": put_back}
