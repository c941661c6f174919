# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# Each filter is documented in plugins/filter/<name>.yml (ansible-doc -t filter rotor.iam.<name>).

from ansible.errors import AnsibleFilterError

from ansible_collections.rotor.iam.plugins.module_utils.rotation_settings import check_settings


def rotation_settings(settings):
    """The rotate role's run-wide variables checked: C(problems) (sentences) and C(compromised_key_ids) (a list)."""
    if not isinstance(settings, dict):
        raise AnsibleFilterError("rotor.iam.rotation_settings: expects a dictionary of the role's variables")
    return check_settings(settings)


class FilterModule:
    def filters(self):
        return {"rotation_settings": rotation_settings}
