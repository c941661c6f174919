# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The rotate role's run-wide variables, checked before anything changes.

``meta/argument_specs.yml`` checks types and choices, but it cannot bound a number, it leaves the variables
as they were given (a comma separated string stays a string), and the playbook reads some of them
(``rotor_batch_size`` for ``serial``) before any role runs. :func:`check_settings` does the rest, once, in
the plan: every problem named with the variable and what to do; a value that may be a secret (a leaked
key's secret pasted where its id should be) is never quoted.
"""

from __future__ import annotations

import re

ACCESS_KEY_ID_RE = re.compile(r"^A[KS]IA[A-Z0-9]{16}$")
_SEPARATORS = re.compile(r"[\s,]+")
_PERCENT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_INTEGER_RE = re.compile(r"^\s*\d+\s*$")

# variable: (lowest, highest, unit). The highest values are generous; they stop typos (a billion minutes).
BOUNDS = {
    "rotor_max_key_age_days": (1, 36500, "days"),
    "rotor_delete_inactive_after_days": (0, 36500, "days"),
    "rotor_verify_timeout": (1, 3600, "seconds"),
    "rotor_in_use_window_minutes": (0, 525600, "minutes"),
    "rotor_drain_seconds": (0, 604800, "seconds"),
    # A lease never claims more than 7 days (rotation_journal.LEASE_MAX_SECONDS).
    "rotor_lock_ttl_minutes": (1, 10080, "minutes"),
    "rotor_lock_settle_seconds": (0, 300, "seconds"),
}


def _describe(value):
    """What a refused value is, without quoting it (it may be a secret)."""
    if isinstance(value, str):
        return f"a text of {len(value)} characters"
    return f"a {type(value).__name__}"


def split_key_ids(value):
    """The entries of a list of key ids or of a comma/space separated text, stripped, blanks dropped, unchecked."""
    if isinstance(value, str):
        entries = _SEPARATORS.split(value)
    elif isinstance(value, (list, tuple)):
        entries = [part for item in value for part in (_SEPARATORS.split(item) if isinstance(item, str) else [str(item)])]
    else:
        entries = []
    return [entry for entry in entries if entry]


def key_id_list(value):
    """``(ids, problems)`` from a list of key ids or a comma/space separated string (an AWX survey's text).

    Blank entries are dropped, duplicates kept once in order. An entry that is not an access key id is
    counted, never quoted: it may be the key's secret.
    """
    if value is None or value == "":
        return [], []
    if isinstance(value, str):
        entries = _SEPARATORS.split(value)
    elif isinstance(value, (list, tuple)):
        entries = []
        for item in value:
            entries.extend(_SEPARATORS.split(item) if isinstance(item, str) else [item])
    else:
        return [], [f"rotor_compromised_key_ids must be a list of access key ids or a comma or space separated text of them; "
                    f"got {_describe(value)}. Nothing was changed."]
    ids, bad = [], []
    for position, entry in enumerate((e for e in entries if e not in (None, "")), start=1):
        if isinstance(entry, str) and ACCESS_KEY_ID_RE.match(entry):
            if entry not in ids:
                ids.append(entry)
        else:
            bad.append(f"entry {position} ({_describe(entry)})")
    problems = []
    if bad:
        problems.append(
            f"rotor_compromised_key_ids: {', '.join(bad)} is not an access key id (AKIA or ASIA and 16 upper-case letters or "
            f"digits); the value is not shown, as it may be a secret. Give the leaked key's id (never its secret). Nothing "
            f"was changed.")
    return ids, problems


def batch_size_problem(value):
    """Why ``rotor_batch_size`` cannot be the plays' ``serial``, or None: a whole number of hosts (at least 1),
    a percentage (above 0 and at most 100), or a list of those (a growing rollout)."""
    values = value if isinstance(value, list) and value else [value]
    for item in values:
        if isinstance(item, bool):
            break
        if isinstance(item, int) and item >= 1:
            continue
        if isinstance(item, str) and _INTEGER_RE.match(item) and int(item) >= 1:
            continue
        match = _PERCENT_RE.match(item) if isinstance(item, str) else None
        if match and 0 < float(match.group(1)) <= 100:
            continue
        break
    else:
        return None
    shown = repr(value) if isinstance(value, (int, list)) or (isinstance(value, str) and len(value) <= 20) else _describe(value)
    return (f"rotor_batch_size must be a whole number of hosts (at least 1), a percentage such as '25%', or a list of "
            f"those; got {shown}. Nothing was changed.")


def _number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            return None
    return None


def check_settings(settings):
    """Check the run-wide variables in ``settings`` ({name: value}; missing names are not checked).

    Returns ``{"problems": [sentences], "compromised_key_ids": [ids]}``.
    """
    problems = []
    ids, id_problems = key_id_list(settings.get("rotor_compromised_key_ids"))
    problems.extend(id_problems)
    if "rotor_batch_size" in settings:
        problem = batch_size_problem(settings["rotor_batch_size"])
        if problem:
            problems.append(problem)
    for name, (lowest, highest, unit) in BOUNDS.items():
        if name not in settings:
            continue
        number = _number(settings[name])
        if number is None or not lowest <= number <= highest:
            shown = repr(settings[name]) if number is not None else _describe(settings[name])
            problems.append(f"{name} must be a number of {unit} from {lowest} to {highest}; got {shown}. Nothing was changed.")
    return {"problems": problems, "compromised_key_ids": ids}


def has_health_check(health_check):
    """Whether a host's ``rotor_health_check`` checks anything (a URL or a command)."""
    return isinstance(health_check, dict) and bool(health_check.get("url") or health_check.get("command"))


def health_check_warnings(plans, health_checks):
    """A warning per user due for rotation whose hosts (some or all) have no health check.

    ``health_checks``: {host: its rotor_health_check}. Without one, "healthy" means only that AWS accepts the key.
    """
    warnings = []
    for user, plan in sorted(dict(plans).items()):
        if not plan.get("due") or plan.get("error"):
            continue
        unchecked = sorted(h for h in plan.get("hosts") or [] if not has_health_check(health_checks.get(h)))
        if unchecked:
            which = "its hosts have" if len(unchecked) == len(plan.get("hosts") or []) else f"{', '.join(unchecked)} have"
            warnings.append(f"WARNING {user}: {which} no health check (rotor_health_check): only the key's acceptance by AWS will be "
                            f"checked: an application that fails on the new key will not be noticed")
    return warnings
