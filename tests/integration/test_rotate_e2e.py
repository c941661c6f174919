"""End-to-end rotations: the real playbook rotor.iam.rotate, the test IAM endpoint, a real fleet.

No mocks. Each test seeds an IAM user whose key hosts use, starts a fleet whose
consumers sign real STS calls with the key in their credentials file, runs
``ansible-playbook rotor.iam.rotate`` and then checks what matters: the keys in
IAM (boto3 admin client), the file on every host (key id, bytes, mode, owner,
leftover backups) and whether every consumer is healthy.

One endpoint serves the module (reset before each test); every test has its own fleet.
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from support import plan_row  # noqa: E402  pylint: disable=wrong-import-position
from rotation_helpers import (  # noqa: E402  pylint: disable=wrong-import-position
    KeyWatcher,
    assert_hosts_on_key,
    assert_no_secrets,
    credentials_dir_files,
    file_states,
    files_holding,
    key_statuses,
    run_rotation,
    seed_user,
    write_host_overrides,
)
from fleet.fleet import FleetError, ensure_sshd  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.slow

NO_WRITES = {"CreateAccessKey": 0, "UpdateAccessKey": 0, "DeleteAccessKey": 0}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def rotor_endpoint(empty_endpoint):
    """The session's endpoint with no IAM state, faults or counters left by an earlier test."""
    return empty_endpoint


@pytest.fixture(scope="module")
def sshd_available():
    """Skip (with the reason) when sshd is missing and cannot be installed."""
    try:
        ensure_sshd()
    except (FleetError, OSError) as exc:
        pytest.skip(f"SSH fleet needs openssh-server, which could not be installed: {exc}")


@pytest.fixture
def make_fleet(rotor_endpoint, fleets):
    """Factory: start a fleet (inventory written) in this test's tmp dir; every fleet is stopped afterwards."""

    def make(size=3, mode="local", users=None, initial_keys=None):
        return fleets.start(users, initial_keys, size=size, mode=mode)

    return make


@pytest.fixture
def rotate(rotor_endpoint, tmp_path):
    """Run rotor.iam.rotate over a fleet's inventory (plus ``extra_inventories``); numbered logs in tmp_path."""
    count = iter(range(1, 100))

    def run(fleet, extra_inventories=(), **options):
        label = f"run{next(count)}"
        return run_rotation(rotor_endpoint, [fleet.inventory_path, *extra_inventories], tmp_path / "runs", label=label, **options)

    return run


def seeded_fleet(endpoint, make_fleet, user, size=3, mode="local", age_days=120):
    """An IAM user whose only key is ``age_days`` old, and a fleet of hosts all running on it."""
    old_id, old_secret = seed_user(endpoint, user, age_days)
    fleet = make_fleet(size=size, mode=mode, users=user, initial_keys={user: (old_id, old_secret)})
    assert_hosts_on_key(fleet, old_id)
    return fleet, old_id, old_secret


def new_key_of(endpoint, user, old_id):
    """The one key of ``user`` that is not ``old_id`` (asserts there is exactly one)."""
    others = [key for key in key_statuses(endpoint, user) if key != old_id]
    assert len(others) == 1, f"expected one new key of {user}, IAM has {key_statuses(endpoint, user)}"
    return others[0]


def assert_rotated_and_clean(endpoint, fleet, user, old_id, old_secret):
    """A finished rotation: one Active new key, the old key deleted, every host healthy on the new key,
    and no file left in any credentials directory that holds the old secret. Returns the new key id."""
    keys = key_statuses(endpoint, user)
    assert old_id not in keys, f"old key {old_id} still in IAM: {keys}"
    assert len(keys) == 1 and list(keys.values()) == ["Active"], f"expected exactly one Active key: {keys}"
    new_id = next(iter(keys))
    assert_hosts_on_key(fleet, new_id)
    assert files_holding(fleet, old_secret) == [], "the old secret survives on a host"
    for name in fleet.hosts:
        leftovers = [p.name for p in credentials_dir_files(fleet, name)]
        assert leftovers == ["credentials"], f"{name}: files besides the credentials file: {leftovers}"
    return new_id


