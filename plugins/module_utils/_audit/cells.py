# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""How the Markdown and HTML renderers write a value in a table cell, so both read the same."""

from __future__ import annotations


def duration(seconds):
    """A report age for people: seconds, minutes, hours or days."""
    seconds = int(seconds)
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size} {unit}"
    return f"{seconds} seconds"


def accounts(report):
    """'account 123456789012', or 'accounts 123456789012, 222222222222' when the audit spans several."""
    several = [a["account"] for a in report.get("accounts") or []]
    if several:
        return "accounts " + ", ".join(several)
    return f"account {report['account_id'] or 'unknown'}"


def key_id(key):
    return key.get("access_key_id") or f"(position {key.get('position') or '?'})"


def date(value):
    return value[:10] if value else "never"


def hosts(names):
    return ", ".join(names) if names else ""


def yes_no(value):
    if value is None:
        return None
    return "yes" if value else "no"


def key_label(key):
    """A key in the chart: user and id (or position)."""
    position = f"#{key['position']}" if key.get("position") else "new"
    return f"{key['user_name']} {key.get('access_key_id') or position}"


def keys_with_ages(keys):
    return ", ".join(f"{key_id(k)} ({k['age_days']})" for k in keys)


def until(entry):
    """An exemption's end: the tag as written, flagged when it does not parse; 'no end date' without one."""
    if entry.get("exempt_until") is None:
        return "no end date"
    if entry.get("exemption_ends") is None:
        return f"{entry['exempt_until']} (invalid: no end)"
    return entry["exempt_until"]


def user_policy_rows(report):
    """The rows of the per-user policy tables, shared by both renderers: (title, headers, rows, numeric columns)."""
    s = report["summary"]
    return [
        (
            f"Exempt users ({s['exempt_users']})",
            ["User", "Reason", "Until", "Keys past their policy", "Owner"],
            [[e["user_name"], e["reason"], until(e), keys_with_ages(e["keys_past_max_age"]), e["owner"]] for e in report["exempt_users"]],
            (),
        ),
        (
            f"Expired exemptions ({s['expired_exemptions']})",
            ["User", "Reason", "Ended", "Note", "Owner"],
            [[e["user_name"], e["reason"], e["exemption_ends"], e["note"], e["owner"]] for e in report["expired_exemptions"]],
            (),
        ),
        (
            f"Users with their own max age ({s['users_with_own_max_age']})",
            ["User", "Max age (days)", "Keys past it", "Owner"],
            [[u["user_name"], u["max_age_days"], u["keys_past_max_age"], u["owner"]] for u in report["users_with_own_max_age"]],
            (1, 2),
        ),
        (
            f"Policy tag problems ({s['policy_problems']})",
            ["User", "Tag", "Value", "Problem", "Owner"],
            [[p["user_name"], p["tag"], p["value"], p["problem"], p["owner"]] for p in report["policy_problems"]],
            (),
        ),
    ]
