# -*- coding: utf-8 -*-

# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""Read and minimally edit the three credentials file formats, as their real readers read them.

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

import configparser
import json
import re
from dataclasses import dataclass, field

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
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_NEWLINE_RE = re.compile(r"\r\n|\r|\n")

# The stdlib's own patterns, so the host's Python reads sections and options as its configparser does.
_SECTCRE = configparser.RawConfigParser.SECTCRE
_OPTCRE = configparser.RawConfigParser.OPTCRE
_NONSPACECRE = configparser.RawConfigParser.NONSPACECRE


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
        if fmt == "env" and not _ENV_NAME_RE.match(name):
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


# --------------------------------------------------------------------------- aws_credentials (INI, as botocore)


@dataclass
class _IniOption:
    key: str
    line: int  # index of the "key = value" line
    end: int  # index after its last continuation line
    indent: str
    value_start: int  # offsets of the value inside the line's content
    value_end: int
    parts: list = field(default_factory=list)

    @property
    def value(self):
        return "\n".join(self.parts).rstrip()


@dataclass
class _IniSection:
    name: str
    header: int  # index of the header line
    indent: str
    options: dict = field(default_factory=dict)


@dataclass
class IniDocument:
    lines: list
    sections: dict  # name -> _IniSection, without DEFAULT
    defaults: dict  # key -> _IniOption of the [DEFAULT] sections


def parse_ini(text, source="<text>"):
    """The file as RawConfigParser (strict, '=' and ':', no inline comments) reads it, with positions."""
    lines = split_lines(text)
    sections = {}
    defaults = _IniSection("DEFAULT", -1, "")
    section = None
    option = None  # configparser's optname: the option continuation lines extend
    indent_level = 0
    fmt = "aws_credentials"
    for index, line in enumerate(lines):
        content = line.rstrip("\r\n")
        stripped = content.strip()
        number = index + 1
        if not stripped or stripped.startswith(("#", ";")):
            if not stripped and option is not None:
                option.parts.append("")  # blank lines inside a value are kept, comments are not
            continue
        first = _NONSPACECRE.search(content)
        indent = first.start() if first else 0
        if section is not None and option is not None and indent > indent_level:
            option.parts.append(stripped)
            option.end = index + 1
            continue
        indent_level = indent
        header = _SECTCRE.match(stripped)
        if header:
            name = header.group("header")
            if name == "DEFAULT":
                section = defaults
            elif name in sections:
                raise parse_error(
                    source, fmt, number,
                    "profile [%s] appears a second time (first at line %d); botocore refuses the file"
                    % (printable(name), sections[name].header + 1),
                )
            else:
                section = sections[name] = _IniSection(name, index, content[:indent])
            option = None
            continue
        if section is None:
            raise parse_error(source, fmt, number, "a setting appears before the first [profile] header")
        match = _OPTCRE.match(stripped)
        if match is None or not match.group("option"):
            raise parse_error(source, fmt, number, "expected a [profile] header, 'key = value' or a comment")
        key = match.group("option").rstrip().lower()
        if key in section.options:
            raise parse_error(
                source, fmt, number,
                "'%s' appears twice in [%s] (first at line %d); botocore refuses the file"
                % (printable(key), printable(section.name), section.options[key].line + 1),
            )
        lead = len(content) - len(content.lstrip())
        option = section.options[key] = _IniOption(
            key, index, index + 1, content[:lead], lead + match.start("value"), lead + match.end("value"),
            [match.group("value").strip()],
        )
    return IniDocument(lines, sections, defaults.options)


def _nested(value, source, key, section):
    parsed = {}
    for line in value.splitlines():
        line = line.strip()
        if not line:
            continue
        if "=" not in line:
            raise parse_error(
                source, "aws_credentials", 0,
                "the nested value of '%s' in [%s] has a line without '='; botocore refuses the file"
                % (printable(key), printable(section)),
            )
        name, item = line.split("=", 1)
        parsed[name.strip()] = item.strip()
    return parsed


def _section_view(own, defaults, source, name):
    merged = {key: option.value for key, option in defaults.items()}
    merged.update((key, option.value) for key, option in own.items())
    return {key: _nested(value, source, key, name) if value.startswith("\n") else value
            for key, value in merged.items()}


def ini_view(document, source="<text>"):
    """What botocore.configloader.raw_config_parse returns for the file."""
    return {name: _section_view(section.options, document.defaults, source, name)
            for name, section in document.sections.items()}


def _ini_value(view, target, key, source):
    value = view.get(target.profile, {}).get(key)
    if isinstance(value, dict):
        raise parse_error(
            source, "aws_credentials", 0,
            "'%s' in [%s] is a nested block, not a value" % (key, printable(target.profile)),
        )
    return value


