# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""The audit report as a Markdown summary, for a ticket or a chat: headline numbers and tables of findings."""

from __future__ import annotations

from ansible_collections.rotor.iam.plugins.module_utils._audit import cells
from ansible_collections.rotor.iam.plugins.module_utils._audit.consumers import consumer_tables

DEFAULT_MARKDOWN_MAX_ROWS = 100


def _md(value):
    text = "—" if value is None or value == "" else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(headers, rows, max_rows):
    if not rows:
        return "None.\n"
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows[:max_rows]:
        lines.append("| " + " | ".join(_md(cell) for cell in row) + " |")
    if len(rows) > max_rows:
        lines.append(f"\n… and {len(rows) - max_rows} more in the JSON report.")
    return "\n".join(lines) + "\n"


def tags_sentence(report):
    """Whether the users' policy tags were read, and what that cost in IAM calls."""
    tags = report.get("user_tags") or {}
    if not tags.get("read"):
        return "User tags were not read: no exemptions, owners or per-user policies are applied."
    unreadable = f"; {tags['unreadable']} could not be read" if tags.get("unreadable") else ""
    return (f"User tags (rotor:exempt, rotor:exempt-until, rotor:owner, rotor:max-age-days) read for {tags['users']} "
            f"users in {tags['calls']} ListUserTags calls{unreadable}.")


def host_key_row(row):
    return [row["user_name"], row["access_key_id"], row["status"], row["age_days"], cells.yes_no(row["rotation_due"]),
            cells.hosts(row["hosts"]), row.get("owner")]


def finding_row(finding):
    return [finding["host"], finding["user"], finding.get("path"), finding["problem"], finding.get("owner")]


def render_markdown(report, max_rows=DEFAULT_MARKDOWN_MAX_ROWS):
    """A Markdown summary: headline numbers and the tables of findings (each cut at ``max_rows``)."""
    s = report["summary"]
    policy = report["policy"]
    cr = report["credential_report"]
    own = f" ({s['users_with_own_max_age']} users have their own, IAM user tag rotor:max-age-days)" if s.get("users_with_own_max_age") else ""
    out = [
        "# IAM access key audit",
        "",
        f"Generated {report['generated_at']} for {cells.accounts(report)} "
        f"(scope: {report['scope']}); credential report of {cr['generated_time'] or 'unknown'}"
        + (f", {cells.duration(cr['age_seconds'])} old" if cr.get("age_seconds") is not None else "")
        + ".",
        "",
        f"Policy: rotate Active keys at {policy['max_age_days']} days{own}; flag Active keys unused for {policy['unused_days']} days.",
        "",
        tags_sentence(report),
        "",
        "| Measure | Count |",
        "|---|---|",
        f"| Users | {s['users']} ({s['users_with_keys']} with keys) |",
        f"| Access keys | {s['access_keys']} ({s['active_access_keys']} Active) |",
        f"| Due for rotation | {s['rotation_due']} |",
        f"| Unused for {policy['unused_days']}+ days | {s['unused']} |",
        f"| Users with two Active keys | {s['users_with_two_active_keys']} |",
        f"| Oldest Active key | {_md(s['oldest_active_key_days'])} days |",
        f"| Exempt users | {s['exempt_users']} ({s['exempt_keys_past_max_age']} keys past their policy) |",
        f"| Expired exemptions | {s['expired_exemptions']} |",
        f"| Users with their own max age | {s['users_with_own_max_age']} |",
        f"| Policy tag problems | {s['policy_problems']} |",
        f"| Users with an owner | {s['users_with_owner']} |",
        f"| Hosts audited | {s['hosts']} ({s['hosts_unreachable']} unreachable) |",
        f"| Host findings | {s['host_findings']} |",
        "",
        f"## Keys due for rotation ({s['rotation_due']})",
        "",
        _md_table(
            ["User", "Key", "Age (days)", "Last used", "Hosts", "Policy (days)", "Owner"],
            [[k["user_name"], cells.key_id(k), k["age_days"], cells.date(k["last_used_date"]), cells.hosts(k["hosts"]),
              k["max_age_days"], k["owner"]] for k in report["rotation_due"]],
            max_rows,
        ),
        f"## Keys unused for {policy['unused_days']} days or more ({s['unused']})",
        "",
        _md_table(
            ["User", "Key", "Age (days)", "Last used", "Idle (days)", "Owner"],
            [[k["user_name"], cells.key_id(k), k["age_days"], cells.date(k["last_used_date"]), k["idle_days"], k["owner"]]
             for k in report["unused"]],
            max_rows,
        ),
        f"## Users with two Active keys ({s['users_with_two_active_keys']})",
        "",
        _md_table(
            ["User", "Keys (age in days)", "Owner"],
            [[u["user_name"], cells.keys_with_ages(u["access_keys"]), u["owner"]] for u in report["users_with_two_active_keys"]],
            max_rows,
        ),
    ]
    for title, headers, rows, dummy in cells.user_policy_rows(report):
        out += [f"## {title}", "", _md_table(headers, rows, max_rows)]
    out += [
        f"## Keys held by hosts ({len(report['host_keys'])})",
        "",
        _md_table(
            ["User", "Key", "Status", "Age (days)", "Due", "Hosts", "Owner"],
            [host_key_row(r) for r in report["host_keys"]],
            max_rows,
        ),
        f"## Host findings ({s['host_findings']})",
        "",
        _md_table(["Host", "User", "File", "Finding", "Owner"], [finding_row(f) for f in report["host_findings"]], max_rows),
    ]
    destinations = report.get("destinations") or []
    if destinations:
        out += [
            f"## Secret destinations ({len(destinations)})",
            "",
            _md_table(["User", "Type", "Name", "Key", "Status", "Finding"],
                      [[d["user"], d["type"], d["name"], d["access_key_id"] or "", d["status"] or "", d["finding"] or ""]
                       for d in destinations], max_rows),
        ]
    for title, headers, rows in consumer_tables(report.get("consumers")):
        out += [f"## {title}", "", _md_table(headers, rows, max_rows)]
    return "\n".join(out)
