# -*- coding: utf-8 -*-

# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""Whose credentials file is it? The owner of a file is kept only when it can be trusted.

The directory of a credentials file often belongs to the service account that uses the key. That account
can replace a root-only file with a file of its own; keeping "the file's owner" would then hand it the new
secret. So the file's current owner is kept only when it is root (or the module's user), the ``owner``
given to the module, or the owner rotor found when it last backed the file up.

A backup copies the owner the file had, so a backup owned by root proves the file was root's when rotor
made it; one owned by the account proves nothing more than the account's say-so, and cannot outweigh it.
"""

from __future__ import annotations

import os
import pwd

from ansible_collections.rotor.iam.plugins.module_utils._credfile import backups as bk
from ansible_collections.rotor.iam.plugins.module_utils._credfile.formats import CredentialsFileError


def _name(uid):
    try:
        return "%s (uid %d)" % (pwd.getpwuid(uid).pw_name, uid)
    except KeyError:
        return "uid %d" % uid


def _backup_owners(location, file_uid, now):
    """(backup, uid) of this module's backups of the file that may be trusted, newest first."""
    found = []
    for backup in bk.list_backups(location):
        if backup.absent or bk.why_not_ours(location, backup, file_uid, now):
            continue
        try:
            info = os.stat(backup.name, dir_fd=location.dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        found.append((backup, info.st_uid))
    return list(reversed(found))


def check_owner_trusted(location, before, given_uid, now=None):
    """Refuse a file whose owner is neither root, nor given_uid, nor the owner in rotor's backups.

    ``before`` is the file as read (a FileState). Raises CredentialsFileError naming the change and what to do.
    """
    if not before.exists or before.uid in (0, os.geteuid()) or before.uid == given_uid:
        return
    now = now or bk.utc_now()
    recorded = _backup_owners(location, before.uid, now)
    privileged = [(backup, uid) for backup, uid in recorded if uid in (0, os.geteuid())]
    if privileged:
        backup, uid = privileged[0]
        raise CredentialsFileError(
            "%s is owned by %s, but it was owned by %s when rotor.iam backed it up (%s): the file was replaced "
            "or its owner changed since, so rotor.iam does not write the key into it. Check who changed it; give "
            "owner: to choose the owner of the new file" % (
                location.path, _name(before.uid), _name(uid), os.path.join(location.directory, bk.display_name(backup))))
    if recorded:
        return  # the newest backup rotor made recorded this owner, and no backup says otherwise
    raise CredentialsFileError(
        "%s is owned by %s, which is neither root nor the given owner, and no backup of rotor.iam records that "
        "owner: rotor.iam does not keep an owner it cannot trust (the account could have replaced a root-only "
        "file with its own). Give owner: %s to keep it, or another owner" % (
            location.path, _name(before.uid), _name_only(before.uid)))


def _name_only(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
