"""The holder checks (module_utils/holders.py): each refusal's message, and what is protected or moved forward."""

from ansible_collections.rotor.iam.plugins.module_utils._rotation.holders import apply_to_plans
from ansible_collections.rotor.iam.plugins.module_utils._rotation.holders import verify_holders

ALICE, BOB, GONE = "AKIAALICE00000000001", "AKIABOB0000000000001", "AKIADELETED000000001"
KEYS = {"alice": [ALICE], "bob": [BOB]}
OWNERS = {ALICE: "alice", BOB: "bob", GONE: ""}
KNOWN = {"rotor_iam_user", "rotor_credentials_files"}


def read(*files):
    """A registered host_credentials state=read result: each file (key id, exists, found, error, looks_like)."""
    entries = [dict({"path": "/etc/app/credentials", "access_key_id": None, "exists": True, "found": True, "error": None,
                     "looks_like": None, "mode": "0600"}, **f) for f in files]
    return {"files": entries, "key_ids": [e["access_key_id"] for e in entries if e["access_key_id"]]}


def host(user, files=None, reads=None, variables=("rotor_iam_user", "rotor_credentials_files")):
    files = [{"path": "/etc/app/credentials"}] if files is None else files
    return {"user": user, "user_name": user, "variables": list(variables), "files": files,
            "read": reads if reads is not None else read({"access_key_id": KEYS.get(user, [ALICE])[0]})}


def due_plan(user, old):
    return {"user_name": user, "due": True, "staged": False, "old_key_id": old, "free_slot_key_id": None, "replace_key_id": None,
            "stale_inactive_key_ids": [], "notes": [], "error": None}


def decide(hosts, plans):
    verdict = verify_holders(hosts, KEYS, OWNERS, known=KNOWN)
    return apply_to_plans(plans, verdict, {h: i["user"] for h, i in hosts.items()}), verdict


def test_a_typo_in_a_variable_name_names_the_closest_known_one_and_the_empty_files():
    plans, _verdict = decide({"web1": host("alice", files=[], reads=read(), variables=["rotor_iam_user", "rotor_credential_files"])},
                             {"alice": due_plan("alice", ALICE)})
    error = plans["alice"]["error"]
    assert "host web1: `rotor_credential_files` is not a rotor.iam variable; did you mean `rotor_credentials_files`?" in error
    assert "names rotor_iam_user=alice but declares no credentials file" in error
    assert plans["alice"]["due"] is False and "rotor_force does not override this" in error


def test_each_file_mistake_is_named_with_what_was_found():
    cases = [
        ({"exists": False, "found": False}, {}, "does not exist: a typo in path?"),
        ({"found": False}, {"profile": "app"}, "has no profile [app]"),
        ({"found": False, "looks_like": "aws_credentials"}, {"format": "env"},
         "has no variable AWS_ACCESS_KEY_ID; it looks like a aws_credentials file: set format: aws_credentials"),
        ({"error": "/etc/app/credentials is not a valid json file: line 1: ...", "looks_like": "aws_credentials"}, {"format": "json"},
         "cannot be read as json: /etc/app/credentials is not a valid json file"),
        ({"found": True}, {}, "holds no access key id in its profile [default]"),
        ({"access_key_id": BOB}, {}, f"holds {BOB}, a key of IAM user 'bob', not of 'alice'"),
    ]
    for found, entry, message in cases:
        plans, _verdict = decide({"web1": host("alice", files=[dict({"path": "/etc/app/credentials"}, **entry)], reads=read(found))},
                                 {"alice": due_plan("alice", ALICE)})
        assert message in plans["alice"]["error"], (message, plans["alice"]["error"])
        assert "/etc/app/credentials (rotor_credentials_files[0], format " in plans["alice"]["error"]


def test_create_true_allows_a_missing_file_or_profile():
    for found in ({"exists": False, "found": False}, {"found": False}, {"found": True}):
        plans, _verdict = decide({"web1": host("alice"), "web2": host("alice", files=[{"path": "/etc/new", "create": True}], reads=read(found))},
                                 {"alice": due_plan("alice", ALICE)})
        assert plans["alice"]["error"] is None and plans["alice"]["due"] is True


