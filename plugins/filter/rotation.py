# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# Each filter is documented in plugins/filter/<name>.yml (ansible-doc -t filter rotor.iam.<name>).

import os

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.rotor.iam.plugins.filter.destinations import destination_holdings
from ansible_collections.rotor.iam.plugins.module_utils._rotation import fleet as run_users
from ansible_collections.rotor.iam.plugins.module_utils._rotation.holders import apply_to_plans
from ansible_collections.rotor.iam.plugins.module_utils._rotation.holders import known_variable_names
from ansible_collections.rotor.iam.plugins.module_utils._rotation.holders import verify_holders
from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan import plan_rotation
from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan import refused_user_plan
from ansible_collections.rotor.iam.plugins.module_utils._rotation.hosts import ROLE_REGISTERS
from ansible_collections.rotor.iam.plugins.module_utils.redact import shown_key_id
from ansible_collections.rotor.iam.plugins.module_utils._rotation.hosts import host_read


def rotation_plan(key_infos, hosts=None, max_age_days=90, force=False, delete_inactive_after_days=7, journals=None, in_use_window_minutes=60,
                  fleet=None, compromised_key_ids=None, users=None, locks=None, hostvars=None, play_hosts=None,
                  destination_reads=None):
    """Plan every user. With ``users`` (C(rotor.iam.fleet_users)), users are keyed by their reference
    (C(account:name) when the run spans accounts): each access_key_info result's C(item) is that reference,
    and each plan carries C(iam_user_name) and C(connection) for the IAM calls.

    ``hosts`` ({host: {user, reachable, key_ids, file_key_ids}}) may instead come from ``hostvars`` and
    ``play_hosts``: each host's registered plan-time read (see module_utils/rotation_state.py).
    ``destination_reads``: the registered rotor.iam.secret_destination state=read loop over the run's
    destinations (C(rotor.iam.destinations_to_read)): the key id each holds counts as a host's does; a
    destination that cannot be read refuses its user."""
    try:
        if hosts is None:
            hosts = {host: dict(host_read(hostvars[host]), user=hostvars[host].get("rotor_iam_user")) for host in play_hosts or []}
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
            _verify_holders(plans, hostvars, play_hosts, host_refs, key_infos, set(destinations) | set(unreadable))
        for ref, plan in plans.items():
            entry = users.get(ref) or {}
            plan["ref"] = ref
            plan["iam_user_name"] = entry.get("user_name") or ref
            plan["account"] = entry.get("account")
            plan["connection"] = entry.get("connection") or {"profile": "", "region": "", "endpoint_url": ""}
            if entry.get("error") and not plan.get("error"):
                plan.update(error=entry["error"], due=False)
        return plans
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"rotor.iam.rotation_plan: malformed input ({exc})") from exc


def _verify_holders(plans, hostvars, play_hosts, host_refs, key_infos, users_with_destinations):
    """Refuse the users whose key holders are not what the inventory says (module_utils/holders.py); warn about
    hosts that hold keys but name no user. Changes ``plans`` in place."""
    hosts = {}
    for host in play_hosts or []:
        facts = hostvars[host]
        name = facts.get("rotor_iam_user")
        name = name if isinstance(name, str) else ""
        hosts[host] = {"user": host_refs.get(host, name) if name else "", "user_name": name,
                       "variables": [key for key in facts.keys() if isinstance(key, str) and key.startswith("rotor_")],
                       "files": facts.get("rotor_credentials_files"), "read": facts.get(ROLE_REGISTERS["read"])}
    user_keys, owners = {}, {}
    for result in key_infos or []:
        if not isinstance(result, dict) or "access_keys" not in result:
            continue
        ref = result.get("item") if isinstance(result.get("item"), str) else result.get("user_name")
        user_keys[ref] = [k["access_key_id"] for k in result.get("access_keys") or []]
        owners.update(result.get("key_owners") or {})
    verdict = verify_holders(hosts, user_keys, owners, users_with_destinations, known=_known_variables())
    apply_to_plans(plans, verdict, {host: info["user"] for host, info in hosts.items()})
    for warning in verdict["warnings"]:
        Display().warning(warning)


