# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# The filters of the rotate role's secret destinations (rotor_secret_destinations, roles/rotate/tasks/destinations_*.yml);
# each is documented in plugins/filter/<name>.yml. Plain functions over the variable and registered results:
# only key ids, version ids and messages pass through them, never a secret.

from ansible.errors import AnsibleFilterError

from ansible_collections.rotor.iam.plugins.module_utils.redact import shown_key_id

TYPES = ("secretsmanager", "ssm")
CONNECTION = ("profile", "region", "endpoint_url")


def check_destinations(destinations):
    """Each destination, validated and completed with its defaults; raises naming the bad entry."""
    if destinations is None:
        return []
    if not isinstance(destinations, list):
        raise AnsibleFilterError(
            f"rotor_secret_destinations must be a list of {{user, type, name}} entries, not {type(destinations).__name__}")
    checked, seen = [], set()
    for index, dest in enumerate(destinations):
        where = f"rotor_secret_destinations[{index}]"
        if not isinstance(dest, dict):
            raise AnsibleFilterError(f"{where} must be a mapping with user, type and name, not {dest!r:.100}")
        for required in ("user", "type", "name"):
            if not isinstance(dest.get(required), str) or not dest.get(required):
                raise AnsibleFilterError(f"{where} needs '{required}' (a non-empty string); it has {sorted(dest)}")
        if dest["type"] not in TYPES:
            raise AnsibleFilterError(f"{where} has type {dest['type']!r}: use one of {', '.join(TYPES)}")
        health = dest.get("health_check") or {}
        if not isinstance(health, dict):
            raise AnsibleFilterError(f"{where}.health_check must be a mapping like rotor_health_check (url or command)")
        if (dest["type"], dest["name"]) in seen:
            raise AnsibleFilterError(f"{where}: {dest['type']} {dest['name']!r} is listed twice")
        seen.add((dest["type"], dest["name"]))
        entry = {
            "user": dest["user"], "type": dest["type"], "name": dest["name"],
            "access_key_id_field": dest.get("access_key_id_field") or "AccessKeyId",
            "secret_access_key_field": dest.get("secret_access_key_field") or "SecretAccessKey",
            "kms_key_id": dest.get("kms_key_id") or "",
            "restart_command": dest.get("restart_command") or "",
            "health_check": dict(health),
        }
        entry.update({option: dest.get(option) or "" for option in CONNECTION})
        checked.append(entry)
    return checked


def _with_connection(dest, known):
    """The destination with its user's connection (C(rotor.iam.fleet_users)) where it sets none of its own, also as
    C(target) (one value)."""
    connection = (known.get(dest["user"]) or {}).get("connection") or {}
    own = {option: dest[option] or connection.get(option) or "" for option in CONNECTION}
    # ``target``: the connection as one value, the iam_user option of rotor.iam.secret_destination.
    return dict(dest, target=dict(own), **own)


def destinations_to_read(destinations, users=None):
    """The destinations to read before the plan (which key id each holds): those of the run's IAM users, each
    with its user's connection where it has none of its own."""
    known = dict((users or {}).get("users") or {})
    return [_with_connection(dest, known) for dest in check_destinations(destinations) if dest["user"] in known]


def destinations_due(destinations, plans, create_errors=None, users=None):
    """The destinations to write: those of users due in the plan whose new key was made and verified.

    ``users`` (the role's C(__rotor_users)) fills in each destination's connection from its user's when the
    destination has none of its own. A destination of a user this run does not know is not written (see
    C(rotor.iam.destinations_unknown)).
    """
    create_errors = dict(create_errors or {})
    known = dict((users or {}).get("users") or {})
    due = []
    for dest in check_destinations(destinations):
        plan = dict(plans).get(dest["user"])
        if not plan or not plan.get("due") or plan.get("error") or dest["user"] in create_errors:
            continue
        due.append(_with_connection(dest, known))
    return due


def destinations_unknown(destinations, plans):
    """The destinations whose user is not an IAM user of this run (no host of the play names it)."""
    return [d for d in check_destinations(destinations) if d["user"] not in dict(plans)]


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


def destination_failures(writes, checks=None, previous=None):
    """{user: message} for the users with a destination whose write, restart or health check failed.

    ``writes``: the registered write loop (items: destinations); ``checks``: the registered restart/health-check
    loop (items: the write results). ``previous``: failures found earlier, kept (the first one per user wins).
    """
    failures = dict(previous or {})
    for result in _results(writes):
        dest = _item(result)
        if result.get("failed") and dest.get("user") not in failures:
            failures[dest["user"]] = (f"writing the new key into {dest['type']} destination {dest['name']} failed: "
                                      f"{result.get('msg') or 'no message'}")
    for result in _results(checks):
        dest = _item(_item(result))
        if result.get("failed") and dest.get("user") not in failures:
            failures[dest["user"]] = (f"{dest['type']} destination {dest['name']} failed its restart or health check on the "
                                      f"new key: {result.get('msg') or 'no message'}")
    return failures


def destinations_written(writes, users=None):
    """The write results that changed a destination (optionally only those of ``users``): what a rollback undoes,
    and what the health checks run after."""
    chosen = None if users is None else set(users)
    return [r for r in _results(writes)
            if not r.get("failed") and r.get("changed") and (chosen is None or _item(r).get("user") in chosen)]


def destinations_to_check(writes, users=None):
    """The successful writes (changed or already holding the key) whose destination has a restart command or a
    health check, optionally only those of ``users``."""
    chosen = None if users is None else set(users)
    return [r for r in _results(writes)
            if not r.get("failed") and (chosen is None or _item(r).get("user") in chosen)
            and (_item(r).get("restart_command") or _item(r).get("health_check"))]


def destination_lines(writes, check_mode=False):
    """One line per destination written (or, in check mode, that would be): key ids only."""
    lines = []
    for result in _results(writes):
        dest = _item(result)
        where = f"{dest.get('type')} {dest.get('name')} ({dest.get('user')})"
        if result.get("failed"):
            lines.append(f"{where}: FAILED - {result.get('msg')}")
        elif result.get("changed"):
            verb = "would move" if check_mode else "moved"
            lines.append(f"{where}: {verb} from {shown_key_id(result.get('previous_access_key_id')) or '(none)'} to "
                         f"{shown_key_id(result.get('access_key_id'))}")
        else:
            lines.append(f"{where}: already holds {shown_key_id(result.get('access_key_id'))}")
    return lines


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
        return {
            "destinations_to_read": destinations_to_read,
            "destinations_due": destinations_due,
            "destinations_unknown": destinations_unknown,
            "destination_failures": destination_failures,
            "destinations_written": destinations_written,
            "destinations_to_check": destinations_to_check,
            "destination_lines": destination_lines,
        }
