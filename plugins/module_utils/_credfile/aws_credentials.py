# -*- coding: utf-8 -*-

# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""The aws_credentials format: the INI file read exactly as botocore's configloader.raw_config_parse reads it
(Python's RawConfigParser with its defaults, [DEFAULT] inherited, one level of nested values); a file botocore
cannot parse is refused. Every edit is parsed again: the key reads back as written and nothing else changed."""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field

from ansible_collections.rotor.iam.plugins.module_utils._credfile.common import (
    CredentialsFileError,
    ends_with_newline,
    newline_style,
    parse_error,
    printable,
    split_lines,
)

# The stdlib's own patterns, so the host's Python reads sections and options as its configparser does.
_SECTCRE = configparser.RawConfigParser.SECTCRE
_OPTCRE = configparser.RawConfigParser.OPTCRE
_NONSPACECRE = configparser.RawConfigParser.NONSPACECRE


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
