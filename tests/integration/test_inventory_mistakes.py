"""Mistakes in the operator's own inventory (issue 19, points 1-3): rotor.iam verifies every holder first.

Each test writes an inventory as an operator would (group vars, credentials files as the AWS CLI writes
them), runs the real playbook rotor.iam.rotate against the test IAM endpoint and a local fleet whose
consumers sign real STS calls, and asserts what matters: the refusal the operator reads (in check mode
too), the keys in IAM, the bytes and modes of every file, and that no consumer ever answered unhealthy.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from support import plan_row, summary_rows  # noqa: E402  pylint: disable=wrong-import-position
from rotation_helpers import (  # noqa: E402  pylint: disable=wrong-import-position
    assert_hosts_on_key,
    file_states,
    key_statuses,
    run_rotation,
    seed_user,
)

pytestmark = pytest.mark.slow

NO_WRITES = {"CreateAccessKey": 0, "UpdateAccessKey": 0, "DeleteAccessKey": 0}


@pytest.fixture
def fleet_of(empty_endpoint, fleets):
    """Factory: a local fleet whose consumers sign STS calls with the key in their file; stopped afterwards."""

    def make(users, initial_keys, size=2, self_check=0.5):
        return fleets.start(users, initial_keys, size=size, self_check_interval=self_check)

    return make


def operator_inventory(fleet, path, group_vars=None, host_vars=None, drop=()):
    """An inventory written by hand: the fleet's connection settings per host, the rotor.iam settings as the
    operator wrote them (``group_vars`` for group rotor_fleet, ``host_vars`` per host; ``drop``: fleet variables
    the operator did not write)."""
    hosts = {}
    for name in fleet.hosts:
        variables = {k: v for k, v in fleet.host_vars(name).items() if k not in drop}
        variables.update((host_vars or {}).get(name) or {})
        hosts[name] = variables
    inventory = {"all": {"children": {"rotor_fleet": {"hosts": hosts, "vars": dict(group_vars or {})}}}}
    Path(path).write_text(json.dumps(inventory, indent=2) + "\n")
    return str(path)


def rotate(endpoint, inventory, workdir, label, **options):
    return run_rotation(endpoint, [inventory], Path(workdir) / "runs", label=label, **options)


def cli_credentials(key_id, secret, profile="default", extra=""):
    """A credentials file as `aws configure` writes it."""
    return f"[{profile}]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n{extra}"


def test_recovery_with_force_moves_broken_hosts_forward(empty_endpoint, fleet_of, tmp_path):
    """The state a typo run left (hosts on a deleted key, an unheld new key), then the corrected inventory with
    rotor_force=true: the hosts are named as broken, moved onto a new key, and never restored onto the deleted one."""
    user = "holders-recover"
    lost_id, lost_secret = seed_user(empty_endpoint, user)
    fleet = fleet_of(user, {user: (lost_id, lost_secret)})
    iam = empty_endpoint.boto3_client("iam")
    orphan = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]  # the typo run's key: nobody holds it
    iam.delete_access_key(UserName=user, AccessKeyId=lost_id)
    inventory = operator_inventory(fleet, tmp_path / "inventory.json")

    run = rotate(empty_endpoint, inventory, tmp_path, "recover", extra_vars={"rotor_force": True})

    keys = key_statuses(empty_endpoint, user)
    assert run.returncode == 0, run.explain()
    assert "host1 holds %s, which IAM no longer has: its applications cannot authenticate" % lost_id in run.stdout, run.explain()
    rows = [row for row in summary_rows(run.stdout) if row.get("user") == user and row.get("host") == "(IAM)"]
    assert f"Rotation of {user} rolled back" not in run.stdout and rows and rows[0]["what happened"].startswith("rotated"), run.explain()
    new_ids = [k for k in keys if k not in (lost_id, orphan)]
    assert len(new_ids) == 1 and keys == {new_ids[0]: "Active"}, keys  # the unheld key of the typo run is retired
    assert_hosts_on_key(fleet, new_ids[0])
    ended = time.time()
    time.sleep(1.5)  # three self-checks of every consumer: all healthy on the new key
    assert fleet.unhealthy_answers(since=ended) == [] and fleet.health_log("host1", since=ended)
    assert lost_secret not in run.everything


# --------------------------------------------------------------------------- refusals (point 1)


def refusal(run, user):
    """Why the plan refuses ``user`` (its row's action: CANNOT ROTATE - ...)."""
    action = plan_row(run.stdout, user).get("action and why", "")
    assert action.startswith("CANNOT ROTATE - "), f"no refusal for {user}:\n{run.explain()}"
    return action


def assert_nothing_changed(endpoint, fleet, user, old_id, before, run):
    assert run.writes() == NO_WRITES, run.calls
    assert key_statuses(endpoint, user) == {old_id: "Active"}
    assert file_states(fleet) == before, "a refused run touched a credentials file (bytes, mtime or mode)"
    assert_hosts_on_key(fleet, old_id)
    assert fleet.unhealthy_answers() == [], "a consumer answered unhealthy during the run"


def credentials_paths(fleet):
    """The path every host of a local fleet sees, written once in group vars with {{ inventory_hostname }}."""
    return str(Path(fleet.workdir) / "hosts") + "/{{ inventory_hostname }}/etc/credentials"


MISTAKES = {
    # name: (group vars as the operator wrote them, host vars, fleet variables dropped, what the refusal says)
    "typo_in_variable_name": (
        lambda fleet: {"rotor_credential_files": [{"path": credentials_paths(fleet)}]}, {}, ("rotor_credentials_files",),
        ["`rotor_credential_files` is not a rotor.iam variable; did you mean `rotor_credentials_files`?",
         "declares no credentials file"]),
    "wrong_profile": (
        lambda fleet: {"rotor_credentials_files": [{"path": credentials_paths(fleet), "profile": "app"}]}, {},
        ("rotor_credentials_files",), ["has no profile [app]", "create: true"]),
    "typo_in_path": (
        lambda fleet: {"rotor_credentials_files": [{"path": credentials_paths(fleet) + "s"}]}, {},
        ("rotor_credentials_files",), ["credentialss (rotor_credentials_files[0], format aws_credentials) does not exist"]),
    "env_format_on_an_ini_file": (
        lambda fleet: {"rotor_credentials_files": [{"path": credentials_paths(fleet), "format": "env"}]}, {},
        ("rotor_credentials_files",), ["has no variable AWS_ACCESS_KEY_ID", "it looks like a aws_credentials file"]),
    "json_format_on_an_ini_file": (
        lambda fleet: {"rotor_credentials_files": [{"path": credentials_paths(fleet), "format": "json"}]}, {},
        ("rotor_credentials_files",), ["cannot be read as json", "it looks like a aws_credentials file"]),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_inventory_mistakes_are_refused_in_check_mode_and_for_real(empty_endpoint, fleet_of, tmp_path, mistake):
    """Each mistake of the operator's own inventory refuses the user in the plan, in check mode too: no IAM key
    changes, no file is touched, no consumer ever fails; the refusal names the host, the variable or file and
    what was found, and rotor_force does not override it."""
    group_vars, host_vars, drop, expected = MISTAKES[mistake]
    user = "holders-" + mistake.replace("_", "-")[:40]
    old_id, old_secret = seed_user(empty_endpoint, user)
    fleet = fleet_of(user, {user: (old_id, old_secret)})
    inventory = operator_inventory(fleet, tmp_path / "inventory.json", group_vars=group_vars(fleet), host_vars=host_vars, drop=drop)
    before = file_states(fleet)

    for label, options in (("check", {"check": True, "diff": True}), ("real", {}), ("forced", {"extra_vars": {"rotor_force": True}})):
        run = rotate(empty_endpoint, inventory, tmp_path, label, **options)
        line = refusal(run, user)
        assert "host host1:" in line, line
        for fragment in expected:
            assert fragment in line, f"{label}: {fragment!r} not in {line}"
        assert "rotor_force does not override this" in line, line
        assert old_secret not in run.everything
        assert_nothing_changed(empty_endpoint, fleet, user, old_id, before, run)


def test_a_file_holding_another_users_key_refuses_both_users(empty_endpoint, fleet_of, tmp_path):
    """host2 names alice but its file holds bob's key (a copied file): alice is refused, naming bob as the
    key's owner, and bob is refused because host2, which names alice, holds his key. Nothing changes."""
    alice, bob = "holders-alice", "holders-bob"
    alice_id, alice_secret = seed_user(empty_endpoint, alice)
    bob_id, bob_secret = seed_user(empty_endpoint, bob)
    fleet = fleet_of({"host1": alice, "host2": alice, "host3": bob}, {alice: (alice_id, alice_secret), bob: (bob_id, bob_secret)}, size=3)
    fleet.write_credentials("host2", bob_id, bob_secret, reload=True)
    inventory = operator_inventory(fleet, tmp_path / "inventory.json")
    before = file_states(fleet)

    for label, options in (("check", {"check": True}), ("real", {"extra_vars": {"rotor_force": True}})):
        run = rotate(empty_endpoint, inventory, tmp_path, label, **options)
        assert f"host host2: {fleet.credentials_file('host2')} (rotor_credentials_files[0], format aws_credentials) holds {bob_id}, " \
               f"a key of IAM user '{bob}', not of '{alice}'" in refusal(run, alice)
        assert f"key {bob_id}, which this run would deactivate or delete, is held by hosts that are not hosts of {bob}: " \
               f"host2 (names IAM user {alice})" in refusal(run, bob)
        assert run.writes() == NO_WRITES, run.calls
        assert key_statuses(empty_endpoint, alice) == {alice_id: "Active"} and key_statuses(empty_endpoint, bob) == {bob_id: "Active"}
        assert file_states(fleet) == before
        assert {h: r["access_key_id"] for h, r in fleet.health().items() if r["healthy"]} == {"host1": alice_id, "host2": bob_id, "host3": bob_id}
        assert fleet.unhealthy_answers() == []
        assert alice_secret not in run.everything and bob_secret not in run.everything


def test_a_host_that_names_no_user_keeps_its_key(empty_endpoint, fleet_of, tmp_path):
    """host3 forgot rotor_iam_user ("" is the role default) but its file holds alice's key, which the run reads:
    the host is reported and alice's key is not retired while it holds it."""
    user = "holders-unnamed"
    old_id, old_secret = seed_user(empty_endpoint, user)
    fleet = fleet_of(user, {user: (old_id, old_secret)}, size=3)
    inventory = operator_inventory(fleet, tmp_path / "inventory.json", host_vars={"host3": {"rotor_iam_user": ""}})
    before = file_states(fleet)

    for label, options in (("check", {"check": True}), ("real", {})):
        run = rotate(empty_endpoint, inventory, tmp_path, label, **options)
        assert "host host3 declares credentials files but no rotor_iam_user" in run.everything, run.explain()
        assert f"the keys it holds ({old_id}) are never deactivated or deleted by this run" in run.everything
        assert "host3 (names no IAM user)" in refusal(run, user)
        assert_nothing_changed(empty_endpoint, fleet, user, old_id, before, run)


def test_create_true_adds_a_new_consumer_file_on_purpose(empty_endpoint, fleet_of, tmp_path):
    """A new consumer: host2 gets a second file that does not exist yet, with create: true. The rotation writes
    it (0600) along with the existing file, and every consumer stays healthy."""
    user = "holders-create"
    old_id, old_secret = seed_user(empty_endpoint, user)
    fleet = fleet_of(user, {user: (old_id, old_secret)})
    new_file = Path(fleet.workdir) / "hosts" / "host2" / "etc" / "new-consumer.env"
    files = [{"path": fleet.credentials_file("host2")}, {"path": str(new_file), "format": "env", "create": True}]
    inventory = operator_inventory(fleet, tmp_path / "inventory.json", host_vars={"host2": {"rotor_credentials_files": files}})

    run = rotate(empty_endpoint, inventory, tmp_path, "create")

    assert run.returncode == 0, run.explain()
    keys = key_statuses(empty_endpoint, user)
    assert old_id not in keys and len(keys) == 1, keys
    new_id = next(iter(keys))
    assert_hosts_on_key(fleet, new_id)
    assert f"AWS_ACCESS_KEY_ID={new_id}" in new_file.read_text()
    assert "%04o" % (os.stat(new_file).st_mode & 0o7777) == "0600"
    assert fleet.unhealthy_answers() == []


def test_modes_and_groups_are_kept_and_a_readable_file_is_a_warning(empty_endpoint, fleet_of, tmp_path):
    """No mode given: host1's 0640 file of group 'daemon' (a service reads it through its group) stays 0640 and
    'daemon'; host2's 0644 file stays 0644, with a warning. Both rotate and stay healthy."""
    user = "holders-modes"
    old_id, old_secret = seed_user(empty_endpoint, user)
    fleet = fleet_of(user, {user: (old_id, old_secret)}, self_check=0.5)
    os.chown(fleet.credentials_file("host1"), -1, 1)
    os.chmod(fleet.credentials_file("host1"), 0o640)
    os.chmod(fleet.credentials_file("host2"), 0o644)
    inventory = operator_inventory(fleet, tmp_path / "inventory.json", host_vars={
        name: {"rotor_credentials_files": [{"path": fleet.credentials_file(name)}]} for name in fleet.hosts})

    run = rotate(empty_endpoint, inventory, tmp_path, "modes")

    assert run.returncode == 0, run.explain()
    keys = key_statuses(empty_endpoint, user)
    new_id = next(iter(keys))
    assert old_id not in keys and len(keys) == 1, keys
    assert {name: (fleet.stat(name)["mode"], fleet.stat(name)["gid"]) for name in fleet.hosts} == {"host1": ("0640", 1), "host2": ("0644", 0)}
    assert re.search(r"credentials is readable by every user on the host \(mode 0644\); rotor.iam keeps that mode", run.everything), run.explain()
    assert all(fleet.read_credentials(name)[0] == new_id for name in fleet.hosts)
    assert all(report["healthy"] and report["access_key_id"] == new_id for report in fleet.health().values())
    assert fleet.unhealthy_answers() == []
