# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private (rotor.iam's rotation engine): the quiet-key gate (issue 25) and who the old key's late callers are.

After every known holder runs on the new key, the old key should fall silent. ``quiet_verdict`` says, from the
old key's last use (GetAccessKeyLastUsed), whether it has: a use after the moment the last known holder switched
is an unknown consumer's, and the key is not touched. ``attribute_events`` names the callers CloudTrail saw: an
inventory host by its address, the rest as unknown consumers. Pure functions, no AWS, no Ansible.
"""

from __future__ import annotations

import datetime
import math

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import as_datetime

# The default of rotor_quiet_minutes, and the longest a run will wait in one go (docs/quiet-gate.md says why).
DEFAULT_QUIET_MINUTES = 0.25
MAX_QUIET_MINUTES = 24 * 60
# GetAccessKeyLastUsed's dates are whole seconds on AWS (rounded down): a use in the switch's own second counts as after.
GRANULARITY_SECONDS = 1.0
VERDICTS = ("quiet", "wait", "in_use", "unknown")
# How every stop message of the gate begins (the run record's "stopped" outcome shows it as it is).
STOP_PREFIX = "stopped by the quiet-key gate before"
CLOUDTRAIL_LIMITS = ("CloudTrail LookupEvents sees management events only (not S3 object or Lambda invoke data events), "
                     "the last 90 days, at 2 requests per second per account and region, in the regions looked up")


class QuietGateError(ValueError):
    """A value the gate cannot take (names the input, never a secret)."""


def quiet_minutes(value):
    """``rotor_quiet_minutes`` as a float, or QuietGateError naming the input and what it takes."""
    if isinstance(value, bool):
        value = None
    try:
        minutes = float(value)
    except (TypeError, ValueError):
        minutes = float("nan")
    if not math.isfinite(minutes) or minutes < 0 or minutes > MAX_QUIET_MINUTES:
        raise QuietGateError(f"rotor_quiet_minutes must be a number of minutes from 0 to {MAX_QUIET_MINUTES} (fractions allowed, "
                             f"e.g. 0.5 or 15), got {str(value)[:40]!r}")
    return minutes


def _moment(value):
    """A datetime (UTC) from a datetime, an ISO string or an epoch number; None for none; QuietGateError for garbage."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise QuietGateError("not a finite time")
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    try:
        moment = as_datetime(value)
    except (TypeError, ValueError):
        moment = None
    if moment is None:
        raise QuietGateError(f"not a time: {str(value)[:40]!r}")
    return moment.astimezone(datetime.timezone.utc)


def _slot(moment, granularity_seconds):
    """The whole ``granularity_seconds`` slot a moment falls in (AWS dates a key's last use to the second)."""
    step = max(float(granularity_seconds), 1e-6)
    return math.floor(moment.timestamp() / step)


def quiet_verdict(last_used, switched_at, now, minutes=DEFAULT_QUIET_MINUTES, incident=False, granularity_seconds=GRANULARITY_SECONDS):
    """May the old key be deactivated (or deleted) now?

    ``last_used``: the old key's LastUsedDate (None: never used, or AWS has published no use yet); ``switched_at``: when the
    last known holder was proven on the new key (the controller's clock); ``now``: the controller's clock at the check;
    ``minutes``: rotor_quiet_minutes, how long the key must have been watched silent after the switch.

    Returns {verdict, stop, wait_seconds, used_after_switch, last_used, switched_at, quiet_until, reason}:

    - ``in_use``: used later than the switch (a use within the switch's own second counts): an unknown consumer. The key is
      not touched (``stop``), except in incident mode, which reports it and goes on.
    - ``wait``: silent so far, but not watched for ``minutes`` yet: check again in ``wait_seconds``.
    - ``quiet``: silent since the switch and watched long enough.
    - ``unknown``: a time that cannot be read: the gate cannot judge, so the key is not touched (not in incident mode).

    Incident mode never waits and never stops.
    """
    minutes = quiet_minutes(minutes)
    result = {"verdict": "unknown", "stop": not incident, "wait_seconds": 0.0, "used_after_switch": None, "last_used": None,
              "switched_at": None, "quiet_until": None, "reason": ""}
    try:
        switched, checked = _moment(switched_at), _moment(now)
        used = _moment(last_used)
    except QuietGateError as exc:
        result["reason"] = f"the gate cannot judge the old key's last use ({exc})"
        return result
    if switched is None or checked is None:
        result["reason"] = "the gate cannot judge the old key's last use: it does not know when the last known holder switched"
        return result
    until = switched + datetime.timedelta(minutes=minutes)
    result.update(switched_at=switched.isoformat(), quiet_until=until.isoformat(), last_used=used.isoformat() if used else None)
    # AWS dates a use to the whole second, which stands for any moment of that second: a use dated in the switch's own
    # second (or later) may be after it and is taken as after it. A date with a fraction of a second is exact.
    if used is not None and used.microsecond:
        after = used > switched
    else:
        after = used is not None and _slot(used, granularity_seconds) >= _slot(switched, granularity_seconds)
    result["used_after_switch"] = after
    if after:
        result.update(verdict="in_use", stop=not incident,
                      reason=f"used at {used.isoformat()}, after the last known holder switched at {switched.isoformat()}")
        return result
    left = (until - checked).total_seconds()
    if left > 0 and not incident:
        # A clock that jumped back never makes the wait longer than the quiet period itself.
        result.update(verdict="wait", stop=False, wait_seconds=min(left, minutes * 60),
                      reason=f"silent since the switch; watched until {until.isoformat()} before it is retired")
        return result
    result.update(verdict="quiet", stop=False,
                  reason=("never used" if used is None else f"last used at {used.isoformat()}, before the switch")
                  + (f", and silent for {minutes:g} minutes after it" if left <= 0 else ""))
    return result


