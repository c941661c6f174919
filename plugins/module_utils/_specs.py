# -*- coding: utf-8 -*-

# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""The argument specs of the contracts several modules share, each declared once.

- ``credentials_file_entry_spec()``: one credentials file (rotor.iam.credentials_file's file options, an entry of
  rotor.iam.host_credentials' ``files``, an entry of the role's ``rotor_credentials_files``).
- ``health_check_spec()``: one health check (rotor.iam.health_check's check options, rotor.iam.host_credentials'
  ``health_check``, the role's ``rotor_health_check`` and a destination's ``health_check``).
- ``restart_spec()``: what is restarted before a health check.

tests/unit/plugins/module_utils/test_specs.py checks the role's meta/argument_specs.yml against these.
``check_suboptions`` validates a dict given for such an option the way AnsibleModule does, with a message that
names the entry (``files[1].format``), for callers that get their options from outside an AnsibleModule.
"""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

CREDENTIALS_FILE_FORMATS = ("aws_credentials", "env", "json")
HEALTH_CHECK_MUTUALLY_EXCLUSIVE = (("url", "command"),)

# How a failed conversion to a type is worded.
_TYPE_WORDS = {"int": ("a whole number", "whole numbers"), "float": ("a number", "numbers"),
               "bool": ("true or false", "booleans"), "dict": ("a dict", "dicts"), "list": ("a list", "lists"),
               "str": ("a string", "strings"), "path": ("a path", "paths")}


def credentials_file_entry_spec():
    """Where a credentials file is and how it is written: its path, format, location of the key, owner and mode."""
    return dict(
        path=dict(type="path", required=True),
        format=dict(type="str", default="aws_credentials", choices=list(CREDENTIALS_FILE_FORMATS)),
        profile=dict(type="str", default="default"),
        variable_names=dict(
            type="dict",
            options=dict(
                access_key_id=dict(type="str", no_log=False),
                secret_access_key=dict(type="str", no_log=False),
            ),
        ),
        owner=dict(type="str"),
        group=dict(type="str"),
        mode=dict(type="raw"),
        create=dict(type="bool", default=False),
    )


def health_check_spec():
    """One health check: an HTTP URL or a command, and how long to retry it."""
    return dict(
        url=dict(type="str"),
        command=dict(type="str"),
        status_code=dict(type="list", elements="int", default=[200]),
        retries=dict(type="int", default=5),
        delay=dict(type="float", default=2),
        timeout=dict(type="float", default=10),
    )


def health_check_option(**extra):
    """The health check as one option (a dict with the health check's suboptions)."""
    exclusive = [list(group) for group in HEALTH_CHECK_MUTUALLY_EXCLUSIVE]
    return dict(type="dict", options=health_check_spec(), mutually_exclusive=exclusive, **extra)


def restart_spec():
    """What is restarted, in order, after a key changes and before the health check."""
    return dict(
        restart_services=dict(type="list", elements="str", default=[]),
        restart_command=dict(type="str"),
    )


class OptionError(ValueError):
    """An option is invalid; the message names it (``files[1].format``) and says what it takes."""


def _shown(value, limit=40):
    text = str(value).encode("ascii", "backslashreplace").decode("ascii")
    text = "".join(char if 0x20 <= ord(char) < 0x7F else "\\x%02x" % ord(char) for char in text)
    return text if len(text) <= limit else text[:limit] + "..."


def _single(name, option):
    """A spec of one option, without what check_suboptions checks itself."""
    return {name: {key: value for key, value in option.items() if key not in ("required", "options", "mutually_exclusive")}}


def _conversion_message(label, name, option, value):
    where = "%s.%s" % (label, name)
    shown = "" if option.get("no_log") else ", got '%s'" % _shown(value)
    if option.get("choices") is not None and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return "%s: %s must be one of %s%s" % (where, name, ", ".join(str(choice) for choice in option["choices"]),
                                               shown)
    kind = option.get("type", "str")
    if kind == "list" and option.get("elements") in _TYPE_WORDS:
        one, many = _TYPE_WORDS[option["elements"]]
        return "%s must be %s or a list of %s%s" % (where, one, many, shown)
    return "%s must be %s%s" % (where, _TYPE_WORDS.get(kind, ("a " + kind,))[0], shown)


def check_suboptions(label, spec, value, mutually_exclusive=()):
    """value, the dict given for the option named label, validated against spec as AnsibleModule validates
    suboptions (types converted, defaults filled). Raises OptionError naming label and the key at fault."""
    if not isinstance(value, dict):
        raise OptionError("%s must be a dict (%s), got %s" % (label, ", ".join(spec), type(value).__name__))
    unknown = sorted(str(key) for key in value if key not in spec)
    if unknown:
        raise OptionError("%s: unknown key(s) %s; it takes %s"
                          % (label, ", ".join("'%s'" % _shown(key) for key in unknown), ", ".join(spec)))
    for name, option in spec.items():
        if option.get("required") and value.get(name) in (None, ""):
            raise OptionError("%s: %s is required" % (label, name))
    for group in mutually_exclusive:
        given = [name for name in group if value.get(name) not in (None, "")]
        if len(given) > 1:
            raise OptionError("%s: %s are mutually exclusive; give one of them" % (label, " and ".join(given)))
    for name, option in spec.items():
        if option.get("options") and isinstance(value.get(name), dict):
            check_suboptions("%s.%s" % (label, name), option["options"], value[name],
                             option.get("mutually_exclusive") or ())
    result = ArgumentSpecValidator(spec).validate(value)
    if not result.error_messages:
        return result.validated_parameters
    for name, option in spec.items():
        if name in value and ArgumentSpecValidator(_single(name, option)).validate({name: value[name]}).error_messages:
            raise OptionError(_conversion_message(label, name, option, value[name]))
    raise OptionError("%s: %s" % (label, result.error_messages[0]))
