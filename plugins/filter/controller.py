# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# Each filter is documented in plugins/filter/<name>.yml (ansible-doc -t filter rotor.iam.<name>).

from ansible.errors import AnsibleFilterError

from ansible_collections.rotor.iam.plugins.module_utils.caller_checks import ROTATION_ACTIONS
from ansible_collections.rotor.iam.plugins.module_utils.caller_checks import caller_lines as _caller_lines
from ansible_collections.rotor.iam.plugins.module_utils.rotation_settings import check_settings
from ansible_collections.rotor.iam.plugins.module_utils.rotation_settings import health_check_warnings as _health_check_warnings


def rotation_settings(settings):
    """The rotate role's run-wide variables checked: C(problems) (sentences) and C(compromised_key_ids) (a list)."""
    if not isinstance(settings, dict):
        raise AnsibleFilterError("rotor.iam.rotation_settings: expects a dictionary of the role's variables")
    return check_settings(settings)


def connection_users(fleet):
    """Per AWS connection of C(rotor.iam.fleet_users), the IAM users reached through it and the actions a rotation
    may call on them: C([{profile, region, endpoint_url, user_names, actions, target}]) (C(target): the connection as
    rotor.iam.caller_identity's O(iam_user) takes it)."""
    try:
        found = {}
        for entry in dict(fleet.get("users") or {}).values():
            connection = dict(entry["connection"])
            work = found.setdefault(tuple(sorted(connection.items())), dict(connection, user_names=[], actions=list(ROTATION_ACTIONS),
                                                                            target=connection))
            if entry["user_name"] not in work["user_names"]:
                work["user_names"].append(entry["user_name"])
        return [found[key] for key in sorted(found)]
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError(f"rotor.iam.connection_users: malformed input ({exc})") from exc


def caller_lines(results):
    """The plan's first lines: who acts on each AWS connection, its credentials' source, warnings, permissions."""
    try:
        return _caller_lines(list(results or []))
    except (TypeError, AttributeError) as exc:
        raise AnsibleFilterError(f"rotor.iam.caller_lines: malformed input ({exc})") from exc


def unreachable_connections(results):
    """The messages (unique, in order) of rotor.iam.caller_identity results that failed to reach AWS at all."""
    try:
        messages = [r.get("msg") for r in results or [] if isinstance(r, dict) and r.get("error_code") == "ConnectionError"]
        return list(dict.fromkeys(str(m) for m in messages))
    except (TypeError, AttributeError) as exc:
        raise AnsibleFilterError(f"rotor.iam.unreachable_connections: malformed input ({exc})") from exc


def health_check_warnings(plans, hostvars):
    """A warning per user due for rotation whose hosts have no rotor_health_check (AWS's acceptance is all that is checked)."""
    try:
        hosts = {host for plan in dict(plans).values() for host in plan.get("hosts") or []}
        return _health_check_warnings(plans, {host: hostvars[host].get("rotor_health_check") for host in hosts if host in hostvars})
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError(f"rotor.iam.health_check_warnings: malformed input ({exc})") from exc


class FilterModule:
    def filters(self):
        # caller_lines and health_check_warnings are plain functions of the engine (the plan's lines, rotation_start).
        return {"rotation_settings": rotation_settings, "connection_users": connection_users, "unreachable_connections": unreachable_connections}
