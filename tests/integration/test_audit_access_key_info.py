"""rotor.iam.access_key_info from the credential report (all_users, user_names) through ansible-playbook,
against the test IAM endpoint; the existing user_name behaviour is covered by test_access_key_modules.py."""

from __future__ import annotations

import json
import textwrap

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from support import assert_no_secrets, run_playbook  # noqa: E402  pylint: disable=wrong-import-position

PLAYBOOK = textwrap.dedent(
    """\
    - name: access_key_info from the credential report
      hosts: localhost
      connection: local
      gather_facts: false
      module_defaults:
        group/rotor.iam.iam:
          endpoint_url: "{{ endpoint_url }}"
      tasks:
        - name: Every user (check mode, the report is read all the same)
          rotor.iam.access_key_info:
            all_users: true
            max_age_days: 90
            resolve_key_ids_for: [alice, ghost]
          check_mode: true
          register: everyone

        - name: Two users, ids included
          rotor.iam.access_key_info:
            user_names: [bob, alice]
          register: two

        - name: Conflicting selections
          rotor.iam.access_key_info:
            all_users: true
            user_name: alice
          register: conflict
          ignore_errors: true

        - name: A user that does not exist
          rotor.iam.access_key_info:
            user_names: [alice, nobody-here]
          register: missing
          ignore_errors: true

        - name: Save the results for the test
          ansible.builtin.copy:
            content: "{{ {'everyone': everyone, 'two': two, 'conflict': conflict, 'missing': missing} | to_json }}"
            dest: "{{ out }}"
            mode: "0600"
    """
)


@pytest.fixture
def report_endpoint(empty_endpoint):
    """The session's endpoint, reset, without lags: these tests read keys, they change none."""
    empty_endpoint.configure(propagation_seconds=0)
    return empty_endpoint


def test_all_users_and_user_names(report_endpoint, tmp_path):
    endpoint = report_endpoint
    made = endpoint.seed(
        [
            {"user_name": "alice", "keys": [{"age_days": 120, "last_used_days_ago": 3, "service": "s3", "region": "eu-west-1"}, {"age_days": 5}]},
            {"user_name": "bob", "keys": [{"age_days": 40, "status": "Inactive"}]},
            {"user_name": "carol", "keys": []},
        ]
    )
    ids = {u["user_name"]: [k["access_key_id"] for k in u["keys"]] for u in made["users"]}
    secrets = [k["secret_access_key"] for u in made["users"] for k in u["keys"]]
    playbook = tmp_path / "info.yml"
    playbook.write_text(PLAYBOOK)
    out = tmp_path / "results.json"
    completed = run_playbook(playbook, tmp_path, endpoint=endpoint, extra_vars={"endpoint_url": endpoint.endpoint_url, "out": str(out)},
                             verbosity=1, label="info", log=False, timeout=180)
    assert completed.returncode == 0, completed.stdout[-5000:] + completed.stderr[-2000:]
    results = json.loads(out.read_text())
    calls = endpoint.calls()["calls"]

    everyone = results["everyone"]
    assert everyone["changed"] is False
    keys = {(k["user"], k["position"]): k for k in everyone["access_keys"]}
    alice_old = keys[("alice", 1)]
    assert alice_old["access_key_id"] == ids["alice"][0]  # resolved, as asked
    assert (alice_old["active"], alice_old["status"], alice_old["age_days"], alice_old["rotation_due"]) == (True, "Active", 120, True)
    assert alice_old["last_used_date"] and alice_old["last_used_service"] is None  # moto says not_supported: null
    assert alice_old["last_rotated"] == alice_old["create_date"]
    assert keys[("alice", 2)]["rotation_due"] is False and keys[("alice", 2)]["last_used_date"] is None
    assert keys[("bob", 1)]["access_key_id"] is None  # not resolved: the report has no ids
    assert (keys[("bob", 1)]["active"], keys[("bob", 1)]["rotation_due"]) == (False, False)
    assert {u["user_name"] for u in everyone["users"]} >= {"alice", "bob", "carol", "rotor-admin"}
    assert everyone["missing_users"] == ["ghost"]
    assert everyone["summary"]["rotation_due"] == 1
    assert isinstance(everyone["report_age_seconds"], int) and everyone["report_generated_time"]
    assert everyone["report_requested"] is True  # there was no report yet

    two = results["two"]
    assert [(k["user_name"], k["access_key_id"], k["status"]) for k in two["access_keys"]] == [
        ("bob", ids["bob"][0], "Inactive"),
        ("alice", ids["alice"][0], "Active"),
        ("alice", ids["alice"][1], "Active"),
    ]
    assert "rotation_due" not in two["access_keys"][0]  # no max_age_days

    assert results["conflict"]["failed"] is True
    assert "user_name and all_users=true are mutually exclusive" in results["conflict"]["msg"]
    assert results["missing"]["failed"] is True
    assert "IAM user 'nobody-here' does not exist" in results["missing"]["msg"]

    # ListAccessKeys only for the users whose ids were asked for; never GetAccessKeyLastUsed.
    assert calls.get("ListAccessKeys") == 2 + 2 + 2, calls  # alice and ghost; bob and alice; alice and nobody-here
    assert calls.get("GetAccessKeyLastUsed", 0) == 0, calls
    assert "Traceback" not in completed.stdout + completed.stderr
    assert_no_secrets(completed, secrets + [endpoint.admin_secret_access_key], files=[out])


