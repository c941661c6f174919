"""The main job: a real rotation on this machine's embedded IAM endpoint and fleet.

Starts the IAM endpoint (moto, auth enforced, Inactive keys rejected), seeds
an IAM user whose only key is 120 days old, starts a fleet of hosts each
running a consumer application that signs a real STS call with its key on
every health request, runs `ansible-playbook rotor.iam.rotate`, prints a
before/after table and stops everything it started.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from fleet.fleet import Fleet  # noqa: E402  pylint: disable=wrong-import-position
from iam_endpoint.control import IAMEndpoint  # noqa: E402  pylint: disable=wrong-import-position

USER = "demo-app"


def seed_user(endpoint):
    iam = endpoint.boto3_client("iam")
    iam.create_user(UserName=USER)
    key = iam.create_access_key(UserName=USER)["AccessKey"]
    endpoint.backdate(USER, key["AccessKeyId"], 120)
    return key["AccessKeyId"], key["SecretAccessKey"]


def iam_keys(endpoint):
    keys = endpoint.boto3_client("iam").list_access_keys(UserName=USER)["AccessKeyMetadata"]
    return ", ".join(f"{k['AccessKeyId']} ({k['Status']})" for k in keys)


def table(before, after):
    rows = [("host", "key before", "healthy", "key after", "healthy")]
    for host in sorted(before, key=lambda h: int(h.replace("host", "") or 0)):
        b, a = before[host], after.get(host, {})
        rows.append((host, b.get("access_key_id") or "-", "yes" if b.get("healthy") else "NO",
                     a.get("access_key_id") or "-", "yes" if a.get("healthy") else "NO"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--hosts", type=int, default=3, help="fleet size (default 3)")
    parser.add_argument("--mode", choices=["local", "ssh"], default="local", help="how Ansible reaches the hosts")
    parser.add_argument("--check", action="store_true", help="only show the plan (ansible-playbook --check --diff)")
    parser.add_argument("--lag", type=float, default=6.0,
                        help="seconds the endpoint takes to propagate each key change, like AWS (default 6; 0 for none)")
    parser.add_argument("--scenario", choices=["rotation", "unknown-consumer"], default="rotation",
                        help="unknown-consumer: the quiet-key gate stops a rotation while a cron job outside the inventory "
                             "uses the old key, and the next run finishes once it is moved (scripts/demo_unknown_consumer.py)")
    args = parser.parse_args()
    if args.scenario == "unknown-consumer":
        from demo_unknown_consumer import run as unknown_consumer  # pylint: disable=import-outside-toplevel
        return unknown_consumer(hosts=args.hosts, mode=args.mode, lag=min(args.lag, 2.0))

    workdir = tempfile.mkdtemp(prefix="rotor-demo-")
    endpoint = IAMEndpoint().start(workdir=os.path.join(workdir, "iam"), propagation_seconds=args.lag)
    with endpoint:
        old_id, old_secret = seed_user(endpoint)
        print(f"IAM endpoint {endpoint.endpoint_url}: user {USER} has key {old_id}, created 120 days ago; "
              f"every key change takes {args.lag:g}s to propagate, as in AWS")
        with Fleet(os.path.join(workdir, "fleet"), args.hosts, mode=args.mode, endpoint_url=endpoint.endpoint_url,
                   region=endpoint.region, users=USER, initial_keys={USER: (old_id, old_secret)}) as fleet:
            inventory = fleet.write_inventory()
            before = fleet.health()
            print(f"Fleet of {args.hosts} {args.mode} hosts up; running ansible-playbook rotor.iam.rotate\n", flush=True)
            command = ["ansible-playbook", "rotor.iam.rotate", "-i", inventory,
                       "-e", f"rotor_aws_endpoint_url={endpoint.endpoint_url}",
                       "-e", f"rotor_aws_region={endpoint.region}"]
            if args.check:
                command += ["--check", "--diff"]
            env = dict(os.environ, **endpoint.admin_env())
            result = subprocess.run(command, env=env, check=False)
            after = fleet.health()
            print("\n" + table(before, after))
            print(f"\nIAM keys of {USER} now: {iam_keys(endpoint)}")
            ok = result.returncode == 0 and all(h.get("healthy") for h in after.values())
            if not args.check:
                moved = all(h.get("access_key_id") not in (None, old_id) for h in after.values())
                gone = old_id not in iam_keys(endpoint)
                ok = ok and moved and gone
                print("Demo " + ("succeeded: every host is healthy on a new key and the old key is gone."
                                 if ok else "FAILED: see the output above."))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
