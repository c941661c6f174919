# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""The trend against the previous report (rotor_audit_previous_report): keys newly due, keys retired, keys new,
and the age distribution of Active keys then and now.

A key is the same key in both reports when its user and creation time match: the credential report has no key
ids, and a key's creation time never changes.
"""

from __future__ import annotations

from ansible_collections.rotor.iam.plugins.module_utils._audit.hosts import AuditInputError
from ansible_collections.rotor.iam.plugins.module_utils._audit.hosts import json_document
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import as_datetime
from ansible_collections.rotor.iam.plugins.module_utils.redact import shown_key_id

AGE_BANDS = ((0, 29), (30, 59), (60, 89), (90, 179), (180, 364), (365, None))
_KEY_FIELDS = ("user_name", "access_key_id", "status", "age_days", "owner")


def load_previous(previous):
    """The previous JSON report (its text or the parsed dict); None when not given."""
    previous = json_document(previous, "rotor_audit_previous_report", "the rotor-iam-audit.json an earlier audit wrote")
    if previous is None:
        return None
    if not isinstance(previous, dict) or not isinstance(previous.get("access_keys"), list) or "generated_at" not in previous:
        raise AuditInputError("rotor_audit_previous_report is not a JSON report of rotor.iam.audit (no generated_at and "
                              "access_keys): give the rotor-iam-audit.json an earlier audit wrote")
    return previous


def _identity(key):
    """User and creation time (to the second, however it was written), else the id or position."""
    try:
        created = as_datetime(key.get("create_date"))
    except (TypeError, ValueError):
        created = None
    moment = created.replace(microsecond=0).isoformat() if created else None
    return (str(key.get("user_name")), moment or str(key.get("create_date") or key.get("access_key_id") or key.get("position")))


def band_label(band):
    low, high = band
    return f"{low}+ days" if high is None else f"{low}-{high} days"


def age_distribution(keys):
    """Active keys per age band: ``[{band, count}]`` over AGE_BANDS."""
    counts = [0] * len(AGE_BANDS)
    for key in keys:
        age = key.get("age_days")
        if not key.get("active") or age is None:
            continue
        for index, (low, high) in enumerate(AGE_BANDS):
            if age >= low and (high is None or age <= high):
                counts[index] += 1
                break
    return [{"band": band_label(b), "count": c} for b, c in zip(AGE_BANDS, counts)]


def _brief(key):
    brief = {field: key.get(field) for field in _KEY_FIELDS}
    brief["access_key_id"] = shown_key_id(brief["access_key_id"]) or None
    return brief


def trend_section(previous, keys, summary):
    """The report's ``trend`` (None without a previous report). ``keys``/``summary``: this report's."""
    previous = load_previous(previous)
    if previous is None:
        return None
    before = {_identity(k): k for k in previous["access_keys"] if isinstance(k, dict)}
    now = {_identity(k): k for k in keys}
    newly_due = [_brief(k) for ident, k in now.items() if k["rotation_due"] and not (before.get(ident) or {}).get("rotation_due")]
    retired = [_brief(k) for ident, k in before.items() if ident not in now]
    new = [_brief(k) for ident, k in now.items() if ident not in before]
    then_summary = previous.get("summary") or {}
    dist_then = age_distribution(previous["access_keys"])
    dist_now = age_distribution(keys)
    return {
        "previous_generated_at": str(previous.get("generated_at"))[:40],
        "newly_due": sorted(newly_due, key=lambda k: (-(k["age_days"] or 0), k["user_name"])),
        "retired": sorted(retired, key=lambda k: k["user_name"]),
        "new": sorted(new, key=lambda k: k["user_name"]),
        "age_distribution": [{"band": t["band"], "then": t["count"], "now": n["count"]} for t, n in zip(dist_then, dist_now)],
        "counts": {name: {"then": then_summary.get(name), "now": summary.get(name)}
                   for name in ("access_keys", "active_access_keys", "rotation_due", "unused", "inactive_access_keys")},
    }
