# -*- coding: utf-8 -*-
# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsing, minimal editing, backups and redaction of rotor.iam's credentials_file helper."""

from __future__ import annotations

import datetime
import json
import os
import stat
import tempfile

import pytest

from ansible_collections.rotor.iam.plugins.module_utils import _credentials_file as cf

OLD_SECRET = "OldSecretMustNotLeak/0123456789abcdefABCDEF"
NEW_SECRET = "NewSecretMustNotLeak+0123456789abcdefABCDEF"
OTHER_SECRET = "OtherProfileSecretMustNotLeak0123456789ab"
NOW = datetime.datetime(2026, 11, 25, 21, 43, 0, 123456, tzinfo=datetime.timezone.utc)

INI = cf.make_target("aws_credentials")
INI_PROD = cf.make_target("aws_credentials", "prod")
ENV = cf.make_target("env")
JSON = cf.make_target("json")


# --------------------------------------------------------------------------- aws_credentials: read

@pytest.mark.parametrize(
    "text, target, expected",
    [
        pytest.param("", INI, (None, None), id="empty file"),
        pytest.param("[default]\naws_access_key_id = A1\naws_secret_access_key = S1\n", INI, ("A1", "S1"), id="plain"),
        pytest.param("[default]\naws_access_key_id=A1\naws_secret_access_key=S1", INI, ("A1", "S1"), id="no spaces, no final newline"),
        pytest.param("[default]\naws_access_key_id: A1\n", INI, ("A1", None), id="colon delimiter"),
        pytest.param("[default]\nAWS_ACCESS_KEY_ID = A1\n", INI, ("A1", None), id="keys are case-insensitive"),
        pytest.param("[Default]\naws_access_key_id = A1\n", INI, (None, None), id="profiles are case-sensitive"),
        pytest.param("# c\n; c\n[default]\n  # indented comment\naws_access_key_id = A1  \n", INI, ("A1", None), id="comments and trailing spaces"),
        pytest.param("[default]\naws_access_key_id = A1\n[prod]\naws_access_key_id = P1\n", INI_PROD, ("P1", None), id="other profile"),
        pytest.param("[default]\nregion = x\n", INI_PROD, (None, None), id="profile missing"),
        pytest.param("[prod]\n  region = x\n  aws_access_key_id = P1\n", INI_PROD, ("P1", None), id="indented options"),
        pytest.param("[default]\ns3 =\n  max = 10\naws_access_key_id = A1\n", INI, ("A1", None), id="nested value before key"),
        pytest.param("[default]\r\naws_access_key_id = A1\r\n", INI, ("A1", None), id="crlf"),
    ],
)
def test_read_aws_credentials(text, target, expected):
    assert cf.read_credentials(text, target) == expected


# --------------------------------------------------------------------------- aws_credentials: minimal edits

SEED_INI = (
    "# keep this comment\n"
    "[default]\n"
    "aws_access_key_id = AKIAOLD\n"
    "aws_secret_access_key = " + OLD_SECRET + "\n"
    "region = eu-west-1\n"
    "\n"
    "; someone else's profile\n"
    "[reporting]\n"
    "aws_access_key_id=AKIAREPORT\n"
    "aws_secret_access_key=" + OTHER_SECRET + "\n"
)