def test_a_key_held_by_a_host_of_no_user_or_of_another_user_is_never_retired():
    hosts = {"web1": host("alice"), "web2": host(""), "web3": host("bob", reads=read({"access_key_id": ALICE}))}
    plans, verdict = decide(hosts, {"alice": due_plan("alice", ALICE)})
    assert "web2 (names no IAM user); web3 (names IAM user bob)" in plans["alice"]["error"]
    assert verdict["unnamed"] == {"web2": [ALICE]}
    assert any("host web2 declares credentials files but no rotor_iam_user" in w for w in verdict["warnings"])


def test_a_stale_key_a_host_holds_is_kept_and_the_user_still_rotates():
    plan = dict(due_plan("alice", ALICE), stale_inactive_key_ids=["AKIAALICE00000000002"])
    hosts = {"web1": host("alice"), "web2": host("", reads=read({"access_key_id": "AKIAALICE00000000002"}))}
    plans, _verdict = decide(hosts, {"alice": plan})
    assert plans["alice"]["error"] is None and plans["alice"]["stale_inactive_key_ids"] == []
    assert "key AKIAALICE00000000002 is not deleted: web2 hold it" in plans["alice"]["notes"]


def test_a_host_on_a_deleted_key_is_named_broken_and_moved_forward():
    plans, _verdict = decide({"web1": host("alice", reads=read({"access_key_id": GONE})), "web2": host("alice")},
                             {"alice": due_plan("alice", ALICE)})
    assert plans["alice"]["error"] is None and plans["alice"]["broken_hosts"] == ["web1"]
    assert (f"web1 holds {GONE}, which IAM no longer has: its applications cannot authenticate; it is moved onto the new key "
            f"and never restored onto that key") in plans["alice"]["notes"]


def test_a_rollback_never_restores_a_broken_host_and_keeps_the_new_key():
    from ansible_collections.rotor.iam.plugins.module_utils._rotation.run import hosts_to_settle  # pylint: disable=import-outside-toplevel
    from ansible_collections.rotor.iam.plugins.module_utils._rotation.outcome import rotation_outcome  # pylint: disable=import-outside-toplevel

    plan = dict(due_plan("alice", ALICE), broken_hosts=["web1"], new_key_id=None)
    states = {"web1": {"user": "alice", "state": "healthy", "wrote": True},
              "web2": {"user": "alice", "state": "failed", "wrote": True, "failure": {"check": "health", "msg": "503"}}}
    outcome = rotation_outcome({"alice": plan}, states)["alice"]
    assert outcome["action"] == "rollback" and outcome["not_restored"] == ["web1"] and outcome["keep_new_key"] is True
    assert "web1 held a key IAM no longer has before the run: not restored onto it" in outcome["message"]
    assert sorted(hosts_to_settle({"alice": outcome}, states)) == ["web2"]


def test_a_path_where_a_list_of_files_belongs_is_named_as_such():
    path = "/etc/app/credentials"
    plans, _verdict = decide({"web1": host("alice", files=path, reads=read())}, {"alice": due_plan("alice", ALICE)})
    error = plans["alice"]["error"]
    assert "rotor_credentials_files is a string, not a list" in error and "[{path: /root/.aws/credentials}]" in error
    assert "is empty" not in error
    plans, _verdict = decide({"web1": host("alice", files={"path": path}, reads=read())}, {"alice": due_plan("alice", ALICE)})
    assert "rotor_credentials_files is a mapping, not a list" in plans["alice"]["error"]


def test_the_kind_of_a_misplaced_value_is_named_even_for_a_subclass_of_str():
    class TaggedStr(str):
        pass

    plans, _verdict = decide({"web1": host("alice", files=TaggedStr("/etc/app/credentials"), reads=read())}, {"alice": due_plan("alice", ALICE)})
    assert "rotor_credentials_files is a string, not a list" in plans["alice"]["error"]
