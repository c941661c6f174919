# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Does rotor.iam.pending_secret's work (in the action plugin on the controller) and marks a result that carries the secret ``no_log``.

A module cannot do that itself: ansible-core drops ``_ansible_*`` keys from module results, and
putting the secret in the module's ``no_log_values`` would mask it in the registered result too.
Marked here, the whole result is hidden from every output and callback, and ``register`` still
gets the secret.
"""

from __future__ import annotations

from ansible_collections.rotor.iam.plugins.modules import pending_secret
from ansible_collections.rotor.iam.plugins.plugin_utils.controller_module import ControllerModuleAction


class ActionModule(ControllerModuleAction):
    module = pending_secret

    def postprocess(self, result):
        if result.get("secret_access_key") is not None:
            result["_ansible_no_log"] = True
        return result
