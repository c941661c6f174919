# -*- coding: utf-8 -*-
# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rotor.iam.credentials_file through AnsibleModule: arguments, results, errors, no secret in the output."""

from __future__ import annotations

import json
import os
import stat

import pytest
import yaml

from ansible.module_utils.common.parameters import PASS_VARS
from module_args import patch_module_args

from ansible_collections.rotor.iam.plugins.modules import credentials_file

OLD_SECRET = "OldSecretMustNotLeak/0123456789abcdefABCDEF"
NEW_SECRET = "NewSecretMustNotLeak+0123456789abcdefABCDEF"
NEW_ID = "AKIANEWKEY0000000002"
OLD_ID = "AKIAOLDKEY0000000001"
KEY = {"access_key_id": NEW_ID, "secret_access_key": NEW_SECRET}
SEED = "[default]\naws_access_key_id = " + OLD_ID + "\naws_secret_access_key = " + OLD_SECRET + "\n[other]\nx = 1\n"


def run_module(capsys, args, check_mode=False, diff=False):
    """Run main() and return (result, raw stdout)."""
    args = dict(args)
    args["_ansible_check_mode"] = check_mode
    args["_ansible_diff"] = diff
    if "inject_invocation" in PASS_VARS:  # ansible-core 2.21 and later return `invocation` only when asked
        args["_ansible_inject_invocation"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            credentials_file.main()
    out = capsys.readouterr().out
    return json.loads(out), out


@pytest.fixture
def seeded(tmp_path):
    path = tmp_path / "credentials"
    path.write_text(SEED)
    os.chmod(path, 0o644)
    return path


def present(path, **extra):
    args = {"path": str(path), "access_key_id": NEW_ID, "secret_access_key": NEW_SECRET}
    args.update(extra)
    return args


def test_check_mode_then_real_then_idempotent(capsys, seeded):
    kept_mode = stat.S_IMODE(os.stat(seeded).st_mode)  # no mode given: the file keeps its own
    checked, _out = run_module(capsys, present(seeded), check_mode=True)
    assert checked["changed"] is True and checked["backup_file"] is None
    assert seeded.read_text() == SEED

    written, _out = run_module(capsys, present(seeded))
    assert written["changed"] is True
    assert written["access_key_id"] == NEW_ID and written["previous_access_key_id"] == OLD_ID
    assert os.path.isfile(written["backup_file"])
    assert stat.S_IMODE(os.stat(seeded).st_mode) == kept_mode

    for check_mode in (True, False):
        again, _out = run_module(capsys, present(seeded), check_mode=check_mode)
        assert again["changed"] is False and again["backup_file"] is None


@pytest.mark.parametrize("check_mode", [True, False])
def test_diff_and_output_hold_no_secret(capsys, seeded, check_mode):
    result, out = run_module(capsys, present(seeded), check_mode=check_mode, diff=True)
    assert OLD_SECRET not in out and NEW_SECRET not in out
    assert "aws_secret_access_key = ********" in result["diff"]["before"]
    assert "aws_access_key_id = " + NEW_ID in result["diff"]["after"]
    assert result["invocation"]["module_args"]["secret_access_key"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_read_restore_and_clean_up(capsys, seeded):
    run_module(capsys, present(seeded))
    read, _out = run_module(capsys, {"path": str(seeded), "state": "read"})
    assert read == {**read, "changed": False, "exists": True, "access_key_id": NEW_ID}

    restored, out = run_module(capsys, {"path": str(seeded), "state": "restored"}, diff=True)
    assert restored["changed"] is True and restored["access_key_id"] == OLD_ID
    assert OLD_SECRET not in out and NEW_SECRET not in out
    assert seeded.read_text() == SEED and stat.S_IMODE(os.stat(seeded).st_mode) == 0o644

    # The restore removed the backup it used: a rolled-back run leaves nothing behind.
    assert restored["removed"] == [restored["backup_file"]]
    assert os.listdir(seeded.parent) == ["credentials"]
    again, _out = run_module(capsys, {"path": str(seeded), "state": "restored", "backup_file": restored["backup_file"],
                                      "backup_access_key_id": OLD_ID})
    assert again["changed"] is False

    run_module(capsys, present(seeded))
    cleaned, _out = run_module(capsys, {"path": str(seeded), "state": "backups_absent"})
    assert cleaned["changed"] is True and len(cleaned["removed"]) == 1
    assert os.listdir(seeded.parent) == ["credentials"]


def test_read_from_backup_returns_the_old_key_only_when_asked(capsys, seeded):
    run_module(capsys, present(seeded))
    found, out = run_module(capsys, {"path": str(seeded), "state": "read", "backup_access_key_id": OLD_ID})
    assert found["access_key_id"] == OLD_ID and "secret_access_key" not in found and OLD_SECRET not in out
    assert os.path.dirname(found["backup_file"]) == str(seeded.parent)
    found, _out = run_module(capsys, {"path": str(seeded), "state": "read", "backup_access_key_id": OLD_ID,
                                      "return_secret": True})
    assert found["secret_access_key"] == OLD_SECRET
    assert seeded.read_text().count(NEW_ID) == 1  # reading changed nothing


def test_read_from_backup_fails_clearly_when_no_backup_holds_the_id(capsys, seeded):
    run_module(capsys, present(seeded))
    missing, out = run_module(capsys, {"path": str(seeded), "state": "read", "return_secret": True,
                                       "backup_access_key_id": "AKIANOSUCHKEY0000009"})
    assert missing["failed"] is True
    assert "no backup of %s holds access key AKIANOSUCHKEY0000009 (backups hold: %s)" % (seeded, OLD_ID) in missing["msg"]
    assert OLD_SECRET not in out and NEW_SECRET not in out


def test_check_mode_accepts_the_rotate_role_placeholder_and_writes_nothing(capsys, seeded):
    args = {"path": str(seeded), "access_key_id": "NEW-KEY-OF-BACKUP-AGENT",
            "secret_access_key": "check-mode-placeholder-not-a-secret"}
    checked, _out = run_module(capsys, args, check_mode=True, diff=True)
    assert checked["changed"] is True and "aws_access_key_id = NEW-KEY-OF-BACKUP-AGENT" in checked["diff"]["after"]
    assert seeded.read_text() == SEED
    refused, _out = run_module(capsys, args)
    assert refused["failed"] is True and "accepted only in check mode" in refused["msg"]
    assert seeded.read_text() == SEED and os.listdir(seeded.parent) == ["credentials"]


@pytest.mark.parametrize(
    "args, message",
    [
        pytest.param({"access_key_id": NEW_ID}, "missing: secret_access_key", id="missing secret"),
        pytest.param({"owner": "no-such-user-rotor", **KEY}, "owner 'no-such-user-rotor'", id="unknown owner"),
        pytest.param({"group": "no-such-group-rotor", **KEY}, "group 'no-such-group-rotor'", id="unknown group"),
        pytest.param({"mode": "u=rw", **KEY}, "mode must be an octal number", id="symbolic mode"),
        pytest.param({"state": "restored"}, "no backup of", id="nothing to restore"),
        pytest.param({"format": "json", **KEY}, "not a valid json file: line 1", id="unparseable"),
        pytest.param(
            {"format": "env", "variable_names": {"access_key_id": "bad-name"}, "state": "read"},
            "not a valid environment variable name",
            id="bad variable name",
        ),
        pytest.param({"state": "absent"}, "value of state must be one of", id="bad state"),
    ],
)
def test_errors_are_messages_without_secrets_or_tracebacks(capsys, seeded, args, message):
    result, out = run_module(capsys, {"path": str(seeded), **args})
    assert result["failed"] is True
    assert message in result["msg"]
    assert "exception" not in result and "Traceback" not in out
    assert OLD_SECRET not in out and NEW_SECRET not in out


def test_world_readable_mode_warns(capsys, tmp_path):
    result, _out = run_module(capsys, present(tmp_path / "aws.env", format="env", mode="0644", create=True))
    assert "mode 0644 lets every user" in json.dumps(result["warnings"])  # 2.19 warnings are structured events
    assert stat.S_IMODE(os.stat(tmp_path / "aws.env").st_mode) == 0o644


def test_documentation_matches_argument_spec():
    """The documented options are exactly the argument spec, with the same types, defaults and choices."""
    documented = yaml.safe_load(credentials_file.DOCUMENTATION)["options"]
    spec = credentials_file.argument_spec()

    def compare(documented, spec):
        assert sorted(documented) == sorted(spec)
        for name, option in spec.items():
            doc = documented[name]
            assert doc["type"] == option["type"], name
            assert doc.get("default") == option.get("default"), name
            assert doc.get("choices") == option.get("choices"), name
            assert doc.get("required", False) == option.get("required", False), name
            if "options" in option:
                compare(doc["suboptions"], option["options"])

    compare(documented, spec)
    assert spec["secret_access_key"]["no_log"] is True
    for section in ("EXAMPLES", "RETURN"):
        assert yaml.safe_load(getattr(credentials_file, section))
    for key, value in yaml.safe_load(credentials_file.RETURN).items():
        assert {"description", "returned", "type", "sample"} <= set(value), key
