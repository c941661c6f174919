"""rotor.iam's access key modules, run by ansible-playbook against the test IAM endpoint.

Nothing is mocked: the modules talk HTTP to moto behind our wrapper, with
SigV4 authentication and IAM policies enforced and Inactive keys rejected.
Each playbook asserts the module results; each test then checks the real
state in IAM through boto3 and the endpoint's call counters. The runner
(conftest.run_playbook) fails a test whose output contains any secret.
"""

from __future__ import annotations

import json
import threading
import time

from botocore.exceptions import ClientError
from rotation_helpers import IAM_LAG_SECONDS

# What the self-service user may do: everything IAM offers, on itself (see conftest.make_iam_user).
ALL_IAM_ON_ITSELF = ["iam:*"]


def mutating_calls(run):
    """How often the playbook run called the IAM actions that change keys (denied and faulted calls count)."""
    calls = run.calls
    return {action: calls.get(action, 0) for action in ("CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey")}


def accepted(endpoint, access_key_id, secret):
    """Whether AWS (the endpoint) accepts a request signed with this key now."""
    try:
        endpoint.boto3_client("sts", access_key_id, secret).get_caller_identity()
    except ClientError:
        return False
    return True


def accepted_once_propagated(endpoint, access_key_id, secret, within=None):
    """Whether the key is accepted at some point within the endpoint's new-key lag (plus a margin)."""
    deadline = time.monotonic() + (IAM_LAG_SECONDS if within is None else within) + 5
    while not accepted(endpoint, access_key_id, secret):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return True


def saved_secrets(tmp_path):
    """The secrets the playbooks saved (no_log, 0600), by label."""
    return {path.name: path.read_text() for path in (tmp_path / "secrets").iterdir()}


def test_info_lists_oldest_first_with_age_rotation_due_and_last_use(endpoint, iam, iam_user, create_key, run_playbook, key_statuses):
    due_key_id = create_key(iam_user)[0]
    old_key_id = create_key(iam_user, status="Inactive")[0]
    # IAM lists in creation order; backdating the second key makes it the oldest.
    endpoint.backdate(iam_user, due_key_id, 120)
    endpoint.backdate(iam_user, old_key_id, 200)
    assert list(key_statuses(iam_user)) == [due_key_id, old_key_id]
    last_used = endpoint.set_last_used(due_key_id, days_ago=2, service="s3", region="eu-west-1")

    run = run_playbook(
        "info",
        user_name=iam_user,
        old_key_id=old_key_id,
        due_key_id=due_key_id,
        due_key_last_used=last_used["last_used_date"],
    )

    assert run.returncode == 0, run.explain()
    assert key_statuses(iam_user) == {due_key_id: "Active", old_key_id: "Inactive"}
    assert mutating_calls(run) == {"CreateAccessKey": 0, "UpdateAccessKey": 0, "DeleteAccessKey": 0}
    # Reading last use must not count as a use: the dates are still the ones set above.
    assert iam.get_access_key_last_used(AccessKeyId=due_key_id)["AccessKeyLastUsed"]["ServiceName"] == "s3"
    assert "LastUsedDate" not in iam.get_access_key_last_used(AccessKeyId=old_key_id)["AccessKeyLastUsed"]


def test_create_check_mode_then_real_up_to_the_two_key_limit(endpoint, iam_user, run_playbook, tmp_path, key_statuses):
    run = run_playbook("create", user_name=iam_user)

    assert run.returncode == 0, run.explain()
    keys = key_statuses(iam_user)
    assert list(keys.values()) == ["Active", "Active"]
    # Check mode and the refused third create never reached CreateAccessKey.
    assert mutating_calls(run) == {"CreateAccessKey": 2, "UpdateAccessKey": 0, "DeleteAccessKey": 0}
    # The secrets the module returned are the real ones: each signs as one of the two keys.
    secrets = saved_secrets(tmp_path)
    assert sorted(secrets) == ["first", "second"]
    # IAM lists keys in creation order; the playbook does not wait out the new-key lag.
    first_key_id, second_key_id = keys
    assert accepted_once_propagated(endpoint, first_key_id, secrets["first"])
    assert accepted_once_propagated(endpoint, second_key_id, secrets["second"])
    assert not accepted(endpoint, first_key_id, secrets["second"])


