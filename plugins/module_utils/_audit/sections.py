# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""The report's tables, in reading order, for the Markdown and HTML renderers: what to act on first.

Each section is ``{id, title, headers, rows, numeric}``; a section without rows is folded by the renderers into
one line ("Nothing to report in: ..."). Every cell says something: blanks are written as words.
"""

from __future__ import annotations

from ansible_collections.rotor.iam.plugins.module_utils._audit import cells
from ansible_collections.rotor.iam.plugins.module_utils._audit.consumers import consumer_tables


def _section(section_id, title, headers, rows, numeric=()):
    return {"id": section_id, "title": title, "headers": headers, "rows": rows, "numeric": tuple(numeric)}


def host_key_row(row):
    return [row["user_name"], row["access_key_id"], cells.word(row["status"], "unknown"), cells.word(row["age_days"], "unknown"),
            cells.yes_no(row["rotation_due"]), cells.hosts(row["hosts"]), cells.owner(row.get("owner"))]


def finding_row(finding):
    return [finding["host"], finding["user"], cells.word(finding.get("path"), "no file"), finding["problem"], cells.owner(finding.get("owner"))]


def report_sections(report):
    """Every table of the report but the full key inventory, in reading order."""
    s = report["summary"]
    policy = report["policy"]
    out = [
        _section(
            "keys-due-for-rotation", f"Keys due for rotation ({s['rotation_due']})",
            ["User", "Key", "Age (days)", "Policy (days)", "Last used", "Hosts", "Owner", "What to do", "Command"],
            [[k["user_name"], cells.key_id(k), k["age_days"], k["max_age_days"], cells.date(k["last_used_date"]), cells.hosts(k["hosts"]),
              cells.owner(k["owner"])] + cells.remediation_cells(k) for k in report["rotation_due"]],
            numeric=(2, 3),
        ),
        _section(
            "inactive-keys", f"Inactive keys to delete ({len(report.get('inactive') or [])})",
            ["User", "Key", "Age (days)", "Last used", "Hosts", "Owner", "Command"],
            [[k["user_name"], cells.key_id(k), cells.word(k["age_days"], "unknown"), cells.date(k["last_used_date"]), cells.hosts(k["hosts"]),
              cells.owner(k["owner"]), cells.remediation_cells(k)[1]] for k in report.get("inactive") or []],
            numeric=(2,),
        ),
        _section(
            "unused-keys", f"Keys unused for {policy['unused_days']} days or more ({s['unused']})",
            ["User", "Key", "Age (days)", "Last used", "Idle (days)", "Hosts", "Owner", "What to do", "Command"],
            [[k["user_name"], cells.key_id(k), k["age_days"], cells.date(k["last_used_date"]), k["idle_days"], cells.hosts(k["hosts"]),
              cells.owner(k["owner"])] + cells.remediation_cells(k) for k in report["unused"]],
            numeric=(2, 4),
        ),
        _section(
            "users-with-two-active-keys", f"Users with two Active keys ({s['users_with_two_active_keys']})",
            ["User", "Keys (age in days)", "Owner"],
            [[u["user_name"], cells.keys_with_ages(u["access_keys"]), cells.owner(u["owner"])] for u in report["users_with_two_active_keys"]],
        ),
    ]
    for title, headers, rows, numeric in cells.user_policy_rows(report):
        out.append(_section(title.split(" (", maxsplit=1)[0].lower().replace(" ", "-"), title, headers, rows, numeric))
    out += [
        _section("keys-held-by-hosts", f"Keys held by hosts ({len(report['host_keys'])})",
                 ["User", "Key", "Status", "Age (days)", "Due", "Hosts", "Owner"],
                 [host_key_row(r) for r in report["host_keys"]], numeric=(3,)),
        _section("host-findings", f"Host findings ({s['host_findings']})", ["Host", "User", "File", "Finding", "Owner"],
                 [finding_row(f) for f in report["host_findings"]]),
    ]
    if report.get("destinations"):  # only when rotor_secret_destinations names some
        rows = [[d["user"], d["type"], d["name"], cells.word(d["access_key_id"]), cells.word(d["status"], "not a key of the user"),
                 cells.word(d["finding"], "none: holds the user's current key")] for d in report["destinations"]]
        out.append(_section("secret-destinations", f"Secret destinations ({len(rows)})",
                            ["User", "Type", "Name", "Key", "Status", "Finding"], rows))
    for title, headers, rows in consumer_tables(report.get("consumers")):
        out.append(_section(title.split(" (", maxsplit=1)[0].lower().replace(" ", "-"), title, headers,
                            [[cells.word(c) for c in row] for row in rows]))
    return out


def trend_sections(report):
    """The trend's tables (none without a previous report)."""
    trend = report.get("trend")
    if not trend:
        return []

    def brief_rows(keys):
        return [[k["user_name"], cells.key_id(k), cells.word(k["status"], "unknown"), cells.word(k["age_days"], "unknown"),
                 cells.owner(k.get("owner"))] for k in keys]

    headers = ["User", "Key", "Status", "Age (days)", "Owner"]
    counts = trend["counts"]
    names = {"access_keys": "Access keys", "active_access_keys": "Active keys", "rotation_due": "Due for rotation",
             "unused": "Unused", "inactive_access_keys": "Inactive keys"}
    return [
        _section("trend-counts", f"Then ({trend['previous_generated_at']}) and now", ["Measure", "Then", "Now", "Change"],
                 [[names[n], cells.word(c["then"], "not in that report"), c["now"],
                   f"{c['now'] - c['then']:+d}" if isinstance(c["then"], int) and isinstance(c["now"], int) else "unknown"]
                  for n, c in counts.items()], numeric=(1, 2)),
        _section("trend-age-distribution", "Active keys by age, then and now", ["Age", "Then", "Now"],
                 [[b["band"], b["then"], b["now"]] for b in trend["age_distribution"]], numeric=(1, 2)),
        _section("newly-due", f"Keys newly due since then ({len(trend['newly_due'])})", headers, brief_rows(trend["newly_due"]), numeric=(3,)),
        _section("retired", f"Keys retired since then ({len(trend['retired'])})", headers, brief_rows(trend["retired"]), numeric=(3,)),
        _section("new-keys", f"Keys created since then ({len(trend['new'])})", headers, brief_rows(trend["new"]), numeric=(3,)),
    ]


def all_keys_rows(report):
    return [[k["user_name"], cells.key_id(k), k["status"], cells.word(k["age_days"], "unknown"), cells.date(k["last_used_date"]),
             k["max_age_days"], cells.yes_no(k["rotation_due"]), cells.yes_no(k["exempt"]), cells.yes_no(k["unused"]), cells.owner(k["owner"])]
            for k in report["access_keys"]]


ALL_KEYS_HEADERS = ["User", "Key", "Status", "Age (days)", "Last used", "Policy (days)", "Due", "Exempt", "Unused", "Owner"]


def nothing_line(sections):
    """'Nothing to report in: A, B, C.' for the sections without rows (None when every section has rows)."""
    empty = [s["title"].split(" (", maxsplit=1)[0] for s in sections if not s["rows"]]
    return f"Nothing to report in: {', '.join(empty)}." if empty else None
