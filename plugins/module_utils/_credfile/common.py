# -*- coding: utf-8 -*-

# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""What every credentials file format shares: the inputs (formats, targets, key ids, secrets), the errors
and the text helpers. No function here puts a secret, or a value from a file, into an error message."""

from __future__ import annotations

import re
from dataclasses import dataclass


FORMATS = ("aws_credentials", "env", "json")
INI_ACCESS_KEY_ID = "aws_access_key_id"
INI_SECRET_ACCESS_KEY = "aws_secret_access_key"
DEFAULT_VARIABLE_NAMES = {
    "env": {"access_key_id": "AWS_ACCESS_KEY_ID", "secret_access_key": "AWS_SECRET_ACCESS_KEY"},
    "json": {"access_key_id": "AccessKeyId", "secret_access_key": "SecretAccessKey"},
}

# AWS access key ids: AKIA (long-term) or ASIA (temporary) and 16 upper-case letters or digits.
KEY_ID_RE = re.compile(r"(?:AKIA|ASIA)[A-Z0-9]{16}\Z")
# A check-mode run of roles/rotate names the key it would create "NEW-KEY-OF-<IAM user name>".
PLACEHOLDER_RE = re.compile(r"NEW-KEY-OF-[A-Za-z0-9+=,.@_-]{1,64}\Z")
_KEY_MATERIAL_RE = re.compile(r"[\x21-\x7e]+\Z")
# An AWS secret access key is 40 characters; the controller side applies the same bound (redact.SECRET_MAX_LENGTH).
SECRET_MAX_LENGTH = 128
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_NEWLINE_RE = re.compile(r"\r\n|\r|\n")


class CredentialsFileError(Exception):
    """An error whose message is fit for the user: it names the input and what to do, never a secret."""


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Target:
    """Where the key lives inside the file."""

    format: str
    profile: str
    id_name: str
    secret_name: str


def make_target(fmt, profile="default", variable_names=None):
    """Validate format, profile and variable names; return the Target."""
    if fmt not in FORMATS:
        raise CredentialsFileError("format must be one of %s, got '%s'" % (", ".join(FORMATS), fmt))
    if fmt == "aws_credentials":
        check_profile(profile)
        return Target(fmt, profile, INI_ACCESS_KEY_ID, INI_SECRET_ACCESS_KEY)
    names = dict(DEFAULT_VARIABLE_NAMES[fmt])
    for option, name in (variable_names or {}).items():
        if option not in names:
            raise CredentialsFileError(
                "variable_names has an unknown key '%s'; use access_key_id and secret_access_key" % option
            )
        if name is not None:
            names[option] = name
    for option, name in names.items():
        if not isinstance(name, str) or not name:
            raise CredentialsFileError("variable_names.%s must be a non-empty string" % option)
        if fmt == "env" and not ENV_NAME_RE.match(name):
            raise CredentialsFileError(
                "variable_names.%s '%s' is not a valid environment variable name "
                "(letters, digits and _, not starting with a digit)" % (option, printable(name))
            )
        if fmt == "json" and has_control(name):
            raise CredentialsFileError(
                "variable_names.%s '%s' must not contain control characters" % (option, printable(name))
            )
    if names["access_key_id"] == names["secret_access_key"]:
        raise CredentialsFileError("variable_names.access_key_id and variable_names.secret_access_key must differ")
    return Target(fmt, None, names["access_key_id"], names["secret_access_key"])


def check_profile(profile):
    if not isinstance(profile, str) or not profile:
        raise CredentialsFileError(
            "profile must be a non-empty string; an empty profile is not 'default' to the AWS SDKs. "
            "Give the profile name, for example 'default'"
        )
    if profile == "DEFAULT":
        raise CredentialsFileError(
            "profile 'DEFAULT' is not a profile: botocore reads [DEFAULT] as values inherited by every profile. "
            "Use 'default' for the default profile"
        )
    if profile != profile.strip() or "[" in profile or "]" in profile or has_control(profile):
        raise CredentialsFileError(
            "profile '%s' cannot be used in an INI header: no brackets, control characters "
            "or leading/trailing spaces" % printable(profile.strip())
        )


def has_control(text):
    return any(ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 for char in text)


def printable(text, limit=80):
    """text safe to show in a message: control characters escaped, cut at limit."""
    shown = text.encode("ascii", "backslashreplace").decode("ascii")
    shown = "".join(char if 0x20 <= ord(char) < 0x7F else "\\x%02x" % ord(char) for char in shown)
    return shown if len(shown) <= limit else shown[:limit] + "..."


def looks_like_key_id(value):
    return isinstance(value, str) and KEY_ID_RE.match(value) is not None


def check_access_key_id(option, value, allow_placeholder=False):
    """Refuse an id that is not AWS's format. Echoes the value only when it cannot be a secret."""
    if value is None or value == "":
        raise CredentialsFileError("%s is required and must not be empty" % option)
    if looks_like_key_id(value):
        return
    if allow_placeholder and isinstance(value, str) and PLACEHOLDER_RE.match(value):
        return
    raise CredentialsFileError(
        "%s does not look like an AWS access key id (AKIA or ASIA and 16 upper-case letters or digits, "
        "20 characters); value withheld in case it is a secret. Check that the id and the secret are not "
        "swapped" % option
    )


