# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The rotation journal: where a key rotation stands, kept in the IAM user's own tags.

Every controller (a laptop, an AWX node) sees the same journal because it lives
next to the keys. Tags, all prefixed ``rotor:``::

    rotor:phase          creating | distributing | waiting_for_quiet | cutover | completed | rolling_back | rolled_back
                         (waiting_for_quiet: every host on the pending key, the old key Active and still used by
                         something outside the inventory: the quiet-key gate stopped before touching it)
    rotor:pending        the new key while it is being distributed (Secrets Manager's AWSPENDING)
    rotor:current        the key the fleet is meant to run on (AWSCURRENT)
    rotor:previous       the key being retired after cutover (AWSPREVIOUS)
    rotor:inactive-since when rotor:previous was deactivated (IAM does not record it)
    rotor:verified       when the run began proving rotor:pending with its own calls (verify): a last use of the
                         pending key from then on, with no host holding it, is that run's own, not a consumer's
    rotor:run            the run that wrote the phase, and rotor:updated when
    rotor:lock-*         the lock: run, owner, controller host and machine id, process id and
                         start time, expiry

IAM has no conditional writes, so the lock is taken by writing it, waiting for
the write to settle and reading it back: of several runs that race, only the
last writer reads its own run id and goes on; the others stop.

A phase is written only where ``TRANSITIONS`` allows it from the phase recorded, and the fields the
caller leaves out follow from the phase (``derive_fields``), so the journal is one table, not a set
of conventions spread over the callers. An illegal write is refused before anything is written.
"""

from __future__ import annotations

import datetime
import getpass
import os
import re
import socket
import time

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import _call
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import _server_time
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import as_datetime
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import utcnow
from ansible_collections.rotor.iam.plugins.module_utils._journal_trust import SEAL_TAG
from ansible_collections.rotor.iam.plugins.module_utils._journal_trust import SEALED_FIELDS
from ansible_collections.rotor.iam.plugins.module_utils._journal_trust import WINDOW_TAGS
from ansible_collections.rotor.iam.plugins.module_utils._journal_trust import seal as seal_of
from ansible_collections.rotor.iam.plugins.module_utils._journal_trust import sealed as is_sealed
from ansible_collections.rotor.iam.plugins.module_utils.redact import shown_key_id
from ansible_collections.rotor.iam.plugins.module_utils.user_policy import EXEMPT_TAG
from ansible_collections.rotor.iam.plugins.module_utils.user_policy import EXEMPT_UNTIL_TAG
from ansible_collections.rotor.iam.plugins.module_utils.user_policy import MAX_AGE_TAG
from ansible_collections.rotor.iam.plugins.module_utils.user_policy import OWNER_TAG

PREFIX = "rotor:"
PHASES = ("creating", "distributing", "cutover", "completed", "rolling_back", "rolled_back", "waiting_for_quiet")
# Phases in which a run was interrupted before it finished or rolled back.
IN_PROGRESS_PHASES = ("creating", "distributing", "cutover", "rolling_back", "waiting_for_quiet")

# journal field -> tag key
FIELD_TAGS = {
    "phase": "rotor:phase",
    "pending_key_id": "rotor:pending",
    "current_key_id": "rotor:current",
    "previous_key_id": "rotor:previous",
    "inactive_since": "rotor:inactive-since",
    "verified": "rotor:verified",
    "run_id": "rotor:run",
    "updated": "rotor:updated",
}
LOCK_TAGS = {
    "run_id": "rotor:lock-run",
    "owner": "rotor:lock-owner",
    "host": "rotor:lock-host",
    "machine": "rotor:lock-machine",
    "pid": "rotor:lock-pid",
    "started": "rotor:lock-started",
    "expires": "rotor:lock-expires",
}
# The user's rotation policy, set by people (not by runs): never part of the journal, never cleared with it.
POLICY_TAGS = {"exempt": EXEMPT_TAG, "exempt_until": EXEMPT_UNTIL_TAG, "owner": OWNER_TAG, "max_age_days": MAX_AGE_TAG}
KEY_FIELDS = ("pending_key_id", "current_key_id", "previous_key_id")
TIME_FIELDS = ("inactive_since", "verified", "updated")
# AWS's access key ids: long-term (AKIA) or temporary (ASIA), then 16 upper-case letters or digits.
ACCESS_KEY_ID_RE = re.compile(r"^A[KS]IA[A-Z0-9]{16}$")
# A run id is written in tags and compared with what they read back: printable ASCII a tag keeps as it is, bounded.
RUN_ID_RE = re.compile(r"[A-Za-z0-9_.:/=+@-][A-Za-z0-9_.:/=+@ -]{0,127}")
RUN_ID_MAX = 128
# IAM tag values: letters, digits, spaces and _ . : / = + - @, at most 256 characters; at most 50 tags per user.
TAG_VALUE_MAX = 256
TAG_LIMIT = 50
_TAG_VALUE_BAD = re.compile(r"[^\w .:/=+\-@]")


# The phases a write may record, by the phase recorded now (None: no journal, or only a lock).
# A phase may always be written again (a task retried after its answer was lost). "creating" starts
# over from anywhere: a resumed run whose new key is lost makes another. A finished journal
# (completed, rolled_back) only starts a new rotation. See docs/journal.md for why each edge exists.
TRANSITIONS = {
    None: ("creating",),
    "creating": ("creating", "distributing", "cutover", "rolling_back", "rolled_back"),
    "distributing": ("creating", "distributing", "cutover", "rolling_back", "rolled_back", "completed", "waiting_for_quiet"),
    # The quiet-key gate stopped with every host on the pending key: a later run re-checks and goes on from distributing.
    "waiting_for_quiet": ("creating", "distributing", "cutover", "rolling_back", "rolled_back", "completed", "waiting_for_quiet"),
    "cutover": ("creating", "distributing", "cutover", "rolling_back", "completed"),
    "rolling_back": ("creating", "distributing", "rolling_back", "rolled_back", "completed"),
    "completed": ("creating", "completed"),
    "rolled_back": ("creating", "rolled_back"),
}
# The field each phase needs once derived: without it the journal cannot be resumed from.
REQUIRED_FIELDS = {
    "creating": ("current_key_id",),
    "distributing": ("pending_key_id",),
    "waiting_for_quiet": ("pending_key_id",),
    "cutover": ("current_key_id",),
    "rolling_back": ("current_key_id",),
    "completed": (),
    "rolled_back": (),
}
JOURNAL_FIELDS = ("pending_key_id", "current_key_id", "previous_key_id", "inactive_since", "verified")
# A lease ends this long before the lock's expiry (at most 5 minutes, a quarter of the TTL for short ones):
# other controllers judge the expiry on their own clocks, which may run ahead of ours.
LEASE_MARGIN_SECONDS = 300.0
# A lease claiming to hold longer than this is not one this collection wrote (IAM tags cap nothing, a TTL can).
LEASE_MAX_SECONDS = 7 * 86400.0


def allowed_phases(phase):
    """The phases a write may record after ``phase`` (an empty tuple for a phase that is not one)."""
    return TRANSITIONS.get(phase, ())


def _old_key(journal):
    """The key the fleet ran on before the rotation: after cutover it is the previous key."""
    return journal.get("previous_key_id") if journal.get("phase") == "cutover" else journal.get("current_key_id")


def _new_key(journal):
    """The rotation's new key: pending until cutover, current from then on."""
    return journal.get("current_key_id") if journal.get("phase") == "cutover" else journal.get("pending_key_id")


def derive_fields(journal, phase, fields):
    """The key fields a write of ``phase`` leaves in ``journal``: {field: value or ''}.

    ``fields``: what the caller gave (None: not given, '' clears); given values always win.
    Without them: creating keeps the old key as current and clears the rest; distributing adds the
    pending key; cutover makes the new key current and the old one previous; rolling_back and
    rolled_back put the old key back as current (rolling_back keeps the new key pending for hosts
    that still hold it); completed makes the new key current. The previous key survives only in
    cutover and completed (a key left Inactive) unless given, and inactive_since only as long as
    the previous key stays the same one.
    """
    old, new = _old_key(journal) or "", _new_key(journal) or ""
    if phase == "creating":
        derived = {"current_key_id": old, "pending_key_id": "", "previous_key_id": ""}
    elif phase in ("distributing", "rolling_back", "waiting_for_quiet"):
        derived = {"current_key_id": old, "pending_key_id": new, "previous_key_id": ""}
    elif phase == "cutover":
        derived = {"current_key_id": new, "pending_key_id": "", "previous_key_id": old}
    elif phase == "completed":
        kept = journal.get("previous_key_id") if journal.get("phase") in ("cutover", "completed") else None
        derived = {"current_key_id": new or journal.get("current_key_id") or "", "pending_key_id": "", "previous_key_id": kept or ""}
    else:  # rolled_back
        derived = {"current_key_id": old, "pending_key_id": "", "previous_key_id": ""}
    result = {name: (fields[name] if fields.get(name) is not None else derived[name]) for name in derived}
    if fields.get("inactive_since") is not None:
        result["inactive_since"] = fields["inactive_since"]
    elif result["previous_key_id"] and result["previous_key_id"] == journal.get("previous_key_id"):
        result["inactive_since"] = journal.get("inactive_since") or ""
    else:
        result["inactive_since"] = ""
    # When the run began verifying its pending key: kept only while that key stays the pending one.
    if fields.get("verified") is not None:
        result["verified"] = fields["verified"]
    elif result["pending_key_id"] and result["pending_key_id"] == journal.get("pending_key_id"):
        result["verified"] = journal.get("verified") or ""
    else:
        result["verified"] = ""
    return result


def check_write(journal, user_name, fields):
    """The journal fields to write for ``fields`` (with a phase: every key field, derived), or raise.

    Raises RotorIAMError ``IllegalTransition`` when the table does not allow the phase from the one
    recorded, or ``InvalidJournalWrite`` when the derived fields cannot describe the phase. Writes nothing.
    """
    phase = fields.get("phase")
    current = journal.get("phase")
    if not phase:
        given = {name: value for name, value in fields.items() if value is not None and name != "phase"}
        if given and current in PHASES:
            # Fields alone are written in the phase recorded, and must still describe it.
            _check_fields(dict({name: journal.get(name) or "" for name in JOURNAL_FIELDS}, **given), current, current, user_name)
        return given
    if current is not None and current not in PHASES:
        raise RotorIAMError(
            f"Refused to record phase {phase!r} for IAM user {user_name!r}: its journal tag {FIELD_TAGS['phase']} holds "
            f"{_shown_phase(current)!r}, which is not a phase ({', '.join(PHASES)}); it was edited by hand or truncated. Nothing was "
            f"written. Check the user's keys and hosts, then fix the tag or clear the journal "
            f"(rotor.iam.rotation_journal state=absent).",
            code="IllegalTransition",
            action="rotor.iam.rotation_journal",
        )
    if phase not in allowed_phases(current):
        allowed = ", ".join(allowed_phases(current))
        raise RotorIAMError(
            f"Refused to record phase {phase!r} for IAM user {user_name!r}: its rotation journal is in phase "
            f"{current or 'none (no rotation recorded)'!r}"
            + (f" (written by run {journal.get('run_id')})" if journal.get("run_id") else "")
            + f", from which only {allowed} may follow. Nothing was written. Another run or a person may have changed "
            f"the journal, or a step was skipped. Check the user's keys (rotor.iam.access_key_info) and the hosts, then "
            f"run the rotation again, which resumes from the recorded phase; if the journal is wrong, clear it "
            f"(rotor.iam.rotation_journal state=absent) after checking.",
            code="IllegalTransition",
            action="rotor.iam.rotation_journal",
        )
    derived = derive_fields(journal, phase, fields)
    _check_fields(derived, phase, current, user_name)
    return dict(derived, phase=phase)


def _check_fields(derived, phase, current, user_name):
    """Refuse key fields that cannot describe ``phase`` (InvalidJournalWrite)."""
    missing = [name for name in REQUIRED_FIELDS[phase] if not derived[name]]
    if missing:
        raise RotorIAMError(
            f"Refused to record phase {phase!r} for IAM user {user_name!r}: it needs {', '.join(missing)}, which "
            f"was neither given nor recorded in the journal (phase {current or 'none'!r}). Nothing was written. Give it.",
            code="InvalidJournalWrite",
            action="rotor.iam.rotation_journal",
        )
    pending = derived["pending_key_id"]
    if pending and phase in ("completed", "rolled_back"):
        raise RotorIAMError(
            f"Refused to record phase {phase!r} for IAM user {user_name!r} with the pending key {shown_key_id(pending)}: a finished "
            f"rotation has no pending key. Nothing was written. Give pending_key_id='' (or leave it out).",
            code="InvalidJournalWrite",
            action="rotor.iam.rotation_journal",
        )
    if pending and pending in (derived["current_key_id"], derived["previous_key_id"]):
        raise RotorIAMError(
            f"Refused to record phase {phase!r} for IAM user {user_name!r}: the pending key {shown_key_id(pending)} cannot also be the "
            f"current or previous key. Nothing was written.",
            code="InvalidJournalWrite",
            action="rotor.iam.rotation_journal",
        )
    if phase == "cutover" and derived["current_key_id"] == derived["previous_key_id"]:
        raise RotorIAMError(
            f"Refused to record phase 'cutover' for IAM user {user_name!r}: the new current key "
            f"{shown_key_id(derived['current_key_id'])} cannot also be the previous key. Nothing was written.",
            code="InvalidJournalWrite",
            action="rotor.iam.rotation_journal",
        )


def sanitize_tag_value(value):
    """A value IAM accepts as a tag value: other characters become '_', cut at 256 characters."""
    text = "" if value is None else str(value)
    text = _TAG_VALUE_BAD.sub("_", text)
    return text[:TAG_VALUE_MAX]


def check_run_id(run_id, name="run_id"):
    """Refuse a run id a tag would not keep as it is (RotorIAMError ``InvalidRunId``), before anything is written.

    A run id is the lock's name: written into rotor:lock-run, then compared with what IAM reads back. A character
    the tag cannot hold (a newline, say) is replaced on the way in, so the run would never recognise, renew or
    release its own lock, and it would stay behind until it expires. The message names the problem, never the value.
    """
    if run_id is None:
        return None
    text = str(run_id)
    if RUN_ID_RE.fullmatch(text):
        return text
    if not text:
        why = "it is empty"
    elif len(text) > RUN_ID_MAX:
        why = f"it has {len(text)} characters, more than {RUN_ID_MAX}"
    else:
        position = next(i for i, char in enumerate(text) if not RUN_ID_RE.fullmatch(char if i == 0 else "a" + char))
        char = text[position]
        kind = "a space" if char == " " else "not printable" if not char.isprintable() else "not allowed"
        why = f"character {position + 1} of {len(text)} ({kind}) is not one a run id may hold"
    raise RotorIAMError(
        f"{name} is not a valid run id: {why}. A run id is 1 to {RUN_ID_MAX} characters: ASCII letters, digits, spaces "
        f"(not first) and _ . : / = + - @. Nothing was written. Give a run id made of those (rotor.iam.rotate makes one "
        f"from the time and the process id when rotor_run_id is not set).",
        code="InvalidRunId",
        action="rotor.iam.rotation_journal",
    )


def _shown_phase(value):
    """A phase tag's value for a message: a phase or a short lower-case word, else withheld (a hand-written tag may
    hold anything, a secret included)."""
    return value if value is None or value in PHASES or re.match(r"\A[a-z_-]{1,20}\Z", value) else "(withheld: not a phase)"


def is_access_key_id(value):
    return isinstance(value, str) and bool(ACCESS_KEY_ID_RE.match(value))


def iso_now(now=None):
    return (now or utcnow()).replace(microsecond=0).isoformat()


def parse_time(value):
    """A tag's time, or None when it is missing or malformed (tags can be edited by hand)."""
    try:
        return as_datetime(value)
    except ValueError:
        return None


def journal_problems(journal):
    """What is wrong with a journal read from tags (hand-edited, truncated): [{tag, value, why}]."""
    problems = []
    phase = journal.get("phase")
    if phase is not None and phase not in PHASES:
        problems.append({"tag": FIELD_TAGS["phase"], "value": _shown_phase(phase), "why": f"not a phase ({', '.join(PHASES)})"})
    for field in KEY_FIELDS:
        value = journal.get(field)
        if value is not None and not is_access_key_id(value):
            problems.append({"tag": FIELD_TAGS[field], "value": shown_key_id(value), "why": "not an access key id (AKIA/ASIA and 16 letters or digits)"})
    for field in TIME_FIELDS:
        value = journal.get(field)
        if value is not None and parse_time(value) is None:
            problems.append({"tag": FIELD_TAGS[field], "value": value, "why": "not an ISO 8601 time"})
    return problems


def journal_from_tags(tags, now=None):
    """The journal a user's tags describe (tags: boto3's [{Key, Value}] list or a plain dict).

    Never raises on malformed values: they are listed in ``problems`` for the planner to refuse
    that one user, and a lock whose expiry does not parse counts as expired.
    """
    now = now or utcnow()
    values = dict(tags) if isinstance(tags, dict) else {t["Key"]: t.get("Value", "") for t in tags or []}
    journal = {field: (values.get(tag) or None) for field, tag in FIELD_TAGS.items()}
    journal.update({field: (values.get(tag) or None) for field, tag in WINDOW_TAGS.items()})
    journal["seal"] = values.get(SEAL_TAG) or None
    journal["sealed"] = False  # judged by read_journal, with the seal key
    lock = {field: (values.get(tag) or None) for field, tag in LOCK_TAGS.items()}
    if lock["run_id"]:
        expires = parse_time(lock["expires"])
        lock["expired"] = expires is None or expires <= now
        lock["pid"] = int(lock["pid"]) if (lock["pid"] or "").isdigit() else None
        journal["lock"] = lock
    else:
        journal["lock"] = None
    journal["in_progress"] = journal["phase"] in IN_PROGRESS_PHASES
    journal["tags"] = sorted(k for k in values if k.startswith(PREFIX) and k not in POLICY_TAGS.values())
    journal["policy"] = {field: (values.get(tag) or None) for field, tag in POLICY_TAGS.items()}
    journal["tag_count"] = len(values)
    journal["problems"] = journal_problems(journal)
    return journal


def machine_id():
    """This machine's systemd/D-Bus machine id: unlike a hostname, two containers do not share it."""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path, encoding="ascii") as handle:
                value = handle.read().strip()
        except (OSError, UnicodeDecodeError):
            continue
        if re.match(r"^[0-9a-f]{32}$", value):
            return value
    return None


