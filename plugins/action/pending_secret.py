# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Runs rotor.iam.pending_secret and marks a result that carries the secret ``no_log``.

A module cannot do that itself: ansible-core drops ``_ansible_*`` keys from module results, and
putting the secret in the module's ``no_log_values`` would mask it in the registered result too.
Marked here, the whole result is hidden from every output and callback, and ``register`` still
gets the secret.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        result.update(self._execute_module(module_name=self._task.resolved_action or self._task.action,
                                           module_args=self._task.args, task_vars=task_vars))
        if result.get("secret_access_key") is not None:
            result["_ansible_no_log"] = True
        return result
