"""Demo scenario "unknown-consumer": the quiet-key gate stops a rotation before the old key is touched.

A fleet on this machine runs on a 120-day-old key, and so does a cron job outside the inventory (tests/fleet/unknown.py,
signing with the key every second). The first `ansible-playbook rotor.iam.rotate` moves every host to a new key, sees
the old key still used after the switch, and stops: the old key stays Active, the cron job stays healthy. The cron job
is then moved to the new key by hand, and the second run finishes.
"""

from __future__ import annotations

import os
import subprocess
import time

from fleet.fleet import Fleet  # tests/ is on sys.path (scripts/demo.py puts it there)
from iam_endpoint.control import IAMEndpoint

from demo import USER, seed_user  # the same user and 120-day-old key as the default scenario

QUIET_MINUTES = 0.2  # the demo's consumer signs every second: twelve seconds of silence are telling


def _keys(endpoint):
    keys = endpoint.boto3_client("iam").list_access_keys(UserName=USER)["AccessKeyMetadata"]
    return {k["AccessKeyId"]: k["Status"] for k in keys}


def _journal_phase(endpoint):
    tags = endpoint.boto3_client("iam").list_user_tags(UserName=USER)["Tags"]
    return next((t["Value"] for t in tags if t["Key"] == "rotor:phase"), "(none)")


def _rotate(endpoint, inventory, label):
    print(f"\n=== {label}: ansible-playbook rotor.iam.rotate -e rotor_quiet_minutes={QUIET_MINUTES}\n", flush=True)
    command = ["ansible-playbook", "rotor.iam.rotate", "-i", inventory,
               "-e", f"rotor_aws_endpoint_url={endpoint.endpoint_url}", "-e", f"rotor_aws_region={endpoint.region}",
               "-e", f"rotor_quiet_minutes={QUIET_MINUTES}"]
    return subprocess.run(command, env=dict(os.environ, **endpoint.admin_env()), check=False).returncode


def _state(endpoint, fleet, unknown, since):
    hosts = fleet.health()
    print(f"\nIAM keys of {USER}: " + ", ".join(f"{k} ({s})" for k, s in _keys(endpoint).items())
          + f"; journal phase: {_journal_phase(endpoint)}")
    for host in sorted(hosts):
        print(f"  {host}: key {hosts[host].get('access_key_id')}, {'healthy' if hosts[host].get('healthy') else 'UNHEALTHY'}")
    failed = unknown.unhealthy_answers(since=since)
    print(f"  cron-box (not in the inventory): key {unknown.loaded_key()}, "
          + (f"{len(failed)} FAILED calls" if failed else "every call answered"), flush=True)
    return not failed


def run(hosts=2, mode="local", lag=2.0):
    """The scenario; returns 0 when the gate stopped the first run and the second finished, with nothing broken."""
    import tempfile  # pylint: disable=import-outside-toplevel

    workdir = tempfile.mkdtemp(prefix="rotor-demo-unknown-")
    with IAMEndpoint().start(workdir=os.path.join(workdir, "iam"), propagation_seconds=lag) as endpoint:
        old_id, old_secret = seed_user(endpoint)
        with Fleet(os.path.join(workdir, "fleet"), hosts, mode=mode, endpoint_url=endpoint.endpoint_url, region=endpoint.region,
                   users=USER, initial_keys={USER: (old_id, old_secret)}) as fleet:
            inventory = fleet.write_inventory()
            unknown = fleet.start_unknown_consumer("cron-box", old_id, old_secret, interval=1.0)
            began = time.time()
            print(f"{USER} has key {old_id} (120 days old), used by {hosts} inventory hosts and by cron-box, which the "
                  f"inventory does not list.", flush=True)

            first = _rotate(endpoint, inventory, "Run 1")
            healthy = _state(endpoint, fleet, unknown, began)
            keys = _keys(endpoint)
            stopped = first != 0 and keys.get(old_id) == "Active" and _journal_phase(endpoint) == "waiting_for_quiet"
            print("\nThe gate " + ("stopped the run before the old key was touched." if stopped else "did NOT stop the run."))

            new_id = next((k for k in keys if k != old_id), None)
            if new_id is None:
                return 1
            print(f"\n=== Moving cron-box to {new_id} by hand (its credentials file, then a reload)", flush=True)
            unknown.switch(new_id, fleet.read_credentials(sorted(fleet.hosts)[0])[1])

            second = _rotate(endpoint, inventory, "Run 2")
            healthy = _state(endpoint, fleet, unknown, began) and healthy
            finished = second == 0 and list(_keys(endpoint)) == [new_id]
    ok = stopped and finished and healthy
    print("\nDemo " + ("succeeded: the gate held the old key while cron-box used it, and the rotation finished once it moved."
                       if ok else "FAILED: see the output above."))
    return 0 if ok else 1
