# -*- coding: utf-8 -*-
# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the credentials_file integration playbook against localhost and inspect what it left on disk.

The playbook runs the module with Debian's /usr/bin/python3 (standard library
only) over ansible_connection=local, with --diff -vvvv; its own asserts check
the module results, these tests check the output and the files.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import stat

import pytest
import yaml
from support import run_playbook

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TARGET = os.path.join(REPO, "tests", "integration", "targets", "credentials_file")
HOST_PYTHON = "/usr/bin/python3"
SECRET_NAMES = (
    "credentials_file_old_secret",
    "credentials_file_new_secret",
    "credentials_file_newer_secret",
    "credentials_file_other_secret",
)

pytestmark = pytest.mark.skipif(not os.path.exists(HOST_PYTHON), reason="needs the host's " + HOST_PYTHON)


def _defaults():
    """The target's defaults, with {{ var }} references between them resolved."""
    with open(os.path.join(TARGET, "defaults", "main.yml")) as handle:
        raw = yaml.safe_load(handle)

    def resolve(text):
        return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda match: str(raw[match.group(1)]), text)

    return {name: resolve(value) if isinstance(value, str) else value for name, value in raw.items()}


def host_python_env(base):  # noqa: N802  pylint: disable=invalid-name
    """What a run of a host module with Debian's python3 adds to the support package's environment."""
    return {"ANSIBLE_PYTHON_INTERPRETER": HOST_PYTHON, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_LOCAL_TEMP": str(base / "ansible-local")}


@pytest.fixture(scope="module")
def defaults():
    return _defaults()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Run the playbook once; returns (workdir, completed process with stdout+stderr combined)."""
    base = tmp_path_factory.mktemp("credentials_file")
    workdir = base / "hosts"
    workdir.mkdir()
    inventory = base / "inventory.ini"
    inventory.write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % HOST_PYTHON)
    # test_playbook_passes reports a failure together with the output
    completed = run_playbook(os.path.join(TARGET, "playbook.yml"), base, inventories=[inventory], label="ansible-playbook",
                             extra_vars={"credentials_file_dir": str(workdir)}, diff=True, verbosity=4, combined=True, log=False,
                             timeout=600, cwd=TARGET, env_extra=host_python_env(base))
    return workdir, completed


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _files(directory):
    return sorted(os.listdir(directory))


def test_playbook_passes(run):
    _workdir, completed = run
    assert completed.returncode == 0, completed.stdout[-6000:]
    assert re.search(r"localhost\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=0", completed.stdout)


def test_module_ran_with_the_hosts_python(run):
    _workdir, completed = run
    assert HOST_PYTHON + " " in completed.stdout  # the AnsiballZ command line at -vvvv


def test_output_holds_no_secret_even_with_diff_and_vvvv(run, defaults):
    _workdir, completed = run
    for name in SECRET_NAMES:
        assert defaults[name] not in completed.stdout, name
    # The diffs were shown, redacted.
    assert "aws_secret_access_key = ********" in completed.stdout
    assert "AWS_SECRET_ACCESS_KEY=********" in completed.stdout
    assert "aws_access_key_id = " + defaults["credentials_file_new_id"] in completed.stdout


def test_aws_credentials_file_edited_minimally_0600_with_backup(run, defaults):
    workdir, _completed = run
    directory = workdir / "aws"
    seed = defaults["credentials_file_seed_ini"]
    expected = seed.replace(defaults["credentials_file_old_id"], defaults["credentials_file_new_id"]).replace(
        defaults["credentials_file_old_secret"], defaults["credentials_file_new_secret"]
    )
    assert (directory / "credentials").read_text() == expected
    info = os.stat(directory / "credentials")
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert (info.st_uid, info.st_gid) == (os.geteuid(), os.getegid())

    backups = [name for name in _files(directory) if name != "credentials"]
    assert len(backups) == 1, backups
    backup = directory / backups[0]
    assert re.fullmatch(
        r"credentials\.\d{8}T\d{12}Z\.%s\.rotor-iam-backup" % defaults["credentials_file_old_id"], backups[0]
    )
    assert backup.read_text() == seed
    # The backup keeps the file's own mode and owner (the seed was 0644): a restore takes them from it.
    assert _mode(backup) == 0o644 and os.stat(backup).st_uid == info.st_uid
    for name in SECRET_NAMES:
        assert defaults[name] not in backups[0]


def test_owner_group_and_mode(run, defaults):
    workdir, _completed = run
    path = workdir / "owner" / "app.env"
    info = os.stat(path)
    assert info.st_uid == pwd.getpwnam("nobody").pw_uid
    assert info.st_gid == grp.getgrnam("nogroup").gr_gid
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert path.read_text() == "AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n" % (
        defaults["credentials_file_new_id"], defaults["credentials_file_new_secret"],
    )
    # The mode-only change was backed up too, with the mode and owner the file had then.
    backup = [name for name in _files(path.parent) if name.endswith(".rotor-iam-backup") and ".absent." not in name]
    assert len(backup) == 1
    backup_info = os.stat(path.parent / backup[0])
    assert (backup_info.st_uid, stat.S_IMODE(backup_info.st_mode)) == (info.st_uid, 0o640)


def test_restore_brings_back_exact_bytes_and_mode(run, defaults):
    workdir, _completed = run
    path = workdir / "restore" / "credentials"
    assert path.read_bytes() == defaults["credentials_file_seed_ini"].encode()
    assert _mode(path) == 0o640


def test_restore_of_a_previously_absent_file_removes_it_and_its_marker(run):
    workdir, _completed = run
    assert _files(workdir / "absent") == []


def test_backups_absent_removes_backups_only(run, defaults):
    workdir, _completed = run
    directory = workdir / "cleanup"
    assert _files(directory) == ["aws.env", "aws.env.keep"]
    expected = defaults["credentials_file_seed_env"].replace(
        defaults["credentials_file_old_id"], defaults["credentials_file_new_id"]
    ).replace(defaults["credentials_file_old_secret"], defaults["credentials_file_new_secret"])
    assert (directory / "aws.env").read_text() == expected


def test_failed_tasks_left_files_alone(run):
    workdir, _completed = run
    assert _files(workdir / "errors") == ["broken.ini", "broken.json"]


def test_no_temporary_file_left(run):
    workdir, _completed = run
    for _root, _dirs, files in os.walk(workdir):
        assert not [name for name in files if "rotor-iam-tmp" in name]
