"""What the controller checks before anything changes, as an operator runs it (issue 19, points 4 to 7).

Real parts only: ``ansible-playbook rotor.iam.rotate`` against the test IAM endpoint (moto, authentication and
IAM policies enforced) and a fleet of local hosts whose consumers sign real STS calls. Each case asserts the IAM
keys, the hosts' files, and the exact sentence the operator reads.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from rotation_helpers import assert_hosts_on_key, key_statuses, run_rotation, seed_user  # noqa: E402  pylint: disable=wrong-import-position
from rotation_helpers import spawn_rotation, write_host_overrides  # noqa: E402  pylint: disable=wrong-import-position
from support import plan_row, run_playbook  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.slow

FAST = {"rotor_lock_settle_seconds": 0.5, "rotor_verify_timeout": 30}
ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}


@pytest.fixture
def fleet_of(empty_endpoint, fleets):
    """A user with a 120-day-old key held by ``size`` local hosts: (fleet, old key id)."""

    def make(user, size=2):
        fleet, old_id, _secret = fleets.seeded(user, size, 120)
        return fleet, old_id

    return make


def identity(endpoint, name, *statements):
    """An IAM user holding only ``statements``; its key as environment variables."""
    iam = endpoint.boto3_client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="rotor", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def plan_lines(stdout):
    """The lines of the 'Show the plan' task."""
    block = stdout.split("TASK [rotor.iam.rotate : Show the plan]", 1)[1].split("TASK [", 1)[0]
    return json.loads(block[block.index('"msg": [') + len('"msg": '):block.rindex("]") + 1])


def final_message(stdout: str) -> str:
    """The message of the run's last failed task (the one the operator reads last), ignored failures apart."""
    decoder, messages = json.JSONDecoder(), []
    for match in re.finditer(r"^fatal: \[[^\]]+\]: FAILED! => ", stdout, flags=re.M):
        result, end = decoder.raw_decode(stdout, match.end())
        if not stdout[end:end + 20].lstrip().startswith("...ignoring"):
            messages.append(result.get("msg"))
    assert messages, "the run printed no failure"
    return str(messages[-1])


def rotate(endpoint, fleet, tmp_path, label, inventories=(), **options):
    extra_vars = dict(FAST, **options.pop("extra_vars", {}))
    return run_rotation(endpoint, [fleet.inventory_path, *inventories], tmp_path / "runs", label=label, extra_vars=extra_vars,
                        verbosity=1, **options)


def recap(stdout):
    """{host: {ok, changed, ...}} from PLAY RECAP."""
    found = {}
    for host, counters in re.findall(r"^(\S+)\s+: (ok=.*)$", stdout.split("PLAY RECAP", 1)[1], flags=re.M):
        found[host] = {name: int(value) for name, value in re.findall(r"(\w+)=(\d+)", counters)}
    return found


# --------------------------------------------------------------------------- point 4: who acts, and whether it can


def test_the_plan_names_the_caller_its_credentials_and_its_permissions(empty_endpoint, fleet_of, tmp_path):
    fleet, old_id = fleet_of("cc-app")

    run = rotate(empty_endpoint, fleet, tmp_path, "check", check=True)

    assert run.returncode == 0, run.explain()
    lines = plan_lines(run.stdout)
    admin = empty_endpoint.admin_access_key_id
    assert lines[0] == (f"caller [endpoint_url {empty_endpoint.endpoint_url}, region {empty_endpoint.region}]: "
                        f"arn:aws:iam::123456789012:user/rotor-admin (account 123456789012), credentials from "
                        f"environment variables (AWS_ACCESS_KEY_ID), access key {admin}")
    assert lines[1].startswith("permissions: every action the plan may need is allowed by the caller's IAM policies"), lines
    assert lines[2].startswith("| user ") and plan_row("\n".join(lines), "cc-app")["action and why"].startswith("ROTATE - "), lines
    assert key_statuses(empty_endpoint, "cc-app") == {old_id: "Active"}


