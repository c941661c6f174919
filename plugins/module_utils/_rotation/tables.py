# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private (rotor.iam's rotation engine): the run as an operator reads it, like a runbook.

Three renderings of the run record (run.py): the plan, one table printed once before anything changes; one
progress line per batch of the distribution; the summary, one table per user and per host at the end. Each
returns plain text (a list of lines, or one line) that the rotate role prints with ansible.builtin.debug.

Every table line starts and ends with ``|``, so that the YAML result format quotes every line alike and the
columns stay aligned (a quote inside a cell is escaped, which shifts its line by a character). An empty value is shown as
``-`` and an empty field of the run's line is left out. A value in a key-id slot is shown only if it is a key id
(redact.shown_key_id): a secret put where a key id should be is never printed.
"""

from __future__ import annotations

import math
import re

from ansible_collections.rotor.iam.plugins.module_utils.redact import shown_key_id

EMPTY = "-"
# Names listed in one cell before the rest are counted ("web1, web2, web3 and 997 more").
MAX_NAMES = 5
# A user with more hosts than this gets one summary row per distinct outcome instead of one row per host.
MAX_HOST_ROWS = 20
PLAN_HEADER = ("user", "account", "key", "age", "action and why", "hosts", "destinations", "on failure")
SUMMARY_HEADER = ("user", "host", "key before", "key after", "healthy", "what happened")
HEALTH = {"healthy": "yes", "failed": "NO", "unreachable": "unreachable"}


def cell(value):
    """One table cell: ``-`` for an empty value, one line, no column separator (``|`` becomes ``/``)."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    text = re.sub(r"\s+", " ", str(value)).strip()
    return text.replace("|", "/") or EMPTY


