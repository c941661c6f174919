#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rotation_journal
version_added: 0.2.0
short_description: Read, lock and update the rotation journal kept in an IAM user's tags
description:
  - A key rotation that dies half way (a cancelled AWX job, a rebooted controller) must be finished or rolled
    back by the next run, from any controller. The journal records where the rotation of one IAM user stands,
    in that user's own tags (prefix C(rotor:)), so every controller sees the same state.
  - Fields are the phase (V(creating), V(distributing), V(cutover), V(completed), V(rolling_back), V(rolled_back)),
    the pending, current and previous key ids, when the previous key was deactivated, and the run that wrote them.
  - A lock in the same tags keeps two runs off one user. IAM has no conditional writes, so the lock is taken by
    writing it, waiting O(settle_seconds) and reading it back; of runs that race, only the last writer goes on.
  - A lock is taken over when it has expired, when the ansible-playbook process that holds it is gone from this
    controller, or with O(break_lock=true). "This controller" means the same machine id (C(/etc/machine-id)) AND boot
    id AND pid namespace (tag C(rotor:lock-machine), V(m=<machine id>/b=<boot id>/p=<pid namespace>)), never the
    hostname, because cloned VMs share a machine id, containers share the boot id and often the hostname, and a pid
    means one process only inside one pid namespace of one boot. A lock that records less (an older release's) is taken
    over only once it expires. The process is judged by its pid and its start time, so a reused pid does
    not keep a dead run's lock alive. A lock written with O(detached=true) names no process and is taken over only
    once it has expired or with O(break_lock=true).
  - Expiries are written and judged on AWS's clock (the C(Date) header of IAM's answers), so controllers whose
    clocks disagree, by any amount, agree on when a lock expires; RV(journal.aws_clock_offset_seconds) shows how
    far AWS's clock is ahead of this controller's.
  - A renewal (O(state=locked) by the run that holds the lock, without fields) reads the lock back after writing it,
    and fails with C(LockLost) when another run took it meanwhile. A phase or field write by the run that holds the
    lock does not read back, because the read just before it confirmed the lock and the run's next step reads it again.
  - Every O(state=locked) call returns RV(lease). While it holds (measured on this controller's monotonic clock
    from before the C(TagUser) that wrote the lock, until the lock's expiry less a margin of a quarter of
    O(lock_ttl_minutes), at most 5 minutes), no other run may take the lock except with O(break_lock=true). Given
    back as O(lease) by the same run on the same controller, a write needs no read of the journal. A phase write
    is one C(TagUser) (the fields and the renewed lock), O(state=unlocked) a C(TagUser) and an C(UntagUser), and
    O(state=absent) one C(UntagUser) of every journal and lock tag (how a rotation completes and releases the user
    in one call). The transition table and the derived fields are judged on the journal the lease says this run
    left. A lease that has run out, belongs to another run, user, controller or boot counts as not given.
  - A O(phase) is written only where the transition table allows it from the phase recorded; otherwise the task
    fails with C(IllegalTransition), naming the user and both phases, before anything is written (also in check
    mode). From no journal (or only a lock) only V(creating) may follow; V(creating) may follow any phase (a run
    starts over); V(creating) may be followed by V(distributing), V(cutover), V(rolling_back) and V(rolled_back);
    V(distributing) by V(cutover), V(rolling_back), V(rolled_back), V(completed) and V(creating); V(cutover) by
    V(distributing) (an old key reactivated on resume), V(rolling_back), V(completed) and V(creating);
    V(rolling_back) by V(distributing) (a staged pending key kept), V(rolled_back), V(completed) and V(creating);
    V(completed) and V(rolled_back) only by V(creating). Every phase may be written again. docs/journal.md
    explains each edge.
  - The key fields not given follow from the phase written (a given value, even an empty one, always wins).
    V(creating) keeps the old key as current and clears pending, previous and inactive_since, and needs a current
    key. V(distributing) keeps the old key current and the new one pending, clears previous and inactive_since,
    and needs a pending key. V(cutover) makes the pending key current and the old key previous, clears pending, and
    keeps inactive_since while the previous key stays the same. V(rolling_back) puts the old key back as current
    with the new one pending; previous and inactive_since stay only when O(previous_key_id) is given.
    V(rolled_back) keeps the old key current and clears the rest. V(completed) makes the new key current and clears
    pending; previous and inactive_since stay after V(cutover) (an old key left Inactive) unless cleared with
    O(previous_key_id=""), and are cleared after any other phase. A pending key is never also current or previous.
  - Values are checked before anything is written; key ids must look like AWS access key ids, O(inactive_since)
    must be an ISO 8601 time, V(now) or empty. Tag values are written in IAM's character set, at most 256
    characters. A user at IAM's limit of 50 tags gets an error that says so, before anything is written.
  - The journal never holds a secret, only key ids.
