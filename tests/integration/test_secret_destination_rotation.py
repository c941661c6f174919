"""rotor_secret_destinations in a whole rotation: a Secrets Manager secret, an SSM SecureString parameter and a
local host, all of one IAM user.

Real parts only: ansible-playbook rotor.iam.rotate, the test endpoint (IAM, STS, Secrets Manager and SSM over
HTTP, auth enforced) and a local fleet. Each destination's health check is what an application does: read its
key from the destination and call STS GetCallerIdentity with it. The leak scan covers every run's output and log.
Assertions name key ids: which version of each destination holds which key.
"""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from rotation_helpers import assert_hosts_on_key, assert_no_secrets, key_statuses, seed_user
from support import plan_row
# The end-to-end tests' fixtures: one endpoint per module, fleets, the rotation runner.
from test_rotate_e2e import (  # noqa: F401  pylint: disable=unused-import
    make_fleet,
    rotate,
    rotor_endpoint,
    seeded_fleet,
)

pytestmark = pytest.mark.slow

# What an application does with its destination: read the key, sign a call with it. Prints the key id it used.
APP_CHECK = textwrap.dedent('''
    import json, sys, boto3
    kind, name, marker = sys.argv[1:4]
    if kind == "secretsmanager":
        text = boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
    else:
        text = boto3.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    value = json.loads(text)
    sts = boto3.client("sts", aws_access_key_id=value["AccessKeyId"], aws_secret_access_key=value["SecretAccessKey"])
    sts.get_caller_identity()
    with open(marker, "a") as out:
        out.write(value["AccessKeyId"] + "\\n")
''')


@pytest.fixture
def destinations(rotor_endpoint, tmp_path):
    """Factory: a secret and a parameter holding ``old`` ((id, secret)), and rotor_secret_destinations for them."""
    script = tmp_path / "app_check.py"
    script.write_text(APP_CHECK)

    def make(user, old, ssm_check_fails=False):
        old_id, old_secret = old
        secret_name, parameter_name = f"rotor/keys/{user}", f"/rotor/keys/{user}"
        rotor_endpoint.boto3_client("secretsmanager").create_secret(Name=secret_name, SecretString=json.dumps(
            {"AccessKeyId": old_id, "SecretAccessKey": old_secret, "Region": "eu-west-1"}))
        rotor_endpoint.boto3_client("ssm").put_parameter(Name=parameter_name, Type="SecureString", Value=json.dumps(
            {"AccessKeyId": old_id, "SecretAccessKey": old_secret}))
        markers = {"secretsmanager": tmp_path / f"{user}-sm.checked", "ssm": tmp_path / f"{user}-ssm.checked",
                   "restarted": tmp_path / f"{user}-restarted"}

        def check(kind, name):
            command = f"{sys.executable} {script} {kind} {name} {markers[kind]}"
            return {"command": "false" if (kind == "ssm" and ssm_check_fails) else command, "retries": 2, "delay": 1}

        entries = [
            {"user": user, "type": "secretsmanager", "name": secret_name, "health_check": check("secretsmanager", secret_name),
             "restart_command": f"echo secretsmanager >> {markers['restarted']}"},
            {"user": user, "type": "ssm", "name": parameter_name, "health_check": check("ssm", parameter_name),
             "restart_command": f"echo ssm >> {markers['restarted']}"},
        ]
        return entries, secret_name, parameter_name, markers

    return make


def secret_stages(endpoint, name):
    """{AWSCURRENT: key id, AWSPREVIOUS: key id} of a secret, and the secret of AWSCURRENT."""
    client = endpoint.boto3_client("secretsmanager")
    held = {stage: json.loads(client.get_secret_value(SecretId=name, VersionStage=stage)["SecretString"])
            for stage in ("AWSCURRENT", "AWSPREVIOUS")}
    return {stage: value["AccessKeyId"] for stage, value in held.items()}, held["AWSCURRENT"]


