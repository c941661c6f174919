"""Unit tests for the rotation journal (module_utils/rotation_journal.py) and how the planner resumes from it."""

import datetime

import pytest

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import journal_from_tags
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import lock_journal
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import lock_verdict
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import update_journal
from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan import plan_user
from ansible_collections.rotor.iam.plugins.module_utils._rotation.plan import seconds_left_to_drain
from fake_iam import OneUserIAM  # noqa: E402  pylint: disable=wrong-import-order

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.timezone.utc)
# Where a pid means one process: machine id, boot id, pid namespace (rotation_journal.controller_id).
HERE = "m=" + "c" * 32 + "/b=boot-1/p=4026531836"
ME = {"owner": "ops@ctl", "host": "ctl", "pid": 4242, "machine": HERE}


def at(minutes):
    return (NOW + datetime.timedelta(minutes=minutes)).isoformat()


TagStore = OneUserIAM  # the one fake IAM client (tests/unit/fake_iam.py), one user


def lock_tags(run_id="run-other", expires_in=30, host=None, pid=None):
    """A lock's tags: run-me's is this job's (ME's process), any other run's is a job's on another controller."""
    mine = run_id == "run-me" and host is None and pid is None
    host = host or ("ctl" if mine else "other-ctl")
    tags = {"rotor:lock-run": run_id, "rotor:lock-owner": "someone@" + host, "rotor:lock-host": host,
            "rotor:lock-pid": str(ME["pid"] if mine else (99 if pid is None else pid)), "rotor:lock-expires": at(expires_in)}
    if mine:
        tags["rotor:lock-machine"] = HERE
    return tags


def test_journal_reads_fields_and_lock_from_tags():
    fields = {"rotor:phase": "distributing", "rotor:pending": "AKIANEW", "rotor:current": "AKIAOLD", "rotor:previous": "", "other": "kept"}
    tags = dict(lock_tags(), **fields)

    journal = journal_from_tags(tags, now=NOW)

    assert journal["phase"] == "distributing" and journal["in_progress"] is True
    assert journal["pending_key_id"] == "AKIANEW" and journal["current_key_id"] == "AKIAOLD"
    assert journal["previous_key_id"] is None
    assert journal["lock"]["run_id"] == "run-other" and journal["lock"]["pid"] == 99 and journal["lock"]["expired"] is False
    assert "other" not in journal["tags"]


@pytest.mark.parametrize(
    "tags, run_id, break_lock, allowed, says",
    [
        ({}, "run-me", False, True, None),
        (lock_tags(run_id="run-me"), "run-me", False, True, None),
        (lock_tags(run_id="run-me", pid=""), "run-me", False, True, None),
        (lock_tags(run_id="run-me", pid=99), "run-me", False, False, "held by another job of this run id, run-me"),
        (lock_tags(), "run-me", False, False, "locked by another rotation, run run-other"),
        (lock_tags(expires_in=-1), "run-me", False, True, "took over the expired lock of run run-other"),
        (lock_tags(), "run-me", True, True, "broke the lock of run run-other"),
        (dict(lock_tags(host="ctl", pid=2 ** 22 + 17), **{"rotor:lock-machine": HERE}), "run-me", False, True,
         "process 4194321 on this controller is gone"),
    ],
    ids=["free", "ours", "ours-detached", "same-run-id-other-job", "held", "expired", "broken", "owner-dead-here"],
)
def test_lock_verdict(tags, run_id, break_lock, allowed, says):
    journal = journal_from_tags(tags, now=NOW)
    journal["user_name"] = "app"

    verdict, note = lock_verdict(journal, run_id, ME, now=NOW, break_lock=break_lock)

    assert verdict is allowed
    if says:
        assert says in note
    else:
        assert note is None


def test_refusal_names_owner_expiry_and_what_to_do():
    journal = journal_from_tags(lock_tags(), now=NOW)
    journal["user_name"] = "app"

    note = lock_verdict(journal, "run-me", ME, now=NOW)[1]

    assert "someone@other-ctl" in note and at(30) in note and "rotor_break_lock=true" in note


def test_lock_taken_then_fields_written_after_the_settle_wait():
    store = TagStore()
    waits = []

    lock_journal(store, "app", "run-me", fields={"phase": "creating", "current_key_id": "AKIAOLD"},
                 identity=ME, sleep=waits.append, settle_seconds=1.5, now=NOW)

    assert waits == [1.5]
    assert store.tag_writes[0][1]["rotor:lock-run"] == "run-me" and "rotor:phase" not in store.tag_writes[0][1]
    assert store.tags["rotor:phase"] == "creating" and store.tags["rotor:current"] == "AKIAOLD"
    assert store.tags["rotor:run"] == "run-me"