author:
  - rotor.iam maintainers (@rotor-iam)
options:
  user_name:
    description: The IAM user whose journal to read or change.
    type: str
    aliases: [user]
  state:
    description:
      - V(read) returns the journal and changes nothing.
      - V(locked) takes the lock for O(run_id), or renews it when the run already holds it, then sets the given fields.
        Fails naming the owner and the expiry when another live run holds the lock.
      - V(unlocked) sets the given fields and releases the lock of O(run_id), in one module call (read, C(TagUser) for
        the fields, C(UntagUser) for the lock); O(state=unlocked) with O(phase=completed) finishes a rotation and
        releases the user. The fields are written before the lock is released, so a run that dies between the two
        leaves a finished journal that is still locked, never an unlocked half-written one.
      - V(absent) removes every C(rotor:) tag of the user (the journal and any lock). Refused while another live run
        holds the lock (one that is not O(run_id), not expired and whose process may still run), unless O(break_lock=true).
    type: str
    choices: [read, locked, unlocked, absent]
    default: read
  run_id:
    description:
      - Identifies the run taking or holding the lock, and is recorded with every field written.
      - Required with O(state=locked) and O(state=unlocked).
      - 1 to 128 characters, ASCII letters, digits, spaces (not first) and C(_.:/=+-@), which a tag keeps as
        they are, so the run recognises its own lock. Anything else fails with C(InvalidRunId) before anything is written.
    type: str
  owner:
    description:
      - Who holds the lock, for people reading a refusal (for example C(AWX job 1234)).
      - Defaults to C(login@controller).
    type: str
  lock_ttl_minutes:
    description: How long the lock holds without being renewed.
    type: int
    default: 60
  settle_seconds:
    description: With O(state=locked), how long to wait before reading a newly written lock back.
    type: float
    default: 2.0
  break_lock:
    description: Take or release the lock even though another live run holds it.
    type: bool
    default: false
  detached:
    description:
      - With O(state=locked), the lock belongs to O(run_id) alone, not to this ansible-playbook process. It is written
        without a process id and start time (C(rotor:lock-pid) and C(rotor:lock-started) empty), so no other run takes
        it over because a process is gone, only once it has expired (O(lock_ttl_minutes)) or with O(break_lock=true).
      - Meant for a workflow whose jobs share one run id, where C(rotor.iam.rotate_prepare) takes the lock and exits,
        and the later jobs of the same run id carry on under it. Every write of the call is detached (taking, renewing, a write under
        O(lease)); a later call of the same run without it records that call's process again.
      - Ignored with the other states.
    type: bool
    default: false
    version_added: 0.4.0
  phase:
    description: The phase to record.
    type: str
    choices: [creating, distributing, cutover, completed, rolling_back, rolled_back, waiting_for_quiet]
  pending_key_id:
    description: The new key being distributed. An empty string clears it.
    type: str
  current_key_id:
    description: The key the fleet runs on. An empty string clears it.
    type: str
  previous_key_id:
    description: The key being retired. An empty string clears it.
    type: str
  inactive_since:
    description: When O(previous_key_id) was deactivated, ISO 8601; V(now) records the current time; empty clears it.
    type: str
  seal_key:
    description:
      - A secret only rotor.iam holds (from a vault, an AWX credential), used to seal the journal. Every write also
        writes C(rotor:seal), an HMAC-SHA256 over the user name and the journal tags a resumed run acts on, and a
        read says in RV(journal.sealed) whether the record verifies.
      - A resumed run reactivates a key only on a sealed record that rotor deactivated it; an unsealed one (no key,
        or hand-written by someone with C(iam:TagUser)) is advice only. See C(docs/journal.md), "The journal is advice".
      - Defaults to the environment variable C(ROTOR_JOURNAL_SEAL_KEY), so every task of a run gets it without
        being told; leave both unset to write no seal.
    type: str
  verified:
    description:
      - When this run began proving O(pending_key_id) with its own calls (C(rotor.iam.rotate) writes V(now) with the
        V(distributing) phase, right before the new key's verify). A resumed run that finds the pending key held by no
        host, yet used since then, knows the use was that verify's, and replaces the key instead of refusing it.
      - ISO 8601, V(now), or empty to clear it; kept only while the pending key stays the same.
    type: str
    version_added: 0.3.0
  lease:
    description:
      - The RV(lease) an earlier O(state=locked) call of this run returned (the latest one). While it holds, the
        write reads nothing first (see the description). Ignored with O(break_lock=true) and when it does not
        hold; then the journal is read as without it.
    type: dict
    version_added: 0.4.0
extends_documentation_fragment:
  - rotor.iam.user_target
  - rotor.iam.user_target.LOCK
  - rotor.iam.attributes
  - rotor.iam.attributes.action_group
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Needs C(iam:ListUserTags), C(iam:TagUser) and C(iam:UntagUser) on the user.
  - "IAM calls: V(read) 1; taking the lock 3 (read, C(TagUser), read back after O(settle_seconds)), 4 with a phase;
    renewing it 3 (read, C(TagUser), read back); a phase written by the run that holds the lock 2 (read, C(TagUser));
    V(unlocked) 2, or 3 with fields (read, C(TagUser), C(UntagUser)); V(absent) 2. With a valid O(lease) the read is
    skipped: a phase write or a renewal 1, V(unlocked) 1 or 2, V(absent) 1."
  - Clearing a field whose tag does not exist writes nothing for it, so the journal uses no more of the user's
    50 tags than it needs.
"""

EXAMPLES = r"""
- name: Read where the rotation of app-backup stands
  rotor.iam.rotation_journal:
    user_name: app-backup
  register: journal

- name: Lock the user for this run and record the start of a rotation
  rotor.iam.rotation_journal:
    user_name: app-backup
    state: locked
    run_id: "{{ run_id }}"
    phase: creating
    current_key_id: AKIAOLDKEYEXAMPLE0001

- name: Record the new key (the run holds the lock, the lock is renewed; 2 IAM calls)
  rotor.iam.rotation_journal:
    user_name: app-backup
    state: locked
    run_id: "{{ run_id }}"
    phase: distributing
    pending_key_id: AKIANEWKEYEXAMPLE0002

- name: Cut over - the new key becomes current and the old one previous (derived from the journal)
  rotor.iam.rotation_journal:
    user_name: app-backup
    state: locked
    run_id: "{{ run_id }}"
    phase: cutover
    inactive_since: now

- name: Lock the user for a workflow's run id, beyond this job's process (freed only by expiry or break_lock)
  rotor.iam.rotation_journal:
    user_name: app-backup
    state: locked
    run_id: "{{ rotor_run_id }}"
    detached: true
    lock_ttl_minutes: 240

- name: Lock the user and keep the lease
  rotor.iam.rotation_journal:
    user_name: app-backup
    state: locked
    run_id: "{{ run_id }}"
  register: lock

- name: Record the new key under the lease (1 IAM call, TagUser)
  rotor.iam.rotation_journal:
    user_name: app-backup
    state: locked
    run_id: "{{ run_id }}"
    lease: "{{ lock.lease }}"
    phase: distributing
    current_key_id: AKIAOLDKEYEXAMPLE0001
    pending_key_id: AKIANEWKEYEXAMPLE0002

- name: Complete and release in one call (UntagUser of every rotor journal and lock tag)
  rotor.iam.rotation_journal:
    user_name: app-backup
    state: absent
    run_id: "{{ run_id }}"
    lease: "{{ lock.lease }}"

- name: Finish the rotation and release the lock in one call (the old key deleted, so previous is cleared)
  rotor.iam.rotation_journal:
    user_name: app-backup
    state: unlocked
    run_id: "{{ run_id }}"
    phase: completed
    previous_key_id: ""
    inactive_since: ""
"""

RETURN = r"""
journal:
  description: The journal as it was before this task changed it.
  returned: always
  type: dict
  contains:
    problems:
      description: Journal tags whose values are malformed (hand-edited), each with C(tag), C(value) and C(why).
      type: list
      elements: dict
    phase:
      description: The phase reached, or null when the user was never rotated by rotor.iam.
      type: str
      sample: distributing
    pending_key_id:
      description: The new key while it is distributed.
      type: str
      sample: AKIANEWKEYEXAMPLE0002
    current_key_id:
      description: The key the fleet runs on.
      type: str
    previous_key_id:
      description: The key being retired.
      type: str
    inactive_since:
      description: When the previous key was deactivated.
      type: str
    run_id:
      description: The run that wrote the phase.
      type: str
    updated:
      description: When the phase was written.
      type: str
    created_after:
      description: When the last V(creating) was written (AWS time), just before C(CreateAccessKey) - the start of the creation window.
      type: str
    created_before:
      description: When the key it made was recorded (AWS time), right after C(CreateAccessKey) - the end of the creation window.
      type: str
    sealed:
      description: Whether the record carries a C(rotor:seal) that verifies with O(seal_key) (always false without one).
      type: bool
    in_progress:
      description: Whether a rotation was interrupted (phase creating, distributing, cutover or rolling_back).
      type: bool
    lock:
      description:
        - The lock, or null; C(run_id), C(owner), C(host), C(pid), C(expires), C(expired).
        - C(pid) is null for a lock that names no process (written with O(detached=true)).
      type: dict
    aws_clock_offset_seconds:
      description:
        - How many seconds AWS's clock (the C(Date) header of the answer that read the journal) is ahead of this
          controller's, negative when behind; null when the journal was not read from IAM or AWS sent no date.
      type: float
lock_note:
  description: How the lock was taken when it was not free (expired, owner gone, broken), else null.
  returned: always
  type: str
lease:
  description:
    - This run's lease on the lock after the call; give it back as O(lease) (and to the key modules as
      C(lock_lease)) so that later steps need not read the lock. It holds no secret.
  returned: with O(state=locked), when not in check mode
  type: dict
  contains:
    user_name:
      description: The IAM user.
      type: str
    run_id:
      description: The run that holds the lock.
      type: str
    valid_until:
      description: Until when the lease holds, in seconds of this controller's monotonic clock.
      type: float
      sample: 123456.789
    boot_id:
      description: The boot of this controller the monotonic clock belongs to.
      type: str
    expires:
      description: The lock's expiry as written in C(rotor:lock-expires).
      type: str
      sample: "2026-12-01T15:00:00+00:00"
    journal:
      description: The journal fields (phase, key ids, inactive_since) as this run left them.
      type: dict
    tags:
      description: The C(rotor:) tags the user has after the call.
      type: list
      elements: str
    tag_count:
      description: How many tags the user has after the call.
      type: int
