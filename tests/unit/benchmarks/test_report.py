"""The benchmarks' pure parts (benchmarks/report.py, bench.py's options and RESULTS.md, light_fleet.py's
routing and inventory): no servers, no timing, no subprocesses."""

import os
import re
import sys

import pytest

BENCHMARKS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "benchmarks"))
sys.path.insert(0, BENCHMARKS)

report = pytest.importorskip("report")

# What the timing callback writes: two hosts, a run-once controller module, a fact, a skipped host module.
RECORD = {"end": 10.0, "plays": [], "tasks": [
    {"name": "create", "action": "amazon.aws.iam_access_key", "start": 0.0, "hosts": {"host1": ["ok", 1]}},
    {"name": "read", "action": "rotor.iam.credentials_file", "start": 1.0, "hosts": {"host1": ["ok", 2], "host2": ["ok", 3]}},
    {"name": "note", "action": "ansible.builtin.set_fact", "start": 4.0, "hosts": {"host1": ["ok", 4], "host2": ["ok", 4]}},
    {"name": "gone", "action": "ansible.builtin.command", "start": 5.0, "hosts": {"host1": ["skipped", 5], "host2": ["skipped", 5]}},
    {"name": "check", "action": "rotor.iam.health_check", "start": 7.0, "hosts": {"host2": ["failed", 8], "host1": ["ok", 8]}},
]}


def squeeze(text):
    """A Markdown table's text with its column padding collapsed (one space)."""
    return re.sub(r" +", " ", text)


def test_task_rows_time_each_task_until_the_next_starts():
    rows = report.task_rows(RECORD)
    assert [(row["name"], row["seconds"], row["ran"], row["skipped"]) for row in rows] == [
        ("create", 1.0, 1, 0), ("read", 3.0, 2, 0), ("note", 1.0, 2, 0), ("gone", 2.0, 0, 2), ("check", 3.0, 2, 0)]


def test_profile_kinds():
    kinds = report.profile_breakdown(report.task_rows(RECORD))
    assert kinds[report.CATEGORIES[0]] == [2, 6.0]   # read, check
    assert kinds[report.CATEGORIES[1]] == [2, 3.0]   # note (a fact), gone (skipped)
    assert kinds[report.CATEGORIES[2]] == [1, 1.0]   # create, one host


def test_per_host_counts_starts_and_module_runs():
    assert report.per_host_counts(RECORD) == {"host1": {"starts": 5, "modules": 3}, "host2": {"starts": 4, "modules": 2}}
    summary = report.per_host_summary(RECORD)
    assert summary == {"hosts": 2, "starts_median": 4.5, "starts_max": 5, "modules_median": 2.5, "modules_max": 3,
                       "once": 1, "tasks": 5}
    assert report.per_host_summary({"tasks": []}) is None


def test_typical_host_and_its_tasks():
    record = {"tasks": [dict(task, hosts=dict(task["hosts"], host3=task["hosts"].get("host2", ["ok", 0])))
                        for task in RECORD["tasks"][1:]]}
    assert report.typical_host(record) == "host3"   # every host starts 4 tasks: the last in host order
    assert report.host_tasks(RECORD, "host2") == [
        ("read", "credentials_file", "ok", True), ("note", "set_fact", "ok", False),
        ("gone", "command", "skipped", False), ("check", "health_check", "failed", True)]
    assert [report.host_order(name) for name in ("host2", "host10")] == [("host", 2, "host2"), ("host", 10, "host10")]


def test_proc_parsing():
    status = "Name:\tansible-playboo\nVmPeak:\t  300000 kB\nVmHWM:\t   81234 kB\nVmRSS:\t   80000 kB\nThreads:\t3\n"
    assert report.parse_proc_status(status) == {"VmPeak": 300000, "VmHWM": 81234, "VmRSS": 80000}
    fields = ["S", "100", "4242", "4242"] + ["0"] * 17 + ["5120"] + ["0"] * 5
    assert report.parse_proc_stat("4243 (python3 (a) b) " + " ".join(fields)) == (100, 4242, 5120)
    assert report.parse_loadavg("0.52 0.61 0.70 1/123 4567\n") == (0.52, 0.61, 0.70)
    assert report.fmt_load((0.5, 1.25, 2.0)) == "0.50 1.25 2.00" and report.fmt_load(None) == "?"


def test_calls_split_and_per_user():
    calls = {"iam": {"ListAccessKeys": 2, "CreateAccessKey": 2}, "sts": {"GetCallerIdentity": 3}}
    assert report.split_calls(calls) == {"IAM": {"ListAccessKeys": 2, "CreateAccessKey": 2}, "STS": {"GetCallerIdentity": 3}}
    assert report.calls_per_user(calls, 2) == (2.0, 1.5)
    assert report.calls_per_user({}, 0) == (0, 0)