TAGS_PLAYBOOK = textwrap.dedent(
    """\
    - name: access_key_info with the users' tags
      hosts: localhost
      connection: local
      gather_facts: false
      module_defaults:
        group/rotor.iam.iam:
          endpoint_url: "{{ endpoint_url }}"
      tasks:
        - name: Every user, with tags
          rotor.iam.access_key_info:
            all_users: true
            include_tags: true
          register: everyone

        - name: One user, with tags
          rotor.iam.access_key_info:
            user_name: alice
            include_last_used: false
            include_tags: true
          register: one

        - name: Save the results for the test
          ansible.builtin.copy:
            content: "{{ {'everyone': everyone, 'one': one} | to_json }}"
            dest: "{{ out }}"
            mode: "0600"
    """
)


def test_include_tags_reads_each_users_tags_once(report_endpoint, tmp_path):
    endpoint = report_endpoint
    endpoint.seed([{"user_name": "alice", "keys": [{"age_days": 10}]}, {"user_name": "bob", "keys": []}])
    endpoint.boto3_client("iam").tag_user(
        UserName="alice", Tags=[{"Key": "rotor:owner", "Value": "team-a@example.com"}, {"Key": "rotor:max-age-days", "Value": "30"}]
    )
    playbook = tmp_path / "tags.yml"
    playbook.write_text(TAGS_PLAYBOOK)
    out = tmp_path / "results.json"
    completed = run_playbook(playbook, tmp_path, endpoint=endpoint, extra_vars={"endpoint_url": endpoint.endpoint_url, "out": str(out)},
                             label="tags", log=False, timeout=180)
    assert completed.returncode == 0, completed.stdout[-5000:] + completed.stderr[-2000:]
    results = json.loads(out.read_text())
    calls = endpoint.calls()["calls"]

    users = {u["user_name"]: u for u in results["everyone"]["users"]}
    assert users["alice"]["tags"] == {"rotor:owner": "team-a@example.com", "rotor:max-age-days": "30"}
    assert users["bob"]["tags"] == {} and users["rotor-admin"]["tags"] == {}
    assert results["everyone"]["user_tags_calls"] == len(users) == 3
    assert results["one"]["tags"] == users["alice"]["tags"] and results["one"]["user_tags_calls"] == 1
    assert calls.get("ListUserTags") == 3 + 1, calls  # one per user, whatever the account's size
