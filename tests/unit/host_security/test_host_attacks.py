# -*- coding: utf-8 -*-
# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host-side modules run as root against a directory owned by an unprivileged account, which attacks them.

Each test is one attack from issue 11, carried out by a real unprivileged user
that the test creates (and removes): its commands run with that user's uid and
gid. Next to the account's directory is an "outside" tree that stands for the
rest of the host (/etc/profile.d, another service's root-only credentials).
Every test asserts that nothing outside the account's directory was created,
changed or chowned, and that nothing from outside was read into the account's
files or into the module's output.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid

import pytest

from module_args import patch_module_args

from ansible_collections.rotor.iam.plugins.modules import credentials_file
from ansible_collections.rotor.iam.plugins.modules import health_check

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the attacks need root (the modules run as root)")

OLD_ID = "AKIAOLDKEY0000000001"
NEW_ID = "AKIANEWKEY0000000002"
OLD_SECRET = "OldSecretMustNotLeak/0123456789abcdefABCDEF"
NEW_SECRET = "NewSecretMustNotLeak+0123456789abcdefABCDEF"
OTHER_SECRET = "OtherServiceRootOnlySecret/DoNotRead0000000"
FUTURE = "29991231T235959000000Z"
# The account cannot run root's virtualenv; the host's own interpreter it can.
ATTACKER_PYTHON = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if os.access(p, os.X_OK)),
                       sys.executable)


# --------------------------------------------------------------------------- the host


@pytest.fixture(scope="module")
def attacker():
    """A fresh unprivileged account (removed afterwards), or nobody if accounts cannot be created."""
    name = "rotor-atk-" + uuid.uuid4().hex[:6]
    created = shutil.which("useradd") and subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True, check=False).returncode == 0
    account = pwd.getpwnam(name) if created else pwd.getpwnam("nobody")
    yield account
    if created:
        subprocess.run(["userdel", name], capture_output=True, check=False)


