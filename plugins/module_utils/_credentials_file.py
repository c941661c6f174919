# -*- coding: utf-8 -*-

# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""Host-side logic of rotor.iam.credentials_file, standard library only.

Parse and minimally edit credential files (AWS INI credentials, systemd
EnvironmentFile, JSON), plan a change, back up, write atomically, restore and
clean up. Nothing here returns, logs or formats a secret access key: results
and diffs carry key ids and a redaction marker only, and parse errors name a
line number, never the line's text.
"""

from __future__ import annotations

import datetime
import grp
import json
import os
import pwd
import re
import stat
import tempfile
from dataclasses import dataclass

FORMATS = ("aws_credentials", "env", "json")
STATES = ("present", "read", "restored", "backups_absent")
REDACTED = "********"
NOT_SET = "(not set)"
DEFAULT_MODE = 0o600

INI_ACCESS_KEY_ID = "aws_access_key_id"
INI_SECRET_ACCESS_KEY = "aws_secret_access_key"
DEFAULT_VARIABLE_NAMES = {
    "env": {"access_key_id": "AWS_ACCESS_KEY_ID", "secret_access_key": "AWS_SECRET_ACCESS_KEY"},
    "json": {"access_key_id": "AccessKeyId", "secret_access_key": "SecretAccessKey"},
}

BACKUP_SUFFIX = ".rotor-iam-backup"
TEMP_INFIX = ".rotor-iam-tmp."
_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"

_KEY_MATERIAL_RE = re.compile(r"[\x21-\x7e]+")
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NEWLINE_RE = re.compile(r"[\r\n]")
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
# Section headers and options as Python's configparser (and so botocore) reads them.
_INI_SECTION_RE = re.compile(r"\[(?P<name>.+)\]")
_INI_OPTION_RE = re.compile(r"^(?P<indent>\s*)(?P<key>[^=:]*?)\s*[=:]\s*(?P<value>.*?)\s*$")
_ENV_ASSIGN_RE = re.compile(r"[ \t]*(?:export[ \t]+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*")
_ENV_BARE_VALUE_RE = re.compile(r"[A-Za-z0-9_./+=:@%,-]+")


class CredentialsFileError(Exception):
    """An error whose message is fit for the user: it names the input and what to do."""


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
        _check_profile(profile)
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
        if fmt == "env" and not _ENV_NAME_RE.fullmatch(name):
            raise CredentialsFileError(
                "variable_names.%s '%s' is not a valid environment variable name "
                "(letters, digits and _, not starting with a digit)" % (option, name)
            )
    if names["access_key_id"] == names["secret_access_key"]:
        raise CredentialsFileError("variable_names.access_key_id and variable_names.secret_access_key must differ")
    return Target(fmt, profile, names["access_key_id"], names["secret_access_key"])


def _check_profile(profile):
    if not isinstance(profile, str) or not profile:
        raise CredentialsFileError("profile must be a non-empty string")
    if profile != profile.strip() or "[" in profile or "]" in profile or _has_control(profile):
        raise CredentialsFileError(
            "profile '%s' cannot be used in an INI header: no brackets, control characters "
            "or leading/trailing spaces" % profile.strip()
        )


def _has_control(text):
    return any(ord(char) < 0x20 or ord(char) == 0x7F for char in text)


def check_key_material(option, value):
    """Refuse key material that cannot round-trip through every format. Never echoes the value."""
    if value is None or value == "":
        raise CredentialsFileError("%s is required for state=present and must not be empty" % option)
    if not isinstance(value, str) or not _KEY_MATERIAL_RE.fullmatch(value):
        raise CredentialsFileError(
            "%s contains spaces, line breaks or non-ASCII characters; AWS key material is "
            "printable ASCII without whitespace. Check the value passed" % option
        )


def parse_mode(value):
    """Octal permissions from '0600', '600', '0o600' or an int (YAML 0600); no symbolic modes."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, int):
        mode = value
    elif isinstance(value, str) and re.fullmatch(r"(?:0o)?[0-7]{1,4}", value.strip()):
        mode = int(value.strip().replace("0o", "", 1), 8)
    else:
        raise CredentialsFileError(
            "mode must be an octal number written as a quoted string such as '0600'; "
            "symbolic modes are not supported, got %r" % (value,)
        )
    if not 0 <= mode <= 0o7777:
        raise CredentialsFileError("mode %r is out of range; use a value such as '0600'" % (value,))
    return mode


