# -*- coding: utf-8 -*-

# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""What each state of rotor.iam.credentials_file does: validate inputs, plan, apply, describe.

Plans only read; apply_* functions change the host. Results and diffs carry key
ids (only values that look like one) and a redaction marker, never a secret,
except the secret O(return_secret) asks for.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
from dataclasses import dataclass, field

from ansible_collections.rotor.iam.plugins.module_utils._credfile import backups as bk
from ansible_collections.rotor.iam.plugins.module_utils._credfile import safe_io
from ansible_collections.rotor.iam.plugins.module_utils._credfile.owner_trust import check_owner_trusted
from ansible_collections.rotor.iam.plugins.module_utils._credfile.common import (
    CredentialsFileError,
    check_secret,
    decode,
    looks_like_key_id,
    printable,
)
from ansible_collections.rotor.iam.plugins.module_utils._credfile.formats import (
    inspect_text,
    read_credentials,
    set_credentials,
)

REDACTED = "********"
NOT_SET = "(not set)"
DEFAULT_MODE = 0o600


# --------------------------------------------------------------------------- inputs


def _quote_hint(value):
    return "'0%s'" % value if len(str(value)) == 3 else "'%s'" % value


def parse_mode(value):
    """A plain permission from an octal string ('0640', '640', '0o640') or an int (YAML's unquoted 0640)."""
    if isinstance(value, bool) or value is None:
        raise CredentialsFileError("mode must be an octal string such as '0600', got %r" % (value,))
    if isinstance(value, int):
        mode = value
        if mode > 0o777 and re.match(r"[0-7]{3,4}\Z", str(value)) and int(str(value), 8) <= 0o777:
            raise CredentialsFileError(
                "mode %d is the decimal number %d (octal %04o), not octal %s: YAML reads an unquoted 600 or 644 "
                "as decimal. Quote it: %s" % (value, value, value, str(value).zfill(4), _quote_hint(value))
            )
    elif isinstance(value, str) and re.match(r"(?:0o|0)?[0-7]{1,4}\Z", value.strip()):
        text = value.strip()
        mode = int(text[2:] if text.startswith("0o") else text, 8)
    else:
        raise CredentialsFileError(
            "mode must be an octal number written as a quoted string such as '0600'; "
            "symbolic modes are not supported, got '%s'" % printable(str(value))
        )
    if mode < 0 or mode > 0o7777:
        raise CredentialsFileError("mode %r is out of range; use a value such as '0600'" % (value,))
    if mode & 0o7000:
        raise CredentialsFileError(
            "mode %04o sets the setuid, setgid or sticky bit, which a credentials file must not have; use '0600'"
            % mode
        )
    if not mode & 0o400:
        raise CredentialsFileError("mode %04o does not let the file's owner read it; use '0600' or '0400'" % mode)
    if mode & 0o002:
        raise CredentialsFileError(
            "mode %04o lets every user on the host replace the key; use '0600' (or '0640' for a group)" % mode
        )
    return mode


def mode_warnings(mode, path):
    warnings = []
    if mode & 0o020:
        warnings.append("mode %04o lets the file's group change %s, and so the key its owner uses" % (mode, path))
    if mode & 0o004:
        warnings.append("mode %04o lets every user on the host read %s, which holds a secret key" % (mode, path))
    return warnings


def _resolve_id(kind, value, lookup, attribute):
    if value is None or value == "":
        return None
    text = str(value).strip()
    if re.match(r"\d+\Z", text):
        number = int(text)
        if number > safe_io.MAX_UID:
            raise CredentialsFileError(
                "%s %s is out of range: ids go from 0 to %d" % (kind, printable(text, 24), safe_io.MAX_UID))
        return number
    try:
        return getattr(lookup(text), attribute)
    except (KeyError, UnicodeError, ValueError):
        raise CredentialsFileError(
            "%s '%s' is not a %s on this host; create it first or give an existing name or numeric id"
            % (kind, printable(text), "user" if kind == "owner" else "group")
        )


def resolve_owner(owner):
    """uid for a user name or numeric id; None when not given."""
    return _resolve_id("owner", owner, pwd.getpwnam, "pw_uid")


def resolve_group(group):
    """gid for a group name or numeric id; None when not given."""
    return _resolve_id("group", group, grp.getgrnam, "gr_gid")


# --------------------------------------------------------------------------- reading files


def _text(state, target, source):
    return decode(state.content, source, target.format) if state.exists else ""


def withheld_message(target, source):
    return ("%s: the file's %s does not look like an access key id; value withheld (are the id and the secret "
            "swapped?)" % (source, target.id_name))


