"""The quiet-key gate (issue 25), through ansible-playbook rotor.iam.rotate against the endpoint and a fleet.

An unknown consumer (tests/fleet/unknown.py: a process outside the inventory signing with the old key on a timer)
stops the rotation before the old key is touched: every host is on the new key, the old key stays Active, the journal
says waiting_for_quiet, and the consumer stays healthy on the old key throughout. Once it is moved by hand, the next
run finishes. Incident mode does not wait; check mode plans the gate and writes nothing; no secret is printed.
"""

from __future__ import annotations

import json
import time

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from rotation_helpers import assert_hosts_on_key, assert_no_secrets, key_statuses, run_rotation  # noqa: E402  pylint: disable=wrong-import-position
from rotation_helpers import spawn_rotation, write_host_overrides  # noqa: E402  pylint: disable=wrong-import-position
from test_rotate_organisations import FAST, endpoint, fleet_of  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

pytestmark = pytest.mark.slow

QUIET = 0.1  # minutes: the consumer signs every half second, so six seconds of silence are telling
INTERVAL = 0.5


def rotate(endpoint, fleet, tmp_path, check=False, inventories=(), **extra_vars):  # noqa: F811
    summary = tmp_path / f"summary-{time.monotonic_ns()}.json"
    variables = dict(FAST, rotor_summary_file=str(summary), **dict({"rotor_quiet_minutes": QUIET}, **extra_vars))
    run = run_rotation(endpoint, [fleet.inventory_path, *inventories], tmp_path / "runs", extra_vars=variables, verbosity=2,
                       label=f"run{time.monotonic_ns()}", check=check, diff=check)
    return run, (json.loads(summary.read_text()) if summary.exists() else None)


def journal(endpoint, user):
    tags = endpoint.boto3_client("iam").list_user_tags(UserName=user)["Tags"]
    return {t["Key"]: t["Value"] for t in tags if t["Key"].startswith("rotor:")}


def secrets_of(fleet, old_secret):
    found = {"old secret": old_secret}
    for host in fleet.hosts:
        found[f"{host} secret"] = fleet.read_credentials(host)[1]
    return found


def test_an_unknown_consumer_stops_the_rotation_before_the_old_key_is_touched_and_the_next_run_finishes(endpoint, fleet_of, tmp_path):  # noqa: F811
    fleet, keys = fleet_of({"host1": "quiet-app", "host2": "quiet-app"}, {"quiet-app": 120})
    old_id, old_secret = keys["quiet-app"]
    unknown = fleet.start_unknown_consumer("cron-box", old_id, old_secret, interval=INTERVAL)
    began = time.time()
    unknown.wait_for_calls(2, since=began)

    run, summary = rotate(endpoint, fleet, tmp_path)

    assert run.returncode != 0, run.explain()
    statuses = key_statuses(endpoint, "quiet-app")
    assert statuses.get(old_id) == "Active" and len(statuses) == 2, (statuses, run.explain())
    (new_id,) = [key for key in statuses if key != old_id]
    assert_hosts_on_key(fleet, new_id)
    assert journal(endpoint, "quiet-app").get("rotor:phase") == "waiting_for_quiet", journal(endpoint, "quiet-app")
    entry = summary["rotation"]["quiet-app"]
    assert entry["action"] == "stopped", entry
    message = entry["message"]
    assert message.startswith(f"stopped by the quiet-key gate before touching the old key {old_id}: it was last used at"), message
    assert "(sts, us-east-1)" in message and "LookupEvents" in message and "waiting_for_quiet" in message, message
    assert "stopped by the quiet-key gate" in run.stdout, run.explain()
    assert not unknown.unhealthy_answers(since=began), "the unknown consumer broke during the run"
    assert unknown.loaded_key() == old_id
    assert_no_secrets(run, secrets_of(fleet, old_secret))

    # Moved by hand to the new key: the next run re-checks, finds the old key silent, and finishes.
    unknown.switch(new_id, fleet.read_credentials("host1")[1])
    again, summary = rotate(endpoint, fleet, tmp_path)

    assert again.returncode == 0, again.explain()
    assert key_statuses(endpoint, "quiet-app") == {new_id: "Active"}
    assert_hosts_on_key(fleet, new_id)
    assert summary["rotation"]["quiet-app"]["action"] == "cutover", summary["rotation"]["quiet-app"]
    assert not unknown.unhealthy_answers(since=began), "the unknown consumer broke"
    assert_no_secrets(again, secrets_of(fleet, old_secret))


def test_a_host_whose_application_ignored_its_restart_is_named_from_cloudtrail(endpoint, fleet_of, tmp_path):  # noqa: F811
    fleet, keys = fleet_of({"host1": "quiet-deaf", "host2": "quiet-deaf"}, {"quiet-deaf": 120})
    old_id, old_secret = keys["quiet-deaf"]
    fleet.ignore_reload("host2")  # its application keeps the old key whatever the restart says
    fleet.set_self_check("host2", interval=INTERVAL)  # and keeps calling AWS with it

    # Local hosts: the address the inventory would connect to is each host's own (its consumer calls AWS from it).
    addresses = write_host_overrides(tmp_path / "addresses.yml", {host: {"ansible_host": fleet.host(host).address} for host in fleet.hosts})
    run, summary = rotate(endpoint, fleet, tmp_path, inventories=[addresses], rotor_consumer_lookup="cloudtrail")

    assert run.returncode != 0, run.explain()
    assert key_statuses(endpoint, "quiet-deaf").get(old_id) == "Active"
    assert fleet.loaded_key("host2") == old_id
    message = summary["rotation"]["quiet-deaf"]["message"]
    assert f"host2 still uses the old key {old_id}: its application did not reload" in message, message
    assert "host1 still uses" not in message and "unknown consumer at" not in message, message
    assert "management events only" in message and "2 requests per second" in message, message
    assert_no_secrets(run, secrets_of(fleet, old_secret))


