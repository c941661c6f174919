# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Does rotor.iam.quiet_gate's work in the action plugin on the controller, runs the module anywhere else."""

from __future__ import annotations

from ansible_collections.rotor.iam.plugins.modules import quiet_gate
from ansible_collections.rotor.iam.plugins.plugin_utils.controller_module import ControllerModuleAction


class ActionModule(ControllerModuleAction):
    module = quiet_gate