def test_create_when_full_deletes_only_an_inactive_key(endpoint, make_iam_user, create_key, run_playbook, tmp_path, key_statuses):
    user = make_iam_user()
    active_key_id = create_key(user)[0]
    inactive_key_id = create_key(user, status="Inactive")[0]
    both_inactive_user = make_iam_user("both-inactive")
    newer_inactive_key_id = create_key(both_inactive_user, status="Inactive")[0]
    older_inactive_key_id = create_key(both_inactive_user, status="Inactive")[0]
    endpoint.backdate(both_inactive_user, older_inactive_key_id, 30)

    run = run_playbook(
        "create_when_full",
        user_name=user,
        active_key_id=active_key_id,
        inactive_key_id=inactive_key_id,
        both_inactive_user=both_inactive_user,
        older_inactive_key_id=older_inactive_key_id,
        newer_inactive_key_id=newer_inactive_key_id,
    )

    assert run.returncode == 0, run.explain()
    keys = key_statuses(user)
    assert keys.pop(active_key_id) == "Active"
    assert list(keys.values()) == ["Active"]  # the new key; the Inactive one is gone
    (new_key_id,) = keys
    assert accepted_once_propagated(endpoint, new_key_id, saved_secrets(tmp_path)["replaced"])
    others = key_statuses(both_inactive_user)
    assert others.pop(newer_inactive_key_id) == "Inactive"
    assert list(others.values()) == ["Active"]
    # Exactly one delete per user that had an Inactive key; the refusals deleted and created nothing.
    assert mutating_calls(run) == {"CreateAccessKey": 2, "UpdateAccessKey": 0, "DeleteAccessKey": 2}


def test_verify_valid_after_propagation_invalid_after_deactivation_and_deletion(endpoint, iam_user, run_playbook, tmp_path, key_statuses):
    # Exact attempt counts: only the new key lags here (deactivation and deletion take effect at once).
    # 15 s: long enough that the verify starts inside the window even on a loaded machine.
    endpoint.configure(propagation_seconds=0, new_key_propagation_seconds=15)

    run = run_playbook("verify", user_name=iam_user, propagation_seconds=15)

    assert run.returncode == 0, run.explain()
    secrets = saved_secrets(tmp_path)
    keys = key_statuses(iam_user)
    assert list(keys.values()) == ["Active"]  # the second key; the first was deleted
    (second_key_id,) = keys
    endpoint.configure(new_key_propagation_seconds=0)
    assert accepted(endpoint, second_key_id, secrets["second"])


def test_status_deactivates_and_reactivates_idempotently(iam_user, create_key, run_playbook, key_statuses):
    active_key_id = create_key(iam_user)[0]
    inactive_key_id = create_key(iam_user, status="Inactive")[0]

    run = run_playbook("status", user_name=iam_user, active_key_id=active_key_id, inactive_key_id=inactive_key_id)

    assert run.returncode == 0, run.explain()
    assert key_statuses(iam_user) == {active_key_id: "Inactive", inactive_key_id: "Active"}
    # One UpdateAccessKey per real change; check mode and no-op runs made none.
    assert mutating_calls(run) == {"CreateAccessKey": 0, "UpdateAccessKey": 2, "DeleteAccessKey": 0}
    # --diff shows both statuses.
    assert '-    "status": "Active"' in run.output and '+    "status": "Inactive"' in run.output


def test_status_refuses_to_deactivate_its_own_signing_key_unless_forced(endpoint, iam, make_iam_user, create_key, run_playbook, key_statuses):
    endpoint.configure(propagation_seconds=0)  # about the signing key, not about lag: it must sign at once
    user = make_iam_user("self", actions=ALL_IAM_ON_ITSELF)
    own_key_id, own_secret = create_key(user, signs=True)
    other_key_id = create_key(user)[0]

    run = run_playbook("status_self", user_name=user, own_key_id=own_key_id, own_secret=own_secret, other_key_id=other_key_id)

    assert run.returncode == 0, run.explain()
    assert key_statuses(user) == {own_key_id: "Inactive", other_key_id: "Inactive"}
    assert mutating_calls(run) == {"CreateAccessKey": 0, "UpdateAccessKey": 2, "DeleteAccessKey": 0}
    # The modules really signed with the user's key, not the admin's from the environment.
    last_used = iam.get_access_key_last_used(AccessKeyId=own_key_id)["AccessKeyLastUsed"]
    assert last_used["ServiceName"] == "iam"