# --------------------------------------------------------------------------- cases


@pytest.mark.smoke
def test_happy_path_local_fleet(rotor_endpoint, make_fleet, rotate):
    """1. A 120-day-old key, 3 local hosts: new key everywhere, old key deleted, backups removed."""
    fleet, old_id, old_secret = seeded_fleet(rotor_endpoint, make_fleet, "e2e-happy")

    run = rotate(fleet)

    assert run.returncode == 0, run.explain()
    assert run.writes() == {"CreateAccessKey": 1, "UpdateAccessKey": 1, "DeleteAccessKey": 1}, run.calls
    assert_rotated_and_clean(rotor_endpoint, fleet, "e2e-happy", old_id, old_secret)


@pytest.mark.smoke
def test_check_mode_changes_nothing_and_shows_the_plan(rotor_endpoint, make_fleet, rotate):
    """2. --check --diff: no IAM write, no file touched, the plan names user, key age, old key and hosts."""
    user = "e2e-check"
    fleet, old_id = seeded_fleet(rotor_endpoint, make_fleet, user)[:2]
    before_files = file_states(fleet)
    before_dirs = {name: credentials_dir_files(fleet, name) for name in fleet.hosts}

    run = rotate(fleet, check=True, diff=True)

    assert run.returncode == 0, run.explain()
    assert run.writes() == NO_WRITES, run.calls
    assert run.calls.get("TagUser", 0) == 0 and run.calls.get("UntagUser", 0) == 0, f"check mode wrote the journal: {run.calls}"
    assert file_states(fleet) == before_files, "check mode changed a credentials file (bytes, mtime or mode)"
    assert {name: credentials_dir_files(fleet, name) for name in fleet.hosts} == before_dirs, "check mode left files"
    assert key_statuses(rotor_endpoint, user) == {old_id: "Active"}
    assert_hosts_on_key(fleet, old_id)
    plan = plan_row(run.stdout, user)
    assert plan.get("action and why", "").startswith("ROTATE - "), f"no plan row for {user} in the output:\n{run.explain()}"
    assert f"key {old_id} is 120 days old" in plan["action and why"], plan
    assert f"old key {old_id} will be deleted" in plan["action and why"], plan
    assert plan["hosts"] == "host1, host2, host3" and plan["key"] == old_id and plan["age"] == "120 d", plan
    for name in fleet.hosts:
        path = fleet.credentials_file(name)  # local fleet: the path the host sees
        assert f"would write the new key of {user} over {old_id} in {path}" in run.stdout, run.explain()
        assert f"--- before: {path}" in run.stdout, f"no diff for {name}:\n{run.explain()}"


def test_second_run_is_a_no_op(rotor_endpoint, make_fleet, rotate):
    """3. Right after a rotation, a second run writes nothing in IAM or on hosts and says skip."""
    user = "e2e-noop"
    fleet, old_id, old_secret = seeded_fleet(rotor_endpoint, make_fleet, user)
    first = rotate(fleet)
    assert first.returncode == 0, first.explain()
    new_id = assert_rotated_and_clean(rotor_endpoint, fleet, user, old_id, old_secret)
    before_files = file_states(fleet)

    second = rotate(fleet)

    assert second.returncode == 0, second.explain()
    assert second.writes() == NO_WRITES, second.calls
    assert plan_row(second.stdout, user).get("action and why", "").startswith(f"skip - key {new_id} is 0 days old"), second.explain()
    assert file_states(fleet) == before_files, "the second run touched a credentials file"
    assert key_statuses(rotor_endpoint, user) == {new_id: "Active"}
    assert_hosts_on_key(fleet, new_id)


