# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""The host side of rotor.iam.discover: search the usual places (and the operator's) for access key ids.

The module runs as root in directories other accounts own, so it reads the way rotor.iam's credentials file
module does (``_credfile.safe_io``): through directory descriptors, O_NOFOLLOW on every name, a symbolic link
followed only when root controls it and everything it passes through, only regular files with one link, and
at most ``max_file_bytes`` of them. Inside a directory it walks, it follows no link at all. Whatever it does not
read is reported in ``not_read`` with the reason; what it reads yields only key ids and names (``scan``).
"""

from __future__ import annotations

import glob
import grp
import os
import pwd
import stat

from ansible_collections.rotor.iam.plugins.module_utils._credfile import safe_io
from ansible_collections.rotor.iam.plugins.module_utils._credfile.formats import CredentialsFileError
from ansible_collections.rotor.iam.plugins.module_utils._discover import scan

SEARCH_PLACES = ("aws", "environment", "systemd", "docker")
SYSTEMD_DIRECTORIES = ("/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system")
COMPOSE_ROOTS = ("/opt", "/srv", "/etc/docker")
COMPOSE_DEPTH = 3
_SKIPPED_DIRECTORIES = frozenset((".git", "node_modules", ".cache", "__pycache__", ".venv", "proc", "sys"))
_GLOB_MAGIC = frozenset("*?[")
_PROBE = ".rotor-iam-discover-probe"
_DIRECTORY_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class DiscoverInputError(Exception):
    """Bad input to the module: the message names the input and what to do."""


def check_paths(paths, max_length=1000):
    """The operator's paths as a list of absolute paths (files, directories or globs), or DiscoverInputError."""
    if paths is None:
        return []
    if isinstance(paths, str):
        raise DiscoverInputError(
            f"paths must be a list of absolute paths, got the string {paths[:200]!r}; write it as a list "
            f"(paths: [/etc/app/env, /opt/app/.env] or rotor_discover_paths: [...])")
    if not isinstance(paths, (list, tuple)):
        raise DiscoverInputError(f"paths must be a list of absolute paths, got a {type(paths).__name__}")
    checked = []
    for index, path in enumerate(paths):
        if not isinstance(path, str):
            raise DiscoverInputError(f"paths[{index}] must be a string (an absolute path or glob), got a {type(path).__name__}")
        if "\0" in path or len(path) > max_length:
            raise DiscoverInputError(f"paths[{index}] is not a usable path (a NUL character, or longer than {max_length} characters)")
        if not path.startswith("/"):
            raise DiscoverInputError(
                f"paths[{index}] {scan.shown_path(path)!r} is not absolute; give the full path from / (the module runs on "
                f"each host, where a relative path means nothing)")
        if os.path.normpath(path) == "/":
            raise DiscoverInputError(f"paths[{index}] is /: searching the whole file system is not supported; name the "
                                     f"directories that hold credentials")
        checked.append(path)
    return checked


def _owner_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def why_not_read(info, max_bytes):
    """Why a file (its lstat) is not read, or None."""
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        return f"a symbolic link owned by {_owner_name(info.st_uid)}: not followed"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe): not a regular file, not read"
    if stat.S_ISSOCK(mode):
        return "a socket: not a regular file, not read"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device: not a regular file, not read"
    if not stat.S_ISREG(mode):
        return "not a regular file, not read"
    if info.st_nlink != 1:
        return f"has {info.st_nlink} hard links: a file reachable under another name is not read"
    if info.st_size > max_bytes:
        return f"larger than {max_bytes} bytes ({info.st_size}): not read"
    return None


