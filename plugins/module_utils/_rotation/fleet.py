# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private (rotor.iam's rotation engine): the run's IAM users and the AWS connections that reach them.

An IAM user is its connection's account and its name. From the hosts' variables (``hostvars``: a mapping of host to its
variables) and what STS said of each connection: who is rotated, through which connection, which connections to
check, which users the run may lock. No AWS calls and no Ansible; malformed input raises KeyError, TypeError or
AttributeError, which the filters turn into one clear error.
"""

from __future__ import annotations

import re

from ansible_collections.rotor.iam.plugins.module_utils.caller_checks import ROTATION_ACTIONS

CONNECTION_VARIABLES = {"profile": "rotor_aws_profile", "region": "rotor_aws_region", "endpoint_url": "rotor_aws_endpoint_url"}


def host_connection(facts):
    """The AWS connection a host's IAM user is reached through (its rotor_aws_* variables; '' = not set)."""
    return {option: str(facts.get(variable) or "") for option, variable in CONNECTION_VARIABLES.items()}


def _connection_key(connection):
    return "|".join(connection[option] for option in CONNECTION_VARIABLES)


def connections(hostvars, hosts):
    """The distinct AWS connections of ``hosts`` (sorted), to learn each one's account once."""
    seen = {}
    for host in hosts:
        connection = host_connection(hostvars[host])
        seen.setdefault(_connection_key(connection), connection)
    return [seen[key] for key in sorted(seen)]


