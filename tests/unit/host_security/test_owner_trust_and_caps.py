# -*- coding: utf-8 -*-
# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 20, point 6, as attacks by a real unprivileged account (the fixtures of test_host_attacks.py).

- Owner swap: the account replaces a root-only credentials file in its directory with a file of its own; with
  no ``owner`` given, the module must not keep the account as owner and write the new secret into its file.
- Size: a credentials file (or backup) over 1 MiB is refused without being read whole.
- Health URLs: a token in the query string is redacted like user:password.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

import pytest

from test_host_attacks import (  # noqa: F401  pylint: disable=unused-import
    NEW_SECRET,
    OLD_ID,
    OLD_SECRET,
    attacker,
    credentials_file,
    health_check,
    host,
    present,
    run,
    seed,
)

from ansible_collections.rotor.iam.plugins.modules import host_credentials

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the attacks need root (the modules run as root)")

COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".build", "collections"))
ATTACKER_ID = "AKIAATTACKER00000009"


def replace_with_own_file(host):
    """The account moves root's file away and puts its own in its place (it owns the directory)."""
    host.as_attacker("""
        import os
        os.rename("credentials", "credentials.root-moved-away")
        with open("credentials", "w") as handle:
            handle.write("[default]\\naws_access_key_id = %s\\naws_secret_access_key = AttackerOwnSecretValue0000000000000000\\n")
        os.chmod("credentials", 0o644)
    """ % ATTACKER_ID)


def assert_secret_not_in_account_files(host):
    for name in os.listdir(host.home):
        path = os.path.join(host.home, name)
        if os.path.isfile(path) and os.stat(path).st_uid == host.account.pw_uid:
            with open(path) as handle:
                assert NEW_SECRET not in handle.read(), f"the new secret was written into the account's {name}"


def test_a_root_only_file_replaced_by_the_accounts_own_is_refused_naming_the_change(capsys, host):
    seed(host, owner_is_attacker=False)  # root-only, in the account's directory
    first, _out = run(capsys, credentials_file, present(host.credentials))
    assert first["changed"] and os.stat(host.credentials).st_uid == 0  # rotor's backup records root
    replace_with_own_file(host)

    result, out = run(capsys, credentials_file, dict(present(host.credentials), access_key_id="AKIANEWER00000000003"))

    assert result["failed"], result
    assert "owned by %s (uid %d)" % (host.account.pw_name, host.account.pw_uid) in result["msg"]
    assert "owned by root (uid 0) when rotor.iam backed it up" in result["msg"] and "give owner:" in result["msg"].lower()
    assert os.stat(host.credentials).st_uid == host.account.pw_uid
    with open(host.credentials) as handle:
        assert ATTACKER_ID in handle.read()
    assert_secret_not_in_account_files(host)
    assert NEW_SECRET not in out


def test_without_any_backup_an_owner_no_one_vouches_for_is_refused_too(capsys, host):
    seed(host, owner_is_attacker=False)
    replace_with_own_file(host)

    result, _out = run(capsys, credentials_file, present(host.credentials))

    assert result["failed"] and "no backup of rotor.iam records that owner" in result["msg"]
    assert "owner: %s" % host.account.pw_name in result["msg"]
    assert_secret_not_in_account_files(host)


def test_the_host_module_refuses_the_swap_the_same_way(capsys, host):
    seed(host, owner_is_attacker=False)
    replace_with_own_file(host)

    args = {"state": "switched", "files": [{"path": host.credentials}], "access_key_id": "AKIANEWER00000000003",
            "secret_access_key": NEW_SECRET, "_ansible_check_mode": False, "_ansible_diff": False}
    result, out = run(capsys, host_credentials, args)

    assert result["failed"] and "rotor.iam does not keep an owner it cannot trust" in result["msg"], result
    assert_secret_not_in_account_files(host)
    assert NEW_SECRET not in out


def test_a_backup_the_account_could_have_planted_is_no_record_of_its_owner(capsys, host):
    seed(host)  # the account's own file, in its own directory: the operator says so
    given, _out = run(capsys, credentials_file, present(host.credentials, owner=host.account.pw_name))
    assert given["changed"] and os.stat(host.credentials).st_uid == host.account.pw_uid

    # The backup rotor made is the account's (it keeps the file's owner): the account could have made it itself.
    again, _out = run(capsys, credentials_file, dict(present(host.credentials), access_key_id="AKIANEWER00000000003"))
    assert again["failed"] and "give owner: %s" % host.account.pw_name in again["msg"].lower()


def test_an_owner_only_root_could_have_set_is_kept(capsys, host):
    private = os.path.join(host.base, "root-only-dir")
    os.mkdir(private, 0o755)  # root's, writable by root only: the account cannot put a file here
    path = os.path.join(private, "credentials")
    with open(path, "w") as handle:
        handle.write("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (OLD_ID, OLD_SECRET))
    os.chown(path, host.account.pw_uid, host.account.pw_gid)
    os.chmod(path, 0o600)

    result, _out = run(capsys, credentials_file, present(path))

    assert result["changed"] and os.stat(path).st_uid == host.account.pw_uid


def test_a_sparse_file_of_768_mib_is_refused_without_being_read(capsys, host):
    host.as_attacker("""
        with open("credentials", "w") as handle:
            handle.write("[default]\\naws_access_key_id = %s\\n")
            handle.truncate(768 << 20)
    """ % OLD_ID)
    code = """
import json, resource, sys
from ansible.module_utils.testing import patch_module_args
from ansible_collections.rotor.iam.plugins.modules import credentials_file
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with patch_module_args({"path": sys.argv[1], "state": "read", "_ansible_check_mode": False, "_ansible_diff": False}):
    try:
        credentials_file.main()
    except SystemExit:
        pass
sys.stderr.write(json.dumps({"grown_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before}))
"""
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    done = subprocess.run([sys.executable, "-c", code, host.credentials], capture_output=True, text=True, env=env, check=False, timeout=120)

    result = json.loads(done.stdout)
    grown_kib = json.loads(done.stderr.strip().splitlines()[-1])["grown_kib"]
    assert result["failed"] and "larger than 1048576 bytes" in result["msg"], result
    assert grown_kib < 64 * 1024, f"reading the file grew the module by {grown_kib} KiB"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 1 << 20  # this process never read it either


def test_a_file_that_grows_past_the_cap_while_read_is_refused(host):
    # The size is checked before reading; a file that grows afterwards is cut off by the read itself.
    from ansible_collections.rotor.iam.plugins.module_utils._credfile import safe_io
    from ansible_collections.rotor.iam.plugins.module_utils._credfile.common import CredentialsFileError

    seed(host)
    fd = os.open(host.credentials, os.O_RDONLY)
    try:
        with pytest.raises(CredentialsFileError, match="larger than 16 bytes"):
            safe_io._read_all(fd, host.credentials, limit=16)  # pylint: disable=protected-access
    finally:
        os.close(fd)


def test_a_token_in_a_health_url_is_redacted_everywhere(capsys, host):
    url = "http://127.0.0.1:9/health?check=full&access_token=QueryTokenMustNotLeak0123&X-Amz-Signature=SigMustNotLeak4567"
    result, out = run(capsys, health_check, {"url": url, "retries": 0, "timeout": 1})

    assert result["failed"] and "access_token=********" in result["msg"] and "X-Amz-Signature=********" in result["msg"]
    assert "check=full" in result["msg"]
    assert "QueryTokenMustNotLeak0123" not in out and "SigMustNotLeak4567" not in out
    assert OLD_SECRET not in out
