# -*- coding: utf-8 -*-

# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""The json format: a top-level object, edited in place so every other byte (numbers as written, key order,
spacing) is kept. Every edit is parsed again: the key reads back as written and nothing else changed.
(Named json_file so that it never stands for the standard library's json.)"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ansible_collections.rotor.iam.plugins.module_utils._credfile.common import (
    CredentialsFileError,
    line_at,
    newline_style,
    parse_error,
    printable,
)


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
    return parse_error(source, "json", line_at(text, offset), reason)


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
