# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rotation engine's three public filters: rotation_start, rotation_advance, rotation_report (which also renders the tables).

The work is in plugins/module_utils/_rotation/run.py (private); these only read the hosts' registers out of
hostvars, by the register names the caller gives, and turn a malformed input into one clear error.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.rotor.iam.plugins.module_utils._rotation import run as engine
from ansible_collections.rotor.iam.plugins.module_utils._rotation import tables
from ansible_collections.rotor.iam.plugins.module_utils._rotation.hosts import PHASES
from ansible_collections.rotor.iam.plugins.module_utils._rotation.hosts import host_states


def _guard(name, func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except (engine.RunError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise AnsibleFilterError(f"rotor.iam.{name}: malformed input ({exc})") from exc


def _key_ids(new_keys):
    """{user: key id} from {user: {access_key_id, ...}} (the secret is never read)."""
    return {user: (entry or {}).get("access_key_id") for user, entry in dict(new_keys or {}).items() if (entry or {}).get("access_key_id")}


def rotation_start(plans, run_id="", started="", started_epoch=0, check_mode=False, old_key_action="delete", new_keys=None):
    """The run record of a run that planned ``plans`` (see rotation_start.yml)."""
    def begin():
        return engine.start(dict(plans), run_id=str(run_id), started=str(started), started_epoch=float(started_epoch or 0),
                            check_mode=bool(check_mode), old_key_action=str(old_key_action), new_key_ids=_key_ids(new_keys))
    return _guard("rotation_start", begin)


def _observed_hosts(hostvars, hosts, play_hosts, host_refs, registers):
    unknown = sorted(set(registers) - set(PHASES))
    if unknown:
        raise engine.RunError(f"registers: unknown phases {', '.join(unknown)} (known: {', '.join(PHASES)})")
    return host_states(hostvars, list(hosts), dict(host_refs or {}), play_hosts=None if play_hosts is None else list(play_hosts),
                       registers=dict(registers))


def rotation_advance(run, event, hostvars=None, hosts=None, play_hosts=None, host_refs=None, registers=None, new_keys=None, **observations):
    """The run after ``event`` (see rotation_advance.yml): with ``hostvars``, ``hosts`` and ``registers``, the hosts' states
    are read from the registers so named and folded in first; ``new_keys`` gives key ids only."""
    def step():
        current = dict(run)
        if hostvars is not None and hosts is not None:
            current = engine.advance(current, "hosts", {"hosts": _observed_hosts(hostvars, hosts, play_hosts, host_refs, registers or {})})
        seen = dict(observations)
        if new_keys is not None:
            seen["new_key_ids"] = _key_ids(new_keys)
        return current if event == "hosts" else engine.advance(current, str(event), seen)
    return _guard("rotation_advance", step)


TABLES = ("plan", "progress")


def rotation_report(run, finished=None, now_epoch=None, compromised_not_found=None, table=None, hostvars=None, hosts=None, host_refs=None,
                    registers=None, switching=None):
    """{rotation, run, message, table} of the run record (see rotation_report.yml); with ``table``, the plan as a table
    (``plan``) or the distribution's progress line (``progress``, from the hosts' registers) instead."""
    if table is not None and table not in TABLES:
        raise AnsibleFilterError(f"rotor.iam.rotation_report: table={table!r} is not one of {', '.join(TABLES)}")

    def build():
        current = dict(run)
        if table == "plan":
            return tables.plan_table(current)
        if table == "progress":
            states = _observed_hosts(hostvars or {}, hosts or [], None, host_refs, registers or {})
            return tables.progress_line(current, states, now_epoch, None if switching is None else list(switching))
        result = engine.report(current, finished=finished, now_epoch=now_epoch, compromised_not_found=compromised_not_found)
        result["table"] = tables.summary_table(result, current)
        return result
    return _guard("rotation_report", build)


class FilterModule:
    def filters(self):
        return {"rotation_start": rotation_start, "rotation_advance": rotation_advance, "rotation_report": rotation_report}
