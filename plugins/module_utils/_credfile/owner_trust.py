# -*- coding: utf-8 -*-

# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""Whose credentials file is it? The owner of a file is kept only when it can be trusted.

The directory of a credentials file often belongs to the service account that uses the key. That account
can replace a root-only file with a file of its own; keeping "the file's owner" would then hand it the new
secret. So the file's current owner is kept only when it is root (or the module's user), the ``owner`` given
to the module, or an owner the account could not have set itself:

- the file's directory can be written by root (or the module's user) only, so nobody else put the file there;
- or rotor's newest backup that the account could not have planted (one owned by root or the module's user)
  records that owner. A backup copies the file's owner, so a root-owned backup records root: the file was
  root's when rotor last backed it up, and a file now owned by the account is refused, naming the change.

A backup owned by the account itself proves nothing (the account can plant one), so it is not a record.
"""

from __future__ import annotations

import os
import pwd

from ansible_collections.rotor.iam.plugins.module_utils._credfile import backups as bk
from ansible_collections.rotor.iam.plugins.module_utils._credfile.common import CredentialsFileError


def _name(uid):
    try:
        return "%s (uid %d)" % (pwd.getpwuid(uid).pw_name, uid)
    except KeyError:
        return "uid %d" % uid


def _privileged_backups(location, file_uid, now):
    """This module's backups of the file that the file's owner could not have planted, newest first."""
    found = []
    for backup in bk.list_backups(location):
        if backup.absent or bk.why_not_ours(location, backup, file_uid, now):
            continue
        try:
            info = os.stat(backup.name, dir_fd=location.dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if info.st_uid in (0, os.geteuid()):
            found.append((backup, info.st_uid))
    return list(reversed(found))


def _directory_only_root_writes(location):
    info = os.fstat(location.dir_fd)
    return info.st_uid in (0, os.geteuid()) and not info.st_mode & 0o022


def check_owner_trusted(location, before, given_uid, now=None):
    """Refuse a file whose owner is neither root, nor given_uid, nor one the account could not have set.

    ``before`` is the file as read (a FileState). Raises CredentialsFileError naming the change and what to do.
    """
    if not before.exists or before.uid in (0, os.geteuid()) or before.uid == given_uid:
        return
    recorded = _privileged_backups(location, before.uid, now or bk.utc_now())
    if recorded:
        backup, uid = recorded[0]
        raise CredentialsFileError(
            "%s is owned by %s, but it was owned by %s when rotor.iam backed it up (%s): the file was replaced "
            "or its owner changed since, so rotor.iam does not write the key into it. Check who changed it; give "
            "owner: to choose the owner of the new file" % (
                location.path, _name(before.uid), _name(uid), os.path.join(location.directory, bk.display_name(backup))))
    if _directory_only_root_writes(location):
        return  # only root could have put a file owned by this account here
    raise CredentialsFileError(
        "%s is owned by %s, which is neither root nor the given owner, in a directory root does not keep to itself, "
        "and no backup of rotor.iam records that owner: rotor.iam does not keep an owner it cannot trust (the account "
        "could have replaced a root-only file with its own). Give owner: %s to keep it, or another owner" % (
            location.path, _name(before.uid), _name_only(before.uid)))


def _name_only(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
