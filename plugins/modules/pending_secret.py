#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pending_secret
short_description: Keep a pending access key's secret in AWS Secrets Manager between the jobs of a rotation
version_added: 0.3.0
description:
  - Stores, reads and deletes the secret of a new access key while it is pending (created and verified, not yet
    on every host), so that separate jobs (prepare, distribute slices, finish in an AWX workflow) share it without
    it ever being written to the controller's disk.
  - >-
    The secret is named O(prefix) followed by the user (see O(prefix) for the rule), holds the JSON
    C({"access_key_id": ..., "secret_access_key": ...}) and is tagged C(rotor:run-id), C(rotor:user) and
    C(rotor:access-key-id).
  - A secret staged by another run, for another key or not by rotor at all is never overwritten, handed out or
    deleted unless O(force=true).
author:
  - rotor.iam maintainers (@rotor-iam)
options:
  user_name:
    description:
      - The IAM user whose pending key this is, or an C(ACCOUNT:USER) reference (12-digit account id, colon, user
        name) when one store serves users of several accounts.
    type: str
  access_key_id:
    description:
      - The pending key's id. Required with O(state=present).
      - With O(state=read) or O(state=absent), when given, a stored secret of another key is refused unless
        O(force=true).
    type: str
  secret_access_key:
    description:
      - The pending key's secret. Required with O(state=present).
    type: str
  run_id:
    description:
      - The id of the rotation run that stages the key, recorded in the tag C(rotor:run-id). Required with
        O(state=present). Letters, digits, spaces and C(_.:/=+@-), at most 256 characters.
      - With O(state=read) or O(state=absent), when given, a stored secret whose run id differs is refused with a
        message naming both run ids, unless O(force=true).
    type: str
  prefix:
    description:
      - The secret's name is this prefix followed by the user. Letters, digits and C(/_+=.@-) only.
      - The user part is O(user_name) with C(=) written C(=3D) and C(,) written C(=2C) (IAM allows commas in user
        names, Secrets Manager does not in secret names), and C(ACCOUNT:USER) written C(ACCOUNT/USER). The rule is
        one-to-one, so two users never share a secret; C(app,ops) becomes C(rotor/pending/app=2Cops) and
        C(222222222222:app) becomes C(rotor/pending/222222222222/app).
      - Keep the default, or grant the Secrets Manager permissions for your prefix instead of
        C(rotor/pending/*).
    type: str
    default: rotor/pending/
  kms_key_id:
    description:
      - The KMS key (id, ARN, alias name or alias ARN) that encrypts the secret when it is created. Without it,
        Secrets Manager uses the account's C(aws/secretsmanager) key.
      - An existing secret keeps the key it was created with.
    type: str
  state:
    description:
      - V(present) stores the secret (creating it, or putting a new value into the secret of the same key and run).
      - V(read) reports what is stored; the secret itself only with O(return_secret=true).
      - V(absent) deletes the secret at once, without a recovery window.
    type: str
    choices: [present, read, absent]
    default: read
  return_secret:
    description:
      - With O(state=read), also return RV(secret_access_key). A result that carries it is then marked
        C(no_log) (by the module's action plugin), so Ansible hides it from every output, log and callback, while
        C(register) still gets it.
    type: bool
    default: false
  force:
    description:
      - Overwrite, hand out or delete a secret staged by another run, for another key, or not by rotor.
    type: bool
    default: false
extends_documentation_fragment:
  - rotor.iam.user_target
  - rotor.iam.user_target.LOCK
  - rotor.iam.attributes
  - rotor.iam.attributes.ACTION_GROUP
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - No result and no diff contains the secret, except O(state=read) with O(return_secret=true), whose whole result
    is marked C(no_log). Run O(state=present) with C(no_log=true) too, since its O(secret_access_key) is a task
    argument.
  - The diff shows access key ids and run ids only.
  - Needs C(secretsmanager:DescribeSecret) (every state); C(secretsmanager:CreateSecret),
    C(secretsmanager:TagResource) (AWS requires it for the tags given at creation, and to re-tag with O(force=true)),
    C(secretsmanager:GetSecretValue) (to compare) and C(secretsmanager:PutSecretValue) for O(state=present);
    C(secretsmanager:GetSecretValue) for O(return_secret=true); C(secretsmanager:DeleteSecret) for O(state=absent);
    all on C(arn:aws:secretsmanager:*:*:secret:rotor/pending/*) (docs/iam-policy.json).
  - With O(kms_key_id), the KMS key's key policy (or an IAM policy with a C(kms:ViaService) condition) must allow
    C(kms:GenerateDataKey) and C(kms:Decrypt) to this identity through Secrets Manager. The default
    C(aws/secretsmanager) key needs nothing more.
seealso:
  - module: rotor.iam.access_key_create
  - module: rotor.iam.access_key_verify
"""

EXAMPLES = r"""
- name: Stage the new key right after it is verified
  rotor.iam.pending_secret:
    state: present
    user_name: app-backup
    access_key_id: "{{ new_key.access_key_id }}"
    secret_access_key: "{{ new_key.secret_access_key }}"
    run_id: "{{ rotor_run_id }}"
  no_log: true

- name: A distribute job reads it back (the result is no_log)
  rotor.iam.pending_secret:
    state: read
    user_name: app-backup
    run_id: "{{ rotor_run_id }}"
    return_secret: true
  register: pending

- name: Finish or roll back removes it for good
  rotor.iam.pending_secret:
    state: absent
    user_name: app-backup
    run_id: "{{ rotor_run_id }}"

- name: One store for users of several accounts, encrypted with a customer-managed key
  rotor.iam.pending_secret:
    state: present
    user_name: "222222222222:app-backup"
    access_key_id: "{{ new_key.access_key_id }}"
    secret_access_key: "{{ new_key.secret_access_key }}"
    run_id: "{{ rotor_run_id }}"
    kms_key_id: alias/rotor-pending
  no_log: true
"""

RETURN = r"""
name:
  description: The secret's name.
  returned: always
  type: str
  sample: rotor/pending/app-backup
arn:
  description:
    - The secret's ARN (Secrets Manager appends a random suffix). With O(state=absent), the ARN of the secret
      deleted. V(null) when there is none, and in check mode for a secret not created yet.
  returned: always
  type: str
  sample: arn:aws:secretsmanager:us-east-1:123456789012:secret:rotor/pending/app-backup-a1B2c3
exists:
  description: Whether the secret exists after the task (in check mode, would exist).
  returned: always
  type: bool
  sample: true
access_key_id:
  description:
    - The access key id the secret holds (after the task). With O(state=absent), the one it held when deleted.
      V(null) when there is no secret.
  returned: always
  type: str
  sample: AKIAIOSFODNN7EXAMPLE
run_id:
  description:
    - The run id the secret is tagged with (after the task). With O(state=absent), the one it had when deleted.
      V(null) when there is no secret.
  returned: always
  type: str
  sample: "4711"
secret_access_key:
  description:
    - The pending key's secret. B(Secret); the whole result is marked C(no_log). V(null) when there is no secret.
  returned: when O(state=read) and O(return_secret=true)
  type: str
  sample: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
"""

from ansible_collections.rotor.iam.plugins.module_utils.pending_store import RETRY_CODES
from ansible_collections.rotor.iam.plugins.module_utils.pending_store import ensure_absent
from ansible_collections.rotor.iam.plugins.module_utils.pending_store import ensure_present
from ansible_collections.rotor.iam.plugins.module_utils.pending_store import read_pending
from ansible_collections.rotor.iam.plugins.module_utils.redact import withhold_options
from ansible_collections.rotor.iam.plugins.module_utils._user_target import with_user_target
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import build_module
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import run
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import service_client


def argument_spec():
    return dict(
        user_name=dict(type="str", required=True),
        access_key_id=dict(type="str"),
        secret_access_key=dict(type="str", no_log=True),
        run_id=dict(type="str"),
        prefix=dict(type="str", default="rotor/pending/"),
        kms_key_id=dict(type="str"),
        state=dict(type="str", choices=["present", "read", "absent"], default="read"),
        return_secret=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
    )


def dispatch(client, params, check_mode):
    """The state's function, called with the parameters it takes."""
    common = dict(user_name=params["user_name"], prefix=params["prefix"], force=params["force"])
    if params["state"] == "present":
        return ensure_present(
            client, access_key_id=params["access_key_id"], secret_access_key=params["secret_access_key"],
            run_id=params["run_id"], kms_key_id=params["kms_key_id"], check_mode=check_mode, **common
        )
    if params["state"] == "absent":
        return ensure_absent(client, access_key_id=params["access_key_id"], run_id=params["run_id"], check_mode=check_mode, **common)
    # With the secret in it, the result is marked no_log by this module's action plugin.
    return read_pending(client, access_key_id=params["access_key_id"], run_id=params["run_id"],
                        return_secret=params["return_secret"], **common)


def _own_spec():
    """The module's own options and their constraints (amazon.aws adds the connection options)."""
    return dict(
        argument_spec=argument_spec(),
        required_if=[("state", "present", ("access_key_id", "secret_access_key", "run_id"))],
    )


def module_spec():
    """The module's options: its own, with the shared ``iam_user`` and ``lock`` (amazon.aws adds the connection options)."""
    return with_user_target(_own_spec(), lock=True)


def execute(module):
    """The module's work: exits through ``module`` (a module run or its action plugin on the controller)."""
    withhold_options(module, "access_key_id")
    client = service_client(module, "secretsmanager", extra_retry_codes=RETRY_CODES)

    def operation():
        result = dispatch(client, module.params, module.check_mode)
        diff = result.pop("diff", None)
        if module._diff and diff:
            result["diff"] = diff
        return result

    run(module, operation, action="the Secrets Manager request")


def main():
    execute(build_module(**module_spec()))


if __name__ == "__main__":
    main()