def test_incident_mode_reports_and_does_not_wait(endpoint, fleet_of, tmp_path):  # noqa: F811
    fleet, keys = fleet_of({"host1": "quiet-leak", "host2": "quiet-leak"}, {"quiet-leak": 10})
    leaked_id, leaked_secret = keys["quiet-leak"]
    unknown = fleet.start_unknown_consumer("attacker", leaked_id, leaked_secret, interval=INTERVAL)
    unknown.wait_for_calls(2, since=time.time())

    started = time.monotonic()
    run, summary = rotate(endpoint, fleet, tmp_path, rotor_quiet_minutes=10, rotor_compromised_key_ids=[leaked_id])
    took = time.monotonic() - started

    assert run.returncode == 0, run.explain()
    assert took < 300, f"incident mode waited: {took:.0f}s"
    statuses = key_statuses(endpoint, "quiet-leak")
    assert leaked_id not in statuses and list(statuses.values()) == ["Active"], statuses
    assert summary["rotation"]["quiet-leak"]["action"] == "cutover"
    assert_no_secrets(run, secrets_of(fleet, leaked_secret))


def test_check_mode_plans_the_gate_and_writes_nothing(endpoint, fleet_of, tmp_path):  # noqa: F811
    fleet, keys = fleet_of({"host1": "quiet-check"}, {"quiet-check": 120})
    old_id, old_secret = keys["quiet-check"]
    before = (key_statuses(endpoint, "quiet-check"), journal(endpoint, "quiet-check"), fleet.read_credentials("host1"))

    run, _summary = rotate(endpoint, fleet, tmp_path, check=True)

    assert run.returncode == 0, run.explain()
    assert f"quiet-key gate: before deactivating {old_id} of quiet-check" in run.stdout, run.explain()
    assert "Watch the old keys" not in run.stdout or "skipping" in run.stdout
    assert (key_statuses(endpoint, "quiet-check"), journal(endpoint, "quiet-check"), fleet.read_credentials("host1")) == before
    assert_no_secrets(run, {"old secret": old_secret})


def test_a_use_during_the_drain_keeps_the_old_key_from_being_deleted(endpoint, fleet_of, tmp_path):  # noqa: F811
    """The second look: a use recorded after the drain began (a consumer that got through AWS's deactivation lag in
    another region) stops the run before the old key is deleted; the hosts stay on the new key."""
    fleet, keys = fleet_of({"host1": "quiet-drain", "host2": "quiet-drain"}, {"quiet-drain": 120})
    old_id, old_secret = keys["quiet-drain"]
    summary = tmp_path / "summary-drain.json"
    variables = dict(FAST, rotor_summary_file=str(summary), rotor_quiet_minutes=QUIET, rotor_drain_seconds=20)
    running = spawn_rotation(endpoint, [fleet.inventory_path], tmp_path / "runs", extra_vars=variables, verbosity=1, label="drain")
    deadline = time.monotonic() + 240
    while "Wait out the drain period" not in (running.log_path.read_text(errors="replace") if running.log_path.exists() else ""):
        assert time.monotonic() < deadline, "the run never reached the drain"
        time.sleep(0.2)
    time.sleep(2)
    assert key_statuses(endpoint, "quiet-drain")[old_id] == "Inactive"
    endpoint.set_last_used(old_id, service="sts", region="eu-west-1")
    run = running.wait()

    assert run.returncode != 0, run.explain()
    statuses = key_statuses(endpoint, "quiet-drain")
    assert statuses.get(old_id) == "Inactive" and len(statuses) == 2, (statuses, run.explain())
    (new_id,) = [key for key in statuses if key != old_id]
    assert_hosts_on_key(fleet, new_id)
    entry = json.loads(summary.read_text())["rotation"]["quiet-drain"]
    message = entry["message"]
    assert message.startswith(f"stopped by the quiet-key gate before deleting the old key {old_id}: it was last used at"), message
    assert "(sts, eu-west-1)" in message and "not deleted" in message, message
    assert_no_secrets(run, secrets_of(fleet, old_secret))


def test_the_gate_sees_a_consumer_whose_uses_are_published_late(endpoint, fleet_of, tmp_path):  # noqa: F811
    """AWS publishes last use with a delay: a watch longer than that delay still sees the unknown consumer."""
    fleet, keys = fleet_of({"host1": "quiet-late"}, {"quiet-late": 120})
    old_id, old_secret = keys["quiet-late"]
    endpoint.configure_last_use(delay_seconds=3)
    try:
        unknown = fleet.start_unknown_consumer("late-box", old_id, old_secret, interval=INTERVAL)
        unknown.wait_for_calls(2, since=time.time())
        run, summary = rotate(endpoint, fleet, tmp_path)
    finally:
        endpoint.configure_last_use(delay_seconds=0)

    assert run.returncode != 0, run.explain()
    assert key_statuses(endpoint, "quiet-late").get(old_id) == "Active"
    assert summary["rotation"]["quiet-late"]["action"] == "stopped", summary["rotation"]["quiet-late"]
    assert_no_secrets(run, secrets_of(fleet, old_secret))
