"""Property-based tests of the holder checks (module_utils/holders.py) with the real host read and write.

Generated inventories, as operators write them: typos in variable names and paths, wrong profiles, wrong
formats, files holding another user's key, a deleted key or no key, hosts naming no user, ``create: true`` here
and there. The files are real (a temporary directory); they are read by rotor.iam.host_credentials state=read,
the plan is made by plan_rotation and the holder checks, and the due users' hosts are switched for real.

Invariants:
- never writes a location that does not hold a key of the user (or a key IAM no longer has: a broken host moved
  forward), unless ``create: true``;
- never deactivates or deletes a key any read host holds, whichever user that host names (or none).
"""

import datetime
import os
import tempfile

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.module_utils._rotation.holders import apply_to_plans
from ansible_collections.rotor.iam.plugins.module_utils._rotation.holders import keys_retired
from ansible_collections.rotor.iam.plugins.module_utils._rotation.holders import unknown_variable_message
from ansible_collections.rotor.iam.plugins.module_utils._rotation.holders import verify_holders
from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan import plan_rotation
from ansible_collections.rotor.iam.plugins.module_utils._rotation.hosts import host_read
from ansible_collections.rotor.iam.plugins.modules import host_credentials

NOW = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.timezone.utc)
OLD = (NOW - datetime.timedelta(days=120)).isoformat()
KEYS = {"alice": ["AKIAALICE00000000001"], "bob": ["AKIABOB0000000000001"]}
DELETED = "AKIADELETED000000001"  # IAM no longer has it
OWNERS = {"AKIAALICE00000000001": "alice", "AKIABOB0000000000001": "bob", DELETED: ""}
SECRET = "s3cr3t/s3cr3t+s3cr3t/s3cr3t+s3cr3t00000"
NEW_ID, NEW_SECRET = "AKIANEWKEY0000000001", "n3w/n3w+n3w/n3w+n3w/n3w+n3w/n3w+n3w0000"
KNOWN = {"rotor_iam_user", "rotor_credentials_files", "rotor_health_check", "rotor_force"}
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# What a declared entry gets wrong, if anything; held: whose key the file holds.
MISTAKES = ["none", "none", "none", "typo_path", "wrong_profile", "env_on_ini", "json_on_ini", "process_profile"]
HELD = ["own", "own", "own", "other", "deleted"]


class Runner:
    def run_command(self, args, **kwargs):  # no restart and no health check are configured
        raise AssertionError("nothing should run")

    def get_bin_path(self, name, required=False):
        return None


@st.composite
def inventories(draw):
    """2-4 hosts: the user each names ('' for none), a typo'd variable or not, 0-2 file entries with a mistake,
    whose key the file holds, and create."""
    hosts = {}
    for index in range(draw(st.integers(min_value=2, max_value=4))):
        entries = []
        for _entry in range(draw(st.integers(min_value=0, max_value=2))):
            entries.append({"mistake": draw(st.sampled_from(MISTAKES)), "held": draw(st.sampled_from(HELD)),
                            "create": draw(st.booleans())})
        hosts["host%d" % index] = {"user": draw(st.sampled_from(["alice", "alice", "bob", ""])), "entries": entries,
                                   "typo": draw(st.sampled_from([None, None, None, "rotor_credential_files", "rotor_forse"]))}
    return hosts


def _held_key(user, held):
    if held == "deleted":
        return DELETED
    owner = user if held == "own" and user else ("bob" if user != "bob" else "alice")
    return KEYS[owner][0]


