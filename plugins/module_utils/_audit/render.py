# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""What the role needs from one pass: the report's headline parts and its documents in the formats asked for."""

from __future__ import annotations

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


def render_all(report, chart_max_keys=DEFAULT_CHART_MAX_KEYS, markdown_max_rows=DEFAULT_MARKDOWN_MAX_ROWS, formats=FORMATS):
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
        "documents": {name: renderers[name]() for name in formats},
    }