def _where(service, region):
    parts = [part for part in (service, region) if part and part != "N/A"]
    return f" ({', '.join(parts)})" if parts else ""


def stop_message(user, key_id, verdict, service=None, region=None, minutes=DEFAULT_QUIET_MINUTES, attribution=None, before="deactivation"):
    """What the operator reads when the gate stops a user (key ids only, never a secret). ``before``: deactivation or deletion."""
    touch = "deleting" if before == "deletion" else "touching"
    if verdict["verdict"] == "unknown":
        head = f"{STOP_PREFIX} {touch} the old key {key_id}: {verdict['reason']}"
    else:
        head = (f"{STOP_PREFIX} {touch} the old key {key_id}: it was last used at {verdict['last_used']}"
                f"{_where(service, region)}, after every known holder of {user} had switched to the new key "
                f"(at {verdict['switched_at']}), so something outside the inventory still uses it")
    found = attribution_lines(key_id, attribution) if attribution else []
    lookup = (f"look the key up in CloudTrail (LookupEvents by AccessKeyId {key_id}, in the region above; or run again with "
              f"rotor_consumer_lookup=cloudtrail), and search your machines with ansible-playbook rotor.iam.discover")
    how = "Find the consumer: " + ("; ".join(found) if found else lookup)
    if before == "deletion":
        left = ("The hosts stay on the new key and the old key stays Inactive, not deleted (the journal records the cutover): "
                "reactivate it (rotor.iam.access_key_status status=active) if that consumer must work until it is moved")
    else:
        left = "The hosts stay on the new key and the old key stays Active; the journal records waiting_for_quiet"
    return (f"{head}. {left}. {how}. Move it to the new key, then run the rotation again: it re-checks and retires the old "
            f"key once it has been silent for rotor_quiet_minutes={minutes:g} after the switch")


def incident_message(user, key_id, verdict, service=None, region=None):
    """Incident mode reports a use of the leaked key after the switch and goes on."""
    return (f"the compromised key {key_id} of {user} was used at {verdict['last_used']}{_where(service, region)}, after every known "
            f"holder had switched: incident mode does not wait; whoever used it loses access with it")


def _addresses(value):
    if isinstance(value, str):
        return [value] if value else []
    return [str(item) for item in value or [] if item]


def attribute_events(events, switched_at, host_addresses):
    """CloudTrail events of the old key since the switch, by caller.

    ``events``: key_activity.summarize_event records; ``host_addresses``: {host: [addresses]} (its facts, and the address
    the inventory connects to). Returns {hosts: {host: {count, last, user_agents, event_sources, regions}},
    unknown: [{source_ip_address, count, last, user_agents, event_sources, regions}]}, each newest first.
    """
    since = _moment(switched_at)
    owner = {}
    for host, addresses in sorted(dict(host_addresses or {}).items()):
        for address in _addresses(addresses):
            owner.setdefault(address, host)
    hosts, unknown = {}, {}
    for event in events or []:
        when = _moment(event.get("event_time")) if event.get("event_time") else None
        if since is not None and (when is None or (when - since).total_seconds() <= -GRANULARITY_SECONDS):
            continue
        address = event.get("source_ip_address") or "(no address)"
        host = owner.get(address)
        bucket = hosts.setdefault(host, {}) if host else unknown.setdefault(address, {"source_ip_address": address})
        bucket["count"] = bucket.get("count", 0) + 1
        if when and (not bucket.get("last") or when.isoformat() > bucket["last"]):
            bucket["last"] = when.isoformat()
        for field, key in (("user_agents", "user_agent"), ("event_sources", "event_source"), ("regions", "region")):
            value = event.get(key)
            if value and value not in bucket.setdefault(field, []):
                bucket[field].append(value)
        for field in ("user_agents", "event_sources", "regions"):
            bucket.setdefault(field, [])
    ordered = sorted(unknown.values(), key=lambda b: b.get("last") or "", reverse=True)
    return {"hosts": hosts, "unknown": ordered}


def attribution_lines(key_id, attribution):
    """One line per caller: inventory hosts by name, the rest as unknown consumers."""
    lines = []
    for host, seen in sorted((attribution.get("hosts") or {}).items()):
        lines.append(f"{host} still uses the old key {key_id}: its application did not reload ({seen['count']} calls since the "
                     f"switch, last at {seen.get('last')}, {', '.join(seen['event_sources'])} in {', '.join(seen['regions'])}, "
                     f"user agent {', '.join(seen['user_agents'][:2])})")
    for seen in attribution.get("unknown") or []:
        lines.append(f"an unknown consumer at {seen['source_ip_address']} ({seen['count']} calls since the switch, last at "
                     f"{seen.get('last')}, {', '.join(seen['event_sources'])} in {', '.join(seen['regions'])}, user agent "
                     f"{', '.join(seen['user_agents'][:2])})")
    searched = attribution.get("regions_searched")
    if searched is not None and not lines:
        lines.append(f"CloudTrail shows no call of {key_id} since the switch in {', '.join(searched) or 'no region'}")
    for region, why in sorted((attribution.get("regions_not_searched") or {}).items()):
        lines.append(f"CloudTrail not searched in {region}: {why}")
    if searched is not None:
        lines.append(CLOUDTRAIL_LIMITS)
    return lines


__all__ = ["quiet_verdict", "quiet_minutes", "stop_message", "incident_message", "attribute_events", "attribution_lines",
           "DEFAULT_QUIET_MINUTES", "QuietGateError", "CLOUDTRAIL_LIMITS", "STOP_PREFIX"]
