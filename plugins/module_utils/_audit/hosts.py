# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""The audit's host input: what ``rotor.iam.credentials_file state=read`` registered on each host."""

from __future__ import annotations

import json

from ansible_collections.rotor.iam.plugins.module_utils.redact import shown_key_id


class AuditInputError(ValueError):
    """The audit's input is not what access_key_info / credentials_file return."""


def json_document(value, variable, what_to_give):
    """A JSON document given to the audit as its text or already parsed; None when not given.

    ``variable`` names the role variable and ``what_to_give`` says which file belongs there, for the error."""
    if value in (None, "", {}):
        return None
    if isinstance(value, (str, bytes)):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise AuditInputError(f"{variable} is not JSON ({exc.msg} at line {exc.lineno}): give {what_to_give}") from None
    return value


def host_record(facts):
    """One host's audit facts (user and credentials_file read results) as ``user``, ``reachable``, ``files``.

    ``facts`` is ``{"user": str, "unreachable": bool, "results": [credentials_file results]}``. Each file
    is ``{path, access_key_id, exists, error}``; ``error`` says why a reachable host's file could not be read.
    """
    if not isinstance(facts, dict) or "user" not in facts:
        raise AuditInputError(f"a host's audit record must have 'user' and 'results', got {facts!r:.200}")
    results = facts.get("results") or []
    unreachable = bool(facts.get("unreachable")) or any(r.get("unreachable") for r in results if isinstance(r, dict))
    files = []
    for result in results:
        if not isinstance(result, dict):
            continue
        item = result.get("item") if isinstance(result.get("item"), dict) else {}
        path = item.get("path") or result.get("path")
        if result.get("unreachable"):
            files.append({"path": path, "access_key_id": None, "exists": None, "error": "host unreachable"})
        elif "access_key_id" not in result:
            files.append({"path": path, "access_key_id": None, "exists": None, "error": str(result.get("msg") or "could not be read")})
        else:
            files.append({"path": path, "access_key_id": shown_key_id(result.get("access_key_id")) or None, "exists": result.get("exists"),
                          "error": None})
    return {"user": facts["user"], "reachable": not unreachable, "files": files}


def collect_hosts(hostvars, host_names, fact="__rotor_audit_host"):
    """``{host: host_record}`` for the hosts in ``host_names`` that recorded ``fact`` (audited hosts)."""
    hosts = {}
    for name in host_names:
        facts = hostvars[name]
        record = facts.get(fact) if hasattr(facts, "get") else None
        if record:
            hosts[name] = host_record(record)
    return hosts
