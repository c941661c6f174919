# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rotation engine's three public filters: rotation_start, rotation_advance, rotation_report (which also renders the tables).

The work is in plugins/module_utils/_rotation/ (private: run.py, and plan_inputs.py for the plan); these only read the
hosts' registers out of hostvars, by the register names the caller gives, show the plan's warnings, and turn a
malformed input into one clear error that names the filter.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.rotor.iam.plugins.module_utils.caller_checks import caller_lines
from ansible_collections.rotor.iam.plugins.module_utils.rotation_settings import health_check_warnings
from ansible_collections.rotor.iam.plugins.module_utils._rotation import fleet as run_users
from ansible_collections.rotor.iam.plugins.module_utils._rotation import plan_step
from ansible_collections.rotor.iam.plugins.module_utils._rotation import preview
from ansible_collections.rotor.iam.plugins.module_utils._rotation import run as engine
from ansible_collections.rotor.iam.plugins.module_utils._rotation import tables
from ansible_collections.rotor.iam.plugins.module_utils._rotation.destinations import destinations_to_read
from ansible_collections.rotor.iam.plugins.module_utils._rotation.hosts import PHASES
from ansible_collections.rotor.iam.plugins.module_utils._rotation.hosts import ROLE_REGISTERS
from ansible_collections.rotor.iam.plugins.module_utils._rotation.hosts import host_states
from ansible_collections.rotor.iam.plugins.module_utils._rotation.hosts import registered_now
from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan_inputs import key_holder
from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan_inputs import rotation_plan


