# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Runs rotor.iam.access_key_create in the worker process on the controller, as a module anywhere else."""

from __future__ import annotations

from ansible_collections.rotor.iam.plugins.plugin_utils.in_process import InProcessModuleAction


class ActionModule(InProcessModuleAction):
    pass