def read_ini(text, target, source):
    view = ini_view(parse_ini(text, source), source)
    return _ini_value(view, target, target.id_name, source), _ini_value(view, target, target.secret_name, source)


def _option_line(indent, key, value, eol):
    return "%s%s = %s%s" % (indent, key, value, eol)


def set_ini(text, target, access_key_id, secret_access_key, source):
    document = parse_ini(text, source)
    lines = document.lines
    eol = newline_style(text)
    section = document.sections.get(target.profile)
    wanted = ((target.id_name, access_key_id), (target.secret_name, secret_access_key))
    edits = []  # (start, end, replacement lines); start == end inserts
    if section is None:
        block = ["[%s]%s" % (target.profile, eol)] + [_option_line("", key, value, eol) for key, value in wanted]
        if lines and lines[-1].strip():
            block.insert(0, eol)  # a blank line between the last profile and the new one
        edits.append((len(lines), len(lines), block))
    else:
        for key, value in wanted:
            option = section.options.get(key)
            if option is not None and option.value != value:
                content = lines[option.line].rstrip("\r\n")
                ending = lines[option.line][len(content):] or eol
                new_line = content[:option.value_start] + value + content[option.value_end:] + ending
                # Continuation lines go with the old value; comments and blank lines between them stay.
                kept = [line for line in lines[option.line + 1:option.end]
                        if not line.strip() or line.strip().startswith(("#", ";"))]
                edits.append((option.line, option.end, [new_line] + kept))
        id_option = section.options.get(target.id_name)
        secret_option = section.options.get(target.secret_name)
        # A new line indented like the line that ends the previous value can never read as its continuation.
        if id_option is None and secret_option is None:
            # Right after the header, indented like the profile's first setting, which then cannot continue it.
            first = min(section.options.values(), key=lambda option: option.line, default=None)
            indent = section.indent if first is None else first.indent
            edits.append((section.header + 1, section.header + 1,
                          [_option_line(indent, key, value, eol) for key, value in wanted]))
        elif id_option is None:
            edits.append((secret_option.line, secret_option.line,
                          [_option_line(secret_option.indent, target.id_name, access_key_id, eol)]))
        elif secret_option is None:
            edits.append((id_option.end, id_option.end,
                          [_option_line(id_option.indent, target.secret_name, secret_access_key, eol)]))
    new_text = _apply_line_edits(lines, edits, eol)
    _verify_ini(text, new_text, document, target, wanted, source)
    return new_text


def _apply_line_edits(lines, edits, eol):
    result = list(lines)
    for start, end, replacement in sorted(edits, key=lambda edit: edit[0], reverse=True):
        result[start:end] = replacement
    # A last line without newline may now be followed by inserted lines.
    return "".join(line if index == len(result) - 1 or ends_with_newline(line) else line + eol
                   for index, line in enumerate(result))


def _verify_ini(text, new_text, document, target, wanted, source):
    before = ini_view(document, source)
    expected = dict(before)
    try:
        # A new profile inherits [DEFAULT]; botocore may refuse what it inherits (a broken nested value).
        profile = dict(before.get(target.profile) or _section_view({}, document.defaults, source, target.profile))
        profile.update(wanted)
        expected[target.profile] = profile
        after = ini_view(parse_ini(new_text, source), source)
    except CredentialsFileError:
        after = None
    if after != expected:
        raise CredentialsFileError(
            "refusing to edit %s: writing the key into [%s] would change how botocore reads the rest of the file; "
            "edit the file by hand" % (source, printable(target.profile))
        )


# --------------------------------------------------------------------------- env (systemd EnvironmentFile=)

_SHELL_NEED_ESCAPE = "\"\\`$"
_ENV_BARE_VALUE_RE = re.compile(r"[A-Za-z0-9_./+=:@%,-]+\Z")
_RUN_PRE_KEY = re.compile(r"[ \t\r\n]*")
_RUN_COMMENT = re.compile(r"[^\\\r\n]*")
_RUN_KEY = re.compile(r"[^=\r\n]*")
_RUN_VALUE = re.compile(r"[^\\\r\n]*")
_RUN_DOUBLE = re.compile(r"[^\"\\]*")


@dataclass
class EnvAssignment:
    name: str  # the key as systemd reads it (trailing blanks stripped)
    value: str
    key_start: int  # offset of the name; line numbers are counted only for messages
    value_start: int  # offsets of the raw value, from after '=' to the end of the line that ends it
    value_end: int
    quote: str  # the quote the raw value starts with, "" for none


