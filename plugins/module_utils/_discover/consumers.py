# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""The consumer map: what rotor.iam.discover found on the hosts, joined with IAM and the inventory.

Pure functions of three inputs: per host, the discover module's result and the host's rotor variables
(``rotor_iam_user``, ``rotor_credentials_files``); the account's keys as ``rotor.iam.access_key_info`` lists
them (``all_users`` with every user's key ids resolved); and the time. Every key id is classified:

- **declared**: a host holds it in a file the host's ``rotor_credentials_files`` names (same profile or variable),
  and it is a key of the host's ``rotor_iam_user`` (or IAM could not tell);
- **undeclared**: any other holder (the file is not declared, the host has no ``rotor_iam_user``, or the key
  belongs to another IAM user than the one declared);
- **seen in AWS but on no host**: an Active key of the account used in the last ``recent_days`` days that no
  searched host holds: something outside the inventory (or outside the searched places) uses it.

Key ids IAM does not know (another account, deleted, temporary credentials) are reported as such. The map holds
key ids, user names, paths, owners and modes: never a secret (the inputs hold none).
"""

from __future__ import annotations

import os

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import as_datetime
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import utcnow
from ansible_collections.rotor.iam.plugins.module_utils.redact import is_access_key_id

FORMAT_VERSION = 1
DEFAULT_RECENT_DAYS = 7
_DEFAULT_VARIABLES = {"env": "AWS_ACCESS_KEY_ID", "json": "AccessKeyId"}
_HOLDER_FIELDS = ("path", "source", "format", "profile", "variable", "line", "owner", "group", "mode", "readable_by_others")


class ConsumerMapError(Exception):
    """Malformed input to the join: the message names it."""


def host_entry(name, discovered=None, iam_user="", credentials_files=None, unreachable=False, error=None):
    """One host's input to consumer_map (what the playbook collects from hostvars)."""
    return {"host": name, "discovered": discovered, "iam_user": iam_user or "", "credentials_files": credentials_files or [],
            "unreachable": bool(unreachable), "error": error}


def collect_hosts(hostvars, host_names, fact="__rotor_discover_host"):
    """The host entries of the hosts in host_names that recorded ``fact`` ({discovered, iam_user, credentials_files}).
    A host without it did not run the search (outside --limit, or its task failed and stopped it)."""
    entries = []
    for name in host_names:
        facts = hostvars[name]
        record = facts.get(fact) if hasattr(facts, "get") else None
        if not isinstance(record, dict):
            continue
        discovered = record.get("discovered")
        unreachable = isinstance(discovered, dict) and bool(discovered.get("unreachable"))
        entries.append(host_entry(name, discovered, record.get("iam_user") or "", record.get("credentials_files") or [],
                                  unreachable=unreachable))
    return entries


def _declared_entries(host):
    files = host.get("credentials_files") or []
    if not isinstance(files, list):
        raise ConsumerMapError(f"host {host['host']}: rotor_credentials_files must be a list, got a {type(files).__name__}")
    entries = []
    for index, entry in enumerate(files):
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise ConsumerMapError(f"host {host['host']}: rotor_credentials_files[{index}] must be a mapping with a path")
        entries.append(entry)
    return entries


def declares(entry, holder):
    """Whether a rotor_credentials_files entry names the place a holder found the key."""
    if os.path.normpath(entry["path"]) != os.path.normpath(holder["path"]):
        return False
    fmt = entry.get("format") or "aws_credentials"
    if fmt == "aws_credentials":
        profile = entry.get("profile") or "default"
        return holder.get("profile") in (profile, "profile " + profile) or holder.get("profile") is None
    wanted = ((entry.get("variable_names") or {}).get("access_key_id")) or _DEFAULT_VARIABLES.get(fmt)
    return holder.get("variable") in (wanted, None)


def _iam_view(key):
    if key is None:
        return None
    return {
        "user_name": key.get("user_name"),
        "status": key.get("status"),
        "create_date": key.get("create_date"),
        "age_days": key.get("age_days"),
        "last_used_date": key.get("last_used_date"),
        "last_used_service": key.get("last_used_service"),
        "last_used_region": key.get("last_used_region"),
    }


def _why_undeclared(host, entries, holder, key_user):
    if not host["iam_user"]:
        return "the host has no rotor_iam_user"
    if key_user and key_user != host["iam_user"]:
        return f"a key of IAM user {key_user}, but the host's rotor_iam_user is {host['iam_user']}"
    if not any(os.path.normpath(e["path"]) == os.path.normpath(holder["path"]) for e in entries):
        return "the file is not in the host's rotor_credentials_files"
    return "the file is declared, for another profile or variable"


def consumer_map(hosts, key_info=None, recent_days=DEFAULT_RECENT_DAYS, now=None):
    """The consumer map (a JSON-ready dict) from the hosts' entries (host_entry) and access_key_info's result
    (None: no join with IAM, every key's IAM view is unknown)."""
    if not isinstance(hosts, list):
        raise ConsumerMapError("hosts must be a list of host entries")
    if int(recent_days) < 0:
        raise ConsumerMapError(f"recent_days must be 0 or more, got {recent_days}")
    now = now or utcnow()
    iam_joined = key_info is not None
    if iam_joined and not isinstance((key_info or {}).get("access_keys"), list):
        raise ConsumerMapError("key_info must be the registered result of rotor.iam.access_key_info (with access_keys)")
    by_id = {k["access_key_id"]: k for k in (key_info or {}).get("access_keys", []) if k.get("access_key_id")}

    keys = {}
    problems = []
    declared_not_found = []
    hosts_searched = 0
    for host in sorted(hosts, key=lambda h: h["host"]):
        name = host["host"]
        entries = _declared_entries(host)
        discovered = host.get("discovered")
        if host.get("unreachable") or not isinstance(discovered, dict) or discovered.get("failed"):
            reason = "unreachable" if host.get("unreachable") else (
                host.get("error") or (discovered or {}).get("msg") or "the search did not run")
            problems.append({"host": name, "path": None, "problem": f"not searched: {reason}"})
            continue
        hosts_searched += 1
        matched = set()
        for found in discovered.get("found") or []:
            key_id = found.get("access_key_id")
            if not is_access_key_id(key_id):
                continue  # the module returns key ids only; anything else is not shown
            key = by_id.get(key_id)
            holder = dict({field: found.get(field) for field in _HOLDER_FIELDS}, host=name)
            hits = [index for index, entry in enumerate(entries) if declares(entry, holder)]
            key_user = key["user_name"] if key else None
            holder["declared"] = bool(hits) and bool(host["iam_user"]) and key_user in (None, host["iam_user"])
            holder["why"] = None if holder["declared"] else _why_undeclared(host, entries, holder, key_user)
            matched.update(hits)
            record = keys.setdefault(key_id, {
                "access_key_id": key_id,
                "temporary": key_id.startswith("ASIA"),
                "known_to_iam": (key is not None) if iam_joined else None,
                "iam": _iam_view(key),
                "holders": [],
            })
            record["holders"].append(holder)
        for index, entry in enumerate(entries):
            if index not in matched and host["iam_user"]:
                declared_not_found.append({"host": name, "iam_user": host["iam_user"], "path": entry["path"],
                                           "format": entry.get("format") or "aws_credentials",
                                           "profile": entry.get("profile"), "problem": "declared, but discovery found no key there"})
        for problem in discovered.get("problems") or []:
            problems.append(dict(problem, host=name))
        for skipped in discovered.get("not_read") or []:
            problems.append({"host": name, "path": skipped.get("path"), "problem": f"not read: {skipped.get('reason')}"})

    consumers = []
    for key_id in sorted(keys):
        record = keys[key_id]
        record["declared"] = sum(1 for h in record["holders"] if h["declared"])
        record["undeclared"] = len(record["holders"]) - record["declared"]
        record["hosts"] = sorted({h["host"] for h in record["holders"]})
        record["note"] = _key_note(record, iam_joined)
        consumers.append(record)

    aws_only = seen_in_aws_only(by_id.values(), set(keys), recent_days, now) if iam_joined else []
    result = {
        "format_version": FORMAT_VERSION,
        "generated_at": now.replace(microsecond=0).isoformat(),
        "iam_joined": iam_joined,
        "recent_days": int(recent_days),
        "credential_report": {k: (key_info or {}).get(k) for k in ("report_generated_time", "report_age_seconds")} if iam_joined else None,
        "keys": consumers,
        "undeclared": [dict(h, access_key_id=r["access_key_id"], iam_user=(r["iam"] or {}).get("user_name"))
                       for r in consumers for h in r["holders"] if not h["declared"]],
        "declared_not_found": declared_not_found,
        "seen_in_aws_only": aws_only,
        "problems": problems,
    }
    result["inventory"] = proposed_inventory(hosts, result)
    result["messages"] = messages(result)
    result["summary"] = {
        "hosts": len(hosts),
        "hosts_searched": hosts_searched,
        "key_ids": len(consumers),
        "holders": sum(len(r["holders"]) for r in consumers),
        "declared": sum(r["declared"] for r in consumers),
        "undeclared": len(result["undeclared"]),
        "unknown_to_iam": sum(1 for r in consumers if r["known_to_iam"] is False),
        "declared_not_found": len(declared_not_found),
        "seen_in_aws_only": len(aws_only),
        "problems": len(problems),
        "hosts_with_proposals": len(result["inventory"]),
    }
    return result


def _key_note(record, iam_joined):
    if record["temporary"]:
        return "temporary credentials (ASIA...): they expire rather than rotate, and IAM does not list them"
    if not iam_joined:
        return None
    if not record["known_to_iam"]:
        return "IAM does not know this key id: a key of another account, deleted, or never issued; the files holding it are stale"
    if record["iam"]["status"] != "Active":
        return f"the key is {record['iam']['status']}: whatever uses it already fails"
    return None


def seen_in_aws_only(account_keys, held, recent_days, now):
    """Active keys used in the last recent_days days that no searched host holds, most recently used first."""
    found = []
    for key in account_keys:
        if key.get("access_key_id") in held or key.get("status") != "Active":
            continue
        used = as_datetime(key.get("last_used_date"))
        if used is None or (now - used).total_seconds() > int(recent_days) * 86400:
            continue
        found.append(dict(_iam_view(key), access_key_id=key["access_key_id"]))
    return sorted(found, key=lambda k: (str(k["last_used_date"]), k["access_key_id"]), reverse=True)


def _proposal_entry(holder):
    fmt = holder.get("format")
    entry = {"path": holder["path"], "format": fmt}
    if fmt == "aws_credentials":
        entry["profile"] = holder.get("profile") or "default"
    elif holder.get("variable") and holder["variable"] != _DEFAULT_VARIABLES.get(fmt):
        entry["variable_names"] = {"access_key_id": holder["variable"]}
    entry["mode"] = holder.get("mode") or "0600"
    return entry


def proposed_inventory(hosts, result):
    """Per host with undeclared holders: the rotor variables that would declare them, for review.

    A host declares one IAM user: its own rotor_iam_user when set, else the user holding most of its undeclared
    files. Files of other users, inline keys (units, Compose files) and keys IAM does not know are notes."""
    by_host = {}
    for holder in result["undeclared"]:
        by_host.setdefault(holder["host"], []).append(holder)
    declared = {h["host"]: h for h in hosts}
    proposals = {}
    for name, holders in sorted(by_host.items()):
        host = declared[name]
        users = [h["iam_user"] for h in holders if h["iam_user"]]
        user = host["iam_user"] or (max(sorted(set(users)), key=users.count) if users else "")
        files = [dict(e) for e in _declared_entries(host)]
        notes = []
        for holder in holders:
            where = f"{holder['path']}" + (f" [{holder['profile']}]" if holder.get("profile") else "") + (
                f" {holder['variable']}" if holder.get("variable") else "")
            if not holder["iam_user"]:
                notes.append(f"{where} holds {holder['access_key_id']}, whose IAM user is unknown (IAM was not asked, or does not "
                             f"know the key): find its account, or remove the stale key")
            elif holder["iam_user"] != user:
                notes.append(f"{where} holds {holder['access_key_id']} of IAM user {holder['iam_user']}: a host declares one "
                             f"user ({user}); declare that file on a host (or group) of its own")
            elif not holder.get("format"):
                notes.append(f"{where} holds {holder['access_key_id']} inline ({holder['source']}): rotor.iam does not edit "
                             f"it; move the key to an EnvironmentFile or env_file and declare that")
            else:
                entry = _proposal_entry(holder)
                if not any(declares(existing, holder) for existing in files):
                    files.append(entry)
        if not user:
            continue
        proposals[name] = {"rotor_iam_user": user, "rotor_credentials_files": files, "notes": notes}
    return proposals


def messages(result):
    """One line per undeclared holder, key seen in AWS only, declared file without a key, and problem."""
    lines = []
    for holder in result["undeclared"]:
        user = f" (IAM user {holder['iam_user']})" if holder.get("iam_user") else ""
        lines.append(f"{holder['host']}: {holder['path']} holds {holder['access_key_id']}{user}, undeclared: {holder['why']}")
    for key in result["keys"]:
        if key["note"]:
            lines.append(f"{key['access_key_id']} ({', '.join(key['hosts'])}): {key['note']}")
    for key in result["seen_in_aws_only"]:
        lines.append(f"{key['access_key_id']} of IAM user {key['user_name']} was used {key['last_used_date']}"
                     f"{' (' + key['last_used_service'] + ')' if key.get('last_used_service') else ''} but no searched host holds it: "
                     f"a consumer outside the inventory or the searched places")
    for entry in result["declared_not_found"]:
        lines.append(f"{entry['host']}: {entry['path']} is declared for {entry['iam_user']}, but discovery found no key there")
    for problem in result["problems"]:
        where = f"{problem['path']}: " if problem.get("path") else ""
        lines.append(f"{problem['host']}: {where}{problem['problem']}")
    return lines