def resolve_owner(owner):
    """uid for a user name or numeric id; None when not given."""
    if owner is None or owner == "":
        return None
    if str(owner).isdigit():
        return int(owner)
    try:
        return pwd.getpwnam(owner).pw_uid
    except KeyError:
        raise CredentialsFileError(
            "owner '%s' is not a user on this host; create the user first or give an existing name or uid" % owner
        )


def resolve_group(group):
    """gid for a group name or numeric id; None when not given."""
    if group is None or group == "":
        return None
    if str(group).isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise CredentialsFileError(
            "group '%s' is not a group on this host; create the group first or give an existing name or gid" % group
        )


# --------------------------------------------------------------------------- text helpers


def split_lines(text):
    """Lines with their endings kept; only \\n, \\r\\n and \\r end a line (as file objects read them)."""
    return _LINE_RE.findall(text)


def _line_content(line):
    return line.rstrip("\r\n")


def _newline_style(text):
    match = _NEWLINE_RE.search(text)
    if match is None:
        return "\n"
    return "\r\n" if text[match.start():match.start() + 2] == "\r\n" else match.group(0)


def _ends_with_newline(text):
    return text.endswith("\n") or text.endswith("\r")


def _line_number(text, offset):
    return text.count("\n", 0, offset) + 1


def _parse_error(source, fmt, line, reason):
    where = "line %d: " % line if line else ""
    return CredentialsFileError(
        "%s is not a valid %s file: %s%s. Fix the file, or choose the format that matches it"
        % (source, fmt, where, reason)
    )


