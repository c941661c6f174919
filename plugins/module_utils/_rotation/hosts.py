# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private (rotor.iam's rotation engine): where each host of a rotation stands, read from what the role's host tasks registered.

The role runs one rotor.iam.host_credentials task per host and phase and registers its result; it sets no
per-host facts of its own. This module turns those results into one structure per host, the input of
rotation_plan.rotation_outcome (the function that decides, after each phase, what happens to each user):

    {
      "user": str,             # the host's IAM user as the run names it (account:user across accounts)
      "reachable": bool,       # its files could be read at plan time
      "key_ids": [str],        # distinct key ids its files held at plan time
      "file_key_ids": [str],   # aligned with rotor_credentials_files ('' = no key)
      "state": str,            # untouched | healthy | failed | unreachable
      "wrote": bool,           # it may hold the new key (written by this run, or already there)
      "backups": [str],        # per file, the backup the switch made ('' = none)
      "moved_at": str|None,    # when its files got the new key
      "failure": {check, msg}, # the first thing that failed on it, {} when nothing did
      "restored": bool,        # put back on the old key by a rollback
      "restore_failure": str,  # why a rollback could not put it back ('' when it could or was not tried)
      "file": dict,            # its first credentials file (where a key proof reads a backup), {} when it has none
    }

Registered results, by phase (the caller names the register of each, ``registers``: {phase: name}): read (state=read,
at plan time), switch (state=switched), recheck (state=checked, once the old key is proven disabled), drain_check
(state=checked, after the drain), settle (state=restored on rollback, backups_absent on cutover). The rotate role
registers the switch as ``__rotor_switch`` and every other step as ``__rotor_host_step``, naming its phase at the next
step; the run record keeps what each phase showed (``kept_result``, the record's ``observed``), which ``host_states``
reads for the phases not named this time. A task that did not run for a host registers ``skipped``; a host never in a
phase's batch has no result.

A finish job (rotor.iam.rotate_finish) did not switch the hosts itself: separate distribute jobs did. It registers
``__rotor_observed`` (state=checked) for each host whose plan-time read shows the run's new key, and that counts
as the host's switch: it wrote the new key (its backups are found by key id), healthy or not as the check says,
and failed when its files hold different keys (a switch stopped between two files).
"""

from __future__ import annotations

from ansible_collections.rotor.iam.plugins.module_utils.health import redact_url

READ, SWITCH, RECHECK, DRAIN_CHECK, SETTLE, OBSERVED = "read", "switch", "recheck", "drain_check", "settle", "observed"
PHASES = (READ, SWITCH, RECHECK, DRAIN_CHECK, SETTLE, OBSERVED)
# The register names read when a caller names none (unit tests, tables called without ``registers``); the rotate role
# always names its own (roles/rotate/vars/main.yml).
ROLE_REGISTERS = {READ: "__rotor_read", SWITCH: "__rotor_switch", RECHECK: "__rotor_recheck", DRAIN_CHECK: "__rotor_drain_check",
                  SETTLE: "__rotor_settle", OBSERVED: "__rotor_observed"}

# What each later check is called in failure messages.
CHECK_NAMES = {
    RECHECK: "health check after deactivating the old key",
    DRAIN_CHECK: "health check after the drain of the old key",
}


def _ran(result):
    """The registered result of a task that ran for the host, else None."""
    if not isinstance(result, dict) or not result or result.get("skipped"):
        return None
    return result


def _failure(result, default_check):
    failure = result.get("failure") if isinstance(result.get("failure"), dict) else None
    if failure:
        return {"check": str(failure.get("check") or default_check), "msg": str(failure.get("msg") or result.get("msg") or "failed")}
    return {"check": default_check, "msg": str(result.get("msg") or "failed")}


def _unreachable(result):
    detail = str(result.get("msg") or "").strip()
    return {"check": "reachability", "msg": "host became unreachable" + (f" ({detail})" if detail else "")}


def _describe_check(facts):
    check = facts.get("rotor_health_check")
    if not isinstance(check, dict):
        return ""
    # A URL may carry user:password@; name it the way the health check reports it.
    what = redact_url(check["url"]) if check.get("url") else check.get("command") or ""
    return f" ({what})" if what else ""


def _settled_as(result):
    """Whether a settle result restored the host or removed its backups (the state the task asked for)."""
    asked = ((result.get("invocation") or {}).get("module_args") or {}).get("state")
    if asked:
        return asked
    return "restored" if "restored" in result or result.get("step") == "restore" else "backups_absent"


def _registered(facts, registers, phase):
    name = (registers or ROLE_REGISTERS).get(phase)
    return facts.get(name) if name else None


def host_read(facts, registers=None):
    """What the plan-time read of a host says: {reachable, key_ids, file_key_ids}.

    ``registers``: {phase: register name} (phases: read, switch, recheck, drain_check, settle, observed)."""
    result = _ran(_registered(facts, registers, READ))
    if result is None or result.get("unreachable") or result.get("failed"):
        # Why the key it holds is unknown: not reached, its read failed, or it failed before the read (its input).
        why = "unreachable" if (result or {}).get("unreachable") else "failed" if result is not None else "not_read"
        return {"reachable": False, "key_ids": [], "file_key_ids": [], "unread": why}
    file_key_ids = [str(k or "") for k in result.get("file_key_ids") or []]
    key_ids = [str(k) for k in result.get("key_ids") or [k for k in file_key_ids if k]]
    return {"reachable": True, "key_ids": list(dict.fromkeys(key_ids)), "file_key_ids": file_key_ids}


def _first_file(facts):
    files = facts.get("rotor_credentials_files")
    return dict(files[0]) if isinstance(files, list) and files and isinstance(files[0], dict) else {}


def host_state(facts, user=None, in_play=True, registers=None):
    """Where one host stands after the phases so far (see the module docstring for the structure).

    ``in_play``: the host is still in the play; a host that left it after being touched counts as unreachable.
    """
    facts = facts or {}
    state = dict(host_read(facts, registers), user=user if user is not None else facts.get("rotor_iam_user"), state="untouched", wrote=False,
                 backups=[], moved_at=None, failure={}, restored=False, restore_failure="", file=_first_file(facts))
    switch = _ran(_registered(facts, registers, SWITCH))
    if switch is not None:
        files = switch.get("files") or []
        state["backups"] = [str((f or {}).get("backup_file") or "") for f in files]
        state["moved_at"] = switch.get("switched_at")
        if switch.get("unreachable"):
            # Nothing came back: the files may or may not hold the new key now.
            state.update(state="unreachable", wrote=bool(switch.get("wrote")), failure=_unreachable(switch))
        elif switch.get("failed"):
            state.update(state="failed", wrote=bool(switch.get("wrote")), failure=_failure(switch, "switching to the new key"))
        else:
            state.update(state="healthy", wrote=bool(switch.get("wrote")))
    observed = _ran(_registered(facts, registers, OBSERVED)) if switch is None else None
    if observed is not None:
        state["wrote"] = True
        if observed.get("unreachable"):
            state.update(state="unreachable", failure=_unreachable(observed))
        elif len(state["key_ids"]) > 1 or (state["key_ids"] and "" in state["file_key_ids"]):
            held = ", ".join(k or "(no key)" for k in state["file_key_ids"])
            state.update(state="failed", failure={"check": "switching to the new key",
                                                  "msg": f"its files hold different keys ({held}): its switch did not finish"})
        elif observed.get("failed"):
            state.update(state="failed", failure=_failure(observed, "health check on the new key" + _describe_check(facts)))
        else:
            state["state"] = "healthy"
    for register in (RECHECK, DRAIN_CHECK):
        check = _ran(_registered(facts, registers, register))
        if check is None or state["state"] != "healthy":
            continue
        if check.get("unreachable"):
            state.update(state="unreachable", failure=_unreachable(check))
        elif check.get("failed"):
            failure = _failure(check, CHECK_NAMES[register] + _describe_check(facts))
            # The check is named once: by the host's message when it names it (the health module's does).
            described = _describe_check(facts)
            failure["check"] = CHECK_NAMES[register] + ("" if described[2:-1] and described[2:-1] in failure["msg"] else described)
            state.update(state="failed", failure=failure)
    settle = _ran(_registered(facts, registers, SETTLE))
    if settle is not None and _settled_as(settle) == "restored":
        state["restored"] = bool(settle.get("restored"))
        if settle.get("failed") or settle.get("unreachable"):
            failure = _failure(settle, "restore")
            state["restore_failure"] = f"{failure['check']}: {failure['msg']}"
    if not in_play and state["state"] != "untouched" and state["state"] != "unreachable":
        state.update(state="unreachable", failure=state["failure"] or {"check": "reachability", "msg": "host became unreachable"})
    return state


# What host_state reads of a host's own variables.
HOST_VARIABLES = ("rotor_iam_user", "rotor_credentials_files", "rotor_health_check")
# What the run record keeps of each phase's result (run["observed"]): what host_state reads, never a module's arguments.
KEPT_FIELDS = ("skipped", "failed", "unreachable", "msg", "failure", "file_key_ids", "key_ids", "switched_at", "wrote", "restored", "step")
_ABSENT = object()


def kept_result(result):
    """The part of a registered host result the run record keeps (see KEPT_FIELDS); the state a settle asked for stays."""
    if not isinstance(result, dict):
        return result
    kept = {key: result[key] for key in KEPT_FIELDS if key in result}
    if isinstance(result.get("files"), list):
        kept["files"] = [{"backup_file": f.get("backup_file")} if isinstance(f, dict) else {} for f in result["files"]]
    asked = ((result.get("invocation") or {}).get("module_args") or {}).get("state") if isinstance(result.get("invocation"), dict) else None
    if asked:
        kept["invocation"] = {"module_args": {"state": asked}}
    return kept


def registered_now(facts, registers):
    """{phase: kept result} of the registers ``registers`` ({phase: name}) names that the host has."""
    found = {}
    for phase, name in dict(registers or {}).items():
        value = facts.get(name, _ABSENT) if name else _ABSENT
        if value is not _ABSENT:
            found[phase] = kept_result(value)
    return found


def host_states(hostvars, hosts, host_refs=None, play_hosts=None, registers=None, kept=None):
    """{host: host_state} for ``hosts``; ``play_hosts`` (when given) are the hosts still in the play.

    Each phase's result is the host's register ``registers`` names for it ({phase: name}) when the host has one, else
    what an earlier step kept (``kept``: {host: {phase: kept result}}, the run record's "observed")."""
    in_play = None if play_hosts is None else set(play_hosts)
    refs = host_refs or {}
    registers = dict(registers or ROLE_REGISTERS)
    phases = {phase: phase for phase in PHASES}
    states = {}
    for host in hosts:
        facts = hostvars[host]
        view = {name: facts.get(name) for name in HOST_VARIABLES}
        view.update(dict((kept or {}).get(host) or {}))
        view.update(registered_now(facts, registers))
        states[host] = host_state(view, user=refs.get(host, facts.get("rotor_iam_user")), in_play=in_play is None or host in in_play,
                                  registers=phases)
    return states
