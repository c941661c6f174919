# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private (rotor.iam's rotation engine): the secret destinations of a run (rotor_secret_destinations).

Before the run record exists, the plan step reads them: which to read (``destinations_to_read``) and which key id
each holds (``destination_holdings``), which the plan counts as it counts a host's. The run record keeps the
destinations as configured (each with its user's connection where it has none of its own) and what their writes
returned (key ids, version ids and messages only, never a secret); the work lists of the destination phases (write,
check, re-check, restore) and their failures follow from them.
"""

from __future__ import annotations

from ansible_collections.rotor.iam.plugins.module_utils.redact import shown_key_id

TYPES = ("secretsmanager", "ssm")
CONNECTION = ("profile", "region", "endpoint_url")
# What the run record keeps of a write's result (what a restore needs and what the operator is shown).
WRITTEN_FIELDS = ("access_key_id", "previous_access_key_id", "previous_version_id")


class DestinationError(ValueError):
    """rotor_secret_destinations is malformed; the message names the entry and what to do."""


def check_destinations(destinations):
    """Each destination, validated and completed with its defaults; raises DestinationError naming the bad entry."""
    if destinations is None:
        return []
    if not isinstance(destinations, list):
        raise DestinationError(f"rotor_secret_destinations must be a list of {{user, type, name}} entries, not {type(destinations).__name__}")
    checked, seen = [], set()
    for index, dest in enumerate(destinations):
        where = f"rotor_secret_destinations[{index}]"
        if not isinstance(dest, dict):
            raise DestinationError(f"{where} must be a mapping with user, type and name, not {dest!r:.100}")
        for required in ("user", "type", "name"):
            if not isinstance(dest.get(required), str) or not dest.get(required):
                raise DestinationError(f"{where} needs '{required}' (a non-empty string); it has {sorted(dest)}")
        if dest["type"] not in TYPES:
            raise DestinationError(f"{where} has type {dest['type']!r}: use one of {', '.join(TYPES)}")
        health = dest.get("health_check") or {}
        if not isinstance(health, dict):
            raise DestinationError(f"{where}.health_check must be a mapping like rotor_health_check (url or command)")
        if (dest["type"], dest["name"]) in seen:
            raise DestinationError(f"{where}: {dest['type']} {dest['name']!r} is listed twice")
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


def with_connection(dest, known):
    """The destination with its user's connection (the run's fleet) where it sets none of its own, also as ``target``
    (one value: the iam_user option of rotor.iam.secret_destination)."""
    connection = (known.get(dest["user"]) or {}).get("connection") or {}
    own = {option: dest[option] or connection.get(option) or "" for option in CONNECTION}
    return dict(dest, target=dict(own), **own)


def configured(destinations, fleet):
    """The run's destinations: validated, each with its user's connection (``fleet``: the run's IAM users)."""
    known = dict((fleet or {}).get("users") or {})
    return [with_connection(dest, known) for dest in check_destinations(destinations)]


def destinations_to_read(destinations, fleet):
    """The destinations to read before the plan (which key id each holds): those of the run's IAM users (``fleet``),
    each with its user's connection where it has none of its own; raises DestinationError naming a bad entry."""
    known = dict((fleet or {}).get("users") or {})
    return [dest for dest in configured(destinations, fleet) if dest["user"] in known]


def _results(registered):
    if isinstance(registered, dict):
        registered = registered.get("results")
    return [r for r in (registered or []) if isinstance(r, dict) and not r.get("skipped")]


def _item(result):
    return result.get("item") if isinstance(result.get("item"), dict) else {}


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


def written(writes):
    """What the run keeps of the registered write loop (items: destinations): per destination, whether it changed or
    failed, its message and key ids; never a secret."""
    records = []
    for result in _results(writes):
        dest = _item(result)
        if not dest:
            continue
        record = dict(dest, changed=bool(result.get("changed")), failed=bool(result.get("failed")), msg=str(result.get("msg") or ""))
        record.update({field: result.get(field) for field in WRITTEN_FIELDS})
        records.append(record)
    return records


def write_failures(records):
    """{user: message} for the users with a destination whose write failed (the first one per user)."""
    failures = {}
    for record in records:
        if record["failed"] and record["user"] not in failures:
            failures[record["user"]] = (f"writing the new key into {record['type']} destination {record['name']} failed: "
                                        f"{record['msg'] or 'no message'}")
    return failures


def check_failures(checks):
    """{user: message} for the registered restart/health-check loop (items: destinations) (the first one per user)."""
    failures = {}
    for result in _results(checks):
        dest = _item(result)
        if result.get("failed") and dest.get("user") not in failures:
            failures[dest["user"]] = (f"{dest['type']} destination {dest['name']} failed its restart or health check on the "
                                      f"new key: {result.get('msg') or 'no message'}")
    return failures


def lines(records, check_mode=False):
    """One line per destination written (or, in check mode, that would be): key ids only."""
    shown = []
    for record in records:
        where = f"{record.get('type')} {record.get('name')} ({record.get('user')})"
        if record["failed"]:
            shown.append(f"{where}: FAILED - {record['msg']}")
        elif record["changed"]:
            verb = "would move" if check_mode else "moved"
            shown.append(f"{where}: {verb} from {shown_key_id(record.get('previous_access_key_id')) or '(none)'} to "
                         f"{shown_key_id(record.get('access_key_id'))}")
        else:
            shown.append(f"{where}: already holds {shown_key_id(record.get('access_key_id'))}")
    return shown


def _public(record):
    """A destination entry as the destination tasks take it (the write's outcome left out)."""
    return {key: value for key, value in record.items() if key not in ("changed", "failed", "msg")}


def work(destinations, plans, not_created, cutover, restore_users):
    """The destination work lists of the run: ``destinations`` is the run record's {configured, written}."""
    configured_ = list((destinations or {}).get("configured") or [])
    records = list((destinations or {}).get("written") or [])
    plans = dict(plans)
    ok = [record for record in records if not record["failed"]]
    cutover, restore_users = set(cutover), set(restore_users)
    return {
        # Destinations whose user no host of the run names: not written, the operator is told.
        "destinations_unknown": [dest for dest in configured_ if dest["user"] not in plans],
        # Due users whose new key was made and verified.
        "write_destinations": [dest for dest in configured_ if dest["user"] in plans and (plans[dest["user"]] or {}).get("due")
                               and not (plans[dest["user"]] or {}).get("error") and dest["user"] not in not_created],
        # Written (or already holding the key), with a restart command or a health check to run.
        "check_destinations": [_public(r) for r in ok if r.get("restart_command") or r.get("health_check")],
        # Users cutting over: their destinations' health checks again, with the old key disabled.
        "recheck_destinations": [_public(r) for r in ok if r["user"] in cutover and r.get("health_check")],
        # Users rolled back or failed: each destination this run changed goes back to the key it held.
        "restore_destinations": [_public(r) for r in ok if r["changed"] and r["user"] in restore_users],
    }
