# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""The audit report as JSON: the model, whole, for machines (docs/audit.md lists its fields)."""

from __future__ import annotations

import json


def render_json(report):
    return json.dumps(report, indent=2, sort_keys=False) + "\n"
