# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rotation engine's three public filters: rotation_start, rotation_advance, rotation_report (which also renders the tables).

The work is in plugins/module_utils/_rotation/run.py (private); these only read the hosts' registers out of
hostvars, by the register names the caller gives, and turn a malformed input into one clear error.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.rotor.iam.plugins.filter.controller import caller_lines
from ansible_collections.rotor.iam.plugins.filter.controller import health_check_warnings
from ansible_collections.rotor.iam.plugins.filter.rotation import key_holder
from ansible_collections.rotor.iam.plugins.filter.rotation import rotation_plan
from ansible_collections.rotor.iam.plugins.module_utils._rotation import preview
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


def _planned(key_infos, hostvars, play_hosts, users, locks, destination_reads, settings, check_mode):
    """{user: plan} from what the plan phase registered, each plan with the hosts (and files) that hold its old key
    and its recovered new key (read back from there)."""
    settings = dict(settings or {})
    plans = rotation_plan(list(key_infos or []), hostvars=hostvars, play_hosts=list(play_hosts or []), users=users, locks=locks,
                          destination_reads=destination_reads, max_age_days=settings.get("max_age_days", 90),
                          force=bool(settings.get("force", False)), delete_inactive_after_days=settings.get("delete_inactive_after_days", 7),
                          in_use_window_minutes=settings.get("in_use_window_minutes", 60),
                          compromised_key_ids=settings.get("compromised_key_ids"))
    locked = set() if check_mode else {result.get("item") for result in locks or [] if not result.get("failed") and not result.get("skipped")}
    for ref, plan in plans.items():
        plan["locked"] = ref in locked  # nothing is locked in check mode
        plan["old_key_holder"] = key_holder(hostvars, plan.get("hosts"), plan.get("old_key_id")) if plan.get("old_key_id") else {}
        plan["new_key_holder"] = key_holder(hostvars, plan.get("new_key_holders"), plan.get("new_key_id")) if plan.get("new_key_id") else {}
    return plans


def rotation_start(plans, run_id="", started="", started_epoch=0, check_mode=False, old_key_action="delete", new_keys=None,
                   hostvars=None, play_hosts=None, users=None, locks=None, destination_reads=None, callers=None, settings=None):
    """The run record of a run that planned ``plans`` (see rotation_start.yml).

    With ``hostvars`` (the rotate role's plan phase), ``plans`` is instead the registered key listing
    (rotor.iam.access_key_info over the locked users) and the plan is made here from it, the hosts' registered reads
    (``hostvars``, ``play_hosts``), ``users`` (the run's IAM users), ``locks`` (the registered lock loop),
    ``destination_reads`` and ``settings`` ({max_age_days, force, delete_inactive_after_days, in_use_window_minutes,
    compromised_key_ids}); the record's ``lines`` are what the plan shows (``callers``: the registered caller checks), its
    ``fleet`` the ``users`` given, and each plan says whether this run holds the user's lock (``locked``, ``todo.locked``)."""
    def begin():
        if hostvars is None:
            planned = dict(plans)
        else:
            planned = _planned(plans, hostvars, play_hosts, users, locks, destination_reads, settings, check_mode)
        run = engine.start(planned, run_id=str(run_id), started=str(started), started_epoch=float(started_epoch or 0),
                           check_mode=bool(check_mode), old_key_action=str(old_key_action), new_key_ids=_key_ids(new_keys))
        if hostvars is not None:
            run["fleet"] = dict(users or {})
            run["lines"] = caller_lines(callers or []) + tables.plan_table(run) + health_check_warnings(planned, hostvars)
        return run
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
        seen = dict(observations)
        if new_keys is not None:
            seen["new_key_ids"] = _key_ids(new_keys)
        if hostvars is not None and hosts is not None:
            observed = {"hosts": _observed_hosts(hostvars, hosts, play_hosts, host_refs, registers or {})}
            current = engine.advance(current, "hosts", dict(seen, **observed) if event == "hosts" else observed)
            if event == "hosts":
                return current
        return engine.advance(current, str(event), seen)
    return _guard("rotation_advance", step)


TABLES = ("plan", "progress", "switches", "cutover")


def rotation_report(run, finished=None, now_epoch=None, compromised_not_found=None, table=None, hostvars=None, hosts=None, host_refs=None,
                    registers=None, switching=None):
    """{rotation, run, message, table} of the run record (see rotation_report.yml); with ``table``, the plan as a table
    (``plan``), the distribution's progress line (``progress``, from the hosts' registers), or what a check-mode run says
    each host (``switches``) and each due user's cutover (``cutover``) would do, instead."""
    if table is not None and table not in TABLES:
        raise AnsibleFilterError(f"rotor.iam.rotation_report: table={table!r} is not one of {', '.join(TABLES)}")

    def build():
        current = dict(run)
        if table == "plan":
            return tables.plan_table(current)
        if table == "progress":
            states = _observed_hosts(hostvars or {}, hosts or [], None, host_refs, registers or {})
            return tables.progress_line(current, states, now_epoch, None if switching is None else list(switching))
        if table == "switches":
            return preview.planned_switches(current["plans"], hostvars or {}, list(hosts or []), host_refs, registers=registers or None)
        if table == "cutover":
            return preview.planned_cutover(current["plans"], current["old_key_action"])
        result = engine.report(current, finished=finished, now_epoch=now_epoch, compromised_not_found=compromised_not_found)
        result["table"] = tables.summary_table(result, current)
        return result
    return _guard("rotation_report", build)


class FilterModule:
    def filters(self):
        return {"rotation_start": rotation_start, "rotation_advance": rotation_advance, "rotation_report": rotation_report}
