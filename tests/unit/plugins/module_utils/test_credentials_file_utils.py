# -*- coding: utf-8 -*-
# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The credentials_file backend: formats read as their consumers read them, minimal edits, inputs, backup names."""

from __future__ import annotations

import datetime
import json
import re
import time

import pytest

from ansible_collections.rotor.iam.plugins.module_utils._credfile import backups as bk
from ansible_collections.rotor.iam.plugins.module_utils._credfile import common
from ansible_collections.rotor.iam.plugins.module_utils._credfile import formats as fm
from ansible_collections.rotor.iam.plugins.module_utils._credfile import plans

OLD_ID = "AKIAOLDKEY0000000001"
NEW_ID = "AKIANEWKEY0000000002"
OLD_SECRET = "OldSecretMustNotLeak/0123456789abcdefABCDEF"
NEW_SECRET = "NewSecretMustNotLeak+0123456789abcdefABCDEF"

INI = common.make_target("aws_credentials")
INI_PROD = common.make_target("aws_credentials", "prod")
ENV = common.make_target("env")
JSON = common.make_target("json")


def edited(text, target):
    return fm.set_credentials(text, target, NEW_ID, NEW_SECRET)


# --------------------------------------------------------------------------- aws_credentials: read as botocore


@pytest.mark.parametrize(
    "text, target, expected",
    [
        pytest.param("", INI, (None, None), id="empty file"),
        pytest.param("[default]\naws_access_key_id = A1\naws_secret_access_key = S1\n", INI, ("A1", "S1"), id="plain"),
        pytest.param("[default]\naws_access_key_id=A1\naws_secret_access_key=S1", INI, ("A1", "S1"), id="no final newline"),
        pytest.param("[default]\naws_access_key_id: A1\n", INI, ("A1", None), id="colon delimiter"),
        pytest.param("[default]\nAWS_ACCESS_KEY_ID = A1\n", INI, ("A1", None), id="keys are case-insensitive"),
        pytest.param("[Default]\naws_access_key_id = A1\n", INI, (None, None), id="profiles are case-sensitive"),
        pytest.param("[default]\naws_access_key_id = A1 # not a comment\n", INI, ("A1 # not a comment", None),
                     id="no inline comments"),
        pytest.param("[default]\naws_access_key_id = A1\n  more\n", INI, ("A1\nmore", None), id="continuation line"),
        pytest.param("[default]\naws_access_key_id = A1\n\n  more\n", INI, ("A1\n\nmore", None),
                     id="blank line inside a value"),
        pytest.param("[DEFAULT]\naws_access_key_id = D1\n[default]\n", INI, ("D1", None), id="inherited from DEFAULT"),
        pytest.param("[DEFAULT]\naws_access_key_id = D1\n[prod]\naws_access_key_id = P1\n", INI_PROD, ("P1", None),
                     id="own value beats DEFAULT"),
        pytest.param("[DEFAULT]\naws_access_key_id = D1\n", INI, (None, None), id="DEFAULT alone is no profile"),
        pytest.param("[profile prod]\naws_access_key_id = P1\n", INI_PROD, (None, None),
                     id="the credentials file has no 'profile ' prefix"),
        pytest.param("[default]\r\naws_access_key_id = A1\r\n", INI, ("A1", None), id="crlf"),
        pytest.param("[default]\raws_access_key_id = A1\r", INI, ("A1", None), id="old mac line endings"),
    ],
)
def test_read_aws_credentials(text, target, expected):
    assert fm.read_credentials(text, target) == expected


@pytest.mark.parametrize(
    "text, reason",
    [
        pytest.param("aws_access_key_id = A1\n", "before the first [profile] header", id="no header"),
        pytest.param("[default]\n[default]\n", "appears a second time", id="duplicate profile"),
        pytest.param("[default]\na = 1\nA = 2\n", "'a' appears twice", id="duplicate key, any case"),
        pytest.param("[default]\njust words\n", "expected a [profile] header", id="not a setting"),
        pytest.param("[default]\n= value\n", "expected a [profile] header", id="empty key"),
        pytest.param("[default]\naws_access_key_id =\n  nested = x\n", "nested block", id="nested id"),
        pytest.param("[default]\ns3 =\n  no equals sign\n", "line without '='", id="bad nested block"),
    ],
)
def test_unparseable_aws_credentials_are_refused(text, reason):
    with pytest.raises(common.CredentialsFileError, match=re.escape(reason)):
        fm.read_credentials(text, INI, "/etc/creds")


