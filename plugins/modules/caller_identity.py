#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: caller_identity
short_description: Tell which AWS account and identity a connection reaches
version_added: 0.3.0
description:
  - Calls STS C(GetCallerIdentity) with the connection options (O(profile), O(region), O(endpoint_url), ...) and
    returns the account, ARN and user id they resolve to. A profile that assumes a role (C(role_arn) and
    C(source_profile)) answers with the role's account.
  - C(rotor.iam.rotate) uses it to tell IAM users of the same name in different accounts apart.
  - An empty O(profile), O(region) or O(endpoint_url) means "not set", so a role can pass a host's own
    (possibly empty) connection variables as they are.
author:
  - rotor.iam maintainers (@rotor-iam)
options: {}
extends_documentation_fragment:
  - rotor.iam.attributes.INFO_MODULE
  - rotor.iam.attributes.ACTION_GROUP
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - C(sts:GetCallerIdentity) needs no IAM permission.
seealso:
  - module: amazon.aws.aws_caller_info
"""

EXAMPLES = r"""
- name: Which account does the profile reach
  rotor.iam.caller_identity:
    profile: payments
  register: identity
"""

RETURN = r"""
account:
  description: The AWS account id.
  returned: success
  type: str
  sample: "123456789012"
arn:
  description: The ARN of the calling identity.
  returned: success
  type: str
  sample: arn:aws:iam::123456789012:user/rotor-automation
user_id:
  description: The unique id of the calling identity.
  returned: success
  type: str
  sample: AIDAEXAMPLEUSERID0001
"""

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import _call
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import build_module
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import run

try:
    from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
except ImportError:
    pass  # AnsibleAWSModule reports missing dependencies


def module_spec():
    """No options of its own (amazon.aws adds the connection options)."""
    return dict(argument_spec={})


def execute(module):
    """The module's work: exits through ``module`` (a module run or its action plugin on the controller)."""
    sts = module.client("sts", retry_decorator=AWSRetry.jittered_backoff(retries=5))

    def operation():
        answer = _call("sts:GetCallerIdentity", sts.get_caller_identity, aws_retry=True)
        return {"changed": False, "account": answer.get("Account"), "arn": answer.get("Arn"), "user_id": answer.get("UserId")}

    run(module, operation, action="sts:GetCallerIdentity")


def main():
    execute(build_module(**module_spec()))


if __name__ == "__main__":
    main()