@pytest.mark.parametrize(
    "before, target, after",
    [
        pytest.param(
            SEED_INI, INI,
            SEED_INI.replace("AKIAOLD", "AKIANEW").replace(OLD_SECRET, NEW_SECRET),
            id="update in place, rest untouched",
        ),
        pytest.param(
            SEED_INI, INI_PROD,
            SEED_INI + "\n[prod]\naws_access_key_id = AKIANEW\naws_secret_access_key = " + NEW_SECRET + "\n",
            id="missing profile appended after a blank line",
        ),
        pytest.param(
            "", INI,
            "[default]\naws_access_key_id = AKIANEW\naws_secret_access_key = " + NEW_SECRET + "\n",
            id="empty file",
        ),
        pytest.param(
            "[other]\nx = 1", INI,
            "[other]\nx = 1\n\n[default]\naws_access_key_id = AKIANEW\naws_secret_access_key = " + NEW_SECRET + "\n",
            id="no final newline",
        ),
        pytest.param(
            "[default]\nregion = x\n", INI,
            "[default]\naws_access_key_id = AKIANEW\naws_secret_access_key = " + NEW_SECRET + "\nregion = x\n",
            id="profile without key: inserted under the header",
        ),
        pytest.param(
            "[default]\n  region = x\n", INI,
            "[default]\n  aws_access_key_id = AKIANEW\n  aws_secret_access_key = " + NEW_SECRET + "\n  region = x\n",
            id="inserted lines follow the profile's indentation",
        ),
        pytest.param(
            "[default]\naws_access_key_id = AKIAOLD\nregion = x\n", INI,
            "[default]\naws_access_key_id = AKIANEW\naws_secret_access_key = " + NEW_SECRET + "\nregion = x\n",
            id="secret missing: inserted after the id",
        ),
        pytest.param(
            "[default]\nregion = x\naws_secret_access_key = old\n", INI,
            "[default]\nregion = x\naws_access_key_id = AKIANEW\naws_secret_access_key = " + NEW_SECRET + "\n",
            id="id missing: inserted before the secret",
        ),
        pytest.param(
            "[default]\naws_access_key_id = AKIAOLD", INI,
            "[default]\naws_access_key_id = AKIANEW\naws_secret_access_key = " + NEW_SECRET + "\n",
            id="last line without newline",
        ),
        pytest.param(
            "[default]\r\naws_access_key_id = AKIAOLD\r\n", INI,
            "[default]\r\naws_access_key_id = AKIANEW\r\naws_secret_access_key = " + NEW_SECRET + "\r\n",
            id="crlf kept",
        ),
        pytest.param(
            "[default]\nAWS_Access_Key_Id:AKIAOLD   # not a comment\naws_secret_access_key = x\n", INI,
            "[default]\nAWS_Access_Key_Id:AKIANEW\naws_secret_access_key = " + NEW_SECRET + "\n",
            id="key spelling and delimiter kept (inline # is part of an INI value)",
        ),
        pytest.param(
            "[default]\naws_access_key_id = AKIAOLD\n    continued\naws_secret_access_key = x\n", INI,
            "[default]\naws_access_key_id = AKIANEW\naws_secret_access_key = " + NEW_SECRET + "\n",
            id="continuation lines of a managed key are dropped",
        ),
    ],
)
def test_set_aws_credentials(before, target, after):
    assert cf.set_credentials(before, target, "AKIANEW", NEW_SECRET) == after
    assert cf.read_credentials(after, target) == ("AKIANEW", NEW_SECRET)


@pytest.mark.parametrize("text", [SEED_INI, SEED_INI.replace("\n", "\r\n"), "[default]\naws_access_key_id=AKIANEW\naws_secret_access_key=" + NEW_SECRET])
def test_set_aws_credentials_is_identity_when_key_matches(text):
    text = cf.set_credentials(text, INI, "AKIANEW", NEW_SECRET)
    assert cf.set_credentials(text, INI, "AKIANEW", NEW_SECRET) == text


def test_set_aws_credentials_matches_configparser():
    import configparser

    text = cf.set_credentials(SEED_INI, INI_PROD, "AKIANEW", NEW_SECRET)
    parser = configparser.RawConfigParser()
    parser.read_string(text)
    assert parser["prod"]["aws_access_key_id"] == "AKIANEW"
    assert parser["prod"]["aws_secret_access_key"] == NEW_SECRET
    assert parser["reporting"]["aws_secret_access_key"] == OTHER_SECRET
    assert parser["default"]["region"] == "eu-west-1"


@pytest.mark.parametrize(
    "text, line, reason",
    [
        pytest.param("aws_access_key_id = " + OLD_SECRET + "\n", 1, "before the first [profile]", id="key before header"),
        pytest.param("[default]\n" + OLD_SECRET + "\n", 2, "expected a [profile] header", id="garbage line"),
        pytest.param("[default]\nx = 1\n[default]\n", 3, "appears a second time (first at line 1)", id="duplicate profile"),
        pytest.param("[default]\naws_secret_access_key = " + OLD_SECRET + "\nAWS_SECRET_ACCESS_KEY = y\n", 3, "appears twice", id="duplicate key"),
        pytest.param("[default]\n= " + OLD_SECRET + "\n", 2, "expected a [profile] header", id="empty key"),
    ],
)
def test_aws_credentials_parse_errors_name_path_format_line_not_content(text, line, reason):
    with pytest.raises(cf.CredentialsFileError) as error:
        cf.read_credentials(text, INI, "/etc/app/credentials")
    message = str(error.value)
    assert "/etc/app/credentials" in message
    assert "aws_credentials" in message
    assert "line %d:" % line in message
    assert reason in message
    assert OLD_SECRET not in message


# --------------------------------------------------------------------------- env

