"""The consumer map: declared, undeclared, unknown to IAM, seen in AWS only, and the proposed inventory."""

from __future__ import annotations

import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.module_utils._discover import consumers as cm

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.timezone.utc)
KEY_A = "AKIAAAAAAAAAAAAAAAAA"
KEY_B = "AKIABBBBBBBBBBBBBBB2"
KEY_C = "AKIACCCCCCCCCCCCCCC3"
UNKNOWN = "AKIAIOSFODNN7EXAMPLE"


def iam_key(user, key_id, last_used=None, status="Active", age=10):
    return {"user_name": user, "access_key_id": key_id, "status": status, "age_days": age, "create_date": "2026-11-01T00:00:00+00:00",
            "last_used_date": last_used, "last_used_service": "s3" if last_used else None, "last_used_region": None}


def found(key_id, path, profile="default", variable="aws_access_key_id", fmt="aws_credentials", source="aws_credentials"):
    return {"access_key_id": key_id, "path": path, "profile": profile, "variable": variable, "format": fmt, "source": source,
            "line": 2, "owner": "root", "group": "root", "mode": "0600", "readable_by_others": False}


def host(name, found_list, user="", files=None, **extra):
    return cm.host_entry(name, {"found": found_list, "problems": [], "not_read": []}, user, files or [], **extra)


KEY_INFO = {"access_keys": [iam_key("app", KEY_A, "2026-11-30T12:00:00+00:00"), iam_key("ops", KEY_B),
                            iam_key("ci", KEY_C, "2026-11-30T00:00:00+00:00")]}


def test_declared_undeclared_and_the_reasons():
    hosts = [
        host("web1", [found(KEY_A, "/etc/app/credentials"), found(KEY_B, "/root/.aws/credentials")], "app",
             [{"path": "/etc/app/credentials", "format": "aws_credentials", "profile": "default"}]),
        host("web2", [found(KEY_A, "/etc/app/credentials", profile="other")], "app", [{"path": "/etc/app/credentials"}]),
        host("box", [found(KEY_B, "/opt/x/.env", profile=None, variable="AWS_ACCESS_KEY_ID", fmt="env", source="env_file")]),
    ]
    result = cm.consumer_map(hosts, KEY_INFO, now=NOW)
    holders = {(h["host"], h["access_key_id"]): h for h in result["undeclared"]}
    assert set(holders) == {("web1", KEY_B), ("web2", KEY_A), ("box", KEY_B)}
    assert "IAM user ops" in holders[("web1", KEY_B)]["why"]
    assert "another profile" in holders[("web2", KEY_A)]["why"]
    assert "no rotor_iam_user" in holders[("box", KEY_B)]["why"]
    assert result["summary"]["declared"] == 1
    assert [k["access_key_id"] for k in result["seen_in_aws_only"]] == [KEY_C]
    assert result["inventory"]["box"] == {
        "rotor_iam_user": "ops", "notes": [],
        "rotor_credentials_files": [{"path": "/opt/x/.env", "format": "env", "mode": "0600"}]}
    assert any("web2" in line and "undeclared" in line for line in result["messages"])


def test_unknown_keys_temporary_keys_and_no_iam():
    hosts = [host("a", [found(UNKNOWN, "/x"), found("ASIAAAAAAAAAAAAAAAAA", "/y")], "app", [{"path": "/x"}])]
    result = cm.consumer_map(hosts, KEY_INFO, now=NOW)
    notes = {k["access_key_id"]: k["note"] for k in result["keys"]}
    assert "does not know" in notes[UNKNOWN] and "temporary" in notes["ASIAAAAAAAAAAAAAAAAA"]
    # Not declared: IAM knows no user for it, so it is declared as the host's own (IAM could not tell otherwise).
    assert result["summary"]["unknown_to_iam"] == 2
    unjoined = cm.consumer_map(hosts, None, now=NOW)
    assert unjoined["iam_joined"] is False and unjoined["seen_in_aws_only"] == []
    assert all(k["known_to_iam"] is None for k in unjoined["keys"])


