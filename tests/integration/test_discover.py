"""Consumer discovery end to end: ``ansible-playbook rotor.iam.discover`` over a fleet (local and SSH hosts)
against the test IAM endpoint, checked through the consumer map it writes, the host_vars it proposes, a
check-mode rotation that accepts them, and its output at -vvvv (never a secret).

The hosts are hostile: each test plants, in a directory the search walks, a link to another file, a FIFO, a file
bigger than the cap, and a secret access key where a key id belongs.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from audit_helpers import run_audit  # noqa: E402  pylint: disable=wrong-import-position
from fleet.fleet import Fleet  # noqa: E402  pylint: disable=wrong-import-position
from harness import ansible_env, assert_no_leaks, leaks_in_texts  # noqa: E402  pylint: disable=wrong-import-position
from rotation_helpers import ansible_playbook, run_rotation, write_host_overrides  # noqa: E402  pylint: disable=wrong-import-position

PLAYBOOK = "rotor.iam.discover"
TIMEOUT = 240
UNKNOWN_KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # AWS's documentation key id: no IAM user has it
IAM_WRITES = ("CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey")


@dataclass
class DiscoverRun:
    command: List[str]
    returncode: int
    stdout: str
    stderr: str
    report_path: Path
    calls: Dict[str, int]

    def report(self) -> Dict:
        return json.loads(self.report_path.read_text())

    def explain(self) -> str:
        return f"{' '.join(self.command)} exited {self.returncode}\n--- stdout\n{self.stdout[-8000:]}\n--- stderr\n{self.stderr[-2000:]}"


def run_discover(endpoint, workdir: Path, inventories: Iterable[str], extra_vars: Optional[Dict] = None, check: bool = False,
                 verbosity: int = 0, label: str = "discover") -> DiscoverRun:
    workdir.mkdir(parents=True, exist_ok=True)
    variables = {"rotor_aws_endpoint_url": endpoint.endpoint_url, "rotor_aws_region": endpoint.region,
                 "rotor_discover_report": str(workdir / f"{label}.json")}
    variables.update(extra_vars or {})
    vars_file = workdir / f"{label}.vars.json"
    vars_file.write_text(json.dumps(variables))
    command = [ansible_playbook(), PLAYBOOK]
    for inventory in inventories:
        command += ["-i", str(inventory)]
    command += ["-e", f"@{vars_file}"]
    if check:
        command += ["--check", "--diff"]
    if verbosity:
        command.append("-" + "v" * verbosity)
    endpoint.reset_calls()
    completed = subprocess.run(command, env=ansible_env(endpoint, endpoint_in_env=False), cwd=workdir, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=TIMEOUT, check=False)
    return DiscoverRun(command, completed.returncode, completed.stdout, completed.stderr, Path(variables["rotor_discover_report"]),
                       endpoint.calls()["calls"])


@pytest.fixture
def endpoint(empty_endpoint):
    """An empty account without lags: discovery changes no key."""
    empty_endpoint.configure(propagation_seconds=0)
    return empty_endpoint


def seed(endpoint):
    """alice (the fleet's declared user), bob (a key planted undeclared on host1), carol (used today, on no host),
    dave (held by host3, which declares nothing). Returns {user: (id, secret)}."""
    made = endpoint.seed([
        {"user_name": "alice", "keys": [{"age_days": 30, "last_used_days_ago": 1}]},
        {"user_name": "bob", "keys": [{"age_days": 100, "last_used_days_ago": 3}]},
        {"user_name": "carol", "keys": [{"age_days": 10, "last_used_days_ago": 0, "service": "s3"}]},
        {"user_name": "dave", "keys": [{"age_days": 50, "last_used_days_ago": 2}]},
    ])
    return {user["user_name"]: (user["keys"][0]["access_key_id"], user["keys"][0]["secret_access_key"]) for user in made["users"]}


def plant(app: Path, keys: Dict, other_file: Path) -> None:
    """host1's application directory: bob's key undeclared in an .env, an unknown key id, and the hostile cases."""
    app.mkdir(parents=True, exist_ok=True)
    bob_id, bob_secret = keys["bob"]
    (app / ".env").write_text(f"AWS_ACCESS_KEY_ID={bob_id}\nAWS_SECRET_ACCESS_KEY={bob_secret}\n")
    (app / "old.env").write_text(f"export AWS_ACCESS_KEY_ID={UNKNOWN_KEY_ID}\n")
    # A secret where a key id belongs (carol's: its id must not be found either, nor the secret shown).
    (app / "swapped.env").write_text(f"AWS_ACCESS_KEY_ID={keys['carol'][1]}\nAWS_SECRET_ACCESS_KEY={keys['carol'][0]}\n")
    other_file.write_text(f"[default]\naws_access_key_id = {keys['dave'][0]}\n")
    os.symlink(str(other_file), str(app / "link-to-other"))
    os.mkfifo(str(app / "fifo"))
    with open(app / "huge.txt", "w") as handle:
        handle.write(f"AWS_ACCESS_KEY_ID={keys['carol'][0]}\n" + "x" * (1 << 20) + "\n")


def all_secrets(keys: Dict, endpoint) -> Dict[str, str]:
    found = {f"secret of {user}": secret for user, (_id, secret) in keys.items()}
    found["admin secret"] = endpoint.admin_secret_access_key
    return found


def holders_of(report: Dict, key_id: str) -> List[Dict]:
    for key in report["keys"]:
        if key["access_key_id"] == key_id:
            return key["holders"]
    return []


def _check_map(report, keys, fleet, app_dir, host3_credentials):
    alice_id, bob_id, carol_id, dave_id = (keys[u][0] for u in ("alice", "bob", "carol", "dave"))
    # Declared: alice's key in host1's and host2's declared credentials file.
    alice = holders_of(report, alice_id)
    assert sorted(h["host"] for h in alice) == ["host1", "host2"], alice
    assert all(h["declared"] and h["format"] == "aws_credentials" and h["profile"] == "default" for h in alice), alice
    key = next(k for k in report["keys"] if k["access_key_id"] == alice_id)
    assert key["known_to_iam"] and key["iam"]["user_name"] == "alice" and key["iam"]["status"] == "Active"
    assert key["iam"]["age_days"] == 30
    # Undeclared: bob's key in host1's .env (host1 declares alice).
    bob = holders_of(report, bob_id)
    assert [(h["host"], h["path"], h["declared"], h["variable"]) for h in bob] == [("host1", f"{app_dir}/.env", False, "AWS_ACCESS_KEY_ID")], bob
    assert "bob" in bob[0]["why"] and "alice" in bob[0]["why"]
    assert bob[0]["mode"] == "0644" and bob[0]["owner"] == "root"
    # host3 declares no user: dave's key there is undeclared, and the proposal declares it.
    dave = holders_of(report, dave_id)
    assert [(h["host"], h["declared"]) for h in dave] == [("host3", False)], dave
    assert report["inventory"]["host3"]["rotor_iam_user"] == "dave"
    assert report["inventory"]["host3"]["rotor_credentials_files"] == [
        {"path": host3_credentials, "format": "aws_credentials", "profile": "default", "mode": "0600"}]
    # A key id IAM does not know.
    unknown = next(k for k in report["keys"] if k["access_key_id"] == UNKNOWN_KEY_ID)
    assert unknown["known_to_iam"] is False and "does not know" in unknown["note"]
    # carol's key: used today, on no host (its secret sits in a key-id slot, its id only in the file too big to read).
    assert carol_id in [k["access_key_id"] for k in report["seen_in_aws_only"]]
    assert holders_of(report, carol_id) == []
    # The hostile cases, each named with its reason; the link's target (dave's key) is not read through it.
    problems = {(p["host"], p.get("path")): p["problem"] for p in report["problems"]}
    assert "symbolic link" in problems[("host1", f"{app_dir}/link-to-other")]
    assert "FIFO" in problems[("host1", f"{app_dir}/fifo")]
    assert "larger than" in problems[("host1", f"{app_dir}/huge.txt")]
    assert "secret access key" in problems[("host1", f"{app_dir}/swapped.env")]
    assert all(h["host"] == "host3" for h in dave)
    assert report["summary"]["hosts_searched"] == 3


@pytest.mark.parametrize("mode", ["local", pytest.param("ssh", marks=pytest.mark.ssh)])
def test_discovery_maps_declared_and_undeclared_keys_and_writes_a_usable_inventory(endpoint, tmp_path, mode):
    keys = seed(endpoint)
    fleet = Fleet(str(tmp_path / "fleet"), 3, mode=mode, endpoint_url=endpoint.endpoint_url, region=endpoint.region,
                  users={"host1": "alice", "host2": "alice", "host3": None},
                  initial_keys={"alice": keys["alice"], None: keys["dave"]})
    with fleet:
        inventory = fleet.write_inventory()
        host1 = fleet.host("host1")
        app_real = Path(host1.dir) / "app"
        app_seen = os.path.join(host1.root, "app")  # the path as host1 sees it
        plant(app_real, keys, Path(host1.dir) / "other-credentials")
        # The operator's paths, per host; host3's own declaration comes from the proposal.
        overrides = write_host_overrides(tmp_path / "discover-paths.yml", {
            "host1": {"rotor_discover_paths": [app_seen], "rotor_discover_search": []},
            "host2": {"rotor_discover_search": []},
            "host3": {"rotor_discover_search": [], "rotor_discover_paths": [fleet.host("host3").credentials_path],
                      "rotor_credentials_files": [], "rotor_iam_user": ""},
        })
        inventory_dir = tmp_path / "proposed"
        (inventory_dir / "host_vars").mkdir(parents=True)
        (inventory_dir / "host_vars" / "host1.yml").write_text("# the operator's own file\n")

        check = run_discover(endpoint, tmp_path / "work", [inventory, overrides], check=True, label="check",
                             extra_vars={"rotor_discover_inventory_dir": str(inventory_dir)})
        assert check.returncode == 0, check.explain()
        assert not check.report_path.exists(), "check mode wrote the map"
        assert not (inventory_dir / "host_vars" / "host3.yml").exists(), "check mode wrote a host_vars file"

        run = run_discover(endpoint, tmp_path / "work", [inventory, overrides], verbosity=4,
                           extra_vars={"rotor_discover_inventory_dir": str(inventory_dir)})
        assert run.returncode == 0, run.explain()
        assert not any(run.calls.get(action) for action in IAM_WRITES), run.calls
        report = run.report()
        _check_map(report, keys, fleet, app_seen, fleet.host("host3").credentials_path)
        assert oct(run.report_path.stat().st_mode & 0o777) == "0o600"

        # The operator's host_vars file is left alone and said so; host3's proposal is written.
        assert (inventory_dir / "host_vars" / "host1.yml").read_text() == "# the operator's own file\n"
        assert "already exists and was left as it is" in run.stdout
        proposed = (inventory_dir / "host_vars" / "host3.yml").read_text()
        assert "rotor_iam_user: dave" in proposed and "review" in proposed

        # No secret anywhere: the output at -vvvv, the map, the proposed files.
        texts = {"stdout": run.stdout, "stderr": run.stderr, "check stdout": check.stdout, "map": run.report_path.read_text(),
                 "host3.yml": proposed}
        assert_no_leaks(leaks_in_texts(texts, all_secrets(keys, endpoint)), "discovery's output, map and proposals")

        # The audit shows the same map (rotor_audit_discovery), with the keys' status as the audit sees them.
        audit = run_audit(endpoint, tmp_path / "audit", [inventory, overrides], extra_vars={"rotor_audit_discovery": str(run.report_path)})
        assert audit.returncode == 0, audit.explain()
        consumers = audit.report()["consumers"]
        assert {(u["host"], u["access_key_id"]) for u in consumers["undeclared"]} >= {("host1", keys["bob"][0]), ("host3", keys["dave"][0])}
        assert keys["carol"][0] in [k["access_key_id"] for k in consumers["seen_in_aws_only"]]
        alice_row = next(r for r in consumers["keys"] if r["access_key_id"] == keys["alice"][0])
        assert (alice_row["status"], alice_row["status_source"], alice_row["declared"]) == ("Active", "audit", 2)
        assert "Undeclared consumers" in audit.markdown_path.read_text() and "Undeclared consumers" in audit.html_path.read_text()
        assert "not declared in the inventory" in audit.stdout
        assert_no_leaks(leaks_in_texts(audit.outputs(), all_secrets(keys, endpoint)), "the audit's output and reports")

        # The proposal is a usable inventory: a check-mode rotation of host3 accepts it and plans dave's rotation.
        (inventory_dir / "inventory.yml").write_text(json.dumps({"all": {"hosts": {"host3": fleet.host_vars("host3") | {
            "rotor_iam_user": "", "rotor_credentials_files": []}}}}))
        rotation = run_rotation(endpoint, [inventory, str(inventory_dir / "inventory.yml")], tmp_path / "rotate", check=True,
                                limit="host3", extra_vars={"rotor_max_key_age_days": 30})
        assert rotation.returncode == 0, rotation.explain()
        assert "dave" in rotation.stdout
        assert not any(rotation.calls.get(action) for action in IAM_WRITES), rotation.calls


def test_bad_input_is_named_and_nothing_is_searched(endpoint, tmp_path):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"all": {"hosts": {"box": {"ansible_connection": "local",
                                                               "ansible_python_interpreter": "/usr/bin/python3"}}}}))
    cases = {
        "a string": ({"rotor_discover_paths": "/etc/app.env"}, "rotor_discover_paths and rotor_discover_search must be lists"),
        "relative": ({"rotor_discover_paths": ["etc/app.env"]}, "is not absolute"),
        "glob too wide": ({"rotor_discover_paths": ["/usr/lib/*/*"], "rotor_discover_max_glob_matches": 5}, "matches more than 5 paths"),
    }
    for label, (extra, message) in cases.items():
        run = run_discover(endpoint, tmp_path / label.replace(" ", "-"), [str(inventory)],
                           extra_vars=dict(extra, rotor_discover_iam=False, rotor_discover_search=[]))
        assert run.returncode != 0, f"{label}: {run.explain()}"
        assert message in run.stdout, f"{label}: {run.explain()}"
        assert "Traceback" not in run.stdout + run.stderr, label
        assert not run.report_path.exists()
