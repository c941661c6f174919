# -*- coding: utf-8 -*-

# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""The module's own backups of a credentials file: names, which ones count, making and removing them.

A backup is a regular file next to the credentials file, named
``<file>.<UTC timestamp>[.<key id>].rotor-iam-backup`` (``.absent`` instead of
the key id marks a file that did not exist). It has the owner, group and mode
the file had, so a restore takes them from the backup's own metadata; the name
is only a hint. A file named like a backup counts only if it is a regular file
with one link, owned by root, the module's user or the file's owner, and not
dated in the future: anything the directory's owner could plant is ignored.
"""

from __future__ import annotations

import datetime
import os
import re
import stat
from dataclasses import dataclass

from ansible_collections.rotor.iam.plugins.module_utils._credfile import safe_io
from ansible_collections.rotor.iam.plugins.module_utils._credfile.common import CredentialsFileError
from ansible_collections.rotor.iam.plugins.module_utils._credfile.common import looks_like_key_id

BACKUP_SUFFIX = ".rotor-iam-backup"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"
WITHHELD = "WITHHELD"
_CLOCK_SLACK = datetime.timedelta(seconds=2)


@dataclass(frozen=True)
class Backup:
    name: str
    timestamp: datetime.datetime
    key_id: str = None  # from the name: a hint, checked against the content before use
    absent: bool = False  # a marker: the file did not exist before the write
    legacy_tag: bool = False  # an older release put something that is not a key id in the name


def name_pattern(base):
    # Older releases also wrote ".m<mode>" (ignored now) and any alphanumeric tag where the key id goes.
    return re.compile(
        r"^%s\.(?P<timestamp>\d{8}T\d{12}Z)(?:\.(?P<tag>[A-Za-z0-9]{1,128}))?(?:\.m[0-7]{4})?%s\Z"
        % (re.escape(base), re.escape(BACKUP_SUFFIX))
    )


def temp_pattern(base):
    return re.compile(r"^\.%s%s[A-Za-z0-9_]+\Z" % (re.escape(base), re.escape(safe_io.TEMP_INFIX)))


def backup_name(base, timestamp, key_id=None, absent=False):
    """File name of a backup (or absent-marker) of base: a key id only when it looks like one, never a secret."""
    if absent:
        return "%s.%s.absent%s" % (base, timestamp, BACKUP_SUFFIX)
    id_part = "." + key_id if looks_like_key_id(key_id) else ""
    return "%s.%s%s%s" % (base, timestamp, id_part, BACKUP_SUFFIX)


def parse_name(base, name):
    """Backup record for a file name, or None if the name is not one of ours for base."""
    match = name_pattern(base).match(name)
    if match is None:
        return None
    try:
        timestamp = datetime.datetime.strptime(match.group("timestamp"), TIMESTAMP_FORMAT).replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    tag = match.group("tag")
    return Backup(
        name=name,
        timestamp=timestamp,
        key_id=tag if looks_like_key_id(tag) else None,
        absent=tag == "absent",
        legacy_tag=tag is not None and tag != "absent" and not looks_like_key_id(tag),
    )


def display_name(backup):
    """The name with a tag that is not a key id (possibly a secret, from an older release) withheld."""
    if not backup.legacy_tag:
        return backup.name
    return name_pattern_sub(backup.name)


def name_pattern_sub(name):
    parts = name.split(".")
    # <base...>.<timestamp>.<tag>[.m0600].rotor-iam-backup: withhold the part after the timestamp
    for index, part in enumerate(parts):
        if re.match(r"\d{8}T\d{12}Z\Z", part) and index + 1 < len(parts):
            parts[index + 1] = WITHHELD
            break
    return ".".join(parts)


def list_backups(location):
    """Files named like backups of the location's file, oldest first (not yet checked)."""
    found = [parse_name(location.name, name) for name in safe_io.entries(location)]
    return sorted((backup for backup in found if backup is not None), key=lambda b: (b.timestamp, b.name))


def leftover_names(location):
    """Names of backups and temporary files of this module next to the file (all may hold a secret)."""
    temp = temp_pattern(location.name)
    pattern = name_pattern(location.name)
    return sorted(name for name in safe_io.entries(location) if pattern.match(name) or temp.match(name))


def why_not_ours(location, backup, file_uid, now):
    """None when the backup may be trusted; else why it is ignored (no file content in the reason)."""
    try:
        info = os.stat(backup.name, dir_fd=location.dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return "it no longer exists"
    if stat.S_ISLNK(info.st_mode):
        return "it is a symbolic link"
    if not stat.S_ISREG(info.st_mode):
        return "it is not a regular file"
    if info.st_nlink != 1:
        return "it has %d hard links" % info.st_nlink
    owners = {0, os.geteuid()} | ({file_uid} if file_uid is not None else set())
    if info.st_uid not in owners:
        return "it is owned by uid %d, neither root nor the file's owner" % info.st_uid
    if backup.timestamp > now + _CLOCK_SLACK:
        return "it is dated in the future"
    if backup.absent and info.st_size:
        return "a marker of an absent file must be empty"
    return None


def load(location, backup):
    """The backup's content and real metadata."""
    return safe_io.read_at(location.dir_fd, backup.name, os.path.join(location.directory, display_name(backup)))


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def make_backup(location, before, key_id, now=None):
    """Keep before next to the file, with its owner, group and mode; a marker when there was no file."""
    now = now or utc_now()
    for attempt in range(1000):
        timestamp = (now + datetime.timedelta(microseconds=attempt)).strftime(TIMESTAMP_FORMAT)
        name = backup_name(location.name, timestamp, key_id, absent=not before.exists)
        try:
            if before.exists:
                safe_io.create_at(location.dir_fd, name, before.content, before.mode, before.uid, before.gid)
            else:
                safe_io.create_at(location.dir_fd, name, b"", 0o600)
        except FileExistsError:
            continue
        safe_io.fsync_directory(location.dir_fd)
        return name
    raise CredentialsFileError("could not find a free backup file name next to %s" % location.path)


def remove(location, names):
    removed = [name for name in names if safe_io.unlink_at(location.dir_fd, name)]
    if removed:
        safe_io.fsync_directory(location.dir_fd)
    return removed
