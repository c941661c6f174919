#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: access_key_verify
short_description: Prove that an access key works, or that it no longer works
version_added: 0.1.0
description:
  - Calls STS C(GetCallerIdentity) signed with the given key until AWS confirms the expected outcome
    O(consecutive) times in a row, or O(timeout) seconds pass.
  - IAM is eventually consistent. A new key is often rejected for 5 to 10 seconds after it is created,
    sometimes longer, and one success does not prove the next call succeeds; a deactivated key can keep
    working for a few seconds. The module polls with a short, growing delay instead of a fixed sleep.
  - Throttling and network errors count neither way; only an answer from AWS does.
  - Makes no change, so it also runs for real in check mode.
author:
  - rotor.iam maintainers (@rotor-iam)
options:
  access_key_id:
    description:
      - The access key id to test.
    type: str
    required: true
  secret_access_key:
    description:
      - The key's secret access key.
    type: str
    required: true
  expect:
    description:
      - V(valid) waits until AWS accepts the key (after creating or reactivating it).
      - V(invalid) waits until AWS rejects the key id with C(InvalidClientTokenId) (after deactivating or
        deleting it).
      - Either way, C(SignatureDoesNotMatch) means the secret given is not the key's (a stale or rewritten copy);
        it proves nothing about the key, so the module fails at once with error_code V(WrongSecret), never
        counting it as a rejection.
    type: str
    choices: [valid, invalid]
    default: valid
  timeout:
    description:
      - Seconds to keep trying before failing.
    type: int
    default: 120
  consecutive:
    description:
      - How many matching answers in a row are required.
    type: int
    default: 3
extends_documentation_fragment:
  - rotor.iam.user_target.CONNECTION
  - rotor.iam.attributes.INFO_MODULE
  - rotor.iam.attributes.ACTION_GROUP
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - The connection options (O(endpoint_url), O(region), O(profile), ...) choose where STS is called; the
    call itself is signed with O(access_key_id) and O(secret_access_key), never with the connection's credentials.
  - C(sts:GetCallerIdentity) needs no IAM permission.
  - O(secret_access_key) is a C(no_log) option; still run the task with C(no_log=true) when the secret comes
    from a registered variable, so it is not shown in the task's arguments at high verbosity.
seealso:
  - module: rotor.iam.access_key_create
  - module: rotor.iam.access_key_status
"""

EXAMPLES = r"""
- name: Wait until the new key is usable (eventual consistency)
  rotor.iam.access_key_verify:
    access_key_id: "{{ new_key.access_key_id }}"
    secret_access_key: "{{ new_key.secret_access_key }}"
    timeout: 120
  no_log: true

- name: Prove the deactivated key is refused
  rotor.iam.access_key_verify:
    access_key_id: "{{ old_key_id }}"
    secret_access_key: "{{ old_secret }}"
    expect: invalid
    consecutive: 2
  no_log: true
"""

RETURN = r"""
arn:
  description: ARN of the identity the key belongs to; V(null) when O(expect=invalid).
  returned: success
  type: str
  sample: arn:aws:iam::123456789012:user/app-backup
account:
  description: Account id of that identity; V(null) when O(expect=invalid).
  returned: success
  type: str
  sample: "123456789012"
user_id:
  description: Unique id of that identity; V(null) when O(expect=invalid).
  returned: success
  type: str
  sample: AIDAJQABLZS4A3QDU576Q
attempts:
  description: How many C(GetCallerIdentity) calls were made.
  returned: always
  type: int
  sample: 5
elapsed:
  description: Seconds spent, to the millisecond.
  returned: always
  type: float
  sample: 6.012
last_error:
  description: The last error AWS answered with, if any (never contains the secret).
  returned: success
  type: str
  sample: "InvalidClientTokenId: The security token included in the request is invalid."
"""

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import verify_access_key
from ansible_collections.rotor.iam.plugins.module_utils._user_target import with_user_target
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import build_module
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import refuse_malformed_key_ids


def _own_spec():
    """The module's own options (amazon.aws adds the connection options)."""
    return dict(argument_spec=dict(
        access_key_id=dict(type="str", required=True),
        secret_access_key=dict(type="str", required=True, no_log=True),
        expect=dict(type="str", choices=["valid", "invalid"], default="valid"),
        timeout=dict(type="int", default=120),
        consecutive=dict(type="int", default=3),
    ))


def module_spec():
    """The module's options: its own, with the shared ``iam_user`` (amazon.aws adds the connection options)."""
    return with_user_target(_own_spec(), lock=False, name_required=False)


def execute(module):
    """The module's work: exits through ``module`` (a module run or its action plugin on the controller)."""
    params = module.params
    refuse_malformed_key_ids(module, "access_key_id", secret_max_length=128)
    if params["timeout"] < 0:
        module.fail_json(msg=f"timeout must be 0 or more seconds, got {params['timeout']}.")
    if params["consecutive"] < 1:
        module.fail_json(msg=f"consecutive must be at least 1, got {params['consecutive']}.")

    # Signed with the key under test; no SDK retries and short timeouts, so each
    # attempt is one honest answer from AWS.
    sts = module.client(
        "sts",
        aws_access_key_id=params["access_key_id"],
        aws_secret_access_key=params["secret_access_key"],
        aws_session_token=None,
        config={"retries": {"mode": "standard", "total_max_attempts": 1}, "connect_timeout": 5, "read_timeout": 10},
    )
    try:
        result = verify_access_key(
            sts.get_caller_identity,
            expect=params["expect"],
            timeout=params["timeout"],
            consecutive=params["consecutive"],
        )
    except RotorIAMError as exc:
        module.fail_json(
            msg=f"Access key {params['access_key_id']}: {exc.message}",
            error_code=exc.code,
            attempts=exc.details.get("attempts"),
            elapsed=exc.details.get("elapsed"),
        )
    module.exit_json(changed=False, access_key_id=params["access_key_id"], **result)


def main():
    execute(build_module(**module_spec()))


if __name__ == "__main__":
    main()