def test_byte_order_mark_and_nul_are_refused():
    for data, reason in ((b"\xef\xbb\xbf[default]\n", "byte-order mark"), (b"[default]\x00\n", "NUL byte"),
                         (b"[default]\nx = \xff\n", "not UTF-8")):
        with pytest.raises(common.CredentialsFileError, match=reason):
            common.decode(data, "/etc/creds", "aws_credentials")


@pytest.mark.parametrize("profile, reason", [
    ("", "an empty profile is not 'default'"),
    ("DEFAULT", "inherited by every profile"),
    ("a]b", "cannot be used in an INI header"),
    (" prod", "cannot be used in an INI header"),
])
def test_profiles_that_botocore_would_not_read_as_given_are_refused(profile, reason):
    with pytest.raises(common.CredentialsFileError, match=reason):
        common.make_target("aws_credentials", profile)


# --------------------------------------------------------------------------- aws_credentials: minimal edits

SEED_INI = (
    "# keep this comment\n"
    "[default]\n"
    "aws_access_key_id = " + OLD_ID + "\n"
    "aws_secret_access_key = " + OLD_SECRET + "\n"
    "region = eu-west-1\n"
    "\n"
    "; other profile\n"
    "[prod]\n"
    "aws_access_key_id=AKIAPRODKEY000000003\n"
)


def test_ini_edit_changes_only_the_two_values():
    assert edited(SEED_INI, INI) == SEED_INI.replace(OLD_ID, NEW_ID).replace(OLD_SECRET, NEW_SECRET)
    assert edited(edited(SEED_INI, INI), INI) == edited(SEED_INI, INI)


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("[default]\n  region = x\n",
                     "[default]\n  aws_access_key_id = %s\n  aws_secret_access_key = %s\n  region = x\n",
                     id="indented profile: new lines indented alike, so region is no continuation"),
        pytest.param("[default]\naws_secret_access_key = old\n",
                     "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", id="id missing"),
        pytest.param("[default]\naws_access_key_id = old\n# c\n  cont\nregion = x\n",
                     "[default]\naws_access_key_id = %s\n# c\naws_secret_access_key = %s\nregion = x\n",
                     id="continuation of the old value dropped, comment kept"),
        pytest.param("[other]\nx = 1", "[other]\nx = 1\n\n[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
                     id="profile appended"),
        pytest.param("[DEFAULT]\naws_access_key_id = D1\n[default]\n",
                     "[DEFAULT]\naws_access_key_id = D1\n[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
                     id="own key overrides DEFAULT, DEFAULT untouched"),
    ],
)
def test_ini_insertions(text, expected):
    assert edited(text, INI) == expected % (NEW_ID, NEW_SECRET)
    assert fm.read_credentials(edited(text, INI), INI) == (NEW_ID, NEW_SECRET)


# --------------------------------------------------------------------------- env: read as systemd


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("AWS_ACCESS_KEY_ID=A1\nAWS_SECRET_ACCESS_KEY=S1\n", ("A1", "S1"), id="plain"),
        pytest.param("AWS_ACCESS_KEY_ID = A1  \n", ("A1", None), id="blanks around = and trailing"),
        pytest.param("AWS_ACCESS_KEY_ID='A 1'\n", ("A 1", None), id="single quotes"),
        pytest.param('AWS_ACCESS_KEY_ID="A\\"1\\x"\n', ('A"1\\x', None), id="double quotes keep unknown escapes"),
        pytest.param("AWS_ACCESS_KEY_ID=A1 # text\n", ("A1 # text", None), id="no inline comments"),
        pytest.param("AWS_ACCESS_KEY_ID=A\\\n1\n", ("A1", None), id="continuation line"),
        pytest.param("AWS_ACCESS_KEY_ID='A'B\n", ("AB", None), id="quoted then bare"),
        pytest.param("AWS_ACCESS_KEY_ID=1\nAWS_ACCESS_KEY_ID=2\n", ("2", None), id="last wins"),
        pytest.param("; c\n# c\n  AWS_ACCESS_KEY_ID=A1", ("A1", None), id="comments, indent, no final newline"),
        pytest.param("JUNK LINE\nAWS_ACCESS_KEY_ID=A1\r\n", ("A1", None), id="line without = ignored, crlf"),
    ],
)
def test_read_env_as_systemd(text, expected):
    assert fm.read_credentials(text, ENV) == expected


