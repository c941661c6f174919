#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: secret_destination
short_description: Write an access key where applications read it in AWS (Secrets Manager or SSM), and roll it back
version_added: 0.3.0
description:
  - Manages an access key held by an AWS Secrets Manager secret or an SSM Parameter Store SecureString parameter that
    applications read their key from, with the same semantics as rotor's host credential files.
  - The destination holds a JSON object. Its fields O(access_key_id_field) and O(secret_access_key_field) carry the
    key; every other field is kept as it is.
  - The previous value is kept by the service. In Secrets Manager, O(state=present) moves the staging label
    C(AWSCURRENT) to a new version and C(AWSPREVIOUS) to the old one, and O(state=restored) moves C(AWSCURRENT) back
    (C(UpdateSecretVersionStage)), so the old secret is not read to restore it. In Parameter Store, O(state=present)
    puts a new version and the old one stays in the parameter's history; Parameter Store cannot make an older
    version current, so O(state=restored) reads the previous version's value inside the module (never returned,
    never logged) and puts it again as a new version.
  - To learn which key a destination holds, and to keep its other fields, the module reads the current value inside
    its own process. No result and no diff ever contains a secret; check mode and diff show key ids only.
author:
  - rotor.iam maintainers (@rotor-iam)
options:
  type:
    description: Where the key is kept.
    type: str
    choices: [secretsmanager, ssm]
    required: true
  name:
    description:
      - The secret's name or ARN (V(secretsmanager)), or the parameter's name (V(ssm), for example V(/app/aws-key)).
    type: str
    required: true
  access_key_id_field:
    description: The JSON field that holds the access key id.
    type: str
    default: AccessKeyId
  secret_access_key_field:
    description: The JSON field that holds the secret access key.
    type: str
    default: SecretAccessKey
  kms_key_id:
    description:
      - The KMS key (id, ARN or alias) that encrypts the value. Secrets Manager uses it only when the secret is
        created (an existing secret keeps its key); Parameter Store uses it for every version put.
      - For a parameter encrypted with a customer-managed key, give it, or each new version is encrypted with the
        account's C(aws/ssm) key.
    type: str
  state:
    description:
      - V(read) reports which key id the destination holds (never the secret).
      - V(present) makes it hold O(access_key_id) and O(secret_access_key), creating the secret or parameter when it
        does not exist. Unchanged when it already holds both.
      - V(restored) undoes rotor's write of O(access_key_id), so the value that was current before it becomes current
        again. Refused when the destination no longer holds O(access_key_id) (someone else changed it since), unless
        O(force=true). Unchanged when it already holds O(previous_access_key_id).
    type: str
    choices: [read, present, restored]
    default: read
  access_key_id:
    description:
      - With O(state=present), the key to write. With O(state=restored), the key rotor wrote and now undoes.
    type: str
  secret_access_key:
    description: The secret of O(access_key_id). Required with O(state=present).
    type: str
  previous_access_key_id:
    description:
      - With O(state=restored), the key id the destination held before rotor's write (RV(previous_access_key_id) of
        O(state=present)). The version restored must hold it, and a destination that already holds it is unchanged.
    type: str
  previous_version_id:
    description:
      - With O(state=restored), the version to make current again (RV(previous_version_id) of O(state=present)).
      - Without it, the version before the current one (Secrets Manager C(AWSPREVIOUS); Parameter Store the highest
        older version); with O(previous_access_key_id), that version's key id is then checked inside the module.
    type: str
  force:
    description: With O(state=restored), restore even when the destination no longer holds O(access_key_id).
    type: bool
    default: false
extends_documentation_fragment:
  - rotor.iam.attributes
  - rotor.iam.attributes.ACTION_GROUP
  - rotor.iam.user_target.CONNECTION
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Run O(state=present) with C(no_log=true), since O(secret_access_key) is a task argument.
  - Secrets Manager needs C(secretsmanager:GetSecretValue) (every state), C(secretsmanager:PutSecretValue) and, to
    create a secret, C(secretsmanager:CreateSecret) (O(state=present)), C(secretsmanager:DescribeSecret) and
    C(secretsmanager:UpdateSecretVersionStage) (O(state=restored)) on the secret. Parameter Store needs
    C(ssm:GetParameter) (every state), C(ssm:PutParameter) (O(state=present), O(state=restored)) and
    C(ssm:GetParameterHistory) (O(state=restored) without O(previous_version_id)) on the parameter, and
    C(kms:Decrypt)/C(kms:Encrypt) or C(kms:GenerateDataKey) on a customer-managed key. See docs/iam-policy.json and
    docs/destinations.md.
  - The value is a JSON object; a destination holding anything else is refused with a message naming it, and a
    Parameter Store parameter that is not a SecureString is refused rather than overwritten.
seealso:
  - module: rotor.iam.pending_secret
  - module: rotor.iam.host_credentials
"""

EXAMPLES = r"""
- name: Write the new key into the secret the application reads
  rotor.iam.secret_destination:
    type: secretsmanager
    name: prod/backup-agent/aws
    state: present
    access_key_id: "{{ new_key.access_key_id }}"
    secret_access_key: "{{ new_key.secret_access_key }}"
  no_log: true
  register: written