def test_deactivate_then_delete_inactive_key(rotor_endpoint, make_fleet, rotate):
    """4. rotor_old_key_action=deactivate leaves the old key Inactive; a later run with
    rotor_delete_inactive_after_days=0 deletes it without rotating the young new key."""
    user = "e2e-deactivate"
    fleet, old_id, old_secret = seeded_fleet(rotor_endpoint, make_fleet, user)

    first = rotate(fleet, extra_vars={"rotor_old_key_action": "deactivate"})

    assert first.returncode == 0, first.explain()
    assert first.writes() == {"CreateAccessKey": 1, "UpdateAccessKey": 1, "DeleteAccessKey": 0}, first.calls
    new_id = new_key_of(rotor_endpoint, user, old_id)
    assert key_statuses(rotor_endpoint, user) == {old_id: "Inactive", new_id: "Active"}
    assert_hosts_on_key(fleet, new_id)
    assert files_holding(fleet, old_secret) == [], "the old secret survives on a host"
    before_files = file_states(fleet)

    second = rotate(fleet, extra_vars={"rotor_delete_inactive_after_days": 0})

    assert second.returncode == 0, second.explain()
    assert second.writes() == {"CreateAccessKey": 0, "UpdateAccessKey": 0, "DeleteAccessKey": 1}, second.calls
    assert key_statuses(rotor_endpoint, user) == {new_id: "Active"}
    assert file_states(fleet) == before_files, "deleting the Inactive key touched a credentials file"
    assert_hosts_on_key(fleet, new_id)


@pytest.mark.parametrize("failing_check", [pytest.param("on-new-key", marks=pytest.mark.smoke), "always"])
def test_failed_health_check_rolls_back_everything(rotor_endpoint, make_fleet, rotate, tmp_path, failing_check):
    """5. host2's health check fails before cutover: every host back on the old key, new key deleted.

    on-new-key: host2's check passes only while its file holds the old key (an app that rejects the new one).
    always: host2's check is the command ``false``; it fails on the old key too, after the rollback.
    """
    user = "e2e-rollback"
    fleet, old_id, old_secret = seeded_fleet(rotor_endpoint, make_fleet, user)
    before_files = file_states(fleet)
    check = f"grep -q {old_id} {fleet.host('host2').credentials_path}" if failing_check == "on-new-key" else "false"
    overrides = write_host_overrides(
        tmp_path / "host2-health.yml", {"host2": {"rotor_health_check": {"command": check, "retries": 1, "delay": 0}}}
    )

    run = rotate(fleet, extra_inventories=[overrides])

    assert run.returncode != 0, run.explain()
    assert re.search(rf"Rotation of {user} rolled back: host host2 failed [^\n]*health", run.stdout), run.explain()
    assert "Command health check" in run.stdout, run.explain()
    assert run.calls.get("CreateAccessKey") == 1 and run.calls.get("DeleteAccessKey") == 1, run.calls
    assert key_statuses(rotor_endpoint, user) == {old_id: "Active"}, "new key not deleted or old key not Active"
    assert_hosts_on_key(fleet, old_id)
    after_files = file_states(fleet)
    for name in fleet.hosts:
        assert after_files[name].content == before_files[name].content, f"{name}: file content not restored"
        assert after_files[name].mode == "0600"
    # The rollback keeps the backups (they hold only the old secret, which is still in use).
    assert all(fleet.read_credentials(name)[1] == old_secret for name in fleet.hosts)


@pytest.mark.ssh
def test_unreachable_host_mid_rollout_stops_and_rolls_back(rotor_endpoint, sshd_available, make_fleet, rotate):
    """6. SSH fleet, one host per batch: host3 goes unreachable once host1 has the new key. The rollout
    stops, the old key stays Active, host1 and host2 are back on it and healthy."""
    user = "e2e-unreachable"
    fleet, old_id = seeded_fleet(rotor_endpoint, make_fleet, user, mode="ssh")[:2]

    before_host3 = file_states(fleet)["host3"]

    with KeyWatcher(fleet, "host1", old_id, lambda: fleet.block("host3")) as watcher:
        run = rotate(fleet, extra_vars={"rotor_batch_size": 1})
    assert watcher.fired.is_set() and watcher.error is None, f"host3 was not blocked: {watcher.error}"

    assert run.returncode != 0, run.explain()
    assert re.search(rf"Rotation of {user} rolled back: host host3 failed [^\n]*unreachable", run.stdout), run.explain()
    assert key_statuses(rotor_endpoint, user) == {old_id: "Active"}, "old key not Active or new key not deleted"
    assert_hosts_on_key(fleet, old_id, hosts=["host1", "host2"])
    # host3 never got the new key: its file (read on the real filesystem) and its consumer are on the old one.
    assert file_states(fleet)["host3"] == before_host3
    assert_hosts_on_key(fleet, old_id, hosts=["host3"])