@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("AWS_ACCESS_KEY_ID=A1\nAWS_SECRET_ACCESS_KEY=S1\n", ("A1", "S1"), id="bare"),
        pytest.param('AWS_ACCESS_KEY_ID="A1"\nAWS_SECRET_ACCESS_KEY=\'S/1+\'\n', ("A1", "S/1+"), id="quoted"),
        pytest.param("export AWS_ACCESS_KEY_ID=A1\n", ("A1", None), id="export prefix"),
        pytest.param("  AWS_ACCESS_KEY_ID = A1  \n", ("A1", None), id="spaces around = and trailing"),
        pytest.param('AWS_SECRET_ACCESS_KEY="a\\"b\\\\c\\$d"\n', (None, 'a"b\\c$d'), id="double-quote escapes"),
        pytest.param("AWS_SECRET_ACCESS_KEY='a\\b'\n", (None, "a\\b"), id="single quotes are literal"),
        pytest.param("AWS_SECRET_ACCESS_KEY=a\\ b\n", (None, "a b"), id="unquoted backslash escape"),
        pytest.param("AWS_ACCESS_KEY_ID=A1 # note\n", ("A1 # note", None), id="inline hash is part of the value (systemd)"),
        pytest.param("AWS_ACCESS_KEY_ID=A\\\n1\n", ("A1", None), id="backslash continuation"),
        pytest.param('AWS_SECRET_ACCESS_KEY="S\n1"\nAWS_ACCESS_KEY_ID=A1\n', ("A1", "S\n1"), id="quoted value over two lines"),
        pytest.param("AWS_ACCESS_KEY_ID=OLD\nAWS_ACCESS_KEY_ID=A1\n", ("A1", None), id="last assignment wins"),
        pytest.param("# AWS_ACCESS_KEY_ID=no\n; AWS_ACCESS_KEY_ID=no\n\nOTHER=1\n", (None, None), id="comments"),
        pytest.param("AWS_ACCESS_KEY_ID=\n", ("", None), id="empty value"),
        pytest.param("AWS_ACCESS_KEY_ID=A1\r\nAWS_SECRET_ACCESS_KEY=S1", ("A1", "S1"), id="crlf, no final newline"),
    ],
)
def test_read_env(text, expected):
    assert cf.read_credentials(text, ENV) == expected


SEED_ENV = (
    "# service credentials\n"
    "export AWS_ACCESS_KEY_ID=\"AKIAOLD\"\n"
    "OTHER_TOKEN='" + OTHER_SECRET + "'\n"
    "AWS_SECRET_ACCESS_KEY='" + OLD_SECRET + "'\n"
    "AWS_REGION=eu-west-1\n"
)


@pytest.mark.parametrize(
    "before, after",
    [
        pytest.param(
            SEED_ENV,
            SEED_ENV.replace("AKIAOLD", "AKIANEW").replace(OLD_SECRET, NEW_SECRET),
            id="values replaced, export and quote style kept",
        ),
        pytest.param("", "AWS_ACCESS_KEY_ID=AKIANEW\nAWS_SECRET_ACCESS_KEY=" + NEW_SECRET + "\n", id="empty file"),
        pytest.param(
            "A=1", "A=1\nAWS_ACCESS_KEY_ID=AKIANEW\nAWS_SECRET_ACCESS_KEY=" + NEW_SECRET + "\n", id="appended after a line without newline",
        ),
        pytest.param(
            "AWS_SECRET_ACCESS_KEY=old\nAWS_ACCESS_KEY_ID=AKIAOLD\nAWS_SECRET_ACCESS_KEY = old2\n",
            "AWS_SECRET_ACCESS_KEY=" + NEW_SECRET + "\nAWS_ACCESS_KEY_ID=AKIANEW\nAWS_SECRET_ACCESS_KEY = " + NEW_SECRET + "\n",
            id="every assignment updated, no stale secret left",
        ),
        pytest.param(
            'AWS_SECRET_ACCESS_KEY="old\ncontinued"\nB=2\r\n',
            "AWS_SECRET_ACCESS_KEY=\"" + NEW_SECRET + "\"\nB=2\r\nAWS_ACCESS_KEY_ID=AKIANEW\n",
            id="multi-line value replaced whole",
        ),
    ],
)
def test_set_env(before, after):
    assert cf.set_credentials(before, ENV, "AKIANEW", NEW_SECRET) == after
    assert cf.set_credentials(after, ENV, "AKIANEW", NEW_SECRET) == after


@pytest.mark.parametrize(
    "value, quote, rendered",
    [
        ("AKIA123", "", "AKIA123"),
        ("a/b+c=", "", "a/b+c="),
        ("a$b", "", '"a\\$b"'),
        ('a"b`c\\', "", '"a\\"b\\`c\\\\"'),
        ("plain", "'", "'plain'"),
        ("it's", "'", '"it\'s"'),
        ("plain", '"', '"plain"'),
    ],
)
def test_env_values_round_trip(value, quote, rendered):
    assert cf._render_env_value(value, quote) == rendered
    assert cf.read_credentials("AWS_ACCESS_KEY_ID=" + rendered + "\n", ENV)[0] == value


