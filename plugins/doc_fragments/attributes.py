# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Attributes of modules that change IAM or files (check and diff mode both fully supported).
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
"""

    # Attributes of read-only modules.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: This module only reads, so it runs normally in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: N/A
    details: This module never changes anything.
"""

    # The action group the AWS-calling modules belong to.
    ACTION_GROUP = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/rotor.iam.iam) or C(group/amazon.aws.aws) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - rotor.iam.iam
      - amazon.aws.aws
"""