_KNOWN_VARIABLES = []


def _known_variables():
    """The public rotor_* variables, read once from this collection's own roles and playbooks."""
    if not _KNOWN_VARIABLES:
        _KNOWN_VARIABLES.append(known_variable_names(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
    return _KNOWN_VARIABLES[0]


def fleet_users(hostvars, hosts, identities=None, inventory_hosts=None, variable="rotor_iam_user", destinations=None):
    """Who is rotated: an IAM user is its connection's account and its name (module_utils/_rotation/fleet.py)."""
    try:
        return run_users.fleet_users(hostvars, hosts, identities, inventory_hosts, variable=variable, destinations=destinations)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise AnsibleFilterError(f"rotor.iam.fleet_users: malformed input ({exc})") from exc


def key_holder(hostvars, hosts, access_key_id):
    """The first of ``hosts`` whose credentials files hold ``access_key_id`` (as read at plan time), and that file:
    {host, file}; {} when none does."""
    try:
        for host in hosts or []:
            facts = hostvars[host]
            held = host_read(facts)["file_key_ids"]
            if access_key_id in held:
                return {"host": host, "file": dict(facts["rotor_credentials_files"][held.index(access_key_id)])}
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise AnsibleFilterError(f"rotor.iam.key_holder: malformed input ({exc})") from exc
    return {}


def lockable_users(fleet):
    """The users (sorted) of C(rotor.iam.fleet_users) that the run may lock: those not refused already
    (hosts that disagree on the connection, a connection that does not answer)."""
    try:
        return run_users.lockable_users(fleet)
    except (TypeError, AttributeError, ValueError) as exc:
        raise AnsibleFilterError(f"rotor.iam.lockable_users: malformed input ({exc})") from exc


def plan_lines(plans, old_key_action="delete"):
    """The plan as one line per user, the way the run shows it before it changes anything."""
    lines = []
    for user, plan in sorted(dict(plans).items()):
        owner = f" (owner: {plan['owner']})" if plan.get("owner") else ""
        if plan.get("error"):
            what = f"CANNOT ROTATE - {plan['error']}"
        elif plan.get("due"):
            old_fate = ("kept Active (staged rollout)" if plan.get("staged") else "deleted" if old_key_action == "delete" else "deactivated")
            behind = sorted(set(plan.get("hosts_outside_play") or []) | set(plan.get("hosts_unreachable") or []))
            if plan.get("compromised_key_id") and plan.get("compromised_key_id") == plan.get("old_key_id") and behind:
                # Incident response deactivates the leaked key whatever the hosts; it goes once none holds it.
                old_fate = f"deactivated now, and deleted once every host holds the new key (still on it: {', '.join(behind)})"
            what = (("INCIDENT - " if plan.get("compromised_key_id") else "ROTATE - ") + f"{plan.get('reason')}; old key "
                    f"{shown_key_id(plan.get('old_key_id'))} will be {old_fate}")
            if plan.get("free_slot_key_id"):
                what += f"; key {shown_key_id(plan['free_slot_key_id'])} is deleted first to free the slot"
            what += f"; hosts: {', '.join(plan.get('hosts') or []) or '(none)'}"
            if plan.get("destinations"):
                what += "; destinations: " + ", ".join(f"{label} (on {shown_key_id(key_id) or 'no key'})"
                                                       for label, key_id in plan["destinations"].items())
        else:
            what = ("EXEMPT - " if plan.get("exempt") else "skip - ") + str(plan.get("reason") or "")
        if plan.get("stale_inactive_key_ids"):
            what += f"; stale Inactive keys to delete: {', '.join(shown_key_id(k) for k in plan['stale_inactive_key_ids'])}"
        if plan.get("notes"):
            what += "; " + "; ".join(plan["notes"])
        lines.append(f"{user}{owner}: {what}")
    return lines


class FilterModule:
    def filters(self):
        # The engine (rotation_start, rotation_advance) calls these functions; none is a public filter.
        return {}