def _guard(name, func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except (engine.RunError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise AnsibleFilterError(f"rotor.iam.{name}: malformed input ({exc})") from exc


def _key_ids(new_keys):
    """{user: key id} from {user: {access_key_id, ...}} (the secret is never read)."""
    return {user: (entry or {}).get("access_key_id") for user, entry in dict(new_keys or {}).items() if (entry or {}).get("access_key_id")}


def _planned(key_infos, hostvars, play_hosts, users, locks, destination_reads, settings, check_mode, registers):
    """{user: plan} from what the plan phase registered, each plan with the hosts (and files) that hold its old key
    and its recovered new key (read back from there)."""
    settings = dict(settings or {})
    plans = rotation_plan(list(key_infos or []), hostvars=hostvars, play_hosts=list(play_hosts or []), users=users, locks=locks,
                          destination_reads=destination_reads, max_age_days=settings.get("max_age_days", 90),
                          force=bool(settings.get("force", False)), delete_inactive_after_days=settings.get("delete_inactive_after_days", 7),
                          in_use_window_minutes=settings.get("in_use_window_minutes", 60),
                          compromised_key_ids=settings.get("compromised_key_ids"), warn=Display().warning,
                          registers=registers)
    locked = set(plan_step.locked_users(locks, check_mode))
    for ref, plan in plans.items():
        plan["locked"] = ref in locked  # nothing is locked in check mode
        plan["old_key_holder"] = key_holder(hostvars, plan.get("hosts"), plan.get("old_key_id"), registers) if plan.get("old_key_id") else {}
        plan["new_key_holder"] = key_holder(hostvars, plan.get("new_key_holders"), plan.get("new_key_id"), registers) if plan.get("new_key_id") else {}
    return plans


def _health_check_warnings(plans, hostvars):
    hosts = {host for plan in dict(plans).values() for host in plan.get("hosts") or []}
    return health_check_warnings(plans, {host: hostvars[host].get("rotor_health_check") for host in hosts if host in hostvars})


# The rotate role's plan step, in order: each step reads what the role registered since the last one and leaves in
# the record's todo what the role reads next (docs/architecture.md, "The plan step").
START_STEPS = ("begin", "users", "callers", "plan")


def _begin(variables, run_id, check_mode, old_key_action, hostvars, play_hosts, inventory_hosts, destinations):
    settings, problems = plan_step.plan_settings(dict(variables))
    record = dict(plan_step.name_run(run_id), check_mode=bool(check_mode), old_key_action=str(old_key_action), settings=settings,
                  problems=problems, todo={"identify": []})
    if problems:
        return record
    found = run_users.connections(hostvars, list(play_hosts or []))
    if len(found) > 1:  # the account of each connection matters only when there are several
        record["todo"]["identify"] = found
        return record
    # One connection: no account to learn, the users step is taken at once (the role skips its own).
    record = _users(record, [], hostvars, play_hosts, inventory_hosts, destinations)
    record["todo"]["identify"] = []
    return record


def _users(record, identities, hostvars, play_hosts, inventory_hosts, destinations):
    fleet = run_users.fleet_users(hostvars, list(play_hosts or []), list(identities or []), list(inventory_hosts or []),
                                  destinations=destinations)
    return dict(record, fleet=fleet, todo={"check_callers": run_users.connection_users(fleet)})


_DESTINATION_READ = ("user", "type", "name", "access_key_id_field", "secret_access_key_field", "profile", "region", "endpoint_url",
                     "target")


def _callers(record, callers, destinations):
    problems = plan_step.unreachable_connections(callers)
    todo = {"read_destinations": [], "lock": []}
    if not problems:
        # What a read takes (the record is a fact: a destination's health-check URL, which may carry a password, stays out).
        reads = [{key: dest[key] for key in _DESTINATION_READ if key in dest} for dest in destinations_to_read(destinations, record["fleet"])]
        todo = {"read_destinations": reads, "lock": run_users.lockable_users(record["fleet"])}
    return dict(record, caller_lines=caller_lines(list(callers or [])), problems=problems, todo=todo)


def _plan(record, key_infos, hostvars, play_hosts, locks, destination_reads, registers):
    check_mode = bool(record["check_mode"])
    planned = _planned(key_infos, hostvars, play_hosts, record["fleet"], locks, destination_reads, record["settings"], check_mode,
                       registers)
    run = engine.start(planned, run_id=str(record["run_id"]), started=str(record["started"]), started_epoch=float(record["started_epoch"] or 0),
                       check_mode=check_mode, old_key_action=str(record["old_key_action"]),
                       compromised_not_found=plan_step.compromised_not_found(record["settings"].get("compromised_key_ids"), key_infos))
    run["fleet"] = dict(record["fleet"])
    run["lines"] = list(record.get("caller_lines") or []) + tables.plan_table(run) + _health_check_warnings(planned, hostvars)
    run["lock_notes"] = plan_step.lock_notes(locks)
    run["observed"] = _kept(hostvars, play_hosts, registers)  # the hosts' reads, for every later step
    return run


def rotation_start(plans, run_id="", started="", started_epoch=0, check_mode=False, old_key_action="delete", new_keys=None, step=None,
                   hostvars=None, play_hosts=None, inventory_hosts=None, destinations=None, identities=None, callers=None, key_infos=None,
                   locks=None, destination_reads=None, registers=None):
    """The run record of a run that planned ``plans`` (see rotation_start.yml).

    With ``step``, the rotate role's plan step, which makes the plan from what it registers, one step at a time:
    V(begin) (``plans`` is then the role's run-wide variables: the run's name, its settings checked, the connections to
    identify), V(users) (its IAM users from ``identities``, the connections to check), V(callers) (who acts, whether
    AWS answers, the destinations to read and the users to lock) and V(plan) (the plan from ``key_infos``, ``locks`` and
    ``destination_reads``, and the record started from it, the hosts' reads taken from the register ``registers`` names for
    V(read)); each takes the record the step before it returned."""
    def begin():
        if step is None:
            return engine.start(dict(plans), run_id=str(run_id), started=str(started), started_epoch=float(started_epoch or 0),
                                check_mode=bool(check_mode), old_key_action=str(old_key_action), new_key_ids=_key_ids(new_keys))
        if step not in START_STEPS:
            raise engine.RunError(f"step must be one of {', '.join(START_STEPS)}, not {step!r}")
        if step == "begin":
            return _begin(plans, run_id, check_mode, old_key_action, hostvars, play_hosts, inventory_hosts, destinations)
        record = dict(plans)
        if step == "users":
            return _users(record, identities, hostvars, play_hosts, inventory_hosts, destinations)
        if step == "callers":
            return _callers(record, callers, destinations)
        return _plan(record, key_infos, hostvars, play_hosts, locks, destination_reads, registers)
    return _guard("rotation_start", begin)


def _registers(registers):
    unknown = sorted(set(registers or {}) - set(PHASES))
    if unknown:
        raise engine.RunError(f"registers: unknown phases {', '.join(unknown)} (known: {', '.join(PHASES)})")
    return dict(registers or {})


def _kept(hostvars, hosts, registers, kept=None):
    """The run record's ``observed`` ({host: {phase: result}}) with what the hosts' registers ``registers`` names show now:
    a phase's result stays in the record once read, so the role can register every host step under one name."""
    kept = {host: dict(phases) for host, phases in dict(kept or {}).items()}
    for host in hosts or []:
        found = registered_now(hostvars[host], _registers(registers) or ROLE_REGISTERS)
        if found:
            kept[host] = dict(kept.get(host) or {}, **found)
    return kept


def _observed_hosts(hostvars, hosts, play_hosts, host_refs, registers, kept=None):
    return host_states(hostvars, list(hosts), dict(host_refs or {}), play_hosts=None if play_hosts is None else list(play_hosts),
                       registers=_registers(registers), kept=kept)


def rotation_advance(run, event, hostvars=None, hosts=None, play_hosts=None, host_refs=None, registers=None, new_keys=None, **observations):
    """The run after ``event`` (see rotation_advance.yml): with ``hostvars``, ``hosts`` and ``registers``, the hosts' states
    are read from the registers so named and folded in first; ``new_keys`` gives key ids only."""
    def step():
        current = dict(run)
        seen = dict(observations)
        if new_keys is not None:
            seen["new_key_ids"] = _key_ids(new_keys)
        if hostvars is not None and hosts is not None:
            observed = {"hosts": _observed_hosts(hostvars, hosts, play_hosts, host_refs, registers, current.get("observed"))}
            current["observed"] = _kept(hostvars, hosts, registers, current.get("observed"))
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
            states = _observed_hosts(hostvars or {}, hosts or [], None, host_refs, registers, current.get("observed"))
            return tables.progress_line(current, states, now_epoch, None if switching is None else list(switching))
        if table == "switches":
            return preview.planned_switches(current["plans"], hostvars or {}, list(hosts or []), host_refs, registers=registers or None,
                                            kept=current.get("observed"))
        if table == "cutover":
            return preview.planned_cutover(current["plans"], current["old_key_action"])
        result = engine.report(current, finished=finished, now_epoch=now_epoch, compromised_not_found=compromised_not_found)
        result["table"] = tables.summary_table(result, current)
        return result
    return _guard("rotation_report", build)


class FilterModule:
    def filters(self):
        return {"rotation_start": rotation_start, "rotation_advance": rotation_advance, "rotation_report": rotation_report}
