# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# Each filter is documented in plugins/filter/<name>.yml (ansible-doc -t filter rotor.iam.<name>).

from ansible_collections.rotor.iam.plugins.module_utils.audit import AuditInputError
from ansible_collections.rotor.iam.plugins.module_utils.audit import DEFAULT_CHART_MAX_KEYS
from ansible_collections.rotor.iam.plugins.module_utils.audit import DEFAULT_MARKDOWN_MAX_ROWS
from ansible_collections.rotor.iam.plugins.module_utils.audit import FORMATS
from ansible_collections.rotor.iam.plugins.module_utils.audit import audit_accounts as _audit_accounts
from ansible_collections.rotor.iam.plugins.module_utils.audit import audit_connections as _audit_connections
from ansible_collections.rotor.iam.plugins.module_utils.audit import build_audit
from ansible_collections.rotor.iam.plugins.module_utils.audit import combine_accounts
from ansible_collections.rotor.iam.plugins.module_utils.audit import destination_records
from ansible_collections.rotor.iam.plugins.module_utils.audit import merge_key_ids
from ansible_collections.rotor.iam.plugins.module_utils.audit import users_needing_key_ids
from ansible_collections.rotor.iam.plugins.module_utils.audit import collect_hosts
from ansible_collections.rotor.iam.plugins.module_utils.audit import render_all
from ansible_collections.rotor.iam.plugins.module_utils.audit import render_html
from ansible_collections.rotor.iam.plugins.module_utils.audit import render_json
from ansible_collections.rotor.iam.plugins.module_utils.audit import render_markdown
from ansible_collections.rotor.iam.plugins.plugin_utils.filter_guard import filter_guard


REPORT = "the report of rotor.iam.audit_report"


AUDIT_STEPS = ("hosts", "connections", "accounts", "key_ids_needed")

# What the role's rotor_audit_scope allows (roles/audit/meta/argument_specs.yml); build_audit records the scope as given.
AUDIT_SCOPES = ("account", "inventory")


