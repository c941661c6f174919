"""rotor.iam.rotation_start / rotation_advance / rotation_report: the run record read from the hosts' registers by name.

These carry the assertions of the bookkeeping filters the engine replaced (rotation_result, rotation_summary,
rotation_run_summary, rotation_failure_message, hosts_to_settle, new_keys_to_delete, staged_rollbacks,
deactivated_keys, inactive_since, users_with).
"""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.rotor.iam.plugins.filter.engine import rotation_advance
from ansible_collections.rotor.iam.plugins.filter.engine import rotation_report
from ansible_collections.rotor.iam.plugins.filter.engine import rotation_start
from ansible_collections.rotor.iam.plugins.module_utils._rotation.hosts import ROLE_REGISTERS
from rotation_builders import NEW, OLD, Registers, hostvars, plan

# Any names will do: the engine reads the registers the caller names.
REGISTERS = {"read": "reg_read", "switch": "reg_switch", "recheck": "reg_recheck", "drain_check": "reg_drain", "settle": "reg_settle",
             "observed": "reg_observed"}
_REGISTERS = Registers(read=REGISTERS["read"], switch=REGISTERS["switch"])
read, switched = _REGISTERS.read, _REGISTERS.switched


HEALTHY = switched()


def decided(plans, facts, **events):
    run = rotation_start(plans, "run-1", "2026-12-01T00:00:00Z", 100.0, new_keys={u: {"access_key_id": NEW, "secret_access_key": "s3cr3t"}
                                                                                  for u in plans})
    run = rotation_advance(run, "hosts", hostvars=facts, hosts=sorted(facts), play_hosts=sorted(facts), registers=REGISTERS)
    for event, observations in events.items():
        run = rotation_advance(run, event, **observations)
    return run


def test_a_user_whose_key_change_was_not_confirmed_is_rolled_back():
    run = decided({"app": plan()}, hostvars(web1=HEALTHY, web2=HEALTHY),
                  proved={"expect": "invalid", "failures": {"app": "AWS did not confirm that it rejects key AKIA... in time"}})
    assert run["outcome"]["app"]["action"] == "rollback"
    assert run["outcome"]["app"]["message"].startswith("failed: AWS did not confirm")


@pytest.mark.parametrize("overrides, action, keep", [({}, "cutover", False), ({"staged": True, "hosts_outside_play": ["web3"]}, "staged", False)],
                         ids=["whole-fleet", "staged"])
def test_cutover_or_staged_when_every_host_is_healthy(overrides, action, keep):
    run = decided({"app": plan(**overrides)}, hostvars(web1=HEALTHY, web2=HEALTHY))
    assert run["outcome"]["app"]["action"] == action and run["outcome"]["app"]["keep_new_key"] is keep


@pytest.mark.parametrize(
    "overrides, action, keep",
    [({}, "rollback", False), ({"old_key_disabled": True}, "failed", False),
     ({"staged": True, "hosts_outside_play": ["web3"], "new_key_id": NEW}, "rollback", True)],
    ids=["rollback", "disabled-old-key-never-rolled-back-onto", "staged-resumed-key-kept"],
)
def test_when_a_host_fails(overrides, action, keep):
    run = decided({"app": plan(**overrides)}, hostvars(web1=HEALTHY, web2=switched(failure={"check": "health check", "msg": "503"})))
    assert run["outcome"]["app"]["action"] == action and run["outcome"]["app"]["keep_new_key"] is keep
    assert "host web2 failed health check: 503" in run["outcome"]["app"]["message"]
    if action == "rollback" and not keep:
        assert run["todo"]["rollback"] == ["app"]


