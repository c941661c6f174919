# -*- coding: utf-8 -*-

# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""Read and minimally edit the three credentials file formats, as their real readers read them: the dispatch
to one module per format (aws_credentials, env, json_file), and what a file holds for the plan.

- aws_credentials: exactly as botocore's configloader.raw_config_parse (Python's
  RawConfigParser with its defaults, [DEFAULT] inherited, one level of nested
  values); a file botocore cannot parse is refused.
- env: exactly as systemd reads EnvironmentFile= (src/basic/env-file.c); where a
  reading would depend on the systemd version or differ from a shell's, the file
  is refused.
- json: a top-level object, edited in place so every other byte (numbers as
  written, key order, spacing) is kept.

Every edit is checked by parsing the result again: the managed values read back
as written and nothing else changed, or nothing is written. No function here
puts a secret, or a value from the file, into an error message.
"""

from __future__ import annotations

from ansible_collections.rotor.iam.plugins.module_utils._credfile.common import (
    CredentialsFileError,
    ENV_NAME_RE,
    looks_like_key_id,
)
from ansible_collections.rotor.iam.plugins.module_utils._credfile.aws_credentials import (
    ini_view,
    parse_ini,
    read_ini,
    set_ini,
)
from ansible_collections.rotor.iam.plugins.module_utils._credfile.env import (
    env_view,
    parse_env,
    read_env,
    set_env,
)
from ansible_collections.rotor.iam.plugins.module_utils._credfile.json_file import (
    parse_json,
    read_json,
    set_json,
)


_READERS = {"aws_credentials": read_ini, "env": read_env, "json": read_json}
_WRITERS = {"aws_credentials": set_ini, "env": set_env, "json": set_json}


def read_credentials(text, target, source="<text>"):
    """(access key id, secret) as the file's reader sees them; None for what is missing. Values unchecked."""
    return _READERS[target.format](text, target, source)


def set_credentials(text, target, access_key_id, secret_access_key, source="<text>"):
    """The text with the key written in, edited minimally; unchanged if the key is already there."""
    if target.format == "aws_credentials" and text and read_credentials(text, target, source) == (
            access_key_id, secret_access_key):
        return text  # botocore already reads this key, possibly inherited from [DEFAULT]
    return _WRITERS[target.format](text, target, access_key_id, secret_access_key, source)


# --------------------------------------------------------------------------- what a file holds, for the plan


def _fits(fmt, text):
    """Does the text read as ``fmt`` with the structure that format gives a key? Never raises."""
    try:
        if fmt == "json":
            return parse_json(text) is not None
        if fmt == "aws_credentials":
            return bool(parse_ini(text).sections)
        return any(ENV_NAME_RE.match(assignment.name) for assignment in parse_env(text))
    except CredentialsFileError:
        return False


def looks_like(text, declared):
    """The format the text reads as when it is not ``declared``, or None.

    The strictest reading wins (json, then aws_credentials, then env, which reads almost anything), so an
    INI file declared env looks like aws_credentials, and one with a wrong profile looks like nothing else.
    """
    fmt = next((fmt for fmt in ("json", "aws_credentials", "env") if _fits(fmt, text)), None)
    return fmt if fmt != declared else None


def inspect_text(text, target, source="<text>"):
    """What a file's text holds at ``target``, for the plan (no secret): {found, access_key_id, error, looks_like}.

    ``found``: the declared location exists (the [profile] section, the id variable, the id member);
    ``error``: why the text does not parse in its declared format (the message names a line, never a value);
    ``looks_like``: another format the text reads as, when it does not parse or holds no key where declared.
    """
    report = {"found": False, "access_key_id": None, "error": None, "looks_like": None}
    try:
        if target.format == "aws_credentials":
            report["found"] = target.profile in ini_view(parse_ini(text, source), source)
        elif target.format == "env":
            report["found"] = target.id_name in env_view(parse_env(text, source))
        else:
            document = parse_json(text, source)
            report["found"] = document is not None and any(m.key == target.id_name for m in document.members)
        key_id = read_credentials(text, target, source)[0]
        report["access_key_id"] = key_id if key_id is None or looks_like_key_id(key_id) else None
    except CredentialsFileError as exc:
        report["error"] = str(exc)
    if report["error"] or report["access_key_id"] is None:
        report["looks_like"] = looks_like(text, target.format)
    return report