def test_declared_but_not_found_and_hosts_not_searched():
    hosts = [host("a", [], "app", [{"path": "/etc/app/credentials"}]),
             cm.host_entry("b", {"unreachable": True, "msg": "ssh: timeout"}, "app", [], unreachable=True)]
    result = cm.consumer_map(hosts, KEY_INFO, now=NOW)
    assert [d["path"] for d in result["declared_not_found"]] == ["/etc/app/credentials"]
    assert result["problems"] == [{"host": "b", "path": None, "problem": "not searched: unreachable"}]
    assert result["summary"]["hosts_searched"] == 1


def test_a_value_that_is_not_a_key_id_never_reaches_the_map():
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    result = cm.consumer_map([host("a", [found(secret, "/x")])], KEY_INFO, now=NOW)
    assert secret not in str(result)


_IDS = st.sampled_from([KEY_A, KEY_B, KEY_C, UNKNOWN])
_PATHS = st.sampled_from(["/etc/app/credentials", "/root/.aws/credentials", "/opt/x/.env"])


@settings(max_examples=300, deadline=None)
@given(
    holdings=st.lists(st.tuples(st.sampled_from(["h1", "h2", "h3"]), _IDS, _PATHS), max_size=8),
    users=st.fixed_dictionaries({h: st.sampled_from(["", "app", "ops"]) for h in ("h1", "h2", "h3")}),
    declared_paths=st.fixed_dictionaries({h: st.lists(_PATHS, max_size=2, unique=True) for h in ("h1", "h2", "h3")}),
    recent_days=st.integers(0, 3),
)
def test_every_holder_is_declared_exactly_when_the_inventory_says_so(holdings, users, declared_paths, recent_days):
    """A holder is declared iff its host names the file and a user, and IAM does not say the key is another user's;
    every holder is in the map once; a key held somewhere is never "seen in AWS but on no host"."""
    hosts = [host(name, [found(key_id, path) for h, key_id, path in holdings if h == name], users[name],
                  [{"path": p} for p in declared_paths[name]]) for name in ("h1", "h2", "h3")]
    result = cm.consumer_map(hosts, KEY_INFO, recent_days=recent_days, now=NOW)
    owners = {k["access_key_id"]: k["user_name"] for k in KEY_INFO["access_keys"]}
    holders = [(h["host"], r["access_key_id"], h["path"], h["declared"]) for r in result["keys"] for h in r["holders"]]
    assert sorted(holders) == sorted(
        (name, key_id, path, bool(users[name]) and path in declared_paths[name] and owners.get(key_id, users[name]) == users[name])
        for name, key_id, path in holdings)
    held = {key_id for _h, key_id, _p in holdings}
    assert not held & {k["access_key_id"] for k in result["seen_in_aws_only"]}
    assert result["summary"]["declared"] + result["summary"]["undeclared"] == len(holdings)
    for name, proposal in result["inventory"].items():
        assert proposal["rotor_iam_user"], name
        # A proposal only adds files: what the host declared stays.
        assert [f["path"] for f in proposal["rotor_credentials_files"]][:len(declared_paths[name])] == declared_paths[name]


def test_the_audit_section_from_the_map_file():
    import json  # pylint: disable=import-outside-toplevel

    import pytest  # pylint: disable=import-outside-toplevel

    from ansible_collections.rotor.iam.plugins.module_utils._audit.consumers import consumer_section, consumer_tables
    from ansible_collections.rotor.iam.plugins.module_utils._audit.hosts import AuditInputError

    hosts = [host("web1", [found(KEY_A, "/etc/app/credentials"), found(KEY_B, "/opt/.env")], "app", [{"path": "/etc/app/credentials"}])]
    discovered = cm.consumer_map(hosts, KEY_INFO, now=NOW)
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    discovered["undeclared"][0]["access_key_id"] = secret  # a tampered map: never shown
    section = consumer_section(json.dumps(discovered), [dict(iam_key("app", KEY_A), status="Inactive")])
    row = next(r for r in section["keys"] if r["access_key_id"] == KEY_A)
    assert (row["status"], row["status_source"], row["declared"]) == ("Inactive", "audit", 1)
    assert [k["access_key_id"] for k in section["seen_in_aws_only"]] == [KEY_C]
    assert secret not in json.dumps(section) and secret not in json.dumps(consumer_tables(section))
    assert consumer_section("", []) is None
    with pytest.raises(AuditInputError, match="not JSON"):
        consumer_section("{", [])
    with pytest.raises(AuditInputError, match="not a consumer map"):
        consumer_section(json.dumps({"keys": []}), [])
