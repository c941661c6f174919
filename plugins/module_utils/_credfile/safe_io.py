# -*- coding: utf-8 -*-

# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""File I/O for a directory that may belong to someone else.

The module runs as root; the directory of a credentials file usually belongs to
the service account that uses the key. So everything here works through open
directory descriptors, with O_NOFOLLOW on every name, and changes only what it
holds open (fchown/fchmod on the file's own descriptor, rename within the held
directory). Nothing is looked up by path once it has been checked.

A symbolic link is followed only when it can be trusted: the link is owned by
root or the user running the module, and the directory holding it and every
directory its target passes through are owned by one of them and writable by no
one else. Only regular files with a single link are read.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from dataclasses import dataclass

from ansible_collections.rotor.iam.plugins.module_utils._credfile.common import CredentialsFileError

TEMP_INFIX = ".rotor-iam-tmp."
MAX_UID = 2 ** 32 - 2  # (uid_t) -1 means "unchanged" to chown

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_NOCTTY = getattr(os, "O_NOCTTY", 0)
_DIRECTORY_FLAGS = os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_NOCTTY | _O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_NOCTTY | _O_CLOEXEC
_MAX_LINKS = 40
# A credentials file is a few hundred bytes; anything bigger is refused without being read whole.
MAX_READ_BYTES = 1 << 20


@dataclass(frozen=True)
class FileState:
    exists: bool
    content: bytes = b""
    mode: int = None
    uid: int = None
    gid: int = None
    inode: tuple = None  # (st_dev, st_ino) of what was read

    def same_metadata(self, other):
        return (self.mode, self.uid, self.gid) == (other.mode, other.uid, other.gid)


ABSENT = FileState(False)


def _trusted_owner(uid):
    return uid in (0, os.geteuid())


def _why_untrusted_directory(info):
    """None if a directory is owned by root (or us) and writable by no one else; else the reason."""
    if not _trusted_owner(info.st_uid):
        return "is owned by uid %d" % info.st_uid
    if info.st_mode & 0o022:
        who = "others" if info.st_mode & 0o002 else "its group"
        return "is writable by %s (mode %04o)" % (who, stat.S_IMODE(info.st_mode))
    return None


def _join(directory, name):
    return directory.rstrip("/") + "/" + name if name else directory


