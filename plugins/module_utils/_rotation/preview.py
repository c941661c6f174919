# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private (rotor.iam's rotation engine): what a check-mode run says the hosts and the cutover would do.

Key ids, paths, restarts and checks only, never a secret (a health-check URL is shown redacted).
"""

from __future__ import annotations

from ansible_collections.rotor.iam.plugins.module_utils.health import redact_url
from ansible_collections.rotor.iam.plugins.module_utils.redact import shown_key_id
from ansible_collections.rotor.iam.plugins.module_utils._rotation.hosts import host_states


def _due(plans):
    return sorted(user for user, plan in dict(plans).items() if (plan or {}).get("due") and not (plan or {}).get("error"))


def planned_switches(plans, hostvars, hosts, host_refs=None, registers=None, kept=None):
    """One line per host of a due user: what its switch would write, restart and check (``kept``: the run record's
    results of earlier host steps, see hosts.host_states)."""
    lines = []
    due = set(_due(plans))
    for host, state in host_states(hostvars, hosts, host_refs, registers=registers, kept=kept).items():
        if state["user"] not in due:
            continue
        facts = hostvars[host]
        paths = ", ".join(str(f.get("path")) for f in facts.get("rotor_credentials_files") or [])
        line = (f"{host}: would write the new key of {facts.get('rotor_iam_user')} over "
                f"{', '.join(shown_key_id(k) for k in state['key_ids']) or '(no key)'} "
                f"in {paths}")
        if facts.get("rotor_restart_services"):
            line += f"; would restart {', '.join(facts['rotor_restart_services'])}"
        if facts.get("rotor_restart_command"):
            line += f"; would run {facts['rotor_restart_command']}"
        check = facts.get("rotor_health_check") or {}
        if isinstance(check, dict) and (check.get("url") or check.get("command")):
            # A URL may carry user:password@; show it the way the health check reports it.
            line += f"; would check {redact_url(check['url']) if check.get('url') else check.get('command')}"
        lines.append(line)
    return lines


def planned_cutover(plans, old_key_action="delete"):
    """One line per due user: the cutover (or staged rollout) that would follow, and the way back on a failure."""
    lines = []
    for user in _due(plans):
        plan = plans[user]
        old = plan.get("old_key_id")
        if plan.get("staged"):
            lines.append(f"{user}: staged rollout - would write the new key to {', '.join(plan.get('hosts') or [])} only and leave {old} "
                         f"Active for the {len(plan.get('hosts_outside_play') or [])} hosts outside this play")
            continue
        end = f"delete {old}" if old_key_action == "delete" else f"leave {old} Inactive"
        back = (f"; on any failure, restore the hosts from their backups, reactivate {old} and delete the new key"
                if not plan.get("old_key_disabled") else f"; {old} is disabled: no host is rolled back onto it")
        lines.append(f"{user}: would deactivate {old}, wait until AWS rejects it, health-check {', '.join(plan.get('hosts') or [])} "
                     f"again, then {end}{back}")
    return lines