- name: Roll it back (AWSCURRENT moves back; the old secret is not read)
  rotor.iam.secret_destination:
    type: secretsmanager
    name: prod/backup-agent/aws
    state: restored
    access_key_id: "{{ new_key.access_key_id }}"
    previous_access_key_id: "{{ written.previous_access_key_id }}"
    previous_version_id: "{{ written.previous_version_id }}"

- name: A SecureString parameter with its own field names and KMS key
  rotor.iam.secret_destination:
    type: ssm
    name: /backup-agent/aws-key
    access_key_id_field: id
    secret_access_key_field: secret
    kms_key_id: alias/backup-agent
    state: present
    access_key_id: "{{ new_key.access_key_id }}"
    secret_access_key: "{{ new_key.secret_access_key }}"
  no_log: true

- name: Which key does it hold?
  rotor.iam.secret_destination:
    type: ssm
    name: /backup-agent/aws-key
    access_key_id_field: id
  register: held
"""

RETURN = r"""
type:
  description: The destination's type.
  returned: always
  type: str
  sample: secretsmanager
name:
  description: The destination's name, as given.
  returned: always
  type: str
  sample: prod/backup-agent/aws
exists:
  description: Whether the destination exists (after the task; in check mode, would exist).
  returned: always
  type: bool
  sample: true
access_key_id:
  description: The access key id the destination holds after the task (in check mode, would hold). V(null) when it
    does not exist or holds no key id.
  returned: always
  type: str
  sample: AKIAIOSFODNN7EXAMPLE
version_id:
  description:
    - The version that is current after the task (Secrets Manager version id; Parameter Store version number, as a
      string). V(null) in check mode for a version not written yet.
  returned: always
  type: str
  sample: 6f1c2a9e-2d3b-4c5d-8e9f-0a1b2c3d4e5f
previous_access_key_id:
  description: The access key id the destination held before this task changed it. V(null) when unchanged.
  returned: always
  type: str
  sample: AKIAI44QH8DHBEXAMPLE
previous_version_id:
  description: The version that was current before this task changed it; pass it to O(state=restored). V(null)
    when unchanged or created.
  returned: always
  type: str
  sample: 0e1d2c3b-4a59-6877-8695-a4b3c2d1e0f9
"""

from ansible_collections.rotor.iam.plugins.module_utils.destinations import DEFAULT_ID_FIELD
from ansible_collections.rotor.iam.plugins.module_utils.destinations import DEFAULT_SECRET_FIELD
from ansible_collections.rotor.iam.plugins.module_utils.destinations import Destination
from ansible_collections.rotor.iam.plugins.module_utils.destinations import RETRY_CODES
from ansible_collections.rotor.iam.plugins.module_utils.destinations import ensure_present
from ansible_collections.rotor.iam.plugins.module_utils._user_target import with_user_target
from ansible_collections.rotor.iam.plugins.module_utils.destinations import ensure_restored
from ansible_collections.rotor.iam.plugins.module_utils.destinations import read_destination
from ansible_collections.rotor.iam.plugins.module_utils.redact import withhold_options
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import build_module
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import run
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import service_client


def argument_spec():
    return dict(
        type=dict(type="str", choices=["secretsmanager", "ssm"], required=True),
        name=dict(type="str", required=True),
        access_key_id_field=dict(type="str", default=DEFAULT_ID_FIELD, no_log=False),
        secret_access_key_field=dict(type="str", default=DEFAULT_SECRET_FIELD, no_log=False),
        kms_key_id=dict(type="str", no_log=False),
        state=dict(type="str", choices=["read", "present", "restored"], default="read"),
        access_key_id=dict(type="str", no_log=False),
        secret_access_key=dict(type="str", no_log=True),
        previous_access_key_id=dict(type="str", no_log=False),
        previous_version_id=dict(type="str"),
        force=dict(type="bool", default=False),
    )


def dispatch(dest, params, check_mode):
    if params["state"] == "present":
        return ensure_present(dest, params["access_key_id"], params["secret_access_key"], check_mode=check_mode)
    if params["state"] == "restored":
        return ensure_restored(dest, params["access_key_id"], previous_access_key_id=params["previous_access_key_id"],
                               previous_version_id=params["previous_version_id"], force=params["force"],
                               check_mode=check_mode)
    return read_destination(dest)


def module_spec():
    """The module's options and their constraints: its own, with the shared ``iam_user`` (its connection only; amazon.aws
    adds the connection options)."""
    return with_user_target(dict(
        argument_spec=argument_spec(),
        required_if=[
            ("state", "present", ("access_key_id", "secret_access_key")),
            ("state", "restored", ("access_key_id",)),
        ],
    ), lock=False, name_required=False)


def execute(module):
    """The module's work: exits through ``module`` (a module run or its action plugin on the controller)."""
    params = module.params
    withhold_options(module, "access_key_id", "previous_access_key_id")

    def operation():
        client = service_client(module, params["type"], extra_retry_codes=RETRY_CODES)
        dest = Destination(client, params["type"], params["name"], id_field=params["access_key_id_field"],
                           secret_field=params["secret_access_key_field"], kms_key_id=params["kms_key_id"])
        result = dispatch(dest, params, module.check_mode)
        diff = result.pop("diff", None)
        if module._diff and diff:
            result["diff"] = diff
        return result

    run(module, operation, action=f"the {params['type']} request")


def main():
    execute(build_module(**module_spec()))


if __name__ == "__main__":
    main()