def test_delete_absent_is_ok_and_active_needs_force(endpoint, iam_user, create_key, run_playbook, key_statuses):
    endpoint.configure(propagation_seconds=0)  # the deleted keys must be refused at once below
    inactive_key_id, inactive_secret = create_key(iam_user, status="Inactive")
    active_key_id, active_secret = create_key(iam_user)

    run = run_playbook("delete", user_name=iam_user, inactive_key_id=inactive_key_id, active_key_id=active_key_id)

    assert run.returncode == 0, run.explain()
    assert key_statuses(iam_user) == {}
    assert mutating_calls(run) == {"CreateAccessKey": 0, "UpdateAccessKey": 0, "DeleteAccessKey": 2}
    assert not accepted(endpoint, active_key_id, active_secret)
    assert not accepted(endpoint, inactive_key_id, inactive_secret)


def test_error_paths_unknown_user_access_denied_and_rejected_credentials(make_iam_user, create_key, run_playbook, key_statuses):
    user = make_iam_user()
    target_key_id = create_key(user)[0]
    # Both sign the playbook's calls: a key still inside its propagation lag would be refused as unknown
    # (InvalidClientTokenId) instead of denied, so wait it out as a rotation does.
    nobody_key_id, nobody_secret = create_key(make_iam_user("nobody"), signs=True)
    lister_key_id, lister_secret = create_key(make_iam_user("lister", actions=["iam:ListAccessKeys"]), signs=True)

    run = run_playbook(
        "errors",
        user_name=user,
        target_key_id=target_key_id,
        missing_user=f"{user}-missing",
        nobody_key_id=nobody_key_id,
        nobody_secret=nobody_secret,
        lister_key_id=lister_key_id,
        lister_secret=lister_secret,
    )

    assert run.returncode == 0, run.explain()
    assert key_statuses(user) == {target_key_id: "Active"}
    # The denied calls reached IAM and were refused there; nothing changed.
    assert mutating_calls(run) == {"CreateAccessKey": 1, "UpdateAccessKey": 1, "DeleteAccessKey": 1}


def test_throttling_is_retried_and_a_failed_create_is_reconciled(endpoint, iam_user, create_key, run_playbook, tmp_path, key_statuses):
    key_id = create_key(iam_user)[0]
    endpoint.inject("ListAccessKeys", "throttle", count=2)
    endpoint.inject("UpdateAccessKey", "throttle", count=2)
    endpoint.inject("CreateAccessKey", "5xx", count=1)

    run = run_playbook("faults", user_name=iam_user, key_id=key_id)

    assert run.returncode == 0, run.explain()
    keys = key_statuses(iam_user)
    assert keys.pop(key_id) == "Inactive"
    assert list(keys.values()) == ["Active"]  # exactly one new key
    (new_key_id,) = keys
    # Nothing in this playbook waits for the new key to propagate: it is accepted once the lag has passed.
    assert accepted_once_propagated(endpoint, new_key_id, saved_secrets(tmp_path)["created"])
    assert endpoint.faults() == {}
    counters = {"calls": run.calls, "faulted": run.faulted}
    # access_key_status: two throttled ListAccessKeys then one that answers, same for UpdateAccessKey.
    # access_key_create: ListAccessKeys, CreateAccessKey -> 500, ListAccessKeys to look for a key the
    # failed call may have made, CreateAccessKey again. A create must never be replayed blindly (by the
    # SDK), so every failed CreateAccessKey is followed by a reconciling ListAccessKeys.
    assert counters["faulted"] == {"ListAccessKeys": 2, "UpdateAccessKey": 2, "CreateAccessKey": 1}
    assert {action: counters["calls"].get(action, 0) for action in counters["faulted"]} == {
        "ListAccessKeys": 3 + 2,
        "UpdateAccessKey": 3,
        "CreateAccessKey": 2,
    }


def test_create_reports_limit_exceeded_when_a_key_appears_meanwhile(endpoint, iam_user, create_key, run_playbook, key_statuses):
    first_key_id = create_key(iam_user)[0]
    endpoint.inject("CreateAccessKey", "latency", delay=3)
    outcome = {}

    def run_in_background():
        try:
            outcome["run"] = run_playbook("limit_race", user_name=iam_user)
        except BaseException as exc:  # re-raised below, in the test's thread
            outcome["error"] = exc

    playbook = threading.Thread(target=run_in_background)
    playbook.start()
    try:
        deadline = time.monotonic() + 60
        while endpoint.calls()["faulted"].get("CreateAccessKey", 0) < 1:
            assert playbook.is_alive() and time.monotonic() < deadline, "the module never called CreateAccessKey"
            time.sleep(0.05)
        # The module's CreateAccessKey is held back; fill the free slot first.
        concurrent_key_id = create_key(iam_user)[0]
    finally:
        playbook.join()

    if "error" in outcome:
        raise outcome["error"]
    run = outcome["run"]
    assert run.returncode == 0, run.explain()
    assert key_statuses(iam_user) == {first_key_id: "Active", concurrent_key_id: "Active"}
    # The module's own create (refused by IAM) and the test's; nothing deleted.
    assert mutating_calls(run) == {"CreateAccessKey": 2, "UpdateAccessKey": 0, "DeleteAccessKey": 0}