def test_losing_a_lock_race_stops_without_writing_fields():
    store = TagStore()

    def rival_writes(seconds):
        store.tags.update(lock_tags(run_id="run-rival"))

    with pytest.raises(RotorIAMError) as caught:
        lock_journal(store, "app", "run-me", fields={"phase": "creating", "current_key_id": "AKIAOLD"}, identity=ME,
                     sleep=rival_writes, now=NOW)

    assert "locked at the same moment by another rotation, run run-rival" in caught.value.message
    assert "rotor:phase" not in store.tags


def test_a_job_with_the_same_run_id_that_wins_the_race_keeps_the_lock_and_the_other_stops():
    """Two jobs given one run id take a free lock at the same moment: the last write names the other job's process,
    so this one stops before writing a field (the run id alone no longer makes a lock this job's)."""
    store = TagStore()

    def twin_writes(seconds):
        store.tags.update(lock_tags(run_id="run-me", host="ctl", pid=4343))

    with pytest.raises(RotorIAMError) as caught:
        lock_journal(store, "app", "run-me", fields={"phase": "creating", "current_key_id": "AKIAOLD"}, identity=ME,
                     sleep=twin_writes, now=NOW)

    assert caught.value.code == "RotationLocked" and "locked at the same moment" in caught.value.message
    assert "rotor:phase" not in store.tags and store.tags["rotor:lock-pid"] == "4343"


def test_a_detached_lock_is_the_runs_whichever_job_of_the_run_writes():
    """The workflow's jobs share a detached lock (no process recorded): another job of the run writes under it."""
    fields = {"rotor:phase": "distributing", "rotor:run": "run-me", "rotor:current": "AKIAOLD", "rotor:pending": "AKIANEW"}
    store = TagStore(dict(lock_tags(run_id="run-me", host="prep", pid=""), **fields))
    other_job = dict(ME, pid=5151)

    update_journal(store, "app", "run-me", {"phase": "cutover", "current_key_id": "AKIANEW", "previous_key_id": "AKIAOLD",
                                            "pending_key_id": ""}, now=NOW, identity=other_job)

    assert store.tags["rotor:phase"] == "cutover"


def test_check_mode_neither_locks_nor_writes_but_still_refuses():
    store = TagStore()
    result = lock_journal(store, "app", "run-me", identity=ME, check_mode=True, now=NOW)
    assert result["changed"] is True and store.tag_writes == []

    held = TagStore(lock_tags())
    with pytest.raises(RotorIAMError):
        lock_journal(held, "app", "run-me", identity=ME, check_mode=True, now=NOW)
    assert held.tag_writes == []


def test_unlock_releases_only_the_lock_and_records_fields():
    store = TagStore(dict(lock_tags(run_id="run-me"), **{"rotor:phase": "cutover"}))

    update_journal(store, "app", "run-me", {"phase": "completed", "previous_key_id": ""}, unlock=True, now=NOW, identity=ME)

    assert store.tags["rotor:phase"] == "completed"
    assert not any(name.startswith("rotor:lock") for name in store.tags)


def test_unlock_of_someone_elses_lock_is_refused():
    store = TagStore(lock_tags())
    with pytest.raises(RotorIAMError):
        update_journal(store, "app", "run-me", {}, unlock=True, now=NOW, identity=ME)
    assert store.tag_writes == []


# --- the planner resuming an interrupted run -----------------------------------