def key_id_of(state, target, source, warnings=None):
    """The access key id a file state holds; None if none. A value that is not an id is withheld."""
    if not state.exists:
        return None
    key_id = read_credentials(_text(state, target, source), target, source)[0]
    if key_id is None or looks_like_key_id(key_id):
        return key_id
    if warnings is None:
        raise CredentialsFileError(withheld_message(target, source))
    warnings.append(withheld_message(target, source))
    return None


def _secret_of(state, target, source):
    secret = read_credentials(_text(state, target, source), target, source)[1] if state.exists else None
    if secret is not None:
        try:
            check_secret("the file's %s" % target.secret_name, secret)
        except CredentialsFileError:
            raise CredentialsFileError(
                "%s: the file's %s is not printable ASCII key material, or looks like a key id; value withheld"
                % (source, target.secret_name)
            )
    return secret


# --------------------------------------------------------------------------- present


@dataclass
class PresentPlan:
    location: safe_io.Location
    before: safe_io.FileState
    after: safe_io.FileState
    previous_access_key_id: str
    access_key_id: str
    previous_secret_set: bool
    secret_changed: bool

    @property
    def content_changed(self):
        return not self.before.exists or self.before.content != self.after.content

    @property
    def metadata_changed(self):
        return self.before.exists and not self.before.same_metadata(self.after)

    @property
    def changed(self):
        return self.content_changed or self.metadata_changed


def _refuse_new_location(before, target, source):
    """rotor.iam writes only where a key is: a new file, profile or variable needs create=true."""
    if not before.exists:
        what = "does not exist"
    elif target.format == "aws_credentials":
        what = "has no access key id in profile [%s]" % printable(target.profile)
    else:
        what = "has no access key id in %s" % target.id_name
    raise CredentialsFileError(
        "%s %s, so it holds no key to replace; nothing was written. Check path, format and profile (or "
        "variable_names); to add a new file or profile on purpose, set create: true" % (source, what))


def plan_present(location, target, access_key_id, secret_access_key, mode, uid, gid, warnings, create=True):
    """What state=present would do; reads only. ``mode`` None keeps the file's mode (0600 for a new file);
    ``create`` False refuses a file, profile or variable that holds no key id yet."""
    before = safe_io.read_file(location)
    check_owner_trusted(location, before, uid)
    source = location.path
    text = _text(before, target, source)
    previous_id = key_id_of(before, target, source, warnings)
    if previous_id is None and not create:
        _refuse_new_location(before, target, source)
    if mode is None:
        mode = before.mode if before.exists else DEFAULT_MODE
        warnings.extend(mode_warnings(mode, source))
    previous_secret = read_credentials(text, target, source)[1] if before.exists else None
    new_text = set_credentials(text, target, access_key_id, secret_access_key, source)
    after = safe_io.FileState(
        exists=True,
        content=before.content if before.exists and new_text == text else new_text.encode("utf-8"),
        mode=mode,
        uid=uid if uid is not None else (before.uid if before.exists else os.geteuid()),
        gid=gid if gid is not None else (before.gid if before.exists else os.getegid()),
    )
    return PresentPlan(location, before, after, previous_id, access_key_id,
                       previous_secret is not None, previous_secret != secret_access_key)


def apply_present(plan, backup=True, now=None):
    """Carry out a PresentPlan; returns the backup (or marker) name, or None. A failed write leaves no backup."""
    if not plan.changed:
        return None
    location, after = plan.location, plan.after
    backup_name = bk.make_backup(location, plan.before, plan.previous_access_key_id, now) if backup else None
    try:
        if plan.content_changed:
            safe_io.write_atomic(location, after.content, after.mode, after.uid, after.gid)
        else:
            safe_io.set_metadata(location, plan.before, after.mode, after.uid, after.gid)
    except BaseException:
        if backup_name:
            bk.remove(location, [backup_name])
        raise
    return backup_name


# --------------------------------------------------------------------------- trusted backups


def trusted_backups(location, file_uid, warnings, now=None):
    """This module's own backups of the file, oldest first; files that only look like one are reported."""
    now = now or bk.utc_now()
    trusted = []
    for backup in bk.list_backups(location):
        reason = bk.why_not_ours(location, backup, file_uid, now)
        if reason:
            warnings.append("ignored %s: %s" % (os.path.join(location.directory, bk.display_name(backup)), reason))
        else:
            trusted.append(backup)
    return trusted


def _holds(location, backup, target, key_id):
    if backup.absent:
        return False
    try:
        state = bk.load(location, backup)
        return state.exists and read_credentials(_text(state, target, location.path), target,
                                                 location.path)[0] == key_id
    except CredentialsFileError:
        return False