def test_environment_keys_that_override_aws_profile_are_named(empty_endpoint, fleet_of, tmp_path):
    """Admin keys left in the environment and AWS_PROFILE=limited: botocore signs with the admin keys; the plan says so."""
    fleet, _old_id = fleet_of("cc-profile")
    limited = identity(empty_endpoint, "cc-limited", ALLOW_ALL)
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[limited]\naws_access_key_id = {limited['AWS_ACCESS_KEY_ID']}\n"
                           f"aws_secret_access_key = {limited['AWS_SECRET_ACCESS_KEY']}\n")

    run = rotate(empty_endpoint, fleet, tmp_path, "profile", check=True,
                 env_extra={"AWS_PROFILE": "limited", "AWS_SHARED_CREDENTIALS_FILE": str(credentials)})

    assert run.returncode == 0, run.explain()
    lines = plan_lines(run.stdout)
    assert ":user/rotor-admin " in lines[0] and f"access key {empty_endpoint.admin_access_key_id}" in lines[0], lines
    assert lines[1].startswith("WARNING [") and lines[1].endswith(
        f"AWS_PROFILE=limited is set but NOT used: the access key in AWS_ACCESS_KEY_ID ({empty_endpoint.admin_access_key_id}) "
        f"signs rotor's calls, because environment keys are given to botocore explicitly. Unset AWS_ACCESS_KEY_ID and "
        f"AWS_SECRET_ACCESS_KEY, or set rotor_aws_profile=limited (a profile given to rotor wins over environment keys)."), lines
    assert limited["AWS_SECRET_ACCESS_KEY"] not in run.stdout + run.stderr


def test_sts_unreachable_fails_at_once_naming_the_endpoint(empty_endpoint, fleet_of, tmp_path):
    """STS refuses connections (IAM answers): the run stops in the plan, names the endpoint, changes nothing,
    and says nothing about propagation (it used to poll for rotor_verify_timeout and blame IAM)."""
    fleet, old_id = fleet_of("cc-sts")
    began = time.monotonic()

    run = rotate(empty_endpoint, fleet, tmp_path, "sts", extra_vars={"rotor_aws_endpoint_url": "", "rotor_verify_timeout": 120},
                 env_extra={"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9"})

    assert run.returncode != 0, run.explain()
    assert time.monotonic() - began < 100, "it should fail at once, not after rotor_verify_timeout"
    message = final_message(run.stdout)
    assert message.startswith('Cannot reach AWS STS at http://127.0.0.1:9: EndpointConnectionError: Could not connect to the '
                              'endpoint URL: "http://127.0.0.1:9/". Nothing was changed.'), message
    assert "propagat" not in run.stdout
    assert key_statuses(empty_endpoint, "cc-sts") == {old_id: "Active"}
    assert_hosts_on_key(fleet, old_id)
    assert run.calls.get("CreateAccessKey", 0) == 0 and run.calls.get("TagUser", 0) == 0, run.calls


def test_check_mode_reports_an_action_the_policy_denies(empty_endpoint, fleet_of, tmp_path):
    fleet, old_id = fleet_of("cc-denied")
    limited = identity(empty_endpoint, "cc-no-update", ALLOW_ALL, {"Effect": "Deny", "Action": "iam:UpdateAccessKey", "Resource": "*"})

    run = rotate(empty_endpoint, fleet, tmp_path, "denied", check=True, env_extra=limited)

    assert run.returncode == 0, run.explain()
    lines = plan_lines(run.stdout)
    assert lines[1].startswith(
        "permissions: DENIED by the caller's IAM policies - iam:UpdateAccessKey (explicitDeny) on "
        "arn:aws:iam::123456789012:user/cc-denied. A rotation that needs one of them stops there"), lines
    assert key_statuses(empty_endpoint, "cc-denied") == {old_id: "Active"}


def test_the_plan_says_when_permissions_could_not_be_checked(empty_endpoint, fleet_of, tmp_path):
    fleet, _old_id = fleet_of("cc-unchecked")
    limited = identity(empty_endpoint, "cc-no-simulate", {"Effect": "Allow", "Action": ["iam:ListUserTags", "iam:TagUser", "iam:UntagUser",
                                                                                        "iam:ListAccessKeys", "iam:GetAccessKeyLastUsed"],
                                                          "Resource": "*"})

    run = rotate(empty_endpoint, fleet, tmp_path, "unchecked", check=True, env_extra=limited)

    assert run.returncode == 0, run.explain()
    assert plan_lines(run.stdout)[1] == (
        "permissions: NOT checked (the caller may not call iam:SimulatePrincipalPolicy on "
        "arn:aws:iam::123456789012:user/cc-no-simulate (AccessDenied)); a missing permission shows only when the run reaches it"
        f" [endpoint_url {empty_endpoint.endpoint_url}, region {empty_endpoint.region}]")


# --------------------------------------------------------------------------- point 5: inputs refused before anything changes


