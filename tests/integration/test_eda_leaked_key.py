"""Event-driven leaked-key response (issue 26), for real: ansible-rulebook runs rotor.iam.leaked_key against the
endpoint's SQS queue and a fleet, and what an operator sees is checked on IAM, the hosts and the output.

An EventBridge-shaped AWS Health event (AWS_RISK_CREDENTIALS_EXPOSED) put on the queue makes the rulebook run
rotor.iam.respond_to_leak: the leaked key is Inactive within seconds of the event and gone at the end, every host
healthy on a new key; the same event again starts nothing; an event for a key rotor does not manage starts no rotation
and is reported; AWS's quarantine policy on the user is reported with what it denies, and detached only with
rotor_detach_quarantine_policy; the key's CloudTrail activity is in the report with its persistence calls flagged.
No secret appears in any output or report. The time from event to deactivation is printed (pytest -s) and kept in
.build/eda-timing.json for docs/leaked-keys.md.

ansible-rulebook lives in its own virtualenv (scripts/setup-eda.sh, ROTOR_EDA_VENV); without it these tests are skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from harness import ansible_env, assert_no_leaks, leaks_in_texts  # noqa: E402  pylint: disable=wrong-import-position
from rotation_helpers import key_statuses  # noqa: E402  pylint: disable=wrong-import-position
from test_rotate_organisations import FAST, endpoint, fleet_of  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
EDA_VENV = Path(os.environ.get("ROTOR_EDA_VENV", REPO / ".build" / "eda"))
RULEBOOK = EDA_VENV / "bin" / "ansible-rulebook"
QUARANTINE_V3 = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"
FIRST_PLAY = "PLAY [Respond to a leaked key | is it ours, is its user quarantined, what did it do]"
ROTATION_PLAY = "PLAY [Rotate IAM access keys | plan and create the new keys]"
# Generous bounds for a loaded 2-core machine; the measured times are printed and recorded.
DEACTIVATED_WITHIN = 120
DONE_WITHIN = 300

if not RULEBOOK.exists():
    pytest.skip(f"ansible-rulebook is not installed in {EDA_VENV} (run scripts/setup-eda.sh)", allow_module_level=True)


def health_event(access_key_id):
    """An AWS Health event as EventBridge delivers it to an SQS target."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "AWS Health Event", "source": "aws.health",
            "account": "123456789012", "time": "2026-12-06T22:00:00Z", "region": "us-east-1", "resources": [access_key_id],
            "detail": {"eventArn": "arn:aws:health:global::event/RISK/AWS_RISK_CREDENTIALS_EXPOSED/AWS_RISK_CREDENTIALS_EXPOSED_" + uuid.uuid4().hex,
                       "service": "RISK", "eventTypeCode": "AWS_RISK_CREDENTIALS_EXPOSED", "eventTypeCategory": "issue",
                       "startTime": "Sun, 06 Dec 2026 22:00:00 GMT",
                       "eventDescription": [{"language": "en_US", "latestDescription": "Your AWS access key was found publicly available."}],
                       "affectedEntities": [{"entityValue": access_key_id}]}}


