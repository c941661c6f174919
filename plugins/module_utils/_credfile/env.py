# -*- coding: utf-8 -*-

# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""The env format: NAME=value lines read exactly as systemd reads EnvironmentFile= (src/basic/env-file.c);
where a reading would depend on the systemd version or differ from a shell's, the file is refused. Every edit
is parsed again: the key reads back as written and nothing else changed."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ansible_collections.rotor.iam.plugins.module_utils._credfile.common import (
    CredentialsFileError,
    ENV_NAME_RE,
    ends_with_newline,
    has_control,
    line_at,
    newline_style,
    parse_error,
)


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
                source, "env", line_at(text, index),
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
        raise parse_error(source, "env", line_at(text, opened_at), "a quoted value is never closed")
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
                source, "env", line_at(text, assignment.key_start),
                "'export %s=' is ignored by systemd's EnvironmentFile= (a shell would read it); "
                "remove 'export'" % words[1],
            )
        if assignment.name in managed and has_control(assignment.value.replace("\t", "").replace("\n", "")):
            raise parse_error(
                source, "env", line_at(text, assignment.key_start),
                "the value of %s holds control characters, which systemd drops" % assignment.name,
            )


def env_view(assignments):
    """Name -> value as systemd exports them: invalid names dropped, the last assignment wins."""
    view = {}
    for assignment in assignments:
        if ENV_NAME_RE.match(assignment.name):
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
