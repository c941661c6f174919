"""What organisations have: exemptions, owners, per-user policy and leaked keys, through ansible-playbook.

Each test seeds IAM users (with their rotor:* policy tags) on the lagging test endpoint, starts a local
fleet, runs ``rotor.iam.rotate`` and asserts the state that matters: keys in IAM, files on the hosts,
the consumers' health, and the summary a notification would carry (``rotor_summary_file``).
"""

from __future__ import annotations

import json
import threading
import time

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from rotation_helpers import (  # noqa: E402  pylint: disable=wrong-import-position
    assert_hosts_on_key,
    assert_no_secrets,
    key_statuses,
    run_rotation,
    seed_user,
    write_host_overrides,
)
from fleet.fleet import Fleet  # noqa: E402  pylint: disable=wrong-import-position
from support import plan_row  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.slow

FAST = {"rotor_lock_settle_seconds": 0.5, "rotor_verify_timeout": 60}


@pytest.fixture
def endpoint(empty_endpoint):
    """The session's endpoint, reset: these tests count and list account-wide."""
    return empty_endpoint


@pytest.fixture
def fleet_of(endpoint, fleets):
    """Factory: seed the users (name -> key age in days), start a fleet ({host: user}) on their keys."""

    def make(users_by_host, ages):
        keys = {user: seed_user(endpoint, user, age) for user, age in ages.items()}
        return fleets.start(users_by_host, keys, size=len(users_by_host)), keys

    return make


