"""What a file holds where it is declared to (plans.inspect / formats.inspect_text), and writes that keep modes."""

import os
import stat

import pytest

from ansible_collections.rotor.iam.plugins.module_utils._credfile import operations
from ansible_collections.rotor.iam.plugins.module_utils._credfile import plans
from ansible_collections.rotor.iam.plugins.module_utils._credfile import safe_io
from ansible_collections.rotor.iam.plugins.module_utils._credfile.common import CredentialsFileError
from ansible_collections.rotor.iam.plugins.module_utils._credfile.formats import inspect_text
from ansible_collections.rotor.iam.plugins.module_utils._credfile.common import make_target

KEY, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
NEW_KEY, NEW_SECRET = "AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
INI = "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n[ci]\ncredential_process = /usr/bin/get-creds\n" % (KEY, SECRET)
ENV = "AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n" % (KEY, SECRET)
JSON = '{"AccessKeyId": "%s", "SecretAccessKey": "%s"}\n' % (KEY, SECRET)


@pytest.mark.parametrize("text, fmt, profile, expected", [
    (INI, "aws_credentials", "default", {"found": True, "access_key_id": KEY, "error": None, "looks_like": None}),
    (INI, "aws_credentials", "app", {"found": False, "access_key_id": None, "error": None, "looks_like": None}),
    (INI, "aws_credentials", "ci", {"found": True, "access_key_id": None, "error": None, "looks_like": None}),
    (INI, "env", "default", {"found": False, "access_key_id": None, "error": None, "looks_like": "aws_credentials"}),
    (ENV, "aws_credentials", "default", {"found": False, "access_key_id": None, "looks_like": "env"}),
    (JSON, "env", "default", {"found": False, "access_key_id": None, "error": None, "looks_like": "json"}),
    (INI, "json", "default", {"found": False, "access_key_id": None, "looks_like": "aws_credentials"}),
    (JSON, "json", "default", {"found": True, "access_key_id": KEY, "error": None, "looks_like": None}),
])
def test_inspect_says_what_is_where_and_what_the_file_looks_like(text, fmt, profile, expected):
    report = inspect_text(text, make_target(fmt, profile), "/etc/app/credentials")
    assert {k: report[k] for k in expected} == expected
    if "error" not in expected:
        assert report["error"].startswith("/etc/app/credentials is not a valid %s file" % fmt)
    assert SECRET not in repr(report)


def _write(tmp_path, text, mode):
    path = tmp_path / "credentials"
    path.write_text(text)
    os.chmod(path, mode)
    return str(path)


def test_a_write_without_mode_keeps_the_files_mode_and_warns_when_others_can_read(tmp_path):
    path = _write(tmp_path, INI, 0o644)
    result, warnings = operations.run({"path": path, "access_key_id": NEW_KEY, "secret_access_key": NEW_SECRET})
    assert result["changed"] and stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert any("mode 0644 lets every user on the host read" in w for w in warnings)


@pytest.mark.parametrize("text, params, what", [
    (None, {}, "does not exist"),
    (INI, {"profile": "app"}, "has no access key id in profile [app]"),
    (INI, {"profile": "ci"}, "has no access key id in profile [ci]"),
    (INI, {"format": "env"}, "has no access key id in AWS_ACCESS_KEY_ID"),
])
def test_a_write_where_no_key_is_needs_create(tmp_path, text, params, what):
    path = _write(tmp_path, text, 0o600) if text else str(tmp_path / "credentials")
    before = open(path).read() if text else None
    args = dict({"path": path, "access_key_id": NEW_KEY, "secret_access_key": NEW_SECRET}, **params)
    with pytest.raises(CredentialsFileError) as refused:
        operations.run(args)
    assert what in str(refused.value) and "set create: true" in str(refused.value) and SECRET not in str(refused.value)
    assert (open(path).read() if text else os.path.exists(path)) == (before if text else False)
    result, _warnings = operations.run(dict(args, create=True))
    assert result["changed"] and result["access_key_id"] == NEW_KEY
    if not text:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_inspect_of_a_missing_file(tmp_path):
    location = safe_io.locate(str(tmp_path / "nothing"))
    try:
        assert plans.inspect(location, make_target("aws_credentials")) == {
            "exists": False, "found": False, "access_key_id": None, "error": None, "looks_like": None, "mode": None}
    finally:
        location.close()
