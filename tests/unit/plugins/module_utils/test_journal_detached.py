"""The detached lock (module_utils/rotation_journal.py, lock_journal(detached=True)): a workflow's lock belongs to
its run id, not to the prepare job's process, which exits; no run takes it over because a process is gone, only
once it expires or with break_lock. Without detached nothing changes."""

import datetime

import pytest

from ansible_collections.rotor.iam.plugins.module_utils import rotation_journal as rj
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from fake_iam import OneUserIAM  # noqa: E402  pylint: disable=wrong-import-order

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.timezone.utc)
MACHINE = "m=" + "a" * 32 + "/b=boot-1/p=4026531836"
# The prepare job's process, and a later rotor.iam.rotate on the same machine.
PREPARE = {"owner": "awx@ctl", "host": "ctl", "machine": MACHINE, "pid": 4242, "started": "100"}
LATER = {"owner": "ops@ctl", "host": "ctl", "machine": MACHINE, "pid": 5151, "started": "200"}
OLD = "AKIAOLDKEY0000000001"


class Clock:
    def __init__(self, start=1000.0):
        self.now = start

    def __call__(self):
        return self.now


@pytest.fixture(autouse=True)
def every_process_gone(monkeypatch):
    """Every ansible-playbook process a lock names has exited (prepare's has, in a workflow)."""
    monkeypatch.setattr(rj, "process_is_playbook", lambda pid, started=None: False)
    monkeypatch.setattr(rj, "boot_id", lambda: "boot-1")


def lock(iam, run_id, identity, detached, now=NOW, **options):
    return rj.lock_journal(iam, "app", run_id, ttl_minutes=60, settle_seconds=0, identity=identity, sleep=lambda s: None,
                           now=now, detached=detached, **options)


def lock_tags(iam):
    return {tag: value for tag, value in iam.tags.items() if tag.startswith("rotor:lock-")}


def test_a_detached_lock_records_no_process_but_still_the_controller():
    iam = OneUserIAM()
    lock(iam, "wf-1", PREPARE, detached=True)
    tags = lock_tags(iam)
    assert tags["rotor:lock-run"] == "wf-1" and tags["rotor:lock-owner"] == "awx@ctl"
    assert tags["rotor:lock-pid"] == "" and tags["rotor:lock-started"] == ""
    assert tags["rotor:lock-host"] == "ctl" and tags["rotor:lock-machine"] == MACHINE
    assert rj.read_journal(iam, "app", now=NOW)["lock"]["pid"] is None


def test_a_detached_lock_is_not_taken_over_by_a_run_on_the_same_machine_once_its_writer_is_gone():
    iam = OneUserIAM()
    lock(iam, "wf-1", PREPARE, detached=True)
    iam.tag_writes.clear()
    with pytest.raises(RotorIAMError) as refused:
        lock(iam, "other", LATER, detached=False)
    assert refused.value.code == "RotationLocked"
    message = refused.value.message
    assert "run wf-1 (awx@ctl)" in message and "for its whole workflow" in message
    assert "no process recorded" in message and "rotor_break_lock=true" in message and "pid ?" not in message
    assert iam.tag_writes == [] and iam.tags["rotor:lock-run"] == "wf-1"


def test_clearing_the_journal_under_a_detached_lock_is_refused_too():
    iam = OneUserIAM()
    lock(iam, "wf-1", PREPARE, detached=True)
    with pytest.raises(RotorIAMError) as refused:
        rj.clear_journal(iam, "app", run_id="other", identity=LATER, now=NOW)
    assert "no process recorded" in refused.value.message and "clear it after" in refused.value.message
    assert iam.tags["rotor:lock-run"] == "wf-1"


def test_an_expired_detached_lock_is_taken_over():
    iam = OneUserIAM()
    lock(iam, "wf-1", PREPARE, detached=True)
    result = lock(iam, "other", LATER, detached=False, now=NOW + datetime.timedelta(minutes=61))
    assert result["taken"] is True and "took over the expired lock of run wf-1" in result["lock_note"]
    assert iam.tags["rotor:lock-run"] == "other" and iam.tags["rotor:lock-pid"] == "5151"


def test_break_lock_takes_a_detached_lock():
    iam = OneUserIAM()
    lock(iam, "wf-1", PREPARE, detached=True)
    result = lock(iam, "other", LATER, detached=False, break_lock=True)
    assert "broke the lock of run wf-1" in result["lock_note"] and iam.tags["rotor:lock-run"] == "other"


def test_without_detached_a_lock_whose_process_is_gone_is_taken_over_as_before():
    iam = OneUserIAM()
    lock(iam, "wf-1", PREPARE, detached=False)
    assert iam.tags["rotor:lock-pid"] == "4242" and iam.tags["rotor:lock-started"] == "100"
    result = lock(iam, "other", LATER, detached=False)
    assert "its ansible-playbook process 4242 on this controller is gone" in result["lock_note"]
    assert iam.tags["rotor:lock-run"] == "other"


def test_a_live_non_detached_lock_is_refused_naming_its_pid(monkeypatch):
    monkeypatch.setattr(rj, "process_is_playbook", lambda pid, started=None: True)
    iam = OneUserIAM()
    lock(iam, "wf-1", PREPARE, detached=False)
    with pytest.raises(RotorIAMError) as refused:
        lock(iam, "other", LATER, detached=False)
    assert "on ctl (pid 4242)" in refused.value.message and "no process recorded" not in refused.value.message


def test_a_detached_renewal_under_a_lease_writes_no_process():
    iam, clock = OneUserIAM(), Clock()
    taken = lock(iam, "wf-1", PREPARE, detached=True, clock=clock)
    iam.calls.clear()
    iam.tag_writes.clear()
    renewed = lock(iam, "wf-1", PREPARE, detached=True, clock=clock, lease=taken["lease"],
                   fields={"phase": "creating", "current_key_id": OLD})
    assert iam.calls == ["TagUser"]  # the lease path: no read
    written = iam.tag_writes[0][1]
    assert written["rotor:lock-pid"] == "" and written["rotor:lock-started"] == "" and written["rotor:phase"] == "creating"
    assert rj.lease_valid(renewed["lease"], "app", "wf-1", clock=clock)


def test_a_detached_renewal_without_a_lease_makes_a_process_lock_detached():
    iam = OneUserIAM()
    lock(iam, "wf-1", PREPARE, detached=False)
    iam.calls.clear()
    lock(iam, "wf-1", PREPARE, detached=True)
    assert iam.calls == ["ListUserTags", "TagUser", "ListUserTags"]  # a pure renewal reads back
    assert iam.tags["rotor:lock-pid"] == "" and iam.tags["rotor:lock-started"] == ""


def test_a_later_non_detached_write_of_the_same_run_records_its_process_again():
    # The workflow's finish job: one process from start to end, so the usual rule applies again.
    finish = dict(PREPARE, pid=6161, started="300")
    iam = OneUserIAM()
    lock(iam, "wf-1", PREPARE, detached=True)
    lock(iam, "wf-1", finish, detached=False, fields={"phase": "creating", "current_key_id": OLD})
    assert iam.tags["rotor:lock-pid"] == "6161" and iam.tags["rotor:lock-started"] == "300"


def test_check_mode_writes_no_detached_lock():
    iam = OneUserIAM()
    result = lock(iam, "wf-1", PREPARE, detached=True, check_mode=True)
    assert result["changed"] is True and iam.tag_writes == []