def test_the_registers_are_read_by_the_names_given_and_a_renamed_register_is_not_silently_untouched():
    facts = hostvars(web1=HEALTHY, web2=HEALTHY)
    run = rotation_start({"app": plan()})
    assert rotation_advance(run, "hosts", hostvars=facts, hosts=["web1", "web2"], registers=REGISTERS)["outcome"]["app"]["action"] == "cutover"
    # The role's own names find nothing here: every host is untouched, so nothing is cut over.
    assert rotation_advance(run, "hosts", hostvars=facts, hosts=["web1", "web2"], registers=ROLE_REGISTERS)["outcome"]["app"]["action"] == "rollback"
    with pytest.raises(AnsibleFilterError, match="unknown phases"):
        rotation_advance(run, "hosts", hostvars=facts, hosts=["web1"], registers={"switched": "reg_switch"})


def test_the_report_summarises_users_and_the_run_without_a_secret():
    plans = {"app": plan(), "canary": plan(staged=True, hosts=["c1"], fleet_hosts=["c1", "c2", "c3"], hosts_outside_play=["c2", "c3"]),
             "db": plan(hosts=["db1"]), "idle": plan(due=False, hosts=[])}
    facts = hostvars(web1=HEALTHY, web2=HEALTHY, c1=dict(HEALTHY, rotor_iam_user="canary"),
                     db1=dict(switched(failure={"check": "health check", "msg": "503"}), rotor_iam_user="db"))
    run = decided(plans, facts, proved={"expect": "valid", "failures": {"db": "AWS did not confirm that it accepts key X in time"}})
    reported = rotation_report(run, "2026-12-01T00:00:12Z", 112.34)
    summary = reported["rotation"]
    assert "s3cr3t" not in str(reported) and "s3cr3t" not in str(run)
    assert summary["app"]["new_access_key_id"] == NEW and summary["app"]["old_key"] == "deleted"
    assert summary["canary"]["action"] == "staged" and summary["canary"]["old_key"] == "active" and summary["canary"]["hosts_switched"] == ["c1"]
    assert summary["db"]["action"] == "rollback" and summary["db"]["hosts_switched"] == [] and "accepts key X" in summary["db"]["message"]
    assert summary["idle"]["action"] == "skipped"
    assert reported["run"]["users_rotated"] == ["app"] and reported["run"]["users_staged"] == ["canary"]
    assert reported["run"]["users_failed"] == ["db"] and reported["run"]["users_skipped"] == ["idle"]
    assert reported["run"]["hosts_switched"] == ["c1", "web1", "web2"] and reported["run"]["duration_seconds"] == 12.3
    assert reported["message"].startswith("Rotation of db rolled back: host db1 failed health check: 503")


def test_the_failure_message_names_unrestored_hosts_and_refused_users():
    restore_failed = dict(switched(failure={"check": "health check", "msg": "503"}),
                          reg_settle={"failed": True, "restored": False, "step": "restore", "msg": "unreachable",
                                      "failure": {"check": "restore", "msg": "unreachable"}})
    run = decided({"db": plan(hosts=["db1"]), "no": plan(due=False, error="cannot rotate IAM user 'no': locked by run r-1", hosts=[])},
                  hostvars(db1=dict(restore_failed, rotor_iam_user="db")))
    message = rotation_report(run)["message"]
    assert "Rotation of db rolled back: host db1 failed health check: 503." in message
    assert "db1 (restore: unreachable)" in message
    assert "Not rotated: cannot rotate IAM user 'no': locked by run r-1." in message
    assert rotation_report(decided({"app": plan()}, hostvars(web1=HEALTHY, web2=HEALTHY)))["message"] == ""


def test_the_last_host_steps_restore_rolled_back_hosts_and_clean_cut_over_ones():
    facts = hostvars(web1=switched(backups=("/etc/app/.credentials.bak",), failure={"check": "health check", "msg": "503"}), web2=read(OLD),
                     db1=dict(HEALTHY, rotor_iam_user="db"), gone=dict(switched(unreachable=True), rotor_iam_user="db2"))
    plans = {"app": plan(), "db": plan(hosts=["db1"]), "db2": plan(hosts=["gone"])}
    assert decided(plans, facts)["todo"]["settle"] == {
        "web1": {"state": "restored", "backup_files": ["/etc/app/.credentials.bak"]},
        "db1": {"state": "backups_absent", "backup_files": []},
    }