def test_a_batch_size_that_is_not_one_is_refused_before_anything_changes(empty_endpoint, fleet_of, tmp_path):
    fleet, old_id = fleet_of("cc-batch")

    run = rotate(empty_endpoint, fleet, tmp_path, "batch", extra_vars={"rotor_batch_size": "abc"})

    assert run.returncode == 2, run.explain()
    assert final_message(run.stdout) == ("rotor_batch_size must be a whole number of hosts (at least 1), a percentage such as "
                                         "'25%', or a list of those; got 'abc'. Nothing was changed.")
    assert "Traceback" not in run.stdout + run.stderr
    assert key_statuses(empty_endpoint, "cc-batch") == {old_id: "Active"}
    assert_hosts_on_key(fleet, old_id)


def test_a_variable_of_the_wrong_type_is_refused_once_by_the_roles_contract(empty_endpoint, fleet_of, tmp_path):
    """The playbook validates the rotor_* variables once, against the role's one entry point (main), before any task
    of the role runs: a wrong type and a wrong choice are each named, nothing changes, and no phase validates again."""
    fleet, old_id = fleet_of("cc-types")

    run = rotate(empty_endpoint, fleet, tmp_path, "types", extra_vars={"rotor_max_key_age_days": "ninety", "rotor_old_key_action": "shred"})

    assert run.returncode == 2, run.explain()
    message = final_message(run.stdout)
    assert message.startswith("Validation of arguments failed:"), message
    assert "rotor_max_key_age_days" in message and "rotor_old_key_action" in message and "shred" in message, message
    validations = [line for line in run.stdout.splitlines() if line.startswith("TASK [") and "alidat" in line]
    assert len(validations) == 1, validations
    role_tasks = [line for line in run.stdout.splitlines() if line.startswith("TASK [rotor.iam.rotate :")]
    assert len(role_tasks) == 2 and "Refuse the rotor_* variables" in role_tasks[-1], \
        f"a task of the role ran after the contract refused the variables: {role_tasks}"
    assert "Traceback" not in run.stdout + run.stderr
    assert key_statuses(empty_endpoint, "cc-types") == {old_id: "Active"}
    assert_hosts_on_key(fleet, old_id)


def test_leaked_key_ids_as_survey_text(empty_endpoint, fleet_of, tmp_path):
    """An AWX survey's text field: "ID1, ID2". The leaked key is handled as incident response, and an entry that is
    not a key id (a secret pasted by mistake) is refused first, without being shown."""
    fleet, old_id = fleet_of("cc-leak")
    pasted_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

    refused = rotate(empty_endpoint, fleet, tmp_path, "leak-bad", extra_vars={"rotor_compromised_key_ids": f"{old_id}, {pasted_secret}"})

    assert refused.returncode == 2, refused.explain()
    assert final_message(refused.stdout).startswith("rotor_compromised_key_ids: entry 2 (a text of 40 characters) is not an access key id")
    assert pasted_secret not in refused.stdout + refused.stderr
    assert key_statuses(empty_endpoint, "cc-leak") == {old_id: "Active"}

    run = rotate(empty_endpoint, fleet, tmp_path, "leak", extra_vars={"rotor_compromised_key_ids": f"{old_id}, AKIAIOSFODNN7EXAMPLE"})

    assert run.returncode == 0, run.explain()
    assert "cc-leak: INCIDENT" in run.stdout or f"key {old_id} is compromised" in run.stdout, run.explain()
    assert "COMPROMISED KEYS NOT FOUND - AKIAIOSFODNN7EXAMPLE belong to no IAM user" in run.stdout
    keys = key_statuses(empty_endpoint, "cc-leak")
    assert old_id not in keys and list(keys.values()) == ["Active"], keys
    assert_hosts_on_key(fleet, next(iter(keys)))


# --------------------------------------------------------------------------- point 6: check mode is exact


def test_check_mode_with_a_second_unused_key_plans_what_the_real_run_does(empty_endpoint, fleet_of, tmp_path):
    """A second Active key, 30 days old and never used: check mode used to crash (the create found no free slot,
    as check mode had not really deleted the second key); now it reports the plan, and the real run does it."""
    fleet, old_id = fleet_of("cc-second")
    second = empty_endpoint.boto3_client("iam").create_access_key(UserName="cc-second")["AccessKey"]["AccessKeyId"]
    empty_endpoint.backdate("cc-second", second, 30)

    check = rotate(empty_endpoint, fleet, tmp_path, "second-check", check=True)

    assert check.returncode == 0, check.explain()
    assert "Traceback" not in check.stdout + check.stderr
    assert key_statuses(empty_endpoint, "cc-second") == {old_id: "Active", second: "Active"}
    assert_hosts_on_key(fleet, old_id)

    real = rotate(empty_endpoint, fleet, tmp_path, "second-real")

    assert real.returncode == 0, real.explain()
    keys = key_statuses(empty_endpoint, "cc-second")
    assert old_id not in keys and second not in keys and list(keys.values()) == ["Active"], keys
    assert_hosts_on_key(fleet, next(iter(keys)))