class Search:
    """One host's search; results accumulate in ``found``, ``problems`` and ``not_read``."""

    def __init__(self, max_file_bytes=safe_io.MAX_READ_BYTES, max_files=10000, max_glob_matches=1000, max_depth=8, prefix=""):
        self.max_file_bytes = min(int(max_file_bytes), safe_io.MAX_READ_BYTES)
        self.max_files = max_files
        self.max_glob_matches = max_glob_matches
        self.max_depth = max_depth
        self.found = []
        self.problems = []
        self.not_read = []
        self.files_read = 0
        self.directories = 0
        self.warnings = []
        self._seen = set()
        # Tests search a tree under a directory instead of /: every usual place is looked for under prefix.
        self.prefix = prefix.rstrip("/")

    # ------------------------------------------------------------------ results

    def _skip(self, path, reason):
        entry = {"path": scan.shown_path(path), "reason": reason}
        if entry not in self.not_read:
            self.not_read.append(entry)

    def _skip_error(self, path, exc, doing):
        """Note why path was not read: rotor's own refusal as it words it, else the OS error and the step it met."""
        if isinstance(exc, CredentialsFileError):
            self._skip(path, scan.shown_path(str(exc)))
        else:
            self._skip(path, f"could not be {doing}: {exc.strerror or type(exc).__name__}")

    def _record(self, path, source, kind, state, text):
        result = scan.scan_text(text, kind)
        fmt = scan.file_format(kind, text)
        shown = scan.shown_path(path)
        meta = {
            "path": shown,
            "source": source,
            "format": fmt,
            "owner": _owner_name(state.uid),
            "group": _group_name(state.gid),
            "uid": state.uid,
            "gid": state.gid,
            "mode": "%04o" % state.mode,
            "readable_by_others": bool(state.mode & 0o004),
        }
        for entry in result.found:
            secret_name = result.secret_names.get(entry["profile"]) if kind != "env" else result.secret_names.get(None)
            self.found.append(dict(meta, temporary=entry["access_key_id"].startswith("ASIA"),
                                   secret_variable=scan.shown_label(secret_name), **entry))
        for problem in result.problems:
            self.problems.append(dict(problem, path=shown, source=source))
        return result

    # ------------------------------------------------------------------ reading

    def _fresh(self, state):
        if state.inode in self._seen:
            return False
        self._seen.add(state.inode)
        return True

    def _read_at(self, dir_fd, name, path):
        """The file's state and text, or None (the reason recorded in not_read)."""
        try:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        reason = why_not_read(info, self.max_file_bytes)
        if reason:
            self._skip(path, reason)
            return None
        if (info.st_dev, info.st_ino) in self._seen:
            return None
        try:
            state = safe_io.read_at(dir_fd, name, path)
        except (CredentialsFileError, OSError) as exc:
            self._skip_error(path, exc, "read")
            return None
        if not state.exists or not self._fresh(state):
            return None
        self.files_read += 1
        if b"\0" in state.content[:8192]:
            self._skip(path, "a binary file: not scanned")
            return None
        return state, state.content.decode("utf-8", errors="replace")

    def read_file(self, path, source, kind=None, quiet_missing=True):
        """Scan the file at path (a link followed only when root controls it); its ScanResult, or None."""
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            if not quiet_missing:
                self._skip(path, "does not exist")
            return None
        except OSError as exc:
            self._skip_error(path, exc, "looked at")
            return None
        if stat.S_ISLNK(info.st_mode) and info.st_uid not in (0, os.geteuid()):
            self._skip(path, why_not_read(info, self.max_file_bytes) + " (the account that owns it could point it at any file)")
            return None
        try:
            with safe_io.locate(path) as location:
                read = self._read_at(location.dir_fd, location.name, location.path)
                real = location.path
        except (CredentialsFileError, OSError) as exc:
            self._skip_error(path, exc, "opened")
            return None
        if read is None:
            return None
        state, text = read
        return self._record(real, source, kind or scan.kind_of(real), state, text)

    def open_directory(self, path):
        """An open descriptor of the directory at path (links resolved only when root controls them), or None."""
        if not os.path.isdir(path):
            return None
        try:
            location = safe_io.locate(os.path.join(os.path.normpath(path), _PROBE))
        except (CredentialsFileError, OSError) as exc:
            self._skip_error(path, exc, "opened")
            return None
        if location.name != _PROBE:
            location.close()
            self._skip(path, "changed while it was opened")
            return None
        fd, location.dir_fd = location.dir_fd, None
        return fd, location.directory

    def walk(self, dir_fd, real, on_file, depth=0, max_depth=None, report_links=True, files_left=None, given=None):
        """Call on_file(dir_fd, name, path, info) for each regular file under dir_fd, never through a link.
        Returns the number of files seen; raises DiscoverInputError past max_files (naming ``given``)."""
        max_depth = self.max_depth if max_depth is None else max_depth
        budget = [self.max_files if files_left is None else files_left]
        self._walk(dir_fd, real, on_file, depth, max_depth, report_links, budget, given or real)
        return budget[0]

    def _walk(self, dir_fd, real, on_file, depth, max_depth, report_links, budget, given):
        self.directories += 1
        try:
            names = sorted(os.listdir(dir_fd))
        except OSError as exc:
            self._skip_error(real, exc, "listed")
            return
        for name in names:
            path = real.rstrip("/") + "/" + name
            try:
                info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(info.st_mode):
                if depth >= max_depth or name in _SKIPPED_DIRECTORIES:
                    continue
                try:
                    child = os.open(name, _DIRECTORY_FLAGS, dir_fd=dir_fd)
                except OSError:
                    self._skip(path, "changed while it was searched (a directory replaced by a link?): not followed")
                    continue
                try:
                    self._walk(child, path, on_file, depth + 1, max_depth, report_links, budget, given)
                finally:
                    os.close(child)
            elif stat.S_ISREG(info.st_mode):
                budget[0] -= 1
                if budget[0] < 0:
                    raise DiscoverInputError(
                        f"{scan.shown_path(given)} holds more than {self.max_files} files; name the files or smaller "
                        f"directories that hold credentials, or raise max_files")
                on_file(dir_fd, name, path, info)
            elif report_links:
                self._skip(path, why_not_read(info, self.max_file_bytes))

    # ------------------------------------------------------------------ the usual places

    def homes(self):
        """Every home directory of the passwd database that exists, and /root."""
        found = []
        try:
            entries = pwd.getpwall()
        except OSError:
            entries = []
        for directory in ["/root"] + [entry.pw_dir for entry in entries]:
            if directory and directory.startswith("/") and os.path.normpath(directory) != "/":
                normal = self.prefix + os.path.normpath(directory)
                if normal not in found and os.path.isdir(normal):
                    found.append(normal)
        return found

    def search_aws(self, homes):
        for home in homes:
            self.read_file(home + "/.aws/credentials", "aws_credentials", "ini")
            self.read_file(home + "/.aws/config", "aws_config", "ini")

    def search_environment(self):
        self.read_file(self.prefix + "/etc/environment", "environment", "env")

    def _unit_file(self, dir_fd, name, path, info):
        if not (name.endswith((".service", ".socket", ".timer", ".mount")) or (name.endswith(".conf") and "/systemd/" in path)):
            return
        read = self._read_at(dir_fd, name, path)
        if read is None:
            return
        state, text = read
        result = self._record(path, "systemd", "systemd", state, text)
        for reference in result.references:
            target = reference["path"]
            if not target.startswith("/") or "%" in target:
                continue  # a specifier (%h) or a relative name systemd itself would refuse
            self.read_file(self.prefix + os.path.normpath(target), "env_file", "env", quiet_missing=not reference["required"])

    def search_systemd(self, homes):
        directories = [self.prefix + directory for directory in SYSTEMD_DIRECTORIES] + [home + "/.config/systemd/user" for home in homes]
        for directory in directories:
            opened = self.open_directory(directory)
            if opened is None:
                continue
            fd, real = opened
            try:
                # Units in these directories are often links (enablement, masks): they are not followed, nor listed.
                self.walk(fd, real, self._unit_file, max_depth=2, report_links=False, files_left=self.max_files * 10)
            except DiscoverInputError as exc:
                self.warnings.append(str(exc))
            finally:
                os.close(fd)

    def _compose_file(self, dir_fd, name, path, info):
        if name not in scan.COMPOSE_NAMES:
            return
        read = self._read_at(dir_fd, name, path)
        if read is None:
            return
        state, text = read
        result = self._record(path, "compose", "compose", state, text)
        directory = path.rsplit("/", 1)[0]
        self.read_file(directory + "/.env", "env_file", "env")
        for reference in result.references:
            target = reference["path"]
            if "$" in target:
                continue  # interpolated: not simple to find
            target = os.path.normpath(target if target.startswith("/") else directory + "/" + target)
            self.read_file(target, "env_file", "env", quiet_missing=False)

    def search_docker(self, homes):
        for root in [self.prefix + root for root in COMPOSE_ROOTS] + homes:
            opened = self.open_directory(root)
            if opened is None:
                continue
            fd, real = opened
            try:
                self.walk(fd, real, self._compose_file, max_depth=COMPOSE_DEPTH, report_links=False, files_left=self.max_files * 10)
            except DiscoverInputError as exc:
                self.warnings.append(str(exc))
            finally:
                os.close(fd)

    # ------------------------------------------------------------------ the operator's paths

    def expand(self, entry):
        """The paths an entry of ``paths`` names: itself, or its glob's matches (at most max_glob_matches)."""
        if not _GLOB_MAGIC & set(entry):
            return [entry]
        matches = []
        for match in glob.iglob(entry, recursive="**" in entry):
            matches.append(match)
            if len(matches) > self.max_glob_matches:
                raise DiscoverInputError(
                    f"the glob {scan.shown_path(entry)!r} of paths matches more than {self.max_glob_matches} paths; narrow it, "
                    f"or raise max_glob_matches")
        return sorted(matches)

    def _any_file(self, dir_fd, name, path, info):
        read = self._read_at(dir_fd, name, path)
        if read is not None:
            self._record(path, "path", scan.kind_of(path), *read)

    def search_path(self, entry):
        matches = self.expand(entry)
        if not matches and _GLOB_MAGIC & set(entry):
            self._skip(entry, "the glob matches nothing")
        for path in matches:
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                self._skip(path, "does not exist")
                continue
            except OSError as exc:
                self._skip_error(path, exc, "looked at")
                continue
            if stat.S_ISDIR(info.st_mode):
                opened = self.open_directory(path)
                if opened is None:
                    continue
                fd, real = opened
                try:
                    self.walk(fd, real, self._any_file, given=entry)
                finally:
                    os.close(fd)
            else:
                self.read_file(path, "path", quiet_missing=False)


