#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: leaked_key_info
short_description: What an incident responder needs to know about a leaked access key, before and after replacing it
version_added: 0.5.0
description:
  - Looks up the IAM user that owns O(access_key_id) (C(iam:GetAccessKeyLastUsed) names the owner of any key of the
    account) and the key's status, and tells whether rotor.iam manages it (its owner is one of O(managed_user_names) or the user of one of O(inventory_hosts)).
  - Detects the AWS quarantine policies (C(AWSCompromisedKeyQuarantine), C(V2), C(V3), C(V4)) attached to the owner and
    reads what each denies from its default version. The policy is attached to the user, so a new key inherits it.
  - With O(include_activity=true), looks the key's recent calls up in CloudTrail (C(LookupEvents) by C(AccessKeyId)) in
    each region of O(activity_regions) and flags the calls that create or widen access (C(CreateUser),
    C(CreateAccessKey), C(Attach*Policy), C(PutUserPolicy) and the like). CloudTrail's limits are returned in
    RV(activity.limits) - management events only, the last 90 days, 2 requests per second per account and region.
  - Reads only. Never returns a secret.
author:
  - rotor.iam maintainers (@rotor-iam)
options:
  access_key_id:
    description: The leaked access key id.
    type: str
    required: true
  managed_user_names:
    description:
      - The IAM users rotor.iam rotates (for example every C(rotor_iam_user) of the inventory). The key is managed when its
        owner is one of them.
    type: list
    elements: str
    default: []
  include_activity:
    description: Look the key's recent calls up in CloudTrail.
    type: bool
    default: true
  activity_regions:
    description:
      - Regions whose CloudTrail is searched. IAM and STS calls are recorded in C(us-east-1); calls to regional services
        in their own region. Default the connection's region.
    type: list
    elements: str
    default: []
  activity_days:
    description: How many days back to look (CloudTrail keeps 90).
    type: int
    default: 90
  activity_max_events:
    description: At most this many events per region (newest first); RV(activity.truncated) says when there were more.
    type: int
    default: 200
  inventory_hosts:
    description:
      - The inventory's hosts, each with the IAM user whose key it holds and its health check (C(rotor_iam_user),
        C(rotor_health_check)). The users are managed, like O(managed_user_names); the hosts of the key's owner are named in
        RV(quarantine_message) as those whose health checks fail when they call an action the quarantine denies.
    type: list
    elements: dict
    default: []
    suboptions:
      host:
        description: The inventory hostname.
        type: str
        required: true
      user_name:
        description: The IAM user whose key the host holds; empty for a host that holds none.
        type: str
        default: ""
      health_check:
        description: The host's C(rotor_health_check) (C(url) or C(command)).
        type: dict
        default: {}
extends_documentation_fragment:
  - rotor.iam.attributes.INFO_MODULE
  - rotor.iam.attributes.ACTION_GROUP
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Needs C(iam:GetAccessKeyLastUsed), C(iam:ListAccessKeys) and C(iam:ListAttachedUserPolicies) on the owner, C(iam:GetPolicy)
    and C(iam:GetPolicyVersion) on C(arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine*), and, for the activity,
    C(cloudtrail:LookupEvents) (resource C(*)). Without it the activity says so and everything else is still returned.
  - A quarantine policy denies C(cloudtrail:LookupEvents) to the quarantined user itself; run this as another identity.
seealso:
  - module: rotor.iam.quarantine_policy
"""

EXAMPLES = r"""
- name: Who owns the leaked key, is it quarantined, what did it do
  rotor.iam.leaked_key_info:
    access_key_id: AKIAIOSFODNN7EXAMPLE
    managed_user_names: [app-backup, app-web]
    activity_regions: [us-east-1, eu-west-1]
  register: leak

- name: Report
  ansible.builtin.debug:
    msg: "{{ leak.report_lines }}"
"""

RETURN = r"""
access_key_id:
  description: The key looked up.
  returned: always
  type: str
  sample: AKIAIOSFODNN7EXAMPLE
user_name:
  description: Its owner; V(null) when no IAM user of the account has this key.
  returned: always
  type: str
  sample: app-backup
key_status:
  description: V(Active), V(Inactive), V(Expired), or V(deleted) when the key is not (or no longer) in the account.
  returned: always
  type: str
  sample: Active
managed:
  description: Whether the owner is one of O(managed_user_names) or the user of one of O(inventory_hosts).
  returned: always
  type: bool
  sample: true
reason:
  description: Why the key is not managed.
  returned: when RV(managed=false)
  type: str
  sample: "AKIAIOSFODNN7EXAMPLE belongs to IAM user ci-bot, which no host of this inventory uses"