def decode(data, source, fmt):
    """(byte-order mark, text) from file bytes; the BOM is kept aside so it survives an edit."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _parse_error(source, fmt, 0, "not UTF-8 text (bad byte at offset %d)" % exc.start)
    if text.startswith("\ufeff"):
        return "\ufeff", text[1:]
    return "", text


# --------------------------------------------------------------------------- aws_credentials (INI)


@dataclass
class _IniOption:
    key: str
    line: int  # index of the "key = value" line
    end: int  # index after its last continuation line
    indent: str
    value_start: int  # offsets of the value inside the line's content
    value_end: int
    value: str


@dataclass
class _IniSection:
    name: str
    header: int
    options: dict

    def options_by_line(self, line):
        return next(option for option in self.options.values() if option.line == line)


def _parse_ini(lines, source):
    """Sections and options as configparser reads them (strict: duplicates are errors)."""
    sections = {}
    section = None
    option = None
    for index, line in enumerate(lines):
        content = _line_content(line)
        stripped = content.strip()
        number = index + 1
        if not stripped or stripped[0] in "#;":
            continue  # blank lines and comments do not end a multi-line value
        indent = len(content) - len(content.lstrip())
        if option is not None and indent > len(option.indent):
            option.end = index + 1
            option.value += "\n" + stripped
            continue
        option = None
        header = _INI_SECTION_RE.match(stripped)
        if header:
            name = header.group("name")
            if name in sections:
                raise _parse_error(
                    source, "aws_credentials", number,
                    "profile [%s] appears a second time (first at line %d); AWS SDKs reject duplicate profiles"
                    % (name, sections[name].header + 1),
                )
            section = sections[name] = _IniSection(name, index, {})
            continue
        match = _INI_OPTION_RE.match(content)
        if match is None or not match.group("key"):
            raise _parse_error(
                source, "aws_credentials", number, "expected a [profile] header, 'key = value' or a comment"
            )
        if section is None:
            raise _parse_error(source, "aws_credentials", number, "a setting appears before the first [profile] header")
        key = match.group("key").lower()
        if key in section.options:
            raise _parse_error(
                source, "aws_credentials", number,
                "'%s' appears twice in [%s] (first at line %d); AWS SDKs reject duplicate keys"
                % (key, section.name, section.options[key].line + 1),
            )
        option = section.options[key] = _IniOption(
            key, index, index + 1, match.group("indent"), match.start("value"), match.end("value"), match.group("value")
        )
    return sections


def _read_ini(text, target, source):
    section = _parse_ini(split_lines(text), source).get(target.profile)
    if section is None:
        return None, None
    found = [section.options.get(key) for key in (target.id_name, target.secret_name)]
    return tuple(option.value if option is not None else None for option in found)


def _set_ini(text, target, access_key_id, secret_access_key, source):
    lines = split_lines(text)
    eol = _newline_style(text)
    section = _parse_ini(lines, source).get(target.profile)
    if section is None:
        block = [
            "[%s]%s" % (target.profile, eol),
            "%s = %s%s" % (target.id_name, access_key_id, eol),
            "%s = %s%s" % (target.secret_name, secret_access_key, eol),
        ]
        if lines and lines[-1].strip():
            block.insert(0, eol)  # a blank line between the last profile and the new one
        return _apply_line_edits(lines, [(len(lines), len(lines), block)], eol)

    edits = []  # (start, end, replacement lines); start == end inserts
    wanted = ((target.id_name, access_key_id), (target.secret_name, secret_access_key))
    for key, value in wanted:
        option = section.options.get(key)
        if option is not None and option.value != value:
            content = _line_content(lines[option.line])
            ending = lines[option.line][len(content):]
            new_line = content[:option.value_start] + value + content[option.value_end:] + ending
            edits.append((option.line, option.end, [new_line]))  # drops continuation lines, if any

    id_option = section.options.get(target.id_name)
    secret_option = section.options.get(target.secret_name)
    if id_option is None and secret_option is None:
        # Match the indentation of the profile's settings: a deeper one would read as a continuation.
        first = min((option.line for option in section.options.values()), default=None)
        indent = "" if first is None else section.options_by_line(first).indent
        edits.append((section.header + 1, section.header + 1, [
            "%s%s = %s%s" % (indent, target.id_name, access_key_id, eol),
            "%s%s = %s%s" % (indent, target.secret_name, secret_access_key, eol),
        ]))
    elif id_option is None:
        edits.append((secret_option.line, secret_option.line, [
            "%s%s = %s%s" % (secret_option.indent, target.id_name, access_key_id, eol),
        ]))
    elif secret_option is None:
        edits.append((id_option.end, id_option.end, [
            "%s%s = %s%s" % (id_option.indent, target.secret_name, secret_access_key, eol),
        ]))
    return _apply_line_edits(lines, edits, eol)


def _apply_line_edits(lines, edits, eol):
    result = list(lines)
    for start, end, replacement in sorted(edits, key=lambda edit: edit[0], reverse=True):
        result[start:end] = replacement
    # A last line without newline may now be followed by inserted lines.
    return "".join(line if index == len(result) - 1 or _ends_with_newline(line) else line + eol
                   for index, line in enumerate(result))


# --------------------------------------------------------------------------- env (systemd EnvironmentFile)


@dataclass
class _EnvAssignment:
    name: str
    value: str
    value_start: int  # offsets of the raw value (quotes included) in the text
    value_end: int
    quote: str  # the quote the raw value starts with, "" for none


def _parse_env(text, source):
    """Assignments in file order, read the way systemd reads an EnvironmentFile.

    Also accepts a leading ``export``. Values may be single- or double-quoted,
    may continue over lines (backslash-newline or an open quote), and keep an
    inline ``#`` as part of the value, as systemd does.
    """
    assignments = []
    position = 0
    length = len(text)
    while position < length:
        newline = _NEWLINE_RE.search(text, position)
        line_end = newline.start() if newline else length
        stripped = text[position:line_end].strip()
        if stripped and stripped[0] not in "#;":
            match = _ENV_ASSIGN_RE.match(text, position, line_end)
            if match is None:
                raise _parse_error(
                    source, "env", _line_number(text, position),
                    "expected NAME=value (optionally after 'export'), a comment or a blank line",
                )
            value, line_end, quote = _scan_env_value(text, match.end(), source)
            assignments.append(_EnvAssignment(match.group("name"), value, match.end(), line_end, quote))
        position = _skip_newline(text, line_end)
    return assignments


def _skip_newline(text, index):
    if text.startswith("\r\n", index):
        return index + 2
    return min(index + 1, len(text))


def _scan_env_value(text, start, source):
    """(value, offset of the end of the raw value, opening quote) from text[start:]."""
    chars = []
    trailing_space_from = None  # where a run of unquoted trailing whitespace starts in chars
    state = "pre"  # pre: before or between quoted parts; bare; single; double
    quote = text[start] if start < len(text) and text[start] in "'\"" else ""
    opened_at = start
    index = start
    length = len(text)
    while index < length:
        char = text[index]
        if state in ("pre", "bare"):
            if char in "\r\n":
                break
            if char == "\\":
                following = text[index + 1:index + 2]
                if following in ("\r", "\n"):
                    index = _skip_newline(text, index + 1)  # line continuation
                    continue
                if following:
                    chars.append(following)
                trailing_space_from = None
                state = "bare"
                index += 2
                continue
            if state == "pre":
                if char in " \t":
                    index += 1
                    continue
                if char in "'\"":
                    state = "single" if char == "'" else "double"
                    opened_at = index
                    index += 1
                    continue
                state = "bare"
            if char in " \t":
                if trailing_space_from is None:
                    trailing_space_from = len(chars)
            else:
                trailing_space_from = None
            chars.append(char)
        elif state == "single":
            if char == "'":
                state = "pre"
            else:
                chars.append(char)
        else:
            if char == '"':
                state = "pre"
            elif char == "\\":
                following = text[index + 1:index + 2]
                if following in ('"', "\\", "`", "$"):
                    chars.append(following)
                    index += 1
                elif following in ("\r", "\n"):
                    index = _skip_newline(text, index + 1)
                    continue
                else:
                    chars.append(char)
            else:
                chars.append(char)
        index += 1
    if state in ("single", "double"):
        raise _parse_error(source, "env", _line_number(text, opened_at), "a quoted value is never closed")
    if trailing_space_from is not None:
        del chars[trailing_space_from:]
    return "".join(chars), index, quote


def _render_env_value(value, quote=""):
    if quote == "'" and "'" not in value:
        return "'%s'" % value
    if quote == "" and _ENV_BARE_VALUE_RE.fullmatch(value):
        return value
    return '"%s"' % re.sub(r'([\\"`$])', r"\\\1", value)


def _read_env(text, target, source):
    values = {}
    for assignment in _parse_env(text, source):
        values[assignment.name] = assignment.value  # the last assignment wins, as in systemd
    return values.get(target.id_name), values.get(target.secret_name)


def _set_env(text, target, access_key_id, secret_access_key, source):
    assignments = _parse_env(text, source)
    eol = _newline_style(text)
    edits = []
    missing = []
    for name, value in ((target.id_name, access_key_id), (target.secret_name, secret_access_key)):
        found = [assignment for assignment in assignments if assignment.name == name]
        if not found:
            missing.append("%s=%s%s" % (name, _render_env_value(value), eol))
        # Every assignment of the name is updated, so no stale secret stays in the file.
        edits.extend(
            (assignment.value_start, assignment.value_end, _render_env_value(value, assignment.quote))
            for assignment in found
            if assignment.value != value
        )
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    if missing:
        if text and not _ends_with_newline(text):
            text += eol
        text += "".join(missing)
    return text


# --------------------------------------------------------------------------- json


def _parse_json(text, source):
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", 0)
        reason = "%s (column %d)" % (exc.msg, exc.colno) if hasattr(exc, "msg") else "not JSON"
        raise _parse_error(source, "json", line, reason)
    if not isinstance(data, dict):
        raise _parse_error(source, "json", 1, "the top level must be a JSON object, found %s" % type(data).__name__)
    return data


def _read_json(text, target, source):
    data = _parse_json(text, source)
    return tuple(
        data.get(name) if isinstance(data.get(name), str) else None for name in (target.id_name, target.secret_name)
    )


def _json_indent(text):
    match = re.search(r"[\r\n]([ \t]+)\S", text)
    if match:
        return match.group(1)
    if text.strip():
        return None  # a one-line document stays on one line
    return 2


def _set_json(text, target, access_key_id, secret_access_key, source):
    data = _parse_json(text, source)
    if data.get(target.id_name) == access_key_id and data.get(target.secret_name) == secret_access_key:
        return text
    data[target.id_name] = access_key_id
    data[target.secret_name] = secret_access_key
    eol = _newline_style(text)
    rendered = json.dumps(data, indent=_json_indent(text), ensure_ascii=False)
    return rendered.replace("\n", eol) + eol


# --------------------------------------------------------------------------- format dispatch

_READERS = {"aws_credentials": _read_ini, "env": _read_env, "json": _read_json}
_WRITERS = {"aws_credentials": _set_ini, "env": _set_env, "json": _set_json}


def read_credentials(text, target, source="<text>"):
    """(access key id, secret) currently in the text; None for what is missing."""
    return _READERS[target.format](text, target, source)


def set_credentials(text, target, access_key_id, secret_access_key, source="<text>"):
    """The text with the key written in, edited minimally; unchanged if the key is already there."""
    return _WRITERS[target.format](text, target, access_key_id, secret_access_key, source)


# --------------------------------------------------------------------------- files


@dataclass(frozen=True)
class FileState:
    exists: bool
    content: bytes = b""
    mode: int = None
    uid: int = None
    gid: int = None


ABSENT = FileState(False)


def load_file(path):
    """The file's bytes, mode and owner, or ABSENT. Refuses directories and special files."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return ABSENT
    if stat.S_ISDIR(info.st_mode):
        raise CredentialsFileError("%s is a directory; path must name the credentials file itself" % path)
    if not stat.S_ISREG(info.st_mode):
        raise CredentialsFileError("%s is not a regular file; refusing to read or replace it" % path)
    with open(path, "rb") as handle:
        info = os.fstat(handle.fileno())
        content = handle.read()
    return FileState(True, content, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)


