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
  - Says where the credentials come from as botocore resolved them (RV(credential_source)), and warns when
    environment keys silently win over C(AWS_PROFILE), or a profile over environment keys.
  - A connection error (refused, DNS, timeout) fails at once with C(error_code=ConnectionError), naming the
    endpoint; STS is tried twice at most, with a 10 second connect timeout.
  - With O(simulate_actions) and O(simulate_user_names), asks IAM (C(iam:SimulatePrincipalPolicy) on the
    caller's own ARN; for an assumed role, the role's) whether the caller's identity policies allow each action
    on each user, which also proves IAM answers. Where the caller may not simulate, RV(permissions.checked) is
    false and says why. Service control policies and permissions boundaries are not simulated.
author:
  - rotor.iam maintainers (@rotor-iam)
options:
  simulate_actions:
    description: IAM actions (C(iam:CreateAccessKey), ...) to check the caller's policies for; empty checks nothing.
    type: list
    elements: str
    default: []
  simulate_user_names:
    description: IAM users (names, in the caller's account) the O(simulate_actions) are checked on.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - rotor.iam.user_target.CONNECTION
  - rotor.iam.attributes.INFO_MODULE
  - rotor.iam.attributes.ACTION_GROUP
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - C(sts:GetCallerIdentity) needs no IAM permission; C(iam:SimulatePrincipalPolicy) on the caller's own ARN does
    (docs/iam-policy.json, C(RotorCheckOwnPermissions)).
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
credential_source:
  description: Where the credentials come from, as botocore resolved them; never a secret.
  returned: success
  type: dict
  contains:
    method:
      description: botocore's credential method (V(env), V(explicit), V(shared-credentials-file), V(assume-role), V(iam-role), ...).
      type: str
      sample: shared-credentials-file
    profile:
      description: The profile botocore used, if any.
      type: str
      sample: limited
    access_key_id:
      description: The access key id that signs the calls.
      type: str
      sample: AKIAIOSFODNN7EXAMPLE
    description:
      description: The same, for people.
      type: str
      sample: "profile limited: the shared credentials file (~/.aws/credentials), access key AKIAIOSFODNN7EXAMPLE"
    warnings:
      description: Credentials that are set but silently not used (environment keys over C(AWS_PROFILE), or the reverse).
      type: list
      elements: str
      sample: []
permissions:
  description: The caller's permissions for O(simulate_actions) on O(simulate_user_names); V(null) when none were asked.
  returned: success
  type: dict
  contains:
    checked:
      description: Whether IAM simulated them.
      type: bool
      sample: true
    reason:
      description: Why they were not checked.
      type: str
      sample: "the caller may not call iam:SimulatePrincipalPolicy on arn:aws:iam::123456789012:user/rotor (AccessDenied)"
    denied:
      description: Each action IAM would not allow, on which user ARN, with IAM's decision.
      type: list
      elements: dict
      sample: [{action: iam:UpdateAccessKey, resource: "arn:aws:iam::123456789012:user/app", decision: explicitDeny}]
    actions:
      description: The actions checked.
      type: list
      elements: str
      sample: [iam:CreateAccessKey]
"""

import os

try:
    import boto3
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports missing dependencies

from ansible_collections.amazon.aws.plugins.module_utils.botocore import get_aws_connection_info

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import _call
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import error_code
from ansible_collections.rotor.iam.plugins.module_utils.caller_checks import credential_source
from ansible_collections.rotor.iam.plugins.module_utils.caller_checks import denied_actions
from ansible_collections.rotor.iam.plugins.module_utils.caller_checks import simulation_principal
from ansible_collections.rotor.iam.plugins.module_utils.caller_checks import user_arn
from ansible_collections.rotor.iam.plugins.module_utils._user_target import with_user_target
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import build_module
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import run

try:
    from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
except ImportError:
    pass  # AnsibleAWSModule reports missing dependencies

# One honest answer, fast: a controller that cannot reach AWS must say so before the plan, not after minutes.
_QUICK = {"retries": {"mode": "standard", "total_max_attempts": 2}, "connect_timeout": 10, "read_timeout": 30}
# Resource ARNs per SimulatePrincipalPolicy call (AWS caps the size of one simulation).
_USERS_PER_CALL = 20


def unreachable(service, client, exc):
    """A connection error (refused, DNS, timeout, TLS) as the one message an operator needs: where, and that nothing changed."""
    endpoint = getattr(getattr(client, "meta", None), "endpoint_url", None) or "(unknown endpoint)"
    return RotorIAMError(
        f"Cannot reach AWS {service} at {endpoint}: {type(exc).__name__}: {exc}. Nothing was changed. Check "
        f"rotor_aws_endpoint_url / rotor_aws_region (or AWS_ENDPOINT_URL_{service.upper()}), the network, a proxy "
        f"(HTTPS_PROXY) or a VPC endpoint for {service}.",
        code="ConnectionError", action=f"{service.lower()}:connect")


def resolved_credentials(module):
    """What botocore signs with, resolved as the clients resolve it (amazon.aws passes keys explicitly)."""
    dummy_region, dummy_endpoint, params = get_aws_connection_info(module)
    key = params.get("aws_access_key_id")
    if key:
        from_env = key in (os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_ACCESS_KEY"))
        return credential_source("explicit", None, key, os.environ, from_environment=from_env)
    session = boto3.session.Session(profile_name=params.get("profile_name"))
    credentials = session.get_credentials()
    profile = params.get("profile_name") or os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE")
    return credential_source(credentials.method if credentials else None, profile,
                             credentials.access_key if credentials else None, os.environ)


def simulate(module, caller_arn, actions, user_names):
    """The caller's permissions for ``actions`` on each user (iam:SimulatePrincipalPolicy), or why they were not checked."""
    principal = simulation_principal(caller_arn)
    if principal is None:
        return {"checked": False, "reason": f"the caller {caller_arn} is not an IAM user or role", "denied": [], "actions": actions}
    iam = module.client("iam", retry_decorator=AWSRetry.jittered_backoff(retries=5), config=_QUICK)
    results = []
    names = list(dict.fromkeys(user_names))
    try:
        for start in range(0, len(names), _USERS_PER_CALL):
            request = {"PolicySourceArn": principal, "ActionNames": actions,
                       "ResourceArns": [user_arn(caller_arn, name) for name in names[start:start + _USERS_PER_CALL]]}
            while True:
                answer = iam.simulate_principal_policy(aws_retry=True, **request)
                results.extend(answer.get("EvaluationResults") or [])
                if not answer.get("IsTruncated"):
                    break
                request["Marker"] = answer["Marker"]
    except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError) as exc:
        raise unreachable("IAM", iam, exc) from exc
    except botocore.exceptions.ClientError as exc:
        code = error_code(exc)
        why = (f"the caller may not call iam:SimulatePrincipalPolicy on {principal} ({code})" if code in ("AccessDenied", "AccessDeniedException")
               else f"iam:SimulatePrincipalPolicy on {principal} failed with {code}")
        return {"checked": False, "reason": why, "denied": [], "actions": actions}
    return {"checked": True, "reason": None, "denied": denied_actions(results), "actions": actions}