def _held_ids(location, backups, target):
    held = set()
    for backup in backups:
        if backup.absent:
            held.add("absent")
            continue
        try:
            state = bk.load(location, backup)
            key_id = read_credentials(_text(state, target, location.path), target, location.path)[0]
        except CredentialsFileError:
            continue
        held.add(key_id if looks_like_key_id(key_id) else "unreadable")
    return ", ".join(sorted(held)) or "none"


# --------------------------------------------------------------------------- restored


@dataclass
class RestorePlan:
    location: safe_io.Location
    backup: bk.Backup  # None when there is nothing to do (the restore already happened)
    before: safe_io.FileState
    after: safe_io.FileState
    previous_access_key_id: str
    access_key_id: str
    duplicates: list = field(default_factory=list)  # other backups identical to the one restored

    @property
    def file_changed(self):
        return self.backup is not None and (
            self.before.exists != self.after.exists
            or (self.after.exists and (self.before.content != self.after.content
                                       or not self.before.same_metadata(self.after)))
        )

    @property
    def changed(self):
        return self.backup is not None


def _check_restorable_mode(location, backup, state):
    try:
        parse_mode(state.mode)
    except CredentialsFileError as exc:
        reason = str(exc)
        raise CredentialsFileError("refusing to restore %s from %s: the backup's %s"
                                   % (location.path, bk.display_name(backup), reason[0].lower() + reason[1:]))


def _given_backup(location, backup_file, before, now):
    """The backup named by backup_file: a backup of path, in its directory, ours; None if already consumed."""
    directory, name = os.path.split(os.path.normpath(backup_file))
    backup = bk.parse_name(location.name, name)
    if backup is None or not safe_io.same_directory(location, directory or "/"):
        raise CredentialsFileError(
            "backup_file %s is not a backup of %s made by this module (expected %s.<timestamp>...%s in %s)"
            % (printable(backup_file, 200), location.given, location.name, bk.BACKUP_SUFFIX, location.directory)
        )
    reason = bk.why_not_ours(location, backup, before.uid if before.exists else None, now)
    if reason == "it no longer exists":
        return None
    if reason:
        raise CredentialsFileError("backup_file %s is not one of this module's backups: %s"
                                   % (os.path.join(location.directory, bk.display_name(backup)), reason))
    return backup


def plan_restore(location, target, backup_file=None, key_id=None, warnings=None, now=None):
    """What state=restored would do: backup_file, else the newest backup (holding key_id if given)."""
    warnings = [] if warnings is None else warnings
    now = now or bk.utc_now()
    before = safe_io.read_file(location)
    source = location.path
    file_uid = before.uid if before.exists else None
    previous_id = key_id_of(before, target, source, warnings)
    candidates = trusted_backups(location, file_uid, warnings, now)
    if backup_file:
        backup = _given_backup(location, backup_file, before, now)
        if backup is None:
            name = os.path.basename(os.path.normpath(backup_file))
            consumed_marker = ".absent" + bk.BACKUP_SUFFIX in name and not before.exists
            if not consumed_marker and not (key_id and previous_id == key_id):
                raise CredentialsFileError(
                    "backup_file %s does not exist (a restore removes the backup it used); nothing to restore"
                    % printable(backup_file, 200))
    elif key_id:
        holding = [candidate for candidate in candidates if _holds(location, candidate, target, key_id)]
        if holding:
            backup = holding[-1]
        elif previous_id != key_id and candidates and candidates[-1].absent:
            backup = candidates[-1]  # the file did not exist before the write that the newest marker records
        else:
            backup = None
        if backup is None and previous_id != key_id:
            raise CredentialsFileError(
                "no backup of %s holds access key %s (backups hold: %s); nothing to restore. Pass backup_file to "
                "restore another backup" % (location.given, key_id, _held_ids(location, candidates, target))
            )
    else:
        if not candidates:
            raise CredentialsFileError(
                "no backup of %s found (looked for %s.*%s in %s); nothing to restore. Pass backup_file, or make "
                "sure the write ran with backup=true"
                % (location.given, location.name, bk.BACKUP_SUFFIX, location.directory)
            )
        backup = candidates[-1]
    if backup is None:
        return RestorePlan(location, None, before, before, previous_id, previous_id)
    if backup.absent:
        after = safe_io.ABSENT
    else:
        after = bk.load(location, backup)
        _check_restorable_mode(location, backup, after)
    duplicates = [candidate for candidate in candidates
                  if candidate.name != backup.name and _same(_load_or_absent(location, candidate), after)]
    access_key_id = key_id_of(after, target, os.path.join(location.directory, bk.display_name(backup)), warnings)
    return RestorePlan(location, backup, before, after, previous_id, access_key_id, duplicates)