def _line_at(text, offset):
    return text.count("\n", 0, offset) + text.count("\r", 0, offset) - text.count("\r\n", 0, offset) + 1


def parse_env(text, source="<text>"):
    """Assignments in file order, as systemd's parse_env_file_internal() reads them; linear in the size."""
    assignments = []
    length = len(text)
    index = 0
    while True:
        index = _RUN_PRE_KEY.match(text, index).end()
        if index >= length:
            break
        if text[index] in "#;":
            index = _skip_comment(text, index, source)
            continue
        key_start = index
        index = _RUN_KEY.match(text, index).end()
        if index >= length or text[index] != "=":
            continue  # a line without '=' is dropped by systemd; it stays in the file as it is
        name = text[key_start:index].rstrip(" \t")
        value_start = index + 1
        value, index, quote = _scan_env_value(text, value_start, source)
        assignments.append(EnvAssignment(name, value, key_start, value_start, index, quote))
    return assignments


def _skip_comment(text, index, source):
    """Offset after the comment that starts at index."""
    length = len(text)
    while True:
        index = _RUN_COMMENT.match(text, index).end()
        if index >= length:
            return index
        if text[index] != "\\":
            return index  # the newline; PRE_KEY skips it
        if index + 1 < length and text[index + 1] in "\r\n":
            raise parse_error(
                source, "env", _line_at(text, index),
                "a comment ends with a backslash; systemd before v254 reads the next line as part of the comment "
                "and later versions do not. Remove the backslash",
            )
        index += 2


def _scan_env_value(text, index, source):
    """(value, offset of the newline (or end) that ends it, opening quote), as systemd's value states read it."""
    length = len(text)
    chars = []
    size = 0
    trailing_blank_from = None  # systemd's last_value_whitespace, as a length of chars
    state = "pre"
    quote = text[index] if index < length and text[index] in "'\"" else ""
    opened_at = index
    while index < length:
        char = text[index]
        if state == "pre":
            if char in "\r\n":
                break
            index += 1
            if char == "'":
                state, opened_at = "single", index - 1
            elif char == '"':
                state, opened_at = "double", index - 1
            elif char == "\\":
                state = "escape"
            elif char not in " \t":
                state = "value"
                chars.append(char)
                size += 1
        elif state == "value":
            end = _RUN_VALUE.match(text, index).end()
            run = text[index:end]
            if run:
                kept = run.rstrip(" \t")
                if len(kept) == len(run):
                    trailing_blank_from = None
                elif kept:
                    trailing_blank_from = size + len(kept)
                elif trailing_blank_from is None:
                    trailing_blank_from = size
                chars.append(run)
                size += len(run)
            index = end
            if index >= length or text[index] in "\r\n":
                break
            state = "escape"  # a backslash
            trailing_blank_from = None
            index += 1
        elif state == "escape":
            state = "value"
            if char not in "\r\n":
                chars.append(char)  # an escaped newline is eaten: a continuation line
                size += 1
            index += 1
        elif state == "single":
            end = text.find("'", index)
            if end < 0:
                break
            chars.append(text[index:end])
            size += end - index
            state = "pre"
            index = end + 1
        else:  # double quotes, backslash escapes as systemd handles them
            end = _RUN_DOUBLE.match(text, index).end()
            chars.append(text[index:end])
            size += end - index
            index = end
            if index >= length:
                break
            if text[index] == '"':
                state = "pre"
                index += 1
                continue
            following = text[index + 1:index + 2]
            if following and following in _SHELL_NEED_ESCAPE:
                chars.append(following)
                size += 1
            elif following and following != "\n":
                chars.append("\\" + following)
                size += 2
            index += 2
    if state in ("single", "double"):
        raise parse_error(source, "env", _line_at(text, opened_at), "a quoted value is never closed")
    value = "".join(chars)
    if state == "value" and trailing_blank_from is not None:
        value = value[:trailing_blank_from]
    return value, index, quote


def _check_env_names(text, assignments, target, source):
    managed = (target.id_name, target.secret_name)
    for assignment in assignments:
        words = assignment.name.split()
        if len(words) == 2 and words[0] == "export" and words[1] in managed:
            raise parse_error(
                source, "env", _line_at(text, assignment.key_start),
                "'export %s=' is ignored by systemd's EnvironmentFile= (a shell would read it); "
                "remove 'export'" % words[1],
            )
        if assignment.name in managed and has_control(assignment.value.replace("\t", "").replace("\n", "")):
            raise parse_error(
                source, "env", _line_at(text, assignment.key_start),
                "the value of %s holds control characters, which systemd drops" % assignment.name,
            )