@pytest.mark.parametrize(
    "text, reason",
    [
        pytest.param("export AWS_ACCESS_KEY_ID=A1\n", "ignored by systemd", id="export"),
        pytest.param("# note \\\nAWS_ACCESS_KEY_ID=A1\n", "comment ends with a backslash", id="comment continuation"),
        pytest.param("AWS_ACCESS_KEY_ID='A1\n", "never closed", id="unclosed quote"),
        pytest.param("AWS_ACCESS_KEY_ID='A\x01'\n", "control characters", id="control character"),
    ],
)
def test_env_files_systemd_could_read_differently_are_refused(text, reason):
    with pytest.raises(common.CredentialsFileError, match=reason):
        fm.read_credentials(text, ENV, "/etc/app.env")


def test_env_edit_updates_every_assignment_and_keeps_quotes():
    text = "A=1\nAWS_ACCESS_KEY_ID='old'\nAWS_ACCESS_KEY_ID=\"older\"\nB=2"
    assert edited(text, ENV) == (
        "A=1\nAWS_ACCESS_KEY_ID='%s'\nAWS_ACCESS_KEY_ID=\"%s\"\nB=2\nAWS_SECRET_ACCESS_KEY=%s\n" % (NEW_ID, NEW_ID, NEW_SECRET))


def env_file(lines):
    text = "".join("VAR_%d='value %d'\n" % (number, number) for number in range(lines))
    return text + "AWS_ACCESS_KEY_ID=%s\n" % OLD_ID * 100


def cpu_seconds_to_edit(text, repeat=3):
    best = None
    for dummy in range(repeat):
        started = time.process_time()
        edited(text, ENV)
        spent = time.process_time() - started
        best = spent if best is None else min(best, spent)
    return max(best, 1e-6)


def test_env_edits_are_linear_in_file_size():
    """Ten times the lines costs about ten times the CPU (a quadratic edit would cost a hundred times).

    A ratio of CPU time within one run, not a wall-clock limit: the machines are shared.
    """
    small, large = env_file(2000), env_file(20000)
    assert fm.read_credentials(edited(large, ENV), ENV) == (NEW_ID, NEW_SECRET)
    ratio = cpu_seconds_to_edit(large) / cpu_seconds_to_edit(small)
    assert ratio < 30, f"editing 10x the lines cost {ratio:.0f}x the CPU time"


# --------------------------------------------------------------------------- json


def test_json_edit_keeps_every_other_byte():
    text = '{\n    "big": 1e400,\n    "precise": 1.00000000000000001,\n    "AccessKeyId": "%s"\n}\n' % OLD_ID
    result = edited(text, JSON)
    assert result == ('{\n    "big": 1e400,\n    "precise": 1.00000000000000001,\n    "AccessKeyId": "%s",\n'
                      '    "SecretAccessKey": "%s"\n}\n' % (NEW_ID, NEW_SECRET))


@pytest.mark.parametrize("text, expected", [
    ("", '{\n  "AccessKeyId": "%s",\n  "SecretAccessKey": "%s"\n}\n'),
    ("{}", '{"AccessKeyId": "%s", "SecretAccessKey": "%s"}'),
    ('{"a":1}', '{"a":1, "AccessKeyId":"%s", "SecretAccessKey":"%s"}'),
])
def test_json_new_keys_follow_the_file_style(text, expected):
    assert edited(text, JSON) == expected % (NEW_ID, NEW_SECRET)
    json.loads(edited(text, JSON))


