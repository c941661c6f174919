# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""What the role needs from one pass: the report's headline parts and its documents in the formats asked for."""

from __future__ import annotations

from ansible_collections.rotor.iam.plugins.module_utils._audit.cells import counted
from ansible_collections.rotor.iam.plugins.module_utils._audit.hosts import AuditInputError
from ansible_collections.rotor.iam.plugins.module_utils._audit.html_report import DEFAULT_CHART_MAX_KEYS
from ansible_collections.rotor.iam.plugins.module_utils._audit.html_report import render_html
from ansible_collections.rotor.iam.plugins.module_utils._audit.json_report import render_json
from ansible_collections.rotor.iam.plugins.module_utils._audit.markdown_report import DEFAULT_MARKDOWN_MAX_ROWS
from ansible_collections.rotor.iam.plugins.module_utils._audit.markdown_report import render_markdown

FORMATS = ("json", "md", "html")


def due_label(key):
    """A due key in one line, for the failure message of rotor_audit_fail_on_due."""
    name = key["access_key_id"] or "key " + str(key["position"])
    policy = f", policy {key['max_age_days']} days" if key.get("max_age_source") == "tag" else ""
    owner = f", owner {key['owner']}" if key.get("owner") else ""
    return f"{key['user_name']} {name} ({key['age_days']} days{policy}{owner})"


def summary_text(report):
    """The run's summary in a few sentences (the role prints it, then says where the reports went)."""
    s = report["summary"]
    policy = report["policy"]
    tags = report["user_tags"]
    own = " or their own rotor:max-age-days" if s["users_with_own_max_age"] else ""
    text = (
        f"Audited {s['users']} IAM users with {s['access_keys']} access keys ({s['active_access_keys']} Active): "
        f"{s['rotation_due']} due for rotation (Active, {policy['max_age_days']}+ days old{own}), "
        f"{s['unused']} unused for {policy['unused_days']}+ days, {s.get('inactive_access_keys', 0)} Inactive to delete, "
        f"{counted(s['users_with_two_active_keys'], 'user')} with two Active keys; "
        f"{s['hosts']} hosts audited ({s['hosts_unreachable']} unreachable), {s['host_findings']} host findings."
    )
    if s.get("key_id_calls"):
        text += f" Key ids of the listed keys looked up in {s['key_id_calls']} ListAccessKeys calls."
    if "newly_due" in s:
        text += f" Since the previous report: {s['newly_due']} keys newly due, {s['retired']} retired."
    if s.get("destinations"):
        text += f" {s['destinations']} secret destinations read, {s['destination_findings']} destination findings."
    if "undeclared_consumers" in s:
        text += (f" Discovery: {s['undeclared_consumers']} undeclared consumers, {s['keys_used_on_no_host']} keys used in AWS "
                 f"on no searched host.")
    if tags["read"]:
        text += (
            f" User tags read for {counted(tags['users'], 'user')} in {counted(tags['calls'], 'ListUserTags call')}: {s['exempt_users']} exempt "
            f"({s['exempt_keys_past_max_age']} keys past their policy), {s['expired_exemptions']} expired exemptions, "
            f"{s['users_with_own_max_age']} with their own max age, {s['policy_problems']} policy tag problems."
        )
    else:
        text += " User tags not read: no exemptions, owners or per-user max age applied."
    return text + f" Credential report generated {report['credential_report']['generated_time']}."


def due_message(report, list_max=20):
    """Why rotor_audit_fail_on_due fails: how many keys are due and the first ``list_max`` of them."""
    due = report["rotation_due"]
    if not due:
        return None
    own = ", or their own rotor:max-age-days" if report["summary"]["users_with_own_max_age"] else ""
    # list_max 0 names no key: the message then ends after the count and the policy, with no empty list or "and N more"
    listed = ": " + "; ".join(due_label(key) for key in due[:list_max]) if list_max > 0 else ""
    more = f"; and {len(due) - list_max} more" if 0 < list_max < len(due) else ""
    return (
        f"{len(due)} access key(s) are due for rotation (Active and at least {report['policy']['max_age_days']} days old{own})"
        f"{listed}{more}. Rotate them with rotor.iam.rotate; the reports list every key."
    )


def findings_messages(report):
    """One line per host finding and per policy tag problem, for the play's output."""
    lines = [f"{f['host']}: {f['problem']}" for f in report["host_findings"]]
    lines += [f"{d['type']} destination {d['name']} (user {d['user']}): {d['finding']}"
              for d in report.get("destinations") or [] if d["finding"]]
    lines += [f"{u['host']}: {u['path']} holds {u['access_key_id']}, not declared in the inventory: {u['why']}"
              for u in (report.get("consumers") or {}).get("undeclared") or []]
    for problem in report["policy_problems"]:
        owner = f" (owner: {problem['owner']})" if problem["owner"] else ""
        lines.append(f"IAM user {problem['user_name']}{owner}: {problem['problem']}")
    return lines


def render_all(report, chart_max_keys=DEFAULT_CHART_MAX_KEYS, markdown_max_rows=DEFAULT_MARKDOWN_MAX_ROWS, formats=FORMATS,
               fail_list_max=20):
    """The headline parts of the report and the documents in ``formats``, rendered once.

    Rendering here, once, keeps the large report out of Ansible's variables (slow to template).
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise AuditInputError(f"unknown report format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    renderers = {
        "json": lambda: render_json(report),
        "md": lambda: render_markdown(report, max_rows=markdown_max_rows),
        "html": lambda: render_html(report, chart_max_keys=chart_max_keys),
    }
    return {
        "summary": report["summary"],
        "policy": report["policy"],
        "credential_report": report["credential_report"],
        "user_tags": report["user_tags"],
        "rotation_due": [
            dict({k: key[k] for k in ("user_name", "owner", "position", "access_key_id", "age_days", "max_age_days")}, label=due_label(key))
            for key in report["rotation_due"]
        ],
        "policy_problems": [dict(p, label=f"{p['user_name']}: {p['problem']}") for p in report["policy_problems"]],
        "host_findings": report["host_findings"],
        "destinations": report.get("destinations") or [],
        "consumers": report.get("consumers"),
        "summary_text": summary_text(report),
        "due_message": due_message(report, fail_list_max),
        "messages": findings_messages(report),
        "documents": {name: renderers[name]() for name in formats},
    }