def key_id_in(state, target, source):
    """The access key id held in a file state; None if absent or not set."""
    if not state.exists:
        return None
    text = decode(state.content, source, target.format)[1]
    return read_credentials(text, target, source)[0]


def _key_id_or_none(state, target, source):
    """Like key_id_in, but an unparseable file reads as None (used when restoring a broken file)."""
    try:
        return key_id_in(state, target, source)
    except CredentialsFileError:
        return None


def _fsync_directory(directory):
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some filesystems do not support fsync on directories
    finally:
        os.close(descriptor)


def _ids(uid, gid):
    return -1 if uid is None else uid, -1 if gid is None else gid


def write_atomic(path, content, mode, uid=None, gid=None):
    """Replace path with content: 0600 temp file in the same directory, fsync, owner, mode, rename."""
    directory = os.path.dirname(path) or "."
    descriptor, temp_path = tempfile.mkstemp(prefix="." + os.path.basename(path) + TEMP_INFIX, dir=directory)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
            if uid is not None or gid is not None:
                os.fchown(handle.fileno(), *_ids(uid, gid))
            os.fchmod(handle.fileno(), mode)  # after chown, which may clear set-id bits
        os.replace(temp_path, path)
    except BaseException:
        try:
            os.unlink(temp_path)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def set_metadata(path, mode, uid=None, gid=None):
    if uid is not None or gid is not None:
        os.chown(path, *_ids(uid, gid))
    os.chmod(path, mode)