def test_new_keys_a_host_may_hold_are_kept():
    restored = dict(switched(failure={"check": "health check", "msg": "503"}),
                    reg_settle={"restored": True, "invocation": {"module_args": {"state": "restored"}}})
    failed = switched(failure={"check": "health check", "msg": "503"})
    plans = {"app": plan(hosts=["web1"]), "db": plan(hosts=["db1"]), "stage": plan(hosts=["s1"], staged=True, new_key_id=NEW)}
    gone = dict(read(OLD), reg_switch={"unreachable": True, "wrote": True, "msg": "gone"}, rotor_iam_user="db")
    facts = hostvars(web1=restored, db1=gone, s1=dict(failed, rotor_iam_user="stage"))
    run = decided(plans, facts)
    assert run["todo"]["rollback"] == ["app", "db", "stage"]
    assert run["todo"]["delete_new_keys"] == ["app"] and run["todo"]["keep_pending"] == ["stage"]
    still = decided({"app": plan(hosts=["web1"])}, hostvars(web1=failed))
    assert still["todo"]["delete_new_keys"] == []  # web1 still holds it


def test_deactivations_and_when_they_happened():
    plans = {"a": plan(hosts=["web1"]), "b": plan(hosts=["web2"], old_key_disabled=True)}
    run = decided(plans, hostvars(web1=dict(HEALTHY, rotor_iam_user="a"), web2=dict(HEALTHY, rotor_iam_user="b")))
    journal = [{"item": {"item": "b"}, "journal": {"inactive_since": "2026-11-30T10:00:00Z"}}, {"item": {"item": "a"}, "journal": {}}]
    run = rotation_advance(run, "deactivated", results=[{"item": "a", "changed": True}, {"item": "b", "changed": False}],
                           now="2026-12-01T10:00:00+00:00", journal=journal)
    assert run["todo"]["prove_deactivated"] == ["a", "b"]
    assert run["todo"]["inactive_since"] == {"a": "2026-12-01T10:00:00+00:00", "b": "2026-11-30T10:00:00Z"}
    assert run["users"]["a"]["deactivated"]["reactivatable"] and not run["users"]["b"]["deactivated"]["reactivatable"]


def test_a_malformed_input_is_one_clear_error():
    with pytest.raises(AnsibleFilterError, match="rotor.iam.rotation_advance: malformed input"):
        rotation_advance(rotation_start({"app": plan()}), "exploded")
    with pytest.raises(AnsibleFilterError, match="rotor.iam.rotation_start: malformed input"):
        rotation_start(None)


def _role_variables(**overrides):
    return dict({"rotor_compromised_key_ids": [], "rotor_batch_size": "100%", "rotor_max_key_age_days": 90,
                 "rotor_delete_inactive_after_days": 7, "rotor_verify_timeout": 300, "rotor_in_use_window_minutes": 60,
                 "rotor_drain_seconds": 0, "rotor_lock_ttl_minutes": 60, "rotor_lock_settle_seconds": 0, "rotor_force": False},
                **overrides)


