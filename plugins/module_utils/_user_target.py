# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to rotor.iam: the two values a rotation passes to every controller module, declared once.

``iam_user`` is the user a task acts on and the connection that reaches it (name, profile, region,
endpoint_url); ``lock`` is the rotation run's lock on that user (run_id, lease, ttl_minutes, detached).
Each module composes its own options with :func:`with_user_target` (as kubernetes.core composes its
``AUTH_ARG_SPEC``), and :func:`resolve_user_target` turns both values into the module's own flat
options before its work starts, for a module run and for its action plugin alike. The flat options stay
for tasks written by hand; a task gives one or the other, never both.
"""

from __future__ import annotations

# The connection fields of ``iam_user``: given, they replace the task's own connection options (None: not set).
CONNECTION_FIELDS = ("profile", "region", "endpoint_url")

# ``lock`` field -> the flat option of each kind of module that takes it (the first one the module has).
_LOCK_TARGETS = {
    "run_id": ("lock_run_id", "run_id"),
    "lease": ("lock_lease", "lease"),
    "ttl_minutes": ("lock_ttl_minutes",),
    "detached": ("detached",),
}


def iam_user_option(name_required=True):
    """The ``iam_user`` option: a user and the connection that reaches it."""
    return dict(type="dict", options=dict(
        name=dict(type="str", required=name_required),
        profile=dict(type="str"),
        region=dict(type="str"),
        endpoint_url=dict(type="str"),
    ))


def lock_option():
    """The ``lock`` option: a rotation run's lock on the user (M(rotor.iam.rotation_journal) returns the lease)."""
    return dict(type="dict", no_log=False, options=dict(
        run_id=dict(type="str", required=True),
        lease=dict(type="dict", no_log=False),
        ttl_minutes=dict(type="int"),
        detached=dict(type="bool"),
    ))


def with_user_target(spec, user=True, lock=False, name_required=True):
    """``spec`` (a module's ``module_spec()``) with ``iam_user`` (and ``lock``) composed in.

    ``user_name`` (when the module has it) stops being required on its own: one of it and ``iam_user.name``
    is, never both. The lock's flat options and ``lock`` exclude each other.
    """
    spec = dict(spec)
    options = dict(spec["argument_spec"])
    mutually_exclusive = list(spec.get("mutually_exclusive") or [])
    required_one_of = list(spec.get("required_one_of") or [])
    if user:
        options["iam_user"] = iam_user_option(name_required)
        if "user_name" in options:
            user_name = dict(options["user_name"])
            if user_name.pop("required", False):
                required_one_of.append(["user_name", "iam_user"])
            options["user_name"] = user_name
            mutually_exclusive.append(["user_name", "iam_user"])
    if lock:
        options["lock"] = lock_option()
        flats = _lock_options_of(options)
        for flat in flats:
            mutually_exclusive.append([flat, "lock"])
        spec["required_if"] = _lock_satisfies(spec.get("required_if") or [], flats)
    spec["argument_spec"] = options
    if mutually_exclusive:
        spec["mutually_exclusive"] = mutually_exclusive
    if required_one_of:
        spec["required_one_of"] = required_one_of
    return spec


def _lock_options_of(options):
    """The module's flat options that ``lock`` stands for."""
    return [name for targets in _LOCK_TARGETS.values() for name in targets if name in options]


def _lock_satisfies(required_if, flats):
    """``required_if`` rules with ``lock`` accepted wherever they require one of the flat lock options."""
    rules = []
    for rule in required_if:
        key, value, requirements = rule[0], rule[1], list(rule[2])
        wants_any = len(rule) > 3 and rule[3]
        locked = [name for name in requirements if name in flats]
        if not locked or wants_any:
            rules.append(tuple(rule) if not locked else (key, value, requirements + ["lock"], True))
            continue
        rest = [name for name in requirements if name not in locked]
        if rest:
            rules.append((key, value, rest))
        for name in locked:
            rules.append((key, value, [name, "lock"], True))
    return rules


def resolve_user_target(params):
    """Turn ``iam_user`` and ``lock`` (when given) into the module's flat options, in place."""
    user = params.get("iam_user")
    if isinstance(user, dict):
        if "user_name" in params and user.get("name") is not None:
            params["user_name"] = user["name"]
        for field in CONNECTION_FIELDS:
            params[field] = user.get(field) or None
    lock = params.get("lock")
    if isinstance(lock, dict):
        for field, targets in _LOCK_TARGETS.items():
            if lock.get(field) is None:
                continue
            flat = next((name for name in targets if name in params), None)
            if flat is not None:
                params[flat] = lock[field]
    return params