# --------------------------------------------------------------------------- backups


@dataclass(frozen=True)
class Backup:
    path: str
    timestamp: str = None  # None for a file not made by this module
    access_key_id: str = None
    mode: int = None
    absent: bool = False  # a marker: the file did not exist before the write


def _backup_name_re(base):
    return re.compile(
        r"^%s\.(?P<timestamp>\d{8}T\d{12}Z)(?:\.(?P<absent>absent)|(?:\.(?P<key_id>[A-Za-z0-9]{1,128}))?"
        r"\.m(?P<mode>[0-7]{4}))%s$" % (re.escape(base), re.escape(BACKUP_SUFFIX))
    )


def _temp_name_re(base):
    return re.compile(r"^\.%s%s[A-Za-z0-9_]+$" % (re.escape(base), re.escape(TEMP_INFIX)))


def backup_name(base, timestamp, access_key_id=None, mode=None, absent=False):
    """File name of a backup (or of an absent-marker) of base; the key id, never the secret."""
    if absent:
        return "%s.%s.absent%s" % (base, timestamp, BACKUP_SUFFIX)
    safe_id = re.sub(r"[^A-Za-z0-9]", "", access_key_id or "")[:128]
    id_part = "." + safe_id if safe_id else ""
    return "%s.%s%s.m%04o%s" % (base, timestamp, id_part, mode, BACKUP_SUFFIX)


def parse_backup(path, backup_path):
    """Backup record for backup_path; one not named like ours for path is a plain copy."""
    match = _backup_name_re(os.path.basename(path)).match(os.path.basename(backup_path))
    if match is None:
        return Backup(backup_path)
    return Backup(
        path=backup_path,
        timestamp=match.group("timestamp"),
        access_key_id=match.group("key_id"),
        mode=None if match.group("absent") else int(match.group("mode"), 8),
        absent=bool(match.group("absent")),
    )


def _directory_entries(directory):
    try:
        return os.listdir(directory)
    except FileNotFoundError:
        return []


