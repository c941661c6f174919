"""The key proofs (module_utils/_rotation/proofs.py, run.py): where an old key is read back from, which secret proves it,
what failed; never a secret in the run record or a message."""

from __future__ import annotations

import pytest

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.module_utils._rotation import run as engine
from ansible_collections.rotor.iam.plugins.module_utils._rotation.proofs import key_proofs
from ansible_collections.rotor.iam.plugins.module_utils._rotation.proofs import proof_failures
from ansible_collections.rotor.iam.plugins.module_utils._rotation.proofs import proven_secrets
from run_record_builders import NEW, host

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

    assert proven["proven"] == {"app": check("web2")["item"]["item"]}
    assert proven["failures"] == {}
    assert SECRET not in str(proven)
    assert proven["unproven"] == {"app": ["web1"]}


def test_a_user_no_backup_can_prove_fails_with_every_host_named_and_no_secret():
    proven = proven_secrets([check("web1", secret=FORGED, failed=True, error_code="WrongSecret"),
                             check("web2", skipped=True, msg="no backup of /etc/app/credentials holds AKIAOLDOLDOLDOLDOLD1")])

    assert proven["proven"] == {}
    message = proven["failures"]["app"]
    assert "on web1, the secret in its backup is not the key's" in message
    assert "on web2, its backup could not be read" in message
    assert OLD in message and "not deactivated" in message
    assert SECRET not in str(proven["failures"]) and FORGED not in str(proven["failures"])


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


FILE = {"path": "/etc/app/credentials", "format": "aws_credentials"}


def test_key_proofs_pick_a_switched_host_and_its_first_file():
    outcome = {"app": {"action": "cutover", "switched_hosts": ["web2"]}, "db": {"action": "rollback", "switched_hosts": []}}
    plans = {"app": {"old_key_id": OLD, "hosts": ["web1", "web2"]}, "db": {"old_key_id": OLD, "hosts": ["db1"]}}
    hosts = {"web1": host(file=FILE), "web2": host(file=FILE), "db1": host("db", file=FILE)}
    assert key_proofs(outcome, plans, hosts, "cutover") == [{"user": "app", "access_key_id": OLD, "host": "web2", "file": FILE}]
    assert key_proofs(outcome, plans, hosts, "rollback", users=[]) == []
    # a host without credentials files keeps no backup
    assert key_proofs(outcome, plans, dict(hosts, web2=host(file={})), "cutover")[0]["host"] == "web1"


def test_key_proofs_skip_a_key_no_host_ever_held():
    outcome = {"app": {"action": "cutover", "switched_hosts": ["web1"]}}
    plans = {"app": {"old_key_id": OLD, "hosts": ["web1"], "broken_hosts": ["web1"]}}
    assert key_proofs(outcome, plans, {"web1": host(file=FILE, key_ids=["AKIAGONE000000000001"])}, "cutover") == []


def test_proof_failures_name_key_and_host_never_a_secret():
    checks = [
        {"skipped": True, "item": {"failed": True, "msg": "no backup holds AKIA...", "item": {"user": "app", "access_key_id": OLD, "host": "web1"},
                                   "secret_access_key": "s3cr3t"}},
        {"failed": True, "msg": "The access key did not prove invalid within 30s", "item": {
            "secret_access_key": "s3cr3t", "item": {"user": "db", "access_key_id": NEW, "host": "db1"}}},
        {"failed": False, "item": {"item": {"user": "ok", "access_key_id": NEW, "host": "x"}}},
    ]
    failures = proof_failures(checks, "invalid")
    assert set(failures) == {"app", "db"}
    assert OLD in failures["app"] and "web1" in failures["app"]
    assert "within 30s" in failures["db"] and NEW in failures["db"]
    assert "s3cr3t" not in str(failures)


def cut_over(plans=None):
    plans = plans or {"app": {"due": True, "old_key_id": OLD, "old_key_status": "Active", "hosts": ["web1", "web2", "web3", "web4"]}}
    run = engine.start(plans, new_key_ids={"app": NEW})
    return engine.advance(run, "hosts", {"hosts": {h: host(file=FILE) for h in ("web1", "web2", "web3", "web4")}})


def test_the_secret_proven_before_the_deactivation_proves_it_and_no_backup_is_read_again():
    run = cut_over()
    reads = run["todo"]["secret_reads"]
    assert [r["host"] for r in reads] == ["web1", "web2", "web3"]  # up to three hosts
    run = engine.advance(run, "secrets_proven", {"checks": {"results": [
        {"item": {"item": reads[0], "secret_access_key": FORGED}, "failed": True, "error_code": "WrongSecret"},
        {"item": {"item": reads[1], "secret_access_key": SECRET}, "changed": False}]}})
    assert run["outcome"]["app"]["action"] == "cutover"
    assert run["notes"] == [f"app: the backup on web1 could not prove old key {OLD}"]
    assert SECRET not in str(run) and FORGED not in str(run)
    run = engine.advance(run, "deactivated", {"results": [{"item": "app", "changed": True}], "now": "2026-12-06T00:00:00Z"})
    assert run["todo"]["proofs"]["deactivated"] == {"read": [], "proven": [reads[1]]}
    failed = engine.advance(run, "proved", {"expect": "invalid", "checks": [
        {"item": {"item": reads[1], "secret_access_key": SECRET}, "failed": True, "msg": "still accepted after 30s"}]})
    assert failed["outcome"]["app"]["action"] == "rollback" and "still accepted after 30s" in failed["notes"][0]
    assert failed["todo"]["proofs"]["reactivated"] == {"read": [], "proven": [reads[1]]}
    assert SECRET not in str(failed)


def test_a_key_inactive_already_is_read_back_from_one_backup():
    run = cut_over({"app": {"due": True, "old_key_id": OLD, "old_key_status": "Inactive", "hosts": ["web1", "web2"]}})
    assert run["todo"]["secret_reads"] == []
    run = engine.advance(run, "deactivated", {"results": [{"item": "app", "changed": False}], "journal": [
        {"item": {"item": "app"}, "journal": {"inactive_since": "2026-12-06T00:00:00Z"}}]})
    assert run["todo"]["proofs"]["deactivated"] == {"read": [{"user": "app", "access_key_id": OLD, "host": "web1", "file": FILE}],
                                                    "proven": []}


checks_of_hosts = st.lists(st.tuples(st.sampled_from(["app", "db"]), st.sampled_from(["web1", "web2", "db1"]),
                                     st.sampled_from(["ok", "wrong", "unread", "timeout"])), max_size=8)


@given(checks_of_hosts)
@settings(deadline=None)  # a loaded machine must not fail a property
def test_a_user_is_proven_only_by_a_secret_aws_accepted_and_never_both_proven_and_failed(cases):
    checks = []
    for user, where, result in cases:
        read = {"item": {"user": user, "access_key_id": OLD, "host": where, "file": FILE}, "secret_access_key": SECRET}
        check = {"item": read}
        if result == "wrong":
            check.update(failed=True, error_code="WrongSecret")
        elif result == "timeout":
            check.update(failed=True, msg="timed out")
        elif result == "unread":
            check.update(skipped=True)
        checks.append(check)
    found = proven_secrets(checks)
    accepted = {(user, where) for user, where, result in cases if result == "ok"}
    for user, proof in found["proven"].items():
        assert (user, proof["host"]) in accepted
    assert set(found["proven"]) == {user for user, _where in accepted}
    assert not set(found["proven"]) & set(found["failures"])
    assert set(found["failures"]) == {user for user, _w, _r in cases} - set(found["proven"])
    assert SECRET not in str(found)