class Host:
    def __init__(self, base, account):
        self.base = base
        self.account = account
        self.outside = os.path.join(base, "outside")  # stands for the rest of the host
        self.home = os.path.join(base, "svc")  # the service account's directory
        self.credentials = os.path.join(self.home, "credentials")

    def as_attacker(self, code, wait=True):
        """Run Python code with the account's uid and gid (a real unprivileged process)."""
        def drop():
            os.setgroups([])
            os.setgid(self.account.pw_gid)
            os.setuid(self.account.pw_uid)
        argv = [ATTACKER_PYTHON, "-c", textwrap.dedent(code)]
        if not wait:
            return subprocess.Popen(argv, preexec_fn=drop, cwd=self.home)
        completed = subprocess.run(argv, preexec_fn=drop, cwd=self.home, capture_output=True, text=True, check=False)
        assert completed.returncode == 0, completed.stderr
        return completed

    def outside_state(self):
        """Every entry of the outside tree: type, mode, owner, content, inode times (chown/chmod show in ctime)."""
        state = {}
        for root, directories, files in os.walk(self.outside):
            for name in directories + files:
                path = os.path.join(root, name)
                info = os.lstat(path)
                digest = None
                if stat.S_ISREG(info.st_mode):
                    with open(path, "rb") as handle:
                        digest = hashlib.sha256(handle.read()).hexdigest()
                state[path] = (info.st_mode, info.st_uid, info.st_gid, info.st_nlink, info.st_mtime_ns,
                               info.st_ctime_ns, digest)
        return state

    def home_contents(self):
        blobs = []
        for name in os.listdir(self.home):
            path = os.path.join(self.home, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as handle:
                    blobs.append(handle.read())
        return b"".join(blobs)


@pytest.fixture
def host(attacker):
    base = tempfile.mkdtemp(prefix="rotor-attacks-", dir="/tmp")
    os.chmod(base, 0o755)
    h = Host(base, attacker)
    for directory in ("outside", "outside/profile.d", "outside/other-service", "svc"):
        os.mkdir(os.path.join(base, directory), 0o755)
    other = os.path.join(h.outside, "other-service", "credentials")
    with open(other, "w") as handle:
        handle.write("[default]\naws_access_key_id = AKIAOTHERSERVICE0009\naws_secret_access_key = %s\n" % OTHER_SECRET)
    os.chmod(other, 0o600)
    os.chown(h.home, attacker.pw_uid, attacker.pw_gid)
    h.baseline = h.outside_state()
    yield h
    assert h.outside_state() == h.baseline, "something outside the account's directory was created, changed or chowned"
    assert OTHER_SECRET.encode() not in h.home_contents(), "another service's secret was read into the account's files"
    shutil.rmtree(base)


def run(capsys, module, args, check_mode=False):
    with patch_module_args(dict(args, _ansible_check_mode=check_mode, _ansible_diff=True)):
        with pytest.raises(SystemExit):
            module.main()
    out = capsys.readouterr().out
    assert "Traceback" not in out and OTHER_SECRET not in out
    return json.loads(out), out


def present(path, **extra):
    return dict({"path": path, "access_key_id": NEW_ID, "secret_access_key": NEW_SECRET}, **extra)


def seed(host, owner_is_attacker=True, mode=0o600, text=None):
    with open(host.credentials, "w") as handle:
        handle.write(text or "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (OLD_ID, OLD_SECRET))
    if owner_is_attacker:
        os.chown(host.credentials, host.account.pw_uid, host.account.pw_gid)
    os.chmod(host.credentials, mode)


# --------------------------------------------------------------------------- 1. path safety


def test_a_link_to_a_file_that_does_not_exist_yet_is_not_created(capsys, host):
    target = os.path.join(host.outside, "profile.d", "evil.sh")
    host.as_attacker("import os; os.symlink(%r, 'credentials')" % target)

    result, _out = run(capsys, credentials_file, present(host.credentials, owner=host.account.pw_name))

    assert result["failed"] and "is a symbolic link owned by uid %d" % host.account.pw_uid in result["msg"]
    assert not os.path.lexists(target)


def test_a_link_to_another_services_root_only_credentials_is_neither_edited_nor_read(capsys, host):
    target = os.path.join(host.outside, "other-service", "credentials")
    host.as_attacker("import os; os.symlink(%r, 'credentials')" % target)

    written, _out = run(capsys, credentials_file, present(host.credentials, owner=host.account.pw_name))
    read, _out = run(capsys, credentials_file, {"path": host.credentials, "state": "read", "return_secret": True})

    assert written["failed"] and read["failed"]
    assert "rotor.iam follows only links owned by root" in read["msg"]
    assert os.stat(target).st_uid == 0 and stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_a_hard_link_to_a_root_only_file_is_refused(capsys, host):
    # protected_hardlinks stops the account itself on most hosts; the module does not rely on it.
    os.link(os.path.join(host.outside, "other-service", "credentials"), host.credentials)
    host.baseline = host.outside_state()  # the link itself touches the file's inode

    read, _out = run(capsys, credentials_file, {"path": host.credentials, "state": "read", "return_secret": True})
    written, _out = run(capsys, credentials_file, present(host.credentials, owner=host.account.pw_name))

    assert read["failed"] and "has 2 hard links" in read["msg"] and written["failed"]
    assert host.outside_state() == host.baseline
    os.unlink(host.credentials)
    host.baseline = host.outside_state()


def test_swapping_the_directory_for_a_link_during_writes_never_lands_a_file_outside(capsys, host):
    os.mkdir(os.path.join(host.home, ".aws"), 0o700)
    os.chown(os.path.join(host.home, ".aws"), host.account.pw_uid, host.account.pw_gid)
    swapper = host.as_attacker("""
        import os, time
        os.symlink(%r, "link")
        end = time.time() + 30
        while time.time() < end:
            os.rename(".aws", "real"); os.rename("link", ".aws")   # .aws is now a link outside
            os.rename(".aws", "link"); os.rename("real", ".aws")   # and the real directory again
    """ % os.path.join(host.outside, "profile.d"), wait=False)
    time.sleep(0.2)  # let the loop start
    try:
        outcomes = []
        # At least 40 writes; more (within the attacker's 30 s) until both sides of the race were met, which a loaded
        # machine's scheduling can delay.
        deadline = time.time() + 20
        while len(outcomes) < 40 or (time.time() < deadline and not ("written" in outcomes and "failed" in outcomes)):
            result, _out = run(capsys, credentials_file,
                               present(os.path.join(host.home, ".aws", "credentials"), backup=False, create=True))
            outcomes.append("failed" if result.get("failed") else "written")
            if result.get("failed"):
                assert "symbolic link owned by uid" in result["msg"] or "does not exist" in result["msg"] \
                    or "replaced by someone else" in result["msg"] or "keeps changing" in result["msg"], result["msg"]
        still_swapping = swapper.poll() is None
    finally:
        swapper.kill()
        swapper.wait()
    assert os.listdir(os.path.join(host.outside, "profile.d")) == []
    assert still_swapping, "the attacker's swapping loop died early"
    # The race was really run: some writes met the link (refused), some the directory (written inside it).
    assert "written" in outcomes and "failed" in outcomes, outcomes


def test_a_trusted_link_is_followed_and_kept(capsys, host):
    # root's own link in root's own directory, pointing through root's own directories: a legitimate setup
    trusted = os.path.join(host.base, "trusted")
    os.mkdir(trusted, 0o755)
    os.mkdir(os.path.join(trusted, "real"), 0o755)
    os.symlink("real/credentials", os.path.join(trusted, "credentials"))

    result, _out = run(capsys, credentials_file, present(os.path.join(trusted, "credentials"), create=True))

    assert result["changed"] and os.path.islink(os.path.join(trusted, "credentials"))
    with open(os.path.join(trusted, "real", "credentials")) as handle:
        assert NEW_ID in handle.read()


# --------------------------------------------------------------------------- 2. backups are the module's own


def test_a_planted_backup_link_dated_in_the_future_is_not_restored(capsys, host):
    seed(host, owner_is_attacker=False)  # a root-only file in the account's directory
    written, _out = run(capsys, credentials_file, present(host.credentials))
    planted = "credentials.%s.%s.m0644.rotor-iam-backup" % (FUTURE, OLD_ID)
    host.as_attacker("import os; os.symlink(%r, %r)" % (
        os.path.join(host.outside, "other-service", "credentials"), planted))
    host.as_attacker("open('credentials.%s.%s.rotor-iam-backup', 'w').write('[default]\\naws_access_key_id = %s\\n')"
                     % ("20200101T000000000000Z", OLD_ID, OLD_ID))

    restored, _out = run(capsys, credentials_file, {"path": host.credentials, "state": "restored",
                                                    "backup_access_key_id": OLD_ID})

    assert restored["backup_file"] == written["backup_file"]
    warnings = json.dumps(restored.get("warnings"))
    assert "it is a symbolic link" in warnings and "neither root nor the file's owner" in warnings
    info = os.stat(host.credentials)
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o600)
    assert os.path.islink(os.path.join(host.home, planted))  # ignored, not followed, not removed


def test_a_restore_takes_the_mode_from_the_backup_not_from_its_name(capsys, host):
    seed(host, owner_is_attacker=False)
    written, _out = run(capsys, credentials_file, present(host.credentials))
    name = os.path.basename(written["backup_file"])
    host.as_attacker("import os; os.rename(%r, %r)" % (name, name.replace(".rotor-iam-backup", ".m0644.rotor-iam-backup")))

    restored, _out = run(capsys, credentials_file, {"path": host.credentials, "state": "restored"})

    assert restored["changed"] and restored["access_key_id"] == OLD_ID
    assert stat.S_IMODE(os.stat(host.credentials).st_mode) == 0o600 and os.stat(host.credentials).st_uid == 0
    assert sorted(os.listdir(host.home)) == ["credentials"]  # the backup it used is gone


def test_backup_file_must_be_a_backup_of_path(capsys, host):
    seed(host)
    result, _out = run(capsys, credentials_file, {
        "path": host.credentials, "state": "restored",
        "backup_file": os.path.join(host.outside, "other-service", "credentials")})
    assert result["failed"] and "is not a backup of %s" % host.credentials in result["msg"]


# --------------------------------------------------------------------------- 3. key material is what it claims


def test_a_file_with_id_and_secret_swapped_never_returns_or_names_the_secret(capsys, host):
    seed(host, text="[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (OLD_SECRET, OLD_ID))

    read, out = run(capsys, credentials_file, {"path": host.credentials, "state": "read"})
    assert read["failed"] and "value withheld" in read["msg"] and OLD_SECRET not in out

    refused, out = run(capsys, credentials_file, present(host.credentials, owner=host.account.pw_name))
    assert refused["failed"] and "holds no key to replace" in refused["msg"] and OLD_SECRET not in out

    written, out = run(capsys, credentials_file, present(host.credentials, create=True, owner=host.account.pw_name))
    assert written["changed"] and written["previous_access_key_id"] is None and OLD_SECRET not in out
    assert all(OLD_SECRET not in name for name in os.listdir(host.home))


# --------------------------------------------------------------------------- 4. modes and owners


@pytest.mark.parametrize("mode, message", [(600, "Quote it: '0600'"), ("4755", "setuid"), ("6600", "setuid")])
def test_modes_that_would_surprise_are_refused_before_anything_changes(capsys, host, mode, message):
    seed(host)
    before = os.stat(host.credentials)
    result, _out = run(capsys, credentials_file, present(host.credentials, mode=mode))
    assert result["failed"] and message in result["msg"]
    assert os.stat(host.credentials) == before and os.listdir(host.home) == ["credentials"]


# --------------------------------------------------------------------------- 5. health_check


def test_a_restart_service_entry_that_is_a_path_is_never_run(capsys, host):
    marker = os.path.join(host.base, "ran-as-root")
    host.as_attacker("""
        open("x.sh", "w").write("#!/bin/sh\\ntouch %s\\n")
        import os; os.chmod("x.sh", 0o755)
    """ % marker)
    relative = os.path.relpath(os.path.join(host.home, "x.sh"), "/etc/init.d")

    result, _out = run(capsys, health_check, {"restart_services": [relative]})

    assert result["failed"] and "is not a service name" in result["msg"]
    assert not os.path.exists(marker)


def test_url_credentials_are_redacted_everywhere(capsys, host):
    result, out = run(capsys, health_check, {"url": "http://monitor:Hunter2Secret@127.0.0.1:9/health", "retries": 0,
                                             "timeout": 1})
    assert result["failed"] and "http://********@127.0.0.1:9/health" in result["msg"]
    assert "Hunter2Secret" not in out


# --------------------------------------------------------------------------- 7. no traceback, nothing left behind


def test_inputs_that_used_to_crash_leave_the_files_as_they_were(capsys, host):
    seed(host)
    before = os.stat(host.credentials)
    result, _out = run(capsys, credentials_file, present(host.credentials, owner="99999999999"))
    assert result["failed"] and "owner 99999999999 is out of range" in result["msg"]
    assert os.stat(host.credentials) == before and os.listdir(host.home) == ["credentials"]

    settings = os.path.join(host.home, "settings.json")
    with open(settings, "w") as handle:
        handle.write('{"note": "\\ud800", "big": 1e400, "AccessKeyId": "%s"}' % OLD_ID)
    written, _out = run(capsys, credentials_file, present(settings, format="json"))
    assert written["changed"]
    with open(settings) as handle:
        assert handle.read().startswith('{"note": "\\ud800", "big": 1e400, "AccessKeyId": "%s"' % NEW_ID)


def test_a_failed_write_removes_the_backup_it_made(capsys, host, monkeypatch):
    seed(host)
    from ansible_collections.rotor.iam.plugins.module_utils._credfile import safe_io

    def broken_rename(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safe_io.os, "rename", broken_rename)
    result, _out = run(capsys, credentials_file, present(host.credentials, owner=host.account.pw_name))
    monkeypatch.undo()
    assert result["failed"] and "No space left on device" in result["msg"]
    assert os.listdir(host.home) == ["credentials"]
