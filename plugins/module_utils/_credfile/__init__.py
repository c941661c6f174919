# -*- coding: utf-8 -*-

# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""Host-side backend of rotor.iam.credentials_file: formats, safe file I/O, backups and plans."""
