# -*- coding: utf-8 -*-
# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad inputs to rotor.iam.credentials_file: each ends in a clear error naming the input, never a traceback,
and leaves the directory exactly as it was (no backup, no temporary file, the file unchanged)."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from module_args import patch_module_args

from ansible_collections.rotor.iam.plugins.modules import credentials_file

OLD_ID = "AKIAOLDKEY0000000001"
NEW_ID = "AKIANEWKEY0000000002"
OLD_SECRET = "OldSecretMustNotLeak/0123456789abcdefABCDEF"
NEW_SECRET = "NewSecretMustNotLeak+0123456789abcdefABCDEF"
KEY = {"access_key_id": NEW_ID, "secret_access_key": NEW_SECRET}
INI = "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (OLD_ID, OLD_SECRET)


def snapshot(directory):
    return {
        name: (os.lstat(os.path.join(directory, name)).st_mode, os.lstat(os.path.join(directory, name)).st_uid,
               hashlib.sha256(open(os.path.join(directory, name), "rb").read()).hexdigest()
               if os.path.isfile(os.path.join(directory, name)) else None)
        for name in sorted(os.listdir(directory))
    }


def run_module(capsys, args):
    with patch_module_args(dict(args, _ansible_check_mode=False, _ansible_diff=True)):
        with pytest.raises(SystemExit):
            credentials_file.main()
    out = capsys.readouterr().out
    return json.loads(out), out


