# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""AWS's quarantine of a leaked key's user: which quarantine policies are attached, what they deny, and when to detach.

When AWS finds an access key exposed it attaches an AWS managed policy (``AWSCompromisedKeyQuarantine``, ``V2``,
``V3`` or ``V4``) to the key's IAM user. The policy is attached to the user, not the key, so the new key a rotation
makes inherits its denies. Plain functions: the IAM calls take a boto3 client (``aws_retry=True`` retries
throttling), the decisions are pure and unit-tested.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

try:
    import botocore
except ImportError:
    pass  # the modules report a missing botocore through AnsibleAWSModule

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import _call
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import error_code
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import list_access_keys

QUARANTINE_POLICY_NAMES = ("AWSCompromisedKeyQuarantine", "AWSCompromisedKeyQuarantineV2",
                           "AWSCompromisedKeyQuarantineV3", "AWSCompromisedKeyQuarantineV4")
# AWS managed policies live under the account "aws", in any partition (aws, aws-cn, aws-us-gov).
_QUARANTINE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/(?:[\w+=,.@-]+/)*(AWSCompromisedKeyQuarantine(?:V\d+)?)$")

# Actions a quarantine denies that matter to a rotation or a consumer's health check; named in the report when the
# policy's own document cannot be read. Known from the published versions of the policies.
KNOWN_DENIES = ("iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:DeleteAccessKey", "iam:AttachUserPolicy",
                "iam:PutUserPolicy", "iam:CreateUser", "cloudtrail:LookupEvents", "s3:GetObject", "s3:ListBucket",
                "sts:GetSessionToken", "ec2:RunInstances", "lambda:CreateFunction")

# Key states in which the leaked key no longer signs anything (once AWS has propagated the change).
OUT_OF_SERVICE_STATES = ("Inactive", "Expired", "deleted")


def quarantine_policy_name(policy_arn):
    """The quarantine policy's name when ``policy_arn`` is one of AWS's quarantine policies, else None."""
    match = _QUARANTINE_ARN.match(policy_arn or "")
    return match.group(1) if match else None


def denied_actions(document):
    """The actions a policy document denies (``Deny`` statements' ``Action``), sorted; ``NotAction`` denies are named
    as ``NotAction:<action>``. Accepts the document as a dict or as IAM returns it (URL-encoded JSON text)."""
    if isinstance(document, str):
        document = json.loads(unquote(document))
    statements = (document or {}).get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    found = set()
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
            continue
        for field, prefix in (("Action", ""), ("NotAction", "NotAction:")):
            listed = statement.get(field) or []
            for action in [listed] if isinstance(listed, str) else listed:
                found.add(prefix + str(action))
    return sorted(found)


def attached_quarantine_policies(client, user_name):
    """The quarantine policies attached to ``user_name``: ``[{policy_name, policy_arn}]`` (ListAttachedUserPolicies)."""
    found = []
    request = {"UserName": user_name}
    while True:
        answer = _call("iam:ListAttachedUserPolicies", client.list_attached_user_policies, user_name=user_name, aws_retry=True, **request)
        for policy in answer.get("AttachedPolicies") or []:
            name = quarantine_policy_name(policy.get("PolicyArn"))
            if name:
                found.append({"policy_name": name, "policy_arn": policy["PolicyArn"]})
        if not answer.get("IsTruncated"):
            return found
        request["Marker"] = answer["Marker"]