"""

from ansible.module_utils.basic import env_fallback

from ansible_collections.rotor.iam.plugins.module_utils.redact import shown_key_id
from ansible_collections.rotor.iam.plugins.module_utils.redact import withhold_options
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import clear_journal
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import KEY_FIELDS
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import controller_identity
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import is_access_key_id
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import parse_time
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import lock_journal
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import public_journal
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import read_journal
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import update_journal
from ansible_collections.rotor.iam.plugins.module_utils._user_target import with_user_target
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import build_module
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import iam_client
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import run

FIELDS = ("phase", "pending_key_id", "current_key_id", "previous_key_id", "inactive_since", "verified")


def _own_spec():
    """The module's own options and their constraints (amazon.aws adds the connection options)."""
    argument_spec = dict(
        user_name=dict(type="str", required=True, aliases=["user"]),
        state=dict(type="str", default="read", choices=["read", "locked", "unlocked", "absent"]),
        run_id=dict(type="str"),
        owner=dict(type="str"),
        lock_ttl_minutes=dict(type="int", default=60),
        settle_seconds=dict(type="float", default=2.0),
        break_lock=dict(type="bool", default=False),
        detached=dict(type="bool", default=False),
        phase=dict(type="str", choices=["creating", "distributing", "cutover", "completed", "rolling_back", "rolled_back", "waiting_for_quiet"]),
        pending_key_id=dict(type="str"),
        current_key_id=dict(type="str"),
        previous_key_id=dict(type="str"),
        inactive_since=dict(type="str"),
        verified=dict(type="str"),
        lease=dict(type="dict", no_log=False),
        seal_key=dict(type="str", no_log=True, fallback=(env_fallback, ["ROTOR_JOURNAL_SEAL_KEY"])),
    )
    return dict(argument_spec=argument_spec, required_if=[("state", "locked", ["run_id"]), ("state", "unlocked", ["run_id"])])


