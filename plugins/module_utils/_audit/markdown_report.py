# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""The audit report as a Markdown summary, for a ticket or a chat: headline numbers and tables of findings."""

from __future__ import annotations

from ansible_collections.rotor.iam.plugins.module_utils._audit import cells
from ansible_collections.rotor.iam.plugins.module_utils._audit.sections import nothing_line
from ansible_collections.rotor.iam.plugins.module_utils._audit.sections import report_sections
from ansible_collections.rotor.iam.plugins.module_utils._audit.sections import trend_sections

DEFAULT_MARKDOWN_MAX_ROWS = 100


def _md(value):
    text = str(cells.word(value))
    text = text.replace("|", "\\|").replace("\n", " ")
    return f"`{text}`" if isinstance(value, cells.Code) else text


def _md_table(headers, rows, max_rows):
    if not rows:
        return "None.\n"
    if max_rows == 0:  # no row asked for: a heading with an empty table would mislead, so only count them
        return f"{cells.counted(len(rows), 'row')}, listed in the JSON report.\n"
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
    return (f"User tags (rotor:exempt, rotor:exempt-until, rotor:owner, rotor:max-age-days) read for {cells.counted(tags['users'], 'user')} "
            f"in {cells.counted(tags['calls'], 'ListUserTags call')}{unreadable}.")


def render_markdown(report, max_rows=DEFAULT_MARKDOWN_MAX_ROWS):
    """A Markdown summary: headline numbers and the tables of findings (each cut at ``max_rows``)."""
    s = report["summary"]
    policy = report["policy"]
    cr = report["credential_report"]
    own_count = s.get("users_with_own_max_age")
    own = f" ({cells.counted(own_count, 'user')} {'has its' if own_count == 1 else 'have their'} own, IAM user tag rotor:max-age-days)" if own_count else ""
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
        f"| Inactive keys to delete | {s.get('inactive_access_keys', 0)} |",
        f"| Unused for {policy['unused_days']}+ days | {s['unused']} |",
        f"| Users with two Active keys | {s['users_with_two_active_keys']} |",
        "| Oldest Active key | " + ("no Active key" if s["oldest_active_key_days"] in (None, "") else f"{_md(s['oldest_active_key_days'])} days") + " |",
        f"| Exempt users | {s['exempt_users']} ({s['exempt_keys_past_max_age']} keys past their policy) |",
        f"| Expired exemptions | {s['expired_exemptions']} |",
        f"| Users with their own max age | {s['users_with_own_max_age']} |",
        f"| Policy tag problems | {s['policy_problems']} |",
        f"| Users with an owner | {s['users_with_owner']} |",
        f"| Hosts audited | {s['hosts']} ({s['hosts_unreachable']} unreachable) |",
        f"| Host findings | {s['host_findings']} |",
    ]
    if s.get("key_id_calls"):
        out.append(f"| Key ids looked up (ListAccessKeys calls) | {s['key_id_calls']} |")
    if "newly_due" in s:
        out.append(f"| Newly due since the previous report | {s['newly_due']} |")
    out.append("")
    sections = report_sections(report)
    for section in sections:
        if section["rows"]:
            out += [f"## {section['title']}", "", _md_table(section["headers"], section["rows"], max_rows)]
    line = nothing_line(sections)
    if line:
        out += [line, ""]
    trend = trend_sections(report)
    if trend:
        out += [f"## Trend since the previous report ({report['trend']['previous_generated_at']})", ""]
        for section in trend:
            out += [f"### {section['title']}", "", _md_table(section["headers"], section["rows"], max_rows)]
    return "\n".join(out)
