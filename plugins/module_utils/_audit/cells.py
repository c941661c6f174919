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


def counted(count, noun):
    """``count`` and ``noun``, the noun in the plural unless the count is 1: '1 user', '3 users'."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def accounts(report):
    """'account 123456789012', or 'accounts 123456789012, 222222222222' when the audit spans several."""
    several = [a["account"] for a in report.get("accounts") or []]
    if several:
        return "accounts " + ", ".join(several)
    return f"account {report['account_id'] or 'unknown'}"


# One status -> colour table for every chart and legend; each colour has a contrast of at least 4.5:1 against
# BACKGROUND (WCAG AA for text), checked by a unit test.
BACKGROUND = "#ffffff"
STATUS_COLOURS = {
    "due": "#b42318",       # Active, past its policy, not exempt
    "exempt": "#8a5300",    # Active, past its policy, user exempt
    "ok": "#1f5fa8",        # Active, within its policy
    "inactive": "#5d6b7e",  # Inactive
}
STATUS_LABELS = {
    "due": "due for rotation",
    "exempt": "past its policy, user exempt",
    "ok": "within its policy",
    "inactive": "Inactive",
}
NO_OWNER = "no owner tag"
NOT_IN_INVENTORY = "not in inventory"


class Code(str):
    """A cell to show as code (a command to run)."""


def key_status(key):
    """The colour class of a key: due, exempt, ok or inactive (the same in every chart)."""
    if not key["active"]:
        return "inactive"
    if key["rotation_due"]:
        return "due"
    if key.get("past_max_age"):
        return "exempt"
    return "ok"


def key_id(key):
    if key.get("access_key_id"):
        return key["access_key_id"]
    return f"id not looked up (key {key['position']})" if key.get("position") else "id not looked up"


def date(value):
    return value[:10] if value else "never"


def hosts(names):
    return ", ".join(names) if names else NOT_IN_INVENTORY


def owner(value):
    return value or NO_OWNER


def word(value, blank="none"):
    """A cell's value, or ``blank`` in words when there is none."""
    return blank if value is None or value == "" else value


def yes_no(value):
    if value is None:
        return "unknown"
    return "yes" if value else "no"


def remediation_cells(key):
    """(what to do, command) of a listed key."""
    fix = key.get("remediation") or {}
    command = fix.get("command")
    return [fix.get("action") or "none", Code(command) if command else "nothing to run"]


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
            [[e["user_name"], e["reason"], until(e), keys_with_ages(e["keys_past_max_age"]) or "none", owner(e["owner"])]
             for e in report["exempt_users"]],
            (),
        ),
        (
            f"Expired exemptions ({s['expired_exemptions']})",
            ["User", "Reason", "Ended", "Note", "Owner"],
            [[e["user_name"], word(e["reason"]), e["exemption_ends"], e["note"], owner(e["owner"])] for e in report["expired_exemptions"]],
            (),
        ),
        (
            f"Users with their own max age ({s['users_with_own_max_age']})",
            ["User", "Max age (days)", "Keys past it", "Owner"],
            [[u["user_name"], u["max_age_days"], u["keys_past_max_age"], owner(u["owner"])] for u in report["users_with_own_max_age"]],
            (1, 2),
        ),
        (
            f"Policy tag problems ({s['policy_problems']})",
            ["User", "Tag", "Value", "Problem", "Owner"],
            [[p["user_name"], word(p["tag"]), word(p["value"]), p["problem"], owner(p["owner"])] for p in report["policy_problems"]],
            (),
        ),
    ]