def module_spec():
    """The module's options: its own, with the shared ``iam_user`` and ``lock`` (amazon.aws adds the connection options)."""
    return with_user_target(_own_spec(), lock=True)


def execute(module):
    """The module's work: exits through ``module`` (a module run or its action plugin on the controller)."""
    params = module.params
    withhold_options(module, *KEY_FIELDS)
    if params["lock_ttl_minutes"] < 1:
        module.fail_json(msg=f"lock_ttl_minutes must be at least 1 (got {params['lock_ttl_minutes']}).")
    if params["settle_seconds"] < 0:
        module.fail_json(msg=f"settle_seconds must not be negative (got {params['settle_seconds']}).")
    fields = {name: params[name] for name in FIELDS}
    for name in KEY_FIELDS:
        if fields[name] and not is_access_key_id(fields[name]):
            module.fail_json(msg=f"{name} {shown_key_id(fields[name])} does not look like an AWS access key id (AKIA or ASIA "
                                 f"and 16 upper-case letters or digits); give the key id, or an empty string to clear the field.")
    since = fields["inactive_since"]
    if since and since != "now" and parse_time(since) is None:
        module.fail_json(msg=f"inactive_since {since!r} is not an ISO 8601 time; give one (2026-11-30T12:00:00+00:00), "
                             f"'now', or an empty string to clear it.")
    verified = fields["verified"]
    if verified and verified != "now" and parse_time(verified) is None:
        module.fail_json(msg=f"verified {verified!r} is not an ISO 8601 time; give one, 'now', or an empty string to clear it.")
    client = iam_client(module)

    def operation():
        user_name, state = params["user_name"], params["state"]
        if state == "read":
            result = {"changed": False, "journal": read_journal(client, user_name, seal_key=params["seal_key"]), "lock_note": None}
        elif state == "absent":
            result = clear_journal(client, user_name, check_mode=module.check_mode, run_id=params["run_id"],
                                   break_lock=params["break_lock"], identity=controller_identity(), lease=params["lease"])
        elif state == "locked":
            result = lock_journal(
                client, user_name, params["run_id"], fields=fields, ttl_minutes=params["lock_ttl_minutes"],
                settle_seconds=params["settle_seconds"], break_lock=params["break_lock"], check_mode=module.check_mode,
                identity=controller_identity(), owner=params["owner"], lease=params["lease"], detached=params["detached"],
                seal_key=params["seal_key"],
            )
        else:
            result = update_journal(
                client, user_name, params["run_id"], fields, unlock=True, break_lock=params["break_lock"], check_mode=module.check_mode,
                lease=params["lease"], seal_key=params["seal_key"],
            )
        result.pop("taken", None)
        result["journal"] = public_journal(result["journal"])
        return result

    run(module, operation, action="iam:TagUser")


def main():
    execute(build_module(**module_spec()))


if __name__ == "__main__":
    main()
