# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Who acts, with which credentials, whether AWS answers, and whether the caller may do what the plan needs.

Pure functions (no AWS): the module ``rotor.iam.caller_identity`` feeds them what botocore resolved and what
STS and IAM answered, and the rotate role's plan shows their sentences first. No function here sees a secret:
only access key ids (which AWS prints in every error) and ARNs.
"""

from __future__ import annotations

import re

# The IAM actions a rotation may call on each of its users (docs/iam-policy.json, "RotorReadKeysAndJournal",
# "RotorRotateKeys", "RotorJournalTags"). GetAccessKeyLastUsed is needed only for a key no host holds.
ROTATION_ACTIONS = (
    "iam:ListUserTags",
    "iam:TagUser",
    "iam:UntagUser",
    "iam:ListAccessKeys",
    "iam:GetAccessKeyLastUsed",
    "iam:CreateAccessKey",
    "iam:UpdateAccessKey",
    "iam:DeleteAccessKey",
)
SIMULATE_ACTION = "iam:SimulatePrincipalPolicy"

# botocore's credential ``method`` names, said for people.
_METHODS = {
    "explicit": "keys given to the task",
    "env": "environment variables (AWS_ACCESS_KEY_ID)",
    "shared-credentials-file": "the shared credentials file (~/.aws/credentials)",
    "config-file": "the AWS config file (~/.aws/config)",
    "assume-role": "a role assumed by the profile (role_arn)",
    "assume-role-with-web-identity": "a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)",
    "sso": "AWS IAM Identity Center (SSO)",
    "custom-process": "a credential_process",
    "container-role": "the container's role (ECS/EKS)",
    "iam-role": "the instance role (EC2 instance metadata)",
    "boto-config": "a boto2 config file",
}
_ASSUMED_ROLE = re.compile(r"^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/.+$")
_IAM_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(user|role)/.+$")


def credential_source(method, profile=None, access_key_id=None, environ=None, from_environment=False):
    """Where the caller's credentials come from, as botocore resolved them, and what that silently overrides.

    ``method``: botocore's ``Credentials.method`` (``explicit`` for keys amazon.aws passed to the client);
    ``profile``: the profile botocore was given; ``from_environment``: explicit keys read from AWS_ACCESS_KEY_ID.
    Returns ``{method, profile, access_key_id, description, warnings}``.
    """
    environ = environ or {}
    env_profile = environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE")
    env_key = environ.get("AWS_ACCESS_KEY_ID") or environ.get("AWS_ACCESS_KEY")
    method = method or None
    if method == "explicit" and from_environment:
        described = _METHODS["env"]
    else:
        described = _METHODS.get(method, method or "no credentials found")
    if profile:
        described = f"profile {profile}: {described}"
    if access_key_id:
        described = f"{described}, access key {access_key_id}"
    warnings = []
    if from_environment and env_profile and env_profile != profile:
        warnings.append(
            f"AWS_PROFILE={env_profile} is set but NOT used: the access key in AWS_ACCESS_KEY_ID ({access_key_id or 'unknown'}) "
            f"signs rotor's calls, because environment keys are given to botocore explicitly. Unset AWS_ACCESS_KEY_ID and "
            f"AWS_SECRET_ACCESS_KEY, or set rotor_aws_profile={env_profile} (a profile given to rotor wins over environment keys).")
    elif profile and env_key and not from_environment:
        warnings.append(
            f"AWS_ACCESS_KEY_ID ({env_key if re.fullmatch(r'A[KS]IA[A-Z0-9]{16}', env_key) else 'set'}) is in the environment but "
            f"NOT used: profile {profile} signs rotor's calls. Unset the environment keys if that is not what you meant.")
    return {"method": method, "profile": profile or None, "access_key_id": access_key_id, "description": described,
            "warnings": warnings}


def simulation_principal(arn):
    """The ARN SimulatePrincipalPolicy takes for the caller ``arn`` (an assumed role's role), or None."""
    match = _ASSUMED_ROLE.match(arn or "")
    if match:
        return f"arn:{match.group(1)}:iam::{match.group(2)}:role/{match.group(3)}"
    return arn if _IAM_PRINCIPAL.match(arn or "") else None


def user_arn(arn, user_name):
    """The ARN of IAM user ``user_name`` in the caller's account and partition (``arn`` is the caller's)."""
    parts = (arn or "").split(":")
    partition = parts[1] if len(parts) > 4 else "aws"
    account = parts[4] if len(parts) > 4 else "*"
    return f"arn:{partition}:iam::{account}:user/{user_name}"


def denied_actions(evaluation_results):
    """SimulatePrincipalPolicy's EvaluationResults reduced to what is not allowed: [{action, resource, decision}]."""
    return [{"action": r.get("EvalActionName"), "resource": r.get("EvalResourceName"), "decision": r.get("EvalDecision")}
            for r in evaluation_results or [] if r.get("EvalDecision") != "allowed"]


def permissions_sentence(permissions):
    """One sentence on the caller's permissions, from the module's ``permissions`` result."""
    if not permissions:
        return "permissions: not checked"
    if not permissions.get("checked"):
        return f"permissions: NOT checked ({permissions.get('reason') or 'no simulation'}); a missing permission shows only when the run reaches it"
    denied = permissions.get("denied") or []
    if not denied:
        return (f"permissions: every action the plan may need is allowed by the caller's IAM policies "
                f"({', '.join(a.split(':')[1] for a in permissions.get('actions') or ROTATION_ACTIONS)}; iam:SimulatePrincipalPolicy; "
                f"service control policies and permissions boundaries are not simulated)")
    by_resource = {}
    for item in denied:
        by_resource.setdefault(item["resource"], []).append(f"{item['action']} ({item['decision']})")
    listed = "; ".join(f"{', '.join(actions)} on {resource}" for resource, actions in sorted(by_resource.items()))
    return (f"permissions: DENIED by the caller's IAM policies - {listed}. A rotation that needs one of them stops there: grant "
            f"them (docs/iam-policy.json) before the real run. (Each user is simulated as user/NAME: for a user with an IAM path, "
            f"a policy scoped to that path shows as denied here though it may allow the real ARN)")


def caller_lines(results):
    """The plan's first lines: per AWS connection, who acts, where its credentials come from, warnings, permissions.

    ``results``: the registered loop of rotor.iam.caller_identity (each C(item) the connection).
    """
    lines = []
    for result in results or []:
        if not isinstance(result, dict) or result.get("skipped"):
            continue
        connection = result.get("item") or {}
        where = ", ".join(f"{k} {v}" for k, v in sorted(connection.items()) if v and k in ("profile", "region", "endpoint_url"))
        suffix = f" [{where}]" if where else ""
        if result.get("failed"):
            lines.append(f"caller{suffix}: UNKNOWN - {result.get('msg')}")
            continue
        source = result.get("credential_source") or {}
        lines.append(f"caller{suffix}: {result.get('arn')} (account {result.get('account')}), credentials from "
                     f"{source.get('description') or 'unknown'}")
        lines.extend(f"WARNING{suffix}: {warning}" for warning in source.get("warnings") or [])
        if result.get("permissions") is not None:
            lines.append(permissions_sentence(result.get("permissions")) + suffix)
    return lines