def part(seconds, ok=True, load=1.0, **extra):
    return dict({"seconds": seconds, "ok": ok, "load_start": (load, 0, 0), "load_end": (load + 1, 0, 0),
                 "maxrss_kib": 2048, "tree_peak_kib": 4096, "tree": "descendants"}, **extra)


def entry(size=50, mode="local", lag=0, runs=None):
    runs = runs or [{"ping": part(2.0), "naive": part(10.0), "rotor": part(5.0)},
                    {"ping": part(4.0, load=3.0), "naive": part(12.0), "rotor": part(9.0, ok=False)}]
    return report.summarize_fleet({"mode": mode, "size": size, "forks": size, "fleet": "tests/fleet", "users": 1,
                                   "lag": lag, "runs": runs})


def test_summary_medians_ratios_and_load():
    summary = entry()["summary"]
    assert (summary["ping"], summary["naive"], summary["rotor"]) == (3.0, 11.0, 5.0)   # a failed run is left out
    assert summary["rotor/naive"] == pytest.approx(5 / 11)
    assert summary["rotor/ping"] == pytest.approx(5 / 3) and summary["naive/ping"] == pytest.approx(11 / 3)
    assert (summary["load_min"], summary["load_max"]) == (1.0, 4.0)
    assert summary["rotor_maxrss_kib"] == 2048 and summary["rotor_tree_kib"] == 4096
    assert report.ratio(None, 2) is None and report.ratio(1, 0) is None


def test_target_verdicts():
    lines = report.target_verdicts([entry(), entry(size=5), entry(size=500, mode="ssh"), entry(lag=2)])
    assert lines == ["- local, 50 hosts: rotor / naive = 0.45x, target at most 0.75x: **meets**",
                     "- local, 50 hosts: rotor / ping = 1.67x, target at most 4x: **meets**"]
    slow = entry(size=500, runs=[{"ping": part(1.0), "naive": part(2.0), "rotor": part(8.0)}])
    assert report.target_verdicts([slow]) == ["- local, 500 hosts: rotor / ping = 8.00x, target at most 4x: **misses**"]


def test_markdown_tables():
    assert report.table([("a", 1)], ("name", "n")).splitlines() == ["| name | n |", "|------|---|", "| a    | 1 |"]
    entries = [entry(), entry(lag=2)]
    wall = squeeze(report.wall_table(entries))
    assert "| local 50 (lag 2s) | 50 | tests/fleet | 2 | 3.0 | 11.0 | 5.0 | 0.45x | 1.67x | 3.67x | 1.0-4.0 |" in wall
    assert "failed (load 1.0)" in report.runs_table(entries)
    assert "| local 50 | 50 | 2 / 4 | 2 / 4 | 2 / 4 |" in squeeze(report.memory_table(entries))
    assert report.per_host_table(entries).count("| - ") >= 6   # no timing record: dashes, not an error
    empty = report.summarize_fleet({"mode": "ssh", "size": 5, "forks": 5, "fleet": "x", "runs": []})
    assert "| ssh 5 " in report.wall_table([empty]) and report.fmt_seconds(None) == "-"


def test_shown_argv_drops_local_paths():
    assert report.shown_argv(["--write", "--json", "/tmp/x.json", "--workdir=/tmp/w", "--sizes", "5"]) == "--write --sizes 5"


def test_options_quick_and_lists():
    bench = pytest.importorskip("bench")
    args = bench.parse_args(["--quick", "--env", "ANSIBLE_PIPELINING=True", "-e", "rotor_force=true"])
    assert (args.sizes, args.ssh_sizes, args.repeat, args.lag_sizes, args.audit_users) == ([5], [], 1, [], [])
    assert args.env == {"ANSIBLE_PIPELINING": "True"} and args.extra_vars == {"rotor_force": True}
    args = bench.parse_args([])
    assert (args.sizes, args.ssh_sizes, args.max_forks) == ([5, 50, 500], [50], 50)