def test_env_custom_variable_names():
    target = cf.make_target("env", variable_names={"access_key_id": "BACKUP_KEY_ID", "secret_access_key": None})
    text = cf.set_credentials("BACKUP_KEY_ID=old\n", target, "AKIANEW", NEW_SECRET)
    assert text == "BACKUP_KEY_ID=AKIANEW\nAWS_SECRET_ACCESS_KEY=" + NEW_SECRET + "\n"


@pytest.mark.parametrize(
    "text, line, reason",
    [
        pytest.param("A=1\nAWS_SECRET_ACCESS_KEY='" + OLD_SECRET + "\n", 2, "never closed", id="unterminated quote"),
        pytest.param("A=1\n\n" + OLD_SECRET + "\n", 3, "expected NAME=value", id="line without ="),
        pytest.param("1BAD=" + OLD_SECRET + "\n", 1, "expected NAME=value", id="invalid name"),
        pytest.param("export\n", 1, "expected NAME=value", id="bare export"),
    ],
)
def test_env_parse_errors(text, line, reason):
    with pytest.raises(cf.CredentialsFileError) as error:
        cf.read_credentials(text, ENV, "/etc/app.env")
    message = str(error.value)
    assert "/etc/app.env is not a valid env file: line %d:" % line in message
    assert reason in message
    assert OLD_SECRET not in message


# --------------------------------------------------------------------------- json

@pytest.mark.parametrize(
    "before, after",
    [
        pytest.param(
            '{\n    "Region": "eu-west-1",\n    "AccessKeyId": "AKIAOLD",\n    "Token": "' + OTHER_SECRET + '"\n}\n',
            '{\n    "Region": "eu-west-1",\n    "AccessKeyId": "AKIANEW",\n    "Token": "' + OTHER_SECRET
            + '",\n    "SecretAccessKey": "' + NEW_SECRET + '"\n}\n',
            id="other keys and order kept, indent kept",
        ),
        pytest.param("", '{\n  "AccessKeyId": "AKIANEW",\n  "SecretAccessKey": "' + NEW_SECRET + '"\n}\n', id="empty file"),
        pytest.param('{"a": 1}', '{"a": 1, "AccessKeyId": "AKIANEW", "SecretAccessKey": "' + NEW_SECRET + '"}\n', id="one line stays one line"),
        pytest.param(
            '{\r\n\t"AccessKeyId": null\r\n}', '{\r\n\t"AccessKeyId": "AKIANEW",\r\n\t"SecretAccessKey": "' + NEW_SECRET + '"\r\n}\r\n',
            id="tabs and crlf",
        ),
        pytest.param('{"n": "\u00e9"}', '{"n": "\u00e9", "AccessKeyId": "AKIANEW", "SecretAccessKey": "' + NEW_SECRET + '"}\n', id="unicode kept"),
    ],
)
def test_set_json(before, after):
    assert cf.set_credentials(before, JSON, "AKIANEW", NEW_SECRET) == after
    assert cf.set_credentials(after, JSON, "AKIANEW", NEW_SECRET) == after
    assert cf.read_credentials(after, JSON) == ("AKIANEW", NEW_SECRET)


def test_json_keeps_unchanged_text_byte_for_byte():
    text = '{"SecretAccessKey": "' + NEW_SECRET + '",   "AccessKeyId": "AKIANEW"}'
    assert cf.set_credentials(text, JSON, "AKIANEW", NEW_SECRET) is text


def test_json_non_string_id_reads_as_none():
    assert cf.read_credentials('{"AccessKeyId": 5}', JSON) == (None, None)


@pytest.mark.parametrize(
    "text, line, reason",
    [
        pytest.param('{\n  "a": 1\n  "b": "' + OLD_SECRET + '"\n}', 3, "Expecting ',' delimiter", id="syntax"),
        pytest.param('["' + OLD_SECRET + '"]', 1, "must be a JSON object", id="array"),
    ],
)
def test_json_parse_errors(text, line, reason):
    with pytest.raises(cf.CredentialsFileError) as error:
        cf.read_credentials(text, JSON, "/opt/app.json")
    message = str(error.value)
    assert "/opt/app.json is not a valid json file: line %d:" % line in message
    assert reason in message
    assert OLD_SECRET not in message


# --------------------------------------------------------------------------- inputs

