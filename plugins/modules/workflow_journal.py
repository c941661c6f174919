#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: workflow_journal
short_description: Read a rotation journal with its workflow failure marks, or mark an IAM user failed in a run
version_added: 0.4.0
description:
  - The jobs of a rotation workflow (C(rotor.iam.rotate_prepare), the sliced C(rotor.iam.rotate_distribute), ...,
    C(rotor.iam.rotate_finish)) share one run id and talk through each IAM user's journal
    (M(rotor.iam.rotation_journal)), never through job artifacts.
  - V(read) returns the journal as M(rotor.iam.rotation_journal) does, and the failure marks of the workflow's
    sliced jobs (RV(marks)).
  - V(failed) records that a sliced job of run O(run_id) failed this user, in the tag C(rotor:failed-<job>) holding the run
    id. A mark is monotonic, no job of the run removes it (a later run's marks name that run; a mark of another run
    means nothing). It is written only while the journal belongs to O(run_id); otherwise nothing is written.
    One C(ListUserTags) and at most one C(TagUser).
  - The mark never holds a secret, only the run id.
author:
  - rotor.iam maintainers (@rotor-iam)
options:
  user_name:
    description: The IAM user.
    type: str
    aliases: [user]
  state:
    description: V(read) or V(failed).
    type: str
    choices: [read, failed]
    default: read
  run_id:
    description: The workflow's run id. Required with O(state=failed) (or O(lock), whose C(run_id) it is).
    type: str
  job:
    description: The sliced job that failed the user. Required with O(state=failed).
    type: str
    choices: [distribute, settle, restore, cleanup]
extends_documentation_fragment:
  - rotor.iam.user_target
  - rotor.iam.user_target.LOCK
  - rotor.iam.attributes
  - rotor.iam.attributes.action_group
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Mark app-backup failed in the distribute job of run 4711
  rotor.iam.workflow_journal:
    user_name: app-backup
    state: failed
    run_id: "4711"
    job: distribute
"""

RETURN = r"""
journal:
  description: The journal as M(rotor.iam.rotation_journal) returns it (key ids only).
  returned: always
  type: dict
marks:
  description: 'The failure marks, C({job: run id}).'
  returned: always
  type: dict
  sample: {distribute: "4711"}
"""

from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import check_run_id
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import journal_from_tags
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import public_journal
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import read_tags_and_aws_time
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import _call
from ansible_collections.rotor.iam.plugins.module_utils._rotation.workflow import MARK_PREFIX
from ansible_collections.rotor.iam.plugins.module_utils._rotation.workflow import marks_of
from ansible_collections.rotor.iam.plugins.module_utils._user_target import with_user_target
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import build_module
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import iam_client
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import run


def module_spec():
    """The module's options, with the shared ``iam_user`` and ``lock`` (its run_id is the run; amazon.aws adds the connection options)."""
    return with_user_target(dict(
        argument_spec=dict(
            user_name=dict(type="str", required=True, aliases=["user"]),
            state=dict(type="str", default="read", choices=["read", "failed"]),
            run_id=dict(type="str"),
            job=dict(type="str", choices=["distribute", "settle", "restore", "cleanup"]),
        ),
        required_if=[("state", "failed", ["run_id", "job"])],
    ), lock=True)


def execute(module):
    params = module.params
    client = iam_client(module)

    def operation():
        user_name = params["user_name"]
        tags, aws_time = read_tags_and_aws_time(client, user_name)
        journal = journal_from_tags(tags, now=aws_time)
        journal["user_name"] = user_name
        marks = marks_of(tags)
        changed = False
        if params["state"] == "failed":
            check_run_id(params["run_id"])
            run_id, tag = params["run_id"], MARK_PREFIX + params["job"]
            if str(journal.get("run_id") or "") == run_id and marks.get(params["job"]) != run_id:
                changed = True
                if not module.check_mode:
                    _call("iam:TagUser", client.tag_user, user_name=user_name, aws_retry=True, UserName=user_name,
                          Tags=[{"Key": tag, "Value": run_id}])
                marks[params["job"]] = run_id
        return {"changed": changed, "journal": public_journal(journal), "marks": marks}

    run(module, operation, action="iam:TagUser")


def main():
    execute(build_module(**module_spec()))


if __name__ == "__main__":
    main()
