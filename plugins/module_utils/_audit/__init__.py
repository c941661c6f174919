# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""Backend of the audit: the hosts' records, the report model, and its JSON, Markdown and HTML renderers.

The public face is ``plugins/module_utils/audit.py`` (and the ``rotor.iam.audit_*`` filters).
"""