@pytest.mark.parametrize(
    "fmt, profile, names, message",
    [
        ("yaml", "default", None, "format must be one of"),
        ("aws_credentials", "", None, "profile must be a non-empty string"),
        ("aws_credentials", "a]b", None, "cannot be used in an INI header"),
        ("aws_credentials", " prod", None, "cannot be used in an INI header"),
        ("env", "default", {"access_key_id": "1X"}, "not a valid environment variable name"),
        ("env", "default", {"access_key_id": "AWS_SECRET_ACCESS_KEY"}, "must differ"),
        ("json", "default", {"region": "x"}, "unknown key 'region'"),
        ("json", "default", {"access_key_id": ""}, "must be a non-empty string"),
    ],
)
def test_make_target_rejects(fmt, profile, names, message):
    with pytest.raises(cf.CredentialsFileError, match=message.replace("[", r"\[")):
        cf.make_target(fmt, profile, names)


@pytest.mark.parametrize(
    "fmt, names, expected",
    [
        ("aws_credentials", None, ("aws_access_key_id", "aws_secret_access_key")),
        ("env", None, ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")),
        ("json", None, ("AccessKeyId", "SecretAccessKey")),
        ("json", {"access_key_id": "id", "secret_access_key": "s"}, ("id", "s")),
        ("json", {"access_key_id": None, "secret_access_key": None}, ("AccessKeyId", "SecretAccessKey")),
    ],
)
def test_make_target_names(fmt, names, expected):
    target = cf.make_target(fmt, variable_names=names)
    assert (target.id_name, target.secret_name) == expected


@pytest.mark.parametrize("value", ["", None, "has space", "line\nbreak", "tab\t", "caf\u00e9"])
def test_key_material_rejected_without_echo(value):
    with pytest.raises(cf.CredentialsFileError) as error:
        cf.check_key_material("secret_access_key", value)
    assert "secret_access_key" in str(error.value)
    if value:
        assert value not in str(error.value)


@pytest.mark.parametrize(
    "value, mode",
    [("0600", 0o600), ("600", 0o600), ("0o640", 0o640), (0o600, 0o600), ("  0400 ", 0o400), ("2750", 0o2750)],
)
def test_parse_mode(value, mode):
    assert cf.parse_mode(value) == mode


@pytest.mark.parametrize("value", ["u=rw", "0800", "", None, True, 0o10000, "-1"])
def test_parse_mode_rejects(value):
    with pytest.raises(cf.CredentialsFileError, match="mode"):
        cf.parse_mode(value)


def test_owner_and_group_resolution():
    assert cf.resolve_owner(None) is None
    assert cf.resolve_owner("root") == 0
    assert cf.resolve_owner("1234") == 1234
    assert cf.resolve_group("0") == 0
    with pytest.raises(cf.CredentialsFileError, match="owner 'no-such-user-rotor' is not a user"):
        cf.resolve_owner("no-such-user-rotor")
    with pytest.raises(cf.CredentialsFileError, match="group 'no-such-group-rotor' is not a group"):
        cf.resolve_group("no-such-group-rotor")


# --------------------------------------------------------------------------- files: present

def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _seed(path, content, mode):
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    os.chmod(path, mode)
    return path


def test_present_creates_file_0600_with_marker(tmp_path):
    path = tmp_path / "credentials"
    plan = cf.plan_present(str(path), INI, "AKIANEW", NEW_SECRET)
    assert plan.changed and plan.previous_access_key_id is None
    backup = cf.apply_present(plan, now=NOW)
    assert path.read_text() == "[default]\naws_access_key_id = AKIANEW\naws_secret_access_key = " + NEW_SECRET + "\n"
    assert _mode(path) == 0o600
    assert os.path.basename(backup) == "credentials.20261125T214300123456Z.absent.rotor-iam-backup"
    assert os.path.getsize(backup) == 0 and _mode(backup) == 0o600


def test_present_backs_up_exact_bytes_without_secret_in_name(tmp_path):
    path = _seed(tmp_path / "credentials", SEED_INI, 0o644)
    plan = cf.plan_present(str(path), INI, "AKIANEW", NEW_SECRET)
    backup = cf.apply_present(plan, now=NOW)
    assert os.path.basename(backup) == "credentials.20261125T214300123456Z.AKIAOLD.m0644.rotor-iam-backup"
    assert open(backup, "rb").read() == SEED_INI.encode()
    assert _mode(backup) == 0o600
    assert os.stat(backup).st_uid == os.stat(path).st_uid
    assert OLD_SECRET not in backup and NEW_SECRET not in backup
    assert path.read_text() == SEED_INI.replace("AKIAOLD", "AKIANEW").replace(OLD_SECRET, NEW_SECRET)
    assert _mode(path) == 0o600
    assert [name for name in os.listdir(tmp_path) if "rotor-iam-tmp" in name] == []


def test_present_is_idempotent_and_makes_no_backup(tmp_path):
    path = tmp_path / "credentials"
    cf.apply_present(cf.plan_present(str(path), INI, "AKIANEW", NEW_SECRET), backup=False)
    before = os.listdir(tmp_path)
    plan = cf.plan_present(str(path), INI, "AKIANEW", NEW_SECRET)
    assert not plan.changed
    assert cf.apply_present(plan) is None
    assert os.listdir(tmp_path) == before


def test_present_fixes_mode_only(tmp_path):
    path = tmp_path / "credentials"
    cf.apply_present(cf.plan_present(str(path), INI, "AKIANEW", NEW_SECRET), backup=False)
    os.chmod(path, 0o644)
    inode = os.stat(path).st_ino
    plan = cf.plan_present(str(path), INI, "AKIANEW", NEW_SECRET)
    assert plan.changed and plan.metadata_changed and not plan.content_changed
    cf.apply_present(plan, backup=False)
    assert _mode(path) == 0o600 and os.stat(path).st_ino == inode


def test_present_secret_change_alone_is_a_change(tmp_path):
    path = tmp_path / "credentials"
    cf.apply_present(cf.plan_present(str(path), INI, "AKIANEW", OLD_SECRET), backup=False)
    plan = cf.plan_present(str(path), INI, "AKIANEW", NEW_SECRET)
    assert plan.changed and plan.secret_changed


def test_temp_file_is_0600_from_creation(tmp_path, monkeypatch):
    seen = []
    real_mkstemp = tempfile.mkstemp

    def recording_mkstemp(*args, **kwargs):
        descriptor, name = real_mkstemp(*args, **kwargs)
        seen.append((os.path.basename(name), stat.S_IMODE(os.fstat(descriptor).st_mode)))
        return descriptor, name

    monkeypatch.setattr(cf.tempfile, "mkstemp", recording_mkstemp)
    old_umask = os.umask(0)
    try:
        path = tmp_path / "credentials"
        cf.apply_present(cf.plan_present(str(path), INI, "AKIANEW", NEW_SECRET, mode=0o644), backup=False)
    finally:
        os.umask(old_umask)
    assert len(seen) == 1
    name, mode = seen[0]
    assert name.startswith(".credentials.rotor-iam-tmp.") and mode == 0o600
    assert _mode(path) == 0o644


def test_failed_write_leaves_no_temp_file(tmp_path, monkeypatch):
    path = _seed(tmp_path / "credentials", SEED_INI, 0o600)

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cf.os, "replace", failing_replace)
    plan = cf.plan_present(str(path), INI, "AKIANEW", NEW_SECRET)
    with pytest.raises(OSError):
        cf.apply_present(plan, backup=False)
    assert sorted(os.listdir(tmp_path)) == ["credentials"]
    assert path.read_text() == SEED_INI