def env_view(assignments):
    """Name -> value as systemd exports them: invalid names dropped, the last assignment wins."""
    view = {}
    for assignment in assignments:
        if _ENV_NAME_RE.match(assignment.name):
            view[assignment.name] = assignment.value
    return view


def read_env(text, target, source):
    assignments = parse_env(text, source)
    _check_env_names(text, assignments, target, source)
    view = env_view(assignments)
    return view.get(target.id_name), view.get(target.secret_name)


def render_env_value(value, quote=""):
    if quote == "'" and "'" not in value and "\r" not in value and "\n" not in value:
        return "'%s'" % value
    if quote == "" and _ENV_BARE_VALUE_RE.match(value):
        return value
    return '"%s"' % re.sub(r'([\\"`$])', r"\\\1", value)


def set_env(text, target, access_key_id, secret_access_key, source):
    assignments = parse_env(text, source)
    _check_env_names(text, assignments, target, source)
    eol = newline_style(text)
    wanted = {target.id_name: access_key_id, target.secret_name: secret_access_key}
    pieces = []
    position = 0
    present = set()
    for assignment in assignments:
        if assignment.name not in wanted:
            continue
        present.add(assignment.name)
        value = wanted[assignment.name]
        if assignment.value == value:
            continue
        # Every assignment of the name is updated, so no stale secret stays in the file.
        pieces.append(text[position:assignment.value_start])
        pieces.append(render_env_value(value, assignment.quote))
        position = assignment.value_end
    pieces.append(text[position:])
    new_text = "".join(pieces)
    missing = [name for name in (target.id_name, target.secret_name) if name not in present]
    if missing:
        if new_text and not ends_with_newline(new_text):
            new_text += eol
        new_text += "".join("%s=%s%s" % (name, render_env_value(wanted[name]), eol) for name in missing)
    _verify_env(assignments, new_text, wanted, source)
    return new_text


def _verify_env(assignments, new_text, wanted, source):
    expected = [(a.name, wanted.get(a.name, a.value)) for a in assignments]
    expected += [(name, value) for name, value in wanted.items() if name not in {a.name for a in assignments}]
    try:
        after = [(a.name, a.value) for a in parse_env(new_text, source)]
    except CredentialsFileError:
        after = None
    if after != expected:
        raise CredentialsFileError(
            "refusing to edit %s: writing the key would change how systemd reads the rest of the file "
            "(does its last line end in a backslash?); edit the file by hand" % source
        )


# --------------------------------------------------------------------------- json


@dataclass
class _JsonMember:
    key: str
    key_start: int
    key_end: int
    value_start: int
    value_end: int
    value: object


@dataclass
class JsonDocument:
    text: str
    members: list  # top-level members in file order
    open_at: int  # offset of '{'
    close_at: int  # offset of the closing '}'


_JSON_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _json_error(source, text, offset, reason):
    return parse_error(source, "json", _line_at(text, offset), reason)


def parse_json(text, source="<text>"):
    """The top-level object with the offsets of its members; other values are parsed, not kept."""
    if not text.strip(" \t\r\n"):
        return None
    index = _JSON_WS.match(text).end()
    if text[index] != "{":
        try:
            _DECODER.raw_decode(text, index)
            kind = "a value that is not an object"
        except ValueError:
            kind = "no JSON object"
        raise _json_error(source, text, index, "the top level must be a JSON object, found %s" % kind)
    open_at = index
    members = []
    index = _JSON_WS.match(text, index + 1).end()
    if text.startswith("}", index):
        close_at = index
    else:
        while True:
            if not text.startswith('"', index):
                raise _json_error(source, text, index, "expected a member name in double quotes")
            key_start = index
            try:
                key, index = json.decoder.scanstring(text, index + 1)
            except ValueError as exc:
                raise _json_error(source, text, index, "bad member name (%s)" % getattr(exc, "msg", "invalid"))
            key_end = index
            index = _JSON_WS.match(text, index).end()
            if not text.startswith(":", index):
                raise _json_error(source, text, index, "expected ':' after a member name")
            value_start = _JSON_WS.match(text, index + 1).end()
            try:
                value, index = _DECODER.raw_decode(text, value_start)
            except ValueError as exc:
                raise _json_error(source, text, getattr(exc, "pos", value_start) or value_start,
                                  "bad value (%s)" % getattr(exc, "msg", "invalid"))
            members.append(_JsonMember(key, key_start, key_end, value_start, index, value))
            index = _JSON_WS.match(text, index).end()
            if text.startswith(",", index):
                index = _JSON_WS.match(text, index + 1).end()
                continue
            if text.startswith("}", index):
                close_at = index
                break
            raise _json_error(source, text, index, "expected ',' or '}' after a member")
    rest = _JSON_WS.match(text, close_at + 1).end()
    if rest != len(text):
        raise _json_error(source, text, rest, "extra data after the top-level object")
    return JsonDocument(text, members, open_at, close_at)


