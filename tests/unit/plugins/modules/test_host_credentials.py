# -*- coding: utf-8 -*-
# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rotor.iam.host_credentials over its plain run() function, on real files in temporary directories.

Every result any test gets is checked for the secrets it could have leaked (json.dumps, then grep).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from module_args import patch_module_args

from ansible_collections.rotor.iam.plugins.modules import host_credentials

OLD_ID = "AKIAOLDKEY0000000001"
MID_ID = "AKIAMIDKEY0000000003"
NEW_ID = "AKIANEWKEY0000000002"
OLD_SECRET = "OldSecretMustNotLeak/0123456789abcdefABCDEF"
MID_SECRET = "MidSecretMustNotLeak=0123456789abcdefABCDEF"
NEW_SECRET = "NewSecretMustNotLeak+0123456789abcdefABCDEF"
SECRETS = (OLD_SECRET, MID_SECRET, NEW_SECRET)
PLACEHOLDER = "NEW-KEY-OF-APP-BACKUP"
BACKUP_RE = re.compile(r"\.\d{8}T\d{12}Z\.(\w+)\.rotor-iam-backup\Z")


class Runner:
    """What host_credentials needs of AnsibleModule to restart and check: run_command and get_bin_path."""

    def __init__(self):
        self.commands = []

    def run_command(self, args, use_unsafe_shell=False, **_kwargs):
        self.commands.append(args)
        done = subprocess.run(args, shell=use_unsafe_shell, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr

    @staticmethod
    def get_bin_path(name, required=False):
        return shutil.which(name) or (None if not required else "/nonexistent/" + name)


def run(params, check_mode=False, diff=False):
    """host_credentials.run() with the module's defaults; asserts the result holds no secret."""
    args = {"state": "read", "backup": True, "restart_services": [], "health_check": {}}
    args.update(params)
    result, warnings = host_credentials.run(args, Runner(), check_mode=check_mode, diff=diff)
    dumped = json.dumps([result, warnings])
    for secret in SECRETS:
        assert secret not in dumped
    return result


def ini(key_id, secret, profile="default"):
    return "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n[other]\nregion = eu-west-1\n" % (
        profile, key_id, secret)


def env(key_id, secret):
    return "# app\nAWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\nLOG_LEVEL=debug\n" % (key_id, secret)


def json_text(key_id, secret):
    return json.dumps({"AccessKeyId": key_id, "SecretAccessKey": secret, "Port": 8080}, indent=2) + "\n"


@pytest.fixture
def host(tmp_path):
    """Three files holding the old key (aws_credentials, env, json), and their entries for files."""
    (tmp_path / "credentials").write_text(ini(OLD_ID, OLD_SECRET))
    (tmp_path / "app.env").write_text(env(OLD_ID, OLD_SECRET))
    (tmp_path / "settings.json").write_text(json_text(OLD_ID, OLD_SECRET))
    files = [
        {"path": str(tmp_path / "credentials")},
        {"path": str(tmp_path / "app.env"), "format": "env"},
        {"path": str(tmp_path / "settings.json"), "format": "json", "mode": "0640"},
    ]
    return tmp_path, files


def switched(files, key_id=NEW_ID, secret=NEW_SECRET, **extra):
    return dict({"state": "switched", "files": files, "access_key_id": key_id, "secret_access_key": secret}, **extra)


def snapshot(directory):
    """Every file under directory with its content and mode."""
    found = {}
    for root, dirs, names in os.walk(directory):
        for name in dirs + names:
            path = os.path.join(root, name)
            info = os.lstat(path)
            found[path] = (info.st_mode, info.st_uid, None if os.path.isdir(path) else open(path, "rb").read())
    return found


def backups(directory):
    return sorted(name for name in os.listdir(directory) if name.endswith(".rotor-iam-backup"))


# --------------------------------------------------------------------------- read


def test_read_reports_the_key_id_of_every_file_in_file_order(host):
    tmp_path, files = host
    (tmp_path / "other").write_text(ini(MID_ID, MID_SECRET, profile="agent"))
    files = files + [{"path": str(tmp_path / "other"), "profile": "agent"}, {"path": str(tmp_path / "missing")}]
    before = snapshot(tmp_path)

    result = run({"files": files})

    assert result["file_key_ids"] == [OLD_ID, OLD_ID, OLD_ID, MID_ID, ""]
    assert result["key_ids"] == [OLD_ID, MID_ID]
    assert [entry["path"] for entry in result["files"]] == [entry["path"] for entry in files]
    assert result["files"][4] == {"path": str(tmp_path / "missing"), "access_key_id": None, "changed": False,
                                  "backup_file": None, "exists": False, "found": False, "error": None,
                                  "looks_like": None, "mode": None}
    assert result["files"][3]["exists"] and result["files"][3]["found"] and result["files"][3]["error"] is None
    assert result["changed"] is False and result["step"] is None and result["failure"] is None
    assert result["wrote"] is False and result["switched_at"] is None and result["attempts"] == 0
    assert snapshot(tmp_path) == before


def test_read_is_identical_in_check_mode(host):
    _tmp_path, files = host
    assert run({"files": files}, check_mode=True) == run({"files": files})


def test_an_empty_list_is_nothing_to_do():
    for state in ("read", "checked", "backups_absent", "restored"):
        result = run({"state": state, "files": []})
        assert not result.get("failed"), result
        assert result["files"] == [] and result["file_key_ids"] == [] and result["key_ids"] == []


def test_a_file_that_cannot_be_read_fails_read_naming_it(tmp_path):
    (tmp_path / "credentials").write_text("[default]\naws_access_key_id = %s\n" % OLD_SECRET)
    (tmp_path / "ok").write_text(ini(OLD_ID, OLD_SECRET))
    result = run({"files": [{"path": str(tmp_path / "credentials")}, {"path": str(tmp_path / "ok")}]})
    assert result["failed"] and result["step"] == "read"
    assert result["failure"]["check"] == "reading %s" % (tmp_path / "credentials")
    assert "value withheld" in result["msg"] and result["msg"].startswith("files[0]: ")
    assert result["file_key_ids"] == ["", OLD_ID]


# --------------------------------------------------------------------------- switched


def test_switched_writes_every_file_with_a_backup_then_restarts_and_checks(host):
    tmp_path, files = host
    marker = tmp_path / "restarted"
    result = run(switched(files, restart_command="echo once >> %s" % marker, health_check={"command": "true"}))

    assert not result.get("failed"), result
    assert (tmp_path / "credentials").read_text() == ini(NEW_ID, NEW_SECRET)
    assert (tmp_path / "app.env").read_text() == env(NEW_ID, NEW_SECRET)
    assert json.loads((tmp_path / "settings.json").read_text())["AccessKeyId"] == NEW_ID
    assert oct(os.stat(tmp_path / "settings.json").st_mode & 0o777) == "0o640"
    assert result["file_key_ids"] == [NEW_ID] * 3 and result["key_ids"] == [NEW_ID]
    assert result["wrote"] is True and result["changed"] is True
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", result["switched_at"])
    assert marker.read_text() == "once\n" and result["restarted"] == ["echo once >> %s" % marker]
    assert result["attempts"] == 1 and result["status"] == 0
    assert result["step"] is None and result["failure"] is None
    names = backups(tmp_path)
    assert len(names) == 3 and all(BACKUP_RE.search(name).group(1) == OLD_ID for name in names)
    for entry, spec in zip(result["files"], files):
        assert entry["path"] == spec["path"] and entry["changed"] is True and entry["access_key_id"] == NEW_ID
        assert os.path.basename(entry["backup_file"]) in names
        assert entry["backup_file"].startswith(spec["path"] + ".")


def test_switched_without_backup_makes_none(host):
    tmp_path, files = host
    result = run(switched(files, backup=False))
    assert result["wrote"] is True and backups(tmp_path) == []
    assert [entry["backup_file"] for entry in result["files"]] == [None] * 3


def test_a_file_that_already_holds_the_key_is_written_true_changed_false(host):
    tmp_path, files = host
    run(switched(files))
    before = snapshot(tmp_path)

    result = run(switched(files))

    assert result["wrote"] is True and result["changed"] is False
    assert [entry["changed"] for entry in result["files"]] == [False] * 3
    assert [entry["backup_file"] for entry in result["files"]] == [None] * 3
    assert result["file_key_ids"] == [NEW_ID] * 3
    assert snapshot(tmp_path) == before


def test_a_failing_write_stops_the_run_and_reports_what_was_written(host):
    tmp_path, files = host
    (tmp_path / "app.env").unlink()
    (tmp_path / "app.env").mkdir()  # where the second file should be
    marker = tmp_path / "restarted"

    result = run(switched(files, restart_command="touch %s" % marker))

    assert result["failed"] and result["step"] == "write"
    assert result["failure"]["check"] == "writing %s" % (tmp_path / "app.env")
    assert "is a directory" in result["failure"]["msg"] and result["msg"] == result["failure"]["msg"]
    assert result["files"][0]["access_key_id"] == NEW_ID and result["files"][0]["changed"] is True
    assert result["files"][0]["backup_file"] is not None
    assert result["files"][1] == {"path": str(tmp_path / "app.env"), "access_key_id": None, "changed": False,
                                  "backup_file": None}
    # The third file was not reached: it still holds the old key.
    assert (tmp_path / "settings.json").read_text() == json_text(OLD_ID, OLD_SECRET)
    assert result["file_key_ids"] == [NEW_ID, "", OLD_ID] and result["key_ids"] == [NEW_ID, OLD_ID]
    assert result["wrote"] is True and result["changed"] is True and result["switched_at"] is None
    assert not marker.exists() and result["restarted"] == []


def test_a_failing_first_write_wrote_nothing(host):
    tmp_path, files = host
    (tmp_path / "credentials").write_text("[default]\n[default]\n")  # botocore refuses duplicate profiles
    result = run(switched(files))
    assert result["failed"] and result["step"] == "write" and result["wrote"] is False
    assert (tmp_path / "app.env").read_text() == env(OLD_ID, OLD_SECRET)


def test_a_failing_restart_is_step_restart_and_skips_the_check(host):
    tmp_path, files = host
    marker = tmp_path / "checked"
    result = run(switched(files, restart_command="echo broken >&2; exit 3",
                          health_check={"command": "touch %s" % marker}))
    assert result["failed"] and result["step"] == "restart"
    assert result["failure"]["check"] == "restart command `echo broken >&2; exit 3`"
    assert result["msg"] == "restart command failed (exit code 3): broken"
    assert result["restarted"] == ["echo broken >&2; exit 3"]
    assert result["wrote"] is True and result["file_key_ids"] == [NEW_ID] * 3 and result["switched_at"]
    assert not marker.exists() and result["attempts"] == 0


def test_a_failing_health_check_is_step_health_check_with_its_attempts(host):
    _tmp_path, files = host
    result = run(switched(files, health_check={"command": "exit 1", "retries": 2, "delay": 0}))
    assert result["failed"] and result["step"] == "health_check"
    assert result["attempts"] == 3 and result["status"] == 1
    assert result["failure"] == {"check": "Command health check `exit 1`",
                                 "msg": "Command health check `exit 1` failed after 3 attempt(s): exit code 1"}
    assert result["wrote"] is True and result["file_key_ids"] == [NEW_ID] * 3


# --------------------------------------------------------------------------- expected_access_key_id


def test_switched_with_the_expected_old_key_writes_every_file(host):
    tmp_path, files = host
    result = run(switched(files, expected_access_key_id=OLD_ID))
    assert not result.get("failed") and result["wrote"] is True
    assert result["file_key_ids"] == [NEW_ID] * 3 and len(backups(tmp_path)) == 3


@pytest.mark.parametrize("check_mode", [False, True])
def test_switched_refuses_a_file_on_another_key_naming_it_and_writes_nothing(host, check_mode):
    tmp_path, files = host
    (tmp_path / "settings.json").write_text(json_text(MID_ID, MID_SECRET))
    marker = tmp_path / "restarted"
    before = snapshot(tmp_path)

    result = run(switched(files, expected_access_key_id=OLD_ID, restart_command="touch %s" % marker,
                          health_check={"command": "touch %s" % marker}), check_mode=check_mode, diff=check_mode)

    assert result["failed"] and result["step"] == "expected_key" and result["changed"] is False
    assert result["msg"] == ("%s holds access key id %s, not the expected %s (or the new key %s); nothing was written or "
                             "restarted (expected_access_key_id)" % (tmp_path / "settings.json", MID_ID, OLD_ID, NEW_ID))
    assert result["failure"]["check"] == "checking which key %s holds" % (tmp_path / "settings.json")
    assert result["file_key_ids"] == [OLD_ID, OLD_ID, MID_ID] and result["restarted"] == []
    assert snapshot(tmp_path) == before and not marker.exists()


def test_switched_accepts_files_already_on_the_new_key_a_resumed_run(host):
    tmp_path, files = host
    (tmp_path / "credentials").write_text(ini(NEW_ID, NEW_SECRET))
    result = run(switched(files, expected_access_key_id=OLD_ID))
    assert not result.get("failed") and result["file_key_ids"] == [NEW_ID] * 3
    assert [entry["changed"] for entry in result["files"]] == [False, True, True]


def test_a_file_without_a_key_passes_only_where_its_entry_may_create_one(host):
    tmp_path, files = host
    (tmp_path / "app.env").write_text("LOG_LEVEL=debug\n")
    refused = run(switched(files, expected_access_key_id=OLD_ID))
    assert refused["step"] == "expected_key" and "app.env holds no access key id, not the expected" in refused["msg"]
    assert (tmp_path / "credentials").read_text() == ini(OLD_ID, OLD_SECRET)

    files[1]["create"] = True
    assert run(switched(files, expected_access_key_id=OLD_ID))["file_key_ids"] == [NEW_ID] * 3


def test_a_secret_where_the_key_id_should_be_is_withheld(host):
    tmp_path, files = host
    (tmp_path / "credentials").write_text(ini(OLD_SECRET, OLD_SECRET))
    result = run(switched(files, expected_access_key_id=OLD_ID))  # run() asserts no secret in the result
    assert result["step"] == "expected_key" and "could not read which key" in result["msg"]
    assert (tmp_path / "app.env").read_text() == env(OLD_ID, OLD_SECRET)


def test_checked_with_an_expected_key_checks_only_when_every_file_holds_it(host):
    tmp_path, files = host
    marker = tmp_path / "checked"
    ok = run({"state": "checked", "files": files, "expected_access_key_id": OLD_ID, "health_check": {"command": "true"}})
    assert not ok.get("failed") and ok["attempts"] == 1 and ok["file_key_ids"] == [OLD_ID] * 3

    refused = run({"state": "checked", "files": files, "expected_access_key_id": NEW_ID,
                   "health_check": {"command": "touch %s" % marker}})
    assert refused["step"] == "expected_key" and refused["attempts"] == 0 and not marker.exists()
    assert refused["msg"].endswith("not the expected %s; no health check ran (expected_access_key_id)" % NEW_ID)
    assert refused["file_key_ids"] == [OLD_ID] * 3


@pytest.mark.parametrize("options, message", [
    ({"state": "read", "expected_access_key_id": OLD_ID}, "expected_access_key_id is used only with state=switched or state=checked"),
    ({"state": "checked", "expected_access_key_id": OLD_SECRET}, "expected_access_key_id does not look like an AWS access key id"),
])
def test_a_bad_expected_access_key_id_is_refused_before_anything(host, options, message):
    _tmp_path, files = host
    result = run(dict(options, files=files))
    assert result["step"] == "input" and result["msg"].startswith(message)


def test_checked_runs_only_the_health_check(host):
    tmp_path, files = host
    marker = tmp_path / "restarted"
    before = snapshot(tmp_path)
    result = run({"state": "checked", "files": files, "restart_command": "touch %s" % marker,
                  "health_check": {"command": "true"}})
    assert not result.get("failed") and result["attempts"] == 1 and result["status"] == 0
    assert result["restarted"] == [] and result["changed"] is False
    assert result["file_key_ids"] == [OLD_ID] * 3
    assert snapshot(tmp_path) == before

    failing = run({"state": "checked", "files": files, "health_check": {"command": "exit 4", "retries": 0}})
    assert failing["step"] == "health_check" and failing["attempts"] == 1 and failing["status"] == 4


def test_no_health_check_means_none_runs(host):
    _tmp_path, files = host
    for checks in ({}, {"retries": 1}):
        result = run(switched(files, health_check=checks))
        assert not result.get("failed") and result["attempts"] == 0 and result["status"] is None


# --------------------------------------------------------------------------- restored and backups_absent


def test_restored_with_backup_access_key_id_puts_every_file_back(host):
    tmp_path, files = host
    originals = {name: (tmp_path / name).read_text() for name in ("credentials", "app.env", "settings.json")}
    run(switched(files))
    marker = tmp_path / "restarted"

    result = run({"state": "restored", "files": files, "backup_access_key_id": OLD_ID,
                  "restart_command": "touch %s" % marker, "health_check": {"command": "true"}})

    assert not result.get("failed"), result
    assert {name: (tmp_path / name).read_text() for name in originals} == originals
    assert result["restored"] is True and result["changed"] is True
    assert result["file_key_ids"] == [OLD_ID] * 3 and result["wrote"] is False
    assert all(BACKUP_RE.search(entry["backup_file"]).group(1) == OLD_ID for entry in result["files"])
    assert backups(tmp_path) == [] and marker.exists() and result["attempts"] == 1

    again = run({"state": "restored", "files": files, "backup_access_key_id": OLD_ID})
    assert not again.get("failed") and again["restored"] is False and again["changed"] is False


def test_restored_from_backup_files_of_an_earlier_switch(host):
    tmp_path, files = host
    run(switched(files, key_id=MID_ID, secret=MID_SECRET))
    second = run(switched(files))
    backup_files = [entry["backup_file"] for entry in second["files"]]
    backup_files[2] = ""  # this one: the newest backup holding backup_access_key_id

    result = run({"state": "restored", "files": files, "backup_files": backup_files,
                  "backup_access_key_id": OLD_ID})

    assert not result.get("failed"), result
    assert result["file_key_ids"] == [MID_ID, MID_ID, OLD_ID]
    assert (tmp_path / "credentials").read_text() == ini(MID_ID, MID_SECRET)
    assert [entry["backup_file"] for entry in result["files"][:2]] == backup_files[:2]


def test_restored_tries_every_file_and_fails_naming_the_ones_without_a_backup(host):
    tmp_path, files = host
    run(switched(files[:2]))  # the json file has no backup
    (tmp_path / "settings.json").write_text(json_text(NEW_ID, NEW_SECRET))
    marker = tmp_path / "restarted"

    result = run({"state": "restored", "files": files, "backup_access_key_id": OLD_ID,
                  "restart_command": "touch %s" % marker})

    assert result["failed"] and result["step"] == "restore"
    assert result["failure"]["check"] == "restoring %s" % (tmp_path / "settings.json")
    assert "no backup of %s holds access key %s" % (tmp_path / "settings.json", OLD_ID) in result["msg"]
    assert result["msg"].startswith("files[2]: ")
    assert [entry["changed"] for entry in result["files"]] == [True, True, False]
    assert result["file_key_ids"] == [OLD_ID, OLD_ID, NEW_ID] and result["restored"] is True
    assert not marker.exists() and result["restarted"] == []


def test_backup_files_must_be_aligned_with_files(host):
    _tmp_path, files = host
    result = run({"state": "restored", "files": files, "backup_files": ["/x"]})
    assert result["step"] == "input" and "backup_files has 1 entries but files has 3" in result["msg"]


def test_backups_absent_removes_the_backups_of_every_file(host):
    tmp_path, files = host
    run(switched(files))
    assert len(backups(tmp_path)) == 3

    result = run({"state": "backups_absent", "files": files})

    assert not result.get("failed") and result["changed"] is True and backups(tmp_path) == []
    assert result["file_key_ids"] == [NEW_ID] * 3
    again = run({"state": "backups_absent", "files": files})
    assert again["changed"] is False


# --------------------------------------------------------------------------- check mode


@pytest.mark.parametrize("state", ["switched", "restored", "backups_absent", "checked"])
def test_check_mode_writes_nothing_restarts_nothing_and_checks_nothing(host, state):
    tmp_path, files = host
    run(switched(files))
    marker = tmp_path / "ran"
    before = snapshot(tmp_path)
    params = switched(files, key_id=PLACEHOLDER, secret="check-mode-placeholder-not-a-secret") \
        if state == "switched" else {"state": state, "files": files, "backup_access_key_id": OLD_ID}
    params.update(restart_command="touch %s" % marker, health_check={"command": "touch %s" % marker})

    result = run(params, check_mode=True, diff=True)

    assert not result.get("failed"), result
    assert snapshot(tmp_path) == before and not marker.exists()
    assert result["wrote"] is False and result["restored"] is False and result["attempts"] == 0
    assert result["switched_at"] is None
    if state != "checked":
        assert result["changed"] is True and len(result["diff"]) == 3
        assert result["restarted"] == ([] if state == "backups_absent" else ["touch %s" % marker])


def test_check_mode_diff_shows_key_ids_and_a_redacted_secret(host):
    _tmp_path, files = host
    result = run(switched(files), check_mode=True, diff=True)
    assert [entry["access_key_id"] for entry in result["files"]] == [NEW_ID] * 3
    assert result["wrote"] is False and result["changed"] is True
    first = result["diff"][0]
    assert "aws_access_key_id = %s" % OLD_ID in first["before"]
    assert "aws_access_key_id = %s" % NEW_ID in first["after"]
    assert "aws_secret_access_key = ******** (changed)" in first["after"]
    assert "AWS_ACCESS_KEY_ID=%s" % NEW_ID in result["diff"][1]["after"]


def test_the_placeholder_is_refused_outside_check_mode(host):
    tmp_path, files = host
    before = snapshot(tmp_path)
    result = run(switched(files, key_id=PLACEHOLDER, secret="check-mode-placeholder-not-a-secret"))
    assert result["step"] == "input" and "accepted only in check mode" in result["msg"]
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------- bad input


BAD_ENTRIES = [
    ({"path": "{dir}/credentials", "colour": "red"}, "files[1]: unknown key(s) 'colour'"),
    ({"format": "env"}, "files[1]: path is required"),
    ({"path": ""}, "files[1]: path is required"),
    ({"path": "relative/credentials"}, "files[1].path: path relative/credentials must be an absolute path"),
    ({"path": "{dir}/x", "format": "yaml"}, "files[1].format: format must be one of aws_credentials, env, json"),
    ({"path": "{dir}/x", "profile": "DEFAULT"}, "files[1].profile: profile 'DEFAULT' is not a profile"),
    ({"path": "{dir}/x", "format": "env", "variable_names": {"id": "X"}},
     "files[1].variable_names: unknown key(s) 'id'; it takes access_key_id, secret_access_key"),
    ({"path": "{dir}/x", "format": "env", "variable_names": {"access_key_id": "1X"}},
     "files[1].variable_names: variable_names.access_key_id '1X' is not a valid environment variable name"),
    ({"path": "{dir}/x", "mode": 600}, "files[1].mode: mode 600 is the decimal number 600"),
    ({"path": "{dir}/x", "mode": "u=rw"}, "files[1].mode: mode must be an octal number"),
    ({"path": "{dir}/x", "mode": "0666"}, "files[1].mode: mode 0666 lets every user"),
    ({"path": "{dir}/x", "owner": "no-such-user-rotor"}, "files[1].owner: owner 'no-such-user-rotor' is not a user"),
    ({"path": "{dir}/x", "owner": "99999999999"}, "files[1].owner: owner 99999999999 is out of range"),
    ("just-a-path", "files[1] must be a dict"),
]


@pytest.mark.parametrize("entry, message", BAD_ENTRIES, ids=[message for _entry, message in BAD_ENTRIES])
def test_a_bad_entry_is_named_and_changes_nothing(host, entry, message):
    tmp_path, files = host
    if isinstance(entry, dict):
        entry = {key: value.format(dir=tmp_path) if isinstance(value, str) else value for key, value in entry.items()}
    before = snapshot(tmp_path)

    result = run(switched([files[0], entry]))

    assert result["failed"] and result["step"] == "input"
    assert result["msg"].startswith(message), result["msg"]
    assert result["failure"] == {"check": "checking the options", "msg": result["msg"]}
    assert snapshot(tmp_path) == before
    assert len(result["files"]) == 2 and result["file_key_ids"] == ["", ""] and result["wrote"] is False


BAD_OPTIONS = [
    ({"health_check": {"url": "http://x/", "command": "true"}}, "health_check: url and command are mutually exclusive"),
    ({"health_check": {"cmd": "true"}}, "health_check: unknown key(s) 'cmd'"),
    ({"health_check": {"command": "true", "retries": -1}}, "health_check.retries must be zero or more (got -1)."),
    ({"health_check": {"command": "true", "timeout": 0}}, "health_check.timeout must be positive"),
    ({"health_check": {"command": "true", "retries": "many"}}, "health_check.retries must be a whole number"),
    ({"health_check": {"url": "ftp://u:Pw0rdX@host/"}}, "health_check.url ftp://********@host/ must be an http://"),
    ({"health_check": {"url": "http://x/", "status_code": ["ok"]}}, "health_check.status_code must be a whole number"),
    ({"restart_services": ["../../tmp/x.sh"]}, "restart_services entry '../../tmp/x.sh' is not a service name"),
    ({"access_key_id": OLD_SECRET}, "access_key_id does not look like an AWS access key id"),
    ({"access_key_id": None}, "access_key_id is required and must not be empty"),
    ({"secret_access_key": None}, "secret_access_key is required for state=switched"),
    ({"secret_access_key": "has a space"}, "secret_access_key"),
]


@pytest.mark.parametrize("options, message", BAD_OPTIONS, ids=[message for _options, message in BAD_OPTIONS])
def test_a_bad_option_is_named_and_changes_nothing(host, options, message):
    tmp_path, files = host
    before = snapshot(tmp_path)
    result = run(switched(files, **options))
    assert result["failed"] and result["step"] == "input"
    assert result["msg"].startswith(message), result["msg"]
    assert "Pw0rdX" not in json.dumps(result)
    assert snapshot(tmp_path) == before


def test_a_single_status_code_is_a_list_of_one():
    assert host_credentials.health_spec({"url": "http://x/", "status_code": 204})["status_code"] == [204]
    assert host_credentials.health_spec({})["status_code"] == [200]


def test_health_check_numbers_are_converted_as_the_health_check_module_converts_them():
    spec = host_credentials.health_spec({"command": "true", "retries": "3", "delay": 1, "timeout": "2.5"})
    assert (spec["retries"], spec["delay"], spec["timeout"]) == (3, 1.0, 2.5)
    with pytest.raises(host_credentials.InputError, match=r"health_check.retries must be a whole number"):
        host_credentials.health_spec({"command": "true", "retries": 2.5})


# --------------------------------------------------------------------------- properties


FILE_SPECS = st.lists(
    st.tuples(st.sampled_from(["aws_credentials", "env", "json"]), st.sampled_from(["", "default", "agent"]),
              st.sampled_from([None, OLD_ID, MID_ID])),
    max_size=6,
)


def _seed(directory, specs):
    files = []
    for index, (fmt, profile, key_id) in enumerate(specs):
        path = os.path.join(directory, "file%d" % index)
        entry = {"path": path, "format": fmt, "create": True}
        if fmt == "aws_credentials" and profile:
            entry["profile"] = profile
        if key_id:
            text = {"aws_credentials": ini(key_id, OLD_SECRET, profile or "default"), "env": env(key_id, OLD_SECRET),
                    "json": json_text(key_id, OLD_SECRET)}[fmt]
            with open(path, "w") as handle:
                handle.write(text)
        files.append(entry)
    return files


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FILE_SPECS)
def test_file_key_ids_are_aligned_with_files_for_any_valid_list(specs):
    with tempfile.TemporaryDirectory() as directory:
        files = _seed(directory, specs)
        read = run({"files": files})
        expected = [key_id or "" for _fmt, _profile, key_id in specs]
        assert read["file_key_ids"] == expected
        assert read["key_ids"] == [key_id for index, key_id in enumerate(expected)
                                   if key_id and key_id not in expected[:index]]

        checked = run(switched(files), check_mode=True)
        assert checked["file_key_ids"] == [NEW_ID] * len(files) and checked["wrote"] is False
        assert run({"files": files})["file_key_ids"] == expected  # check mode wrote nothing

        written = run(switched(files))
        assert written["file_key_ids"] == [NEW_ID] * len(files) and written["wrote"] is bool(files)
        assert [entry["path"] for entry in written["files"]] == [entry["path"] for entry in files]
        assert run({"files": files})["file_key_ids"] == [NEW_ID] * len(files)