def test_present_preserves_bom_and_follows_symlink(tmp_path):
    real = _seed(tmp_path / "real.ini", "\ufeff[default]\naws_access_key_id = AKIAOLD\n", 0o600)
    link = tmp_path / "link.ini"
    link.symlink_to(real)
    plan = cf.plan_present(str(link), INI, "AKIANEW", NEW_SECRET)
    backup = cf.apply_present(plan, now=NOW)
    assert os.path.islink(link)
    assert real.read_bytes().startswith(b"\xef\xbb\xbf[default]\naws_access_key_id = AKIANEW\n")
    assert os.path.dirname(backup) == str(tmp_path) and os.path.basename(backup).startswith("real.ini.")


@pytest.mark.parametrize(
    "setup, message",
    [
        ("directory", "is a directory"),
        ("missing_dir", "does not exist; create it first"),
        ("unparseable", "is not a valid aws_credentials file: line 1"),
        ("binary", "not UTF-8 text"),
    ],
)
def test_present_errors(tmp_path, setup, message):
    path = tmp_path / "credentials"
    if setup == "directory":
        path.mkdir()
    elif setup == "missing_dir":
        path = tmp_path / "nope" / "credentials"
    elif setup == "unparseable":
        _seed(path, "garbage\n", 0o600)
    else:
        _seed(path, b"\xff\xfe[default]", 0o600)
    with pytest.raises(cf.CredentialsFileError, match=message):
        cf.plan_present(str(path), INI, "AKIANEW", NEW_SECRET)


# --------------------------------------------------------------------------- files: restore and clean up