def test_rotation_journal_locks_records_and_clears(iam, iam_user, run_playbook):
    run = run_playbook("journal", user_name=iam_user)

    assert run.returncode == 0, run.explain()
    assert iam.list_user_tags(UserName=iam_user)["Tags"] == []
    # Reads and writes only the user's tags.
    assert set(run.calls) <= {"ListUserTags", "TagUser", "UntagUser", "GetCallerIdentity"}, run.calls
    # Per task (docs/journal.md, "IAM calls per operation"): read 1 (x4), lock in check mode 1, take the lock
    # with a phase 2+2, a rival refused 1, a phase by the holder 1+1 (it no longer reads back: 2 calls, was
    # 3), a lock broken 2+1, completion and release in one call 1+1+1 (untag), an illegal transition 1 and
    # nothing written, clear 1+1 (untag), clear again 1.
    calls = run.calls
    assert {action: calls.get(action, 0) for action in ("ListUserTags", "TagUser", "UntagUser")} == {
        "ListUserTags": 15,
        "TagUser": 5,
        "UntagUser": 2,
    }, calls


def test_create_with_when_full_fail_calls_create_without_listing_first(endpoint, iam_user, create_key, run_playbook, tmp_path, key_statuses):
    key_id = create_key(iam_user)[0]
    endpoint.backdate(iam_user, key_id, 30)  # clearly older than the module's first CreateAccessKey
    endpoint.inject("CreateAccessKey", "5xx", count=1)

    run = run_playbook("create_unlisted", user_name=iam_user, key_id=key_id)

    assert run.returncode == 0, run.explain()
    keys = key_statuses(iam_user)
    assert keys.pop(key_id) == "Active"
    (new_key_id,) = keys
    assert accepted_once_propagated(endpoint, new_key_id, saved_secrets(tmp_path)["created"])
    calls = run.calls
    # Deliberately fewer calls than with --diff (test_throttling_is_retried_and_a_failed_create_is_reconciled):
    # no ListAccessKeys before a create. The 500 is followed by one reconciling ListAccessKeys (the old key is
    # dated before the create, so GetAccessKeyLastUsed is not asked) and a second CreateAccessKey; the third
    # create is refused by IAM and only then are the keys listed, to name them.
    assert {action: calls.get(action, 0) for action in ("CreateAccessKey", "ListAccessKeys", "GetAccessKeyLastUsed", "DeleteAccessKey")} == {
        "CreateAccessKey": 3,
        "ListAccessKeys": 2,
        "GetAccessKeyLastUsed": 0,
        "DeleteAccessKey": 0,
    }, calls


def test_status_and_delete_check_the_lock_right_before_a_write_only(iam, iam_user, create_key, run_playbook, key_statuses):
    first_key_id = create_key(iam_user, status="Inactive")[0]
    second_key_id = create_key(iam_user, status="Inactive")[0]

    run = run_playbook("lock_checks", user_name=iam_user, first_key_id=first_key_id, second_key_id=second_key_id)

    assert run.returncode == 0, run.explain()
    assert key_statuses(iam_user) == {first_key_id: "Active"}
    assert iam.list_user_tags(UserName=iam_user)["Tags"] == []
    calls = run.calls
    # Lock 2 ListUserTags + 1 TagUser; each of the 5 key tasks lists the keys once; the lock is read only
    # before the 3 tasks that would write (one refused with LockLost, before its UpdateAccessKey), not for
    # the two no-ops (each was 2 calls, now 1); release 1 ListUserTags + 1 UntagUser.
    assert {action: calls.get(action, 0) for action in ("ListUserTags", "ListAccessKeys", "UpdateAccessKey", "DeleteAccessKey")} == {
        "ListUserTags": 2 + 3 + 1,
        "ListAccessKeys": 5,
        "UpdateAccessKey": 1,
        "DeleteAccessKey": 1,
    }, calls


