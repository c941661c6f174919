#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: quarantine_policy
short_description: Detach AWS's quarantine policy from a leaked key's user, only once the leaked key is out of service
version_added: 0.5.0
description:
  - AWS attaches a quarantine policy (C(AWSCompromisedKeyQuarantine), C(V2), C(V3), C(V4)) to the IAM user of a key it
    finds exposed. The policy is attached to the user, so the new key a rotation gives the user's hosts inherits its
    denies (C(iam:CreateAccessKey), C(s3:GetObject), C(cloudtrail:LookupEvents) and many more).
  - With O(state=detached), detaches every quarantine policy of O(user_name), and only those, when all of these hold -
    O(detach=true) (the operator's explicit decision), the leaked key O(leaked_access_key_id) is Inactive, Expired or
    deleted in IAM (this module checks), and the caller has proven that AWS rejects it (O(leaked_key_rejected=true), as
    M(rotor.iam.access_key_verify) with C(expect=invalid) proves). Otherwise it detaches nothing and says why in
    RV(reason); that is not a failure.
  - With O(state=present), reports the quarantine and what it denies and changes nothing.
author:
  - rotor.iam maintainers (@rotor-iam)
options:
  user_name:
    description: The IAM user that owns the leaked key. Give either this or O(iam_user).
    type: str
  leaked_access_key_id:
    description: The leaked access key id; its status is read from IAM (C(ListAccessKeys)).
    type: str
    required: true
  state:
    description:
      - V(detached) detaches the quarantine policies when every condition holds; V(present) only reports.
    type: str
    choices: [present, detached]
    default: present
  detach:
    description: The operator's opt-in (C(rotor_detach_quarantine_policy) in the playbooks). Without it nothing is detached.
    type: bool
    default: false
  leaked_key_rejected:
    description: Whether the caller proved that AWS rejects the leaked key (a call signed with it refused as invalid).
    type: bool
    default: false
extends_documentation_fragment:
  - rotor.iam.attributes
  - rotor.iam.attributes.ACTION_GROUP
  - rotor.iam.user_target
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Needs C(iam:ListAccessKeys), C(iam:ListAttachedUserPolicies) and, to detach, C(iam:DetachUserPolicy) on the user
    (docs/iam-policy.json limits it to the quarantine policies with the C(iam:PolicyARN) condition); C(iam:GetPolicy) and
    C(iam:GetPolicyVersion) on the quarantine policies to say what they deny.
  - Only AWS's own quarantine policies are ever detached; any other policy of the user is left alone.
seealso:
  - module: rotor.iam.leaked_key_info
  - module: rotor.iam.access_key_verify
"""

EXAMPLES = r"""
- name: Detach the quarantine once the leaked key is Inactive and proven rejected
  rotor.iam.quarantine_policy:
    user_name: app-backup
    leaked_access_key_id: AKIAIOSFODNN7EXAMPLE
    state: detached
    detach: "{{ rotor_detach_quarantine_policy }}"
    leaked_key_rejected: "{{ leak_proof is succeeded }}"
"""

RETURN = r"""
user_name:
  description: O(user_name).
  returned: always
  type: str
  sample: app-backup
leaked_access_key_id:
  description: O(leaked_access_key_id).
  returned: always
  type: str
  sample: AKIAIOSFODNN7EXAMPLE
quarantine:
  description: The quarantine policies attached before this task, with what they deny (see M(rotor.iam.leaked_key_info)).
  returned: always
  type: dict
key_status:
  description: The leaked key's status in IAM (V(deleted) when it is gone).
  returned: always
  type: str
  sample: Inactive
detached:
  description: The policy ARNs detached (that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"]
reason:
  description: Why the policies were detached or kept.
  returned: always
  type: str
  sample: "kept: rotor_detach_quarantine_policy is false (detaching it is an explicit decision)"
message:
  description: The decision for people, naming the policies.
  returned: always
  type: str
"""

from ansible_collections.rotor.iam.plugins.module_utils._user_target import with_user_target
from ansible_collections.rotor.iam.plugins.module_utils.quarantine import describe_quarantine
from ansible_collections.rotor.iam.plugins.module_utils.quarantine import detach_decision
from ansible_collections.rotor.iam.plugins.module_utils.quarantine import detach_policies
from ansible_collections.rotor.iam.plugins.module_utils.quarantine import key_state
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import build_module
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import iam_client
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import refuse_malformed_key_ids
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import run


def module_spec():
    """The module's options: its own, with the shared ``iam_user`` (amazon.aws adds the connection options)."""
    return with_user_target(dict(argument_spec=dict(
        user_name=dict(type="str", required=True),
        leaked_access_key_id=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "detached"], default="present"),
        detach=dict(type="bool", default=False),
        leaked_key_rejected=dict(type="bool", default=False),
    )), lock=False)


def execute(module):
    """The module's work: exits through ``module`` (a module run or its action plugin on the controller)."""
    params = module.params
    refuse_malformed_key_ids(module, "leaked_access_key_id")
    client = iam_client(module)
    user = params["user_name"]

    def operation():
        quarantine = describe_quarantine(client, user)
        status = key_state(client, user, params["leaked_access_key_id"])
        names = ", ".join(p["policy_name"] for p in quarantine["policies"])
        if params["state"] == "present":
            go, reason = False, "reported only (state=present)" if quarantine["attached"] else "no quarantine policy is attached"
        else:
            go, reason = detach_decision(params["detach"], status, params["leaked_key_rejected"], quarantine["attached"])
        detached = detach_policies(client, user, [p["policy_arn"] for p in quarantine["policies"]], check_mode=module.check_mode) if go else []
        if detached:
            message = f"{user}: {'would detach' if module.check_mode else 'DETACHED'} the AWS quarantine ({names}) - {reason}."
        elif quarantine["attached"]:
            message = (f"{user}: the AWS quarantine ({names}) stays attached - {reason}; the new key inherits its denies "
                       f"({len(quarantine['denied_actions'])} actions).")
        else:
            message = f"{user}: no AWS quarantine policy is attached."
        return {"changed": bool(detached), "user_name": user, "leaked_access_key_id": params["leaked_access_key_id"], "quarantine": quarantine,
                "key_status": status, "detached": detached, "reason": reason,
                "message": message, "diff": {"before": {"attached": [p["policy_arn"] for p in quarantine["policies"]]},
                                             "after": {"attached": [p["policy_arn"] for p in quarantine["policies"]
                                                                    if p["policy_arn"] not in detached]}}}

    run(module, operation, action="iam:DetachUserPolicy")


def main():
    execute(build_module(**module_spec()))


if __name__ == "__main__":
    main()
