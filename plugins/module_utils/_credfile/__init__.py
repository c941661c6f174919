# -*- coding: utf-8 -*-

# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""Host-side backend of rotor.iam.credentials_file and rotor.iam.host_credentials.

operations: one file, typed (check an entry, read, write, restore, remove backups); plans: what each of those
would do, then apply it; formats: the dispatch to one module per format (aws_credentials, env, json_file) over
common (inputs, errors, text helpers); safe_io: file I/O through directory descriptors; backups; owner_trust.
"""