def list_backups(path):
    """This module's backups and markers of path, oldest first."""
    directory, base = os.path.split(path)
    pattern = _backup_name_re(base)
    found = [parse_backup(path, os.path.join(directory, name)) for name in _directory_entries(directory or ".")
             if pattern.match(name)]
    return sorted(found, key=lambda backup: (backup.timestamp, backup.path))


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def make_backup(path, before, access_key_id, now=None):
    """Keep before next to path (0600, before's owner); a marker when there was no file. Returns its path."""
    directory, base = os.path.split(path)
    now = now or _utc_now()
    for attempt in range(1000):
        timestamp = (now + datetime.timedelta(microseconds=attempt)).strftime(_TIMESTAMP_FORMAT)
        name = backup_name(base, timestamp, access_key_id, before.mode, absent=not before.exists)
        backup_path = os.path.join(directory, name)
        try:
            descriptor = os.open(backup_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:
            continue
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(before.content)
                handle.flush()
                if before.exists:
                    os.fchown(handle.fileno(), before.uid, before.gid)
                os.fchmod(handle.fileno(), 0o600)
                os.fsync(handle.fileno())
        except BaseException:
            try:
                os.unlink(backup_path)
            except OSError:
                pass
            raise
        _fsync_directory(directory or ".")
        return backup_path
    raise CredentialsFileError("could not find a free backup file name next to %s" % path)


# --------------------------------------------------------------------------- plans


def _resolve(path):
    """The file that is read and replaced: symlinks are followed so the link itself survives."""
    return os.path.realpath(os.path.expanduser(path))


def _require_directory(path, given):
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        raise CredentialsFileError(
            "directory %s of path %s does not exist; create it first (for example with ansible.builtin.file "
            "state=directory)" % (directory, given)
        )


@dataclass(frozen=True)
class PresentPlan:
    path: str  # resolved path
    before: FileState
    after: FileState
    previous_access_key_id: str
    access_key_id: str
    previous_secret_set: bool
    secret_changed: bool

    @property
    def content_changed(self):
        return not self.before.exists or self.before.content != self.after.content

    @property
    def metadata_changed(self):
        before, after = self.before, self.after
        return before.exists and (before.mode, before.uid, before.gid) != (after.mode, after.uid, after.gid)

    @property
    def changed(self):
        return self.content_changed or self.metadata_changed


def plan_present(path, target, access_key_id, secret_access_key, mode=DEFAULT_MODE, owner=None, group=None):
    """What state=present would do; reads only."""
    check_key_material("access_key_id", access_key_id)
    check_key_material("secret_access_key", secret_access_key)
    real = _resolve(path)
    _require_directory(real, path)
    uid, gid = resolve_owner(owner), resolve_group(group)
    before = load_file(real)
    bom, text = decode(before.content, real, target.format) if before.exists else ("", "")
    previous_id, previous_secret = read_credentials(text, target, real)
    new_text = set_credentials(text, target, access_key_id, secret_access_key, real)
    after = FileState(
        exists=True,
        content=before.content if new_text == text else (bom + new_text).encode("utf-8"),
        mode=mode,
        uid=uid if uid is not None else before.uid,
        gid=gid if gid is not None else before.gid,
    )
    return PresentPlan(
        path=real,
        before=before,
        after=after,
        previous_access_key_id=previous_id,
        access_key_id=access_key_id,
        previous_secret_set=previous_secret is not None,
        secret_changed=previous_secret != secret_access_key,
    )


def apply_present(plan, backup=True, now=None):
    """Carry out a PresentPlan; returns the backup (or marker) path, or None."""
    if not plan.changed:
        return None
    backup_path = make_backup(plan.path, plan.before, plan.previous_access_key_id, now) if backup else None
    after = plan.after
    if plan.content_changed:
        write_atomic(plan.path, after.content, after.mode, after.uid, after.gid)
    else:
        set_metadata(plan.path, after.mode, after.uid, after.gid)
    return backup_path


@dataclass(frozen=True)
class RestorePlan:
    path: str
    backup: Backup
    before: FileState
    after: FileState
    previous_access_key_id: str
    access_key_id: str

    @property
    def changed(self):
        return self.before != self.after


def _backup_holding(path, backups, access_key_id):
    """The newest backup holding access_key_id; else the newest backup if it marks an absent file."""
    holding = [backup for backup in backups if backup.access_key_id == access_key_id]
    if holding:
        return holding[-1]
    if backups and backups[-1].absent:
        return backups[-1]
    raise CredentialsFileError(
        "no backup of %s holds access key %s (backups hold: %s); nothing to restore. Pass backup_file to restore "
        "another backup" % (path, access_key_id, ", ".join(sorted({b.access_key_id or "absent" for b in backups})) or "none")
    )


def plan_restore(path, target, backup_file=None, access_key_id=None):
    """What state=restored would do: backup_file, else the newest backup of path (holding access_key_id if given)."""
    real = _resolve(path)
    if backup_file:
        backup_path = os.path.expanduser(backup_file)
        if not os.path.isfile(backup_path):
            raise CredentialsFileError("backup_file %s does not exist or is not a file; nothing to restore" % backup_file)
        backup = parse_backup(real, backup_path)
    else:
        backups = list_backups(real)
        if not backups:
            raise CredentialsFileError(
                "no backup of %s found (looked for %s.*%s in %s); nothing to restore. Pass backup_file, or make "
                "sure the write ran with backup=true" % (path, os.path.basename(real), BACKUP_SUFFIX, os.path.dirname(real))
            )
        backup = _backup_holding(path, backups, access_key_id) if access_key_id else backups[-1]
    before = load_file(real)
    if backup.absent:
        after = ABSENT
    else:
        copy = load_file(backup.path)
        after = FileState(True, copy.content, copy.mode if backup.mode is None else backup.mode, copy.uid, copy.gid)
    return RestorePlan(
        path=real,
        backup=backup,
        before=before,
        after=after,
        previous_access_key_id=_key_id_or_none(before, target, real),
        access_key_id=_key_id_or_none(after, target, backup.path) if after.exists else None,
    )


def apply_restore(plan):
    if not plan.changed:
        return
    before, after = plan.before, plan.after
    if not after.exists:
        os.unlink(plan.path)
        _fsync_directory(os.path.dirname(plan.path) or ".")
    elif before.exists and before.content == after.content:
        set_metadata(plan.path, after.mode, after.uid, after.gid)
    else:
        write_atomic(plan.path, after.content, after.mode, after.uid, after.gid)


def plan_backups_absent(path):
    """Backups, markers and stale temp files of path left by this module (all may hold a secret)."""
    real = _resolve(path)
    directory, base = os.path.split(real)
    patterns = (_backup_name_re(base), _temp_name_re(base))
    return sorted(
        os.path.join(directory, name)
        for name in _directory_entries(directory or ".")
        if any(pattern.match(name) for pattern in patterns)
    )


def remove_files(paths):
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    for directory in sorted({os.path.dirname(path) or "." for path in paths}):
        _fsync_directory(directory)


# --------------------------------------------------------------------------- redacted description


def _user_name(uid):
    if uid is None:
        uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid):
    if gid is None:
        gid = os.getegid()
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def managed_lines(target, access_key_id, secret_note):
    """The managed entries as they look in the file, with the secret replaced by secret_note."""
    shown_id = access_key_id if access_key_id is not None else NOT_SET
    if target.format == "aws_credentials":
        return ["[%s]" % target.profile, "%s = %s" % (target.id_name, shown_id), "%s = %s" % (target.secret_name, secret_note)]
    if target.format == "env":
        return ["%s=%s" % (target.id_name, shown_id), "%s=%s" % (target.secret_name, secret_note)]
    return ['"%s": "%s"' % (target.id_name, shown_id), '"%s": "%s"' % (target.secret_name, secret_note)]