def render(header, rows):
    """A table as lines: ``| a | b |``, a separator under the header, columns padded to their widest cell."""
    table = [tuple(cell(v) for v in header)] + [tuple(cell(v) for v in row) for row in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    return [line(table[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(row) for row in table[1:]]


def names(values, limit=MAX_NAMES):
    """Up to ``limit`` names, then how many more: ``web1, web2, web3 and 997 more``."""
    values = [str(v) for v in values or []]
    if len(values) <= limit:
        return ", ".join(values)
    return f"{', '.join(values[:limit])} and {len(values) - limit} more"


def duration(seconds):
    """``42s``, ``3m05s``, ``2h10m``."""
    seconds = max(0, int(round(float(seconds))))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


# --------------------------------------------------------------------------- the plan


def _current_key(plan):
    """(key id, age in days) of the key the plan is about: the old key of a due user, else its Active key."""
    if plan.get("old_key_id"):
        return plan["old_key_id"], plan.get("old_key_age_days")
    active = [k for k in plan.get("keys") or [] if (k or {}).get("status") == "Active"]
    if active:
        return active[0].get("access_key_id"), active[0].get("age_days")
    return None, None


def _old_key_fate(plan, old_key_action):
    behind = sorted(set(plan.get("hosts_outside_play") or []) | set(plan.get("hosts_unreachable") or []))
    if plan.get("compromised_key_id") and plan.get("compromised_key_id") == plan.get("old_key_id") and behind:
        # Incident response deactivates the leaked key whatever the hosts, even in a staged run; it goes once none holds it.
        return f"deactivated now, and deleted once every host holds the new key (still on it: {names(behind)})"
    if plan.get("staged"):
        return "kept Active (staged rollout)"
    return "deleted" if old_key_action == "delete" else "deactivated"


def plan_action(plan, old_key_action="delete"):
    """What the run will do with one user and why, in the words of the plan (``ROTATE - ...``, ``skip - ...``)."""
    if plan.get("error"):
        what = f"CANNOT ROTATE - {plan['error']}"
    elif plan.get("due"):
        what = (("INCIDENT - " if plan.get("compromised_key_id") else "ROTATE - ") + f"{plan.get('reason')}; old key "
                f"{shown_key_id(plan.get('old_key_id'))} will be {_old_key_fate(plan, old_key_action)}")
        if plan.get("free_slot_key_id"):
            what += f"; key {shown_key_id(plan['free_slot_key_id'])} is deleted first to free the slot"
    else:
        what = ("EXEMPT - " if plan.get("exempt") else "skip - ") + str(plan.get("reason") or "")
    if plan.get("stale_inactive_key_ids"):
        what += f"; stale Inactive keys to delete: {', '.join(shown_key_id(k) for k in plan['stale_inactive_key_ids'])}"
    if plan.get("notes"):
        what += "; " + "; ".join(str(note) for note in plan["notes"])
    return what


def on_failure(plan):
    """What happens to one user's hosts and keys when its rotation fails."""
    if plan.get("error") or not plan.get("due"):
        return None
    if plan.get("compromised_key_id"):
        return "hosts stay on the new key, the leaked key is never reactivated"
    return "roll back: hosts restored from their backups, old key Active, new key deleted"


def plan_rows(run):
    """One row per user of the run record's plan (PLAN_HEADER)."""
    rows = []
    for user, plan in sorted(dict(run.get("plans") or {}).items()):
        key_id, age = _current_key(plan)
        who = f"{user} (owner: {plan['owner']})" if plan.get("owner") else user
        destinations = [f"{label} (on {shown_key_id(key) or 'no key'})" for label, key in dict(plan.get("destinations") or {}).items()]
        rows.append((who, plan.get("account"), shown_key_id(key_id), None if age is None else f"{age} d",
                     plan_action(plan, run.get("old_key_action", "delete")), names(plan.get("hosts")), names(destinations, 2),
                     on_failure(plan)))
    return rows


def plan_table(run):
    """The plan, one table printed once before anything changes (lines)."""
    return render(PLAN_HEADER, plan_rows(run))


# --------------------------------------------------------------------------- the progress of the distribution


def progress_line(run, states, now_epoch, switching=None):
    """One line after a batch: hosts of the users being rotated on the new key out of all of them, failures,
    elapsed time and an estimate of the time left.

    ``states``: {host: host state} (hosts.py) of the play's hosts; ``switching``: the users whose hosts may still
    switch (None: every user due), the others were stopped by a failure."""
    plans = dict(run.get("plans") or {})
    due = sorted(user for user, plan in plans.items() if plan.get("due") and not plan.get("error"))
    if not due:
        return "Progress: no IAM user is due, no host switches"
    own = {host: state for host, state in dict(states).items() if state.get("user") in due}
    done = sorted(h for h, s in own.items() if s.get("state") != "untouched")
    failed = sorted(h for h, s in own.items() if s.get("state") == "failed")
    unreachable = sorted(h for h, s in own.items() if s.get("state") == "unreachable")
    verb = "checked (check mode)" if run.get("check_mode") else "on the new key"
    parts = [f"Progress: {len(done) - len(failed) - len(unreachable)} of {len(own)} hosts {verb}"]
    parts.append(f"{len(failed)} failed" + (f" ({names(failed)})" if failed else ""))
    if unreachable:
        parts.append(f"{len(unreachable)} unreachable ({names(unreachable)})")
    elapsed = float(now_epoch or 0) - float(run.get("started_epoch") or 0)
    timing = f"{duration(elapsed)} elapsed"
    stopped = sorted(set(due) - set(switching)) if switching is not None else []
    if stopped:
        timing += f"; stopped for {names(stopped)} after a failure: their other hosts keep the old key"
    elif 0 < len(done) < len(own):
        timing += f", about {duration(math.ceil(elapsed * (len(own) - len(done)) / len(done)))} left"
    return "; ".join(parts) + "; " + timing


# --------------------------------------------------------------------------- the summary


def _user_row(user, entry):
    action = entry.get("action")
    if action == "cutover":
        after, what = entry.get("new_access_key_id"), f"rotated; old key {entry.get('old_key')}"
    elif action == "staged":
        after, what = entry.get("new_access_key_id"), "staged; old key stays Active"
    elif action == "planned":
        after, what = None, "would rotate (check mode, nothing changed)"
    else:
        after, what = entry.get("old_access_key_id"), action
    message = entry.get("error") or entry.get("message")
    if message:
        what = f"{what}: {message}"
    return (user, "(IAM)", shown_key_id(entry.get("old_access_key_id")), shown_key_id(after), None, what)


def _host_cells(entry, state, move, check_mode):
    """(key before, key after, healthy, what happened) of one host."""
    before = (move or {}).get("held") or shown_key_id((state.get("key_ids") or [None])[0])
    failure = state.get("failure") or {}
    why = f"{failure.get('check')}: {failure.get('msg')}" if failure else ""
    if state.get("restore_failure"):
        return before, "unknown", "NO", f"NOT put back on the old key: {state['restore_failure']}" + (f" (after {why})" if why else "")
    if state.get("restored"):
        return before, before, "yes", "put back on the old key" + (f" after {why}" if why else "")
    if (move or {}).get("moved_to"):
        healthy = HEALTH.get(state.get("state"), EMPTY)
        what = "moved to the new key" + (f", then {why}" if why else "")
        return before, move["moved_to"], healthy, what
    if state.get("state") == "untouched" or not state:
        if check_mode and entry.get("action") == "planned":
            return before, None, None, "would move to the new key"
        return before, before, None, "not touched"
    return before, "unknown" if state.get("wrote") else before, HEALTH.get(state.get("state"), EMPTY), why or state.get("state")


def summary_rows(report, run):
    """Rows of the summary (SUMMARY_HEADER): per user, its keys and outcome, then one row per host (one per
    distinct outcome when the user has more than MAX_HOST_ROWS hosts)."""
    rows = []
    hosts = dict(run.get("hosts") or {})
    for user, entry in sorted(dict(report.get("rotation") or {}).items()):
        rows.append(_user_row(user, entry))
        per_host = []
        for host in entry.get("hosts") or []:
            per_host.append((host,) + _host_cells(entry, hosts.get(host) or {}, (entry.get("host_moves") or {}).get(host),
                                                  run.get("check_mode")))
        if len(per_host) > MAX_HOST_ROWS:
            grouped = {}
            for host, *cells in per_host:
                grouped.setdefault(tuple(cells), []).append(host)
            per_host = [(names(group),) + cells for cells, group in grouped.items()]
        rows += [(user,) + row for row in per_host]
        for host in entry.get("hosts_outside_play") or []:
            rows.append((user, host, None, None, None, "outside this play: keeps its key"))
    return rows


def run_line(report):
    """The run in one line, empty fields left out."""
    run = dict(report.get("run") or {})
    parts = [f"Run {run['run_id']}" if run.get("run_id") else "Run"]
    if run.get("check_mode"):
        parts.append("check mode, nothing changed")
    for field, label in (("users_rotated", "rotated"), ("users_staged", "staged"), ("users_failed", "failed"),
                         ("users_skipped", "not due"), ("users_exempt", "exempt")):
        if run.get(field):
            parts.append(f"{label}: {names(run[field], 5)}")
    if run.get("hosts_switched"):
        parts.append(f"{len(run['hosts_switched'])} hosts switched")
    if run.get("compromised_keys_not_found"):
        parts.append(f"leaked keys of no user here: {', '.join(shown_key_id(k) for k in run['compromised_keys_not_found'])}")
    if run.get("duration_seconds") is not None:
        parts.append(f"took {duration(run['duration_seconds'])}")
    return "; ".join(parts)


def summary_table(report, run):
    """The summary, printed once at the end: the run's line, then one table per user and per host (lines)."""
    return [run_line(report)] + render(SUMMARY_HEADER, summary_rows(report, run))