def test_the_plan_step_starts_the_record_from_what_it_registered():
    """rotation_start step by step, as the rotate role's plan step calls it: each step reads what the role registered and
    leaves the next work list; the last makes the plan, its own work lists, where each key is held, and the lines the
    plan shows."""
    role = Registers()  # the role's own register names: the plan reads the hosts' reads under them
    key = {"access_key_id": OLD, "status": "Active", "age_days": 120, "create_date": "2026-08-01T00:00:00Z", "last_used": None}
    facts = hostvars(web1=role.read(OLD), web2=role.read(OLD), db1=dict(role.read(OLD), rotor_iam_user="idle"),
                     batch1=dict(role.read(OLD), rotor_iam_user="gone"))
    hosts = ["web1", "web2", "db1", "batch1"]
    destinations = [{"user": "app", "type": "ssm", "name": "/k/app", "health_check": {"url": "https://u:pw@app/health"}}]

    run = rotation_start(_role_variables(), step="begin", run_id="run-1", hostvars=facts, play_hosts=hosts)
    assert (run["run_id"], run["problems"], run["todo"]["identify"]) == ("run-1", [], [])  # one connection: no account to learn
    run = rotation_start(run, step="users", identities=[], hostvars=facts, play_hosts=hosts, inventory_hosts=hosts, destinations=destinations)
    assert sorted(run["fleet"]["users"]) == ["app", "gone", "idle"]
    # One connection: the begin step takes the users step itself (the role skips it), to the same record.
    at_once = rotation_start(_role_variables(), step="begin", run_id="run-1", hostvars=facts, play_hosts=hosts, inventory_hosts=hosts,
                             destinations=destinations)
    assert (at_once["fleet"], at_once["todo"]["check_callers"]) == (run["fleet"], run["todo"]["check_callers"])
    assert [(c["target"], c["user_names"]) for c in run["todo"]["check_callers"]] == [
        ({"profile": "", "region": "", "endpoint_url": ""}, ["app", "idle", "gone"])]
    run = rotation_start(run, step="callers", callers=[{"item": run["todo"]["check_callers"][0], "account": "123456789012"}],
                         destinations=destinations)
    assert run["problems"] == [] and run["todo"]["lock"] == ["app", "gone", "idle"]
    assert [d["name"] for d in run["todo"]["read_destinations"]] == ["/k/app"] and "pw@" not in str(run)  # no health-check URL kept
    infos = [{"item": "app", "user_name": "app", "access_keys": [key]}, {"item": "idle", "user_name": "idle", "access_keys": [dict(key, age_days=3)]}]
    locks = [{"item": "app", "journal": {}, "lease": None, "lock_note": "took over the lock of dead run r-0"},
             {"item": "idle", "journal": {}, "lease": None}, {"item": "gone", "failed": True, "msg": "locked by run r-other"}]
    reads = {"results": [{"item": run["todo"]["read_destinations"][0], "access_key_id": OLD}]}

    run = rotation_start(run, step="plan", key_infos=infos, locks=locks, destination_reads=reads, hostvars=facts, play_hosts=hosts)

    assert (run["run_id"], run["todo"]["due"], run["todo"]["not_due"], run["todo"]["refused"]) == ("run-1", ["app"], ["idle"], ["gone"])
    assert run["todo"]["locked"] == ["app", "idle"] and run["lock_notes"] == [{"user": "app", "note": "took over the lock of dead run r-0"}]
    assert run["plans"]["app"]["old_key_holder"]["host"] == "web1" and run["plans"]["app"]["new_key_holder"] == {}
    users_shown = [line.split("|")[1].strip() for line in run["lines"] if line.startswith("|")]  # the plan table's user column
    assert "app" in users_shown and any("gone" in line and "locked by run r-other" in line for line in run["lines"]), run["lines"]
    assert sorted(run["fleet"]["users"]) == ["app", "gone", "idle"] and "compromised_not_found" not in run


