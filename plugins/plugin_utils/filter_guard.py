# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""The one error guard of rotor.iam's filters.

``filter_guard(name, user_errors=..., expects=...)`` wraps a filter function so that any input it cannot use ends in
an ``AnsibleFilterError`` that names the filter (``rotor.iam.NAME``) and its input, and says what to pass:

- an error of ``user_errors`` (the model's own errors, whose messages are written for the user and never carry a
  secret) is shown as it is: ``rotor.iam.audit_report: <its message>``;
- any other error (a malformed input reaching a ``KeyError``, ``TypeError``...) is named by its class and by the
  arguments the filter was given with their types, never their values, since a value may be a secret:
  ``rotor.iam.audit_json: could not use its input (report: list): TypeError. Pass the report of rotor.iam.audit_report``.

The original exception is not chained (``from None``): its text could quote a value, and Ansible would print it as
the error's cause. Errors Ansible raises itself (an undefined variable) pass through unchanged.
"""

from __future__ import annotations

import functools
import inspect

from ansible.errors import AnsibleError
from ansible.errors import AnsibleFilterError


_TYPE_NAMES = ((bool, "bool"), (dict, "dict"), (list, "list"), (str, "string"), (int, "int"), (float, "float"))


def _type_name(value):
    if value is None:
        return "null"
    return next((name for kind, name in _TYPE_NAMES if isinstance(value, kind)), type(value).__name__)


def describe_input(func, args, kwargs):
    """The arguments a filter was given, by name with their types (never their values): ``report: dict, max_rows: int``."""
    try:
        bound = inspect.signature(func).bind_partial(*args, **kwargs)
        given = list(bound.arguments.items())
    except (TypeError, ValueError):
        given = [("input" if index == 0 else "argument %d" % index, value) for index, value in enumerate(args)]
        given += list(kwargs.items())
    return ", ".join("%s: %s" % (name, _type_name(value)) for name, value in given) or "no input"


def guard_message(name, func, args, kwargs, exc, user_errors=(), expects=None):
    """The message of the AnsibleFilterError raised for exc; never a value of the input."""
    if user_errors and isinstance(exc, user_errors):
        return "rotor.iam.%s: %s" % (name, exc)
    given = describe_input(func, args, kwargs)
    message = "rotor.iam.%s: could not use its input (%s): %s" % (name, given, type(exc).__name__)
    return message + (". Pass %s" % expects if expects else "")


def filter_guard(name, user_errors=(), expects=None):
    """Decorator of the filter rotor.iam.NAME: a bad input ends in an AnsibleFilterError naming the filter and the
    input, never in a traceback or a secret. ``user_errors``: exception classes whose message is fit for the user;
    ``expects``: what the filter's input should be, said in the message."""
    user_errors = tuple(user_errors) if isinstance(user_errors, (list, tuple)) else (user_errors,)

    def decorate(func):
        @functools.wraps(func)
        def guarded(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            except AnsibleError:
                raise  # Ansible's own (an undefined variable, another guarded filter): already clear
            except Exception as exc:  # pylint: disable=broad-except
                raise AnsibleFilterError(guard_message(name, func, args, kwargs, exc, user_errors, expects)) from None

        return guarded

    return decorate
