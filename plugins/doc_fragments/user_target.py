# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The user a task acts on, as one value (module_utils/_user_target.py declares the spec once).
    DOCUMENTATION = r"""
options:
  iam_user:
    description:
      - The IAM user this task acts on and the connection that reaches it, as one value (what the rotate role passes
        for each user). Its O(iam_user.profile), O(iam_user.region) and O(iam_user.endpoint_url) replace the task's own
        connection options; one left out means "not set" (the environment's).
      - Give either O(iam_user) or O(user_name), not both.
    type: dict
    version_added: 0.4.0
    suboptions:
      name:
        description: The IAM user's name (or C(ACCOUNT:USER) where the module's O(user_name) accepts it).
        type: str
        required: true
      profile:
        description: The AWS profile (named credentials) that reaches the user's account.
        type: str
      region:
        description: The AWS region of the connection.
        type: str
      endpoint_url:
        description: The URL of the IAM (and STS) endpoint, for testing or a private endpoint.
        type: str
"""

    # Modules that only need a user's connection (its name is optional).
    CONNECTION = r"""
options:
  iam_user:
    description:
      - The connection of an IAM user, as one value (what the rotate role passes for each user); its
        O(iam_user.profile), O(iam_user.region) and O(iam_user.endpoint_url) replace the task's own connection options;
        one left out means "not set" (the environment's).
    type: dict
    version_added: 0.4.0
    suboptions:
      name:
        description: The IAM user's name; not used by this module beyond naming the user in messages.
        type: str
      profile:
        description: The AWS profile (named credentials) that reaches the user's account.
        type: str
      region:
        description: The AWS region of the connection.
        type: str
      endpoint_url:
        description: The URL of the IAM (and STS) endpoint, for testing or a private endpoint.
        type: str
"""

    # The run's lock, as one value.
    LOCK = r"""
options:
  lock:
    description:
      - The rotation run's lock on the user, as one value (M(rotor.iam.rotation_journal) returns the lease). It stands for
        this module's flat lock options, which it excludes.
    type: dict
    version_added: 0.4.0
    suboptions:
      run_id:
        description: The id of the rotation run that holds (or takes) the user's lock.
        type: str
        required: true
      lease:
        description: The lease M(rotor.iam.rotation_journal) returned for this run's lock (RV(rotor.iam.rotation_journal#module:lease)).
        type: dict
      ttl_minutes:
        description: How long a lock this task takes or renews lasts, in minutes (M(rotor.iam.rotation_journal) only).
        type: int
      detached:
        description: The lock belongs to the run id rather than to this process (M(rotor.iam.rotation_journal) only).
        type: bool
"""