def guardduty_finding(access_key_id, user_name, finding_type="CredentialAccess:IAMUser/AnomalousBehavior"):
    """A GuardDuty finding about IAM user credentials, as EventBridge delivers it."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
            "account": "123456789012", "time": "2026-12-06T22:00:00Z", "region": "us-east-1", "resources": [],
            "detail": {"schemaVersion": "2.0", "accountId": "123456789012", "region": "us-east-1", "id": uuid.uuid4().hex, "type": finding_type,
                       "severity": 5, "resource": {"resourceType": "AccessKey", "accessKeyDetails": {
                           "accessKeyId": access_key_id, "principalId": "AIDAEXAMPLE", "userName": user_name, "userType": "IAMUser"}}}}


class Rulebook:
    """ansible-rulebook -r rotor.iam.<name> on a queue of the endpoint, with the fleet's inventory and settings."""

    def __init__(self, endpoint, fleet, workdir: Path, name="leaked_key", **settings):  # noqa: F811
        self.endpoint, self.workdir = endpoint, workdir
        self.queue = "rotor-leaks-" + uuid.uuid4().hex[:8]
        self.sqs = endpoint.boto3_client("sqs")
        self.queue_url = self.sqs.create_queue(QueueName=self.queue)["QueueUrl"]
        inventory = workdir / "inventory"
        inventory.mkdir(parents=True)
        fleet.write_inventory(str(inventory / "fleet.yml"))
        self.report = workdir / "report.json"
        variables = dict(FAST, rotor_aws_endpoint_url=endpoint.endpoint_url, rotor_aws_region=endpoint.region,
                         rotor_leak_report_file=str(self.report), **settings)
        (inventory / "settings.yml").write_text(json.dumps({"all": {"vars": variables}}))
        (workdir / "vars.yml").write_text(json.dumps({"rotor_leak_queue_name": self.queue, "rotor_leak_queue_region": endpoint.region}))
        env = ansible_env(endpoint, ANSIBLE_LOCAL_TEMP=str(workdir / "tmp"))
        # ansible-rulebook from its own virtualenv; ansible-playbook and ansible-galaxy from the tests' own.
        env["PATH"] = os.pathsep.join((str(EDA_VENV / "bin"), str(Path(shutil.which("ansible-playbook") or "ansible-playbook").parent),
                                       env.get("PATH", "")))
        self.output_path = workdir / "rulebook.out"
        with open(self.output_path, "w") as out:
            self.process = subprocess.Popen(  # pylint: disable=consider-using-with
                [str(RULEBOOK), "-r", f"rotor.iam.{name}", "-i", str(inventory), "--vars", str(workdir / "vars.yml"), "-v"],
                env=env, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def wait_listening(self, timeout=120):
        """Until the source polls the queue (ansible-rulebook starts a JVM first)."""
        deadline = time.monotonic() + timeout
        while "Waiting for events" not in self.output:
            assert self.process.poll() is None, f"ansible-rulebook exited {self.process.returncode}:\n{self.output[-4000:]}"
            assert time.monotonic() < deadline, f"ansible-rulebook did not start listening in {timeout}s:\n{self.output[-4000:]}"
            time.sleep(0.2)

    def send(self, event) -> float:
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(event))
        return time.monotonic()

    def wait_for(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while not predicate():
            assert self.process.poll() is None, f"ansible-rulebook exited {self.process.returncode}:\n{self.output[-6000:]}"
            assert time.monotonic() < deadline, f"{what} did not happen within {timeout}s:\n{self.output[-6000:]}"
            time.sleep(0.1)
        return time.monotonic()

    def playbook_done(self, runs=1):
        return self.output.count("PLAY RECAP") >= runs

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(10)


@pytest.fixture
def rulebook(endpoint, tmp_path):  # noqa: F811
    started = []

    def start(fleet, **settings):
        book = Rulebook(endpoint, fleet, tmp_path / f"rulebook{len(started)}", **settings)
        started.append(book)
        book.wait_listening()
        return book

    yield start
    for book in started:
        book.stop()


def record_timing(name, seconds):
    path = REPO / ".build" / "eda-timing.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    timings = json.loads(path.read_text()) if path.exists() else {}
    timings[name] = round(seconds, 1)
    path.write_text(json.dumps(timings, indent=2) + "\n")
    print(f"\n{name}: {seconds:.1f}s")


def attacker_calls(endpoint, access_key_id, secret):  # noqa: F811
    """The leaked key used by someone else: a look around and an attempt at persistence (denied: the user may not)."""
    from botocore.exceptions import ClientError  # pylint: disable=import-outside-toplevel

    iam = endpoint.boto3_client("iam", access_key_id, secret)
    for call in (iam.list_access_keys, lambda: iam.create_user(UserName="backdoor"),
                 lambda: iam.create_access_key(UserName="backdoor")):
        try:
            call()
        except ClientError:
            pass


def test_a_health_event_replaces_the_leaked_key_once_and_reports_quarantine_and_activity(endpoint, fleet_of, rulebook):  # noqa: F811
    fleet, keys = fleet_of({"host1": "eda-leak", "host2": "eda-leak", "host3": "eda-leak"}, {"eda-leak": 30})
    leaked_id, leaked_secret = keys["eda-leak"]
    attacker_calls(endpoint, leaked_id, leaked_secret)
    iam = endpoint.boto3_client("iam")
    iam.attach_user_policy(UserName="eda-leak", PolicyArn=QUARANTINE_V3)  # what AWS does when it finds the key
    book = rulebook(fleet)

    sent = book.send(health_event(leaked_id))
    book.send(health_event(leaked_id))  # EventBridge may deliver a finding twice
    inactive = book.wait_for(lambda: key_statuses(endpoint, "eda-leak").get(leaked_id, "deleted") != "Active", DEACTIVATED_WITHIN,
                             "the leaked key's deactivation")
    record_timing("event to leaked key Inactive", inactive - sent)
    done = book.wait_for(lambda: book.playbook_done() and book.report.exists(), DONE_WITHIN, "the response")
    record_timing("event to every host on a new key and the leaked key deleted", done - sent)
    book.send(health_event(leaked_id))  # and once more, within the window
    time.sleep(8)

    statuses = key_statuses(endpoint, "eda-leak")
    assert leaked_id not in statuses and list(statuses.values()) == ["Active"], statuses
    (new_id,) = statuses
    health = fleet.health()
    assert all(h["healthy"] and h["access_key_id"] == new_id for h in health.values()), health
    output = book.output
    assert output.count(FIRST_PLAY) == 1 and output.count(ROTATION_PLAY) == 1, f"not exactly one response:\n{output[-3000:]}"
    # The quarantine: reported with what it denies, kept without the opt-in, and said so.
    assert "quarantined by AWS (AWSCompromisedKeyQuarantineV3), which denies" in output and "iam:CreateAccessKey" in output, output[-6000:]
    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName="eda-leak")["AttachedPolicies"]] == [QUARANTINE_V3]
    report = json.loads(book.report.read_text())
    (decision,) = report["quarantine"]
    assert decision["detached"] == [] and "rotor_detach_quarantine_policy is false" in decision["reason"], decision
    assert any("stays attached" in line and "inherits its denies" in line for line in report["summary"]), report["summary"]
    # Forensics: the attacker's calls, from the caller's address, persistence flagged, limits stated.
    (finding,) = report["keys"]
    activity = finding["activity"]
    names = [event["event_name"] for event in activity["events"]]
    assert {"ListAccessKeys", "CreateUser", "CreateAccessKey"} <= set(names), names
    assert sorted(event["event_name"] for event in activity["persistence"]) == ["CreateAccessKey", "CreateUser"], activity["persistence"]
    assert all(event["source_ip_address"] == "127.0.0.1" and "Boto3" in event["user_agent"] for event in activity["persistence"])
    assert "management events only" in activity["limits"] and "90 days" in activity["limits"] and "2 requests per second" in activity["limits"]
    assert "PERSISTENCE CreateUser" in output and "userName=backdoor" in output, output[-6000:]
    assert report["event"]["access_key_id"] == leaked_id and report["event"]["source"] == "aws.health", report["event"]
    secrets = {"leaked secret": leaked_secret, "new secret": fleet.read_credentials("host1")[1]}
    assert_no_leaks(leaks_in_texts({"rulebook output": output, "report": book.report.read_text()}, secrets), "the response's output")