def _nested_paths(value, names, path):
    if isinstance(value, dict):
        for key, item in value.items():
            here = "%s.%s" % (path, key)
            if key in names:
                yield here
            yield from _nested_paths(item, names, here)
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield from _nested_paths(item, names, "%s[%d]" % (path, position))


def _check_json(document, target, source):
    names = (target.id_name, target.secret_name)
    seen = set()
    for member in document.members:
        if member.key in names:
            if member.key in seen:
                raise _json_error(source, document.text, member.key_start,
                                  "'%s' appears twice at the top level; readers disagree on which one counts"
                                  % printable(member.key))
            seen.add(member.key)
        nested = next(_nested_paths(member.value, names, "$." + printable(member.key)), None)
        if nested is not None:
            raise _json_error(
                source, document.text, member.value_start,
                "the key name sits in a nested object at %s; this module manages top-level keys only. "
                "Point variable_names at top-level keys or keep the key elsewhere" % nested,
            )


def _json_string(document, name, source):
    for member in document.members:
        if member.key == name:
            if member.value is None or isinstance(member.value, str):
                return member.value
            raise _json_error(source, document.text, member.value_start,
                              "'%s' is not a string" % printable(name))
    return None


def read_json(text, target, source):
    document = parse_json(text, source)
    if document is None:
        return None, None
    _check_json(document, target, source)
    return _json_string(document, target.id_name, source), _json_string(document, target.secret_name, source)


def _member_style(document):
    """(indent before a member or None for one line, separator after a name) as the file writes them."""
    text = document.text
    if document.members:
        first = document.members[0]
        between = text[document.open_at + 1:first.key_start]
        newline = max(between.rfind("\n"), between.rfind("\r"))
        indent = between[newline + 1:] if newline >= 0 else None
        return indent, text[first.key_end:first.value_start]
    inside = text[document.open_at + 1:document.close_at]
    return ("  " if ("\n" in inside or "\r" in inside) else None), ": "


def set_json(text, target, access_key_id, secret_access_key, source):
    wanted = {target.id_name: access_key_id, target.secret_name: secret_access_key}
    document = parse_json(text, source)
    eol = newline_style(text)
    if document is None:
        body = ",".join("%s  %s: %s" % (eol, json.dumps(name), json.dumps(value)) for name, value in wanted.items())
        return "{%s%s}%s" % (body, eol, eol)
    _check_json(document, target, source)
    pieces = []
    position = 0
    present = set()
    for member in document.members:
        if member.key in wanted:
            present.add(member.key)
            if member.value != wanted[member.key]:
                pieces.append(text[position:member.value_start])
                pieces.append(json.dumps(wanted[member.key]))
                position = member.value_end
    missing = [name for name in wanted if name not in present]
    if missing:
        indent, separator = _member_style(document)
        anchor = document.members[-1].value_end if document.members else document.open_at + 1
        pieces.append(text[position:anchor])
        lead = ("," if document.members else "")
        for number, name in enumerate(missing):
            comma = "," if number else lead
            gap = eol + indent if indent is not None else (" " if comma else "")
            pieces.append("%s%s%s%s%s" % (comma, gap, json.dumps(name), separator, json.dumps(wanted[name])))
        if not document.members and indent is not None:
            pieces.append(eol)
            pieces.append(text[anchor:document.close_at].lstrip(" \t\r\n"))
            position = document.close_at
        else:
            position = anchor
    pieces.append(text[position:])
    new_text = "".join(pieces)
    _verify_json(document, new_text, wanted, source)
    return new_text


def _verify_json(document, new_text, wanted, source):
    expected = [(m.key, wanted.get(m.key, m.value)) for m in document.members]
    expected += [(name, value) for name, value in wanted.items() if name not in {m.key for m in document.members}]
    try:
        after = [(m.key, m.value) for m in parse_json(new_text, source).members]
    except (CredentialsFileError, AttributeError):
        after = None
    if after != expected:
        raise CredentialsFileError("refusing to edit %s: the edited JSON would not read back as intended" % source)


# --------------------------------------------------------------------------- dispatch

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
        return any(_ENV_NAME_RE.match(assignment.name) for assignment in parse_env(text))
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