def parameter_history(endpoint, name):
    """The key id of each version of a parameter, oldest first, and the current value."""
    history = endpoint.boto3_client("ssm").get_parameter_history(Name=name, WithDecryption=True)["Parameters"]
    values = [json.loads(p["Value"]) for p in history]
    return [v["AccessKeyId"] for v in values], values[-1]


def test_a_rotation_moves_every_destination_and_the_host_to_the_new_key(rotor_endpoint, make_fleet, rotate, destinations):
    user = "dest-happy"
    fleet, old_id, old_secret = seeded_fleet(rotor_endpoint, make_fleet, user, size=1)
    entries, secret_name, parameter_name, markers = destinations(user, (old_id, old_secret))

    run = rotate(fleet, extra_vars={"rotor_secret_destinations": entries})

    assert run.returncode == 0, run.explain()
    keys = key_statuses(rotor_endpoint, user)
    assert old_id not in keys and list(keys.values()) == ["Active"], keys
    new_id = next(iter(keys))
    assert_hosts_on_key(fleet, new_id)
    stages, current = secret_stages(rotor_endpoint, secret_name)
    assert stages == {"AWSCURRENT": new_id, "AWSPREVIOUS": old_id}
    assert current["Region"] == "eu-west-1"  # the secret's other fields are kept
    held, parameter = parameter_history(rotor_endpoint, parameter_name)
    assert held == [old_id, new_id]
    # Each destination was health-checked on the new key after its write and again once the old key was disabled.
    for kind in ("secretsmanager", "ssm"):
        assert markers[kind].read_text().split() == [new_id, new_id], kind
    assert sorted(markers["restarted"].read_text().split()) == ["secretsmanager", "ssm"]
    # Written after the key was verified and before the host got it.
    out = run.stdout
    assert out.index("Verify the new key of") < out.index("Write the new key into each secret destination") < out.index(
        "Switch this host to the new key"), run.explain()
    assert_no_secrets(run, {"old": old_secret, "new": current["SecretAccessKey"], "ssm": parameter["SecretAccessKey"]})


def test_a_failing_destination_rolls_back_every_destination_and_the_key(rotor_endpoint, make_fleet, rotate, destinations):
    user = "dest-fails"
    fleet, old_id, old_secret = seeded_fleet(rotor_endpoint, make_fleet, user, size=1)
    entries, secret_name, parameter_name, markers = destinations(user, (old_id, old_secret), ssm_check_fails=True)

    run = rotate(fleet, extra_vars={"rotor_secret_destinations": entries})

    assert run.returncode != 0, "a failed rotation must fail the play"
    assert key_statuses(rotor_endpoint, user) == {old_id: "Active"}, "the old key stays, the new key is deleted"
    assert_hosts_on_key(fleet, old_id)
    stages, current = secret_stages(rotor_endpoint, secret_name)
    new_id = stages["AWSPREVIOUS"]
    assert stages["AWSCURRENT"] == old_id and new_id != old_id, stages
    assert current["SecretAccessKey"] == old_secret  # the service's own old version, current again
    held, parameter = parameter_history(rotor_endpoint, parameter_name)
    assert held == [old_id, new_id, old_id] and parameter["SecretAccessKey"] == old_secret
    assert "ssm destination /rotor/keys/dest-fails failed its restart or health check" in run.stdout, run.explain()
    assert_no_secrets(run, {"old": old_secret})