class Location:
    """An open directory and the name of the credentials file in it (the real file, links resolved)."""

    def __init__(self, dir_fd, directory, name, given):
        self.dir_fd = dir_fd
        self.directory = directory  # the real directory, for messages and results
        self.name = name
        self.given = given  # the path as the user gave it

    @property
    def path(self):
        return _join(self.directory, self.name)

    def close(self):
        if self.dir_fd is not None:
            os.close(self.dir_fd)
            self.dir_fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class _Walker:
    """Resolves a path one component at a time, through directory descriptors."""

    def __init__(self, given):
        self.given = given
        self.links = 0

    def _root(self):
        return os.open("/", _DIRECTORY_FLAGS), "/"

    def walk(self, fd, real, components, trusted):
        """Descend through components (all directories); returns (fd, real path). Consumes fd."""
        try:
            for component in components:
                if component in ("", "."):
                    continue
                if component == "..":
                    parent = os.open("..", _DIRECTORY_FLAGS, dir_fd=fd)
                    os.close(fd)
                    fd, real = parent, os.path.dirname(real.rstrip("/")) or "/"
                else:
                    child, child_real = self._open_directory(fd, real, component)
                    os.close(fd)
                    fd, real = child, child_real
                if trusted:
                    reason = _why_untrusted_directory(os.fstat(fd))
                    if reason:
                        raise CredentialsFileError(
                            "%s: the link target passes through %s, which %s; rotor.iam follows a symbolic link "
                            "only through directories owned by root and writable by no one else" % (self.given, real, reason)
                        )
            return fd, real
        except BaseException:
            os.close(fd)
            raise

    def _open_directory(self, fd, real, name):
        here = _join(real, name)
        for _attempt in range(3):
            try:
                return os.open(name, _DIRECTORY_FLAGS, dir_fd=fd), here
            except FileNotFoundError:
                raise CredentialsFileError(
                    "directory %s of path %s does not exist; create it first (for example with ansible.builtin.file "
                    "state=directory)" % (here, self.given)
                )
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                    raise
            try:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                raise CredentialsFileError("directory %s of path %s does not exist (it just disappeared)"
                                           % (here, self.given))
            if stat.S_ISLNK(info.st_mode):
                break
            if not stat.S_ISDIR(info.st_mode):
                raise CredentialsFileError("%s in path %s is not a directory" % (here, self.given))
            # A link a moment ago, a directory now: someone is swapping them; look again.
        else:
            raise CredentialsFileError("%s in path %s keeps changing between a link and a directory; someone is "
                                       "tampering with it" % (here, self.given))
        target_fd, target_real, target_name = self.follow(fd, real, name, info)
        try:
            if target_name:
                child, child_real = self._open_directory(target_fd, target_real, target_name)
            else:
                child, child_real = os.dup(target_fd), target_real
        finally:
            os.close(target_fd)
        reason = _why_untrusted_directory(os.fstat(child))
        if reason:
            os.close(child)
            raise CredentialsFileError(
                "%s: the symbolic link %s leads to %s, which %s; rotor.iam follows a link only to directories "
                "owned by root and writable by no one else" % (self.given, here, child_real, reason)
            )
        return child, child_real

    def follow(self, fd, real, name, info):
        """For the trusted link name in fd: (fd of the directory its target is in, its real path, target name)."""
        here = _join(real, name)
        self.links += 1
        if self.links > _MAX_LINKS:
            raise CredentialsFileError("%s: too many levels of symbolic links" % self.given)
        if not _trusted_owner(info.st_uid):
            raise CredentialsFileError(
                "%s is a symbolic link owned by uid %d; rotor.iam follows only links owned by root, so that the "
                "account that owns the directory cannot point root at another file. Replace the link by the file, "
                "or give the link's target as path" % (here, info.st_uid)
            )
        reason = _why_untrusted_directory(os.fstat(fd))
        if reason:
            raise CredentialsFileError(
                "%s is a symbolic link in %s, which %s; rotor.iam follows a link only when its directory is owned "
                "by root and writable by no one else. Give the link's target as path" % (here, real, reason)
            )
        target = os.readlink(name, dir_fd=fd)
        if not target:
            raise CredentialsFileError("%s is an empty symbolic link" % here)
        if target.startswith("/"):
            base_fd, base_real = self._root()
        else:
            base_fd, base_real = os.dup(fd), real
        components = [part for part in target.split("/") if part not in ("", ".")]
        last = components.pop() if components and components[-1] != ".." else ""
        parent_fd, parent_real = self.walk(base_fd, base_real, components, trusted=True)
        return parent_fd, parent_real, last


