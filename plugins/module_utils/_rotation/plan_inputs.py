# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private (rotor.iam's rotation engine): the plan from what the plan step registered.

``rotation_plan`` turns the plan step's registered results (the hosts' reads, the locks, the key listings, the
secret destinations' reads) into the plans of plan.py, each naming its IAM user and connection, with the key holders
verified (holders.py); ``key_holder`` says which host and file hold a key. rotor.iam.rotation_start
(plugins/filter/engine.py) calls them. No AWS calls and no Ansible: malformed input raises KeyError, TypeError,
AttributeError or ValueError (RunError), which the filter turns into one error naming itself.
"""

from __future__ import annotations

import functools
import os

from ansible_collections.rotor.iam.plugins.module_utils._rotation.destinations import destination_holdings
from ansible_collections.rotor.iam.plugins.module_utils._rotation.holders import apply_to_plans
from ansible_collections.rotor.iam.plugins.module_utils._rotation.holders import known_variable_names
from ansible_collections.rotor.iam.plugins.module_utils._rotation.holders import verify_holders
from ansible_collections.rotor.iam.plugins.module_utils._rotation.hosts import READ
from ansible_collections.rotor.iam.plugins.module_utils._rotation.hosts import ROLE_REGISTERS
from ansible_collections.rotor.iam.plugins.module_utils._rotation.hosts import host_read
from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan import plan_rotation
from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan import refused_user_plan
from ansible_collections.rotor.iam.plugins.module_utils._rotation.run import RunError


def rotation_plan(key_infos, hosts=None, max_age_days=90, force=False, delete_inactive_after_days=7, journals=None, in_use_window_minutes=60,
                  fleet=None, compromised_key_ids=None, users=None, locks=None, hostvars=None, play_hosts=None,
                  destination_reads=None, warn=None, registers=None):
    """Plan every user. With ``users`` (the run's IAM users: fleet.fleet_users), users are keyed by their reference
    (C(account:name) when the run spans accounts): each access_key_info result's C(item) is that reference,
    and each plan carries C(iam_user_name) and C(connection) for the IAM calls.

    ``hosts`` ({host: {user, reachable, key_ids, file_key_ids}}) may instead come from ``hostvars`` and
    ``play_hosts``: each host's registered plan-time read (see module_utils/rotation_state.py).
    ``destination_reads``: the registered rotor.iam.secret_destination state=read loop over the run's
    destinations (destinations.destinations_to_read): the key id each holds counts as a host's does; a
    destination that cannot be read refuses its user.
    ``warn``: called with each warning of the holders' check (hosts that hold keys but name no user); None: not shown.
    ``registers``: {phase: register name}; the hosts' plan-time reads are the register named for V(read)."""
    if hosts is None:
        hosts = {host: dict(host_read(hostvars[host], registers), user=hostvars[host].get("rotor_iam_user")) for host in play_hosts or []}
    host_refs = dict((users or {}).get("host_refs") or {})
    fleet = fleet if fleet is not None else (users or {}).get("fleet")
    users = dict((users or {}).get("users") or {})
    journals = dict(journals or {})
    refused = {}
    for lock in locks or []:
        if lock.get("failed"):
            ref = lock["item"]
            message = str(lock.get("msg") or "the user's rotation lock could not be taken")
            # The journal names the IAM user alone; across accounts, say which one.
            refused[ref] = message if ref == (users.get(ref) or {}).get("user_name", ref) else f"{ref}: {message}"
        else:
            # The lease rides with the journal into the plan (plan.lease), for the steps that follow.
            journals[lock["item"]] = dict(lock.get("journal") or {}, lease=lock.get("lease"))
    refused.update({ref: entry["error"] for ref, entry in users.items() if entry.get("error") and ref not in refused})
    destinations, unreadable = destination_holdings(destination_reads)
    refused.update({ref: message for ref, message in unreadable.items() if ref not in refused})
    hosts = {host: dict(info, user=host_refs.get(host, info.get("user"))) for host, info in dict(hosts).items()}
    infos = []
    for result in key_infos:
        info = dict(result)
        ref = info.get("item") if isinstance(info.get("item"), str) else None
        if ref and ref in users:
            info["user_name"] = ref
        infos.append(info)
    plans = plan_rotation(
        infos,
        hosts,
        max_age_days=int(max_age_days),
        force=bool(force),
        delete_inactive_after_days=int(delete_inactive_after_days),
        journals=journals,
        in_use_window_minutes=int(in_use_window_minutes),
        fleet={user: list(names) for user, names in dict(fleet or {}).items()},
        compromised_key_ids=compromised_key_ids,  # a list or a comma/space separated text (rotation_settings.split_key_ids)
        destinations=destinations,
    )
    for ref, message in refused.items():
        plans[ref] = refused_user_plan(message, user_name=ref)
    if hostvars is not None:
        warnings = _verify_holders(plans, hostvars, play_hosts, host_refs, key_infos, set(destinations) | set(unreadable), registers)
        if warn is not None:
            for warning in warnings:
                warn(warning)
    for ref, plan in plans.items():
        entry = users.get(ref) or {}
        plan["ref"] = ref
        plan["iam_user_name"] = entry.get("user_name") or ref
        plan["account"] = entry.get("account")
        plan["connection"] = entry.get("connection") or {"profile": "", "region": "", "endpoint_url": ""}
        if entry.get("error") and not plan.get("error"):
            plan.update(error=entry["error"], due=False)
    return plans


def _verify_holders(plans, hostvars, play_hosts, host_refs, key_infos, users_with_destinations, registers=None):
    """Refuse the users whose key holders are not what the inventory says (holders.py). Changes ``plans`` in place;
    returns the warnings about hosts that hold keys but name no user."""
    hosts = {}
    for host in play_hosts or []:
        facts = hostvars[host]
        name = facts.get("rotor_iam_user")
        name = name if isinstance(name, str) else ""
        hosts[host] = {"user": host_refs.get(host, name) if name else "", "user_name": name,
                       "variables": [key for key in facts.keys() if isinstance(key, str) and key.startswith("rotor_")],
                       "files": facts.get("rotor_credentials_files"), "read": facts.get((registers or ROLE_REGISTERS)[READ])}
    user_keys, owners = {}, {}
    for result in key_infos or []:
        if not isinstance(result, dict) or "access_keys" not in result:
            continue
        ref = result.get("item") if isinstance(result.get("item"), str) else result.get("user_name")
        user_keys[ref] = [k["access_key_id"] for k in result.get("access_keys") or []]
        owners.update(result.get("key_owners") or {})
    verdict = verify_holders(hosts, user_keys, owners, users_with_destinations, known=known_variables())
    apply_to_plans(plans, verdict, {host: info["user"] for host, info in hosts.items()})
    return list(verdict["warnings"])


# This file is plugins/module_utils/_rotation/plan_inputs.py: the collection's root is four directories up.
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@functools.lru_cache(maxsize=None)
def known_variables():
    """The public rotor_* variables, read once from this collection's own roles and playbooks."""
    return known_variable_names(COLLECTION_ROOT)


def key_holder(hostvars, hosts, access_key_id, registers=None):
    """The first of ``hosts`` whose credentials files hold ``access_key_id`` (as read at plan time), and that file:
    {host, file}; {} when none does."""
    for host in hosts or []:
        facts = hostvars[host]
        held = host_read(facts, registers)["file_key_ids"]
        if access_key_id in held:
            files = facts["rotor_credentials_files"]
            index = held.index(access_key_id)
            if index >= len(files):
                raise RunError(f"host {host}: rotor_credentials_files has {len(files)} entries, fewer than the files its plan-time "
                               f"read reports")
            return {"host": host, "file": dict(files[index])}
    return {}