def _same(one, other):
    if not one.exists or not other.exists:
        return one.exists == other.exists
    return one.content == other.content and one.same_metadata(other)


def _load_or_absent(location, backup):
    """A marker reads as the absent file it stands for; an unreadable backup as nothing comparable."""
    if backup.absent:
        return safe_io.ABSENT
    try:
        return bk.load(location, backup)
    except CredentialsFileError:
        return safe_io.FileState(True, content=None)


def apply_restore(plan):
    """Put the backup back, then remove it and its duplicates. Returns the names removed."""
    if plan.backup is None:
        return []
    location, before, after = plan.location, plan.before, plan.after
    if plan.file_changed:
        if not after.exists:
            safe_io.remove_file(location, before)
        elif before.exists and before.content == after.content:
            safe_io.set_metadata(location, before, after.mode, after.uid, after.gid)
        else:
            safe_io.write_atomic(location, after.content, after.mode, after.uid, after.gid)
    return bk.remove(location, [plan.backup.name] + [duplicate.name for duplicate in plan.duplicates])


# --------------------------------------------------------------------------- read


def inspect(location, target):
    """What the file holds where it is declared to hold a key, for the plan (never a secret): {exists, found,
    access_key_id, error, looks_like, mode}. A file that does not parse is reported, not raised."""
    state = safe_io.read_file(location)
    report = {"exists": state.exists, "found": False, "access_key_id": None, "error": None, "looks_like": None,
              "mode": "%04o" % state.mode if state.exists and state.mode is not None else None}
    if state.exists:
        try:
            text = _text(state, target, location.path)
        except CredentialsFileError as exc:
            report["error"] = str(exc)
        else:
            report.update(inspect_text(text, target, location.path))
    return report


def run_read(location, target, return_secret, warnings):
    state = safe_io.read_file(location)
    result = {"changed": False, "exists": state.exists, "access_key_id": key_id_of(state, target, location.path)}
    if return_secret:
        # Resuming a rotation: the new key's secret survives only on the hosts that already hold it.
        result["secret_access_key"] = _secret_of(state, target, location.path)
    return result


def run_read_backup(location, target, key_id, return_secret, warnings, now=None):
    """The newest of this module's backups holding key_id: proof material for a key only the hosts still hold."""
    state = safe_io.read_file(location)
    candidates = trusted_backups(location, state.uid if state.exists else None, warnings, now)
    holding = [candidate for candidate in candidates if _holds(location, candidate, target, key_id)]
    if not holding:
        raise CredentialsFileError(
            "no backup of %s holds access key %s (backups hold: %s)"
            % (location.given, key_id, _held_ids(location, candidates, target))
        )
    backup = holding[-1]
    source = os.path.join(location.directory, bk.display_name(backup))
    copy = bk.load(location, backup)
    result = {"changed": False, "exists": state.exists, "access_key_id": key_id, "backup_file": source}
    if return_secret:
        result["secret_access_key"] = _secret_of(copy, target, source)
    return result


# --------------------------------------------------------------------------- redacted description


def _user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, TypeError):
        return str(uid)


def _group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except (KeyError, TypeError):
        return str(gid)


def managed_lines(target, access_key_id, secret_note):
    """The managed entries as they look in the file, with the secret replaced by secret_note."""
    shown_id = access_key_id if access_key_id is not None else NOT_SET
    if target.format == "aws_credentials":
        return ["[%s]" % target.profile, "%s = %s" % (target.id_name, shown_id),
                "%s = %s" % (target.secret_name, secret_note)]
    if target.format == "env":
        return ["%s=%s" % (target.id_name, shown_id), "%s=%s" % (target.secret_name, secret_note)]
    return ['"%s": "%s"' % (target.id_name, shown_id), '"%s": "%s"' % (target.secret_name, secret_note)]


def describe(target, path, state, access_key_id, secret_note):
    """Short, secret-free text of a file state for a diff."""
    if not state.exists:
        return "path: %s\nstate: absent\n" % path
    lines = ["path: %s" % path, "state: present"]
    lines += managed_lines(target, access_key_id, secret_note)
    lines += ["mode: %04o" % state.mode, "owner: %s" % _user_name(state.uid), "group: %s" % _group_name(state.gid)]
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


def restore_diff(plan, target, path, backup_path):
    before_secret = REDACTED if plan.before.exists else NOT_SET
    after_secret = REDACTED if plan.after.exists else NOT_SET
    if plan.before.exists and plan.after.exists and plan.before.content != plan.after.content:
        after_secret += " (restored)"
    return {
        "before_header": path,
        "after_header": "%s (from %s)" % (path, backup_path) if backup_path else path,
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