def process_start_time(pid):
    """When process ``pid`` started (seconds since boot, as /proc counts it), as a string; None if unknown.

    A pid is reused once its process is gone; the pair (pid, start time) is not.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return fields[19].decode("ascii")  # field 22 of stat(5): starttime in clock ticks since boot
    except (OSError, IndexError, ValueError, UnicodeDecodeError):
        return None


def pid_namespace():
    """The inode of this process's pid namespace (Linux), else None: a pid means one process only inside it, so two
    containers on one kernel (same machine id and boot id, maybe the same host name) tell their pids apart by it."""
    try:
        match = re.match(r"^pid:\[(\d+)\]$", os.readlink("/proc/self/ns/pid"))
    except OSError:
        return None
    return match.group(1) if match else None


def controller_id(machine=None, boot=None, pid_ns=None):
    """Where a recorded pid means something: machine id AND boot id AND pid namespace, as one tag value
    (``m=<machine id>/b=<boot id>/p=<pid namespace>``, ``-`` for what is unknown). A cloned VM shares the machine id
    but not the boot id; containers share the boot id but not the pid namespace."""
    parts = (("m", machine or machine_id()), ("b", boot or boot_id()), ("p", pid_ns or pid_namespace()))
    return "/".join(f"{name}={sanitize_tag_value(value) if value else '-'}" for name, value in parts)


def _complete_controller_id(value):
    """Does a recorded controller id name its boot and pid namespace (what a pid needs to mean one process)?"""
    parts = dict(part.split("=", 1) for part in (value or "").split("/") if "=" in part)
    return all(parts.get(name) not in (None, "", "-") for name in ("b", "p"))


def controller_identity():
    """Who holds a lock: login@host, the controller id (machine id, boot id, pid namespace: ``controller_id``), and
    the pid and start time of the ansible-playbook process running us (None when not found)."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = str(os.getuid())
    pid = playbook_pid()
    return {"owner": f"{login}@{socket.gethostname()}", "host": socket.gethostname(), "machine": controller_id(),
            "pid": pid, "started": process_start_time(pid) if pid else None}


