"""Issue 20, point 3: a lock names its controller by machine id AND boot id AND pid namespace, its expiry is
judged on AWS's clock, and a run id a tag cannot hold is refused before anything is written."""

from __future__ import annotations

import datetime

import pytest

import ansible_collections.rotor.iam.plugins.module_utils.rotation_journal as rj
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError

from fake_iam import OneUserIAM

AWS_NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.timezone.utc)
MACHINE = "c" * 32


def identity(machine=MACHINE, boot="boot-1", pid_ns="4026531836", pid=5151):
    return {"owner": "ops@ctl", "host": "ctl", "machine": rj.controller_id(machine, boot, pid_ns), "pid": pid, "started": "200"}


def held_by(holder, run_id="run-other", expires=AWS_NOW + datetime.timedelta(minutes=30)):
    return {"rotor:lock-run": run_id, "rotor:lock-owner": holder["owner"], "rotor:lock-host": holder["host"],
            "rotor:lock-machine": holder["machine"], "rotor:lock-pid": str(holder["pid"]), "rotor:lock-started": holder["started"],
            "rotor:lock-expires": expires.isoformat()}


@pytest.fixture(autouse=True)
def the_holders_process_is_not_here(monkeypatch):
    """The pid a lock names is no ansible-playbook in this pid namespace (as seen from the second controller)."""
    monkeypatch.setattr(rj, "process_is_playbook", lambda pid, started=None: False)


@pytest.mark.parametrize("other, taken", [
    (identity(boot="boot-2"), False),
    (identity(pid_ns="4026532999"), False),
    (dict(identity(), machine=MACHINE), False),
    (dict(identity(), machine=""), False),
    (identity(), True),
], ids=["cloned-vm-same-machine-id", "container-same-machine-and-boot", "older-release-machine-id-only", "none-recorded",
        "same-controller-process-gone"])
def test_a_live_lock_is_taken_over_only_on_the_very_controller_whose_process_is_gone(other, taken):
    """Same host name and machine id everywhere: only machine id, boot id AND pid namespace together say the pid
    the lock names would be this controller's process, so only then does "process gone" free the lock."""
    iam = OneUserIAM(tags=held_by(dict(other, pid=4242, started="100")), server_now=AWS_NOW)
    journal = rj.read_journal(iam, "app")

    allowed, note = rj.lock_verdict(journal, "run-me", identity(), now=AWS_NOW)

    assert allowed is taken, note
    if not taken:
        assert "locked by another rotation" in note


def test_the_controller_id_names_machine_boot_and_pid_namespace():
    value = rj.controller_id("a" * 32, "0f4e-boot", "4026531836")
    assert value == "m=" + "a" * 32 + "/b=0f4e-boot/p=4026531836"
    assert rj.sanitize_tag_value(value) == value and len(value) <= rj.TAG_VALUE_MAX
    assert rj._complete_controller_id(value)  # pylint: disable=protected-access
    assert not rj._complete_controller_id("m=" + "a" * 32 + "/b=-/p=4026531836")  # pylint: disable=protected-access
    assert not rj._complete_controller_id("a" * 32)  # pylint: disable=protected-access


@pytest.mark.parametrize("skew_minutes", [-90, -6, 6, 90])
def test_a_controller_whose_clock_is_skewed_judges_the_lock_on_aws_time(monkeypatch, skew_minutes):
    """Run A locked the user at AWS 12:00 for 60 minutes. Run B's clock is off by more than the 5-minute margin;
    at AWS 12:30 it reads the lock: live, whatever B's clock says. Before, B judged on its own clock (90 minutes
    ahead: 'expired') and two runs held one user."""
    holder = identity(machine="a" * 32, pid=4242)
    iam = OneUserIAM(tags={}, server_now=AWS_NOW)
    monkeypatch.setattr(rj, "utcnow", lambda: AWS_NOW + datetime.timedelta(minutes=-skew_minutes))
    rj.lock_journal(iam, "app", "run-a", ttl_minutes=60, settle_seconds=0, identity=holder, sleep=lambda s: None)
    assert iam.tags["rotor:lock-expires"] == (AWS_NOW + datetime.timedelta(minutes=60)).isoformat()  # AWS time, not A's

    iam.server_now = AWS_NOW + datetime.timedelta(minutes=30)
    monkeypatch.setattr(rj, "utcnow", lambda: iam.server_now + datetime.timedelta(minutes=skew_minutes))
    with pytest.raises(RotorIAMError) as refused:
        rj.lock_journal(iam, "app", "run-b", ttl_minutes=60, settle_seconds=0, identity=identity(machine="b" * 32), sleep=lambda s: None)
    assert refused.value.code == "RotationLocked"
    assert iam.tags["rotor:lock-run"] == "run-a"

    journal = rj.read_journal(iam, "app")
    assert journal["aws_offset_seconds"] == pytest.approx(-skew_minutes * 60.0)
    assert rj.public_journal(journal)["aws_clock_offset_seconds"] == pytest.approx(-skew_minutes * 60.0)

    iam.server_now = AWS_NOW + datetime.timedelta(minutes=61)  # AWS says it expired: now B may take it
    taken = rj.lock_journal(iam, "app", "run-b", ttl_minutes=60, settle_seconds=0, identity=identity(machine="b" * 32), sleep=lambda s: None)
    assert taken["taken"] and "expired" in taken["lock_note"]