# --------------------------------------------------------------------------- through AnsibleModule


def run_module(capsys, args, check_mode=False):
    args = dict(args, _ansible_check_mode=check_mode)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            host_credentials.main()
    out = capsys.readouterr().out
    return json.loads(out), out


def test_the_module_fails_with_every_key_and_masks_url_credentials(capsys, host):
    _tmp_path, files = host
    result, out = run_module(capsys, switched(files, health_check={
        "url": "http://monitor:Hunter2Secret@127.0.0.1:9/health", "retries": 0, "timeout": 1}))
    assert result["failed"] and result["step"] == "health_check"
    assert result["failure"]["check"] == "HTTP health check http://********@127.0.0.1:9/health"
    assert result["wrote"] is True and result["file_key_ids"] == [NEW_ID] * 3 and result["attempts"] == 1
    assert "Hunter2Secret" not in out and NEW_SECRET not in out and "Traceback" not in out


def test_the_module_succeeds_and_reports_warnings(capsys, host):
    _tmp_path, files = host
    files[1]["profile"] = "agent"  # ignored for env, with a warning
    result, out = run_module(capsys, {"files": files})
    assert not result.get("failed") and result["file_key_ids"] == [OLD_ID] * 3
    assert "files[1]: profile is used only with format=aws_credentials" in json.dumps(result["warnings"])
    assert OLD_SECRET not in out