# --------------------------------------------------------------------------- issue 20, point 4


def test_a_secret_in_any_key_id_slot_is_never_shown(endpoint, iam, iam_user, create_key, run_playbook, tmp_path, known_secrets):
    """The secret goes into every key-id slot: a destination's id field, pending_secret's access_key_id and its
    key-id tag, the journal's tags and pending_key_id, the key modules' access_key_id, access_key_info's
    skip_last_used_for, the compromised-keys report. It never appears in the output (-vvvv --diff, scanned by
    run_playbook), the registered results, a tag or a pending secret's tag; every slot says it is withheld."""
    import uuid  # pylint: disable=import-outside-toplevel

    key_id, _key_secret = create_key(iam_user)
    leaked = "LeakedSecretInAKeyIdSlot/" + uuid.uuid4().hex[:15]
    known_secrets.append(leaked)
    secretsmanager = endpoint.boto3_client("secretsmanager")
    secret_name = f"rotor/keys/swapped-{uuid.uuid4().hex[:6]}"
    secretsmanager.create_secret(Name=secret_name, SecretString=json.dumps({"AccessKeyId": leaked, "SecretAccessKey": key_id}))
    tagged_pending = f"rotor/tagged-{uuid.uuid4().hex[:6]}/"
    secretsmanager.create_secret(Name=f"{tagged_pending}{iam_user}", SecretString=json.dumps(
        {"access_key_id": leaked, "secret_access_key": "x" * 40}), Tags=[
        {"Key": "rotor:access-key-id", "Value": leaked}, {"Key": "rotor:user", "Value": iam_user},
        {"Key": "rotor:run-id", "Value": "20261206T110000Z-000001"}])
    iam.tag_user(UserName=iam_user, Tags=[{"Key": "rotor:phase", "Value": leaked}, {"Key": "rotor:pending", "Value": leaked},
                                          {"Key": "rotor:current", "Value": leaked}, {"Key": "rotor:previous", "Value": leaked}])

    run = run_playbook("secret_in_key_id_slots", user_name=iam_user, key_id=key_id, leaked=leaked, secret_name=secret_name,
                       tagged_pending=tagged_pending)

    assert run.returncode == 0, run.output[-3000:]
    results_file = tmp_path / "results.json"
    assert leaked not in results_file.read_text()
    results = json.loads(results_file.read_text())
    withheld = "(withheld: not an access key id)"
    assert results["destination_read"]["access_key_id"] == withheld
    assert results["destination_check"]["diff"]["before"]["access_key_id"] == withheld
    assert results["destination_check"]["previous_access_key_id"] == withheld
    assert results["destination_restore"]["failed"] and withheld in results["destination_restore"]["msg"]
    assert results["pending_present"]["failed"] and "nothing was written" in results["pending_present"]["msg"]
    assert results["pending_read"]["access_key_id"] == withheld
    assert results["pending_mismatch"]["access_key_id"] == withheld
    journal = results["journal_read"]["journal"]
    assert journal["pending_key_id"] == journal["current_key_id"] == journal["previous_key_id"] == withheld
    assert journal["phase"] == "(withheld: not a phase)"
    for name in ("journal_write", "status_result", "status_known", "verify_result", "delete_result"):
        assert results[name]["failed"], name
    for name in ("status_result", "status_known", "verify_result", "delete_result"):
        assert "does not look like an AWS access key id" in results[name]["msg"], results[name]["msg"]
    assert {results["info_result"]["tags"][tag] for tag in ("rotor:pending", "rotor:current", "rotor:previous")} == {withheld}
    assert f"COMPROMISED KEYS NOT FOUND - {withheld}" in run.output
    assert f"already holds {withheld}" in run.output
    # Nothing went to AWS for the key modules, nothing was tagged with the secret by rotor.
    assert not {"UpdateAccessKey", "DeleteAccessKey"} & set(run.calls), run.calls
    tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=iam_user)["Tags"]}
    assert all(tags.get(name) == leaked for name in ("rotor:phase", "rotor:pending", "rotor:current", "rotor:previous")), tags
    assert not any(leaked in value for key, value in tags.items() if key not in ("rotor:phase", "rotor:pending", "rotor:current", "rotor:previous"))
    staged = secretsmanager.list_secrets(Filters=[{"Key": "name", "Values": ["rotor/pending/"]}])["SecretList"]
    assert all(leaked not in json.dumps(s.get("Tags") or []) for s in staged)
