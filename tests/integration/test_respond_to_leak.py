"""rotor.iam.respond_to_leak run by hand (issue 26): check mode plans and changes nothing, bad input changes nothing and
is never shown. The event-driven runs are in test_eda_leaked_key.py."""

from __future__ import annotations

import json
import subprocess

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from harness import ansible_env, assert_no_leaks, leaks_in_texts  # noqa: E402  pylint: disable=wrong-import-position
from rotation_helpers import ansible_playbook, key_statuses  # noqa: E402  pylint: disable=wrong-import-position
from test_rotate_organisations import FAST, endpoint, fleet_of  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

pytestmark = pytest.mark.slow

QUARANTINE_V3 = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"
WRITES = ("CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey", "DetachUserPolicy", "TagUser", "UntagUser")


def respond(endpoint, fleet, tmp_path, *options, **extra_vars):  # noqa: F811
    variables = dict(FAST, rotor_aws_endpoint_url=endpoint.endpoint_url, rotor_aws_region=endpoint.region, **extra_vars)
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    endpoint.reset_calls()
    run = subprocess.run([ansible_playbook(), "rotor.iam.respond_to_leak", "-i", fleet.inventory_path, "-e", f"@{tmp_path / 'vars.json'}", *options],
                         env=ansible_env(endpoint), cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, check=False)
    return run, endpoint.calls()["calls"]


def test_check_mode_plans_the_response_and_changes_nothing(endpoint, fleet_of, tmp_path):  # noqa: F811
    fleet, keys = fleet_of({"host1": "leak-check", "host2": "leak-check"}, {"leak-check": 30})
    leaked_id, leaked_secret = keys["leak-check"]
    iam = endpoint.boto3_client("iam")
    iam.attach_user_policy(UserName="leak-check", PolicyArn=QUARANTINE_V3)

    run, calls = respond(endpoint, fleet, tmp_path, "--check", "--diff", rotor_compromised_key_ids=[leaked_id], rotor_detach_quarantine_policy=True)

    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    assert not any(calls.get(action) for action in WRITES), {action: calls.get(action) for action in WRITES}
    assert key_statuses(endpoint, "leak-check") == {leaked_id: "Active"}
    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName="leak-check")["AttachedPolicies"]] == [QUARANTINE_V3]
    assert f"INCIDENT - key {leaked_id} is compromised" in output, output[-6000:]
    assert f"LEAKED KEY {leaked_id} of leak-check: check mode, nothing was changed" in output, output[-6000:]
    assert "kept: the leaked key is Active, not Inactive or deleted" in output
    assert_no_leaks(leaks_in_texts({"output": output}, {"leaked secret": leaked_secret}), "the check-mode output")


def test_a_secret_given_as_a_key_id_is_refused_unshown_and_nothing_changes(endpoint, fleet_of, tmp_path):  # noqa: F811
    fleet, keys = fleet_of({"host1": "leak-typo"}, {"leak-typo": 30})
    leaked_id, leaked_secret = keys["leak-typo"]

    run, calls = respond(endpoint, fleet, tmp_path, rotor_compromised_key_ids=[leaked_id, leaked_secret])

    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "1 entries are not key ids (not shown: they may be secrets)" in output and "Nothing was done" in output, output[-3000:]
    assert not any(calls.get(action) for action in WRITES + ("GetAccessKeyLastUsed", "LookupEvents")), calls
    assert key_statuses(endpoint, "leak-typo") == {leaked_id: "Active"}
    assert_no_leaks(leaks_in_texts({"output": output}, {"leaked secret": leaked_secret}), "the refusal")
