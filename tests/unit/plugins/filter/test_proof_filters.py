"""The filters of the key proofs (plugins/filter/proofs.py): which secret proves an old key, never a secret shown."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.rotor.iam.plugins.module_utils._rotation import run as engine
from ansible_collections.rotor.iam.plugins.filter.proofs import proven_reads
from ansible_collections.rotor.iam.plugins.filter.proofs import proven_secrets

OLD = "AKIAOLDOLDOLDOLDOLD1"
SECRET = "s3cr3t/old+SECRET/aaaaaaaaaaaaaaaaaaaaaa"
FORGED = "forged/SECRET/bbbbbbbbbbbbbbbbbbbbbbbbbb"


def check(host, user="app", secret=SECRET, failed=False, skipped=False, error_code=None, msg=None):
    read = {"item": {"user": user, "access_key_id": OLD, "host": host, "file": {"path": "/etc/app/credentials"}},
            "secret_access_key": secret}
    if skipped:
        read = dict(read, failed=True, msg=msg or "no backup holds the key", secret_access_key=None)
    result = {"item": read, "changed": False}
    if skipped:
        result["skipped"] = True
    if failed:
        result.update(failed=True, error_code=error_code, msg=msg or "The proof cannot be made with this secret")
    return result


def test_the_first_host_whose_backup_signs_proves_the_key_and_the_others_are_named():
    proven = proven_secrets([check("web1", secret=FORGED, failed=True, error_code="WrongSecret"), check("web2"), check("web3")])

    assert proven["reads"] == [{"item": check("web2")["item"]["item"], "secret_access_key": SECRET}]
    assert proven["failures"] == {}
    assert proven["unproven"] == {"app": ["web1"]}


def test_a_user_no_backup_can_prove_fails_with_every_host_named_and_no_secret():
    proven = proven_secrets([check("web1", secret=FORGED, failed=True, error_code="WrongSecret"),
                             check("web2", skipped=True, msg="no backup of /etc/app/credentials holds AKIAOLDOLDOLDOLDOLD1")])

    assert proven["reads"] == []
    message = proven["failures"]["app"]
    assert "on web1, the secret in its backup is not the key's" in message
    assert "on web2, its backup could not be read" in message
    assert OLD in message and "not deactivated" in message
    assert SECRET not in str(proven["failures"]) and FORGED not in str(proven["failures"])


def test_proven_reads_are_those_of_the_users_asked():
    proven = proven_secrets([check("web1"), check("db1", user="db")])

    assert [r["item"]["user"] for r in proven_reads(proven, ["db"])] == ["db"]
    assert proven_reads({}, ["db"]) == []


@pytest.mark.parametrize("plan, expected", [
    ({"old_key_status": "Active"}, ["app"]),
    ({"old_key_status": "Inactive"}, []),
    ({"old_key_status": "Inactive", "reactivate_old": True}, ["app"]),
    ({"old_key_status": "Active", "deactivate_first": True}, []),
    ({"old_key_status": "Inactive", "old_key_disabled": True}, []),
], ids=["active", "inactive-already", "reactivated-on-resume", "incident-deactivates-first", "disabled-outside-rotor"])
def test_secrets_are_proven_only_for_keys_active_at_cutover(plan, expected):
    run = engine.start({"app": dict(plan, due=True), "db": {"due": True, "old_key_status": "Active"}})
    run = engine.advance(run, "hosts", {"hosts": {"h1": {"user": "app", "state": "healthy", "wrote": True},
                                                  "h2": {"user": "db", "state": "failed", "wrote": True, "failure": {"check": "c", "msg": "m"}}}})
    assert run["outcome"]["app"]["action"] == "cutover" and run["outcome"]["db"]["action"] == "rollback"
    assert run["todo"]["prove_secrets"] == expected


def test_malformed_input_is_a_filter_error():
    with pytest.raises(AnsibleFilterError):
        proven_secrets(["not a dict"])
