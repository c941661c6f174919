# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""The audit's consumer section: the consumer map rotor.iam.discover wrote (rotor_audit_discovery), with each
key's IAM status as the audit sees it now when the audit lists that key.

The map is a file the operator hands over: it is parsed and checked here, and every key id goes through
``redact.shown_key_id`` (a value that is not a key id is withheld), as anywhere else in the reports.
"""

from __future__ import annotations

from ansible_collections.rotor.iam.plugins.module_utils._audit.hosts import AuditInputError
from ansible_collections.rotor.iam.plugins.module_utils._audit.hosts import json_document
from ansible_collections.rotor.iam.plugins.module_utils.redact import shown_key_id

DISCOVERY_FORMAT_VERSION = 1
_TEXT_LIMIT = 500


def _text(value):
    return None if value is None else str(value)[:_TEXT_LIMIT]


def load_discovery(discovery):
    """The consumer map from its JSON text (or the parsed dict); None when not given."""
    discovery = json_document(discovery, "rotor_audit_discovery",
                              "the file the playbook rotor.iam.discover wrote (rotor_discover_report)")
    if discovery is None:
        return None
    if not isinstance(discovery, dict) or discovery.get("format_version") != DISCOVERY_FORMAT_VERSION or not isinstance(
            discovery.get("keys"), list):
        raise AuditInputError("rotor_audit_discovery is not a consumer map of rotor.iam.discover (format_version 1 with keys); "
                              "run ansible-playbook rotor.iam.discover and give its rotor_discover_report file")
    return discovery


def consumer_section(discovery, audit_keys):
    """The report's ``consumers`` section, or None without a map. ``audit_keys``: the audit's keys (with ids when known)."""
    discovery = load_discovery(discovery)
    if discovery is None:
        return None
    now = {k["access_key_id"]: k for k in audit_keys if k.get("access_key_id")}
    rows = []
    for key in discovery["keys"]:
        key_id = shown_key_id(key.get("access_key_id"))
        iam = key.get("iam") or {}
        current = now.get(key_id)
        holders = key.get("holders") or []
        rows.append({
            "access_key_id": key_id,
            "iam_user": (current or {}).get("user_name") or iam.get("user_name"),
            "status": (current or {}).get("status") or iam.get("status") or ("unknown to IAM" if key.get("known_to_iam") is False else None),
            "status_source": "audit" if current else "discovery",
            "hosts": sorted({_text(h.get("host")) for h in holders}),
            "declared": sum(1 for h in holders if h.get("declared")),
            "undeclared": sum(1 for h in holders if not h.get("declared")),
            "note": _text(key.get("note")),
        })
    undeclared = [{"host": _text(h.get("host")), "path": _text(h.get("path")), "access_key_id": shown_key_id(h.get("access_key_id")),
                   "iam_user": _text(h.get("iam_user")), "why": _text(h.get("why"))} for h in discovery.get("undeclared") or []]
    aws_only = [{"access_key_id": shown_key_id(k.get("access_key_id")), "user_name": _text(k.get("user_name")),
                 "last_used_date": _text(k.get("last_used_date")), "last_used_service": _text(k.get("last_used_service"))}
                for k in discovery.get("seen_in_aws_only") or []]
    return {
        "generated_at": _text(discovery.get("generated_at")),
        "iam_joined": bool(discovery.get("iam_joined")),
        "keys": rows,
        "undeclared": undeclared,
        "seen_in_aws_only": aws_only,
        "declared_not_found": [{k: _text(v) for k, v in entry.items()} for entry in discovery.get("declared_not_found") or []
                               if isinstance(entry, dict)],
        "summary": {
            "key_ids": len(rows),
            "undeclared": len(undeclared),
            "seen_in_aws_only": len(aws_only),
            "unknown_to_iam": sum(1 for r in rows if r["status"] == "unknown to IAM"),
        },
    }


def consumer_tables(section):
    """(title, headers, rows) of the section, for the Markdown and HTML renderers; [] without a section."""
    if not section:
        return []
    return [
        (f"Consumers found by discovery ({section['summary']['key_ids']} key ids; map of {section['generated_at']})",
         ["Key", "IAM user", "Status", "Hosts", "Declared", "Undeclared", "Note"],
         [[r["access_key_id"], r["iam_user"], r["status"], ", ".join(r["hosts"]), r["declared"], r["undeclared"], r["note"]]
          for r in section["keys"]]),
        (f"Undeclared consumers ({section['summary']['undeclared']})",
         ["Host", "File", "Key", "IAM user", "Why"],
         [[u["host"], u["path"], u["access_key_id"], u["iam_user"], u["why"]] for u in section["undeclared"]]),
        (f"Keys used in AWS but on no searched host ({section['summary']['seen_in_aws_only']})",
         ["Key", "IAM user", "Last used", "Service"],
         [[k["access_key_id"], k["user_name"], k["last_used_date"], k["last_used_service"]] for k in section["seen_in_aws_only"]]),
    ]
