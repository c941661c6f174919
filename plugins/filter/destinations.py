# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# The secret destinations (rotor_secret_destinations) before the run record exists: which to read at plan time
# (destinations_to_read, which rotation_start calls) and what they hold. What the run writes, checks and restores is the
# run record's (plugins/module_utils/_rotation/destinations.py). Only key ids, version ids and messages pass
# through these functions, never a secret.

from ansible.errors import AnsibleFilterError

from ansible_collections.rotor.iam.plugins.module_utils._rotation import destinations as engine_destinations
from ansible_collections.rotor.iam.plugins.module_utils.redact import shown_key_id


def check_destinations(destinations):
    """Each destination, validated and completed with its defaults; raises naming the bad entry."""
    try:
        return engine_destinations.check_destinations(destinations)
    except engine_destinations.DestinationError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def destinations_to_read(destinations, users=None):
    """The destinations to read before the plan (which key id each holds): those of the run's IAM users, each
    with its user's connection where it has none of its own."""
    known = dict((users or {}).get("users") or {})
    return [engine_destinations.with_connection(dest, known) for dest in check_destinations(destinations) if dest["user"] in known]


def _item(result):
    return result.get("item") if isinstance(result.get("item"), dict) else {}


def _results(registered):
    if isinstance(registered, dict):
        registered = registered.get("results")
    return [r for r in (registered or []) if isinstance(r, dict) and not r.get("skipped")]


def destination_holdings(reads):
    """({ref: {"TYPE:NAME": key id or None}}, {ref: why a destination of it could not be read}) from the
    registered state=read loop (each item a destination with its C(user)); the plan counts them as holders."""
    holdings, unreadable = {}, {}
    for result in _results(reads):
        dest = _item(result)
        if not dest:
            continue
        label = f"{dest['type']}:{dest['name']}"
        if result.get("failed"):
            unreadable.setdefault(dest["user"], (
                f"cannot rotate IAM user {dest['user']!r}: its {dest['type']} destination {dest['name']} could not be read "
                f"({result.get('msg') or 'failed'}), so the key it holds is unknown. Fix the destination's name or the "
                f"controller's access to it (docs/destinations.md), then run again."))
            continue
        holdings.setdefault(dest["user"], {})[label] = shown_key_id(result.get("access_key_id")) or None
    return holdings, unreadable


def run_destinations(reads, plans, new_keys, check=None):
    """What a finish job knows of the run's secret destinations, from its own reads (the truth, as for hosts).

    ``reads``: the plan's registered state=read loop; ``plans``: the finish plan (due users are the run's);
    ``new_keys``: {user: {access_key_id}} of the run; ``check``: C(rotor.iam.run_journals) (a user the prepare job
    left in phase rolling_back is rolled back). Returns C({writes: {results: [...]}, failures: {user: message}}):
    C(writes) lists each destination that holds the run's new key as the write results of
    C(rotor.iam.secret_destination) state=present would (so a rollback restores it to the plan's old key, and a
    cutover re-checks it); a destination that holds another key fails its user.
    """
    plans, new_keys = dict(plans or {}), dict(new_keys or {})
    journals = dict((check or {}).get("journals") or {})
    run_id = (check or {}).get("run_id")
    results, failures = [], {}
    for user, journal in sorted(journals.items()):
        if user in plans and (journal or {}).get("phase") == "rolling_back":
            failures[user] = (f"the prepare job of run {run_id} left IAM user {user!r} in phase rolling_back (a secret destination "
                              f"failed there): it is rolled back")
    for result in _results(reads):
        dest = _item(result)
        user = dest.get("user")
        plan = plans.get(user) or {}
        new_key_id = (new_keys.get(user) or {}).get("access_key_id")
        if result.get("failed") or not plan.get("due") or plan.get("error") or not new_key_id:
            continue
        held = result.get("access_key_id")
        if held == new_key_id:
            results.append({"item": dest, "changed": True, "failed": False, "access_key_id": new_key_id,
                            "previous_access_key_id": plan.get("old_key_id"), "previous_version_id": None})
        elif user not in failures:
            failures[user] = (f"{dest['type']} destination {dest['name']} holds key {shown_key_id(held) or '(none)'}, not the new key "
                              f"{shown_key_id(new_key_id)} "
                              f"of run {run_id}: its write in the prepare job failed, or it was changed since")
    return {"writes": {"results": results}, "failures": failures}


class FilterModule:
    def filters(self):
        # The engine (rotation_start, rotation_advance) calls these functions; none is a public filter.
        return {}