quarantine:
  description: The AWS quarantine policies attached to the owner.
  returned: always
  type: dict
  contains:
    attached:
      description: Whether any is attached.
      type: bool
      sample: true
    policies:
      description: Each one, with what it denies (C(read_error) when its document could not be read and rotor's list of known denies is shown instead).
      type: list
      elements: dict
      sample:
        - policy_name: AWSCompromisedKeyQuarantineV3
          policy_arn: arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3
          denied_actions: [iam:CreateAccessKey]
          read_error: null
    denied_actions:
      description: Every action denied, over all of them.
      type: list
      elements: str
      sample: [cloudtrail:LookupEvents, iam:CreateAccessKey, iam:UpdateAccessKey]
quarantine_message:
  description: What the quarantine means for the new key and which health checks it breaks.
  returned: always
  type: str
activity:
  description: The key's recent calls from CloudTrail; V(null) without O(include_activity) or when the key has no owner.
  returned: always
  type: dict
  contains:
    events:
      description: The calls, newest first (time, name, source, region, source address, user agent, user, error, a few naming parameters).
      type: list
      elements: dict
    persistence:
      description: The events that create or widen access.
      type: list
      elements: dict
    regions_searched:
      description: Regions whose CloudTrail answered.
      type: list
      elements: str
    regions_not_searched:
      description: Region to why it was not searched (for example the caller may not call C(cloudtrail:LookupEvents)).
      type: dict
    truncated:
      description: Whether more events than O(activity_max_events) exist.
      type: bool
    days:
      description: Days looked back.
      type: int
    limits:
      description: The limits of a CloudTrail lookup, stated.
      type: str
report_lines:
  description: All of it for people, one line each.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import get_access_key_owner
from ansible_collections.rotor.iam.plugins.module_utils.key_activity import activity_lines
from ansible_collections.rotor.iam.plugins.module_utils.key_activity import lookup_key_activity
from ansible_collections.rotor.iam.plugins.module_utils.quarantine import denial_message
from ansible_collections.rotor.iam.plugins.module_utils.quarantine import describe_quarantine
from ansible_collections.rotor.iam.plugins.module_utils.quarantine import key_state
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import build_module
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import iam_client
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import refuse_malformed_key_ids
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import run

try:
    from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
except ImportError:
    pass  # AnsibleAWSModule reports missing dependencies

_NO_QUARANTINE = {"attached": False, "policies": [], "denied_actions": []}


def module_spec():
    """The module's own options (amazon.aws adds the connection options)."""
    return dict(argument_spec=dict(
        access_key_id=dict(type="str", required=True),
        managed_user_names=dict(type="list", elements="str", default=[]),
        include_activity=dict(type="bool", default=True),
        activity_regions=dict(type="list", elements="str", default=[]),
        activity_days=dict(type="int", default=90),
        activity_max_events=dict(type="int", default=200),
        inventory_hosts=dict(type="list", elements="dict", default=[], options=dict(
            host=dict(type="str", required=True),
            user_name=dict(type="str", default=""),
            health_check=dict(type="dict", default={}),
        )),
    ))


def cloudtrail_client(module, region):
    """A CloudTrail client for ``region`` that retries throttling (LookupEvents allows 2 requests per second)."""
    return module.client("cloudtrail", region=region, config={"retries": {"mode": "standard", "total_max_attempts": 1}},
                         retry_decorator=AWSRetry.jittered_backoff(retries=8, delay=1, max_delay=10,
                                                                   catch_extra_error_codes=["ThrottlingException"]))


def health_check_text(check):
    """A host's health check in a few words (its URL or command), or None."""
    check = check or {}
    if check.get("url"):
        return f"GET {check['url']}"
    if check.get("command"):
        return f"command {check['command']}"
    return None


def _owner(client, access_key_id):
    """The key's owner, or None when no user of the account has it."""
    try:
        return get_access_key_owner(client, access_key_id) or None
    except RotorIAMError as exc:
        if exc.code in ("NoSuchEntity", "AccessDenied"):
            return None  # not a key of this account (GetAccessKeyLastUsed answers AccessDenied for another account's)
        raise


def execute(module):
    """The module's work: exits through ``module`` (a module run or its action plugin on the controller)."""
    params = module.params
    refuse_malformed_key_ids(module, "access_key_id")
    if not 1 <= params["activity_days"] <= 90 or params["activity_max_events"] < 1:
        module.fail_json(msg=f"activity_days must be 1 to 90 (CloudTrail keeps 90 days), got {params['activity_days']}; activity_max_events "
                             f"at least 1, got {params['activity_max_events']}. Nothing was looked up.")
    key_id = params["access_key_id"]
    client = iam_client(module)

    def operation():
        user = _owner(client, key_id)
        result = {"changed": False, "access_key_id": key_id, "user_name": user, "quarantine": _NO_QUARANTINE, "activity": None}
        if user is None:
            result.update(key_status="deleted", managed=False, quarantine_message="",
                          reason=(f"{key_id} belongs to no IAM user of this account (deleted, never existed, another account's key, "
                                  f"or a user the caller may not read)"))
            result["report_lines"] = [f"{key_id}: NOT MANAGED BY ROTOR - {result['reason']}; reported, nothing done."]
            return result
        result["key_status"] = key_state(client, user, key_id)
        hosts = [h for h in params["inventory_hosts"] if h["user_name"] == user]
        result["managed"] = user in params["managed_user_names"] or bool(hosts)
        if not result["managed"]:
            result["reason"] = f"{key_id} belongs to IAM user {user}, which no host of this inventory uses"
        result["quarantine"] = describe_quarantine(client, user)
        result["quarantine_message"] = denial_message(user, result["quarantine"], {h["host"]: health_check_text(h["health_check"]) for h in hosts})
        lines = [f"{key_id}: owned by IAM user {user}, {result['key_status']}; "
                 + ("managed by rotor." if result["managed"] else f"NOT MANAGED BY ROTOR - {result['reason']}; reported, nothing done."),
                 f"{key_id}: {result['quarantine_message']}"]
        if params["include_activity"]:
            regions = params["activity_regions"] or [module.region or "us-east-1"]
            clients = {region: cloudtrail_client(module, region) for region in dict.fromkeys(regions)}
            result["activity"] = lookup_key_activity(clients, key_id, days=params["activity_days"], max_events=params["activity_max_events"])
            lines += activity_lines(key_id, result["activity"])
            lines.append(f"{key_id}: limits of the lookup: {result['activity']['limits']}")
        result["report_lines"] = lines
        return result

    run(module, operation, action="iam:GetAccessKeyLastUsed")


def main():
    execute(build_module(**module_spec()))


if __name__ == "__main__":
    main()