def locate(path):
    """Open the directory of path (links resolved as trusted) and find the real file name in it."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise CredentialsFileError("path %s must be an absolute path" % (path,))
    if "\0" in path:
        raise CredentialsFileError("path must not contain a NUL character")
    normal = os.path.normpath(path)
    directory, name = os.path.split(normal)
    if not name or normal == "/":
        raise CredentialsFileError("path %s must name a file, not a directory" % path)
    walker = _Walker(path)
    fd, real = walker._root()
    fd, real = walker.walk(fd, real, directory.split("/"), trusted=False)
    try:
        while True:
            try:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                break
            if stat.S_ISDIR(info.st_mode):
                raise CredentialsFileError("%s is a directory; path must name the credentials file itself"
                                           % _join(real, name))
            if not stat.S_ISLNK(info.st_mode):
                break
            target_fd, target_real, target_name = walker.follow(fd, real, name, info)
            os.close(fd)
            fd, real = target_fd, target_real
            if not target_name:
                raise CredentialsFileError("%s: the link does not point to a file" % path)
            name = target_name
    except BaseException:
        os.close(fd)
        raise
    return Location(fd, real, name, path)


def _too_big(where, limit=MAX_READ_BYTES):
    return CredentialsFileError(
        "%s is larger than %d bytes, which no credentials file is; refusing to read it. Check the file (is path "
        "the credentials file?) and shrink or replace it by hand" % (where, limit))


def _read_all(fd, where, limit=MAX_READ_BYTES):
    """The file's bytes, at most limit of them: a bigger file (it may grow while read) is refused."""
    chunks = []
    total = 0
    while True:
        chunk = os.read(fd, min(1 << 16, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            raise _too_big(where, limit)
        chunks.append(chunk)


def check_regular(info, where):
    if stat.S_ISLNK(info.st_mode):
        raise CredentialsFileError("%s is a symbolic link (it appeared during the run); refusing to use it" % where)
    if stat.S_ISDIR(info.st_mode):
        raise CredentialsFileError("%s is a directory; path must name the credentials file itself" % where)
    if not stat.S_ISREG(info.st_mode):
        raise CredentialsFileError("%s is not a regular file; refusing to read or replace it" % where)
    if info.st_nlink != 1:
        raise CredentialsFileError(
            "%s has %d hard links; refusing to read or replace a file that is also reachable under another name"
            % (where, info.st_nlink)
        )


def read_at(dir_fd, name, where):
    """The regular file name in dir_fd (never through a link), or ABSENT."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return ABSENT
    check_regular(info, where)
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        return ABSENT
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise CredentialsFileError("%s is a symbolic link (it appeared during the run); refusing to use it" % where)
        raise
    try:
        info = os.fstat(fd)
        check_regular(info, where)
        if info.st_size > MAX_READ_BYTES:
            raise _too_big(where)
        content = _read_all(fd, where)
    finally:
        os.close(fd)
    return FileState(True, content, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, (info.st_dev, info.st_ino))


def read_file(location):
    return read_at(location.dir_fd, location.name, location.path)


def _ids(uid, gid):
    return -1 if uid is None else uid, -1 if gid is None else gid


def fsync_directory(dir_fd):
    try:
        os.fsync(dir_fd)
    except OSError:
        pass  # some filesystems do not support fsync on directories


def create_at(dir_fd, name, content, mode, uid=None, gid=None):
    """Create name (never existing before, never through a link) with content, owner and mode; fsynced."""
    fd = os.open(name, _CREATE_FLAGS, 0o600, dir_fd=dir_fd)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        if uid is not None or gid is not None:
            os.fchown(fd, *_ids(uid, gid))
        os.fchmod(fd, mode)  # after chown, which may clear set-id bits
        info = os.fstat(fd)
    except BaseException:
        os.close(fd)
        unlink_at(dir_fd, name)
        raise
    os.close(fd)
    return info


def unlink_at(dir_fd, name):
    """Remove name from dir_fd if it is there and not a directory (a link is removed, never followed)."""
    try:
        if stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            return False
        os.unlink(name, dir_fd=dir_fd)
        return True
    except FileNotFoundError:
        return False


def write_atomic(location, content, mode, uid=None, gid=None):
    """Replace the file: a 0600 temporary file in the same directory, fsync, owner, mode, rename."""
    temp = "." + location.name + TEMP_INFIX + secrets.token_hex(6)
    info = create_at(location.dir_fd, temp, content, mode, uid, gid)
    try:
        os.rename(temp, location.name, src_dir_fd=location.dir_fd, dst_dir_fd=location.dir_fd)
    except BaseException:
        unlink_at(location.dir_fd, temp)
        raise
    fsync_directory(location.dir_fd)
    now = os.stat(location.name, dir_fd=location.dir_fd, follow_symlinks=False)
    if (now.st_dev, now.st_ino) != (info.st_dev, info.st_ino):
        raise CredentialsFileError("%s was replaced by someone else while it was written" % location.path)


def set_metadata(location, before, mode, uid=None, gid=None):
    """Owner and mode of the file read as before, through its own descriptor."""
    fd = os.open(location.name, _READ_FLAGS, dir_fd=location.dir_fd)
    try:
        info = os.fstat(fd)
        check_regular(info, location.path)
        if (info.st_dev, info.st_ino) != before.inode:
            raise CredentialsFileError("%s was replaced by someone else during the run; run again" % location.path)
        if uid is not None or gid is not None:
            os.fchown(fd, *_ids(uid, gid))
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def remove_file(location, before):
    """Remove the file read as before (restoring a file that did not exist)."""
    info = os.stat(location.name, dir_fd=location.dir_fd, follow_symlinks=False)
    if (info.st_dev, info.st_ino) != before.inode:
        raise CredentialsFileError("%s was replaced by someone else during the run; run again" % location.path)
    os.unlink(location.name, dir_fd=location.dir_fd)
    fsync_directory(location.dir_fd)


def entries(location):
    return os.listdir(location.dir_fd)


def same_directory(location, directory):
    """Whether directory (a path) is the directory location holds open, looked up without following links."""
    walker = _Walker(directory)
    try:
        fd, _real = walker.walk(*walker._root(), components=os.path.normpath(directory).split("/"), trusted=False)
    except (CredentialsFileError, OSError):
        return False
    try:
        mine, theirs = os.fstat(location.dir_fd), os.fstat(fd)
    finally:
        os.close(fd)
    return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)
