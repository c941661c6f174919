# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""The audit's secret destinations: which key id each Secrets Manager secret / SSM parameter holds.

Input: the results registered by ``rotor.iam.secret_destination state=read`` looped over
``rotor_secret_destinations`` (each result's ``item`` is the destination). Only key ids reach the report.
"""

from __future__ import annotations

from ansible_collections.rotor.iam.plugins.module_utils._audit.hosts import AuditInputError
from ansible_collections.rotor.iam.plugins.module_utils.redact import shown_key_id


def destination_records(results):
    """``[{user, type, name, access_key_id, exists, error}]`` from the registered read results."""
    if results is None:
        return []
    if isinstance(results, dict):
        results = results.get("results") or []
    if not isinstance(results, list):
        raise AuditInputError(f"destinations must be the registered results of rotor.iam.secret_destination, got {results!r:.200}")
    records = []
    for result in results:
        if not isinstance(result, dict) or result.get("skipped"):
            continue
        item = result.get("item") if isinstance(result.get("item"), dict) else {}
        failed = bool(result.get("failed")) or "access_key_id" not in result
        records.append({
            "user": item.get("user"),
            "type": item.get("type") or result.get("type"),
            "name": item.get("name") or result.get("name"),
            "access_key_id": None if failed else shown_key_id(result.get("access_key_id")) or None,
            "exists": None if failed else bool(result.get("exists")),
            "error": str(result.get("msg") or "could not be read") if failed else None,
        })
    return records


def destination_section(records, keys):
    """Each destination with the IAM state of the key it holds, and its finding (None when all is well).

    ``keys`` are the report's access keys (``user_name``, ``access_key_id``, ``status``, ``rotation_due``).
    """
    by_id = {(k["user_name"], k["access_key_id"]): k for k in keys if k.get("access_key_id")}
    rows = []
    for record in records:
        key = by_id.get((record["user"], record["access_key_id"]))
        if record["error"]:
            finding = f"could not be read: {record['error']}"
        elif not record["exists"]:
            finding = "does not exist"
        elif not record["access_key_id"]:
            finding = "holds no access key id"
        elif key is None:
            finding = f"holds {record['access_key_id']}, which is not an access key of {record['user']} (deleted?)"
        elif key["status"] != "Active":
            finding = f"holds {record['access_key_id']}, which is {key['status']}"
        elif key.get("rotation_due"):
            finding = f"holds {record['access_key_id']}, which is due for rotation"
        else:
            finding = None
        rows.append(dict(record, status=key["status"] if key else None,
                         rotation_due=bool(key and key.get("rotation_due")), finding=finding))
    return rows