MODULE_REFUSALS = [
    ({"path": "{dir}/x", "format": "yaml"}, {}, "files[1].format: format must be one of aws_credentials, env, json, got 'yaml'"),
    ({"path": "{dir}/x", "colour": "red"}, {}, "files[1]: unknown key(s) 'colour'; it takes path, format, profile"),
    ({"path": "{dir}/x", "create": "maybe"}, {}, "files[1].create must be true or false, got 'maybe'"),
    ({"format": "env"}, {}, "files[1]: path is required"),
    ({"path": "{dir}/x", "variable_names": {"id": "X"}}, {}, "files[1].variable_names: unknown key(s) 'id'"),
    ({"path": "{dir}/x"}, {"url": "http://u:Pw0rdX@x/", "retries": "many"}, "health_check.retries must be a whole number"),
    ({"path": "{dir}/x"}, {"url": "http://u:Pw0rdX@x/", "command": "true"}, "health_check: url and command are mutually"),
    ({"path": "{dir}/x"}, {"url": "http://u:Pw0rdX@x/", "cmd": "true"}, "health_check: unknown key(s) 'cmd'"),
]


@pytest.mark.parametrize("entry, checks, message", MODULE_REFUSALS, ids=[case[2] for case in MODULE_REFUSALS])
def test_the_module_names_the_entry_that_ansible_module_refuses(capsys, host, entry, checks, message):
    """AnsibleModule validates the declared suboptions; its refusal keeps the result's keys and names the entry."""
    tmp_path, files = host
    entry = {key: value.format(dir=tmp_path) if isinstance(value, str) else value for key, value in entry.items()}
    before = snapshot(tmp_path)

    result, out = run_module(capsys, switched([files[0], entry], health_check=checks))

    assert result["failed"] and result["step"] == "input", result
    assert result["msg"].startswith(message), result["msg"]
    assert result["failure"] == {"check": "checking the options", "msg": result["msg"]}
    assert result["file_key_ids"] == ["", ""] and result["wrote"] is False and len(result["files"]) == 2
    assert "Pw0rdX" not in out and NEW_SECRET not in out and "Traceback" not in out
    assert snapshot(tmp_path) == before


def test_the_module_accepts_and_honours_a_health_check_timeout(capsys, host):
    _tmp_path, files = host
    result, _out = run_module(capsys, {"state": "checked", "files": files,
                                       "health_check": {"command": "sleep 0", "timeout": 2.5, "retries": 0}})
    assert not result.get("failed") and result["attempts"] == 1 and result["status"] == 0

    result, _out = run_module(capsys, {"state": "checked", "files": files,
                                       "health_check": {"url": "http://127.0.0.1:9/health", "timeout": 0}})
    assert result["failed"] and result["step"] == "input" and result["msg"] == "health_check.timeout must be positive (got 0.0)."
