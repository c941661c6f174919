# -*- coding: utf-8 -*-

# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""One credentials file, typed: check an entry, read it, write a key, restore it, remove its backups.

The backend of rotor.iam.credentials_file (``run`` maps that module's options to these functions) and of
rotor.iam.host_credentials (which calls them for each of a host's files). Each function opens the file's
directory through safe_io, does one thing and closes it; errors are CredentialsFileError with a message fit
for the user, never a secret.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ansible_collections.rotor.iam.plugins.module_utils._credfile import backups as bk
from ansible_collections.rotor.iam.plugins.module_utils._credfile import plans
from ansible_collections.rotor.iam.plugins.module_utils._credfile import safe_io
from ansible_collections.rotor.iam.plugins.module_utils._credfile.common import (
    FORMATS,
    PLACEHOLDER_RE,
    CredentialsFileError,
    Target,
    check_access_key_id,
    check_profile,
    check_secret,
    make_target,
    printable,
)

STATES = ("present", "read", "restored", "backups_absent")


class EntryError(CredentialsFileError):
    """An option of a credentials-file entry is invalid; ``option`` names it, the message says what to do."""

    def __init__(self, option, message):
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class FileEntry:
    """A credentials file, checked: where it is, where the key sits in it, and how a write leaves it."""

    path: str
    target: Target
    mode: object = None  # as given (checked with plans.parse_mode); None keeps the file's mode
    owner: str = None
    group: str = None
    create: bool = False


def _entry_error(option, work, *args):
    try:
        return work(*args)
    except EntryError:
        raise
    except CredentialsFileError as exc:
        raise EntryError(option, str(exc))


def _check_path(path):
    if not isinstance(path, str) or not path:
        raise CredentialsFileError("path is required")
    if "\0" in path:
        raise CredentialsFileError("path must not contain a NUL character")
    if not path.startswith("/"):
        raise CredentialsFileError("path %s must be an absolute path" % printable(path, 200))
    if os.path.split(os.path.normpath(path))[1] in ("", "/"):
        raise CredentialsFileError("path %s must name a file, not a directory" % printable(path, 200))


def check_entry(options, resolve_ids=False):
    """A FileEntry from options already validated by _specs.credentials_file_entry_spec(); raises EntryError.

    Owner and group names are resolved on this host only with ``resolve_ids`` (where a write will use them).
    """
    path = options.get("path")
    _entry_error("path", _check_path, path)
    fmt = options.get("format") or "aws_credentials"
    if fmt not in FORMATS:
        raise EntryError("format", "format must be one of %s, got '%s'" % (", ".join(FORMATS), printable(str(fmt))))
    profile = options.get("profile")
    profile = "default" if profile is None else profile
    if fmt == "aws_credentials":
        _entry_error("profile", check_profile, profile)
    names = options.get("variable_names") if fmt != "aws_credentials" else None
    target = _entry_error("variable_names", make_target, fmt, profile, names)
    mode = options.get("mode")
    if mode is not None:
        _entry_error("mode", plans.parse_mode, mode)
    if resolve_ids:
        _entry_error("owner", plans.resolve_owner, options.get("owner"))
        _entry_error("group", plans.resolve_group, options.get("group"))
    return FileEntry(path=path, target=target, mode=mode, owner=options.get("owner"), group=options.get("group"),
                     create=bool(options.get("create")))


def entry_warnings(options):
    """Options given that the entry's format does not use."""
    fmt = options.get("format") or "aws_credentials"
    warnings = []
    if fmt != "aws_credentials" and options.get("profile") not in (None, "default"):
        warnings.append("profile is used only with format=aws_credentials; it is ignored for format=%s" % fmt)
    if fmt == "aws_credentials" and options.get("variable_names"):
        warnings.append("variable_names is used only with format=env or format=json; it is ignored for aws_credentials")
    return warnings


def check_new_key(access_key_id, secret_access_key, check_mode=False, state="present"):
    """Refuse a key that must not be written: malformed, swapped, or the check-mode placeholder in a real run."""
    if not check_mode and isinstance(access_key_id, str) and PLACEHOLDER_RE.match(access_key_id):
        raise CredentialsFileError("access_key_id %s is the placeholder a check-mode run uses; it is accepted only in "
                                   "check mode" % access_key_id)
    check_access_key_id("access_key_id", access_key_id, allow_placeholder=check_mode)
    try:
        check_secret("secret_access_key", secret_access_key)
    except CredentialsFileError as exc:
        raise CredentialsFileError(str(exc).replace("state=present", "state=" + state))


def _at(entry, work):
    location = safe_io.locate(entry.path)
    try:
        return work(location)
    finally:
        location.close()


# --------------------------------------------------------------------------- read


def read_key(entry, return_secret=False):
    """{changed, exists, access_key_id} the file holds (with return_secret, secret_access_key too)."""
    return _at(entry, lambda location: plans.run_read(location, entry.target, return_secret, []))


def read_backup_key(entry, key_id, return_secret=False, warnings=None, now=None):
    """The newest of this module's backups of the file holding key_id: {changed, exists, access_key_id,
    backup_file} (with return_secret, secret_access_key too). Fails when none does."""
    check_access_key_id("backup_access_key_id", key_id)
    warnings = [] if warnings is None else warnings
    return _at(entry, lambda location: plans.run_read_backup(location, entry.target, key_id, return_secret, warnings,
                                                             now))


def inspect_file(entry):
    """What the file holds where the entry says the key is: {exists, found, access_key_id, error, looks_like, mode}."""
    return _at(entry, lambda location: plans.inspect(location, entry.target))


# --------------------------------------------------------------------------- write


def write_key(entry, access_key_id, secret_access_key, check_mode=False, diff=False, backup=True, warnings=None,
              now=None):
    """Make the file hold the key (see rotor.iam.credentials_file state=present). The key must have passed
    check_new_key. Returns {changed, access_key_id, previous_access_key_id, backup_file[, diff]}."""
    warnings = [] if warnings is None else warnings
    mode = None if entry.mode is None else plans.parse_mode(entry.mode)
    if mode is not None:
        warnings.extend(plans.mode_warnings(mode, entry.path))
    uid, gid = plans.resolve_owner(entry.owner), plans.resolve_group(entry.group)

    def work(location):
        plan = plans.plan_present(location, entry.target, access_key_id, secret_access_key, mode, uid, gid, warnings,
                                  create=entry.create)
        backup_name = None if check_mode else plans.apply_present(plan, backup=backup, now=now)
        result = {
            "changed": plan.changed,
            "access_key_id": plan.access_key_id,
            "previous_access_key_id": plan.previous_access_key_id,
            "backup_file": os.path.join(location.directory, backup_name) if backup_name else None,
        }
        if diff:
            result["diff"] = plans.present_diff(plan, entry.target, entry.path)
        return result

    return _at(entry, work)


# --------------------------------------------------------------------------- restore and clean up


def restore_file(entry, backup_file=None, backup_access_key_id=None, check_mode=False, diff=False, warnings=None,
                 now=None):
    """Put the file back from backup_file, else the newest backup (holding backup_access_key_id if given).
    Returns {changed, access_key_id, previous_access_key_id, backup_file, removed[, diff]}."""
    if backup_access_key_id:
        check_access_key_id("backup_access_key_id", backup_access_key_id)
    warnings = [] if warnings is None else warnings

    def work(location):
        plan = plans.plan_restore(location, entry.target, backup_file, backup_access_key_id, warnings, now)
        to_remove = [] if plan.backup is None else [plan.backup] + plan.duplicates
        if not check_mode:
            plans.apply_restore(plan)
        backup_path = os.path.join(location.directory, bk.display_name(plan.backup)) if plan.backup else None
        result = {
            "changed": plan.changed,
            "access_key_id": plan.access_key_id,
            "previous_access_key_id": plan.previous_access_key_id,
            "backup_file": backup_path,
            "removed": [os.path.join(location.directory, bk.display_name(b)) for b in to_remove],
        }
        if diff:
            result["diff"] = plans.restore_diff(plan, entry.target, entry.path, backup_path)
        return result

    return _at(entry, work)


def remove_backups(entry, check_mode=False, diff=False):
    """Remove every backup (and leftover temporary file) of the file. Returns {changed, removed[, diff]}."""

    def work(location):
        names = bk.leftover_names(location)
        if not check_mode:
            names = bk.remove(location, names)
        removed = [os.path.join(location.directory, _display_leftover(location, name)) for name in names]
        result = {"changed": bool(names), "removed": removed}
        if diff:
            result["diff"] = plans.backups_diff(location.path, removed)
        return result

    return _at(entry, work)


def _display_leftover(location, name):
    backup = bk.parse_name(location.name, name)
    return bk.display_name(backup) if backup else name


# --------------------------------------------------------------------------- rotor.iam.credentials_file


def _state_warnings(params, state):
    warnings = []
    if params.get("return_secret") and state != "read":
        warnings.append("return_secret is used only with state=read; it is ignored for state=%s" % state)
    if params.get("backup_access_key_id") and state not in ("restored", "read"):
        warnings.append("backup_access_key_id is used only with state=restored or state=read; it is ignored for "
                        "state=%s" % state)
    if params.get("backup_file") and state != "restored":
        warnings.append("backup_file is used only with state=restored; it is ignored for state=%s" % state)
    return warnings


def run(params, check_mode=False, diff=False, now=None):
    """rotor.iam.credentials_file: its options to the function of its state. Returns (result, warnings);
    raises CredentialsFileError."""
    state = params.get("state") or "present"
    if state not in STATES:
        raise CredentialsFileError("state must be one of %s, got '%s'" % (", ".join(STATES), printable(str(state))))
    entry = check_entry(params, resolve_ids=state == "present")
    warnings = entry_warnings(params) + _state_warnings(params, state)
    backup_key_id = params.get("backup_access_key_id")
    return_secret = bool(params.get("return_secret"))
    if state == "present":
        check_new_key(params.get("access_key_id"), params.get("secret_access_key"), check_mode)
        backup = params.get("backup")
        result = write_key(entry, params["access_key_id"], params["secret_access_key"], check_mode=check_mode,
                           diff=diff, backup=True if backup is None else backup, warnings=warnings, now=now)
    elif state == "read" and backup_key_id:
        result = read_backup_key(entry, backup_key_id, return_secret, warnings, now)
    elif state == "read":
        result = read_key(entry, return_secret)
    elif state == "restored":
        result = restore_file(entry, params.get("backup_file"), backup_key_id, check_mode=check_mode, diff=diff,
                              warnings=warnings, now=now)
    else:
        result = remove_backups(entry, check_mode=check_mode, diff=diff)
    result["path"] = params["path"]
    return result, warnings
