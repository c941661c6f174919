# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""The audit report: one JSON-ready dict built from the credential report's keys, the users' policy
tags, the key ids hosts hold, and the default policy. Every judgement of the audit is made here;
the renderers only lay it out.

Inputs are what ``rotor.iam.access_key_info`` (``all_users`` or ``user_names``, optionally with
``include_tags``) returns and, per host, a ``hosts.host_record``. Only key ids ever reach a report;
there is no secret in the inputs to leak.
"""

from __future__ import annotations

from ansible_collections.rotor.iam.plugins.module_utils._audit.actions import inactive_section
from ansible_collections.rotor.iam.plugins.module_utils._audit.actions import listed_key
from ansible_collections.rotor.iam.plugins.module_utils._audit.actions import remediation
from ansible_collections.rotor.iam.plugins.module_utils._audit.consumers import consumer_section
from ansible_collections.rotor.iam.plugins.module_utils._audit.destinations import destination_section
from ansible_collections.rotor.iam.plugins.module_utils._audit.hosts import AuditInputError
from ansible_collections.rotor.iam.plugins.module_utils._audit.trend import trend_section
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import as_datetime
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import utcnow
from ansible_collections.rotor.iam.plugins.module_utils.user_policy import user_policy

REPORT_FORMAT_VERSION = 3
_BRIEF_FIELDS = ("position", "access_key_id", "age_days", "last_used_date")


def _days_since(value, now):
    moment = as_datetime(value)
    return None if moment is None else max(0, (now - moment).days)


def build_audit(key_info, hosts=None, max_age_days=90, unused_days=90, scope="account", now=None, accounts=None,
                destinations=None, discovery=None, previous=None, inventory=None):
    """The audit report (a JSON-ready dict) from access_key_info's result and the hosts' records.

    A key is past its policy when Active and at least its user's max age old (IAM user tag
    rotor:max-age-days when valid, else ``max_age_days``); due when past its policy and its user is
    not exempt (rotor:exempt in effect). Unused when Active and not used for ``unused_days`` days
    (never-used keys count from their creation). See ``user_policy`` for the tags' meaning.

    ``accounts`` (from ``accounts.combine_accounts``, when the audit spans several accounts): the report
    then lists them in ``accounts``, ``account_id`` is None and users are named ``ACCOUNT:NAME``.

    ``destinations`` (from ``destinations.destination_records``): the key id each secret destination holds,
    reported in ``destinations`` with the key's IAM status and a finding when it is not an Active key of its user.

    ``discovery`` (the JSON text or dict of the consumer map rotor.iam.discover wrote): reported in ``consumers``
    (see ``consumers.consumer_section``); absent when not given.

    ``previous`` (the JSON text or dict of an earlier report): reported in ``trend`` (see ``trend.trend_section``).
    ``inventory`` (the inventory sources of the run): written into each remediation command (``-i``).
    Every listed key (due, unused, Inactive, past its policy) carries ``remediation`` (owner, action, command).
    """
    if not isinstance(key_info, dict) or not isinstance(key_info.get("access_keys"), list):
        raise AuditInputError("the audit needs the registered result of rotor.iam.access_key_info (with access_keys)")
    if int(max_age_days) < 0 or int(unused_days) < 0:
        raise AuditInputError(f"max_age_days and unused_days must be 0 or more, got {max_age_days} and {unused_days}")
    max_age_days, unused_days = int(max_age_days), int(unused_days)
    now = now or utcnow()
    hosts = dict(hosts or {})
    users = key_info.get("users") or []
    tags_read = any("tags" in u for u in users)
    policies = {u["user_name"]: _user_entry(u, max_age_days, now) for u in users}

    holders = {}  # (user, key id) -> hosts
    for name, record in sorted(hosts.items()):
        for found in record["files"]:
            if found["access_key_id"]:
                holders.setdefault((record["user"], found["access_key_id"]), [])
                if name not in holders[(record["user"], found["access_key_id"])]:
                    holders[(record["user"], found["access_key_id"])].append(name)

    keys = []
    for source in key_info["access_keys"]:
        key = _audit_key(source, now, policies, max_age_days, unused_days)
        key["hosts"] = holders.get((key["user_name"], key["access_key_id"]), []) if key["access_key_id"] else []
        keys.append(key)
    for key in keys:
        key["remediation"] = remediation(key, inventory) if listed_key(key) else None
    inactive = inactive_section(keys)

    active_by_user = {}
    for key in keys:
        if key["active"]:
            active_by_user.setdefault(key["user_name"], []).append(key)
    two_active = [
        {"user_name": user, "owner": _owner(policies, user), "access_keys": [_brief(k) for k in user_keys]}
        for user, user_keys in sorted(active_by_user.items())
        if len(user_keys) >= 2
    ]
    due = sorted((k for k in keys if k["rotation_due"]), key=lambda k: (-k["age_days"], k["user_name"], k["position"] or 0))
    unused = sorted((k for k in keys if k["unused"]), key=lambda k: (-k["idle_days"], k["user_name"], k["position"] or 0))
    host_keys, host_findings = _host_keys(hosts, keys, key_info.get("missing_users") or [], policies)
    active_ages = [k["age_days"] for k in keys if k["active"] and k["age_days"] is not None]
    exempt, expired, own_policies, problems = _policy_sections(policies, keys)

    report = {
        "format_version": REPORT_FORMAT_VERSION,
        "generated_at": now.replace(microsecond=0).isoformat(),
        "scope": scope,
        "account_id": None if accounts else _account_id(users),
        "policy": {"max_age_days": max_age_days, "unused_days": unused_days},
        "credential_report": {
            "generated_time": key_info.get("report_generated_time"),
            "age_seconds": key_info.get("report_age_seconds"),
            "requested": key_info.get("report_requested"),
        },
        "user_tags": {
            "read": tags_read,
            "users": sum(1 for u in users if u.get("tags") is not None),
            "unreadable": sum(1 for u in users if "tags" in u and u.get("tags") is None),
            "calls": key_info.get("user_tags_calls", 0) if tags_read else 0,
        },
        "summary": {
            "users": len(users),
            "users_with_keys": sum(1 for u in users if u.get("access_key_count")),
            "access_keys": len(keys),
            "active_access_keys": sum(1 for k in keys if k["active"]),
            "inactive_access_keys": len(inactive),
            "key_id_calls": int(key_info.get("key_id_calls") or 0),
            "keys_without_id": sum(1 for k in keys if not k["access_key_id"]),
            "rotation_due": len(due),
            "unused": len(unused),
            "users_with_two_active_keys": len(two_active),
            "oldest_active_key_days": max(active_ages) if active_ages else None,
            "hosts": len(hosts),
            "hosts_unreachable": sum(1 for r in hosts.values() if not r["reachable"]),
            "host_findings": len(host_findings),
            "users_with_owner": sum(1 for p in policies.values() if p["owner"]),
            "exempt_users": len(exempt),
            "exempt_keys_past_max_age": sum(len(e["keys_past_max_age"]) for e in exempt),
            "expired_exemptions": len(expired),
            "users_with_own_max_age": len(own_policies),
            "policy_problems": len(problems),
        },
        "access_keys": keys,
        "rotation_due": due,
        "unused": unused,
        "inactive": inactive,
        "users_with_two_active_keys": two_active,
        "exempt_users": exempt,
        "expired_exemptions": expired,
        "users_with_own_max_age": own_policies,
        "policy_problems": problems,
        "host_keys": host_keys,
        "host_findings": host_findings,
        "users": [policies[u["user_name"]] for u in users],
        "hosts": [dict(host=name, **record) for name, record in sorted(hosts.items())],
    }
    report["destinations"] = destination_section(destinations or [], keys)
    report["summary"]["destinations"] = len(report["destinations"])
    report["summary"]["destination_findings"] = sum(1 for d in report["destinations"] if d["finding"])
    consumers = consumer_section(discovery, keys)
    if consumers is not None:
        report["consumers"] = consumers
        report["summary"]["undeclared_consumers"] = consumers["summary"]["undeclared"]
        report["summary"]["keys_used_on_no_host"] = consumers["summary"]["seen_in_aws_only"]
    if accounts:
        report["accounts"] = list(accounts)
    trend = trend_section(previous, keys, report["summary"])
    if trend is not None:
        report["trend"] = trend
        report["summary"]["newly_due"] = len(trend["newly_due"])
        report["summary"]["retired"] = len(trend["retired"])
    return report


def _user_entry(user, default_max_age_days, now):
    """A user of access_key_info with what its tags mean (the default policy when they were not read)."""
    tags = user.get("tags")
    entry = {"user_name": user["user_name"]}
    entry.update(user_policy(tags, default_max_age_days, now))
    entry["tags_read"] = tags is not None
    if "tags" in user and tags is None:
        entry["problems"].append({
            "tag": None,
            "value": None,
            "problem": (f"its tags could not be read ({user.get('tags_error') or 'unknown error'}): it is judged by the "
                        f"default policy, without exemption or owner"),
        })
    return entry


def _owner(policies, user):
    return policies[user]["owner"] if user in policies else None


def _audit_key(source, now, policies, default_max_age_days, unused_days):
    try:
        user = source["user_name"]
        status = source.get("status") or ("Active" if source.get("active") else "Inactive")
    except (KeyError, TypeError) as exc:
        raise AuditInputError(f"an access key entry lacks {exc}: {source!r:.200}") from exc
    policy = policies.get(user) or {"owner": None, "max_age_days": default_max_age_days, "max_age_source": "default", "exempt": False}
    created = source.get("create_date") or source.get("last_rotated")
    age = source.get("age_days")
    if age is None:
        age = _days_since(created, now)
    active = status == "Active"
    since_use = _days_since(source.get("last_used_date"), now)
    idle = age if since_use is None else since_use
    past_max_age = active and age is not None and age >= policy["max_age_days"]
    return {
        "user_name": user,
        "owner": policy["owner"],
        "position": source.get("position"),
        "access_key_id": source.get("access_key_id"),
        "status": status,
        "active": active,
        "create_date": created,
        "age_days": age,
        "last_used_date": source.get("last_used_date"),
        "last_used_service": source.get("last_used_service"),
        "last_used_region": source.get("last_used_region"),
        "days_since_last_use": since_use,
        "idle_days": idle,
        "max_age_days": policy["max_age_days"],
        "max_age_source": policy["max_age_source"],
        "past_max_age": past_max_age,
        "exempt": policy["exempt"],
        "exempt_until": policy.get("exempt_until") if policy.get("exemption_ends") else None,
        "rotation_due": past_max_age and not policy["exempt"],
        "unused": active and idle is not None and idle >= unused_days,
    }


def _brief(key):
    return {k: key[k] for k in _BRIEF_FIELDS}


def _policy_sections(policies, keys):
    """Exemptions in effect, expired exemptions, users with their own max age, and invalid tags."""
    past_by_user = {}
    for key in keys:
        if key["past_max_age"]:
            past_by_user.setdefault(key["user_name"], []).append(key)
    exempt, expired, own, problems = [], [], [], []
    for name, p in sorted(policies.items()):
        ends = {"exempt_until": p["exempt_until"], "exemption_ends": p["exemption_ends"]}
        if p["exempt"]:
            exempt.append(dict(
                {"user_name": name, "owner": p["owner"], "reason": p["exempt_reason"]}, **ends,
                until_valid=p["exempt_until"] is None or p["exemption_ends"] is not None,
                max_age_days=p["max_age_days"],
                keys_past_max_age=[_brief(k) for k in past_by_user.get(name, [])],
            ))
        elif p["exemption_expired"]:
            expired.append(dict(
                {"user_name": name, "owner": p["owner"], "reason": p["exempt_reason"]}, **ends,
                note=f"the exemption ended at {p['exemption_ends']}: the user is judged by its {p['max_age_days']}-day policy",
            ))
        if p["max_age_source"] == "tag":
            own.append({"user_name": name, "owner": p["owner"], "max_age_days": p["max_age_days"],
                        "keys_past_max_age": len(past_by_user.get(name, []))})
        for problem in p["problems"]:
            problems.append(dict({"user_name": name, "owner": p["owner"]}, **problem))
    return exempt, expired, own, problems


def _account_id(users):
    for user in users:
        arn = user.get("arn") or ""
        parts = arn.split(":")
        if len(parts) > 4 and parts[4]:
            return parts[4]
    return None


def _finding(host, user, owner, path, problem, access_key_id=None):
    return {"host": host, "user": user, "owner": owner, "access_key_id": access_key_id, "path": path, "problem": problem}


def _host_keys(hosts, keys, missing_users, policies):
    """Per user that hosts use: each key id held, its IAM state and the hosts; and the problems found."""
    by_id = {(k["user_name"], k["access_key_id"]): k for k in keys if k["access_key_id"]}
    rows = {}
    findings = []
    for name, record in sorted(hosts.items()):
        user = record["user"]
        owner = _owner(policies, user)
        if not record["reachable"]:
            findings.append(_finding(name, user, owner, None, "unreachable: its credentials files were not read"))
            continue
        for found in record["files"]:
            key_id = found["access_key_id"]
            if found["error"]:
                findings.append(_finding(name, user, owner, found["path"], f"file could not be read: {found['error']}"))
                continue
            if not key_id:
                findings.append(_finding(name, user, owner, found["path"], "holds no access key (file, profile or entry missing)"))
                continue
            key = by_id.get((user, key_id))
            row = rows.setdefault((user, key_id), {
                "user_name": user,
                "owner": owner,
                "access_key_id": key_id,
                "status": key["status"] if key else ("user does not exist" if user in missing_users else "not a key of this user"),
                "age_days": key["age_days"] if key else None,
                "rotation_due": key["rotation_due"] if key else None,
                "exempt": key["exempt"] if key else None,
                "last_used_date": key["last_used_date"] if key else None,
                "hosts": [],
            })
            if name not in row["hosts"]:
                row["hosts"].append(name)
            if user in missing_users:
                problem = f"uses IAM user {user}, which does not exist"
            elif key is None:
                problem = f"holds {key_id}, which is not an access key of {user} (deleted, or another user's)"
            elif not key["active"]:
                problem = f"holds {key_id}, which is {key['status']}"
            elif key["rotation_due"]:
                own = f"; its own policy is {key['max_age_days']} days" if key["max_age_source"] == "tag" else ""
                problem = f"holds {key_id}, which is due for rotation ({key['age_days']} days old{own})"
            else:
                continue
            findings.append(_finding(name, user, owner, found["path"], problem, key_id))
    return sorted(rows.values(), key=lambda r: (r["user_name"], r["access_key_id"])), findings