@pytest.mark.ssh
def test_unreachable_host_before_the_run_blocks_the_rotation(rotor_endpoint, sshd_available, make_fleet, rotate):
    """6b. SSH fleet with host2 down from the start: the plan refuses to rotate (the key host2 holds is
    unknown), nothing is written in IAM or on the other hosts."""
    user = "e2e-down"
    fleet, old_id = seeded_fleet(rotor_endpoint, make_fleet, user, mode="ssh")[:2]
    before_files = file_states(fleet)
    fleet.block("host2")

    run = rotate(fleet)

    assert run.returncode != 0, run.explain()
    assert f"cannot rotate IAM user '{user}': hosts host2 are unreachable" in run.stdout, run.explain()
    assert run.writes() == NO_WRITES, run.calls
    assert key_statuses(rotor_endpoint, user) == {old_id: "Active"}
    assert file_states(fleet) == before_files
    assert_hosts_on_key(fleet, old_id)


def test_two_users_one_fleet(rotor_endpoint, make_fleet, rotate):
    """7. Two IAM users across one fleet: each rotated exactly once, each host on its user's new key."""
    users = {"host1": "e2e-app-a", "host2": "e2e-app-a", "host3": "e2e-app-b"}
    keys = {user: seed_user(rotor_endpoint, user, 120) for user in sorted(set(users.values()))}
    fleet = make_fleet(size=3, users=users, initial_keys=keys)

    run = rotate(fleet)

    assert run.returncode == 0, run.explain()
    assert run.calls.get("CreateAccessKey") == 2, run.calls
    for user, (old_id, old_secret) in keys.items():
        current = key_statuses(rotor_endpoint, user)
        assert old_id not in current and list(current.values()) == ["Active"], f"{user}: {current}"
        new_id = next(iter(current))
        assert_hosts_on_key(fleet, new_id, hosts=[h for h, u in users.items() if u == user])
        assert files_holding(fleet, old_secret) == [], f"the old secret of {user} survives on a host"


@pytest.mark.ssh
def test_happy_path_ssh_fleet(rotor_endpoint, sshd_available, make_fleet, rotate):
    """8. The happy path over SSH: three sshd hosts, each with its own /srv/rotor-fleet."""
    user = "e2e-ssh"
    fleet, old_id, old_secret = seeded_fleet(rotor_endpoint, make_fleet, user, mode="ssh")

    run = rotate(fleet)

    assert run.returncode == 0, run.explain()
    assert run.calls.get("CreateAccessKey") == 1, run.calls
    assert_rotated_and_clean(rotor_endpoint, fleet, user, old_id, old_secret)


def test_no_secret_in_verbose_output_or_log(rotor_endpoint, make_fleet, rotate):
    """9. At -vvvv --diff with ANSIBLE_LOG_PATH, neither the old nor the new secret (nor the admin's)
    appears in stdout, stderr or the log."""
    user = "e2e-leak"
    fleet, old_id, old_secret = seeded_fleet(rotor_endpoint, make_fleet, user)

    run = rotate(fleet, verbosity=4, diff=True)

    assert run.returncode == 0, run.explain()
    assert run.log, f"ANSIBLE_LOG_PATH {run.log_path} stayed empty"
    new_id = assert_rotated_and_clean(rotor_endpoint, fleet, user, old_id, old_secret)
    new_secrets = {fleet.read_credentials(name)[1] for name in fleet.hosts}
    assert len(new_secrets) == 1
    assert new_id in run.stdout, "the run does not even name the new key id; is the output complete?"
    assert_no_secrets(
        run,
        {
            "old secret": old_secret,
            "new secret": new_secrets.pop(),
            "admin secret": rotor_endpoint.admin_secret_access_key,
        },
    )
