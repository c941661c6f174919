#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: access_key_create
short_description: Create a new IAM access key for a user, safely within the two-key limit
version_added: 0.1.0
description:
  - Creates a new access key for an IAM user and returns its secret, which AWS hands out only this once.
  - IAM allows two keys per user. When the user already has two, O(when_full) decides what happens;
    an Active key is never deleted to make room.
  - With O(when_full=fail) the module calls C(CreateAccessKey) directly, without listing the keys first
    (one IAM call); when IAM answers C(LimitExceeded) it lists them then, and fails naming both keys. The keys
    are listed first in check mode, with O(when_full=delete_inactive), and with C(--diff) (the diff shows them).
  - C(CreateAccessKey) has no idempotency token. When a create call fails in a way that leaves it unknown
    whether the key was made (server error, timeout), the module lists the user's keys again and deletes
    a key that appeared without its secret reaching us, so no orphan key fills the second slot. Without a
    listing from before, a key counts as that orphan only when AWS dates it after the failed call (judged on
    AWS's clock, from the listing's C(Date) header) and it was never used (C(GetAccessKeyLastUsed)).
  - Every run creates a new key; this module is not idempotent by design. Guard it with
    M(rotor.iam.access_key_info) or use the C(rotor.iam.rotate) role, which decides when a key is due.
author:
  - rotor.iam maintainers (@rotor-iam)
options:
  user_name:
    description:
      - Name of the IAM user to create the key for.
    type: str
    aliases: [user]
  when_full:
    description:
      - What to do when the user already has two access keys.
      - V(fail) fails, naming both keys and their status.
      - V(delete_inactive) deletes an Inactive key (the oldest if both are) to free the slot, and fails if
        both keys are Active.
    type: str
    choices: [fail, delete_inactive]
    default: fail
extends_documentation_fragment:
  - rotor.iam.user_target
  - rotor.iam.attributes
  - rotor.iam.attributes.ACTION_GROUP
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - The result carries the new secret in RV(secret_access_key). Run this task with C(no_log=true) and do not
    print the registered result; hand the secret straight to where it is used (for example
    M(rotor.iam.credentials_file), whose secret option is C(no_log)).
  - The diff shows access key ids only, never a secret.
  - Needs C(iam:CreateAccessKey), C(iam:ListAccessKeys), C(iam:GetAccessKeyLastUsed) (after a failed create) and,
    with O(when_full=delete_inactive) or after a failed create, C(iam:DeleteAccessKey).
seealso:
  - module: rotor.iam.access_key_verify
  - module: rotor.iam.access_key_info
"""

EXAMPLES = r"""
- name: Create a new key for app-backup, making room by deleting an Inactive key if needed
  rotor.iam.access_key_create:
    user_name: app-backup
    when_full: delete_inactive
  register: new_key
  no_log: true

- name: Wait until the new key works everywhere
  rotor.iam.access_key_verify:
    access_key_id: "{{ new_key.access_key_id }}"
    secret_access_key: "{{ new_key.secret_access_key }}"
  no_log: true
"""

RETURN = r"""
access_key:
  description: Metadata of the new key (no secret). In check mode, V(null).
  returned: always
  type: dict
  contains:
    access_key_id:
      description: The new access key id.
      returned: success
      type: str
      sample: AKIAIOSFODNN7EXAMPLE
    user_name:
      description: The user the key belongs to.
      returned: success
      type: str
      sample: app-backup
    status:
      description: Always V(Active) for a new key.
      returned: success
      type: str
      sample: Active
    create_date:
      description: Creation time, ISO 8601 in UTC.
      returned: success
      type: str
      sample: "2026-11-25T21:00:00+00:00"
access_key_id:
  description: The new access key id; V(null) in check mode.
  returned: always
  type: str
  sample: AKIAIOSFODNN7EXAMPLE
secret_access_key:
  description:
    - The new key's secret access key. B(Secret); returned only once by AWS. V(null) in check mode.
  returned: always
  type: str
  sample: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
deleted_access_key_id:
  description: The Inactive key deleted (or that would be deleted in check mode) to free a slot, else V(null).
  returned: always
  type: str
  sample: AKIAI44QH8DHBEXAMPLE
"""

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import create_access_key
from ansible_collections.rotor.iam.plugins.module_utils._user_target import with_user_target
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import build_module
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import iam_client
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import plain_iam_client
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import run


def _diff(result):
    if result["keys_before"] is None:
        return None  # not listed: no --diff was asked for
    before = [k["access_key_id"] for k in result["keys_before"]]
    after = [k for k in before if k != result["deleted_access_key_id"]]
    after.append(result["access_key_id"] or "(new access key)")
    return {"before": {"access_key_ids": before}, "after": {"access_key_ids": after}}


def _own_spec():
    """The module's own options (amazon.aws adds the connection options)."""
    return dict(argument_spec=dict(
        user_name=dict(type="str", required=True, aliases=["user"]),
        when_full=dict(type="str", choices=["fail", "delete_inactive"], default="fail"),
    ))


def module_spec():
    """The module's options: its own, with the shared ``iam_user`` (amazon.aws adds the connection options)."""
    return with_user_target(_own_spec(), lock=False)


def execute(module):
    """The module's work: exits through ``module`` (a module run or its action plugin on the controller)."""
    params = module.params
    client = iam_client(module)
    create_client = plain_iam_client(module)

    def operation():
        result = create_access_key(
            client,
            params["user_name"],
            when_full=params["when_full"],
            check_mode=module.check_mode,
            create_client=create_client,
            # The keys before are listed only when something needs them: the diff, check mode, delete_inactive.
            list_keys=module._diff,
        )
        diff = _diff(result)
        if diff:
            result["diff"] = diff
        del result["keys_before"]
        return result

    run(module, operation, action="iam:CreateAccessKey")


def main():
    execute(build_module(**module_spec()))


if __name__ == "__main__":
    main()