def test_restore_brings_back_bytes_mode_owner(tmp_path):
    path = _seed(tmp_path / "credentials", SEED_INI, 0o640)
    first = cf.apply_present(cf.plan_present(str(path), INI, "AKIANEW", NEW_SECRET), now=NOW)
    cf.apply_present(cf.plan_present(str(path), INI, "AKIANEWER", NEW_SECRET), now=NOW + datetime.timedelta(seconds=1))

    newest = cf.plan_restore(str(path), INI)
    assert newest.backup.access_key_id == "AKIANEW"
    assert newest.access_key_id == "AKIANEW" and newest.previous_access_key_id == "AKIANEWER"

    plan = cf.plan_restore(str(path), INI, first)
    assert plan.changed and plan.access_key_id == "AKIAOLD" and plan.backup.mode == 0o640
    cf.apply_restore(plan)
    assert path.read_bytes() == SEED_INI.encode() and _mode(path) == 0o640
    assert not cf.plan_restore(str(path), INI, first).changed


def test_restore_of_absent_marker_removes_file(tmp_path):
    path = tmp_path / "settings.json"
    cf.apply_present(cf.plan_present(str(path), JSON, "AKIANEW", NEW_SECRET), now=NOW)
    plan = cf.plan_restore(str(path), JSON)
    assert plan.backup.absent and plan.changed and plan.access_key_id is None
    cf.apply_restore(plan)
    assert not path.exists()
    assert not cf.plan_restore(str(path), JSON).changed


def test_restore_metadata_only_keeps_inode(tmp_path):
    path = _seed(tmp_path / "credentials", SEED_INI, 0o640)
    cf.apply_present(cf.plan_present(str(path), INI, "AKIAOLD", OLD_SECRET, mode=0o600), now=NOW)
    inode = os.stat(path).st_ino
    cf.apply_restore(cf.plan_restore(str(path), INI))
    assert _mode(path) == 0o640 and os.stat(path).st_ino == inode


def test_restore_foreign_backup_uses_its_own_mode(tmp_path):
    path = _seed(tmp_path / "credentials", SEED_INI, 0o600)
    foreign = _seed(tmp_path / "credentials.orig", "[default]\naws_access_key_id = AKIAFOREIGN\n", 0o400)
    plan = cf.plan_restore(str(path), INI, str(foreign))
    cf.apply_restore(plan)
    assert plan.access_key_id == "AKIAFOREIGN"
    assert path.read_text() == foreign.read_text() and _mode(path) == 0o400


def test_restore_over_unparseable_file_still_works(tmp_path):
    path = _seed(tmp_path / "credentials", SEED_INI, 0o600)
    cf.apply_present(cf.plan_present(str(path), INI, "AKIANEW", NEW_SECRET), now=NOW)
    path.write_text("garbage\n")
    plan = cf.plan_restore(str(path), INI)
    assert plan.previous_access_key_id is None
    cf.apply_restore(plan)
    assert path.read_text() == SEED_INI


@pytest.mark.parametrize("backup_file, message", [(None, "no backup of .* found"), ("missing", "does not exist")])
def test_restore_errors(tmp_path, backup_file, message):
    path = _seed(tmp_path / "credentials", SEED_INI, 0o600)
    with pytest.raises(cf.CredentialsFileError, match=message):
        cf.plan_restore(str(path), INI, backup_file and str(tmp_path / backup_file))


def test_backups_are_listed_newest_last_and_not_confused_with_other_files(tmp_path):
    path = str(tmp_path / "credentials")
    names = [
        "credentials.20261125T214300000001Z.AKIAB.m0600.rotor-iam-backup",
        "credentials.20261125T214300000000Z.absent.rotor-iam-backup",
        "credentials.20261125T214300000002Z.m0644.rotor-iam-backup",
        "credentials.x.20261125T214300000003Z.AKIAC.m0600.rotor-iam-backup",
        "credentials.bak",
        ".credentials.x.rotor-iam-tmp.abc",
    ]
    for name in names:
        (tmp_path / name).write_text("")
    found = cf.list_backups(path)
    assert [os.path.basename(backup.path) for backup in found] == [names[1], names[0], names[2]]
    assert [(b.absent, b.access_key_id, b.mode) for b in found] == [(True, None, None), (False, "AKIAB", 0o600), (False, None, 0o644)]


def test_backups_absent_removes_backups_markers_and_stale_temp_files(tmp_path):
    path = _seed(tmp_path / "credentials", SEED_INI, 0o600)
    kept = ["credentials", "credentials.x.20261125T214300000003Z.AKIAC.m0600.rotor-iam-backup", "other"]
    for name in kept[1:] + [".credentials.rotor-iam-tmp.k2j3h4", "credentials.20261125T214300000000Z.absent.rotor-iam-backup"]:
        (tmp_path / name).write_text("")
    cf.apply_present(cf.plan_present(str(path), INI, "AKIANEW", NEW_SECRET), now=NOW)
    removed = cf.plan_backups_absent(str(path))
    assert len(removed) == 3
    cf.remove_files(removed)
    assert sorted(os.listdir(tmp_path)) == sorted(kept)
    assert cf.plan_backups_absent(str(path)) == []


