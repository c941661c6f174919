# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""What a resumed run may believe of the rotation journal. The journal is advice; IAM is the truth.

Anyone with iam:TagUser on a user can write its rotor: tags. So the journal's word alone never makes a run
reactivate a key (only a sealed record says rotor deactivated it) nor delete one (only a key IAM dates inside the
creation window the journal recorded around rotor's own CreateAccessKey, never used, may be rotor's lost key).

The seal: an HMAC-SHA256, keyed with a secret only rotor holds (option seal_key of rotor.iam.rotation_journal,
environment ROTOR_JOURNAL_SEAL_KEY), over the user name and every journal tag that a resume acts on, written as
rotor:seal with each journal write. A record whose seal does not verify (no key configured, a hand-written or
hand-edited tag, a key rotated away) is unsealed: it is advice, and a resumed run moves forward instead.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac

SEAL_TAG = "rotor:seal"
SEAL_VERSION = "v1"
# The creation window: rotor:created-after is written (AWS time) just before CreateAccessKey, rotor:created-before
# right after it answered (with the pending key). A key IAM dates outside it is not rotor's.
WINDOW_TAGS = {"created_after": "rotor:created-after", "created_before": "rotor:created-before"}
# The bounds are AWS Date headers (cut to the second) or estimates from one (under a lease).
WINDOW_MARGIN_SECONDS = 2
# The longest a creation window may be (a creating step with retries takes seconds): a wider one was not rotor's.
WINDOW_MAX_SECONDS = 15 * 60
# After a run recorded "creating" but not the key it made, the key must be dated at most this long after the start.
CREATE_STEP_MAX_SECONDS = 5 * 60
# The tags a seal covers, in this order (journal field names; the window's too).
SEALED_FIELDS = ("phase", "pending_key_id", "current_key_id", "previous_key_id", "inactive_since", "run_id", "updated",
                 "created_after", "created_before", "verified")


def _canonical(user_name, values):
    return "\n".join([SEAL_VERSION, str(user_name)] + [f"{name}={values.get(name) or ''}" for name in SEALED_FIELDS]).encode("utf-8")


def seal(seal_key, user_name, values):
    """The seal of ``values`` ({journal field: tag value}) for ``user_name``: a tag value (43 characters)."""
    digest = hmac.new(str(seal_key).encode("utf-8"), _canonical(user_name, values), hashlib.sha256).digest()
    return SEAL_VERSION + "." + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=").replace("-", "+").replace("_", "/")


def sealed(seal_key, user_name, values, recorded):
    """Does ``recorded`` (the rotor:seal tag) seal ``values`` under ``seal_key``? False without a key or a seal."""
    if not seal_key or not recorded:
        return False
    return hmac.compare_digest(seal(seal_key, user_name, values), str(recorded))


def _time(value):
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    try:
        moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def proven_deactivated_by_rotor(journal, key_id):
    """May a resumed run reactivate ``key_id``? Only when a sealed record says a rotor run deactivated it (cutover,
    or the rollback of one, naming it as the previous key with the time it went Inactive). Unsealed, the record may
    be anyone's: the key may have been disabled by the security team, so it is never turned back on."""
    return (
        bool(key_id)
        and journal.get("sealed") is True
        and journal.get("phase") in ("cutover", "rolling_back")
        and journal.get("previous_key_id") == key_id
        and _time(journal.get("inactive_since")) is not None
    )


def lost_key_verdict(journal, key, holders=(), require_seal=False, used_by_own_verify=False):
    """Is ``key`` (ListAccessKeys metadata plus last use) the key a dead run created and lost? (bool, why not).

    Only when IAM dates it inside the creation window the journal recorded around the run's CreateAccessKey: after
    rotor:created-after, and before rotor:created-before (or, when the run died before recording the key, at most
    CREATE_STEP_MAX_SECONDS after the start), the window at most WINDOW_MAX_SECONDS wide; AWS says it was never used;
    nothing holds it. With ``require_seal`` (a seal key is configured), the record must also be sealed.
    ``used_by_own_verify``: its only use is the recording run's own verify (rotor:verified), which does not count.
    """
    if holders:
        return False, "something holds it"
    if require_seal and journal.get("sealed") is not True:
        return False, "the journal's record of its creation is not sealed by rotor (someone with iam:TagUser may have written it)"
    after = _time(journal.get("created_after"))
    before = _time(journal.get("created_before"))
    created = _time(key.get("create_date"))
    if after is None:
        return False, "the journal recorded no creation window (rotor:created-after) before the create call"
    if created is None:
        return False, "IAM gives no creation date for it"
    end = before if before is not None else after + datetime.timedelta(seconds=CREATE_STEP_MAX_SECONDS)
    if end < after or (end - after).total_seconds() > WINDOW_MAX_SECONDS:
        return False, "the journal's creation window is not one a rotor run records (reversed, or longer than 15 minutes)"
    margin = datetime.timedelta(seconds=WINDOW_MARGIN_SECONDS)
    if not after - margin <= created <= end + margin:
        return False, (f"IAM dates it {created.replace(microsecond=0).isoformat()}, outside the creation window the journal "
                       f"recorded ({after.replace(microsecond=0).isoformat()} to {end.replace(microsecond=0).isoformat()})")
    if key.get("last_used_date") and not used_by_own_verify:
        return False, "AWS says it has been used"
    return True, None
