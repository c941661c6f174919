#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: quiet_gate
short_description: Tell whether an old access key fell silent once every known holder switched (the quiet-key gate)
version_added: 0.5.0
description:
  - Reads the key's last use (C(iam:GetAccessKeyLastUsed)) and judges it against O(switched_at), the moment the last
    known holder of the key was proven on its successor. A use later than that (a use in the same second counts) is an
    unknown consumer's. Then RV(stop) is V(true) and RV(msg) says when and where (service, region) the key was last used
    and how to find the consumer. Otherwise the key must stay silent until O(quiet_minutes) after O(switched_at); with
    O(wait=true) the module waits out what is left of that and reads the last use again.
  - With O(incident=true) (a compromised key) it reports a use and never waits or stops.
  - With O(consumer_lookup=cloudtrail) and a use after the switch, looks the key's calls since the switch up in
    CloudTrail (C(cloudtrail:LookupEvents) by C(AccessKeyId), in the region of the last use and the connection's region)
    and names each caller by its source address, as the inventory host in O(host_addresses) that has it, else as an
    unknown consumer. CloudTrail's limits apply (management events only, 90 days, 2 requests per second per region).
  - The rotor.iam.rotate role runs it before deactivating an old key and, with a drain, before deleting it
    (docs/quiet-gate.md). Reads only. Never returns a secret.
author:
  - rotor.iam maintainers (@rotor-iam)
options:
  user_name:
    description: The IAM user that owns the key.
    type: str
    aliases: [user]
  access_key_id:
    description: The old access key.
    type: str
    required: true
  switched_at:
    description:
      - When the last known holder was proven on the new key, ISO 8601. Without a time zone it is the controller's local
        time (as M(ansible.builtin.pause) returns its C(start)).
    type: str
    required: true
  quiet_minutes:
    description: How long after O(switched_at) the key must have stayed silent (fractions allowed, 0 to 1440).
    type: float
    default: 0.25
  wait:
    description: Wait out the rest of the quiet period (at most O(quiet_minutes)) and read the last use again.
    type: bool
    default: true
  incident:
    description: The key is compromised (incident response). Report a use after the switch, never wait, never stop.
    type: bool
    default: false
  consumer_lookup:
    description: V(cloudtrail) names the callers since the switch from CloudTrail when the key was used after it.
    type: str
    choices: [none, cloudtrail]
    default: none
  host_addresses:
    description: The inventory's hosts and their addresses (host name to a list of addresses), to name CloudTrail's callers.
    type: dict
    default: {}
  before:
    description: What the caller does to the key if it is quiet (V(deactivation) or V(deletion)), for the message.
    type: str
    choices: [deactivation, deletion]
    default: deactivation
  lookup_regions:
    description: Regions whose CloudTrail is searched; default the region of the key's last use and the connection's region.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - rotor.iam.user_target
  - rotor.iam.attributes.INFO_MODULE
  - rotor.iam.attributes.ACTION_GROUP
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Needs C(iam:GetAccessKeyLastUsed), and with O(consumer_lookup=cloudtrail) C(cloudtrail:LookupEvents).
  - AWS publishes a key's last use with a delay it does not document (minutes), and a use inside that delay is not seen.
    A consumer idle for the whole quiet period is not seen either, nor named by CloudTrail when it makes data events only.
seealso:
  - module: rotor.iam.access_key_info
  - module: rotor.iam.leaked_key_info
"""

EXAMPLES = r"""
- name: Is the old key silent since every host switched at 10:00?
  rotor.iam.quiet_gate:
    user_name: app-backup
    access_key_id: AKIAIOSFODNN7EXAMPLE
    switched_at: "2026-12-07T10:00:00+00:00"
    quiet_minutes: 15
    consumer_lookup: cloudtrail
  register: gate
"""

RETURN = r"""
verdict:
  description: V(quiet), V(in_use) (used after the switch), V(wait) (silent, not watched long enough; O(wait=false) only) or
    V(unknown) (a time that cannot be read).
  returned: always
  type: str
  sample: in_use
stop:
  description: Whether the key must not be touched (V(in_use) or V(unknown), outside incident mode).
  returned: always
  type: bool
  sample: true
msg:
  description: What the gate saw and, when it stops, how to find the consumer and go on.
  returned: always
  type: str
  sample: "stopped by the quiet-key gate before touching the old key AKIA...: it was last used at ..."
last_used_date:
  description: The key's last use, ISO 8601 in UTC, or V(null).
  returned: always
  type: str
  sample: "2026-12-07T10:00:12+00:00"
last_used_service:
  description: The service of the last use, or V(null).
  returned: always
  type: str
  sample: sts
last_used_region:
  description: The region of the last use, or V(null).
  returned: always
  type: str
  sample: us-east-1
switched_at:
  description: O(switched_at), in UTC.
  returned: always
  type: str
  sample: "2026-12-07T10:00:00+00:00"
quiet_until:
  description: When the quiet period ends.
  returned: always
  type: str
  sample: "2026-12-07T10:00:30+00:00"
waited_seconds:
  description: How long the module waited.
  returned: always
  type: float
  sample: 3.2
consumers:
  description: With O(consumer_lookup=cloudtrail) and a use after the switch, CloudTrail's callers since the switch.
  returned: when looked up
  type: dict
  contains:
    hosts:
      description: Inventory hosts still calling with the key, by name (count, last, user_agents, event_sources, regions).
      type: dict
    unknown:
      description: Other callers, by source address.
      type: list
    lines:
      description: One line per caller, and CloudTrail's limits.
      type: list
"""

import datetime
import time

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import get_access_key_last_used
from ansible_collections.rotor.iam.plugins.module_utils.key_activity import lookup_key_activity
from ansible_collections.rotor.iam.plugins.module_utils._rotation import quiet
from ansible_collections.rotor.iam.plugins.module_utils._user_target import with_user_target
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import build_module
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import iam_client
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import refuse_malformed_key_ids
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import run

try:
    from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
except ImportError:
    pass  # AnsibleAWSModule reports missing dependencies


def _own_spec():
    """The module's own options (amazon.aws adds the connection options)."""
    return dict(argument_spec=dict(
        user_name=dict(type="str", required=True, aliases=["user"]),
        access_key_id=dict(type="str", required=True),
        switched_at=dict(type="str", required=True),
        quiet_minutes=dict(type="float", default=quiet.DEFAULT_QUIET_MINUTES),
        wait=dict(type="bool", default=True),
        incident=dict(type="bool", default=False),
        consumer_lookup=dict(type="str", default="none", choices=["none", "cloudtrail"]),
        host_addresses=dict(type="dict", default={}),
        lookup_regions=dict(type="list", elements="str", default=[]),
        before=dict(type="str", default="deactivation", choices=["deactivation", "deletion"]),
    ))


def module_spec():
    """The module's options: its own, with the shared ``iam_user`` (amazon.aws adds the connection options)."""
    return with_user_target(_own_spec(), lock=False)


def switch_moment(value):
    """``switched_at`` in UTC: an ISO time, a naive one being the controller's local time (ansible.builtin.pause's start)."""
    try:
        moment = datetime.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # local time of the controller, where this runs
    return moment.astimezone(datetime.timezone.utc)


def _cloudtrail(module, region):
    return module.client("cloudtrail", region=region, config={"retries": {"mode": "standard", "total_max_attempts": 1}},
                         retry_decorator=AWSRetry.jittered_backoff(retries=8, delay=1, max_delay=10,
                                                                   catch_extra_error_codes=["ThrottlingException"]))


def judge(read, switched, minutes, incident, wait, now=None, sleep=time.sleep):
    """(verdict, last use, waited seconds): read the last use, decide, and with ``wait`` wait out the rest once and read again."""
    now = now or (lambda: datetime.datetime.now(datetime.timezone.utc))
    used = read()
    verdict = quiet.quiet_verdict(used["last_used_date"], switched, now(), minutes=minutes, incident=incident)
    waited = 0.0
    if verdict["verdict"] == "wait" and wait:
        waited = verdict["wait_seconds"]
        sleep(waited)
        used = read()
        verdict = quiet.quiet_verdict(used["last_used_date"], switched, now(), minutes=minutes, incident=incident)
        if verdict["verdict"] == "wait":  # a sleep cut short by a fraction of a second: the key was watched for the period
            verdict = dict(verdict, verdict="quiet", wait_seconds=0.0)
    return verdict, used, waited


def execute(module):
    """The module's work: exits through ``module`` (a module run or its action plugin on the controller)."""
    params = module.params
    refuse_malformed_key_ids(module, "access_key_id")
    try:
        minutes = quiet.quiet_minutes(params["quiet_minutes"])
    except quiet.QuietGateError as exc:
        module.fail_json(msg=f"{exc}. Nothing was looked up.")
    switched = switch_moment(params["switched_at"])
    if switched is None:
        module.fail_json(msg=f"switched_at must be an ISO 8601 time (e.g. 2026-12-07T10:00:00+00:00), got "
                             f"{str(params['switched_at'])[:40]!r}. Nothing was looked up.")
    user, key_id = params["user_name"], params["access_key_id"]
    client = iam_client(module)

    def operation():
        verdict, used, waited = judge(lambda: get_access_key_last_used(client, key_id, user_name=user), switched, minutes,
                                      params["incident"], params["wait"] and not module.check_mode)
        service, region = used["last_used_service"], used["last_used_region"]
        result = {"changed": False, "verdict": verdict["verdict"], "stop": verdict["stop"], "last_used_date": used["last_used_date"],
                  "last_used_service": service, "last_used_region": region, "switched_at": verdict["switched_at"] or switched.isoformat(),
                  "quiet_until": verdict["quiet_until"], "waited_seconds": round(waited, 1)}
        attribution = None
        if params["consumer_lookup"] == "cloudtrail" and verdict["used_after_switch"]:
            regions = params["lookup_regions"] or [r for r in (region, module.region or "us-east-1") if r]
            clients = {name: _cloudtrail(module, name) for name in dict.fromkeys(regions)}
            activity = lookup_key_activity(clients, key_id, days=1)
            attribution = dict(quiet.attribute_events(activity["events"], switched, params["host_addresses"]),
                               regions_searched=activity["regions_searched"], regions_not_searched=activity["regions_not_searched"])
            result["consumers"] = dict(attribution, lines=quiet.attribution_lines(key_id, attribution))
        if verdict["stop"]:
            result["msg"] = quiet.stop_message(user, key_id, verdict, service, region, minutes, attribution,
                                               before=params["before"])
        elif verdict["used_after_switch"]:
            result["msg"] = quiet.incident_message(user, key_id, verdict, service, region)
            if attribution:
                result["msg"] += ". " + "; ".join(result["consumers"]["lines"])
        else:
            result["msg"] = f"the old key {key_id} of {user} is quiet: {verdict['reason']}"
        return result

    run(module, operation, action="iam:GetAccessKeyLastUsed")


def main():
    execute(build_module(**module_spec()))


if __name__ == "__main__":
    main()
