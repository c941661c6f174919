#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: access_key_delete
short_description: Delete an IAM access key, refusing Active keys unless forced
version_added: 0.1.0
description:
  - Deletes an access key of an IAM user. A deleted key cannot be restored, so an Active key is only
    deleted with O(force=true); deactivate it first with M(rotor.iam.access_key_status) and make sure
    nothing breaks.
  - A key that is already gone is reported as unchanged, not as an error.
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
      - The access key id to delete.
    type: str
    required: true
  force:
    description:
      - Delete the key even when it is Active.
    type: bool
    default: false
  known_status:
    description:
      - The key's status as the caller knows it (for example V(inactive) because the same run deactivated it and
        AWS was proven to reject it). When given, the keys are not listed. An V(active) key is still refused without
        O(force), and C(DeleteAccessKey) alone decides whether the key existed (already gone is unchanged; in check
        mode the key is assumed present). RV(access_key) then holds only the id, the user and this status.
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
  - Needs C(iam:ListAccessKeys) and C(iam:DeleteAccessKey); with O(lock_run_id), C(iam:ListUserTags).
  - One C(ListAccessKeys) call (the only way to know whether the key is Active, which needs O(force), and its metadata for RV(access_key)), then, only when
    there is something to change, the lock check of O(lock_run_id) and C(iam:DeleteAccessKey). With O(known_status) no
    C(ListAccessKeys); with a valid O(lock_lease) no lock check, so one call in all.
seealso:
  - module: rotor.iam.access_key_status
"""

EXAMPLES = r"""
- name: Delete the old key after it has been Inactive and nothing broke
  rotor.iam.access_key_delete:
    user_name: app-backup
    access_key_id: AKIAI44QH8DHBEXAMPLE
"""

RETURN = r"""
access_key:
  description: Metadata of the deleted key (of the key that would be deleted, in check mode); V(null) if it was already absent.
  returned: always
  type: dict
  contains:
    access_key_id:
      description: The access key id.
      returned: success
      type: str
      sample: AKIAI44QH8DHBEXAMPLE
    user_name:
      description: The user the key belonged to.
      returned: success
      type: str
      sample: app-backup
    status:
      description: The key's status before deletion.
      returned: success
      type: str
      sample: Inactive
    create_date:
      description: Creation time, ISO 8601 in UTC.
      returned: success
      type: str
      sample: "2026-08-01T10:15:00+00:00"
access_key_id:
  description: The access key id that was asked for.
  returned: always
  type: str
  sample: AKIAI44QH8DHBEXAMPLE
"""

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import delete_access_key
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import lock_guard
from ansible_collections.rotor.iam.plugins.module_utils._user_target import with_user_target
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import build_module
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import refuse_malformed_key_ids
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import iam_client
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import run

DOING = "deleting the key"


def _own_spec():
    """The module's own options (amazon.aws adds the connection options)."""
    return dict(argument_spec=dict(
        user_name=dict(type="str", required=True, aliases=["user"]),
        access_key_id=dict(type="str", required=True),
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
        result = delete_access_key(
            client,
            params["user_name"],
            params["access_key_id"],
            check_mode=module.check_mode,
            force=params["force"],
            before_change=lock_guard(client, params["user_name"], params["lock_run_id"], DOING, check_mode=module.check_mode,
                                     lease=params["lock_lease"]),
            known_status=params["known_status"],
        )
        result["access_key_id"] = params["access_key_id"]
        if result["changed"]:
            key = result["access_key"]
            result["diff"] = {
                "before": {"access_key_id": key["access_key_id"], "status": key["status"], "state": "present"},
                "after": {"access_key_id": key["access_key_id"], "state": "absent"},
            }
        return result

    run(module, operation, action="iam:DeleteAccessKey")


def main():
    execute(build_module(**module_spec()))


if __name__ == "__main__":
    main()