def test_results_markdown_from_recorded_runs():
    bench = pytest.importorskip("bench")
    timing = dict(RECORD)
    one = entry(size=2, runs=[{"ping": part(1.0),
                               "naive": part(4.0, timing_file="/w/runs/naive-local-2-1.timing.json", calls={"iam": {"CreateAccessKey": 1}},
                                             per_host=report.per_host_summary(timing), hosts=2, healthy_on_new=2),
                               "rotor": part(2.0, timing_file="/w/runs/rotor-local-2-1.timing.json",
                                             calls={"iam": {"CreateAccessKey": 1}, "sts": {"GetCallerIdentity": 1}},
                                             per_host=report.per_host_summary(timing), hosts=2, healthy_on_new=1)}])
    results = {"fleets": [one], "audit": [], "failures": [],
               "timings": {"naive-local-2-1": timing, "rotor-local-2-1": timing}}
    facts = {"date": "2026-12-01 00:00 UTC", "rotor_iam_commit": "abc1234", "load_before": (1.0, 1.0, 1.0)}
    text = bench.render(results, facts, {"argv": ["--write"], "repeat": 1, "max_forks": 50, "test_lag": 2.0, "lag_sizes": [5]})
    assert "| rotor_iam_commit | abc1234 |" in text
    text = squeeze(text)
    assert "| local 2 | 2 | tests/fleet | 1 | 1.0 | 4.0 | 2.0 | 0.50x | 2.00x | 4.00x | 1.0-2.0 | 2/2 | 1/2 |" in text
    assert "What one host (host2 of local 2) costs in `rotor.iam.rotate`: **4 task starts, 2 module runs**" in text
    assert "| local 2 | 1 | 1 | 0 | 1 | 1 |" in text   # IAM and STS calls per user, naive then rotor
    assert "| local 2 | 4.5 (max 5) | 2.5 (max 3) | 1 of 5 | 4.5 (max 5) | 2.5 (max 3) | 1 of 5 |" in text


def test_light_fleet_routes_and_host_vars():
    light_fleet = pytest.importorskip("light_fleet")
    assert light_fleet.route("/host7/health") == ("host7", "health")
    assert light_fleet.route("/host7/reload?x=1") == ("host7", "reload")
    assert light_fleet.route("/_fleet/health") == ("_fleet", "health")
    assert light_fleet.route("/") == (None, None) and light_fleet.route("/a/b/c") == (None, None)
    hostvars = light_fleet.host_vars("/w", "host3", 4321, "alice")
    assert hostvars["rotor_credentials_files"] == [{"path": "/w/hosts/host3/etc/credentials", "format": "aws_credentials",
                                                   "profile": "default", "mode": "0600"}]
    assert hostvars["rotor_restart_command"] == "curl -fsS -o /dev/null -X POST http://127.0.0.1:4321/host3/reload"
    assert hostvars["rotor_health_check"] == {"url": "http://127.0.0.1:4321/host3/health", "status_code": 200,
                                              "retries": 5, "delay": 1}
    assert (hostvars["ansible_connection"], hostvars["rotor_iam_user"]) == ("local", "alice")
    assert light_fleet.credentials_text("AKIA1", "s3cret") == "[default]\naws_access_key_id = AKIA1\naws_secret_access_key = s3cret\n"


def test_naive_playbook_parses():
    """benchmarks/naive/rotate.yml is a valid playbook (ansible-playbook --syntax-check; nothing runs)."""
    import shutil  # pylint: disable=import-outside-toplevel
    import subprocess  # pylint: disable=import-outside-toplevel

    tool = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable)) or shutil.which("ansible-playbook")
    if not tool:
        pytest.skip("ansible-playbook is not installed")
    result = subprocess.run([tool, "--syntax-check", "-i", "localhost,", os.path.join(BENCHMARKS, "naive", "rotate.yml")],
                            capture_output=True, text=True, check=False, timeout=120,
                            env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_COLLECTIONS_PATH=os.path.join(
                                os.path.dirname(BENCHMARKS), ".build", "collections")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_host_and_once_breakdown():
    assert report.host_breakdown(RECORD, "host1") == {"modules": 3, "controller": 1, "skipped": 1}
    assert report.once_breakdown(RECORD) == {"tasks": 1, "modules": 1}


def test_descendants_walk_the_parent_links():
    table = {1: (0, 10), 100: (1, 50), 101: (100, 20), 102: (100, 20), 200: (101, 5), 300: (1, 99)}
    assert sorted(report.descendants(table, 100)) == [100, 101, 102, 200]
    assert report.descendants(table, 999) == []


def test_memory_of_runs_without_the_descendant_sampler_is_not_shown():
    old = entry(runs=[{"ping": dict(part(1.0), tree=None), "naive": part(2.0), "rotor": part(3.0)}])
    assert old["summary"]["ping_tree_kib"] is None and old["summary"]["rotor_tree_kib"] == 4096
    assert "| 2 / - |" in squeeze(report.memory_table([old]))
