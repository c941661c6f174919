# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The access key audit: the report model and its JSON, Markdown and HTML renderings.

The public face of ``plugins/module_utils/_audit/`` (used by the ``rotor.iam.audit_*`` filters and the
``rotor.iam.audit`` role):

* ``_audit/hosts.py``: each host's record, from what ``rotor.iam.credentials_file state=read`` registered;
* ``_audit/accounts.py``: many accounts - the hosts' AWS connections, the account each reaches, and users
  named ``ACCOUNT:NAME`` when the audit spans several;
* ``_audit/destinations.py``: the key id each secret destination (rotor.iam.secret_destination) holds;
* ``_audit/actions.py``: which users' key ids to look up, the Inactive keys to delete, each listed key's remediation;
* ``_audit/trend.py``: the trend against the previous report;
* ``_audit/model.py``: ``build_audit``, the report from access_key_info's result (keys from the credential
  report, users with their tags), the hosts' records and the default policy; every judgement is there;
* ``user_policy.py``: what the users' tags rotor:exempt, rotor:exempt-until, rotor:owner and
  rotor:max-age-days mean (shared with the rotation planner);
* ``_audit/json_report.py``, ``_audit/markdown_report.py``, ``_audit/html_report.py``: the renderers, and
  ``_audit/render.py``: all of them in one pass, for the role.
"""

from __future__ import annotations

from ansible_collections.rotor.iam.plugins.module_utils._audit.accounts import audit_accounts
from ansible_collections.rotor.iam.plugins.module_utils._audit.actions import merge_key_ids
from ansible_collections.rotor.iam.plugins.module_utils._audit.actions import users_needing_key_ids
from ansible_collections.rotor.iam.plugins.module_utils._audit.accounts import audit_connections
from ansible_collections.rotor.iam.plugins.module_utils._audit.accounts import combine_accounts
from ansible_collections.rotor.iam.plugins.module_utils._audit.cells import duration
from ansible_collections.rotor.iam.plugins.module_utils._audit.destinations import destination_records
from ansible_collections.rotor.iam.plugins.module_utils._audit.hosts import AuditInputError
from ansible_collections.rotor.iam.plugins.module_utils._audit.hosts import collect_hosts
from ansible_collections.rotor.iam.plugins.module_utils._audit.hosts import host_record
from ansible_collections.rotor.iam.plugins.module_utils._audit.html_report import DEFAULT_CHART_MAX_KEYS
from ansible_collections.rotor.iam.plugins.module_utils._audit.html_report import HISTOGRAM_BIN_DAYS
from ansible_collections.rotor.iam.plugins.module_utils._audit.html_report import age_chart_svg
from ansible_collections.rotor.iam.plugins.module_utils._audit.html_report import age_histogram_svg
from ansible_collections.rotor.iam.plugins.module_utils._audit.html_report import render_html
from ansible_collections.rotor.iam.plugins.module_utils._audit.json_report import render_json
from ansible_collections.rotor.iam.plugins.module_utils._audit.markdown_report import DEFAULT_MARKDOWN_MAX_ROWS
from ansible_collections.rotor.iam.plugins.module_utils._audit.markdown_report import render_markdown
from ansible_collections.rotor.iam.plugins.module_utils._audit.model import REPORT_FORMAT_VERSION
from ansible_collections.rotor.iam.plugins.module_utils._audit.model import build_audit
from ansible_collections.rotor.iam.plugins.module_utils._audit.render import FORMATS
from ansible_collections.rotor.iam.plugins.module_utils._audit.render import render_all

__all__ = [
    "AuditInputError",
    "DEFAULT_CHART_MAX_KEYS",
    "DEFAULT_MARKDOWN_MAX_ROWS",
    "FORMATS",
    "HISTOGRAM_BIN_DAYS",
    "REPORT_FORMAT_VERSION",
    "age_chart_svg",
    "age_histogram_svg",
    "audit_accounts",
    "audit_connections",
    "build_audit",
    "collect_hosts",
    "combine_accounts",
    "destination_records",
    "duration",
    "host_record",
    "merge_key_ids",
    "render_all",
    "render_html",
    "render_json",
    "render_markdown",
    "users_needing_key_ids",
]