def _proc_parent_and_cmdline(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            # pid (comm) state ppid ...; comm may contain spaces and parentheses
            ppid = int(handle.read().rsplit(b")", 1)[1].split()[1])
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
        return ppid, cmdline
    except (OSError, ValueError, IndexError):
        return None, ""


def playbook_pid(start=None):
    """The pid of the ansible-playbook process running us (Linux /proc), else None.

    Its forked workers carry the same command line and die after each task, so the
    outermost ancestor with that command line is the one that lives for the whole run.
    The walk starts at this process itself: a module's work done by its action plugin on the controller
    (plugins/plugin_utils/controller_module.py) runs in a worker. A worker whose ansible-playbook was killed is reparented; it then names itself, a pid
    that is gone as soon as it exits, so the next run may take the lock over (an empty pid could not be).
    """
    pid, found = start or os.getpid(), None
    for dummy in range(16):
        if not pid or pid <= 1:
            break
        ppid, cmdline = _proc_parent_and_cmdline(pid)
        if "ansible-playbook" in cmdline:
            found = pid
        elif found:
            break
        pid = ppid
    return found


def process_is_playbook(pid, started=None):
    """Is ``pid`` a live ansible-playbook process (and, when ``started`` is known, the very one that started then)?"""
    ppid, cmdline = _proc_parent_and_cmdline(pid)
    if ppid is None or "ansible-playbook" not in cmdline:
        return False
    return started is None or process_start_time(pid) == started


def _same_controller(lock, identity):
    """Did the lock's owner run where its pid means the same process as here? Only the same controller id (machine id,
    boot id and pid namespace, see ``controller_id``) says so; a host name, or a machine id alone (an older release's,
    a cloned VM's, a container's), never does: such a lock is taken over only once it expires, or with break_lock."""
    mine = identity.get("machine")
    return bool(mine) and lock.get("machine") == mine and _complete_controller_id(mine)


def holds_lock(lock, run_id, identity):
    """Is ``lock`` this job's? It names ``run_id`` and, unless it names no process (a detached lock belongs to its run
    id alone: the jobs of one workflow), this very ansible-playbook process on this controller. Two jobs given the
    same run id are two holders: the second may not share the first's lock."""
    if not lock or lock.get("run_id") != run_id:
        return False
    if not lock.get("pid"):
        return True
    return (lock.get("pid") == identity.get("pid") and lock.get("machine") == identity.get("machine")
            and str(lock.get("started") or "") == str(identity.get("started") or ""))


def lock_verdict(journal, run_id, identity, now=None, break_lock=False):
    """May ``run_id`` take or keep the user's lock? Returns (allowed, note).

    The lock is free, ours (``holds_lock``), expired, held by a run that died on this very
    controller (its ansible-playbook process is gone), or broken on request.
    A lock that names no process (a detached one, see ``lock_journal``) is never taken over for a process gone.
    """
    now = now or utcnow()
    lock = journal.get("lock")
    if not lock or holds_lock(lock, run_id, identity):
        return True, None
    same_run = lock["run_id"] == run_id
    held = (f"another job of this run id, {lock['run_id']} ({lock.get('owner') or 'unknown owner'})" if same_run
            else f"run {lock['run_id']} ({lock.get('owner') or 'unknown owner'})")
    if break_lock:
        return True, f"broke the lock of {held} (rotor_break_lock)"
    if lock.get("expired"):
        return True, f"took over the expired lock of {held}, which expired at {lock.get('expires')}"
    if _same_controller(lock, identity) and lock.get("pid") and not process_is_playbook(lock["pid"], lock.get("started")):
        return True, f"took over the lock of {held}: its ansible-playbook process {lock['pid']} on this controller is gone"
    if same_run:
        return False, (
            f"IAM user {journal.get('user_name')!r} is held by {held} on {lock.get('host') or '?'} "
            f"(pid {lock['pid']}), until {lock.get('expires')}: two jobs cannot share a run id. Give this job its own "
            f"rotor_run_id (or none: each job then gets its own; AWX gives each job its own awx_job_id), or wait for "
            f"that job to finish; if it is dead, run again after the lock expires or with rotor_break_lock=true."
        )
    if not lock.get("pid"):
        # A detached lock (a workflow's, written by a job that has exited) names no process to outlive.
        return False, (
            f"IAM user {journal.get('user_name')!r} is locked by another rotation, {held}, for its whole workflow "
            f"(taken on {lock.get('host') or '?'}; no process recorded: it is freed only when it expires or with "
            f"rotor_break_lock), until {lock.get('expires')}. Wait for it to finish; if that run is dead, run again "
            f"after the lock expires or with rotor_break_lock=true (-e rotor_break_lock=true)."
        )
    return False, (
        f"IAM user {journal.get('user_name')!r} is locked by another rotation, {held} on {lock.get('host') or '?'} "
        f"(pid {lock['pid']}), until {lock.get('expires')}. Wait for it to finish; if that run is dead, "
        f"run again after the lock expires or with rotor_break_lock=true (-e rotor_break_lock=true)."
    )


def boot_id():
    """This boot's id (Linux): a monotonic time means nothing after a reboot or on another machine."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def lease_margin(ttl_minutes):
    """How long before the lock's expiry the holder stops trusting its lease."""
    return min(LEASE_MARGIN_SECONDS, ttl_minutes * 60.0 / 4.0)


def make_lease(user_name, run_id, taken_at, ttl_minutes, journal, tags, tag_count, expires, aws_offset=None):
    """The lease of ``run_id`` on ``user_name``'s lock, written at ``taken_at`` (this controller's monotonic clock,
    read before the TagUser that wrote the lock): while it holds, no other run may take the lock (except with
    break_lock), so the holder needs no read before a key change or a journal write. ``journal``: the journal
    fields as this run left them; ``tags``: the rotor: tags the user has now."""
    return {
        "user_name": user_name,
        "run_id": run_id,
        "valid_until": round(taken_at + ttl_minutes * 60.0 - lease_margin(ttl_minutes), 3),
        "boot_id": boot_id(),
        "expires": expires,
        "journal": {name: journal.get(name) or None for name in SEALED_FIELDS},
        "tags": sorted(tags),
        "tag_count": int(tag_count),
        # How far AWS's clock was ahead of ours when the lock was read: the holder writes expiries in AWS time.
        "aws_offset": aws_offset,
    }


def lease_valid(lease, user_name, run_id, clock=time.monotonic):
    """Does ``lease`` (as an earlier rotation_journal call returned it) still hold for ``run_id`` on ``user_name``?

    Only on the controller and boot that took it, before its ``valid_until``; anything else (a lease from another
    job, a malformed value) is no lease, and the caller reads the lock as if none were given."""
    if not isinstance(lease, dict) or not run_id or lease.get("run_id") != run_id or lease.get("user_name") != user_name:
        return False
    here = boot_id()
    if not here or lease.get("boot_id") != here:
        return False
    try:
        left = float(lease.get("valid_until")) - clock()
    except (TypeError, ValueError):
        return False
    return 0 < left <= LEASE_MAX_SECONDS and isinstance(lease.get("journal"), dict)


def lease_journal(lease, user_name):
    """The journal as the lease's holder left it: what a write under the lease is judged and derived on."""
    known = lease.get("journal") or {}
    journal = {field: (known.get(field) or None) for field in list(FIELD_TAGS) + list(WINDOW_TAGS)}
    journal.update(user_name=user_name, lock={"run_id": lease["run_id"], "expired": False, "expires": lease.get("expires")},
                   tags=sorted(lease.get("tags") or []), tag_count=int(lease.get("tag_count") or 0), policy={}, problems=[])
    journal["in_progress"] = journal["phase"] in IN_PROGRESS_PHASES
    return journal


def _after_write(journal, values, removed=()):
    """The journal fields and rotor: tags once ``values`` ({tag: value}) are written and ``removed`` tags gone."""
    tags = (set(journal.get("tags") or []) | set(values)) - set(removed)
    fields = {name: journal.get(name) for name in SEALED_FIELDS}
    by_tag = {tag: name for name, tag in dict(FIELD_TAGS, **WINDOW_TAGS).items()}
    for tag, value in values.items():
        if by_tag.get(tag) in fields:
            fields[by_tag[tag]] = value or None
    count = int(journal.get("tag_count") or 0) + len(set(values) - set(journal.get("tags") or [])) - len(set(removed) & set(journal.get("tags") or []))
    return fields, tags, count


def read_tags(client, user_name):
    return read_tags_and_aws_time(client, user_name)[0]


def read_tags_and_aws_time(client, user_name):
    """The user's tags, and AWS's clock when it answered (the Date header of the first answer; None without one)."""
    tags, aws_time = [], None
    request = {"UserName": user_name}
    while True:
        response = _call("iam:ListUserTags", client.list_user_tags, user_name=user_name, aws_retry=True, **request)
        aws_time = aws_time or _server_time(response)
        tags.extend(response.get("Tags", []))
        if not response.get("IsTruncated"):
            return tags, aws_time
        request["Marker"] = response["Marker"]


def read_journal(client, user_name, now=None, seal_key=None):
    """The journal as IAM holds it now. A lock's expiry is judged on AWS's clock (the answer's Date header), not on
    this controller's: controllers whose clocks disagree still agree on when a lock expires. ``aws_offset_seconds``:
    how far AWS's clock is ahead of ours (negative: behind), cut to the second; None when AWS sent no Date."""
    tags, aws_time = read_tags_and_aws_time(client, user_name)
    journal = journal_from_tags(tags, now=now or aws_time)
    journal["user_name"] = user_name
    journal["sealed"] = is_sealed(seal_key, user_name, journal, journal.get("seal"))
    journal["seal_required"] = bool(seal_key)  # with a seal key, only a sealed record is believed
    journal["aws_time"] = aws_time
    journal["aws_offset_seconds"] = None if aws_time is None else round((aws_time - utcnow()).total_seconds(), 1)
    return journal


def aws_now(offset_seconds):
    """AWS's time now, from an offset measured earlier (``read_journal``); this controller's when there is none."""
    try:
        return utcnow() + datetime.timedelta(seconds=float(offset_seconds or 0.0))
    except (TypeError, ValueError, OverflowError):
        return utcnow()


def _tag(client, user_name, values, journal=None):
    """Write tags; refuse before writing when the user would pass IAM's limit of 50 tags."""
    if not values:
        return
    if journal is not None:
        new = [k for k in values if k not in journal.get("tags", [])]
        count = journal.get("tag_count", 0)
        if new and count + len(new) > TAG_LIMIT:
            raise RotorIAMError(
                f"IAM user {user_name!r} has {count} tags and the rotation journal needs {len(new)} more "
                f"({', '.join(sorted(new))}), but IAM allows at most {TAG_LIMIT} tags per user. Remove tags the user "
                f"no longer needs (aws iam untag-user --user-name {user_name} --tag-keys ...) and run again.",
                code="TagLimitExceeded",
                action="iam:TagUser",
            )
    tags = [{"Key": k, "Value": sanitize_tag_value(v)} for k, v in sorted(values.items())]
    try:
        _call("iam:TagUser", client.tag_user, user_name=user_name, aws_retry=True, UserName=user_name, Tags=tags)
    except RotorIAMError as exc:
        if exc.code == "LimitExceeded":
            raise RotorIAMError(
                f"IAM refused to tag user {user_name!r}: it is at IAM's limit of {TAG_LIMIT} tags per user, and the "
                f"rotation journal needs room for its rotor: tags. Remove tags the user no longer needs and run again.",
                code="TagLimitExceeded",
                action="iam:TagUser",
            ) from exc
        raise


def _untag(client, user_name, keys):
    if keys:
        _call("iam:UntagUser", client.untag_user, user_name=user_name, aws_retry=True, UserName=user_name, TagKeys=sorted(keys))


def field_values(fields, run_id, now=None, journal=None):
    """Tag values for the journal fields being set (None leaves a field as it is; '' clears it).

    With ``journal`` (as read), clearing a field that has no tag writes nothing for it: an absent tag
    already reads as empty, and an empty one would only use up one of the user's 50 tags.
    """
    present = None if journal is None else set(journal.get("tags", []))
    values = {FIELD_TAGS[name]: value for name, value in fields.items()
              if value is not None and not (value == "" and present is not None and FIELD_TAGS[name] not in present)}
    for name in ("inactive_since", "verified"):
        if fields.get(name) == "now":
            values[FIELD_TAGS[name]] = iso_now(now)
    values.update(window_values(fields, now=now, journal=journal))
    if values:
        values[FIELD_TAGS["run_id"]] = run_id or ""
        values[FIELD_TAGS["updated"]] = iso_now(now)
    return values


def window_values(fields, now=None, journal=None):
    """The creation window a write records (docs/journal.md): ``creating`` opens it (rotor:created-after, AWS time,
    before CreateAccessKey), and the first ``distributing`` that names a new pending key closes it
    (rotor:created-before, after CreateAccessKey answered). A resumed write of the same pending key keeps it."""
    phase = fields.get("phase")
    if phase == "creating":
        present = set((journal or {}).get("tags") or []) if journal is not None else {WINDOW_TAGS["created_before"]}
        closed = {WINDOW_TAGS["created_before"]: ""} if WINDOW_TAGS["created_before"] in present else {}
        return dict({WINDOW_TAGS["created_after"]: iso_now(now)}, **closed)
    pending = fields.get("pending_key_id")
    if phase == "distributing" and pending and pending != (journal or {}).get("pending_key_id"):
        return {WINDOW_TAGS["created_before"]: iso_now(now)}
    return {}


def with_seal(values, journal, user_name, seal_key):
    """``values`` plus the rotor:seal of the journal they leave, when a seal key is given and something is written."""
    if not seal_key or not values:
        return values
    after = {name: journal.get(name) for name in SEALED_FIELDS}
    by_tag = {tag: name for name, tag in dict(FIELD_TAGS, **WINDOW_TAGS).items()}
    for tag, value in values.items():
        if tag in by_tag:
            after[by_tag[tag]] = value or None
    return dict(values, **{SEAL_TAG: seal_of(seal_key, user_name, after)})


def changed_fields(journal, values):
    current = {tag: (journal.get(field) or "") for field, tag in FIELD_TAGS.items()}
    return {tag: value for tag, value in values.items() if tag not in (FIELD_TAGS["updated"], FIELD_TAGS["run_id"]) and current.get(tag) != value}


def lock_journal(client, user_name, run_id, fields=None, ttl_minutes=60, settle_seconds=2.0, break_lock=False,
                 check_mode=False, identity=None, sleep=time.sleep, now=None, owner=None, lease=None, clock=time.monotonic,
                 detached=False, seal_key=None):
    """Take (or renew) the lock of ``user_name`` for ``run_id`` and set journal ``fields``.

    ``detached``: the lock belongs to the run id alone, not to this ansible-playbook process (a workflow's prepare
    job exits and leaves it to the jobs that follow): it is written without a pid and start time, so no run takes it
    over because a process is gone, only once it expires or with ``break_lock``. Every write of this call (take,
    renewal, lease) is detached; a later call without it records its own process again.

    IAM calls: taking the lock 3 (read, TagUser, read back after the settle wait), and one TagUser more
    for fields; renewing or writing fields by the run that holds the lock 2 (read, TagUser; a pure renewal
    reads back: 3). With a valid ``lease`` (the one an earlier call returned, see ``lease_valid``) a write by the
    holder is 1 call, a TagUser of the fields and the renewed lock, with no read: while the lease holds no other
    run may take the lock, so there is nothing a read could find (docs/journal.md, "The lease").
    A phase the transition table does not allow is refused before any write.
    Returns {changed, journal (as read or known before), lock_note, taken, lease (this run's lease after the call)}.
    """
    check_run_id(run_id)
    identity = identity or controller_identity()
    # What the lock records; the verdict on another run's lock still judges it from this process (identity).
    holder = dict(identity, pid=None, started=None) if detached else identity
    # Times written (the expiry, the journal's) are AWS's: under a lease from the offset measured when it was taken.
    moment = now or aws_now(lease.get("aws_offset") if isinstance(lease, dict) else None)
    expires = moment + datetime.timedelta(minutes=ttl_minutes)
    if not break_lock and lease_valid(lease, user_name, run_id, clock=clock):
        journal = lease_journal(lease, user_name)
        to_write = check_write(journal, user_name, fields or {})
        values = with_seal(field_values(to_write, run_id, now=moment, journal=journal), journal, user_name, seal_key)
        lock_values = _lock_values(run_id, owner or lease.get("owner") or identity.get("owner") or "", holder, expires)
        result = {"changed": bool(changed_fields(journal, values)), "journal": journal, "lock_note": None, "taken": False}
        if check_mode:
            result["lease"] = lease
            return result
        taken_at = clock()
        _tag(client, user_name, {**values, **lock_values}, journal=journal)
        known, tags, count = _after_write(journal, {**values, **lock_values})
        result["lease"] = dict(make_lease(user_name, run_id, taken_at, ttl_minutes, known, tags, count, iso_now(expires), lease.get("aws_offset")),
                               owner=lock_values[LOCK_TAGS["owner"]])
        return result
    journal = read_journal(client, user_name, now=now, seal_key=seal_key)
    offset = journal.get("aws_offset_seconds")
    if now is None and journal.get("aws_time") is not None:
        moment = journal["aws_time"]
        expires = moment + datetime.timedelta(minutes=ttl_minutes)
    now = now or journal.get("aws_time")
    allowed, note = lock_verdict(journal, run_id, identity, now=now, break_lock=break_lock)
    if not allowed:
        raise RotorIAMError(note, code="RotationLocked", action="rotor.iam.rotation_journal")
    to_write = check_write(journal, user_name, fields or {})
    # Taking: the lock is not this job's yet (free, another run's, or another job's of the same run id).
    taking = not holds_lock(journal["lock"], run_id, holder)
    values = with_seal(field_values(to_write, run_id, now=moment, journal=journal), journal, user_name, seal_key)
    # A renewal keeps the owner named when the lock was taken, unless a new one is given.
    owner = owner or (None if taking else journal["lock"].get("owner")) or identity.get("owner") or ""
    lock_values = _lock_values(run_id, owner, holder, expires)
    result = {"changed": True, "journal": journal, "lock_note": note, "taken": taking}
    if check_mode:
        result["changed"] = taking or bool(changed_fields(journal, values))
        return result
    taken_at = clock()
    if not taking:
        _tag(client, user_name, {**values, **lock_values}, journal=journal)
        known, tags, count = _after_write(journal, {**values, **lock_values})
        if not values:
            # A pure renewal (the drain's, before a long wait) reads back: a run that broke our lock
            # meanwhile must stop us here. A field write needs no read-back: the read above confirmed the
            # lock, and only rotor_break_lock could have taken it since.
            after = _require_own_lock(read_journal(client, user_name, now=now), user_name, run_id, "renewing it")
            known, tags, count = after, after["tags"], after["tag_count"]
        result["lease"] = dict(make_lease(user_name, run_id, taken_at, ttl_minutes, known, tags, count, iso_now(expires), offset), owner=owner)
        return result
    _tag(client, user_name, lock_values, journal=journal)
    # Another run may have written its lock at the same moment: the last write wins, so wait
    # for the writes to settle and go on only if the lock still names this run.
    sleep(settle_seconds)
    after = read_journal(client, user_name, now=now)
    if not holds_lock(after["lock"], run_id, holder):
        other = after["lock"] or {}
        raise RotorIAMError(
            f"IAM user {user_name!r} was locked at the same moment by another rotation, run "
            f"{other.get('run_id')} ({other.get('owner') or 'unknown owner'}), until {other.get('expires')}. "
            f"That run goes on; wait for it to finish.",
            code="RotationLocked",
            action="rotor.iam.rotation_journal",
        )
    # Judge and derive the fields again on the journal as it is now that the lock is ours.
    to_write = check_write(after, user_name, fields or {})
    values = with_seal(field_values(to_write, run_id, now=moment, journal=after), after, user_name, seal_key)
    _tag(client, user_name, values, journal=after)
    known, tags, count = _after_write(after, values)
    result["lease"] = dict(make_lease(user_name, run_id, taken_at, ttl_minutes, known, tags, count, iso_now(expires), offset), owner=owner)
    return result


def _lock_values(run_id, owner, identity, expires):
    return {
        LOCK_TAGS["run_id"]: run_id,
        LOCK_TAGS["owner"]: owner,
        LOCK_TAGS["host"]: identity.get("host") or "",
        LOCK_TAGS["machine"]: identity.get("machine") or "",
        LOCK_TAGS["pid"]: identity.get("pid") or "",
        LOCK_TAGS["started"]: identity.get("started") or "",
        LOCK_TAGS["expires"]: iso_now(expires),
    }


def _require_own_lock(journal, user_name, run_id, doing):
    lock = journal.get("lock")
    if lock and lock["run_id"] == run_id and not lock.get("expired"):
        return journal
    if lock and lock["run_id"] == run_id:
        why = f"this run's lock expired at {lock.get('expires')}"
    elif lock:
        why = f"run {lock['run_id']} ({lock.get('owner') or 'unknown owner'}) holds it now"
    else:
        why = "no run holds it now (it was released or removed)"
    raise RotorIAMError(
        f"Stopped before {doing}: run {run_id} no longer holds the rotation lock of IAM user {user_name!r}; {why}. "
        f"Nothing was changed by this step. Find out who took the lock over, then run the rotation again.",
        code="LockLost",
        action="rotor.iam.rotation_journal",
    )


def require_lock(client, user_name, run_id, doing="changing a key", now=None):
    """Read the journal right before an IAM key change and refuse unless ``run_id`` still holds the lock."""
    return _require_own_lock(read_journal(client, user_name, now=now), user_name, run_id, doing)


def lock_guard(client, user_name, lock_run_id, doing, check_mode=False, lease=None, clock=time.monotonic):
    """The lock check of every key-changing module (option lock_run_id), as a callable the module runs
    right before its IAM write: one ListUserTags, refusing with LockLost unless ``lock_run_id`` still holds
    an unexpired lock. None when no run is named, in check mode (no run holds locks there), or while the
    run's ``lease`` (option lock_lease) holds: then no other run can have taken the lock."""
    if not lock_run_id or check_mode or lease_valid(lease, user_name, lock_run_id, clock=clock):
        return None

    def check():
        require_lock(client, user_name, lock_run_id, doing=doing)

    return check


def update_journal(client, user_name, run_id, fields, unlock=False, break_lock=False, check_mode=False, now=None, identity=None,
                   lease=None, clock=time.monotonic, seal_key=None):
    """Set journal ``fields`` (the caller must hold the lock) and optionally release the lock.

    IAM calls: one read, one TagUser when a field changes, one UntagUser when there is a lock to
    release; so completing and releasing (phase completed, unlock) is 3 calls in one module call, 2 with a
    valid ``lease`` (no read: the lease says what the journal holds).
    A phase the transition table does not allow is refused before any write.
    """
    check_run_id(run_id)
    if not break_lock and lease_valid(lease, user_name, run_id, clock=clock):
        journal = lease_journal(lease, user_name)
        now = now or aws_now(lease.get("aws_offset"))
    else:
        journal = read_journal(client, user_name, now=now, seal_key=seal_key)
        now = now or journal.get("aws_time")
        lock = journal["lock"]
        identity = identity or controller_identity()
        if lock and not holds_lock(lock, run_id, identity) and not break_lock:
            allowed, note = lock_verdict(journal, run_id, identity, now=now)
            if not allowed:
                raise RotorIAMError(note, code="RotationLocked", action="rotor.iam.rotation_journal")
    values = with_seal(field_values(check_write(journal, user_name, fields or {}), run_id, now=now, journal=journal), journal, user_name, seal_key)
    to_change = changed_fields(journal, values)
    release = [tag for tag in LOCK_TAGS.values() if tag in journal["tags"]] if unlock else []
    result = {"changed": bool(to_change or release), "journal": journal, "lock_note": None}
    if check_mode or not result["changed"]:
        return result
    if to_change:
        _tag(client, user_name, values, journal=journal)
    # Fields first, lock last: a run that dies between the two leaves a finished journal still locked,
    # which the next run takes over (expired, or its process gone), never an unlocked half-written one.
    _untag(client, user_name, release)
    return result


def clear_journal(client, user_name, check_mode=False, now=None, run_id=None, break_lock=False, identity=None, lease=None,
                  clock=time.monotonic):
    """Remove every rotor: tag; refuses while another live run holds the lock, unless ``break_lock``.

    IAM calls: a read and one UntagUser; with a valid ``lease`` of ``run_id`` only the UntagUser, of every journal
    and lock tag the user may have (IAM ignores keys it does not have): how a rotation completes and releases
    the user in one call."""
    check_run_id(run_id)
    if lease_valid(lease, user_name, run_id, clock=clock):
        journal = lease_journal(lease, user_name)
        tags = sorted(set(journal["tags"]) | set(FIELD_TAGS.values()) | set(LOCK_TAGS.values()) | set(WINDOW_TAGS.values()) | {SEAL_TAG})
        if not check_mode:
            _untag(client, user_name, tags)
        return {"changed": True, "journal": journal, "lock_note": None}
    journal = read_journal(client, user_name, now=now)
    note = None
    identity = identity or controller_identity()
    if journal["lock"] and not holds_lock(journal["lock"], run_id, identity):
        allowed, note = lock_verdict(journal, run_id, identity, now=now, break_lock=break_lock)
        if not allowed:
            raise RotorIAMError(
                note.replace("Wait for it to finish;", "Clearing its journal now would let two runs rotate the user. "
                             "Wait for it to finish;").replace("run again after", "clear it after"),
                code="RotationLocked",
                action="rotor.iam.rotation_journal",
            )
    result = {"changed": bool(journal["tags"]), "journal": journal, "lock_note": note}
    if journal["tags"] and not check_mode:
        _untag(client, user_name, journal["tags"])
    return result


def public_journal(journal):
    """The journal as the module returns it (no internals)."""
    if journal is None:
        return None
    fields = ("user_name", "phase", "pending_key_id", "current_key_id", "previous_key_id", "inactive_since", "verified", "run_id", "updated",
              "in_progress", "problems", "policy")
    shown = {k: journal.get(k) for k in fields}
    for name in KEY_FIELDS:
        shown[name] = shown_key_id(shown[name])  # a hand-written tag may hold anything
    shown["phase"] = _shown_phase(shown["phase"])
    shown["lock"] = dict(journal["lock"]) if journal.get("lock") else None
    # The creation window rotor recorded around CreateAccessKey, and whether the record is sealed (docs/journal.md).
    shown.update(created_after=journal.get("created_after"), created_before=journal.get("created_before"), sealed=journal.get("sealed") is True,
                 seal_required=bool(journal.get("seal_required")))
    # How far AWS's clock is ahead of this controller's (seconds, negative: behind); None when not measured.
    shown["aws_clock_offset_seconds"] = journal.get("aws_offset_seconds")
    return shown