def test_the_plan_step_stops_on_refused_settings_and_on_a_connection_that_does_not_answer_keeping_no_secret():
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    facts = hostvars(web1={"rotor_aws_profile": "a"}, web2={"rotor_aws_profile": "b"})
    refused = rotation_start(_role_variables(rotor_compromised_key_ids=[secret]), step="begin", hostvars=facts, play_hosts=["web1", "web2"])
    assert refused["problems"] and refused["settings"] == {} and refused["todo"]["identify"] == [] and secret not in str(refused)
    run = rotation_start(_role_variables(), step="begin", hostvars=facts, play_hosts=["web1", "web2"])
    assert [c["profile"] for c in run["todo"]["identify"]] == ["a", "b"] and run["run_id"]  # several connections: learn each account
    run = rotation_start(run, step="users", identities=[{"item": c, "account": "123456789012"} for c in run["todo"]["identify"]],
                         hostvars=facts, play_hosts=["web1", "web2"])
    unreachable = {"failed": True, "error_code": "ConnectionError", "msg": "Cannot reach AWS STS at http://127.0.0.1:9. Nothing was changed."}
    run = rotation_start(run, step="callers", callers=[unreachable, unreachable])
    assert run["problems"] == [unreachable["msg"]] and run["todo"] == {"read_destinations": [], "lock": []}
    with pytest.raises(AnsibleFilterError, match="rotor.iam.rotation_start: malformed input .*step must be one of"):
        rotation_start(run, step="decide")


def test_a_bad_destination_or_host_in_the_plan_step_is_a_filter_error_naming_rotation_start():
    # The engine refuses them (test_destination_reads.py, test_run_users.py); the filter turns that into Ansible's error.
    run = rotation_start(_role_variables(), step="begin", hostvars={}, play_hosts=[])
    dest = {"user": "app", "type": "secretsmanager", "name": "k/app"}
    with pytest.raises(AnsibleFilterError, match=r"^rotor\.iam\.rotation_start: malformed input \(rotor_secret_destinations\[1\]: "
                                                 r"secretsmanager .* is listed twice"):
        rotation_start(dict(run, fleet={"users": {"app": {}}}), step="callers", callers=[], destinations=[dest, dict(dest)])
    with pytest.raises(AnsibleFilterError, match=r"^rotor\.iam\.rotation_start: malformed input"):
        rotation_start(run, step="users", identities=[], hostvars={}, play_hosts=["web1"])


def test_the_leaked_keys_no_user_owns_ride_with_the_record_into_its_report():
    run = rotation_start(_role_variables(rotor_compromised_key_ids="AKIALEAKEDLEAKEDLEA2"), step="begin", hostvars={}, play_hosts=[])
    run = rotation_start(run, step="users", hostvars={}, play_hosts=[])
    run = rotation_start(run, step="callers", callers=[])
    run = rotation_start(run, step="plan", key_infos=[], locks=[], hostvars={}, play_hosts=[])
    assert run["compromised_not_found"] == ["AKIALEAKEDLEAKEDLEA2"]
    assert rotation_report(run)["run"]["compromised_keys_not_found"] == ["AKIALEAKEDLEAKEDLEA2"]


def test_the_create_steps_registers_pass_through_the_filter_and_leave_no_secret_in_the_record():
    run = rotation_start({"app": plan()}, "run-1", "2026-12-01T00:00:00Z", 100.0)
    run = rotation_advance(run, "created", creating={"results": [{"item": item, "lease": {"n": 1}} for item in run["todo"]["creating"]]})
    run = rotation_advance(run, "created", created={"results": [{"item": item, "access_key_id": NEW, "secret_access_key": "s3cr3t"}
                                                                for item in run["todo"]["create"]]})
    assert run["users"]["app"]["new_key_id"] == NEW and "s3cr3t" not in repr(run)
    assert run["todo"]["distributing"] == [{"user": "app", "pending_key_id": NEW, "lease": {"n": 1}}]
    failed = rotation_advance(run, "created", verified={"results": [{"item": {"user": "app"}, "failed": True, "msg": "m"}]}, verify_timeout=4)
    assert failed["todo"]["undo_keys"] == [{"user": "app", "access_key_id": NEW}] and failed["todo"]["undo_journal"] == [{"user": "app"}]
    with pytest.raises(AnsibleFilterError, match="rotor.iam.rotation_advance: malformed input"):
        rotation_advance(run, "created", failures=[1])