def test_check_mode_lists_destinations_with_key_ids_and_writes_nothing(rotor_endpoint, make_fleet, rotate, destinations):
    user = "dest-check"
    fleet, old_id, old_secret = seeded_fleet(rotor_endpoint, make_fleet, user, size=1)
    entries, secret_name, parameter_name, markers = destinations(user, (old_id, old_secret))

    run = rotate(fleet, extra_vars={"rotor_secret_destinations": entries}, check=True, diff=True)

    assert run.returncode == 0, run.explain()
    assert f"secretsmanager {secret_name} ({user}): would move from {old_id} to NEW-KEY-OF-DEST-CHECK" in run.stdout, run.explain()
    assert f"ssm {parameter_name} ({user}): would move from {old_id} to NEW-KEY-OF-DEST-CHECK" in run.stdout
    assert not {a for a in run.calls if a in ("PutSecretValue", "PutParameter", "UpdateSecretVersionStage", "CreateSecret")}, run.calls
    assert parameter_history(rotor_endpoint, parameter_name)[0] == [old_id]
    assert not markers["restarted"].exists()
    assert_no_secrets(run, {"old": old_secret})


def test_a_user_whose_key_lives_only_in_destinations_is_rotated_beside_a_fleet(rotor_endpoint, make_fleet, rotate, destinations):
    """No host names the user: its destinations alone hold its key, and they are written, checked and cut over."""
    fleet_user, lone_user = "dest-fleet", "dest-lone"
    fleet, fleet_old_id, fleet_old_secret = seeded_fleet(rotor_endpoint, make_fleet, fleet_user, size=1)
    lone_old_id, lone_old_secret = seed_user(rotor_endpoint, lone_user, 120)
    entries, secret_name, parameter_name, markers = destinations(lone_user, (lone_old_id, lone_old_secret))

    run = rotate(fleet, extra_vars={"rotor_secret_destinations": entries})

    assert run.returncode == 0, run.explain()
    assert plan_row(run.stdout, lone_user).get("action and why", "").startswith(f"ROTATE - key {lone_old_id} is 120 days old"), run.explain()
    lone_keys = key_statuses(rotor_endpoint, lone_user)
    assert lone_old_id not in lone_keys and list(lone_keys.values()) == ["Active"], lone_keys
    lone_new_id = next(iter(lone_keys))
    stages, current = secret_stages(rotor_endpoint, secret_name)
    assert stages == {"AWSCURRENT": lone_new_id, "AWSPREVIOUS": lone_old_id}
    held, parameter = parameter_history(rotor_endpoint, parameter_name)
    assert held == [lone_old_id, lone_new_id]
    for kind in ("secretsmanager", "ssm"):
        assert markers[kind].read_text().split() == [lone_new_id, lone_new_id], kind
    # The fleet's user turned as usual, in the same run.
    fleet_keys = key_statuses(rotor_endpoint, fleet_user)
    assert fleet_old_id not in fleet_keys and len(fleet_keys) == 1
    assert_hosts_on_key(fleet, next(iter(fleet_keys)))
    assert_no_secrets(run, {"old": lone_old_secret, "new": current["SecretAccessKey"], "ssm": parameter["SecretAccessKey"],
                            "fleet-old": fleet_old_secret})


def test_a_lone_users_failing_destination_puts_back_every_destination_and_the_key(rotor_endpoint, make_fleet, rotate, destinations):
    fleet_user, lone_user = "dest-fleet-2", "dest-lone-2"
    fleet, _fleet_old_id, _fleet_old_secret = seeded_fleet(rotor_endpoint, make_fleet, fleet_user, size=1)
    lone_old_id, lone_old_secret = seed_user(rotor_endpoint, lone_user, 120)
    entries, secret_name, parameter_name, _markers = destinations(lone_user, (lone_old_id, lone_old_secret), ssm_check_fails=True)

    run = rotate(fleet, extra_vars={"rotor_secret_destinations": entries})

    assert run.returncode != 0, run.explain()
    assert key_statuses(rotor_endpoint, lone_user) == {lone_old_id: "Active"}
    stages, _current = secret_stages(rotor_endpoint, secret_name)
    assert stages["AWSCURRENT"] == lone_old_id
    held, _parameter = parameter_history(rotor_endpoint, parameter_name)
    assert held[-1] == lone_old_id
    assert_no_secrets(run, {"old": lone_old_secret})
