"""The test fleet (tests/fleet/): real consumers, real sshd hosts, a real IAM endpoint.

No mocks: every test starts processes and talks to them. The endpoint is the
project's own (tests/iam_endpoint/, which rejects Inactive keys like AWS) when
present, else a stock moto_server with authentication turned on.

Secrets: assertions never put a secret into a message; checks for leaks
compute a verdict first and assert on it.
"""

import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TESTS = os.path.join(REPO, "tests")
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from fleet import consumer  # noqa: E402
from fleet.fleet import COMMON_ROOT, Fleet, FleetError, format_credentials, to_yaml  # noqa: E402

FLEET_CLI = os.path.join(TESTS, "fleet", "fleet.py")
VENV_BIN = os.path.join(REPO, ".venv", "bin")
HAVE_ROTOR_ENDPOINT = (os.path.exists(os.path.join(TESTS, "iam_endpoint", "control.py"))
                       and not os.environ.get("ROTOR_FLEET_STOCK_MOTO"))  # set it to test against stock moto


# --------------------------------------------------------------------------- endpoint

def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StockMoto:
    """moto_server with an admin user, then authentication enforced (unknown/deleted keys fail)."""

    rejects_inactive = False

    def __init__(self, workdir):
        import boto3

        self.region = "us-east-1"
        self.endpoint_url = "http://127.0.0.1:%d" % _free_port()
        port = self.endpoint_url.rsplit(":", 1)[1]
        self._log = open(os.path.join(workdir, "moto.log"), "ab")
        self._proc = subprocess.Popen([os.path.join(VENV_BIN, "moto_server"), "-H", "127.0.0.1", "-p", port],
                                      stdout=self._log, stderr=self._log, start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(self.endpoint_url + "/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self._proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("moto_server did not start")
                time.sleep(0.05)
        bootstrap = boto3.client("iam", endpoint_url=self.endpoint_url, region_name=self.region,
                                 aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="bootstrap")
        bootstrap.create_user(UserName="fleet-admin")
        bootstrap.put_user_policy(UserName="fleet-admin", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        admin = bootstrap.create_access_key(UserName="fleet-admin")["AccessKey"]
        request = urllib.request.Request(self.endpoint_url + "/moto-api/reset-auth", data=b"0",
                                         headers={"Content-Type": "text/plain"}, method="POST")
        urllib.request.urlopen(request, timeout=5).close()
        self.iam = boto3.client("iam", endpoint_url=self.endpoint_url, region_name=self.region,
                                aws_access_key_id=admin["AccessKeyId"],
                                aws_secret_access_key=admin["SecretAccessKey"])

    def stop(self):
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            self._proc.wait(10)
        self._log.close()


class RotorEndpoint:
    """tests/iam_endpoint: rejects Inactive keys like AWS does."""

    rejects_inactive = True

    def __init__(self, workdir):
        from iam_endpoint.control import IAMEndpoint

        self._endpoint = IAMEndpoint().start(workdir=workdir)
        self.endpoint_url = self._endpoint.endpoint_url
        self.region = self._endpoint.region
        self.iam = self._endpoint.boto3_client("iam")

    def stop(self):
        self._endpoint.stop()


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    kind = RotorEndpoint if HAVE_ROTOR_ENDPOINT else StockMoto
    server = kind(str(tmp_path_factory.mktemp("endpoint")))
    yield server
    server.stop()


def new_user(endpoint, prefix="fleet"):
    """A fresh IAM user with one key: (user name, access key id, secret)."""
    name = "%s-%s" % (prefix, uuid.uuid4().hex[:8])
    endpoint.iam.create_user(UserName=name)
    key = endpoint.iam.create_access_key(UserName=name)["AccessKey"]
    return name, key["AccessKeyId"], key["SecretAccessKey"]


def wait_for(predicate, timeout=10, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def leaks(secret, texts):
    """Names of the texts that contain the secret (never the texts themselves)."""
    return sorted(name for name, text in texts.items() if secret in text)


def fleet_pids(fleet):
    with open(os.path.join(fleet.workdir, "fleet.json")) as handle:
        return [(proc["pid"], proc["start"]) for proc in json.load(handle)["procs"]]


def running(pid, start):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] not in ("Z", "X") and int(fields[19]) == start


def mount_ns(pid):
    try:
        return os.readlink("/proc/%s/ns/mnt" % pid)
    except OSError:
        return None


def hosts_in(output, marker):
    return sorted(line.split()[0] for line in output.splitlines() if marker in line)


# --------------------------------------------------------------------------- pure helpers

@pytest.mark.parametrize("fmt", consumer.FORMATS)
def test_written_credentials_parse_back(fmt):
    text = format_credentials("AKIAEXAMPLE0000001", "s3cr3t/with+chars%", fmt, "prod")
    assert consumer.parse_credentials(text, fmt, "prod") == ("AKIAEXAMPLE0000001", "s3cr3t/with+chars%", None)


@pytest.mark.parametrize("fmt, text", [
    ("aws_credentials", "[profile default]\naws_access_key_id=AKIA1\naws_secret_access_key = s\naws_session_token=t\n"),
    ("env", "# keys\nexport AWS_ACCESS_KEY_ID='AKIA1'\nAWS_SECRET_ACCESS_KEY=\"s\"\nAWS_SESSION_TOKEN=t\n"),
    ("json", '{"default": {"aws_access_key_id": "AKIA1", "aws_secret_access_key": "s", "aws_session_token": "t"}}'),
    ("json", '{"Credentials": {"AccessKeyId": "AKIA1", "SecretAccessKey": "s", "SessionToken": "t"}}'),
])
def test_consumer_accepts_common_spellings(fmt, text):
    assert consumer.parse_credentials(text, fmt) == ("AKIA1", "s", "t")


@pytest.mark.parametrize("fmt, text", [
    ("aws_credentials", "[other]\naws_access_key_id = AKIA1\naws_secret_access_key = s\n"),
    ("aws_credentials", "not an ini file"),
    ("env", "AWS_ACCESS_KEY_ID=AKIA1\n"),
    ("json", "[1, 2]"),
])
def test_consumer_rejects_unusable_credentials(fmt, text):
    with pytest.raises(consumer.CredentialsError):
        consumer.parse_credentials(text, fmt)


def test_inventory_yaml_is_valid_yaml():
    data = {"all": {"children": {"g": {"hosts": {"h1": {
        "s": "kill -HUP $(cat '/a b/pid')", "n": 200, "b": True, "empty": [], "none": None,
        "files": [{"path": "/x", "mode": "0600"}, {"path": "/y: z", "mode": "0640"}],
        "nested": {"url": "http://127.0.1.1:18080/health", "retries": 5}}}}}}}
    assert yaml.safe_load(to_yaml(data)) == data


def test_fleet_rejects_bad_arguments():
    with pytest.raises(FleetError):
        Fleet("/tmp/x", 3, mode="docker")
    with pytest.raises(FleetError):
        Fleet("/tmp/x", 0)
    with pytest.raises(FleetError, match="host3"):
        Fleet("/tmp/x", 3, users={"host1": "a", "host2": "b"})


# --------------------------------------------------------------------------- local fleet

@pytest.fixture(scope="module")
def local_fleet(endpoint, tmp_path_factory):
    user, key_id, secret = new_user(endpoint)
    fleet = Fleet(str(tmp_path_factory.mktemp("local-fleet")), 3, mode="local",
                  endpoint_url=endpoint.endpoint_url, region=endpoint.region,
                  users=user, initial_keys={user: (key_id, secret)})
    began = time.monotonic()
    with fleet:
        fleet.started_in = time.monotonic() - began
        fleet.key = (key_id, secret)
        fleet.write_inventory()
        yield fleet
        pids = fleet_pids(fleet)
    assert pids and not [pid for pid, start in pids if running(pid, start)]


def test_local_fleet_is_healthy_with_the_initial_key(local_fleet):
    key_id, secret = local_fleet.key
    assert local_fleet.started_in < 10
    health = local_fleet.health()
    assert sorted(health) == ["host1", "host2", "host3"]
    for host, report in health.items():
        assert report["healthy"] is True, (host, report)
        assert report["access_key_id"] == key_id
        assert report["arn"].endswith(":user/" + local_fleet.users[host])
        assert local_fleet.loaded_key(host) == key_id
        same_key = local_fleet.read_credentials(host) == (key_id, secret)
        assert same_key
        stat = local_fleet.stat(host)
        assert (stat["mode"], stat["uid"]) == ("0600", os.getuid())


def test_local_inventory_has_the_rotor_vars(local_fleet):
    inventory = yaml.safe_load(open(local_fleet.inventory_path))
    hosts = inventory["all"]["children"]["rotor_fleet"]["hosts"]
    assert sorted(hosts) == ["host1", "host2", "host3"]
    host2 = hosts["host2"]
    credentials = os.path.join(local_fleet.workdir, "hosts", "host2", "etc", "credentials")
    assert host2["ansible_connection"] == "local"
    assert host2["ansible_python_interpreter"] == "/usr/bin/python3"
    assert host2["rotor_credentials_files"] == [
        {"path": credentials, "format": "aws_credentials", "profile": "default", "mode": "0600"}]
    assert host2["rotor_restart_command"] == "kill -HUP $(cat %s)" % os.path.join(
        local_fleet.workdir, "hosts", "host2", "run", "consumer.pid")
    address = local_fleet.host("host2").address
    assert host2["rotor_health_check"] == {"url": "http://%s:18080/health" % address,
                                           "status_code": 200, "retries": 5, "delay": 1}
    assert host2["rotor_iam_user"] == local_fleet.users["host2"]


def test_ansible_ping_over_the_local_inventory(local_fleet):
    assert local_fleet.ping_seconds() < 30  # raises unless every host answered


def test_nothing_shows_the_secret(local_fleet):
    secret = local_fleet.key[1]
    texts = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as handle:
                    texts["cmdline of %s" % entry] = handle.read().decode("utf-8", "replace")
            except OSError:
                pass
    for pid, _start in fleet_pids(local_fleet):
        with open("/proc/%d/environ" % pid, "rb") as handle:
            texts["environ of %d" % pid] = handle.read().decode("utf-8", "replace")
    for root, _dirs, files in os.walk(local_fleet.workdir):
        for name in files:
            path = os.path.join(root, name)
            if not path.endswith("/etc/credentials"):
                texts[path] = open(path, errors="replace").read()
    for host in local_fleet.hosts:
        with urllib.request.urlopen(local_fleet.host(host).consumer_url + "/health", timeout=10) as response:
            texts["health of " + host] = response.read().decode()
    assert leaks(secret, texts) == []


# --------------------------------------------------------------------------- key changes (own fleets)

@pytest.fixture
def small_fleet(endpoint, tmp_path):
    user, key_id, secret = new_user(endpoint)
    with Fleet(str(tmp_path / "fleet"), 2, mode="local", endpoint_url=endpoint.endpoint_url,
               region=endpoint.region, users=user, initial_keys={user: (key_id, secret)}) as fleet:
        fleet.key = (key_id, secret)
        fleet.write_inventory()
        yield fleet


def test_consumer_keeps_its_key_until_restarted(endpoint, small_fleet):
    user = small_fleet.users["host1"]
    old_id = small_fleet.key[0]
    new = endpoint.iam.create_access_key(UserName=user)["AccessKey"]
    small_fleet.write_credentials("host1", new["AccessKeyId"], new["SecretAccessKey"])
    assert small_fleet.loaded_key("host1") == old_id          # a file change alone does nothing
    # The inventory's restart command, templated and run by Ansible, makes it reload.
    result = small_fleet.ansible("shell", "sh -c {{ rotor_restart_command | quote }}", pattern="host1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert wait_for(lambda: small_fleet.loaded_key("host1") == new["AccessKeyId"], timeout=5)
    health = small_fleet.health()
    assert (health["host1"]["healthy"], health["host1"]["access_key_id"]) == (True, new["AccessKeyId"])
    assert health["host1"]["generation"] == 2
    assert (health["host2"]["healthy"], health["host2"]["access_key_id"]) == (True, old_id)


def test_deleted_key_makes_consumers_unhealthy(endpoint, small_fleet):
    key_id = small_fleet.key[0]
    endpoint.iam.delete_access_key(UserName=small_fleet.users["host1"], AccessKeyId=key_id)
    health = small_fleet.health()
    for report in health.values():
        assert report["healthy"] is False
        assert report["access_key_id"] == key_id
        assert report["error"].startswith("InvalidClientTokenId")


def test_inactive_key_makes_consumers_unhealthy(endpoint, small_fleet):
    if not endpoint.rejects_inactive:
        pytest.skip("stock moto accepts Inactive keys; needs tests/iam_endpoint")
    key_id = small_fleet.key[0]
    user = small_fleet.users["host1"]
    endpoint.iam.update_access_key(UserName=user, AccessKeyId=key_id, Status="Inactive")
    health = small_fleet.health()
    assert [r["healthy"] for r in health.values()] == [False, False]
    assert all(r["error"].startswith("InvalidClientTokenId") for r in health.values())
    endpoint.iam.update_access_key(UserName=user, AccessKeyId=key_id, Status="Active")
    assert all(r["healthy"] for r in small_fleet.health().values())


def test_blocked_local_host_fails_health_and_restart(small_fleet):
    small_fleet.block("host2")
    health = small_fleet.health()
    assert (health["host1"]["healthy"], health["host2"]["healthy"]) == (True, False)
    result = small_fleet.ansible("shell", "sh -c {{ rotor_restart_command | quote }}")
    assert result.returncode != 0
    assert hosts_in(result.stdout, "FAILED") == ["host2"]
    small_fleet.unblock("host2")
    assert all(r["healthy"] for r in small_fleet.health().values())


def test_two_fleets_at_once_get_different_addresses(endpoint, small_fleet, tmp_path):
    with Fleet(str(tmp_path / "second"), 1, endpoint_url=endpoint.endpoint_url, region=endpoint.region) as other:
        assert other.net != small_fleet.net
        report = other.health()["host1"]
        assert report["healthy"] is False and "CredentialsError" in report["error"]


# --------------------------------------------------------------------------- health log, ignored reloads, self-checks

def test_health_answers_are_logged(endpoint, small_fleet):
    key_id, secret = small_fleet.key
    began = time.time()
    small_fleet.health()
    small_fleet.health()
    log = small_fleet.health_log("host1")
    assert len(log) == 2
    for entry in log:
        assert set(entry) >= {"time", "epoch", "source", "healthy", "status", "access_key_id", "error"}
        assert (entry["source"], entry["healthy"], entry["status"]) == ("http", True, 200)
        assert (entry["access_key_id"], entry["error"], entry["generation"]) == (key_id, None, 1)
        assert began <= entry["epoch"] <= time.time()
        moment = datetime.datetime.fromisoformat(entry["time"])
        assert moment.utcoffset() == datetime.timedelta(0)
        assert abs(moment.timestamp() - entry["epoch"]) < 0.001
    assert log[0]["epoch"] <= log[1]["epoch"]
    assert small_fleet.unhealthy_answers() == []

    endpoint.iam.delete_access_key(UserName=small_fleet.users["host1"], AccessKeyId=key_id)
    failed_at = time.time()
    small_fleet.health()
    unhealthy = small_fleet.unhealthy_answers()
    assert sorted(entry["host"] for entry in unhealthy) == ["host1", "host2"]
    assert unhealthy[0]["epoch"] <= unhealthy[1]["epoch"]
    for entry in unhealthy:
        assert (entry["healthy"], entry["status"], entry["access_key_id"]) == (False, 503, key_id)
        assert entry["error"].startswith("InvalidClientTokenId")
    assert [e["host"] for e in small_fleet.unhealthy_answers("host2")] == ["host2"]
    assert len(small_fleet.health_log("host1", since=failed_at)) == 1
    assert small_fleet.unhealthy_answers(since=time.time()) == []

    # Kept across a consumer restart; emptied on request.
    small_fleet.block("host2")
    small_fleet.unblock("host2")
    small_fleet.health()
    assert len(small_fleet.health_log("host2")) == 4
    small_fleet.clear_health_log("host2")
    assert small_fleet.health_log("host2") == []
    assert len(small_fleet.health_log("host1")) == 4

    texts = {host: open(small_fleet.host(host).real_health_log).read() for host in small_fleet.hosts}
    assert leaks(secret, texts) == []


def test_consumer_can_ignore_its_reload(endpoint, small_fleet):
    old_id = small_fleet.key[0]
    new = endpoint.iam.create_access_key(UserName=small_fleet.users["host1"])["AccessKey"]
    small_fleet.write_credentials("host1", new["AccessKeyId"], new["SecretAccessKey"])
    small_fleet.ignore_reload("host1", True)
    assert small_fleet.is_ignoring_reload("host1") and not small_fleet.is_ignoring_reload("host2")

    small_fleet.reload("host1")
    assert small_fleet.loaded_key("host1") == old_id
    report = small_fleet.health()["host1"]
    assert (report["access_key_id"], report["generation"], report["ignored_reloads"]) == (old_id, 1, 1)
    assert wait_for(lambda: "ignored a reload" in small_fleet.read_consumer_log("host1"), timeout=5)
    assert "ignored a reload" not in small_fleet.read_consumer_log("host2")

    # The inventory's restart command is ignored the same way.
    result = small_fleet.ansible("shell", "sh -c {{ rotor_restart_command | quote }}", pattern="host1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert wait_for(lambda: small_fleet.health()["host1"]["ignored_reloads"] == 2, timeout=5)
    assert small_fleet.loaded_key("host1") == old_id

    small_fleet.ignore_reload("host1", False)
    assert not small_fleet.is_ignoring_reload("host1")
    small_fleet.reload("host1")
    assert small_fleet.loaded_key("host1") == new["AccessKeyId"]
    assert small_fleet.health()["host1"]["generation"] == 2
    leaked = leaks(new["SecretAccessKey"], {"log": small_fleet.read_consumer_log("host1")})
    assert leaked == []


def test_self_checks_log_health_without_anyone_asking(endpoint, tmp_path):
    user, key_id, secret = new_user(endpoint)
    with Fleet(str(tmp_path / "fleet"), 1, endpoint_url=endpoint.endpoint_url, region=endpoint.region,
               users=user, initial_keys={user: (key_id, secret)}, self_check_interval=0.2) as fleet:
        assert fleet.self_check_interval_of("host1") == 0.2
        assert wait_for(lambda: len(fleet.health_log("host1", source="self")) >= 2, timeout=10)
        assert fleet.health_log("host1", source="http") == []
        assert all(e["healthy"] and e["access_key_id"] == key_id for e in fleet.health_log("host1"))

        endpoint.iam.delete_access_key(UserName=user, AccessKeyId=key_id)
        assert wait_for(lambda: fleet.unhealthy_answers(source="self"), timeout=10)
        entry = fleet.unhealthy_answers()[0]
        assert (entry["host"], entry["source"], entry["status"]) == ("host1", "self", 503)
        assert entry["error"].startswith("InvalidClientTokenId")

        fleet.set_self_check("host1", 0)
        assert fleet.self_check_interval_of("host1") == 0
        time.sleep(0.3)  # a check under way may still land
        count = len(fleet.health_log("host1"))
        time.sleep(0.7)
        assert len(fleet.health_log("host1")) == count

        fleet.set_self_check(interval=0.2)  # every host
        assert wait_for(lambda: len(fleet.health_log("host1")) >= count + 2, timeout=10)
        with pytest.raises(FleetError, match="400"):
            fleet.set_self_check("host1", -1)

        state = json.loads(open(os.path.join(fleet.workdir, "fleet.json")).read())
        assert state["self_check_interval"] == 0.2
        assert Fleet.load(fleet.workdir).self_check_interval == 0.2


def test_self_checks_are_off_by_default(small_fleet):
    assert small_fleet.self_check_interval_of("host1") == 0
    with pytest.raises(FleetError, match="self_check_interval"):
        Fleet("/tmp/x", 1, self_check_interval=-1)


# --------------------------------------------------------------------------- CLI and clean-up

def test_cli_up_status_down(endpoint, tmp_path):
    user, key_id, secret = new_user(endpoint)
    secret_file = tmp_path / "secret"
    secret_file.write_text(secret + "\n")
    workdir = tmp_path / "cli"
    up = subprocess.run([sys.executable, FLEET_CLI, "up", "--workdir", str(workdir), "--size", "2",
                         "--mode", "local", "--endpoint-url", endpoint.endpoint_url, "--region", endpoint.region,
                         "--user", user, "--key-id", key_id, "--secret-file", str(secret_file)],
                        capture_output=True, text=True, timeout=60, check=False)
    try:
        assert up.returncode == 0, up.stderr
        assert (workdir / "inventory.yml").exists()
        status = subprocess.run([sys.executable, FLEET_CLI, "status", "--workdir", str(workdir), "--check"],
                                capture_output=True, text=True, timeout=30, check=False)
        assert status.returncode == 0, status.stdout + status.stderr
        rows = [line.split() for line in status.stdout.splitlines()[1:]]
        assert [(row[0], row[3], row[4]) for row in rows] == [("host1", key_id, "yes"), ("host2", key_id, "yes")]
        pids = [(p["pid"], p["start"]) for p in json.loads((workdir / "fleet.json").read_text())["procs"]]
        outputs = {"up stdout": up.stdout, "up stderr": up.stderr, "status": status.stdout,
                   "log": (workdir / "logs" / "fleet.log").read_text()}
        assert leaks(secret, outputs) == []
    finally:
        down = subprocess.run([sys.executable, FLEET_CLI, "down", "--workdir", str(workdir)],
                              capture_output=True, text=True, timeout=60, check=False)
    assert down.returncode == 0, down.stderr
    assert not [pid for pid, start in pids if running(pid, start)]
    status = subprocess.run([sys.executable, FLEET_CLI, "status", "--workdir", str(workdir)],
                            capture_output=True, text=True, timeout=30, check=False)
    assert status.returncode == 2


def test_fleet_dies_with_its_owner(endpoint, tmp_path):
    """If the process that started a fleet is killed, the fleet's processes go too."""
    script = (
        "import sys; sys.path.insert(0, %r)\n"
        "from fleet.fleet import Fleet\n"
        "f = Fleet(%r, 2, endpoint_url=%r).start()\n"
        "print('up', flush=True)\n"
        "import time; time.sleep(120)\n" % (TESTS, str(tmp_path / "orphan"), endpoint.endpoint_url))
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout.readline().strip() == "up"
        pids = [(p["pid"], p["start"]) for p in json.loads((tmp_path / "orphan" / "fleet.json").read_text())["procs"]]
        assert all(running(pid, start) for pid, start in pids)
    finally:
        owner.kill()
        owner.wait()
    assert wait_for(lambda: not any(running(pid, start) for pid, start in pids), timeout=10)


# --------------------------------------------------------------------------- ssh fleet

def _ssh_usable():
    if os.geteuid() != 0:
        return "needs root (sshd per host, mount namespaces)"
    if not shutil.which("unshare") or not shutil.which("nsenter"):
        return "needs unshare and nsenter (util-linux)"
    return None


@pytest.fixture(scope="module")
def ssh_fleet(endpoint, tmp_path_factory):
    reason = _ssh_usable()
    if reason:
        pytest.skip(reason)
    users = [new_user(endpoint, "ssh"), new_user(endpoint, "ssh")]
    fleet = Fleet(str(tmp_path_factory.mktemp("ssh-fleet")), 2, mode="ssh",
                  endpoint_url=endpoint.endpoint_url, region=endpoint.region,
                  users={"host1": users[0][0], "host2": users[1][0]},
                  initial_keys={name: (key_id, secret) for name, key_id, secret in users})
    with fleet:
        fleet.keys = {"host1": users[0][1], "host2": users[1][1]}
        fleet.write_inventory()
        yield fleet
        pids = fleet_pids(fleet)
        namespaces = set(fleet._namespaces.values())
    assert len(namespaces) == 2
    assert not [pid for pid, start in pids if running(pid, start)]
    assert not [pid for pid in os.listdir("/proc") if pid.isdigit() and mount_ns(pid) in namespaces]


@pytest.mark.ssh
def test_ssh_fleet_is_healthy_and_pingable(ssh_fleet):
    health = ssh_fleet.health()
    assert {h: (r["healthy"], r["access_key_id"]) for h, r in health.items()} == {
        h: (True, key_id) for h, key_id in ssh_fleet.keys.items()}
    # The consumer writes its health log at the common path; we read it in the host's directory.
    for host, key_id in ssh_fleet.keys.items():
        last = ssh_fleet.health_log(host)[-1]
        assert (last["source"], last["healthy"], last["access_key_id"]) == ("http", True, key_id)
    result = ssh_fleet.ansible("ping")
    assert result.returncode == 0, result.stdout + result.stderr
    assert hosts_in(result.stdout, "SUCCESS") == ["host1", "host2"]


@pytest.mark.ssh
def test_ssh_inventory_uses_the_common_path(ssh_fleet):
    hostvars = yaml.safe_load(open(ssh_fleet.inventory_path))["all"]["children"]["rotor_fleet"]["hosts"]["host1"]
    assert hostvars["ansible_host"] == ssh_fleet.host("host1").address
    assert (hostvars["ansible_port"], hostvars["ansible_user"]) == (2222, "root")
    assert hostvars["ansible_python_interpreter"] == "/usr/bin/python3"
    assert hostvars["rotor_credentials_files"][0]["path"] == COMMON_ROOT + "/etc/credentials"
    assert hostvars["rotor_restart_command"] == "kill -HUP $(cat %s/run/consumer.pid)" % COMMON_ROOT


@pytest.mark.ssh
def test_each_ssh_host_sees_its_own_file_at_the_common_path(ssh_fleet):
    path = COMMON_ROOT + "/etc/credentials"
    result = ssh_fleet.ansible("command", "grep aws_access_key_id " + path)
    assert result.returncode == 0, result.stdout + result.stderr
    seen = dict(re.findall(r"^(host\d+) \| CHANGED \| rc=0 >>\naws_access_key_id = (\S+)$", result.stdout, re.M))
    assert seen == ssh_fleet.keys
    result = ssh_fleet.ansible("command", "stat -c %a " + path)
    assert result.returncode == 0 and result.stdout.count("\n600\n") == 2, result.stdout
    # Not visible on the controller: the common path is only mounted inside each host.
    assert not os.path.exists(path)


@pytest.mark.ssh
def test_ssh_restart_command_reloads_that_hosts_consumer(endpoint, ssh_fleet):
    user = ssh_fleet.users["host2"]
    new = endpoint.iam.create_access_key(UserName=user)["AccessKey"]
    ssh_fleet.write_credentials("host2", new["AccessKeyId"], new["SecretAccessKey"])
    result = ssh_fleet.ansible("shell", "sh -c {{ rotor_restart_command | quote }}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert wait_for(lambda: ssh_fleet.loaded_key("host2") == new["AccessKeyId"], timeout=5)
    assert ssh_fleet.loaded_key("host1") == ssh_fleet.keys["host1"]
    assert ssh_fleet.health()["host2"]["healthy"] is True
    ssh_fleet.keys["host2"] = new["AccessKeyId"]


@pytest.mark.ssh
def test_blocked_ssh_host_is_unreachable_until_unblocked(ssh_fleet):
    ssh_fleet.ansible("ping")  # leave a persistent ssh connection open: block must cut it too
    ssh_fleet.block("host2")
    result = ssh_fleet.ansible("ping", extra=["-T", "5"])
    assert hosts_in(result.stdout, "UNREACHABLE") == ["host2"]
    assert hosts_in(result.stdout, "SUCCESS") == ["host1"]
    assert ssh_fleet.health()["host2"]["healthy"] is True   # the service itself keeps running
    ssh_fleet.unblock("host2")
    result = ssh_fleet.ansible("ping")
    assert result.returncode == 0, result.stdout + result.stderr
