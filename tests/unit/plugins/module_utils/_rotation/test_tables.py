"""The run as an operator reads it: the plan table, the progress line per batch, the summary table."""

import re

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import assume, example, given
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.filter.engine import rotation_report
from ansible_collections.rotor.iam.plugins.module_utils._rotation import run as engine
from ansible_collections.rotor.iam.plugins.module_utils._rotation import tables
from ansible_collections.rotor.iam.plugins.module_utils._rotation.hosts import ROLE_REGISTERS
from ansible_collections.rotor.iam.plugins.module_utils.redact import WITHHELD
from rotation_builders import Registers, hostvars
import run_record_builders
from run_record_builders import NEW, OLD, host

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def plan(user="app", **extra):
    return dict({"due": True, "error": None, "old_key_id": OLD, "old_key_age_days": 120, "old_key_status": "Active", "user_name": user,
                 "hosts": ["web1", "web2"], "reason": f"key {OLD} is 120 days old (policy: 90)", "account": "123456789012"}, **extra)


def started(plans=None, **options):
    return run_record_builders.started(plans or {"app": plan()}, **options)


def rows(lines):
    """The body rows of a rendered table, as lists of cells."""
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]


def summary(run, **report_options):
    report = engine.report(run, **report_options)
    return tables.summary_table(report, run)


# --------------------------------------------------------------------------- rendering


def test_every_line_of_a_table_has_the_same_width_and_starts_and_ends_with_a_bar():
    lines = tables.render(("a", "bb"), [("x", None), ("long value", ["h1", "h2"])])
    assert len({len(line) for line in lines}) == 1
    assert all(line.startswith("|") and line.endswith("|") for line in lines)
    assert rows(lines) == [["x", "-"], ["long value", "h1, h2"]]


def test_a_cell_is_one_line_without_bars_and_keeps_its_quotes():
    assert tables.cell("user 'app' is\n\"b|c\"") == "user 'app' is \"b/c\""
    assert [tables.cell(v) for v in (None, "", [], {})] == ["-"] * 4


def test_long_lists_of_names_are_counted():
    assert tables.names(["a", "b"]) == "a, b"
    assert tables.names([f"web{i}" for i in range(1000)]) == "web0, web1, web2, web3, web4 and 995 more"


@pytest.mark.parametrize("seconds, shown", [(0, "0s"), (42.4, "42s"), (185, "3m05s"), (7800, "2h10m")])
def test_durations(seconds, shown):
    assert tables.duration(seconds) == shown


# --------------------------------------------------------------------------- the plan


def test_the_plan_is_one_row_per_user_with_account_key_age_action_hosts_destinations_and_what_a_failure_does():
    plans = {"app": plan(owner="team-a", destinations={"secretsmanager:app/key": OLD}),
             "idle": plan(due=False, old_key_id=None, old_key_age_days=None, reason="key is 3 days old (policy: 90)",
                          keys=[{"access_key_id": "AKIAIDLE000000000001", "status": "Active", "age_days": 3}], hosts=["db1"]),
             "broken": plan(error="host web9 holds key AKIAOTHER00000000001 of another user", hosts=["web9"])}
    lines = tables.plan_table(started(plans, check_mode=True, new_key_ids={}))

    assert lines[0].split("|")[1:-1] == [f" {h} ".ljust(len(c)) for h, c in zip(tables.PLAN_HEADER, lines[0].split("|")[1:-1])]
    by_user = {row[0]: row for row in rows(lines)}
    assert by_user["app (owner: team-a)"] == [
        "app (owner: team-a)", "123456789012", OLD, "120 d",
        f"ROTATE - key {OLD} is 120 days old (policy: 90); old key {OLD} will be deleted", "web1, web2",
        f"secretsmanager:app/key (on {OLD})", "roll back: hosts restored from their backups, old key Active, new key deleted"]
    assert by_user["idle"][2:5] == ["AKIAIDLE000000000001", "3 d", "skip - key is 3 days old (policy: 90)"]
    assert by_user["idle"][-1] == "-"
    assert by_user["broken"][4].startswith("CANNOT ROTATE - host web9 holds key") and by_user["broken"][-1] == "-"


def test_a_user_only_destinations_hold_shows_them_and_no_host():
    lines = tables.plan_table(started({"app": plan(reason="key 120 days old", notes=[], hosts=[], destinations={"ssm:/k/app": OLD})}))
    assert rows(lines)[0][5:7] == ["-", f"ssm:/k/app (on {OLD})"]


def test_an_incident_says_the_leaked_key_is_never_reactivated():
    lines = tables.plan_table(started({"app": plan(compromised_key_id=OLD, reason=f"key {OLD} is compromised")}))
    assert rows(lines)[0][4].startswith(f"INCIDENT - key {OLD} is compromised") and "never reactivated" in rows(lines)[0][-1]


def test_a_secret_where_a_key_id_should_be_is_never_shown_in_the_plan():
    lines = tables.plan_table(started({"app": plan(old_key_id=SECRET, reason="due", destinations={"ssm:/app": SECRET},
                                                   stale_inactive_key_ids=[SECRET], free_slot_key_id=SECRET)}))
    assert SECRET not in "\n".join(lines) and WITHHELD in lines[2]


# --------------------------------------------------------------------------- progress


def test_progress_counts_the_hosts_of_the_users_being_rotated_and_estimates_the_time_left():
    states = {f"web{i}": host(state="untouched", wrote=False) for i in range(10)}
    states.update({"web0": host(), "web1": host(), "web2": host(state="failed", failure={"check": "health check", "msg": "503"}),
                   "db1": host(user="other")})
    line = tables.progress_line(started(), states, now_epoch=130.0)
    assert line == "Progress: 2 of 10 hosts on the new key; 1 failed (web2); 30s elapsed, about 1m10s left"