def read_denied_actions(client, policy_arn):
    """(actions, None) from the policy's default version (GetPolicy, GetPolicyVersion), or (None, why) when it cannot be read."""
    try:
        version = client.get_policy(aws_retry=True, PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
        document = client.get_policy_version(aws_retry=True, PolicyArn=policy_arn, VersionId=version)["PolicyVersion"]["Document"]
        return denied_actions(document), None
    except botocore.exceptions.ClientError as exc:
        return None, f"iam:GetPolicy/GetPolicyVersion on {policy_arn} failed with {error_code(exc)}"
    except (KeyError, TypeError, ValueError) as exc:
        return None, f"the policy document of {policy_arn} could not be read ({type(exc).__name__})"


def describe_quarantine(client, user_name):
    """The user's quarantine: ``{attached, policies: [{policy_name, policy_arn, denied_actions, read_error}], denied_actions}``.

    ``denied_actions`` is the union over the policies; a policy whose document cannot be read contributes
    :data:`KNOWN_DENIES` and says why in ``read_error``.
    """
    policies = []
    union = set()
    for policy in attached_quarantine_policies(client, user_name):
        actions, why = read_denied_actions(client, policy["policy_arn"])
        policies.append(dict(policy, denied_actions=actions if actions is not None else list(KNOWN_DENIES), read_error=why))
        union.update(actions if actions is not None else KNOWN_DENIES)
    return {"attached": bool(policies), "policies": policies, "denied_actions": sorted(union)}


def denial_message(user_name, quarantine, hosts_and_checks):
    """What the quarantine means for the rotation's new key, for people: the denies it inherits and the health checks at risk.

    ``hosts_and_checks`` maps each host of the user to a short description of its health check (or None).
    """
    if not quarantine["attached"]:
        return f"{user_name}: no AWS quarantine policy is attached."
    names = ", ".join(policy["policy_name"] for policy in quarantine["policies"])
    denied = quarantine["denied_actions"]
    # The denies that matter most to a fleet's keys first; the full list is in the result.
    notable = [action for action in KNOWN_DENIES if action in denied]
    shown = ", ".join(notable or denied[:12])
    shown = f"{len(denied)} actions, among them {shown}" if len(denied) > len(notable or denied[:12]) else shown
    checks = "; ".join(f"{host} ({check})" if check else host for host, check in sorted(hosts_and_checks.items())) or "none in this inventory"
    return (f"{user_name}: quarantined by AWS ({names}), which denies {shown}. The policy is attached to the user, so the new "
            f"key inherits every deny: a health check that calls one of these actions with the new key fails until the "
            f"policy is detached (hosts of {user_name}: {checks}). sts:GetCallerIdentity, with which rotor proves keys, "
            f"is never denied.")


def detach_decision(opt_in, key_state, proven_rejected, attached):
    """(detach, reason): detach the quarantine only with the opt-in, once the leaked key is out of service and proven rejected."""
    if not attached:
        return False, "no quarantine policy is attached"
    if not opt_in:
        return False, "kept: rotor_detach_quarantine_policy is false (detaching it is an explicit decision)"
    if key_state not in OUT_OF_SERVICE_STATES:
        return False, f"kept: the leaked key is {key_state}, not Inactive or deleted"
    if not proven_rejected:
        return False, "kept: AWS was not proven to reject the leaked key"
    return True, f"detached: the leaked key is {key_state} and AWS rejects it"


def key_state(client, user_name, access_key_id):
    """``Active``, ``Inactive``, ``Expired`` or ``deleted`` (no such key of the user)."""
    for key in list_access_keys(client, user_name):
        if key["access_key_id"] == access_key_id:
            return key["status"]
    return "deleted"


def detach_policies(client, user_name, policy_arns, check_mode=False):
    """Detach each quarantine policy of ``policy_arns`` from ``user_name``; returns the ARNs detached (would be, in check mode).

    Refuses any ARN that is not an AWS quarantine policy: this never detaches anything else.
    """
    for arn in policy_arns:
        if not quarantine_policy_name(arn):
            raise RotorIAMError(f"{arn} is not an AWS quarantine policy (AWSCompromisedKeyQuarantine*); nothing was detached.",
                                code="InvalidParameter")
    if check_mode:
        return list(policy_arns)
    detached = []
    for arn in policy_arns:
        try:
            client.detach_user_policy(aws_retry=True, UserName=user_name, PolicyArn=arn)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "NoSuchEntity":
                continue  # detached meanwhile
            raise RotorIAMError(f"iam:DetachUserPolicy of {arn} from {user_name!r} failed with {error_code(exc)}"
                                f"{' after detaching ' + ', '.join(detached) if detached else ''}; the rest is still attached.",
                                code=error_code(exc), action="iam:DetachUserPolicy") from exc
        detached.append(arn)
    return detached