def describe(target, path, state, access_key_id, secret_note):
    """Short, secret-free text of a file state for a diff."""
    if not state.exists:
        return "path: %s\nstate: absent\n" % path
    lines = ["path: %s" % path, "state: present"]
    lines += managed_lines(target, access_key_id, secret_note)
    mode = DEFAULT_MODE if state.mode is None else state.mode
    lines += ["mode: %04o" % mode, "owner: %s" % _user_name(state.uid), "group: %s" % _group_name(state.gid)]
    return "\n".join(lines) + "\n"


def present_diff(plan, target, path):
    before_secret = REDACTED if plan.previous_secret_set else NOT_SET
    after_secret = REDACTED + (" (changed)" if plan.secret_changed else "")
    return {
        "before_header": path,
        "after_header": path,
        "before": describe(target, path, plan.before, plan.previous_access_key_id, before_secret),
        "after": describe(target, path, plan.after, plan.access_key_id, after_secret),
    }


def restore_diff(plan, target, path):
    before_secret = REDACTED if plan.previous_access_key_id is not None else NOT_SET
    after_secret = REDACTED if plan.access_key_id is not None else NOT_SET
    if plan.before.exists and plan.after.exists and plan.before.content != plan.after.content:
        after_secret += " (restored)"
    return {
        "before_header": path,
        "after_header": "%s (from %s)" % (path, plan.backup.path),
        "before": describe(target, path, plan.before, plan.previous_access_key_id, before_secret),
        "after": describe(target, path, plan.after, plan.access_key_id, after_secret),
    }


