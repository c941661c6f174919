"""The main job: a real rotation on this machine's embedded IAM endpoint and fleet.

Starts the IAM endpoint (moto, auth enforced, Inactive keys rejected), seeds
an IAM user whose only key is 120 days old, starts a fleet of hosts each
running a consumer application that signs a real STS call with its key on
every health request, runs `ansible-playbook rotor.iam.rotate` with the
README's ansible.cfg (docs/ansible.cfg), whose output ends with the
collection's own summary table, checks the outcome and stops everything it
started.
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
# The README's example ansible.cfg: quiet output, results as YAML.
ANSIBLE_CFG = os.path.join(ROOT, "docs", "ansible.cfg")


def seed_user(endpoint):
    iam = endpoint.boto3_client("iam")
    iam.create_user(UserName=USER)
    key = iam.create_access_key(UserName=USER)["AccessKey"]
    endpoint.backdate(USER, key["AccessKeyId"], 120)
    return key["AccessKeyId"], key["SecretAccessKey"]


def iam_keys(endpoint):
    keys = endpoint.boto3_client("iam").list_access_keys(UserName=USER)["AccessKeyMetadata"]
    return ", ".join(f"{k['AccessKeyId']} ({k['Status']})" for k in keys)


def ansible_env(endpoint):
    """The environment of the demo's ansible-playbook: the endpoint's admin key and the README's ansible.cfg."""
    return dict(os.environ, **endpoint.admin_env(), ANSIBLE_CONFIG=ANSIBLE_CFG, PYTHONWARNINGS="ignore")


def default_scenario(args):
    """Rotate the 120-day-old key of one IAM user across a fleet of args.hosts hosts; 0 when every host ends healthy on
    a new key and the old key is gone (in check mode: when the plan ran and nothing changed)."""
    workdir = tempfile.mkdtemp(prefix="rotor-demo-")
    endpoint = IAMEndpoint().start(workdir=os.path.join(workdir, "iam"), propagation_seconds=args.lag)
    with endpoint:
        old_id, old_secret = seed_user(endpoint)
        print(f"IAM endpoint {endpoint.endpoint_url}: user {USER} has key {old_id}, created 120 days ago; "
              f"every key change takes {args.lag:g}s to propagate, as in AWS")
        with Fleet(os.path.join(workdir, "fleet"), args.hosts, mode=args.mode, endpoint_url=endpoint.endpoint_url,
                   region=endpoint.region, users=USER, initial_keys={USER: (old_id, old_secret)}) as fleet:
            inventory = fleet.write_inventory()
            print(f"Fleet of {args.hosts} {args.mode} hosts up; running ansible-playbook rotor.iam.rotate "
                  f"(settings: {os.path.relpath(ANSIBLE_CFG, ROOT)})\n", flush=True)
            command = ["ansible-playbook", "rotor.iam.rotate", "-i", inventory,
                       "-e", f"rotor_aws_endpoint_url={endpoint.endpoint_url}",
                       "-e", f"rotor_aws_region={endpoint.region}"]
            if args.check:
                command += ["--check", "--diff"]
            result = subprocess.run(command, env=ansible_env(endpoint), check=False)
            after = fleet.health()
            keys = iam_keys(endpoint)
            print(f"\nIAM keys of {USER} now: {keys}")
            ok = result.returncode == 0 and all(h.get("healthy") for h in after.values())
            if args.check:
                ok = ok and keys == f"{old_id} (Active)"
            else:
                moved = all(h.get("access_key_id") not in (None, old_id) for h in after.values())
                ok = ok and moved and old_id not in keys
            print("Demo " + ("succeeded: " + ("the plan above changed nothing." if args.check else
                                              "every host is healthy on a new key and the old key is gone.")
                             if ok else "FAILED: see the output above."))
    return 0 if ok else 1


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
    return default_scenario(args)


if __name__ == "__main__":
    sys.exit(main())
