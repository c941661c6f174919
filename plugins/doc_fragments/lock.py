# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The option of the key-changing modules that ties each change to a rotation run's lock.
    DOCUMENTATION = r"""
options:
  lock_run_id:
    description:
      - The run id of a rotation that holds the user's lock (M(rotor.iam.rotation_journal)). When given, the
        user's journal is read (one C(iam:ListUserTags)) right before the IAM write, and the task fails with
        C(LockLost), changing nothing, unless that run still holds an unexpired lock.
      - Not checked when there is nothing to change (the key already has the status asked for, or is already
        gone), nor in check mode, where no run holds locks.
    type: str
    version_added: 0.3.0
  lock_lease:
    description:
      - The lease of the run named by O(lock_run_id), as M(rotor.iam.rotation_journal) returned it (RV(rotor.iam.rotation_journal#module:lease)).
        While it holds (on the controller and boot that took it, before its C(valid_until)), no other run can have taken
        the lock, so the lock is not read (no C(iam:ListUserTags)). A lease that does not hold is ignored and the lock
        is read as without it.
    type: dict
    version_added: 0.4.0
"""
