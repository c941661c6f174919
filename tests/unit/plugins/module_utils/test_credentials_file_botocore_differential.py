# -*- coding: utf-8 -*-
# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Differential property test: our aws_credentials reader reads every file exactly as botocore does.

Hypothesis builds files from the pieces that make INI readers disagree (comments,
inline '#' and ';', CRLF and CR, a byte-order mark, [DEFAULT], case, duplicate
sections and keys, continuation and blank lines, nested values, [profile x],
odd spacing and Unicode blanks) and compares our view with
botocore.configloader.raw_config_parse: the same dict, or both refuse the file.
Then, for files both read, writing a key into a profile changes exactly that
key as botocore sees it.
"""

from __future__ import annotations

import locale
import os
import tempfile

import pytest

hypothesis = pytest.importorskip("hypothesis")
configloader = pytest.importorskip("botocore.configloader")
botocore_exceptions = pytest.importorskip("botocore.exceptions")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ansible_collections.rotor.iam.plugins.module_utils._credfile import aws_credentials as ini  # noqa: E402
from ansible_collections.rotor.iam.plugins.module_utils._credfile import common  # noqa: E402
from ansible_collections.rotor.iam.plugins.module_utils._credfile import formats as fm  # noqa: E402

pytestmark = pytest.mark.skipif(
    locale.getpreferredencoding(False).lower().replace("-", "") != "utf8",
    reason="botocore reads the file in the locale's encoding; the comparison needs UTF-8",
)

NEW_ID = "AKIANEWKEY0000000002"
NEW_SECRET = "NewSecret/0123456789+abcdefABCDEF012345"

blank = st.sampled_from(["", " ", "  ", "\t", " \t", "\x0c", "\xa0"])
names = st.sampled_from(["default", "Default", "DEFAULT", "DEFAULT", "prod", "profile prod", " prod ", "a]b", "x y", "[z"])
keys = st.sampled_from(["aws_access_key_id", "AWS_ACCESS_KEY_ID", "aws_secret_access_key", "region", "s3",
                        "Region", "x y", "a#b"])
values = st.sampled_from(["", "AKIAOLDKEY0000000001", "secret/+=", "v # not a comment", "v ; semi", " spaced ",
                          "a=b", "a:b", "[x]", "ünïcode", "\u2028x"])
delimiters = st.sampled_from(["=", " = ", ":", " : ", "=  ", "\t=\t"])


@st.composite
def option_lines(draw, key):
    indent = draw(st.sampled_from(["", "", "", " ", "\t"]))
    line = "%s%s%s%s" % (indent, key, draw(delimiters), draw(values))
    extra = draw(st.sampled_from(["", "", "", "continuation", "blank+continuation", "nested", "comment"]))
    if extra == "continuation":
        line += "\n%s  %s" % (indent, draw(values))
    elif extra == "blank+continuation":
        line += "\n%s\n%s    %s" % (draw(blank), indent, draw(values))
    elif extra == "nested":
        line = "%s%s =\n%s    %s = %s" % (indent, key, indent, draw(keys), draw(values))
    elif extra == "comment":
        line += "\n%s%s %s" % (draw(blank), draw(st.sampled_from(["#", ";"])), draw(values))
    return line


@st.composite
def sections(draw, name):
    header = "%s[%s]%s" % (draw(st.sampled_from(["", "", " "])), name, draw(st.sampled_from(["", "", " x"])))
    own_keys = draw(st.lists(keys, max_size=4, unique_by=str.lower))
    body = [draw(option_lines(key)) for key in own_keys]
    return [header] + body


chaos = st.sampled_from(["junk", "[", "]", "=", "= value", "[DEFAULT", "x", "# c", "; c", "", "  indented = x",
                         "aws_access_key_id = AKIADUPLICATE0000009"])


@st.composite
def credentials_files(draw):
    profiles = draw(st.lists(names, max_size=4, unique=True))
    if profiles and draw(st.integers(0, 5)) == 0:
        profiles.append(profiles[0])  # a duplicate section
    body = [line for name in profiles for line in draw(sections(name))]
    if body and draw(st.integers(0, 3)) == 0:
        body.insert(draw(st.integers(0, len(body))), draw(chaos))
    if draw(st.integers(0, 4)) == 0:
        body.insert(0, draw(st.sampled_from(["# leading comment", "", "  ", "orphan = 1"])))
    newline = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
    text = ("\n".join(body) + draw(st.sampled_from(["", "\n"]))).replace("\n", newline)
    if draw(st.integers(0, 15)) == 0:
        text = "\ufeff" + text
    return text


def botocore_read(directory, text):
    path = os.path.join(directory, "credentials")
    with open(path, "wb") as handle:
        handle.write(text.encode("utf-8"))
    try:
        return configloader.raw_config_parse(path)
    except botocore_exceptions.ConfigParseError:
        return None


def our_read(text):
    try:
        return ini.ini_view(ini.parse_ini(common.decode(text.encode("utf-8"), "credentials", "aws_credentials")))
    except common.CredentialsFileError:
        return None


@pytest.fixture(scope="module")
def directory():
    with tempfile.TemporaryDirectory() as path:
        yield path


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=credentials_files(), profile=st.sampled_from(["default", "prod", "profile prod", "new"]))
def test_we_read_every_file_as_botocore_does(directory, text, profile):
    expected = botocore_read(directory, text)
    assert our_read(text) == expected

    if expected is None:
        return
    target = common.make_target("aws_credentials", profile)
    try:
        written = fm.set_credentials(text, target, NEW_ID, NEW_SECRET, "credentials")
    except common.CredentialsFileError as exc:
        # Refusing is allowed only where the profile's own keys cannot be written as plain lines.
        assert "nested block" in str(exc) or "refusing to edit" in str(exc)
        return
    after = botocore_read(directory, written)
    assert after[profile]["aws_access_key_id"] == NEW_ID
    assert after[profile]["aws_secret_access_key"] == NEW_SECRET
    changed = {name for name in after if after[name] != expected.get(name)}
    assert changed <= {profile}
    for key in set(after[profile]) - {"aws_access_key_id", "aws_secret_access_key"}:
        assert after[profile][key] == expected.get(profile, after[profile])[key]