def _count_option(name, value):
    """``value`` of the option ``name`` as an int of 0 or more, or an AuditInputError saying what is accepted.

    Templating often hands numbers over as text, so a string of digits is taken; a bool is refused though Python
    counts it as an int, and a float is refused rather than cut (2.5 is not a number of rows). The message shows a
    number (never a secret) but not a text, which could be any variable templated in by mistake. The filter's guard adds
    the filter's name in front."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value >= 0:
            return value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdecimal():
        return int(value.strip())
    if isinstance(value, (bool, int, float)):
        shown = f"the {type(value).__name__} {value!r:.40}"
    else:
        shown = "a text that is not digits" if isinstance(value, str) else f"a {type(value).__name__}"
    raise AuditInputError(f"{name} must be a whole number of 0 or more (an int or a string of digits), not {shown}")


def _scope_option(value):
    """``value`` of the option scope when it is one the audit knows, else an AuditInputError listing them."""
    if isinstance(value, str) and value in AUDIT_SCOPES:
        return value
    shown = f"{value!r:.40}" if isinstance(value, str) else f"a {type(value).__name__}"
    raise AuditInputError(f"scope must be one of {', '.join(AUDIT_SCOPES)}, not {shown}")


@filter_guard("audit_todo", AuditInputError, expects="what the audit's last step returned, and the step")
def audit_todo(value, step, hostvars=None, hosts=None, max_age_days=90, unused_days=90):
    """The audit role's next inputs, one step at a time (see audit_todo.yml): the audited hosts, their AWS connections,
    the accounts to audit, the users whose key ids the report needs."""
    if step not in AUDIT_STEPS:
        raise AuditInputError(f"step {step!r} is not one of {', '.join(AUDIT_STEPS)}")
    if step != "key_ids_needed" and hostvars is None:
        raise AuditInputError(f"step {step} needs hostvars")
    if step == "hosts":
        return collect_hosts(hostvars, list(value or []))
    if step == "connections":
        return _audit_connections(value or {}, hostvars)
    if step == "accounts":
        return _audit_accounts(value or [], hosts or {}, hostvars)

    def judge(info):
        return build_audit(info, max_age_days=int(max_age_days), unused_days=int(unused_days))["access_keys"]
    return users_needing_key_ids(value, judge)


def _report(key_info, hosts=None, max_age_days=90, unused_days=90, scope="account", accounts=None, destinations=None,
            discovery=None, resolved=None, previous=None, inventory=None):
    scope = _scope_option(scope)  # checked before the heavy work, so a typo fails fast
    info, records, spanned = combine_accounts(merge_key_ids(key_info, resolved), accounts, hosts)
    return build_audit(info, hosts=records, max_age_days=max_age_days, unused_days=unused_days, scope=scope, accounts=spanned,
                       destinations=destination_records(destinations), discovery=discovery, previous=previous,
                       inventory=inventory)


@filter_guard("audit_report", AuditInputError, expects="the registered rotor.iam.access_key_info result(s)")
def audit_report(key_info, hosts=None, max_age_days=90, unused_days=90, scope="account", accounts=None, destinations=None,
                 discovery=None, resolved=None, previous=None, inventory=None):
    return _report(key_info, hosts=hosts, max_age_days=max_age_days, unused_days=unused_days, scope=scope, accounts=accounts,
                   destinations=destinations, discovery=discovery, resolved=resolved, previous=previous, inventory=inventory)


@filter_guard("audit_documents", AuditInputError, expects="the registered rotor.iam.access_key_info result(s)")
def audit_documents(key_info, hosts=None, max_age_days=90, unused_days=90, scope="account",
                    chart_max_keys=DEFAULT_CHART_MAX_KEYS, markdown_max_rows=DEFAULT_MARKDOWN_MAX_ROWS, formats=FORMATS,
                    fail_list_max=20, accounts=None, destinations=None, discovery=None, resolved=None, previous=None,
                    inventory=None):
    """audit_report and its renderings in one pass: summary, policy, credential_report, user_tags,
    rotation_due (brief), policy_problems, host_findings, summary_text, due_message, messages and
    documents (one string per format: json, md, html)."""
    # the counts are checked before the report is built, so a bad one fails fast and by name
    chart_max_keys = _count_option("chart_max_keys", chart_max_keys)
    markdown_max_rows = _count_option("markdown_max_rows", markdown_max_rows)
    fail_list_max = _count_option("fail_list_max", fail_list_max)
    if isinstance(formats, str):
        raise AuditInputError(f"formats must be a list of report formats (json, md, html), not the text {formats!r:.40}")
    report = _report(key_info, hosts=hosts, max_age_days=max_age_days, unused_days=unused_days, scope=scope, accounts=accounts,
                     destinations=destinations, discovery=discovery, resolved=resolved, previous=previous, inventory=inventory)
    return render_all(report, chart_max_keys=chart_max_keys, markdown_max_rows=markdown_max_rows, formats=list(formats),
                      fail_list_max=fail_list_max)


@filter_guard("audit_json", AuditInputError, expects=REPORT)
def audit_json(report):
    """The audit report (C(rotor.iam.audit_report)) as the JSON document the audit writes."""
    return render_json(report)


@filter_guard("audit_markdown", AuditInputError, expects=REPORT)
def audit_markdown(report, max_rows=DEFAULT_MARKDOWN_MAX_ROWS):
    """The audit report as Markdown: the summary, then at most C(max_rows) keys, overdue first."""
    return render_markdown(report, max_rows=_count_option("max_rows", max_rows))


@filter_guard("audit_html", AuditInputError, expects=REPORT)
def audit_html(report, chart_max_keys=DEFAULT_CHART_MAX_KEYS):
    """The audit report as one self-contained HTML page: the summary, the age chart of at most C(chart_max_keys)
    keys against the policy line, and the table of keys."""
    return render_html(report, chart_max_keys=_count_option("chart_max_keys", chart_max_keys))


class FilterModule:
    def filters(self):
        return {
            "audit_todo": audit_todo,
            "audit_report": audit_report,
            "audit_documents": audit_documents,
            "audit_json": audit_json,
            "audit_markdown": audit_markdown,
            "audit_html": audit_html,
        }