def key(key_id, status="Active", created_minutes_ago=60 * 24 * 120, used=False):
    return {"access_key_id": key_id, "status": status, "create_date": at(-created_minutes_ago),
            "age_days": created_minutes_ago // 1440, "last_used_date": at(-1) if used else None}


DEAD_RUN = (NOW - datetime.timedelta(minutes=10)).strftime("%Y%m%dT%H%M%SZ") + "-4711"  # started 10 minutes ago


def journal(phase, current=None, pending=None, previous=None, updated_minutes_ago=5, inactive_since=None, sealed=False):
    """A journal as a rotor run writes it: the creation window opened a minute before the write (closed by it when
    distributing), sealed when a seal key was configured (module_utils/_journal_trust.py)."""
    return {"phase": phase, "current_key_id": current, "pending_key_id": pending, "previous_key_id": previous,
            "run_id": DEAD_RUN, "updated": at(-updated_minutes_ago), "inactive_since": inactive_since,
            "created_after": at(-updated_minutes_ago - 1), "created_before": at(-updated_minutes_ago) if phase == "distributing" else None,
            "sealed": sealed}


def test_resume_distributing_recovers_the_new_key_from_hosts_that_hold_it():
    keys = [key("AKIAOLD", used=True), key("AKIANEW", created_minutes_ago=6)]
    hosts = {"web1": ["AKIANEW"], "web2": ["AKIAOLD"], "web3": ["AKIAOLD"]}

    result = plan_user("app", keys, hosts, now=NOW, journal=journal("distributing", "AKIAOLD", "AKIANEW"))

    assert result["due"] is True and result["error"] is None
    assert result["old_key_id"] == "AKIAOLD"
    assert result["new_key_id"] == "AKIANEW" and result["new_key_holders"] == ["web1"]
    assert result["free_slot_key_id"] is None and result["replace_key_id"] is None
    assert f"resuming run {DEAD_RUN}" in result["reason"]


def test_resume_with_no_host_holding_the_new_key_replaces_it():
    keys = [key("AKIAOLD", used=True), key("AKIANEW", created_minutes_ago=6)]
    hosts = {"web1": ["AKIAOLD"], "web2": ["AKIAOLD"]}

    result = plan_user("app", keys, hosts, now=NOW, journal=journal("distributing", "AKIAOLD", "AKIANEW"))

    assert result["replace_key_id"] == "AKIANEW" and result["new_key_id"] is None
    assert result["error"] is None and "secret is lost" in result["reason"]


def test_resume_creating_deletes_the_key_the_dead_run_never_recorded():
    keys = [key("AKIAOLD", used=True), key("AKIAORPHAN", created_minutes_ago=4)]
    hosts = {"web1": ["AKIAOLD"]}

    result = plan_user("app", keys, hosts, now=NOW, journal=journal("creating", "AKIAOLD", updated_minutes_ago=5))

    assert result["replace_key_id"] == "AKIAORPHAN" and result["error"] is None


def test_resume_creating_leaves_a_key_older_than_the_run_to_the_two_key_rules():
    keys = [key("AKIAOLD", used=True), key("AKIAOTHER", created_minutes_ago=600, used=True)]

    result = plan_user("app", keys, {"web1": ["AKIAOLD"]}, now=NOW, journal=journal("creating", "AKIAOLD", updated_minutes_ago=5))

    assert result["replace_key_id"] is None
    assert result["other_key"]["class"] == "in_use" and result["error"]


def test_resume_cutover_finishes_without_reactivating_when_every_host_moved():
    keys = [key("AKIAOLD", "Inactive"), key("AKIANEW", created_minutes_ago=30, used=True)]
    hosts = {"web1": ["AKIANEW"], "web2": ["AKIANEW"]}

    result = plan_user("app", keys, hosts, now=NOW, journal=journal("cutover", current="AKIANEW", previous="AKIAOLD"))

    assert result["old_key_id"] == "AKIAOLD" and result["new_key_id"] == "AKIANEW"
    assert result["reactivate_old"] is False and result["stale_inactive_key_ids"] == []


def test_resume_reactivates_an_inactive_old_key_that_a_host_still_holds():
    keys = [key("AKIAOLD", "Inactive"), key("AKIANEW", created_minutes_ago=30, used=True)]
    hosts = {"web1": ["AKIANEW"], "web2": ["AKIAOLD"]}

    result = plan_user("app", keys, hosts, now=NOW, journal=journal("rolling_back", current="AKIAOLD", pending="AKIANEW",
                                                                    previous="AKIAOLD", inactive_since=at(-3), sealed=True))

    assert result["reactivate_old"] is True and result["new_key_holders"] == ["web1"]
    assert result["old_key_disabled"] is False


def test_resume_never_reactivates_an_old_key_that_rotor_did_not_deactivate():
    """The security team disabled the old key after the run died: the hosts move on, the key stays off."""
    keys = [key("AKIAOLD", "Inactive"), key("AKIANEW", created_minutes_ago=6)]
    hosts = {"web1": ["AKIANEW"], "web2": ["AKIAOLD"]}

    result = plan_user("app", keys, hosts, now=NOW, journal=journal("distributing", "AKIAOLD", "AKIANEW"))

    assert result["reactivate_old"] is False and result["old_key_disabled"] is True
    assert result["due"] is True and result["new_key_id"] == "AKIANEW"
    assert any("never reactivated" in note for note in result["notes"])


def test_cutover_with_the_old_key_already_deleted_just_closes_the_journal():
    keys = [key("AKIANEW", created_minutes_ago=30, used=True)]

    result = plan_user("app", keys, {"web1": ["AKIANEW"]}, now=NOW, journal=journal("cutover", current="AKIANEW", previous="AKIAOLD"))

    assert result["finish_journal"] is True
    assert result["old_key_id"] == "AKIANEW" and result["due"] is False


def test_a_completed_journal_does_not_resume():
    keys = [key("AKIAOLD", used=True)]
    result = plan_user("app", keys, {"web1": ["AKIAOLD"]}, now=NOW, journal=journal("completed", current="AKIAOLD"))
    assert result["resume"] is None and result["due"] is True  # 120 days old


def test_journal_dates_the_deactivation_of_the_previous_key():
    keys = [key("AKIAOLD", "Inactive", created_minutes_ago=60 * 24 * 200), key("AKIANEW", created_minutes_ago=60 * 24 * 10, used=True)]
    entry = journal("completed", current="AKIANEW", previous="AKIAOLD")
    entry["inactive_since"] = at(-60 * 24 * 2)

    result = plan_user("app", keys, {"web1": ["AKIANEW"]}, now=NOW, journal=entry, delete_inactive_after_days=7)

    assert result["stale_inactive_key_ids"] == []  # Inactive for 2 days only, though its successor is 10 days old


@pytest.mark.parametrize(
    "since, drain, wait",
    [({"app": at(-1)}, 300, 240), ({"app": at(-10)}, 300, 0), ({"app": None}, 30, 30), ({"app": at(-1), "db": at(-4)}, 300, 240)],
    ids=["partly-drained", "drained", "unknown-start", "longest-wait"],
)
def test_seconds_left_to_drain(since, drain, wait):
    assert seconds_left_to_drain(since, list(since), drain, now=NOW) == wait


# --- lock identity, read-back, clearing, tag limits ---------------------------------------------------

from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import clear_journal  # noqa: E402
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import require_lock  # noqa: E402
from ansible_collections.rotor.iam.plugins.module_utils.rotation_journal import sanitize_tag_value  # noqa: E402

MACHINE_A, MACHINE_B = "m=" + "a" * 32 + "/b=boot-1/p=4026531836", "m=" + "b" * 32 + "/b=boot-1/p=4026531836"


def machine_lock(run_id="run-other", machine=MACHINE_B, pid=99, started="12345", expires_in=30):
    return dict(lock_tags(run_id=run_id, host="ctl", pid=pid, expires_in=expires_in),
                **{"rotor:lock-machine": machine, "rotor:lock-started": started})


def test_a_live_lock_from_another_container_with_the_same_hostname_is_not_taken_over():
    journal = journal_from_tags(machine_lock(machine=MACHINE_B), now=NOW)
    journal["user_name"] = "app"
    me = dict(ME, machine=MACHINE_A)  # same hostname "ctl", same pid space, another machine
    allowed, note = lock_verdict(journal, "run-me", me, now=NOW)
    assert not allowed and "locked by another rotation" in note


def test_a_lock_whose_pid_was_reused_by_another_process_is_taken_over(monkeypatch):
    """Same machine, the pid is alive again, but it started at another time: the lock's run is dead."""
    import ansible_collections.rotor.iam.plugins.module_utils.rotation_journal as journal_module

    monkeypatch.setattr(journal_module, "_proc_parent_and_cmdline", lambda pid: (1, "python ansible-playbook site.yml"))
    monkeypatch.setattr(journal_module, "process_start_time", lambda pid: "99999")
    journal = journal_from_tags(machine_lock(machine=MACHINE_A, started="12345"), now=NOW)
    journal["user_name"] = "app"
    allowed, note = lock_verdict(journal, "run-me", dict(ME, machine=MACHINE_A), now=NOW)
    assert allowed and "is gone" in note
    monkeypatch.setattr(journal_module, "process_start_time", lambda pid: "12345")
    assert lock_verdict(journal, "run-me", dict(ME, machine=MACHINE_A), now=NOW)[0] is False


def test_a_renewal_reads_the_lock_back_and_stops_when_another_run_took_it():
    store = TagStore(lock_tags(run_id="run-me"))
    original = store.tag_user

    def rival_breaks_in(UserName, Tags, aws_retry=False):
        original(UserName, Tags, aws_retry=aws_retry)
        store.tags.update(lock_tags(run_id="run-rival"))

    store.tag_user = rival_breaks_in
    with pytest.raises(RotorIAMError) as caught:
        lock_journal(store, "app", "run-me", identity=ME, now=NOW)
    assert caught.value.code == "LockLost" and "run-rival" in caught.value.message


@pytest.mark.parametrize(
    "tags, ok, says",
    [
        (lock_tags(run_id="run-me"), True, None),
        (lock_tags(run_id="run-me", expires_in=-1), False, "expired"),
        (lock_tags(run_id="run-other"), False, "run run-other"),
        ({}, False, "no run holds it"),
    ],
    ids=["ours", "ours-expired", "another-run", "released"],
)
def test_require_lock_before_a_key_change(tags, ok, says):
    store = TagStore(tags)
    if ok:
        require_lock(store, "app", "run-me", now=NOW)
        return
    with pytest.raises(RotorIAMError) as caught:
        require_lock(store, "app", "run-me", doing="deleting the key", now=NOW)
    assert caught.value.code == "LockLost" and says in caught.value.message and "before deleting the key" in caught.value.message


def test_clearing_a_journal_refuses_another_runs_live_lock_unless_broken():
    store = TagStore(dict(lock_tags(), **{"rotor:phase": "distributing"}))
    with pytest.raises(RotorIAMError) as caught:
        clear_journal(store, "app", now=NOW, identity=ME)
    assert caught.value.code == "RotationLocked" and "break_lock" in caught.value.message.replace("rotor_break_lock", "break_lock")
    assert "rotor:phase" in store.tags
    clear_journal(store, "app", now=NOW, identity=ME, break_lock=True)
    assert not store.tags


def test_a_user_at_the_tag_limit_gets_an_error_that_says_so_and_nothing_is_written():
    store = TagStore({f"team:{n}": "x" for n in range(48)})
    with pytest.raises(RotorIAMError) as caught:
        lock_journal(store, "app", "run-me", identity=ME, now=NOW, sleep=lambda s: None)
    assert caught.value.code == "TagLimitExceeded" and "48 tags" in caught.value.message and "50" in caught.value.message
    assert store.tag_writes == []


@pytest.mark.parametrize(
    "tags, tag",
    [
        ({"rotor:phase": "half-way"}, "rotor:phase"),
        ({"rotor:phase": "distributing", "rotor:pending": "not-a-key"}, "rotor:pending"),
        ({"rotor:phase": "cutover", "rotor:inactive-since": "yesterday"}, "rotor:inactive-since"),
        ({"rotor:phase": "completed", "rotor:updated": "2026-13-45T99:00:00"}, "rotor:updated"),
    ],
    ids=["phase", "key-id", "inactive-since", "updated"],
)
def test_malformed_journal_values_are_listed_not_raised(tags, tag):
    journal = journal_from_tags(tags, now=NOW)
    assert [p["tag"] for p in journal["problems"]] == [tag]


def test_tag_values_keep_what_iam_accepts_and_replace_the_rest():
    assert sanitize_tag_value("AWX job 12 (ops@example.com)") == "AWX job 12 _ops@example.com_"
    assert sanitize_tag_value("x" * 300) == "x" * 256
    assert sanitize_tag_value(None) == ""


# --------------------------------------------------------------------------- who holds the lock


def fake_processes(monkeypatch, table, me):
    """``table``: {pid: (ppid, cmdline)}; ``me``: this process's pid."""
    from ansible_collections.rotor.iam.plugins.module_utils import rotation_journal  # pylint: disable=import-outside-toplevel

    monkeypatch.setattr(rotation_journal, "_proc_parent_and_cmdline", lambda pid: table.get(pid, (None, "")))
    monkeypatch.setattr(rotation_journal.os, "getpid", lambda: me)
    monkeypatch.setattr(rotation_journal.os, "getppid", lambda: table[me][0])
    return rotation_journal.playbook_pid


PLAYBOOK = "/venv/bin/python /venv/bin/ansible-playbook rotor.iam.rotate -i inventory"


@pytest.mark.parametrize("table, me, holder", [
    # a module run: python (AnsiballZ) <- sh <- worker <- ansible-playbook <- a shell
    ({50: (40, "/usr/bin/python3"), 40: (30, "/bin/sh -c /usr/bin/python3"), 30: (20, PLAYBOOK), 20: (10, PLAYBOOK),
      10: (1, "bash")}, 50, 20),
    # in process: the worker itself runs the module
    ({30: (20, PLAYBOOK), 20: (10, PLAYBOOK), 10: (1, "bash")}, 30, 20),
    # in process, its ansible-playbook killed: the orphaned worker names itself, a pid that dies with it
    ({30: (1, PLAYBOOK)}, 30, 30),
    # no ansible-playbook at all (python -m ansible, another OS): unknown
    ({50: (10, "python -m ansible playbook x.yml"), 10: (1, "bash")}, 50, None),
])
def test_the_lock_names_the_playbook_process_and_never_nothing_from_a_worker(monkeypatch, table, me, holder):
    assert fake_processes(monkeypatch, table, me)() == holder