def test_progress_says_when_a_failure_stopped_the_later_batches():
    states = {"web1": host(state="failed", failure={"check": "health check", "msg": "503"}), "web2": host(state="untouched", wrote=False)}
    line = tables.progress_line(started(), states, now_epoch=160.0, switching=[])
    assert line.endswith("1m00s elapsed; stopped for app after a failure: their other hosts keep the old key")


def test_progress_with_nothing_due():
    assert tables.progress_line(started({"app": plan(due=False)}), {}, 0) == "Progress: no IAM user is due, no host switches"


def test_the_progress_filter_reads_the_hosts_registers():
    registers = Registers()
    facts = hostvars(web1=registers.switched(), web2=registers.read(OLD))
    line = rotation_report(started(), table="progress", hostvars=facts, hosts=["web1", "web2"], registers=ROLE_REGISTERS, now_epoch=110.0)
    assert line == "Progress: 1 of 2 hosts on the new key; 0 failed; 10s elapsed, about 10s left"


def test_an_unknown_table_is_refused_naming_the_allowed_ones():
    with pytest.raises(AnsibleFilterError, match=r"table='html' is not one of plan, progress"):
        rotation_report(started(), table="html")


# --------------------------------------------------------------------------- summary


def test_the_summary_is_the_run_then_one_row_per_user_and_per_host():
    run = engine.advance(started(), "hosts", {"hosts": {"web1": host(), "web2": host()}})
    lines = summary(run, now_epoch=112.0)

    assert lines[0] == "Run r1; rotated: app; 2 hosts switched; took 12s"
    assert rows(lines[1:]) == [["app", "(IAM)", OLD, NEW, "-", "rotated; old key deleted"],
                               ["app", "web1", OLD, NEW, "yes", "moved to the new key"],
                               ["app", "web2", OLD, NEW, "yes", "moved to the new key"]]


def test_a_rollback_shows_the_cause_once_and_which_hosts_went_back():
    failure = {"check": "health check (curl -f http://127.0.0.1/health)", "msg": "exit 22"}
    run = engine.advance(started(), "hosts", {"hosts": {"web1": host(state="failed", failure=failure, restored=True),
                                                        "web2": host(restore_failure="restore: disk full")}})
    body = rows(summary(run)[1:])

    assert body[0][:4] == ["app", "(IAM)", OLD, OLD] and body[0][5].startswith("rollback: host web1 failed health check")
    assert body[1] == ["app", "web1", OLD, OLD, "yes", f"put back on the old key after {failure['check']}: exit 22"]
    assert body[2][2:5] == [OLD, "unknown", "NO"] and body[2][5].startswith("NOT put back on the old key: restore: disk full")
    assert sum(line.count("exit 22") for line in summary(run)) == 2  # the user's cause and the host's, once each


def test_check_mode_says_what_would_happen_and_that_nothing_changed():
    lines = summary(started(check_mode=True, new_key_ids={}))
    assert lines[0] == "Run r1; check mode, nothing changed"
    assert rows(lines[1:])[0][5] == f"would rotate (check mode, nothing changed): key {OLD} is 120 days old (policy: 90)"
    assert rows(lines[1:])[1][3:] == ["-", "-", "would move to the new key"]


def test_a_large_fleet_gets_one_row_per_distinct_outcome():
    hosts = [f"web{i:03d}" for i in range(200)]
    states = {h: host(restored=True) for h in hosts}
    states["web150"] = host(state="failed", failure={"check": "health check", "msg": "503"}, restored=True)
    run = engine.advance(started({"app": plan(hosts=hosts)}), "hosts", {"hosts": states})
    body = rows(summary(run)[1:])
    assert len(body) == 3
    assert body[1][1] == "web000, web001, web002, web003, web004 and 194 more" and body[1][5] == "put back on the old key"
    assert body[2][1] == "web150"


def test_the_role_gets_the_summary_table_with_the_report():
    run = engine.advance(started(), "hosts", {"hosts": {"web1": host(), "web2": host()}})
    reported = rotation_report(run, "2026-12-06T00:00:12Z", 112.0)
    assert reported["table"] == summary(run, now_epoch=112.0) and set(reported) == {"rotation", "run", "message", "table"}


@given(st.one_of(st.text(min_size=20, max_size=60), st.from_regex(r"[A-Za-z0-9/+]{40}", fullmatch=True)))
@example("moved to the new key")
def test_nothing_but_a_key_id_is_ever_shown_where_a_key_id_should_be(value):
    """A secret (or anything else) in the old key's, the new key's or a host's key-id slot never reaches a table."""

    def tables_with(slot_value):
        run = started({"app": plan(old_key_id=slot_value, reason="due")}, new_key_ids={"app": slot_value})
        run = engine.advance(run, "hosts", {"hosts": {"web1": host(key_ids=[slot_value]),
                                                      "web2": host(key_ids=[slot_value], state="failed", failure={"check": "c", "msg": "m"})}})
        return "\n".join(tables.plan_table(run) + summary(run))

    # Text the tables print anyway (e.g. "moved to the new key") is not a leak when generated as the slot's value.
    assume(value not in tables_with("AKIAIOSFODNN7EXAMPLE"))
    text = tables_with(value)
    if not re.fullmatch(r"(AKIA|ASIA)[A-Z0-9]{16}", value) and len(value.strip()) >= 8:
        assert value not in text
