# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""Many accounts: which AWS connections the audited hosts use, which account each reaches, and one
key_info for the report in which users are named ``ACCOUNT:NAME`` when the audit spans several accounts.

A user is its account and its name: ``svc-app`` in two accounts is two users. With one connection the
audit is what it always was (one account, through the controller's connection, users by name).
"""

from __future__ import annotations

from ansible_collections.rotor.iam.plugins.module_utils._audit.hosts import AuditInputError

CONNECTION_VARIABLES = {"profile": "rotor_aws_profile", "region": "rotor_aws_region", "endpoint_url": "rotor_aws_endpoint_url"}


def host_connection(facts):
    """The AWS connection of a host's IAM user: its rotor_aws_* variables ('' = not set)."""
    return {option: str(facts.get(variable) or "") for option, variable in CONNECTION_VARIABLES.items()}


def _key(connection):
    return tuple(connection[option] for option in CONNECTION_VARIABLES)


def audit_connections(hosts, hostvars):
    """The distinct connections of the audited hosts (``hosts``: ``{host: record}``), sorted."""
    seen = {}
    for name in hosts:
        connection = host_connection(hostvars[name])
        seen.setdefault(_key(connection), connection)
    return [seen[key] for key in sorted(seen)]


def audit_accounts(identities, hosts, hostvars):
    """What to audit: ``[{account, connection, users, hosts}]``, one entry per account, sorted by account.

    ``identities``: the registered results of rotor.iam.caller_identity over ``audit_connections`` (each
    with its connection as ``item``), or none when the hosts use one connection: then a single entry with
    ``account`` and ``connection`` None (the controller's connection, as before). Two connections that
    reach the same account audit it once, through the first of them.
    """
    def users_of(names):
        return sorted({hosts[h]["user"] for h in names})

    accounts = {}
    for result in identities or []:
        if not isinstance(result, dict) or result.get("skipped"):
            continue
        connection = result.get("item")
        if not isinstance(connection, dict):
            raise AuditInputError(f"a caller_identity result lacks its connection (item): {result!r:.200}")
        if result.get("failed") or not result.get("account"):
            raise AuditInputError(
                f"the AWS connection {describe(connection)} does not answer sts:GetCallerIdentity: "
                f"{result.get('msg') or 'no account'}. Fix rotor_aws_profile / rotor_aws_region / rotor_aws_endpoint_url of its hosts.")
        accounts.setdefault(_key(connection), str(result["account"]))
    if not accounts:
        return [{"account": None, "connection": None, "users": users_of(hosts), "hosts": sorted(hosts)}]
    entries = {}
    for name in sorted(hosts):
        key = _key(host_connection(hostvars[name]))
        if key not in accounts:
            raise AuditInputError(f"the account of host {name}'s AWS connection is unknown (no caller_identity result for it)")
        entry = entries.setdefault(accounts[key], {"account": accounts[key], "connection": None, "hosts": []})
        if entry["connection"] is None or key < _key(entry["connection"]):
            entry["connection"] = dict(zip(CONNECTION_VARIABLES, key))
        entry["hosts"].append(name)
    for entry in entries.values():
        entry["users"] = users_of(entry["hosts"])
    return [entries[account] for account in sorted(entries)]


def describe(connection):
    parts = [f"profile {connection.get('profile') or '(environment)'}"]
    parts += [f"region {connection['region']}"] if connection.get("region") else []
    parts += [f"endpoint {connection['endpoint_url']}"] if connection.get("endpoint_url") else []
    return ", ".join(parts)


def user_ref(account, name, several):
    """How the reports name a user: ``ACCOUNT:NAME`` when the audit spans several accounts, else the name."""
    return f"{account}:{name}" if several and account else name


def combine_accounts(key_infos, accounts, hosts):
    """One key_info and the hosts' records for ``build_audit``, from access_key_info per account.

    ``key_infos`` is the registered result of access_key_info looped over ``accounts`` (``results``, aligned
    with ``accounts``) or a single result (one account). With one account both come back unchanged. With
    several, every user is renamed ``ACCOUNT:NAME`` (keys, users, missing users, and each host's user, by the
    account of the host's connection), so a host is matched only with the user of its own account. Also
    returns ``accounts`` for the report (``[{account, profile, region, endpoint_url, users, hosts}]``), or None.
    """
    results = key_infos.get("results") if isinstance(key_infos, dict) and "results" in key_infos else [key_infos]
    accounts = list(accounts or [])
    if len(results) != max(1, len(accounts)):
        raise AuditInputError(f"{len(results)} access_key_info results for {len(accounts)} accounts")
    if len(accounts) <= 1:
        return results[0], dict(hosts or {}), None
    account_of_host = {h: entry["account"] for entry in accounts for h in entry["hosts"]}
    merged = {"access_keys": [], "users": [], "missing_users": [], "report_generated_time": None, "report_age_seconds": None,
              "report_requested": False, "user_tags_calls": 0}
    for entry, result in zip(accounts, results):
        if not isinstance(result, dict) or not isinstance(result.get("access_keys"), list):
            detail = result.get("msg") if isinstance(result, dict) else repr(result)[:200]
            raise AuditInputError(f"the audit of account {entry['account']} has no access_keys: {detail}")
        account = entry["account"]
        for key in result["access_keys"]:
            merged["access_keys"].append(_renamed(key, account, ("user_name", "user")))
        for user in result.get("users") or []:
            merged["users"].append(_renamed(user, account, ("user_name",)))
        merged["missing_users"] += [user_ref(account, u, True) for u in result.get("missing_users") or []]
        # The report is as old as its oldest account's credential report.
        age = result.get("report_age_seconds")
        if age is not None and (merged["report_age_seconds"] is None or age > merged["report_age_seconds"]):
            merged["report_age_seconds"] = age
            merged["report_generated_time"] = result.get("report_generated_time")
        merged["report_requested"] = merged["report_requested"] or bool(result.get("report_requested"))
        merged["user_tags_calls"] += int(result.get("user_tags_calls") or 0)
    renamed_hosts = {name: dict(record, user=user_ref(account_of_host[name], record["user"], True))
                     for name, record in (hosts or {}).items()}
    summary = [dict({"account": e["account"]}, **(e["connection"] or {}), users=list(e["users"]), hosts=list(e["hosts"]))
               for e in accounts]
    return merged, renamed_hosts, summary


def _renamed(entry, account, fields):
    copy = dict(entry)
    for field in fields:
        if isinstance(copy.get(field), str):
            copy[field] = user_ref(account, copy[field], True)
    return copy