def tag(endpoint, user, **tags):
    endpoint.boto3_client("iam").tag_user(UserName=user, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


def rotate(endpoint, fleet, tmp_path, inventories=(), **extra_vars):
    summary = tmp_path / f"summary-{time.monotonic_ns()}.json"
    variables = dict(FAST, rotor_summary_file=str(summary), **extra_vars)
    run = run_rotation(endpoint, [fleet.inventory_path, *inventories], tmp_path / "runs", extra_vars=variables, verbosity=2,
                       label=f"run{time.monotonic_ns()}")
    return run, (json.loads(summary.read_text()) if summary.exists() else None)


def hosts_of(fleet, user):
    return [h for h in fleet.hosts if fleet.users[h] == user]


def test_exempt_user_untouched_and_expired_exemption_rotated(endpoint, fleet_of, tmp_path):
    fleet, keys = fleet_of({"host1": "org-vendor", "host2": "org-vendor", "host3": "org-lapsed"},
                           {"org-vendor": 200, "org-lapsed": 200})
    tag(endpoint, "org-vendor", **{"rotor:exempt": "appliance cannot reload keys", "rotor:exempt-until": "2099-12-31"})
    tag(endpoint, "org-lapsed", **{"rotor:exempt": "migration", "rotor:exempt-until": "2020-01-31"})

    run, summary = rotate(endpoint, fleet, tmp_path)

    assert run.returncode == 0, run.explain()
    assert "EXEMPT - exempt: appliance cannot reload keys (until 2100-01-01" in run.stdout, run.explain()
    assert key_statuses(endpoint, "org-vendor") == {keys["org-vendor"][0]: "Active"}
    assert_hosts_on_key(fleet, keys["org-vendor"][0], hosts_of(fleet, "org-vendor"))
    assert summary["rotation"]["org-vendor"]["action"] == "exempt"
    assert summary["rotation"]["org-vendor"]["exempt"] == "appliance cannot reload keys"
    lapsed = key_statuses(endpoint, "org-lapsed")
    assert keys["org-lapsed"][0] not in lapsed and len(lapsed) == 1, lapsed
    assert_hosts_on_key(fleet, next(iter(lapsed)), ["host3"])
    assert "the exemption 'migration' ended" in run.stdout, run.explain()
    assert summary["run"]["users_exempt"] == ["org-vendor"] and summary["run"]["users_rotated"] == ["org-lapsed"]


def test_owners_in_plan_summary_and_refusals(endpoint, fleet_of, tmp_path):
    fleet, keys = fleet_of({"host1": "org-owned", "host2": "org-broken"}, {"org-owned": 120, "org-broken": 120})
    tag(endpoint, "org-owned", **{"rotor:owner": "payments-team@example.com"})
    tag(endpoint, "org-broken", **{"rotor:owner": "platform-team", "rotor:max-age-days": "thirty"})

    run, summary = rotate(endpoint, fleet, tmp_path)

    assert run.returncode != 0, run.explain()  # org-broken is refused
    owned = plan_row(run.stdout, "org-owned")
    assert owned.get("user") == "org-owned (owner: payments-team@example.com)" and owned["action and why"].startswith("ROTATE"), run.explain()
    assert summary["rotation"]["org-owned"]["owner"] == "payments-team@example.com"
    assert summary["rotation"]["org-owned"]["action"] == "cutover"
    refusal = [line for line in run.stdout.splitlines() if "CANNOT ROTATE" in line and "org-broken" in line]
    assert refusal and "(owner: platform-team)" in refusal[0] and "'thirty'" in refusal[0], run.explain()
    assert key_statuses(endpoint, "org-broken") == {keys["org-broken"][0]: "Active"}
    assert keys["org-owned"][0] not in key_statuses(endpoint, "org-owned")


def test_per_user_max_age_both_ways(endpoint, fleet_of, tmp_path):
    fleet, keys = fleet_of({"host1": "org-strict", "host2": "org-relaxed"}, {"org-strict": 40, "org-relaxed": 120})
    tag(endpoint, "org-strict", **{"rotor:max-age-days": "30"})     # due under its own policy only
    tag(endpoint, "org-relaxed", **{"rotor:max-age-days": "365"})   # due under the default only

    run, summary = rotate(endpoint, fleet, tmp_path)

    assert run.returncode == 0, run.explain()
    assert "key {} is 40 days old (policy: 30)".format(keys["org-strict"][0]) in run.stdout, run.explain()
    assert "under the 365-day policy" in run.stdout, run.explain()
    assert keys["org-strict"][0] not in key_statuses(endpoint, "org-strict")
    assert key_statuses(endpoint, "org-relaxed") == {keys["org-relaxed"][0]: "Active"}
    assert summary["rotation"]["org-strict"]["max_age_days"] == 30 and summary["rotation"]["org-relaxed"]["action"] == "skipped"


def test_compromised_key_disabled_first_never_active_again_and_gone(endpoint, fleet_of, tmp_path):
    """Incident response: the leaked key is Inactive before any host changes; host2 fails on the new key and
    stays on it (no rollback onto the leaked key); every host holds the new key, so the leaked key is deleted."""
    fleet, keys = fleet_of({"host1": "org-leak", "host2": "org-leak", "host3": "org-leak"}, {"org-leak": 10})
    leaked_id, leaked_secret = keys["org-leak"]
    failing = write_host_overrides(tmp_path / "host2.yml", {"host2": {"rotor_health_check": {"command": "false", "retries": 1, "delay": 1}}})
    observed = []  # (moment, leaked key status, number of hosts already off the leaked key)
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            status = key_statuses(endpoint, "org-leak").get(leaked_id, "deleted")
            moved = sum(1 for h in fleet.hosts if fleet.read_credentials(h)[0] != leaked_id)
            observed.append((time.monotonic(), status, moved))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        run, summary = rotate(endpoint, fleet, tmp_path, inventories=[str(failing)],
                              rotor_compromised_key_ids=[leaked_id, "AKIAUNKNOWNLEAKED000"], rotor_batch_size=1)
    finally:
        stop.set()
        watcher.join(5)

    assert run.returncode != 0, run.explain()  # host2 failed, and is reported
    assert "INCIDENT - key {} is compromised".format(leaked_id) in run.stdout, run.explain()
    first_move = next((status for _moment, status, moved in observed if moved > 0), None)
    assert first_move in ("Inactive", "deleted"), f"a host moved while the leaked key was {first_move}"
    seen_inactive = False
    for _moment, status, _moved in observed:
        seen_inactive = seen_inactive or status != "Active"
        assert not (seen_inactive and status == "Active"), "the leaked key was Active again"
    keys_now = key_statuses(endpoint, "org-leak")
    assert leaked_id not in keys_now and len(keys_now) == 1, keys_now
    (new_id,) = keys_now
    for host in fleet.hosts:
        assert fleet.read_credentials(host)[0] == new_id, f"{host} is not on the new key"
    assert summary["rotation"]["org-leak"]["action"] == "failed"
    assert "host2" in summary["rotation"]["org-leak"]["message"]
    moves = summary["rotation"]["org-leak"]["host_moves"]
    assert all(moves[h]["held"] == leaked_id and moves[h]["moved_to"] == new_id and moves[h]["moved_at"] for h in fleet.hosts), moves
    assert summary["run"]["compromised_keys_not_found"] == ["AKIAUNKNOWNLEAKED000"]
    assert "COMPROMISED KEYS NOT FOUND - AKIAUNKNOWNLEAKED000" in run.stdout
    assert_no_secrets(run, {"leaked secret": leaked_secret, "new secret": fleet.read_credentials("host1")[1]})


# --------------------------------------------------------------------------- many accounts

OTHER_ACCOUNT = "222222222222"


def other_account_iam(endpoint):
    """IAM in the other account, through the role the admin may assume there (as AWS Organizations users do)."""
    import boto3  # pylint: disable=import-outside-toplevel

    arn = endpoint.account_role(OTHER_ACCOUNT)
    creds = endpoint.boto3_client("sts").assume_role(RoleArn=arn, RoleSessionName="rotor-test")["Credentials"]
    return arn, boto3.client("iam", endpoint_url=endpoint.endpoint_url, region_name=endpoint.region,
                             aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                             aws_session_token=creds["SessionToken"])


def profiles_file(endpoint, path, role_arn, extra_profiles=()):
    """An AWS config file: the admin's keys, and a profile per other-account role (role_arn + source_profile)."""
    lines = ["[profile admin]", f"aws_access_key_id = {endpoint.admin_access_key_id}",
             f"aws_secret_access_key = {endpoint.admin_secret_access_key}", f"region = {endpoint.region}", ""]
    for name in ("acct-b",) + tuple(extra_profiles):
        lines += [f"[profile {name}]", f"role_arn = {role_arn}", "source_profile = admin", f"endpoint_url = {endpoint.endpoint_url}",
                  f"region = {endpoint.region}", ""]
    path.write_text("\n".join(lines))
    path.chmod(0o600)
    return str(path)


def test_a_user_of_the_same_name_in_two_accounts_is_two_users(endpoint, tmp_path):
    """svc-app exists in the admin's account and in 222222222222 (reached through an assumed role). host1-2
    use the first, host3-4 the second (rotor_aws_profile: acct-b). One run rotates both, each through its own
    connection, and names them account:user."""
    role_arn, iam_b = other_account_iam(endpoint)
    key_a = seed_user(endpoint, "svc-app", 120)
    iam_b.create_user(UserName="svc-app")
    created = iam_b.create_access_key(UserName="svc-app")["AccessKey"]
    key_b = (created["AccessKeyId"], created["SecretAccessKey"])
    endpoint.backdate("svc-app", key_b[0], 120)
    fleet = Fleet(str(tmp_path / "fleet"), 4, mode="local", endpoint_url=endpoint.endpoint_url, region=endpoint.region,
                  users="svc-app", initial_keys={"svc-app": key_a})
    with fleet:
        fleet.write_inventory()
        for host in ("host3", "host4"):
            fleet.write_credentials(host, *key_b, reload=True)
        overrides = write_host_overrides(tmp_path / "accounts.yml", {h: {"rotor_aws_profile": "acct-b"} for h in ("host3", "host4")})
        config = profiles_file(endpoint, tmp_path / "aws-config", role_arn)
        summary = tmp_path / "summary.json"
        run = run_rotation(endpoint, [fleet.inventory_path, overrides], tmp_path / "runs", label="accounts", verbosity=1,
                           extra_vars=dict(FAST, rotor_summary_file=str(summary)), env_extra={"AWS_CONFIG_FILE": config})
        assert run.returncode == 0, run.explain()
        first, second = f"{endpoint.account_id}:svc-app", f"{OTHER_ACCOUNT}:svc-app"
        for ref in (first, second):
            assert plan_row(run.stdout, ref).get("action and why", "").startswith("ROTATE"), run.explain()
        keys_a = key_statuses(endpoint, "svc-app")
        keys_b = {k["AccessKeyId"]: k["Status"] for k in iam_b.list_access_keys(UserName="svc-app")["AccessKeyMetadata"]}
        assert key_a[0] not in keys_a and len(keys_a) == 1, keys_a
        assert key_b[0] not in keys_b and len(keys_b) == 1, keys_b
        assert_hosts_on_key(fleet, next(iter(keys_a)), ["host1", "host2"])
        assert_hosts_on_key(fleet, next(iter(keys_b)), ["host3", "host4"])
        rotation = json.loads(summary.read_text())["rotation"]
        assert sorted(rotation) == sorted([first, second]) and {e["action"] for e in rotation.values()} == {"cutover"}
        journal_b = {t["Key"]: t["Value"] for t in iam_b.list_user_tags(UserName="svc-app")["Tags"]}
        # Completion clears the journal with the lock (one UntagUser of every rotor: tag).
        assert journal_b.get("rotor:phase") in (None, "completed") and not any(k.startswith("rotor:lock") for k in journal_b)


def test_hosts_that_disagree_on_a_users_connection_are_refused(endpoint, tmp_path):
    """host3 reaches 222222222222's svc-app through acct-b, host4 through acct-b2 (the same account): the plan
    refuses that user, naming the hosts and their connections; the first account's svc-app rotates."""
    role_arn, iam_b = other_account_iam(endpoint)
    key_a = seed_user(endpoint, "svc-app", 120)
    iam_b.create_user(UserName="svc-app")
    created = iam_b.create_access_key(UserName="svc-app")["AccessKey"]
    endpoint.backdate("svc-app", created["AccessKeyId"], 120)
    fleet = Fleet(str(tmp_path / "fleet"), 4, mode="local", endpoint_url=endpoint.endpoint_url, region=endpoint.region,
                  users="svc-app", initial_keys={"svc-app": key_a})
    with fleet:
        fleet.write_inventory()
        for host in ("host3", "host4"):
            fleet.write_credentials(host, created["AccessKeyId"], created["SecretAccessKey"], reload=True)
        overrides = write_host_overrides(tmp_path / "accounts.yml", {"host3": {"rotor_aws_profile": "acct-b"},
                                                                     "host4": {"rotor_aws_profile": "acct-b2"}})
        config = profiles_file(endpoint, tmp_path / "aws-config", role_arn, extra_profiles=("acct-b2",))
        run = run_rotation(endpoint, [fleet.inventory_path, overrides], tmp_path / "runs", label="disagree", verbosity=1,
                           extra_vars=dict(FAST), env_extra={"AWS_CONFIG_FILE": config})
        assert run.returncode != 0, run.explain()
        assert "do not agree on the AWS connection" in run.stdout and "host3" in run.stdout and "host4" in run.stdout, run.explain()
        keys_b = {k["AccessKeyId"]: k["Status"] for k in iam_b.list_access_keys(UserName="svc-app")["AccessKeyMetadata"]}
        assert keys_b == {created["AccessKeyId"]: "Active"}
        assert key_a[0] not in key_statuses(endpoint, "svc-app")