def build(directory, inventory):
    """Write the hosts' files; return {host: (user, variables, rotor_credentials_files)}."""
    hosts = {}
    for host, spec in inventory.items():
        files = []
        for index, entry in enumerate(spec["entries"]):
            path = os.path.join(directory, "%s-%d.credentials" % (host, index))
            key_id = _held_key(spec["user"], entry["held"])
            with open(path, "w") as handle:
                if entry["mistake"] == "process_profile":
                    handle.write("[default]\ncredential_process = /usr/local/bin/get-creds\n")
                else:
                    handle.write("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (key_id, SECRET))
            declared = {"path": path, "create": entry["create"]}
            declared.update({"typo_path": {"path": path + "s"}, "wrong_profile": {"profile": "app"},
                             "env_on_ini": {"format": "env"}, "json_on_ini": {"format": "json"}}.get(entry["mistake"], {}))
            files.append(declared)
        variables = ["rotor_iam_user", "rotor_credentials_files"] + ([spec["typo"]] if spec["typo"] else [])
        hosts[host] = (spec["user"], variables, files)
    return hosts


def plan(hosts):
    """The plan as the role makes it: each host read for real, plan_rotation, then the holder checks."""
    reads = {host: host_credentials.run({"files": files, "state": "read"}, Runner())[0] for host, (_u, _v, files) in hosts.items()}
    infos = [{"user_name": user, "access_keys": [{"access_key_id": k, "status": "Active", "create_date": OLD, "age_days": 120}
                                                 for k in ids], "key_owners": OWNERS} for user, ids in KEYS.items()]
    named = {host: dict(host_read({"__rotor_read": reads[host]}), user=user) for host, (user, _v, _f) in hosts.items() if user}
    plans = plan_rotation(infos, named, now=NOW)
    described = {host: {"user": user, "user_name": user, "variables": variables, "files": files, "read": reads[host]}
                 for host, (user, variables, files) in hosts.items()}
    verdict = verify_holders(described, KEYS, OWNERS, known=KNOWN)
    apply_to_plans(plans, verdict, {host: user for host, (user, _v, _f) in hosts.items()})
    return plans, reads, verdict


def snapshot(directory):
    return {name: open(os.path.join(directory, name), "rb").read() for name in sorted(os.listdir(directory))}


@SETTINGS
@given(inventories())
def test_never_writes_a_location_that_holds_no_key_of_the_user_unless_create(inventory):
    with tempfile.TemporaryDirectory() as directory:
        hosts = build(directory, inventory)
        plans, reads, _verdict = plan(hosts)
        for user, user_plan in plans.items():
            if not user_plan["due"] or user_plan["error"]:
                continue
            for host, (named, _variables, files) in hosts.items():
                if named != user:
                    continue
                for entry, report in zip(files, reads[host]["files"]):
                    held = report.get("access_key_id")
                    assert entry["create"] or held in KEYS[user] or held == DELETED, (host, entry, report, user_plan)
                before = snapshot(directory)
                switched = host_credentials.run({"files": files, "state": "switched", "access_key_id": NEW_ID,
                                                 "secret_access_key": NEW_SECRET}, Runner())[0]
                assert not switched.get("failed"), switched
                created = set(snapshot(directory)) - set(before)
                assert all(name.endswith(".rotor-iam-backup") or any(e["create"] and e["path"].endswith(name) for e in files)
                           for name in created), created


@SETTINGS
@given(inventories())
def test_the_write_itself_refuses_a_location_with_no_key_unless_create(inventory):
    with tempfile.TemporaryDirectory() as directory:
        hosts = build(directory, inventory)
        for _host, (_user, _variables, files) in hosts.items():
            for entry in files:
                read = host_credentials.run({"files": [entry], "state": "read"}, Runner())[0]["files"][0]
                before = snapshot(directory)
                result = host_credentials.run({"files": [entry], "state": "switched", "access_key_id": NEW_ID,
                                               "secret_access_key": NEW_SECRET, "backup": False}, Runner())[0]
                if read.get("error"):  # a file that does not parse in its declared format is never written
                    assert result.get("failed") and "not a valid" in result["msg"], result
                    assert snapshot(directory) == before
                elif not read.get("access_key_id") and not entry["create"]:
                    assert result.get("failed") and "set create: true" in result["msg"], result
                    assert snapshot(directory) == before
                else:
                    assert not result.get("failed"), result


@SETTINGS
@given(inventories())
def test_never_deactivates_or_deletes_a_key_any_read_host_holds(inventory):
    with tempfile.TemporaryDirectory() as directory:
        hosts = build(directory, inventory)
        plans, reads, _verdict = plan(hosts)
        for user, user_plan in plans.items():
            for _kind, key_id in keys_retired(user_plan) if not user_plan["error"] else []:
                holders = [host for host, result in reads.items() if key_id in (result.get("key_ids") or [])]
                assert all(hosts[host][0] == user for host in holders), (user, key_id, holders, user_plan)


@SETTINGS
@given(inventories())
def test_every_refusal_names_a_host_and_what_was_found(inventory):
    with tempfile.TemporaryDirectory() as directory:
        hosts = build(directory, inventory)
        plans, _reads, verdict = plan(hosts)
        for user, messages in verdict["refusals"].items():
            assert plans[user]["error"] and "rotor_force does not override this" in plans[user]["error"]
            assert all(message.startswith("host host") for message in messages), messages
            assert SECRET not in plans[user]["error"]
        for host, (user, variables, _files) in hosts.items():
            if user and any(name not in KNOWN for name in variables):
                assert "is not a rotor.iam variable" in plans[user]["error"]


def test_an_unknown_variable_is_named_with_the_closest_known_one():
    known = {"rotor_credentials_files", "rotor_iam_user", "rotor_force"}
    assert unknown_variable_message("rotor_credential_files", known) == (
        "`rotor_credential_files` is not a rotor.iam variable; did you mean `rotor_credentials_files`?")
    assert "did you mean" not in unknown_variable_message("rotor_zzz_qqq_www", known)


def test_the_known_variables_are_derived_from_the_collection_itself():
    import yaml  # pylint: disable=import-outside-toplevel
    from ansible_collections.rotor.iam.plugins.module_utils._rotation.holders import known_variable_names  # pylint: disable=import-outside-toplevel

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(host_credentials.__file__))))
    known = known_variable_names(root)
    with open(os.path.join(root, "roles", "rotate", "meta", "argument_specs.yml")) as handle:
        options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    assert set(options) <= known
    # the workflow's variables and what its jobs publish (AWX passes artifacts on as extra variables)
    assert {"rotor_run_id", "rotor_batch_size", "rotor_prepare", "rotor_slice", "rotor_audit_scope"} <= known
    assert "rotor_credential_files" not in known and not any(name.startswith("__") for name in known)