def test_an_unknown_key_starts_nothing_and_is_reported(endpoint, fleet_of, rulebook):  # noqa: F811
    fleet, keys = fleet_of({"host1": "eda-ours", "host2": "eda-ours"}, {"eda-ours": 30})
    iam = endpoint.boto3_client("iam")
    iam.create_user(UserName="eda-stranger")
    stranger = iam.create_access_key(UserName="eda-stranger")["AccessKey"]
    book = rulebook(fleet, name="leaked_key_guardduty")
    endpoint.reset_calls()

    book.send(guardduty_finding(stranger["AccessKeyId"], "eda-stranger"))
    book.send(health_event("AKIAEXAMPLENOTINIAM0"))
    book.send({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {"state": "running"}})
    book.wait_for(lambda: book.playbook_done(2) and "Not a leaked-key event" in book.output, DONE_WITHIN, "the two reports")

    output = book.output
    assert f"{stranger['AccessKeyId']}: owned by IAM user eda-stranger" in output and "NOT MANAGED BY ROTOR" in output, output[-6000:]
    assert "AKIAEXAMPLENOTINIAM0: NOT MANAGED BY ROTOR - AKIAEXAMPLENOTINIAM0 belongs to no IAM user of this account" in output, output[-6000:]
    assert "INCIDENT - " not in output, "a rotation started"
    calls = endpoint.calls()["calls"]
    assert not any(calls.get(action) for action in ("CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey", "TagUser")), calls
    assert key_statuses(endpoint, "eda-stranger") == {stranger["AccessKeyId"]: "Active"}
    assert key_statuses(endpoint, "eda-ours") == {keys["eda-ours"][0]: "Active"}
    report = json.loads(book.report.read_text())
    assert report["rotated"] is False and report["keys"][0]["managed"] is False, report
    assert_no_leaks(leaks_in_texts({"rulebook output": output}, {"stranger secret": stranger["SecretAccessKey"],
                                                                 "fleet secret": keys["eda-ours"][1]}), "the report")


def test_the_quarantine_is_detached_with_the_opt_in_once_the_leaked_key_is_rejected(endpoint, fleet_of, rulebook):  # noqa: F811
    fleet, keys = fleet_of({"host1": "eda-quar", "host2": "eda-quar"}, {"eda-quar": 30})
    leaked_id, leaked_secret = keys["eda-quar"]
    iam = endpoint.boto3_client("iam")
    iam.attach_user_policy(UserName="eda-quar", PolicyArn=QUARANTINE_V3)
    book = rulebook(fleet, rotor_detach_quarantine_policy=True)

    book.send(health_event(leaked_id))
    book.wait_for(lambda: book.playbook_done() and book.report.exists(), DONE_WITHIN, "the response")

    statuses = key_statuses(endpoint, "eda-quar")
    assert leaked_id not in statuses and list(statuses.values()) == ["Active"], statuses
    assert iam.list_attached_user_policies(UserName="eda-quar")["AttachedPolicies"] == []
    report = json.loads(book.report.read_text())
    (decision,) = report["quarantine"]
    assert decision["detached"] == [QUARANTINE_V3] and decision["reason"] == "detached: the leaked key is deleted and AWS rejects it", decision
    assert "DETACHED the AWS quarantine (AWSCompromisedKeyQuarantineV3)" in book.output
    secrets = {"leaked secret": leaked_secret, "new secret": fleet.read_credentials("host1")[1]}
    assert_no_leaks(leaks_in_texts({"rulebook output": book.output, "report": book.report.read_text()}, secrets), "the response's output")
