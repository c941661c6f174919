#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: access_key_status
short_description: Deactivate or reactivate an IAM access key
version_added: 0.1.0
description:
  - Sets an IAM access key V(Active) or V(Inactive).
  - Deactivating is the reversible step of a rotation ("disable the old key"); if anything breaks,
    reactivating the key restores service. Deleting is final, see M(rotor.iam.access_key_delete).
  - Refuses to deactivate the key the module itself signs its requests with, unless O(force=true),
    because the task would lock itself (and whatever shares that key) out.
author:
  - rotor.iam maintainers (@rotor-iam)
options:
  user_name:
    description:
      - Name of the IAM user that owns the key.
    type: str
    aliases: [user]
  access_key_id:
    description:
      - The access key id to change.
    type: str
    required: true
  status:
    description:
      - The status the key should have.
    type: str
    required: true
    choices: [active, inactive]
  force:
    description:
      - Deactivate the key even if it is the one signing this module's own requests.
    type: bool
    default: false
  known_status:
    description:
      - The key's status as the caller read it earlier (for example the plan's C(ListAccessKeys) in the same run).
        When given, the keys are not listed again, C(changed) and RV(previous_status) are judged on it, and
        C(UpdateAccessKey) is called only when it differs from O(status). Give it only when nothing else changes the
        key meanwhile (the run holds the user's lock).
    type: str
    choices: [active, inactive]
    version_added: 0.4.0
extends_documentation_fragment:
  - rotor.iam.user_target
  - rotor.iam.user_target.LOCK
  - rotor.iam.lock
  - rotor.iam.attributes
  - rotor.iam.attributes.ACTION_GROUP
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Needs C(iam:ListAccessKeys) and C(iam:UpdateAccessKey); with O(lock_run_id), C(iam:ListUserTags).
  - One C(ListAccessKeys) call (the only way to know the status before, which C(changed) and RV(previous_status) report), then, only when
    there is something to change, the lock check of O(lock_run_id) and C(iam:UpdateAccessKey). With O(known_status) no
    C(ListAccessKeys); with a valid O(lock_lease) no lock check, so one call in all.
seealso:
  - module: rotor.iam.access_key_verify
  - module: rotor.iam.access_key_delete
"""

EXAMPLES = r"""
- name: Disable the old key once every host runs on the new one
  rotor.iam.access_key_status:
    user_name: app-backup
    access_key_id: AKIAI44QH8DHBEXAMPLE
    status: inactive

- name: Roll back - reactivate the old key
  rotor.iam.access_key_status:
    user_name: app-backup
    access_key_id: AKIAI44QH8DHBEXAMPLE
    status: active
"""

RETURN = r"""
access_key:
  description: The key's metadata after the change (what it would be, in check mode).
  returned: success
  type: dict
  contains:
    access_key_id:
      description: The access key id.
      returned: success
      type: str
      sample: AKIAI44QH8DHBEXAMPLE
    user_name:
      description: The user the key belongs to.
      returned: success
      type: str
      sample: app-backup
    status:
      description: V(Active) or V(Inactive).
      returned: success
      type: str
      sample: Inactive
    create_date:
      description: Creation time, ISO 8601 in UTC.
      returned: success
      type: str
      sample: "2026-08-01T10:15:00+00:00"
status:
  description: The key's status after the change, V(Active) or V(Inactive).
  returned: success
  type: str
  sample: Inactive
previous_status:
  description: The key's status before the change.
  returned: success
  type: str
  sample: Active
"""

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import set_access_key_status
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import signing_access_key_id
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import lock_guard
from ansible_collections.rotor.iam.plugins.module_utils._user_target import with_user_target
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import build_module
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import refuse_malformed_key_ids
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import iam_client
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import run

DOING = "changing the key's status"


def _own_spec():
    """The module's own options (amazon.aws adds the connection options)."""
    return dict(argument_spec=dict(
        user_name=dict(type="str", required=True, aliases=["user"]),
        access_key_id=dict(type="str", required=True),
        status=dict(type="str", required=True, choices=["active", "inactive"]),
        force=dict(type="bool", default=False),
        lock_run_id=dict(type="str"),
        lock_lease=dict(type="dict", no_log=False),
        known_status=dict(type="str", choices=["active", "inactive"]),
    ))


def module_spec():
    """The module's options: its own, with the shared ``iam_user`` and ``lock`` (amazon.aws adds the connection options)."""
    return with_user_target(_own_spec(), lock=True)


def execute(module):
    """The module's work: exits through ``module`` (a module run or its action plugin on the controller)."""
    params = module.params
    refuse_malformed_key_ids(module, "access_key_id")
    client = iam_client(module)

    def operation():
        result = set_access_key_status(
            client,
            params["user_name"],
            params["access_key_id"],
            params["status"],
            check_mode=module.check_mode,
            force=params["force"],
            before_change=lock_guard(client, params["user_name"], params["lock_run_id"], DOING, check_mode=module.check_mode,
                                     lease=params["lock_lease"]),
            known_status=params["known_status"],
            signing_access_key_id=signing_access_key_id(client),
        )
        key = result["access_key"]
        result["status"] = key["status"]
        result["diff"] = {
            "before": {"access_key_id": key["access_key_id"], "status": result["previous_status"]},
            "after": {"access_key_id": key["access_key_id"], "status": key["status"]},
        }
        return result

    run(module, operation, action="iam:UpdateAccessKey")


def main():
    execute(build_module(**module_spec()))


if __name__ == "__main__":
    main()