def test_check_mode_with_nothing_due_changes_nothing_and_prints_no_empty_lists(empty_endpoint, fleet_of, tmp_path):
    fleet, old_id = fleet_of("cc-young")

    run = rotate(empty_endpoint, fleet, tmp_path, "young", check=True, extra_vars={"rotor_max_key_age_days": 365})

    assert run.returncode == 0, run.explain()
    assert all(counters["changed"] == 0 for counters in recap(run.stdout).values()), recap(run.stdout)
    assert '"msg": []' not in run.stdout
    assert key_statuses(empty_endpoint, "cc-young") == {old_id: "Active"}


def test_the_plan_warns_when_hosts_have_no_health_check(empty_endpoint, fleet_of, tmp_path):
    fleet, _old_id = fleet_of("cc-unchecked-app", size=2)
    overrides = write_host_overrides(tmp_path / "no-checks.yml", {fleet.hosts[0]: {"rotor_health_check": {}}})

    run = rotate(empty_endpoint, fleet, tmp_path, "no-checks", check=True, inventories=[overrides])

    assert run.returncode == 0, run.explain()
    assert (f"WARNING cc-unchecked-app: {fleet.hosts[0]} have no health check (rotor_health_check): only the key's acceptance "
            f"by AWS will be checked: an application that fails on the new key will not be noticed") in plan_lines(run.stdout)


# --------------------------------------------------------------------------- point 7: one clear report after a partial change


def test_update_access_key_denied_after_distribution_states_what_is_left(empty_endpoint, fleet_of, tmp_path):
    """The identity may do everything but UpdateAccessKey: the hosts take the new key, the deactivation is denied.
    The run ends with the summary and one message: both keys Active, which hosts hold which key, how to finish or
    undo. A run with the permission then finishes it from the journal."""
    fleet, old_id = fleet_of("cc-stopped")
    limited = identity(empty_endpoint, "cc-no-deactivate", ALLOW_ALL, {"Effect": "Deny", "Action": "iam:UpdateAccessKey", "Resource": "*"})

    run = rotate(empty_endpoint, fleet, tmp_path, "stopped", env_extra=limited)

    assert run.returncode != 0, run.explain()
    keys = key_statuses(empty_endpoint, "cc-stopped")
    new_id = next(k for k in keys if k != old_id)
    assert keys == {old_id: "Active", new_id: "Active"}
    assert_hosts_on_key(fleet, new_id)
    hosts = ", ".join(sorted(fleet.hosts))
    message = final_message(run.stdout)
    assert message.startswith("Rotation of cc-stopped stopped after distribution: Access denied for iam:UpdateAccessKey on IAM user "
                              "'cc-stopped'"), message
    assert (f"State left: the old key {old_id} and the new key {new_id} are both Active; {hosts} hold the new key {new_id}; the "
            f"journal records the rotation as distributing, so nothing is broken. To finish: fix the cause and run the rotation "
            f"again") in message, message
    assert (f"rotor.iam.access_key_delete user_name=cc-stopped access_key_id={new_id} force=true") in message
    assert "IllegalTransition" not in run.stdout and "Rotation summary" in run.stdout

    again = rotate(empty_endpoint, fleet, tmp_path, "finish")

    assert again.returncode == 0, again.explain()
    assert key_statuses(empty_endpoint, "cc-stopped") == {new_id: "Active"}
    assert_hosts_on_key(fleet, new_id)


def test_a_malformed_key_id_given_to_access_key_delete_is_refused_not_reported_gone(empty_endpoint, tmp_path):
    old_id, _secret = seed_user(empty_endpoint, "cc-module", 1)
    pasted_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    playbook = tmp_path / "delete.yml"
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Delete", "rotor.iam.access_key_delete": {"user_name": "cc-module", "access_key_id": pasted_secret, "force": True}}]}]))
    completed = run_playbook(playbook, tmp_path / "runs", endpoint=empty_endpoint, inventories=["localhost,"], args=["-c", "local"],
                             label="delete", log=False, timeout=120)

    assert completed.returncode == 2, completed.stdout
    assert ("access_key_id (withheld: not an access key id) does not look like an AWS access key id (AKIA or ASIA and 16 upper-case "
            "letters or digits); nothing was changed.") in completed.stdout, completed.stdout
    assert pasted_secret not in completed.stdout + completed.stderr
    assert key_statuses(empty_endpoint, "cc-module") == {old_id: "Active"}