def test_backup_names_never_collide(tmp_path):
    path = _seed(tmp_path / "credentials", SEED_INI, 0o600)
    before = cf.load_file(str(path))
    first = cf.make_backup(str(path), before, "AKIAOLD", now=NOW)
    second = cf.make_backup(str(path), before, "AKIAOLD", now=NOW)
    assert first != second and ".20261125T214300123457Z." in second


# --------------------------------------------------------------------------- redaction and run()

@pytest.mark.parametrize("target", [INI, INI_PROD, ENV, JSON], ids=lambda t: t.format + "/" + t.profile)
def test_diff_shows_ids_and_redaction_only(tmp_path, target):
    path = tmp_path / "file"
    seeds = {"aws_credentials": SEED_INI, "env": SEED_ENV, "json": json.dumps({"AccessKeyId": "AKIAOLD", "SecretAccessKey": OLD_SECRET, "Token": OTHER_SECRET})}
    _seed(path, seeds[target.format], 0o644)
    plan = cf.plan_present(str(path), target, "AKIANEW", NEW_SECRET)
    diff = cf.present_diff(plan, target, str(path))
    text = json.dumps(diff)
    for secret in (OLD_SECRET, NEW_SECRET, OTHER_SECRET):
        assert secret not in text
    assert "AKIANEW" in diff["after"] and "mode: 0600" in diff["after"] and "mode: 0644" in diff["before"]
    assert cf.REDACTED in diff["after"] and "owner: " in diff["after"]
    if target is INI:
        assert "aws_access_key_id = AKIAOLD" in diff["before"]
        assert "aws_secret_access_key = ********" in diff["before"]
        assert "aws_secret_access_key = ******** (changed)" in diff["after"]


def test_describe_absent_file():
    assert cf.describe(INI, "/x", cf.ABSENT, None, cf.NOT_SET) == "path: /x\nstate: absent\n"


def _params(path, **overrides):
    params = {
        "path": str(path), "state": "present", "format": "aws_credentials", "profile": "default", "variable_names": None,
        "access_key_id": "AKIANEW", "secret_access_key": NEW_SECRET, "owner": None, "group": None, "mode": "0600",
        "backup": True, "backup_file": None,
    }
    params.update(overrides)
    return params


def test_run_check_mode_writes_nothing(tmp_path):
    path = _seed(tmp_path / "credentials", SEED_INI, 0o644)
    result, warnings = cf.run(_params(path), check_mode=True, diff=True)
    assert result["changed"] and result["backup_file"] is None
    assert result["previous_access_key_id"] == "AKIAOLD" and result["access_key_id"] == "AKIANEW"
    assert os.listdir(tmp_path) == ["credentials"] and path.read_text() == SEED_INI and _mode(path) == 0o644
    assert warnings == []


@pytest.mark.parametrize("state", ["present", "read", "restored", "backups_absent"])
def test_run_results_never_hold_a_secret(tmp_path, state):
    path = _seed(tmp_path / "credentials", SEED_INI, 0o600)
    cf.run(_params(path), diff=True)
    result, _warnings = cf.run(_params(path, state=state), diff=True)
    text = json.dumps(result)
    for secret in (OLD_SECRET, NEW_SECRET, OTHER_SECRET):
        assert secret not in text


def test_run_read(tmp_path):
    path = tmp_path / "credentials"
    assert cf.run(_params(path, state="read"))[0] == {"changed": False, "path": str(path), "exists": False, "access_key_id": None}
    _seed(path, SEED_INI, 0o600)
    assert cf.run(_params(path, state="read"))[0]["access_key_id"] == "AKIAOLD"
    assert cf.run(_params(path, state="read", profile="prod"))[0] == {"changed": False, "path": str(path), "exists": True, "access_key_id": None}


def test_run_warnings(tmp_path):
    _result, warnings = cf.run(_params(tmp_path / "x.env", format="env", profile="prod", mode="0644", backup_file="/b"))
    assert any("profile is used only" in w for w in warnings)
    assert any("backup_file is used only" in w for w in warnings)
    assert any("mode 0644 lets every user" in w for w in warnings)


def test_run_turns_os_errors_into_messages(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "credentials"))

    monkeypatch.setattr(cf, "load_file", denied)
    with pytest.raises(cf.CredentialsFileError, match="state=read on .* failed: Permission denied"):
        cf.run(_params(tmp_path / "credentials", state="read"))