def discover(paths=(), search=SEARCH_PLACES, max_file_bytes=safe_io.MAX_READ_BYTES, max_files=10000, max_glob_matches=1000,
             max_depth=8, prefix="", home_dirs=None):
    """Search this host; the module's result (without ``changed``). Raises DiscoverInputError on bad input."""
    paths = check_paths(paths)
    unknown = sorted(set(search) - set(SEARCH_PLACES))
    if unknown:
        raise DiscoverInputError(f"search has unknown place(s) {', '.join(unknown)}; choose from {', '.join(SEARCH_PLACES)}")
    for name, value in (("max_file_bytes", max_file_bytes), ("max_files", max_files), ("max_glob_matches", max_glob_matches),
                        ("max_depth", max_depth)):
        if not isinstance(value, int) or value < 1:
            raise DiscoverInputError(f"{name} must be a positive number, got {value!r}")
    if max_file_bytes > safe_io.MAX_READ_BYTES:
        raise DiscoverInputError(f"max_file_bytes must be at most {safe_io.MAX_READ_BYTES} (no credentials file is bigger), "
                                 f"got {max_file_bytes}")
    finder = Search(max_file_bytes, max_files, max_glob_matches, max_depth, prefix=prefix)
    homes = []
    if set(search) & {"aws", "systemd", "docker"}:
        homes = finder.homes() if home_dirs is None else [finder.prefix + home for home in home_dirs if os.path.isdir(finder.prefix + home)]
    if "aws" in search:
        finder.search_aws(homes)
    if "environment" in search:
        finder.search_environment()
    if "systemd" in search:
        finder.search_systemd(homes)
    if "docker" in search:
        finder.search_docker(homes)
    for entry in paths:
        finder.search_path(entry)
    found = sorted(finder.found, key=lambda f: (f["path"], f["line"] or 0, f["access_key_id"]))
    return {
        "found": found,
        "access_key_ids": sorted({f["access_key_id"] for f in found}),
        "problems": finder.problems,
        "not_read": finder.not_read,
        "searched": {"files": finder.files_read, "directories": finder.directories, "homes": len(homes),
                     "places": [place for place in SEARCH_PLACES if place in search], "paths": len(paths)},
        "warnings": finder.warnings,
    }
