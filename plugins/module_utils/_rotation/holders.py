# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Every holder of a key is verified before anything changes: what the inventory declares is checked against
what the hosts' files hold and what IAM knows.

The plan (rotation_plan.plan_rotation) decides from key ids; this module decides whether those key ids can be
trusted to say where a user's key lives. A user is refused (nothing changes for it) when a host of it:

- carries a ``rotor_*`` variable rotor.iam does not know (a typo falls back to a role default);
- names the user but declares no credentials file, and the user has no secret destination;
- declares a file that does not exist, does not parse in its declared format (or looks like another one), or
  has no key where the entry says (profile, variables, JSON keys), unless the entry says ``create: true``;
- holds a key id of another IAM user (IAM names its owner).

And across users: a key that any host read in the run holds is never deactivated or deleted, whichever user
that host names, or none. A host holding a key IAM no longer has is *broken*: it is named, moved forward
onto the new key and never restored onto the key that is gone.

Pure functions: no Ansible, no AWS. ``known_variable_names`` reads the collection's own role and playbook
files (the one list of public variables), so no second list is kept here.
"""

from __future__ import annotations

import difflib
import glob
import os
import re

from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan import is_incident

# A YAML anchor (&rotor_aws) or a private fact (__rotor_x) is not a variable a user sets.
_PLAYBOOK_VARIABLE = re.compile(r"(?<![\w.&*])rotor_[a-z0-9_]+")
_PUBLISHED = re.compile(r"^\s+(rotor_[a-z0-9_]+):", re.MULTILINE)


def known_variable_names(collection_root):
    """The public ``rotor_*`` variables: every option of every entry point of the roles' argument specs, every
    role default, and every ``rotor_*`` variable the playbooks (the workflow's included) read."""
    import yaml  # controller only

    names = set()
    for path in glob.glob(os.path.join(collection_root, "roles", "*", "meta", "argument_specs.yml")):
        with open(path, encoding="utf-8") as handle:
            specs = (yaml.safe_load(handle) or {}).get("argument_specs") or {}
        for entry in specs.values():
            names.update((entry or {}).get("options") or {})
    for path in glob.glob(os.path.join(collection_root, "roles", "*", "defaults", "main.yml")):
        with open(path, encoding="utf-8") as handle:
            names.update(yaml.safe_load(handle) or {})
    for path in glob.glob(os.path.join(collection_root, "playbooks", "*.yml")):
        with open(path, encoding="utf-8") as handle:
            names.update(_PLAYBOOK_VARIABLE.findall(handle.read()))
    # What the roles publish with set_stats (rotor_prepare, rotor_rotation, ...): AWX passes a workflow job's
    # artifacts to the jobs after it as extra variables.
    for path in glob.glob(os.path.join(collection_root, "roles", "*", "tasks", "*.yml")):
        with open(path, encoding="utf-8") as handle:
            names.update(_PUBLISHED.findall(handle.read()))
    return {name for name in names if isinstance(name, str) and name.startswith("rotor_")}


def unknown_variable_message(name, known):
    """'`rotor_credential_files` is not a rotor.iam variable; did you mean `rotor_credentials_files`?'"""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`?" if close else "rename or remove it (see the roles' argument_specs.yml)"
    return f"`{name}` is not a rotor.iam variable; {hint}"


def _where(entry, index):
    """How a credentials file entry is named in messages: its path and its place in rotor_credentials_files."""
    path = entry.get("path") if isinstance(entry, dict) else None
    return f"{path or '(no path)'} (rotor_credentials_files[{index}], format {_format(entry)})"


def _format(entry):
    return (entry.get("format") if isinstance(entry, dict) else None) or "aws_credentials"


def _location(entry):
    fmt = _format(entry)
    if fmt == "aws_credentials":
        return f"profile [{(entry.get('profile') if isinstance(entry, dict) else None) or 'default'}]"
    names = (entry.get("variable_names") if isinstance(entry, dict) else None) or {}
    if fmt == "env":
        return f"variable {names.get('access_key_id') or 'AWS_ACCESS_KEY_ID'}"
    return f"JSON key {names.get('access_key_id') or 'AccessKeyId'}"


def _format_hint(report):
    looks = report.get("looks_like")
    return f"; it looks like a {looks} file: set format: {looks} if that is what its application reads" if looks else ""


def file_problem(entry, index, report, user_keys, owners, user_name):
    """What is wrong with one declared file for its user, or None. ``report``: the file's entry in the host's
    read (exists, found, error, looks_like, access_key_id). Returns (kind, message); kind is one of missing,
    no_location, no_key, parse, foreign, broken (a key IAM no longer has: not a refusal)."""
    create = bool(entry.get("create")) if isinstance(entry, dict) else False
    where = _where(entry, index)
    if report.get("error") and report.get("exists") is not False:
        return "parse", f"{where} cannot be read as {_format(entry)}: {report['error']}{_format_hint(report)}"
    key_id = report.get("access_key_id")
    if report.get("exists") is False:
        if create:
            return None
        return "missing", (f"{where} does not exist: a typo in path? rotor.iam writes only where the key is; set "
                           f"create: true on the entry to add a new file on purpose")
    if not key_id:
        if create:
            return None
        if report.get("found") is False:
            return "no_location", (f"{where} has no {_location(entry)}{_format_hint(report)}; fix the entry, or set "
                                   f"create: true to add it on purpose")
        return "no_key", (f"{where} holds no access key id in its {_location(entry)}{_format_hint(report)}; "
                          f"fix the entry, or set create: true to add a key there on purpose")
    if key_id in user_keys:
        return None
    if key_id not in owners:
        return None  # not looked up (an older caller): the plan's own drift rules apply
    owner = owners[key_id]
    if owner == "":
        return "broken", f"holds {key_id}, which IAM no longer has: its applications cannot authenticate"
    if owner is None:
        return "foreign", (f"{where} holds {key_id}, which is not a key of IAM user {user_name!r}, and its owner "
                           f"could not be looked up (iam:GetAccessKeyLastUsed); check rotor_iam_user and the file")
    return "foreign", (f"{where} holds {key_id}, a key of IAM user {owner!r}, not of {user_name!r}; fix "
                       f"rotor_iam_user on this host or the file entry (writing there would cut off {owner!r}'s application)")


def verify_holders(hosts, user_keys, owners, users_with_destinations=(), known=None):
    """Check every holder before anything changes.

    ``hosts``: {host: {"user": ref or "", "user_name": IAM user name, "variables": [rotor_* names it carries],
    "files": its rotor_credentials_files, "read": its registered plan-time read (host_credentials state=read) or
    None}}; ``user_keys``: {ref: [its key ids in IAM]}; ``owners``: {key id: owning user, '' when IAM has no such
    key, None when unknown}; ``users_with_destinations``: refs whose key also lives in secret destinations;
    ``known``: the public rotor_* variable names (None: not checked).

    Returns {"refusals": {ref: [message]}, "broken": {ref: {host: [key ids]}}, "held": {key id: [hosts]},
    "unnamed": {host: [key ids]}, "warnings": [message]}.
    """
    refusals, broken, held, unnamed, warnings = {}, {}, {}, {}, []
    with_destinations = set(users_with_destinations or ())
    for host in sorted(hosts):
        info = hosts[host] or {}
        ref = info.get("user") or ""
        user_name = info.get("user_name") or ref
        read = info.get("read") if isinstance(info.get("read"), dict) else None
        reports = [r if isinstance(r, dict) else {} for r in ((read or {}).get("files") or [])]
        declared = info.get("files")
        files = declared if isinstance(declared, list) else []
        for report in reports:
            if report.get("access_key_id"):
                held.setdefault(report["access_key_id"], []).append(host)
        problems = []
        if known is not None:
            problems += [unknown_variable_message(name, known) for name in sorted(info.get("variables") or [])
                         if name not in known]
        if not ref:
            ids = sorted({r["access_key_id"] for r in reports if r.get("access_key_id")})
            if files:
                unnamed[host] = ids
                warnings.append(
                    f"host {host} declares credentials files but no rotor_iam_user (it is empty or missing), so it is "
                    f"not rotated" + (f"; the keys it holds ({', '.join(ids)}) are never deactivated or deleted by this "
                                      f"run" if ids else "") + ". Set rotor_iam_user for it.")
            warnings += [f"host {host}: {problem}" for problem in problems]
            continue
        if declared not in (None, "") and not isinstance(declared, list):
            problems.append(f"rotor_credentials_files is a {_kind(declared)}, not a list: write it as a list of entries, "
                            f"e.g. [{{path: /root/.aws/credentials}}] (one entry per file, each a mapping)")
        elif not files and ref not in with_destinations:
            problems.append(f"it names rotor_iam_user={user_name} but declares no credentials file "
                            f"(rotor_credentials_files is empty) and {user_name} has no secret destination, so rotor.iam "
                            f"cannot tell where its key lives. Declare its files (check the variable's spelling "
                            f"in host and group vars)")
        if read is not None and read.get("failed") and (read.get("step") == "input" or not any("exists" in r for r in reports)):
            problems.append(f"its credentials files cannot be read: {read.get('msg') or 'the read failed'}")
        elif read is not None and not read.get("unreachable"):
            keys = set(user_keys.get(ref) or ())
            for index, entry in enumerate(files):
                if index >= len(reports):
                    break
                found = file_problem(entry, index, reports[index], keys, owners, user_name)
                if found is None:
                    continue
                kind, message = found
                if kind == "broken":
                    broken.setdefault(ref, {}).setdefault(host, []).append(reports[index]["access_key_id"])
                else:
                    problems.append(message)
        if problems:
            refusals.setdefault(ref, []).extend(f"host {host}: {problem}" for problem in problems)
    for key_id in held:
        held[key_id] = sorted(set(held[key_id]))
    for ref in broken:
        broken[ref] = {host: sorted(set(ids)) for host, ids in broken[ref].items()}
    return {"refusals": refusals, "broken": broken, "held": held, "unnamed": unnamed, "warnings": warnings}


def _kind(value):
    """A value's type as the operator wrote it in YAML or INI (Ansible hands over subclasses of the builtin types)."""
    for kind, name in ((bool, "boolean"), (str, "string"), (dict, "mapping"), ((int, float), "number")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def keys_retired(plan):
    """The key ids a user's plan deactivates or deletes: what no host outside the user may hold."""
    retired = []
    if plan.get("due") and not plan.get("staged") and plan.get("old_key_id"):
        retired.append(("old", plan["old_key_id"]))
    for field in ("free_slot_key_id", "replace_key_id"):
        if plan.get(field):
            retired.append((field, plan[field]))
    retired += [("stale", key_id) for key_id in plan.get("stale_inactive_key_ids") or []]
    return retired


def apply_to_plans(plans, verdict, host_users):
    """Refuse, annotate and protect the users' plans in place from ``verify_holders``' verdict.

    ``host_users``: {host: ref} of every host read in the run (the user it names, '' for none).
    Returns the plans.
    """
    for ref, plan in plans.items():
        messages = list(verdict["refusals"].get(ref) or [])
        if is_incident(plan):
            # Incident response never waits on a host that cannot be read: the plan already names it (hosts_unreachable),
            # it is not written and keeps the leaked key, Inactive, until a run can read it. Other holder problems refuse.
            waived = tuple(f"host {host}: " for host in plan.get("hosts_unreachable") or [])
            messages = [m for m in messages if not (waived and m.startswith(waived))]
        for kind, key_id in ([] if plan.get("error") else keys_retired(plan)):
            outside = [h for h in verdict["held"].get(key_id) or [] if host_users.get(h, "") != ref]
            if not outside:
                continue
            if kind == "stale":
                plan["stale_inactive_key_ids"] = [k for k in plan["stale_inactive_key_ids"] if k != key_id]
                plan["notes"].append(f"key {key_id} is not deleted: {', '.join(outside)} hold it")
                continue
            names = "; ".join(f"{h} ({_named(host_users.get(h))})" for h in outside)
            messages.append(f"key {key_id}, which this run would deactivate or delete, is held by hosts that are not "
                            f"hosts of {plan.get('user_name') or ref}: {names}. Put those hosts on their own user's key "
                            f"(or name {plan.get('user_name') or ref} in their rotor_iam_user), then run again")
        broken = verdict["broken"].get(ref) or {}
        for host, ids in sorted(broken.items()):
            plan["notes"].append(f"{host} holds {', '.join(ids)}, which IAM no longer has: its applications cannot "
                                 f"authenticate; it is moved onto the new key and never restored onto "
                                 f"{'that key' if len(ids) == 1 else 'those keys'}")
        plan["broken_hosts"] = sorted(broken)
        if messages:
            # The holder problem comes first: an earlier refusal is often only its symptom ("held by no host").
            first, more, earlier = messages[0], len(messages) - 1, plan.get("error")
            plan["holder_problems"] = messages
            plan.update(due=False, error=(
                f"IAM user {plan.get('user_name') or ref!r}: not rotated, because a holder of its key is not what the "
                f"inventory says - {first}" + (f" (and {more} more: {'; '.join(messages[1:])})" if more else "")
                + ". Nothing was changed for this user (rotor_force does not override this; docs/mistakes.md)."
                + (f" Also: {earlier}" if earlier else "")))
    return plans


def _named(user):
    return f"names IAM user {user}" if user else "names no IAM user"
