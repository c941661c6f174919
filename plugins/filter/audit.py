# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: audit_report
short_description: Build the access key audit report from access_key_info and the hosts' key ids
version_added: 0.2.0
description:
  - Used by the C(rotor.iam.audit) role. Takes the result of M(rotor.iam.access_key_info) with O(rotor.iam.access_key_info#module:all_users)
    or O(rotor.iam.access_key_info#module:user_names), and per host the key ids its credentials files hold (see
    C(rotor.iam.audit_hosts)), and returns the report as a dict - keys due for rotation, keys unused for
    O(unused_days), users with two Active keys, which hosts hold which key id, and problems found on hosts.
  - When M(rotor.iam.access_key_info) ran with O(rotor.iam.access_key_info#module:include_tags=true), each user's own
    policy comes from its IAM tags - C(rotor:exempt) (the reason; an exempt user's keys are never due),
    C(rotor:exempt-until) (V(YYYY-MM-DD), the end of that day UTC, or an ISO 8601 date and time; after it the
    exemption has expired and the user is judged normally), C(rotor:max-age-days) (a positive whole number that
    replaces O(max_age_days) for that user) and C(rotor:owner) (free text, a column of every table). An invalid
    value is reported in C(policy_problems) for that user only; see docs/audit.md.
  - With O(accounts) (from C(rotor.iam.audit_accounts)) and the result of M(rotor.iam.access_key_info) looped over
    them, the audit spans several accounts - users are named C(ACCOUNT:NAME) and a host is matched with the user
    of its own connection's account.
  - Companion filters in this file render it - C(rotor.iam.audit_markdown), C(rotor.iam.audit_html) (a self-contained
    page with an SVG chart of key ages against the policy line) and C(rotor.iam.audit_json) - build and render in one
    pass (C(rotor.iam.audit_documents), what the role uses) and gather the hosts' facts (C(rotor.iam.audit_hosts)).
options:
  _input:
    description: The registered result of M(rotor.iam.access_key_info).
    type: dict
    required: true
  hosts:
    description: Per host name, C(user), C(reachable) and C(files) (C(path), C(access_key_id), C(exists), C(error)).
    type: dict
    default: {}
  max_age_days:
    description: Rotation policy; an Active key at least this old is due.
    type: int
    default: 90
  unused_days:
    description: An Active key not used for this many days (never-used keys count from creation) is reported as unused.
    type: int
    default: 90
  scope:
    description: What was audited, V(account) or V(inventory), recorded in the report.
    type: str
    default: account
  accounts:
    description:
      - What C(rotor.iam.audit_accounts) returned; then O(_input) is the registered result of M(rotor.iam.access_key_info)
        looped over it. With one account (or none given) O(_input) may be a single result.
    type: list
    elements: dict
  fail_list_max:
    description: With C(rotor.iam.audit_documents), how many due keys its C(due_message) names.
    type: int
    default: 20
"""

EXAMPLES = r"""
- name: Build the report
  ansible.builtin.set_fact:
    report: "{{ account_keys | rotor.iam.audit_report(hosts=groups['all'] | rotor.iam.audit_hosts(hostvars), max_age_days=90) }}"

- name: Write it as HTML
  ansible.builtin.copy:
    content: "{{ report | rotor.iam.audit_html }}"
    dest: /var/lib/rotor/audit.html
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The report; see docs/audit.md for its fields.
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.rotor.iam.plugins.module_utils.audit import AuditInputError
from ansible_collections.rotor.iam.plugins.module_utils.audit import DEFAULT_CHART_MAX_KEYS
from ansible_collections.rotor.iam.plugins.module_utils.audit import DEFAULT_MARKDOWN_MAX_ROWS
from ansible_collections.rotor.iam.plugins.module_utils.audit import FORMATS
from ansible_collections.rotor.iam.plugins.module_utils.audit import audit_accounts as _audit_accounts
from ansible_collections.rotor.iam.plugins.module_utils.audit import audit_connections as _audit_connections
from ansible_collections.rotor.iam.plugins.module_utils.audit import build_audit
from ansible_collections.rotor.iam.plugins.module_utils.audit import combine_accounts
from ansible_collections.rotor.iam.plugins.module_utils.audit import collect_hosts
from ansible_collections.rotor.iam.plugins.module_utils.audit import render_all
from ansible_collections.rotor.iam.plugins.module_utils.audit import render_html
from ansible_collections.rotor.iam.plugins.module_utils.audit import render_json
from ansible_collections.rotor.iam.plugins.module_utils.audit import render_markdown


def _guard(name, func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except AuditInputError as exc:
        raise AnsibleFilterError(f"rotor.iam.{name}: {exc}") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise AnsibleFilterError(f"rotor.iam.{name}: malformed input ({type(exc).__name__}: {exc})") from exc


def audit_hosts(host_names, hostvars):
    """``{host: record}`` for the hosts that ran the role's ``hosts`` entry point."""
    return _guard("audit_hosts", collect_hosts, hostvars, list(host_names))


def audit_connections(hosts, hostvars):
    """The distinct AWS connections (profile, region, endpoint_url; '' = not set) of the audited hosts."""
    return _guard("audit_connections", _audit_connections, hosts or {}, hostvars)


def audit_accounts(identities, hosts, hostvars):
    """Per account to audit: its account id, the connection to reach it, its users and hosts (see accounts.py)."""
    return _guard("audit_accounts", _audit_accounts, identities or [], hosts or {}, hostvars)


def audit_report(key_info, hosts=None, max_age_days=90, unused_days=90, scope="account", accounts=None):
    def build():
        info, records, spanned = combine_accounts(key_info, accounts, hosts)
        return build_audit(info, hosts=records, max_age_days=max_age_days, unused_days=unused_days, scope=scope, accounts=spanned)
    return _guard("audit_report", build)


def audit_documents(key_info, hosts=None, max_age_days=90, unused_days=90, scope="account",
                    chart_max_keys=DEFAULT_CHART_MAX_KEYS, markdown_max_rows=DEFAULT_MARKDOWN_MAX_ROWS, formats=FORMATS,
                    fail_list_max=20, accounts=None):
    """audit_report and its renderings in one pass: summary, policy, credential_report, user_tags,
    rotation_due (brief), policy_problems, host_findings, summary_text, due_message, messages and
    documents (one string per format: json, md, html)."""
    report = audit_report(key_info, hosts=hosts, max_age_days=max_age_days, unused_days=unused_days, scope=scope, accounts=accounts)
    return _guard(
        "audit_documents", render_all, report,
        chart_max_keys=int(chart_max_keys), markdown_max_rows=int(markdown_max_rows), formats=list(formats),
        fail_list_max=int(fail_list_max),
    )


def audit_json(report):
    return _guard("audit_json", render_json, report)


def audit_markdown(report, max_rows=DEFAULT_MARKDOWN_MAX_ROWS):
    return _guard("audit_markdown", render_markdown, report, max_rows=int(max_rows))


def audit_html(report, chart_max_keys=DEFAULT_CHART_MAX_KEYS):
    return _guard("audit_html", render_html, report, chart_max_keys=int(chart_max_keys))


class FilterModule:
    def filters(self):
        return {
            "audit_hosts": audit_hosts,
            "audit_connections": audit_connections,
            "audit_accounts": audit_accounts,
            "audit_report": audit_report,
            "audit_documents": audit_documents,
            "audit_json": audit_json,
            "audit_markdown": audit_markdown,
            "audit_html": audit_html,
        }