def _own_spec():
    """The module's own options (amazon.aws adds the connection options)."""
    return dict(argument_spec=dict(
        simulate_actions=dict(type="list", elements="str", default=[]),
        simulate_user_names=dict(type="list", elements="str", default=[]),
    ))


def module_spec():
    """The module's options: its own, with the shared ``iam_user`` (amazon.aws adds the connection options)."""
    return with_user_target(_own_spec(), lock=False, name_required=False)


def execute(module):
    """The module's work: exits through ``module`` (a module run or its action plugin on the controller)."""
    sts = module.client("sts", retry_decorator=AWSRetry.jittered_backoff(retries=5), config=_QUICK)

    def operation():
        source = resolved_credentials(module)
        try:
            answer = _call("sts:GetCallerIdentity", sts.get_caller_identity, aws_retry=True)
        except RotorIAMError as exc:
            cause = exc.__cause__
            if isinstance(cause, (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)):
                raise unreachable("STS", sts, cause) from cause
            raise
        for warning in source["warnings"]:
            module.warn(warning)
        permissions = None
        if module.params["simulate_actions"] and module.params["simulate_user_names"]:
            permissions = simulate(module, answer.get("Arn"), module.params["simulate_actions"], module.params["simulate_user_names"])
        return {"changed": False, "account": answer.get("Account"), "arn": answer.get("Arn"), "user_id": answer.get("UserId"),
                "credential_source": source, "permissions": permissions}

    run(module, operation, action="sts:GetCallerIdentity")


def main():
    execute(build_module(**module_spec()))


if __name__ == "__main__":
    main()