# (id, file content (bytes) or None for no file, module arguments beyond path, what the message must say)
CASES = [
    ("id too short", INI, dict(KEY, access_key_id="AKIASHORT"), "access_key_id does not look like an AWS access key id"),
    ("id is a secret", INI, dict(KEY, access_key_id=NEW_SECRET), "access_key_id does not look like"),
    ("id lower case", INI, dict(KEY, access_key_id=NEW_ID.lower()), "access_key_id does not look like"),
    ("id with newline", INI, dict(KEY, access_key_id=NEW_ID + "\nx = 1"), "access_key_id does not look like"),
    ("secret with space", INI, dict(KEY, secret_access_key="a b"), "secret_access_key contains spaces"),
    ("secret with newline", INI, dict(KEY, secret_access_key="a\n[evil]"), "secret_access_key contains spaces"),
    ("secret not ascii", INI, dict(KEY, secret_access_key="sécret"), "secret_access_key contains spaces"),
    ("secret is an id", INI, dict(KEY, secret_access_key=OLD_ID), "secret_access_key looks like an access key id"),
    ("mode 600 unquoted", INI, dict(KEY, mode=600), "Quote it: '0600'"),
    ("mode 644 unquoted", INI, dict(KEY, mode=644), "Quote it: '0644'"),
    ("mode setuid", INI, dict(KEY, mode="4755"), "mode 4755 sets the setuid"),
    ("mode setgid", INI, dict(KEY, mode="2640"), "mode 2640 sets the setuid, setgid"),
    ("mode sticky", INI, dict(KEY, mode="1600"), "mode 1600 sets the setuid, setgid or sticky"),
    ("mode unreadable", INI, dict(KEY, mode="0200"), "mode 0200 does not let the file's owner read"),
    ("mode world-writable", INI, dict(KEY, mode="0666"), "mode 0666 lets every user"),
    ("mode symbolic", INI, dict(KEY, mode="u=rw"), "got 'u=rw'"),
    ("mode hex", INI, dict(KEY, mode="0x180"), "got '0x180'"),
    ("owner out of range", INI, dict(KEY, owner="99999999999"), "owner 99999999999 is out of range"),
    ("owner unknown", INI, dict(KEY, owner="no-such-user-rotor"), "owner 'no-such-user-rotor' is not a user"),
    ("group out of range", INI, dict(KEY, group="99999999999"), "group 99999999999 is out of range"),
    ("group unknown", INI, dict(KEY, group="no-such-group-rotor"), "group 'no-such-group-rotor' is not a group"),
    ("profile empty", INI, dict(KEY, profile=""), "profile must be a non-empty string"),
    ("profile DEFAULT", INI, dict(KEY, profile="DEFAULT"), "profile 'DEFAULT' is not a profile"),
    ("profile bracket", INI, dict(KEY, profile="a]b"), "profile 'a]b' cannot be used"),
    ("env bad name", "A=1\n", dict(KEY, format="env", variable_names={"access_key_id": "1BAD"}),
     "variable_names.access_key_id '1BAD' is not a valid environment variable name"),
    ("same names", "{}", dict(KEY, format="json", variable_names={"access_key_id": "K", "secret_access_key": "K"}),
     "variable_names.access_key_id and variable_names.secret_access_key must differ"),
    ("json nested key", '{"Credentials": {"AccessKeyId": "%s"}}' % OLD_ID, dict(KEY, format="json"),
     "nested object at $.Credentials.AccessKeyId"),
    ("json lone surrogate id", '{"AccessKeyId": "\\ud800", "SecretAccessKey": "x"}', dict(format="json", state="read"),
     "the file's AccessKeyId does not look like an access key id; value withheld"),
    ("json not an object", "[1, 2]", dict(KEY, format="json"), "the top level must be a JSON object"),
    ("ini byte-order mark", b"\xef\xbb\xbf" + INI.encode(), KEY, "starts with a UTF-8 byte-order mark"),
    ("ini duplicate profile", INI + "[default]\n", KEY, "profile [default] appears a second time"),
    ("ini not utf-8", b"[default]\nx = \xff\n", KEY, "not UTF-8 text"),
    ("ini NUL byte", b"[default]\x00\n", KEY, "contains a NUL byte"),
    ("env export", "export AWS_ACCESS_KEY_ID=%s\n" % OLD_ID, dict(KEY, format="env"), "'export AWS_ACCESS_KEY_ID=' is ignored"),
    ("env comment backslash", "# x \\\nAWS_ACCESS_KEY_ID=1\n", dict(KEY, format="env"), "comment ends with a backslash"),
    ("swapped id and secret", "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (OLD_SECRET, OLD_ID),
     dict(state="read"), "the file's aws_access_key_id does not look like an access key id; value withheld"),
    ("backup_file elsewhere", INI, dict(state="restored", backup_file="/etc/passwd"), "backup_file /etc/passwd is not a backup of"),
    ("backup_file missing", INI, dict(state="restored", backup_file="{dir}/credentials.20260101T000000000000Z.rotor-iam-backup"),
     "does not exist (a restore removes the backup it used)"),
    ("backup id malformed", INI, dict(state="restored", backup_access_key_id="old-key"),
     "backup_access_key_id does not look like"),
    ("read backup none", INI, dict(state="read", backup_access_key_id=NEW_ID, return_secret=True),
     "holds access key %s" % NEW_ID),
    ("nothing to restore", INI, dict(state="restored"), "no backup of"),
    ("placeholder outside check mode", INI, dict(KEY, access_key_id="NEW-KEY-OF-ALICE"), "accepted only in check mode"),
    ("relative path", INI, dict(KEY, path="credentials"), "path credentials must be an absolute path"),
    ("path is a directory", INI, dict(KEY, path="{dir}"), "is a directory"),
    ("directory missing", INI, dict(KEY, path="{dir}/nope/credentials"), "directory {dir}/nope of path"),
]


@pytest.mark.parametrize("content, args, message", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_is_a_clear_error_and_changes_nothing(capsys, tmp_path, content, args, message):
    path = tmp_path / "credentials"
    if content is not None:
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        os.chmod(path, 0o640)
    args = {key: value.format(dir=tmp_path) if isinstance(value, str) else value for key, value in args.items()}
    args.setdefault("path", str(path))
    before = snapshot(tmp_path)

    result, out = run_module(capsys, args)

    assert result.get("failed") is True, result
    assert message.format(dir=tmp_path) in result["msg"]
    assert "Traceback" not in out and "exception" not in result
    assert OLD_SECRET not in out and NEW_SECRET not in out
    assert snapshot(tmp_path) == before


def test_the_table_is_big_enough():
    assert len(CASES) >= 30
