# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private (rotor.iam's rotation engine): the plan step's reads, before the plan is made.

The run's name and its checked run-wide variables, the callers that cannot reach AWS, the locks this run took and
the leaked keys no IAM user of the run owns: each read from what the role registered. No AWS calls and no Ansible.
"""

from __future__ import annotations

import datetime
import random

from ansible_collections.rotor.iam.plugins.module_utils.redact import shown_key_id
from ansible_collections.rotor.iam.plugins.module_utils.rotation_settings import check_settings
from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan import unknown_compromised_keys

# The role's run-wide variables the plan reads, by the name the plan gives each (the others are only checked).
PLAN_SETTINGS = {"max_age_days": "rotor_max_key_age_days", "force": "rotor_force",
                 "delete_inactive_after_days": "rotor_delete_inactive_after_days", "in_use_window_minutes": "rotor_in_use_window_minutes"}


def name_run(run_id="", now=None):
    """{run_id, started, started_epoch}: ``run_id`` when given (rotor_run_id: an AWX workflow's id ties its jobs to one run),
    else one made of the start time and a random number."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    # A naive UTC time, as Jinja's now(utc=true) gives it: the report measures the run's duration the same way.
    naive = now.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return {"run_id": str(run_id or "") or f"{naive.strftime('%Y%m%dT%H%M%SZ')}-{random.randrange(999999)}",
            "started": naive.strftime("%Y-%m-%dT%H:%M:%SZ"), "started_epoch": naive.timestamp()}


def plan_settings(variables):
    """``(settings, problems)`` from the role's run-wide variables ({rotor_*: value}): the problems are sentences that
    refuse the run before anything changes (module_utils/rotation_settings.py); the settings are what the plan reads,
    the leaked key ids checked. A refused value that may be a secret is in neither: with problems, no settings."""
    checked = check_settings(dict(variables))
    if checked["problems"]:
        return {}, list(checked["problems"])
    settings = {name: variables[variable] for name, variable in PLAN_SETTINGS.items() if variable in variables}
    settings["force"] = bool(settings.get("force", False))  # the role gives it as rotor_force | bool
    settings["compromised_key_ids"] = list(checked["compromised_key_ids"])
    return settings, []


def unreachable_connections(callers):
    """The messages (unique, in order) of the registered rotor.iam.caller_identity results that did not reach AWS at all."""
    messages = [r.get("msg") for r in callers or [] if isinstance(r, dict) and r.get("error_code") == "ConnectionError"]
    return list(dict.fromkeys(str(m) for m in messages))


def locked_users(locks, check_mode=False):
    """The users whose lock this run took (the registered lock loop); none in check mode (nothing is locked)."""
    if check_mode:
        return []
    return [result["item"] for result in locks or [] if not result.get("failed") and not result.get("skipped")]


def lock_notes(locks):
    """[{user, note}] for the locks this run took over from earlier runs (the registered lock loop)."""
    return [{"user": r.get("item"), "note": r["lock_note"]} for r in locks or []
            if isinstance(r, dict) and isinstance(r.get("lock_note"), str) and r["lock_note"]]


def compromised_not_found(compromised_key_ids, key_infos):
    """The leaked key ids that belong to no IAM user of the run (the registered rotor.iam.access_key_info loop)."""
    unknown = unknown_compromised_keys(compromised_key_ids, [r for r in key_infos or [] if isinstance(r, dict) and "access_keys" in r])
    # A secret listed by mistake is reported, withheld, once.
    return sorted(set(shown_key_id(key_id) for key_id in unknown))