def test_create_access_key_denied_ends_in_one_report_naming_the_action_and_resource(empty_endpoint, fleet_of, tmp_path):
    """The identity may not create keys: the user is rolled back once in the create phase, the run ends with the
    summary and a message naming the action and the user; nothing changed, no journal write refused."""
    fleet, old_id = fleet_of("cc-nocreate")
    limited = identity(empty_endpoint, "cc-no-create", ALLOW_ALL, {"Effect": "Deny", "Action": "iam:CreateAccessKey", "Resource": "*"})

    run = rotate(empty_endpoint, fleet, tmp_path, "nocreate", env_extra=limited)

    assert run.returncode != 0, run.explain()
    message = final_message(run.stdout)
    assert message.startswith("Rotation of cc-nocreate rolled back: no new key could be made (Access denied for iam:CreateAccessKey on "
                              "IAM user 'cc-nocreate': the identity running this task needs the iam:CreateAccessKey permission on "
                              "arn:aws:iam::<account>:user/cc-nocreate."), message
    assert "so no host was touched" in message
    assert "IllegalTransition" not in run.stdout and "Rotation summary" in run.stdout
    assert key_statuses(empty_endpoint, "cc-nocreate") == {old_id: "Active"}
    assert_hosts_on_key(fleet, old_id)
    tags = {t["Key"] for t in empty_endpoint.boto3_client("iam").list_user_tags(UserName="cc-nocreate")["Tags"]}
    assert not any(tag.startswith("rotor:lock") for tag in tags), tags


class StsRelay:
    """A TCP relay to the test endpoint that the run reaches STS through (AWS_ENDPOINT_URL_STS) while IAM answers
    directly; ``cut()`` stops it accepting connections, so every later STS call fails to connect, as an STS
    endpoint that goes away mid-run does."""

    def __init__(self, endpoint_url):
        address = urlsplit(endpoint_url)
        self.upstream = (address.hostname, address.port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.url = "http://127.0.0.1:%d" % self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _address = self.listener.accept()
            except OSError:
                return  # cut
            upstream = socket.create_connection(self.upstream)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _pipe(source, target):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() above
        except OSError:
            pass
        self.listener.close()


def test_sts_unreachable_after_the_create_ends_in_its_own_message_and_one_rollback(empty_endpoint, fleet_of, tmp_path):
    """STS answers the plan, then stops answering once the new key exists: the verify fails at once as a connection
    error (not a propagation delay, not rotor_verify_timeout), the create step deletes the new key and rolls the user
    back once, and the run ends with that message; no journal write is refused, no host touched, no lock left."""
    fleet, old_id = fleet_of("cc-sts-cut")
    relay = StsRelay(empty_endpoint.endpoint_url)
    began = time.monotonic()

    process = spawn_rotation(empty_endpoint, [fleet.inventory_path], tmp_path / "runs", label="sts-cut", verbosity=1,
                             extra_vars=dict(FAST, rotor_aws_endpoint_url="", rotor_verify_timeout=120),
                             env_extra={"AWS_ENDPOINT_URL_STS": relay.url})
    while process.running() and empty_endpoint.call_count("CreateAccessKey") == 0:
        time.sleep(0.05)
    relay.cut()
    run = process.wait()

    assert run.returncode != 0, run.explain()
    assert time.monotonic() - began < 100, "it should fail at once, not after rotor_verify_timeout"
    assert run.calls.get("CreateAccessKey") == 1 and run.calls.get("DeleteAccessKey") == 1, run.calls
    message = final_message(run.stdout)
    assert message.startswith("Rotation of cc-sts-cut rolled back: AWS STS could not be reached to verify the new key AKIA"), message
    assert "(connection error, not a propagation delay), so it was deleted and no host was touched" in message, message
    assert "rotor_verify_timeout" not in message
    assert "IllegalTransition" not in run.stdout and "Refused to record" not in run.stdout, run.explain()
    assert key_statuses(empty_endpoint, "cc-sts-cut") == {old_id: "Active"}
    assert_hosts_on_key(fleet, old_id)
    tags = {t["Key"]: t["Value"] for t in empty_endpoint.boto3_client("iam").list_user_tags(UserName="cc-sts-cut")["Tags"]}
    assert not any(tag.startswith("rotor:lock") for tag in tags), tags
    assert tags.get("rotor:phase") == "rolled_back", tags
