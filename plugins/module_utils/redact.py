# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Shown or withheld: the one decision about a value that sits where an access key id should be.

A value is shown only if it has the form of an AWS access key id (``AKIA`` or ``ASIA`` and 16 upper-case
letters or digits; moto's ids have it too). Anything else in a key-id slot may be a secret put there by
mistake (id and secret swapped in a destination, a tag, a variable), so it is replaced by ``WITHHELD``.
Every module, filter and report of rotor.iam that shows a key id shows it through these functions.
"""

from __future__ import annotations

import re

ACCESS_KEY_ID_RE = re.compile(r"\A(?:AKIA|ASIA)[A-Z0-9]{16}\Z")
# The key a check-mode run of the rotate role would create is named "NEW-KEY-OF-<IAM user name>" (a dash is in no
# AWS secret), and is shown like a key id.
CHECK_MODE_PLACEHOLDER_RE = re.compile(r"\ANEW-KEY-OF-[A-Za-z0-9+=,.@_-]{1,64}\Z")
WITHHELD = "(withheld: not an access key id)"
# A value shorter than this cannot be a secret access key (40 characters) and is too short to mask safely.
_MIN_MASKED = 8


def is_access_key_id(value):
    """Whether value has the form of an AWS access key id."""
    return isinstance(value, str) and ACCESS_KEY_ID_RE.match(value) is not None


def _shown(value):
    return is_access_key_id(value) or (isinstance(value, str) and CHECK_MODE_PLACEHOLDER_RE.match(value) is not None)


def shown_key_id(value):
    """value if it is an access key id (or the rotate role's check-mode placeholder); None and "" as they are;
    anything else WITHHELD."""
    if value is None or value == "":
        return value
    return value if _shown(value) else WITHHELD


def shown_key_ids(values):
    """Each of values through shown_key_id (a list; None stays None)."""
    if values is None:
        return None
    if isinstance(values, (str, bytes)):
        return [shown_key_id(values)]
    return [shown_key_id(value) for value in values]


def not_key_ids(values):
    """The values (strings) that are not access key ids and are long enough to be masked in text."""
    found = []
    for value in values:
        if isinstance(value, (list, tuple, set)):
            found += not_key_ids(value)
        elif isinstance(value, str) and value and not _shown(value) and len(value) >= _MIN_MASKED:
            found.append(value)
    return found


def scrub(text, values):
    """text with every value of values that is not an access key id replaced by WITHHELD."""
    if not isinstance(text, str):
        return text
    for value in sorted(not_key_ids(values), key=len, reverse=True):
        text = text.replace(value, WITHHELD)
    return text


def withhold_options(module, *names):
    """Mask, in everything the module returns (its invocation included), the values of its key-id options
    that are not access key ids. ``names`` are option names; list options are masked element by element."""
    module.no_log_values.update(not_key_ids([module.params.get(name) for name in names]))


def refuse_non_key_ids(module, *names):
    """Fail the module, before any AWS call, when one of its key-id options holds something else (in check mode,
    the rotate role's placeholder for the key it would create is accepted).

    The value is masked in the result (invocation included) and named only by its option.
    """
    withhold_options(module, *names)
    for name in names:
        value = module.params.get(name)
        if value not in (None, "") and not is_access_key_id(value) and not (module.check_mode and _shown(value)):
            module.fail_json(msg=(
                f"{name} {WITHHELD} does not look like an AWS access key id (AKIA or ASIA and 16 upper-case letters or "
                f"digits); nothing was changed. Check that the id and the secret are not swapped."))


KEY_ID_TAGS = ("rotor:pending", "rotor:current", "rotor:previous")


def shown_tags(tags):
    """A user's tags ({key: value}) with the values of rotor's key-id tags that are not key ids withheld."""
    if not isinstance(tags, dict):
        return tags
    return {key: shown_key_id(value) if key in KEY_ID_TAGS else value for key, value in tags.items()}


# An AWS secret access key is 40 characters; anything much longer is not one (a pasted file, a 2 MB blob).
SECRET_MAX_LENGTH = 128


def secret_size_problem(option, value):
    """Why ``value`` cannot be an AWS secret access key by its size, or None; never quotes the value."""
    if isinstance(value, str) and len(value) > SECRET_MAX_LENGTH:
        return (f"{option} is {len(value)} characters long; an AWS secret access key is 40 (at most {SECRET_MAX_LENGTH} are "
                f"accepted). Check the value passed (not shown); nothing was changed.")
    return None