def test_a_lease_writes_its_expiries_in_aws_time(monkeypatch):
    iam = OneUserIAM(tags={}, server_now=AWS_NOW)
    monkeypatch.setattr(rj, "utcnow", lambda: AWS_NOW - datetime.timedelta(minutes=20))  # our clock is 20 minutes behind
    monkeypatch.setattr(rj, "boot_id", lambda: "boot-1")
    taken = rj.lock_journal(iam, "app", "run-a", ttl_minutes=60, settle_seconds=0, identity=identity(), sleep=lambda s: None,
                            clock=lambda: 1000.0)
    assert taken["lease"]["aws_offset"] == pytest.approx(1200.0)
    renewed = rj.lock_journal(iam, "app", "run-a", ttl_minutes=60, identity=identity(), lease=taken["lease"], clock=lambda: 1010.0,
                              fields={"phase": "creating", "current_key_id": "AKIAOLDOLDOLDOLDOLD1"})
    assert iam.calls[-1] == "TagUser" and "ListUserTags" not in iam.calls[3:]  # under the lease: no read
    assert iam.tags["rotor:lock-expires"] == (AWS_NOW + datetime.timedelta(minutes=60)).isoformat()
    assert renewed["lease"]["aws_offset"] == pytest.approx(1200.0)


@pytest.mark.parametrize("run_id", ["run\n1", "20261130T120000Z-1\n", "\tstart", " leading-space", "x" * 129, "", "ünïcode", "a;rm -rf"],
                         ids=["newline", "trailing-newline", "tab", "leading-space", "too-long", "empty", "non-ascii", "shell"])
@pytest.mark.parametrize("operation", ["lock", "unlock", "clear"])
def test_a_run_id_a_tag_cannot_hold_is_refused_before_anything_is_written(run_id, operation):
    """A run id with a newline was written as 'run_1': the run never recognised its own lock, which stayed for an hour."""
    iam = OneUserIAM(tags={"rotor:phase": "completed"}, server_now=AWS_NOW)
    calls = {
        "lock": lambda: rj.lock_journal(iam, "app", run_id, settle_seconds=0, identity=identity(), sleep=lambda s: None),
        "unlock": lambda: rj.update_journal(iam, "app", run_id, {}, unlock=True, identity=identity()),
        "clear": lambda: rj.clear_journal(iam, "app", run_id=run_id, identity=identity()),
    }
    with pytest.raises(RotorIAMError) as refused:
        calls[operation]()
    assert refused.value.code == "InvalidRunId"
    assert "Nothing was written" in refused.value.message
    assert run_id.strip() == "" or run_id not in refused.value.message  # named by what is wrong, never echoed
    assert iam.calls == [] and iam.tag_writes == []


@pytest.mark.parametrize("run_id", ["20261130T120000Z-123456", "wf-1", "awx job 42", "a" * 128, "team/app:run=1+2@x"])
def test_run_ids_a_tag_keeps_as_they_are_are_accepted(run_id):
    iam = OneUserIAM(tags={}, server_now=AWS_NOW)
    rj.lock_journal(iam, "app", run_id, settle_seconds=0, identity=identity(), sleep=lambda s: None)
    assert iam.tags["rotor:lock-run"] == run_id
