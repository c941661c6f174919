# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""What a security team does with the audit: which users' key ids to look up, the Inactive keys to delete,
and per listed key its remediation (owner, what to run).

The credential report has no key ids. The role lists it once, asks ``users_needing_key_ids`` which users have a
key the report will list (due, unused, Inactive, past its policy, or two Active keys) without an id, looks those
users up (one ``ListAccessKeys`` each, ``rotor.iam.access_key_info user_names=...``) and merges the answer in with
``merge_key_ids``. Healthy keys of other users keep ``access_key_id: null``: they are only in the full inventory.
"""

from __future__ import annotations

import shlex

from ansible_collections.rotor.iam.plugins.module_utils._audit.hosts import AuditInputError

NO_OWNER = "no owner (set the IAM user tag rotor:owner)"


def _results(key_infos):
    """The per-account access_key_info results (a loop's ``results``, or one result)."""
    if isinstance(key_infos, dict) and "results" in key_infos:
        return list(key_infos["results"])
    return [key_infos]


def listed_key(key):
    """Whether a judged key appears in a section of the report (not only in the full inventory)."""
    return (not key["active"]) or key["past_max_age"] or key["rotation_due"] or key["unused"]


def users_needing_key_ids(key_infos, judge):
    """Per access_key_info result, the users (sorted) with a listed key whose id is unknown.

    ``judge(key_info)`` returns the judged keys of one result (``model.build_audit(...)['access_keys']``).
    """
    needed = []
    for result in _results(key_infos):
        if not isinstance(result, dict) or not isinstance(result.get("access_keys"), list):
            needed.append([])
            continue
        keys = judge(result)
        active = {}
        for key in keys:
            if key["active"]:
                active[key["user_name"]] = active.get(key["user_name"], 0) + 1
        users = {k["user_name"] for k in keys
                 if not k["access_key_id"] and k["user_name"] != "<root_account>" and (listed_key(k) or active.get(k["user_name"], 0) >= 2)}
        needed.append(sorted(users))
    return needed


def merge_key_ids(key_infos, resolved):
    """``key_infos`` with each looked-up user's keys replaced by the listing's (ids and current status).

    ``resolved``: the loop of ``access_key_info user_names=...`` aligned with ``key_infos`` (a skipped or absent
    item leaves its account unchanged). Returns the same shape as ``key_infos``.
    """
    if not resolved:
        return key_infos
    looked_up = _results(resolved)
    merged = []
    for index, result in enumerate(_results(key_infos)):
        answer = looked_up[index] if index < len(looked_up) else None
        if not isinstance(answer, dict) or answer.get("skipped") or not isinstance(answer.get("access_keys"), list):
            merged.append(result)
            continue
        if answer.get("failed"):
            raise AuditInputError(f"looking up the key ids failed: {answer.get('msg') or 'no message'}")
        by_user = {}
        for key in answer["access_keys"]:
            by_user.setdefault(key["user_name"], []).append(key)
        keys = []
        done = set()
        for key in result["access_keys"]:
            user = key["user_name"]
            if user not in by_user:
                keys.append(key)
            elif user not in done:
                keys.extend(by_user[user])
                done.add(user)
        copy = dict(result, access_keys=keys)
        copy["key_id_calls"] = len({k["user_name"] for k in answer["access_keys"]} | set(answer.get("missing_users") or []))
        merged.append(copy)
    if isinstance(key_infos, dict) and "results" in key_infos:
        return dict(key_infos, results=merged)
    return merged[0]


def _inventory_option(inventory):
    sources = [inventory] if isinstance(inventory, str) else list(inventory or [])
    return " ".join(f"-i {shlex.quote(str(s))}" for s in sources) if sources else "-i INVENTORY"


def delete_command(key):
    """The exact AWS CLI command that deletes an Inactive key (its id known), else how to learn the id."""
    user = key["user_name"].split(":", 1)[-1] if ":" in key["user_name"] else key["user_name"]
    if key.get("access_key_id"):
        return f"aws iam delete-access-key --user-name {shlex.quote(user)} --access-key-id {key['access_key_id']}"
    return f"aws iam list-access-keys --user-name {shlex.quote(user)}"


def remediation(key, inventory=None):
    """A listed key's remediation: ``{owner, action, command}`` (command None when there is nothing to run)."""
    owner = key.get("owner") or NO_OWNER
    user = key["user_name"]
    if not key["active"]:
        return {"owner": owner, "action": f"delete the {key['status']} key", "command": delete_command(key)}
    if key["past_max_age"] and key.get("exempt"):
        ends = key.get("exempt_until")
        action = f"rotate in the window before the exemption ends ({ends})" if ends else "exempt without an end date: review the exemption"
        return {"owner": owner, "action": action, "command": None}
    if key["rotation_due"]:
        if key.get("hosts"):
            limit = ",".join(key["hosts"])
            return {"owner": owner, "action": "rotate on the hosts that hold it",
                    "command": f"ansible-playbook rotor.iam.rotate {_inventory_option(inventory)} --limit {shlex.quote(limit)}"}
        return {"owner": owner, "action": f"no inventory host holds it: find who uses {user}'s key, add them to the inventory, rotate",
                "command": f"ansible-playbook rotor.iam.discover {_inventory_option(inventory)}"}
    if key["unused"]:
        if key.get("access_key_id"):
            bare = user.split(":", 1)[-1]
            return {"owner": owner, "action": "unused: deactivate it, delete it later",
                    "command": (f"aws iam update-access-key --user-name {shlex.quote(bare)} --access-key-id {key['access_key_id']} "
                                f"--status Inactive")}
        return {"owner": owner, "action": "unused: deactivate it, delete it later", "command": None}
    return {"owner": owner, "action": "none", "command": None}


def inactive_section(keys):
    """Every Inactive key, oldest first, with its delete command."""
    rows = [k for k in keys if not k["active"]]
    return sorted(rows, key=lambda k: (-(k["age_days"] or 0), k["user_name"], k["position"] or 0))