@pytest.mark.parametrize("text, reason", [
    ('{"Credentials": {"AccessKeyId": "x"}}', r"nested object at \$\.Credentials\.AccessKeyId"),
    ('{"list": [{"SecretAccessKey": "x"}]}', r"nested object at \$\.list\[0\]\.SecretAccessKey"),
    ('{"AccessKeyId": "a", "AccessKeyId": "b"}', "appears twice"),
    ('{"AccessKeyId": 5}', "is not a string"),
    ('[1]', "must be a JSON object"),
    ('{"a": 1} x', "extra data"),
    ('{"a": "\\ud800"', "expected ',' or '}'"),
])
def test_json_files_read_ambiguously_are_refused(text, reason):
    with pytest.raises(common.CredentialsFileError, match=reason):
        fm.read_credentials(text, JSON, "/opt/app.json")


# --------------------------------------------------------------------------- inputs


@pytest.mark.parametrize("value, mode", [("0600", 0o600), ("640", 0o640), ("0o400", 0o400), (0o640, 0o640), (384, 0o600)])
def test_modes_accepted(value, mode):
    assert plans.parse_mode(value) == mode


@pytest.mark.parametrize("value, reason", [
    (600, "Quote it: '0600'"),
    (644, "Quote it: '0644'"),
    ("4755", "setuid"),
    ("1600", "sticky"),
    ("0200", "owner read"),
    ("0666", "every user on the host replace"),
    ("u=rw", "symbolic modes are not supported"),
    (True, "octal string"),
    (99999, "out of range"),
])
def test_modes_refused(value, reason):
    with pytest.raises(common.CredentialsFileError, match=reason.replace("(", r"\(")):
        plans.parse_mode(value)


def test_group_writable_mode_warns():
    assert "lets the file's group change" in plans.mode_warnings(0o660, "/x")[0]


@pytest.mark.parametrize("owner, reason", [("99999999999", "out of range"), ("no-such-user-rotor", "is not a user")])
def test_owner_errors(owner, reason):
    with pytest.raises(common.CredentialsFileError, match=reason):
        plans.resolve_owner(owner)


@pytest.mark.parametrize("value, ok", [
    (NEW_ID, True), ("ASIATEMPKEY000000009", True), ("AKIAshort", False), ("akiaaaaaaaaaaaaaaaaa", False),
    (NEW_SECRET, False), ("NEW-KEY-OF-ALICE", False),
])
def test_access_key_id_format(value, ok):
    if ok:
        common.check_access_key_id("access_key_id", value)
    else:
        with pytest.raises(common.CredentialsFileError, match="value withheld") as caught:
            common.check_access_key_id("access_key_id", value)
        assert value not in str(caught.value)


def test_placeholder_only_where_allowed():
    common.check_access_key_id("access_key_id", "NEW-KEY-OF-BACKUP.AGENT@X", allow_placeholder=True)
    with pytest.raises(common.CredentialsFileError):
        common.check_access_key_id("access_key_id", "NEW-KEY-OF-a/b", allow_placeholder=True)


# --------------------------------------------------------------------------- backup names

NOW = datetime.datetime(2026, 11, 25, 21, 43, 0, 123456, tzinfo=datetime.timezone.utc)
STAMP = NOW.strftime(bk.TIMESTAMP_FORMAT)


def test_backup_names_hold_a_key_id_never_anything_else():
    assert bk.backup_name("credentials", STAMP, OLD_ID) == "credentials.%s.%s.rotor-iam-backup" % (STAMP, OLD_ID)
    assert bk.backup_name("credentials", STAMP, NEW_SECRET) == "credentials.%s.rotor-iam-backup" % STAMP
    assert bk.backup_name("credentials", STAMP, absent=True) == "credentials.%s.absent.rotor-iam-backup" % STAMP


def test_names_of_older_releases_are_recognised_and_a_non_id_tag_withheld():
    legacy = bk.parse_name("credentials", "credentials.%s.SecretLookingTag123.m0644.rotor-iam-backup" % STAMP)
    assert legacy.key_id is None and legacy.legacy_tag and not legacy.absent
    assert bk.display_name(legacy) == "credentials.%s.WITHHELD.m0644.rotor-iam-backup" % STAMP
    ours = bk.parse_name("credentials", "credentials.%s.%s.m0600.rotor-iam-backup" % (STAMP, OLD_ID))
    assert ours.key_id == OLD_ID and ours.timestamp == NOW
    assert bk.parse_name("credentials", "other.%s.rotor-iam-backup" % STAMP) is None
