# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private: the rotation engine of the rotor.iam.rotate role (plan, host states, outcome, workflow rules, run record).

Not a public API: names here may change in any release. Only the filters in plugins/filter/ are public.
"""
