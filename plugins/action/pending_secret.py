# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Runs rotor.iam.pending_secret (in the worker process on the controller) and marks a result that carries the secret ``no_log``.

A module cannot do that itself: ansible-core drops ``_ansible_*`` keys from module results, and
putting the secret in the module's ``no_log_values`` would mask it in the registered result too.
Marked here, the whole result is hidden from every output and callback, and ``register`` still
gets the secret.
"""

from __future__ import annotations

from ansible_collections.rotor.iam.plugins.plugin_utils.in_process import InProcessModuleAction


class ActionModule(InProcessModuleAction):

    def postprocess(self, result):
        if result.get("secret_access_key") is not None:
            result["_ansible_no_log"] = True
        return result
