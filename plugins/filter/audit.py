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


@filter_guard("audit_hosts", AuditInputError, expects="the play's host names and hostvars")
def audit_hosts(host_names, hostvars):
    """``{host: record}`` for the hosts that ran the role's ``hosts`` entry point."""
    return collect_hosts(hostvars, list(host_names))


@filter_guard("audit_connections", AuditInputError, expects="the result of rotor.iam.audit_hosts and hostvars")
def audit_connections(hosts, hostvars):
    """The distinct AWS connections (profile, region, endpoint_url; '' = not set) of the audited hosts."""
    return _audit_connections(hosts or {}, hostvars)


@filter_guard("audit_accounts", AuditInputError,
              expects="the registered rotor.iam.caller_identity results, rotor.iam.audit_hosts' result and hostvars")
def audit_accounts(identities, hosts, hostvars):
    """Per account to audit: its account id, the connection to reach it, its users and hosts (see accounts.py)."""
    return _audit_accounts(identities or [], hosts or {}, hostvars)


@filter_guard("audit_key_ids_needed", AuditInputError, expects="the registered rotor.iam.access_key_info result(s)")
def audit_key_ids_needed(key_info, max_age_days=90, unused_days=90):
    """Per access_key_info result (a loop's results, or one result), the users with a key the report lists
    (due, unused, Inactive, past its policy, or two Active keys) whose id is not known yet."""
    def judge(info):
        return build_audit(info, max_age_days=int(max_age_days), unused_days=int(unused_days))["access_keys"]
    return users_needing_key_ids(key_info, judge)


@filter_guard("audit_report", AuditInputError, expects="the registered rotor.iam.access_key_info result(s)")
def audit_report(key_info, hosts=None, max_age_days=90, unused_days=90, scope="account", accounts=None, destinations=None,
                 discovery=None, resolved=None, previous=None, inventory=None):
    info, records, spanned = combine_accounts(merge_key_ids(key_info, resolved), accounts, hosts)
    return build_audit(info, hosts=records, max_age_days=max_age_days, unused_days=unused_days, scope=scope, accounts=spanned,
                       destinations=destination_records(destinations), discovery=discovery, previous=previous,
                       inventory=inventory)


@filter_guard("audit_documents", AuditInputError, expects="the registered rotor.iam.access_key_info result(s)")
def audit_documents(key_info, hosts=None, max_age_days=90, unused_days=90, scope="account",
                    chart_max_keys=DEFAULT_CHART_MAX_KEYS, markdown_max_rows=DEFAULT_MARKDOWN_MAX_ROWS, formats=FORMATS,
                    fail_list_max=20, accounts=None, destinations=None, discovery=None, resolved=None, previous=None,
                    inventory=None):
    """audit_report and its renderings in one pass: summary, policy, credential_report, user_tags,
    rotation_due (brief), policy_problems, host_findings, summary_text, due_message, messages and
    documents (one string per format: json, md, html)."""
    report = audit_report(key_info, hosts=hosts, max_age_days=max_age_days, unused_days=unused_days, scope=scope, accounts=accounts,
                          destinations=destinations, discovery=discovery, resolved=resolved, previous=previous, inventory=inventory)
    return render_all(report, chart_max_keys=int(chart_max_keys), markdown_max_rows=int(markdown_max_rows), formats=list(formats),
                      fail_list_max=int(fail_list_max))


@filter_guard("audit_json", AuditInputError, expects=REPORT)
def audit_json(report):
    """The audit report (C(rotor.iam.audit_report)) as the JSON document the audit writes."""
    return render_json(report)


@filter_guard("audit_markdown", AuditInputError, expects=REPORT)
def audit_markdown(report, max_rows=DEFAULT_MARKDOWN_MAX_ROWS):
    """The audit report as Markdown: the summary, then at most C(max_rows) keys, overdue first."""
    return render_markdown(report, max_rows=int(max_rows))


@filter_guard("audit_html", AuditInputError, expects=REPORT)
def audit_html(report, chart_max_keys=DEFAULT_CHART_MAX_KEYS):
    """The audit report as one self-contained HTML page: the summary, the age chart of at most C(chart_max_keys)
    keys against the policy line, and the table of keys."""
    return render_html(report, chart_max_keys=int(chart_max_keys))


class FilterModule:
    def filters(self):
        return {
            "audit_hosts": audit_hosts,
            "audit_connections": audit_connections,
            "audit_accounts": audit_accounts,
            "audit_report": audit_report,
            "audit_key_ids_needed": audit_key_ids_needed,
            "audit_documents": audit_documents,
            "audit_json": audit_json,
            "audit_markdown": audit_markdown,
            "audit_html": audit_html,
        }