def backups_diff(path, removed):
    listed = "".join("  - %s\n" % name for name in removed) if removed else "  []\n"
    return {
        "before_header": "backups of %s" % path,
        "after_header": "backups of %s" % path,
        "before": "backups:\n" + listed,
        "after": "backups:\n  []\n",
    }


# --------------------------------------------------------------------------- entry point


def run(params, check_mode=False, diff=False):
    """Do what the module parameters ask. Returns (result, warnings); raises CredentialsFileError."""
    state = params.get("state") or "present"
    path = params["path"]
    fmt = params.get("format") or "aws_credentials"
    profile = params.get("profile") or "default"
    warnings = []
    if fmt != "aws_credentials" and profile != "default":
        warnings.append("profile is used only with format=aws_credentials; it is ignored for format=%s" % fmt)
    if fmt == "aws_credentials" and params.get("variable_names"):
        warnings.append("variable_names is used only with format=env or format=json; it is ignored for aws_credentials")
    if params.get("return_secret") and state != "read":
        warnings.append("return_secret is used only with state=read; it is ignored for state=%s" % state)
    if params.get("backup_access_key_id") and state != "restored":
        warnings.append("backup_access_key_id is used only with state=restored; it is ignored for state=%s" % state)
    if params.get("backup_file") and state != "restored":
        warnings.append("backup_file is used only with state=restored; it is ignored for state=%s" % state)
    target = make_target(fmt, profile, params.get("variable_names") if fmt != "aws_credentials" else None)
    try:
        if state == "present":
            result = _run_present(params, path, target, check_mode, diff, warnings)
        elif state == "read":
            result = _run_read(path, target, return_secret=bool(params.get("return_secret")))
        elif state == "restored":
            result = _run_restored(params, path, target, check_mode, diff)
        elif state == "backups_absent":
            result = _run_backups_absent(path, check_mode, diff)
        else:
            raise CredentialsFileError("state must be one of %s, got '%s'" % (", ".join(STATES), state))
    except OSError as exc:
        raise CredentialsFileError(
            "state=%s on %s failed: %s%s" % (state, path, exc.strerror or exc, " (%s)" % exc.filename if exc.filename else "")
        )
    return result, warnings


def _run_present(params, path, target, check_mode, diff, warnings):
    mode = parse_mode(DEFAULT_MODE if params.get("mode") is None else params["mode"])
    if mode & 0o007:
        warnings.append("mode %04o lets every user on the host read or use %s, which holds a secret key" % (mode, path))
    plan = plan_present(
        path, target, params.get("access_key_id"), params.get("secret_access_key"),
        mode=mode, owner=params.get("owner"), group=params.get("group"),
    )
    backup = params.get("backup")
    backup_file = None if check_mode else apply_present(plan, backup=True if backup is None else backup)
    result = {
        "changed": plan.changed,
        "path": path,
        "access_key_id": plan.access_key_id,
        "previous_access_key_id": plan.previous_access_key_id,
        "backup_file": backup_file,
    }
    if diff:
        result["diff"] = present_diff(plan, target, path)
    return result


def _run_read(path, target, return_secret=False):
    real = _resolve(path)
    state = load_file(real)
    result = {"changed": False, "path": path, "exists": state.exists, "access_key_id": key_id_in(state, target, real)}
    if return_secret:
        # Resuming a rotation: the new key's secret survives only on the hosts that already hold it.
        result["secret_access_key"] = read_credentials(decode(state.content, real, target.format)[1], target, real)[1] if state.exists else None
    return result


def _run_restored(params, path, target, check_mode, diff):
    plan = plan_restore(path, target, params.get("backup_file"), access_key_id=params.get("backup_access_key_id"))
    if not check_mode:
        apply_restore(plan)
    result = {
        "changed": plan.changed,
        "path": path,
        "access_key_id": plan.access_key_id,
        "previous_access_key_id": plan.previous_access_key_id,
        "backup_file": plan.backup.path,
    }
    if diff:
        result["diff"] = restore_diff(plan, target, path)
    return result


def _run_backups_absent(path, check_mode, diff):
    removed = plan_backups_absent(path)
    if not check_mode:
        remove_files(removed)
    result = {"changed": bool(removed), "path": path, "removed": removed}
    if diff:
        result["diff"] = backups_diff(path, removed)
    return result