def fleet_users(hostvars, hosts, identities=None, inventory_hosts=None, variable="rotor_iam_user", destinations=None):
    """Who is rotated: an IAM user is its connection's account and its name.

    ``identities``: the registered results of rotor.iam.caller_identity over :func:`connections` (their ``item`` the
    connection), or none when the run has one connection. With one account, a user is named by its name; with
    several, as ``account:name``, wherever two could be confused. Returns
    ``{users: {ref: {user_name, account, connection, hosts, error, target, sts_target}}, host_refs: {host: ref},
    fleet: {ref: [hosts]}}``: ``fleet`` holds every inventory host naming the user, outside the play too (hosts whose
    account is unknown count for every user of that name, so the run stays staged rather than retire a key they may
    use). ``destinations`` (rotor_secret_destinations): a destination whose ``user`` no host names adds that user,
    with no host: its key lives only in its destinations. It is named as given (``ACCOUNT:NAME`` names the account)
    and reached through the destination's own connection options, else those of the play's first host.
    """
    accounts, failures = {}, {}
    for result in identities or []:
        if result.get("skipped"):
            continue
        connection = result.get("item") or {}
        if result.get("account") and not result.get("failed"):
            accounts[_connection_key(connection)] = str(result["account"])
        else:
            failures[_connection_key(connection)] = result.get("msg") or "the connection's identity could not be read"
    several = len(set(accounts.values())) > 1
    users, host_refs, conflicts = {}, {}, {}
    for host in hosts:
        facts = hostvars[host]
        name = facts.get(variable)
        if not isinstance(name, str) or not name:
            continue
        connection = host_connection(facts)
        key = _connection_key(connection)
        account = accounts.get(key)
        ref = f"{account}:{name}" if several and account else name
        entry = users.setdefault(ref, {"user_name": name, "account": account, "connection": connection, "hosts": [],
                                       "error": None})
        entry["hosts"].append(host)
        host_refs[host] = ref
        if key in failures and not entry["error"]:
            entry["error"] = (f"cannot rotate IAM user {ref!r}: the AWS connection of {host} (profile "
                              f"{connection['profile'] or '(environment)'}) does not answer sts:GetCallerIdentity: "
                              f"{failures[key]}. Fix rotor_aws_profile / rotor_aws_region / rotor_aws_endpoint_url for it.")
        if _connection_key(entry["connection"]) != key:
            conflicts.setdefault(ref, {}).setdefault(_connection_key(entry["connection"]), set()).add(entry["hosts"][0])
            conflicts[ref].setdefault(key, set()).add(host)
    for ref, by_connection in conflicts.items():
        detail = "; ".join(f"{', '.join(sorted(h))} use {describe_connection(c)}" for c, h in sorted(by_connection.items()))
        users[ref]["error"] = (f"cannot rotate IAM user {ref!r}: its hosts do not agree on the AWS connection to reach it ({detail}). "
                               f"Give every host of the user the same rotor_aws_profile, rotor_aws_region and rotor_aws_endpoint_url.")
    fleet = {ref: sorted(entry["hosts"]) for ref, entry in users.items()}
    for host in inventory_hosts or []:
        if host in host_refs:
            continue
        facts = hostvars[host]
        name = facts.get(variable)
        if not isinstance(name, str) or not name:
            continue
        account = accounts.get(_connection_key(host_connection(facts)))
        for ref, entry in users.items():
            if entry["user_name"] == name and (account is None or entry["account"] in (None, account)):
                fleet[ref].append(host)
    for ref in users:
        users[ref]["hosts"] = sorted(users[ref]["hosts"])
    default = host_connection(hostvars[hosts[0]]) if hosts else {option: "" for option in CONNECTION_VARIABLES}
    for dest in destinations or []:
        ref = dest.get("user") if isinstance(dest, dict) else None
        if not isinstance(ref, str) or not ref or ref in users:
            continue
        account, _sep, name = ref.rpartition(":")
        account = account if re.fullmatch(r"\d{12}", account) else None
        name = name if account else ref
        if any(entry["user_name"] == name for entry in users.values()):
            # The hosts name this user otherwise (ACCOUNT:NAME or not): never two references to one IAM user.
            # rotor.iam.destinations_unknown warns about the destination.
            continue
        connection = {option: str(dest.get(option) or default[option]) for option in CONNECTION_VARIABLES}
        users[ref] = {"user_name": name, "account": account, "connection": connection, "hosts": [], "error": None}
        fleet[ref] = []
    for entry in users.values():
        # What the controller modules take as iam_user: the user and its connection, one value. A key is proven with
        # its own credentials: sts_target names only where STS answers (no profile).
        entry["target"] = dict(entry["connection"], name=entry["user_name"])
        entry["sts_target"] = {"name": entry["user_name"], "region": entry["connection"]["region"], "endpoint_url": entry["connection"]["endpoint_url"]}
    return {"users": users, "host_refs": host_refs, "fleet": {ref: sorted(set(h)) for ref, h in fleet.items()}}


def describe_connection(key):
    """A connection key (``profile|region|endpoint_url``) said for people, as a refusal names it."""
    profile, region, endpoint_url = (key.split("|") + ["", "", ""])[:3]
    parts = [f"profile {profile or '(environment)'}"] + ([f"region {region}"] if region else []) + ([f"endpoint {endpoint_url}"] if endpoint_url else [])
    return ", ".join(parts)


def connection_users(fleet):
    """Per AWS connection of :func:`fleet_users`, the IAM users reached through it and the actions a rotation may call on
    them: ``[{profile, region, endpoint_url, user_names, actions, target}]`` (``target``: the connection as
    rotor.iam.caller_identity's ``iam_user`` takes it)."""
    found = {}
    for entry in dict(fleet.get("users") or {}).values():
        connection = dict(entry["connection"])
        work = found.setdefault(tuple(sorted(connection.items())), dict(connection, user_names=[], actions=list(ROTATION_ACTIONS),
                                                                        target=connection))
        if entry["user_name"] not in work["user_names"]:
            work["user_names"].append(entry["user_name"])
    return [found[key] for key in sorted(found)]


def lockable_users(fleet):
    """The users (sorted) of :func:`fleet_users` that the run may lock: those not refused already (hosts that disagree
    on the connection, a connection that does not answer)."""
    return sorted(ref for ref, entry in dict((fleet or {}).get("users") or {}).items() if not entry.get("error"))
