#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: access_key_info
short_description: List an IAM user's access keys with their age and last use
version_added: 0.1.0
description:
  - Lists the access keys of an IAM user, oldest first, with each key's status, creation date,
    age in days and when, where and for which service it was last used (from C(GetAccessKeyLastUsed)).
  - With O(max_age_days), marks each Active key that is due for rotation in RV(access_keys[].rotation_due).
  - Never returns secret access keys; AWS only returns a secret once, when a key is created.
author:
  - rotor.iam maintainers (@rotor-iam)
options:
  user_name:
    description:
      - Name of the IAM user whose keys to list.
    type: str
    required: true
    aliases: [user]
  max_age_days:
    description:
      - Rotation policy, in days. An Active key at least this old gets RV(access_keys[].rotation_due=true).
      - When not set, RV(access_keys[].rotation_due) is not returned.
    type: int
  include_last_used:
    description:
      - Look up each key's last use with C(iam:GetAccessKeyLastUsed), one call per key.
      - Set to V(false) to save those calls when only ids, status and age matter.
    type: bool
    default: true
extends_documentation_fragment:
  - rotor.iam.attributes.INFO_MODULE
  - rotor.iam.attributes.ACTION_GROUP
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Needs C(iam:ListAccessKeys) and, with O(include_last_used=true), C(iam:GetAccessKeyLastUsed).
seealso:
  - module: rotor.iam.access_key_create
  - module: rotor.iam.access_key_delete
"""

EXAMPLES = r"""
- name: List the keys of the app-backup user and flag those older than 90 days
  rotor.iam.access_key_info:
    user_name: app-backup
    max_age_days: 90
  register: backup_keys

- name: Show which keys are due
  ansible.builtin.debug:
    msg: "{{ backup_keys.access_keys | selectattr('rotation_due') | map(attribute='access_key_id') | list }}"
"""

RETURN = r"""
user_name:
  description: The IAM user whose keys were listed.
  returned: always
  type: str
  sample: app-backup
access_keys:
  description: The user's access keys, oldest first.
  returned: always
  type: list
  elements: dict
  contains:
    access_key_id:
      description: The access key id.
      returned: always
      type: str
      sample: AKIAIOSFODNN7EXAMPLE
    user_name:
      description: The user the key belongs to.
      returned: always
      type: str
      sample: app-backup
    status:
      description: V(Active) or V(Inactive).
      returned: always
      type: str
      sample: Active
    create_date:
      description: When the key was created, ISO 8601 in UTC.
      returned: always
      type: str
      sample: "2026-08-01T10:15:00+00:00"
    age_days:
      description: Whole days since the key was created.
      returned: always
      type: int
      sample: 116
    last_used_date:
      description: When the key was last used, ISO 8601 in UTC; V(null) if never used.
      returned: when O(include_last_used=true)
      type: str
      sample: "2026-11-24T08:00:00+00:00"
    last_used_service:
      description: The AWS service the key last called; V(null) if never used.
      returned: when O(include_last_used=true)
      type: str
      sample: s3
    last_used_region:
      description: The region of the key's last use; V(null) if never used.
      returned: when O(include_last_used=true)
      type: str
      sample: eu-west-1
    rotation_due:
      description: Whether the key is Active and at least O(max_age_days) old.
      returned: when O(max_age_days) is set
      type: bool
      sample: true
"""

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import describe_access_keys
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import build_module
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import iam_client
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import run


def main():
    argument_spec = dict(
        user_name=dict(type="str", required=True, aliases=["user"]),
        max_age_days=dict(type="int"),
        include_last_used=dict(type="bool", default=True),
    )
    module = build_module(argument_spec)
    params = module.params
    if params["max_age_days"] is not None and params["max_age_days"] < 0:
        module.fail_json(msg=f"max_age_days must be 0 or more, got {params['max_age_days']}.")
    client = iam_client(module)

    def operation():
        keys = describe_access_keys(
            client,
            params["user_name"],
            max_age_days=params["max_age_days"],
            include_last_used=params["include_last_used"],
        )
        return {"changed": False, "user_name": params["user_name"], "access_keys": keys}

    run(module, operation, action="iam:ListAccessKeys")


if __name__ == "__main__":
    main()
