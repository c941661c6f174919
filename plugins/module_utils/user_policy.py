# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A user's own rotation policy, set by people as IAM user tags: read them and say what they mean.

The tags (one meaning for every reader, the audit and the rotation planner alike):

``rotor:exempt``
    A non-empty value (after stripping blanks) exempts the user; the value is the reason.
``rotor:exempt-until``
    When the exemption ends: ``YYYY-MM-DD`` (the exemption lasts to the end of that day, UTC: it ends at
    the next midnight UTC) or a full ISO 8601 date and time (without an offset it is UTC). From that moment
    on the exemption is expired: no longer in effect, the user is judged normally, with a note. A value
    that does not parse is invalid and reported; the exemption then stays in effect (a typo never makes a
    key that cannot be reloaded due). Without ``rotor:exempt`` it has no effect (a note says so).
``rotor:max-age-days``
    A positive whole number of days (ASCII digits, blanks around allowed) that replaces the default
    policy for that user. Anything else is invalid and reported; the user is then judged by the default.
``rotor:owner``
    Free text (an email or a team); blanks around are dropped, empty means no owner.
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import _call

EXEMPT_TAG = "rotor:exempt"
EXEMPT_UNTIL_TAG = "rotor:exempt-until"
MAX_AGE_TAG = "rotor:max-age-days"
OWNER_TAG = "rotor:owner"
POLICY_TAGS = (EXEMPT_TAG, EXEMPT_UNTIL_TAG, MAX_AGE_TAG, OWNER_TAG)
# IAM allows 50 tags per user; asking for 100 a page makes every user one ListUserTags call.
TAGS_PAGE_SIZE = 100

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A full ISO 8601 date and time: the date, T (or a blank), at least hours and minutes; an offset is optional.
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$")
_WHOLE_NUMBER = re.compile(r"^[0-9]+$")


# --------------------------------------------------------------------------- reading the tags


def list_user_tags(client, user_name):
    """The user's tags as ``({key: value}, calls)``: ListUserTags, paginated (one call for any IAM user).

    Raises RotorIAMError (``code`` NoSuchEntity, AccessDenied, ...) as the other IAM helpers do.
    """
    tags = {}
    calls = 0
    request = {"UserName": user_name, "MaxItems": TAGS_PAGE_SIZE}
    while True:
        response = _call("iam:ListUserTags", client.list_user_tags, user_name=user_name, aws_retry=True, **request)
        calls += 1
        tags.update({tag["Key"]: tag.get("Value", "") for tag in response.get("Tags", [])})
        if not response.get("IsTruncated"):
            return tags, calls
        request["Marker"] = response["Marker"]


def read_users_tags(client, user_names):
    """Tags of every user in ``user_names``, one user at a time (AWSRetry absorbs IAM's throttling).

    Returns ``{"tags": {user: {key: value} or None}, "errors": {user: message}, "calls": n}``. A user
    whose tags cannot be read (deleted since the credential report, or access denied) gets ``None`` and
    a message, and the others are still read: one user must not stop the audit of the rest.
    """
    found = {"tags": {}, "errors": {}, "calls": 0}
    for name in dict.fromkeys(user_names):
        try:
            tags, calls = list_user_tags(client, name)
        except RotorIAMError as exc:
            found["calls"] += 1
            if exc.code in (None, "Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceFailure"):
                raise  # the endpoint, not this user: every later call would fail the same way
            found["tags"][name] = None
            found["errors"][name] = exc.message
            continue
        found["calls"] += calls
        found["tags"][name] = tags
    return found


# --------------------------------------------------------------------------- what they mean


def parse_exempt_until(value):
    """The moment an exemption ends (aware datetime, UTC), or None when ``value`` is not a valid date.

    ``YYYY-MM-DD`` means the end of that day UTC; a date and time without offset is UTC.
    """
    text = str(value if value is not None else "").strip()
    try:
        if _DATE.match(text):
            day = datetime.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc)
            return day + datetime.timedelta(days=1)
        if _DATE_TIME.match(text):
            moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)
    except ValueError:  # 2026-02-30, 25:00
        return None
    return None


def parse_max_age_days(value):
    """A positive whole number of days, or None when ``value`` is not one."""
    text = str(value if value is not None else "").strip()
    if _WHOLE_NUMBER.match(text) and int(text) > 0:
        return int(text)
    return None


def user_policy(tags, default_max_age_days, now):
    """What a user's tags mean at ``now``, against the default policy ``default_max_age_days``.

    ``tags`` is ``{key: value}`` (None when they could not be read: the default applies). Returns::

        owner             str or None
        max_age_days      the policy that applies (the tag's when valid, else the default)
        max_age_source    "tag" or "default"
        exempt            True while an exemption is in effect
        exempt_reason     the reason (also for an expired exemption)
        exempt_until      the tag as written, or None
        exemption_ends    ISO 8601 moment the exemption ends, or None (no end, or invalid)
        exemption_expired True when the exemption ended (the user is judged normally)
        problems          [{tag, value, problem}]: invalid values, reported for the user
        notes             sentences for people
    """
    tags = tags or {}
    result = {
        "owner": (tags.get(OWNER_TAG) or "").strip() or None,
        "max_age_days": int(default_max_age_days),
        "max_age_source": "default",
        "exempt": False,
        "exempt_reason": None,
        "exempt_until": None,
        "exemption_ends": None,
        "exemption_expired": False,
        "problems": [],
        "notes": [],
    }
    if MAX_AGE_TAG in tags:
        raw = tags[MAX_AGE_TAG]
        days = parse_max_age_days(raw)
        if days is None:
            result["problems"].append({
                "tag": MAX_AGE_TAG,
                "value": raw,
                "problem": (f"{MAX_AGE_TAG} holds {raw!r}, which is not a positive whole number of days: the default "
                            f"policy of {int(default_max_age_days)} days applies until the tag is fixed"),
            })
        else:
            result["max_age_days"], result["max_age_source"] = days, "tag"

    reason = (tags.get(EXEMPT_TAG) or "").strip()
    until_raw = tags.get(EXEMPT_UNTIL_TAG)
    if until_raw is not None:
        result["exempt_until"] = until_raw
    if not reason:
        if until_raw is not None:
            result["notes"].append(f"{EXEMPT_UNTIL_TAG} ({until_raw!r}) has no effect without {EXEMPT_TAG}")
        return result

    result["exempt_reason"] = reason
    ends = parse_exempt_until(until_raw) if until_raw is not None else None
    if until_raw is not None and ends is None:
        result["problems"].append({
            "tag": EXEMPT_UNTIL_TAG,
            "value": until_raw,
            "problem": (f"{EXEMPT_UNTIL_TAG} holds {until_raw!r}, which is not a date (YYYY-MM-DD) or an ISO 8601 date "
                        f"and time: the exemption stays in effect until the tag is fixed"),
        })
    if ends is not None:
        result["exemption_ends"] = ends.astimezone(datetime.timezone.utc).isoformat()
    if ends is not None and ends <= now:
        result["exemption_expired"] = True
        result["notes"].append(f"the exemption ({reason}) ended at {result['exemption_ends']}: the user is judged by its policy")
    else:
        result["exempt"] = True
    return result