def check_secret(option, value):
    """Refuse key material that cannot round-trip through every format. Never echoes the value."""
    if value is None or value == "":
        raise CredentialsFileError("%s is required for state=present and must not be empty" % option)
    if not isinstance(value, str) or not _KEY_MATERIAL_RE.match(value):
        raise CredentialsFileError(
            "%s contains spaces, line breaks or non-ASCII characters; AWS key material is "
            "printable ASCII without whitespace. Check the value passed" % option
        )
    if looks_like_key_id(value):
        raise CredentialsFileError(
            "%s looks like an access key id, not a secret; check that the id and the secret are not swapped" % option
        )
    if len(value) > SECRET_MAX_LENGTH:
        raise CredentialsFileError(
            "%s is %d characters long; an AWS secret access key is 40 (at most %d are accepted). Check the value passed"
            % (option, len(value), SECRET_MAX_LENGTH)
        )


# --------------------------------------------------------------------------- text helpers


def split_lines(text):
    """Lines with their endings kept; only \\n, \\r\\n and \\r end a line (as Python's text files read them)."""
    return _LINE_RE.findall(text)


def newline_style(text):
    match = _NEWLINE_RE.search(text)
    return "\n" if match is None else match.group(0)


def ends_with_newline(text):
    return text.endswith("\n") or text.endswith("\r")


def parse_error(source, fmt, line, reason):
    where = "line %d: " % line if line else ""
    return CredentialsFileError(
        "%s is not a valid %s file: %s%s. Fix the file, or choose the format that matches it"
        % (source, fmt, where, reason)
    )


def decode(data, source, fmt):
    """Text from file bytes: UTF-8, no NUL, no byte-order mark (botocore and systemd do not skip one)."""
    if b"\0" in data:
        raise parse_error(source, fmt, data[:data.index(b"\0")].count(b"\n") + 1, "contains a NUL byte")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise parse_error(source, fmt, data[:exc.start].count(b"\n") + 1,
                          "not UTF-8 text (bad byte at offset %d)" % exc.start)
    if text.startswith("\ufeff"):
        raise parse_error(
            source, fmt, 1,
            "starts with a UTF-8 byte-order mark, which %s does not skip; save the file without it"
            % {"aws_credentials": "botocore", "env": "systemd", "json": "a JSON reader"}[fmt],
        )
    return text


def line_at(text, offset):
    """The 1-based line number of offset in text (\n, \r\n and \r end a line)."""
    return text.count("\n", 0, offset) + text.count("\r", 0, offset) - text.count("\r\n", 0, offset) + 1
