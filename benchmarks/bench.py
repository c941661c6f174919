# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmarks of rotor.iam on this machine: figures, not tests.

(a) wall time of `ansible-playbook rotor.iam.rotate` over N hosts (local and SSH), each
    beside the wall time of `ansible -m ping` over the same hosts, same forks, same run;
(b) IAM and STS calls per rotation by action, counted at the IAM endpoint's door;
(c) `rotor.iam.audit` over accounts of 100 and 1,000 users: calls and wall time.

Everything is real: the test IAM endpoint (moto behind our wrapper, auth enforced), a
fleet of hosts on this machine with a consumer application each, the real playbooks.
Run it through benchmarks/run.sh (it sets the environment up); --write rewrites
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(ROOT, "tests"), os.path.join(ROOT, "tests", "integration")]

import rotation_helpers  # noqa: E402  pylint: disable=wrong-import-position
from call_counter import CallCounter  # noqa: E402  pylint: disable=wrong-import-position
from fleet.fleet import Fleet  # noqa: E402  pylint: disable=wrong-import-position
from iam_endpoint.control import IAMEndpoint  # noqa: E402  pylint: disable=wrong-import-position

try:  # the audit and its helpers arrived after the rotation; older trees lack them
    import audit_helpers  # noqa: E402  pylint: disable=wrong-import-position
    from iam_endpoint import seed  # noqa: E402  pylint: disable=wrong-import-position
except ImportError:
    audit_helpers = seed = None

RESULTS = os.path.join(HERE, "RESULTS.md")
CALLBACKS = os.path.join(HERE, "callback_plugins")
AUDIT_PLAYBOOK = os.path.join(ROOT, "playbooks", "audit.yml")
TARGET_RATIO = 5.0
KEY_AGE_DAYS = 120
STS_ACTIONS = {"GetCallerIdentity", "AssumeRole", "GetSessionToken", "GetAccessKeyInfo"}


class BenchError(RuntimeError):
    """A measurement could not be taken (a run failed)."""


# --------------------------------------------------------------------------- helpers

def log(message):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), message))
    sys.stderr.flush()


def parse_list(text, cast=str):
    return [cast(item.strip()) for item in text.split(",") if item.strip()]


def median(values):
    return statistics.median(values) if values else None


def fmt_seconds(value):
    return "-" if value is None else "%.1f" % value


@contextlib.contextmanager
def environment(**settings):
    """Set environment variables for the duration of a block (None removes one)."""
    saved = {name: os.environ.get(name) for name in settings}
    try:
        for name, value in settings.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = str(value)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def load_average():
    try:
        with open("/proc/loadavg") as handle:
            return " ".join(handle.read().split()[:3])
    except OSError:
        return "?"


def machine_facts():
    facts = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    try:
        with open("/proc/cpuinfo") as handle:
            models = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        facts["cpu"] = "%s x %d" % (models[0] if models else platform.processor() or "?", os.cpu_count() or 0)
    except OSError:
        facts["cpu"] = "? x %d" % (os.cpu_count() or 0)
    try:
        with open("/proc/meminfo") as handle:
            kib = int(next(line for line in handle if line.startswith("MemTotal")).split()[1])
        facts["ram"] = "%.1f GiB" % (kib / 1024 / 1024)
    except (OSError, StopIteration, ValueError):
        facts["ram"] = "?"
    facts["kernel"] = "%s %s" % (platform.system(), platform.release())
    try:
        with open("/etc/os-release") as handle:
            release = dict(line.strip().split("=", 1) for line in handle if "=" in line)
        facts["os"] = release.get("PRETTY_NAME", "?").strip('"')
    except OSError:
        facts["os"] = "?"
    facts["python"] = platform.python_version()
    try:
        import ansible.release  # pylint: disable=import-outside-toplevel
        facts["ansible_core"] = ansible.release.__version__
    except ImportError:
        facts["ansible_core"] = "?"
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "roles", "playbooks", "plugins"],
                           capture_output=True, text=True, check=False)
    facts["rotor_iam_commit"] = (head.stdout.strip() or "?") + (" (roles/playbooks/plugins modified)" if dirty.stdout.strip() else "")
    ssh = subprocess.run(["ssh", "-V"], capture_output=True, text=True, check=False)
    facts["openssh"] = (ssh.stderr or ssh.stdout).strip() or "?"
    return facts


# --------------------------------------------------------------------------- timings (profile)

def task_profile(timing_file):
    """[(task name, seconds, hosts reporting)] from the timing callback's file, in run order."""
    try:
        with open(timing_file) as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return []
    tasks = record["tasks"]
    rows = []
    for index, task in enumerate(tasks):
        end = tasks[index + 1]["start"] if index + 1 < len(tasks) else record["end"]
        rows.append({"name": task["name"], "action": task["action"], "seconds": end - task["start"],
                     "ran": sum(1 for report in task["hosts"].values() if report[0] != "skipped"),
                     "skipped": sum(1 for report in task["hosts"].values() if report[0] == "skipped")})
    return rows


def timing_text(timing_file):
    """Every task of one run, in order: start, seconds, action, name, host statuses."""
    lines = []
    clock = 0.0
    for row in task_profile(timing_file):
        lines.append("%6.1f %5.1f  %-30s %-72s ran %d skipped %d" % (
            clock, row["seconds"], row["action"][:30], row["name"][:72], row["ran"], row["skipped"]))
        clock += row["seconds"]
    return "\n".join(lines)


CONTROLLER_ACTIONS = {"set_fact", "debug", "fail", "assert", "include_role", "include_tasks", "import_role",
                      "validate_argument_spec", "set_stats", "meta", "add_host", "group_by"}
CATEGORIES = ("module on each host", "per-host bookkeeping (controller only, or skipped)", "once, on the controller")


def category(row):
    """Which of CATEGORIES a task row belongs to."""
    if row["ran"] + row["skipped"] <= 1:
        return CATEGORIES[2]
    if row["ran"] and row["action"].rpartition(".")[2] not in CONTROLLER_ACTIONS:
        return CATEGORIES[0]
    return CATEGORIES[1]


def profile_breakdown(rows):
    """{category: [task starts, seconds]} for one run."""
    out = {name: [0, 0.0] for name in CATEGORIES}
    for row in rows:
        out[category(row)][0] += 1
        out[category(row)][1] += row["seconds"]
    return out


def summarize_profile(rows, top=12):
    """Tasks grouped by name, slowest first: name, seconds, runs (task starts), host results."""
    grouped = {}
    for row in rows:
        entry = grouped.setdefault(row["name"], {"name": row["name"], "action": row["action"], "seconds": 0.0,
                                                 "starts": 0, "ran": 0, "skipped": 0})
        entry["seconds"] += row["seconds"]
        entry["starts"] += 1
        entry["ran"] += row["ran"]
        entry["skipped"] += row["skipped"]
    ordered = sorted(grouped.values(), key=lambda entry: -entry["seconds"])
    return ordered[:top], len(rows), sum(row["seconds"] for row in rows)


# --------------------------------------------------------------------------- rotation runs

class Bench:
    """One endpoint, a call counter in front of it, and the measurements."""

    def __init__(self, args, workdir):
        self.args = args
        self.workdir = workdir
        self.endpoint = None
        self.counter = None
        self.results = {"rotation": [], "audit": [], "failures": []}

    def __enter__(self):
        self.endpoint = IAMEndpoint().start(workdir=os.path.join(self.workdir, "iam"))
        self.endpoint.configure(new_key_propagation_seconds=self.args.propagation)
        self.counter = CallCounter(self.endpoint.endpoint_url).start()
        return self

    def __exit__(self, *exc):
        if self.counter:
            self.counter.stop()
        if self.endpoint:
            self.endpoint.stop()

    # ---------------------------------------------------------------- IAM state

    def seed_user(self, user):
        key_id, secret = rotation_helpers.seed_user(self.endpoint, user, age_days=KEY_AGE_DAYS)
        return key_id, secret

    def make_due(self, user):
        """Backdate the user's Active key so the next rotation rotates it; returns its id."""
        keys = self.endpoint.boto3_client("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
        active = [k["AccessKeyId"] for k in keys if k["Status"] == "Active"]
        if len(active) != 1:
            raise BenchError("%s has %d Active keys, expected 1" % (user, len(active)))
        self.endpoint.backdate(user, active[0], KEY_AGE_DAYS)
        return active[0]

    # ---------------------------------------------------------------- one fleet

    def ssh_settings(self, label):
        """A fresh ControlPath directory per measurement: every run starts with cold SSH connections."""
        path = tempfile.mkdtemp(prefix="cp-%s-" % label, dir=os.path.join(self.workdir, "cp"))
        return {"ANSIBLE_SSH_CONTROL_PATH_DIR": path}

    def measure_fleet(self, mode, size):
        args = self.args
        forks = args.forks or size
        user = "bench-%s-%d" % (mode, size)
        key_id, secret = self.seed_user(user)
        fleet_dir = os.path.join(self.workdir, "fleet-%s-%d" % (mode, size))
        log("starting a %s fleet of %d hosts" % (mode, size))
        entry = {"mode": mode, "size": size, "forks": forks, "ping": [], "rotate": [], "runs": []}
        with Fleet(fleet_dir, size, mode=mode, endpoint_url=self.endpoint.endpoint_url, region=self.endpoint.region,
                   users=user, initial_keys={user: (key_id, secret)}, pipelining=args.ssh_pipelining == "on") as fleet:
            inventory = fleet.write_inventory()
            common = {"ANSIBLE_FORKS": forks, "ANSIBLE_CALLBACK_PLUGINS": CALLBACKS,
                      "ANSIBLE_CALLBACKS_ENABLED": "rotor_bench_timing"}
            common.update(args.env)
            with environment(**common):
                with environment(**self.ssh_settings("warm")):
                    fleet.ping_seconds(forks=forks)  # warm-up: page cache, byte-compiled modules
                for repeat in range(args.repeat):
                    old_key = self.make_due(user)
                    with environment(**self.ssh_settings("ping")):
                        ping = fleet.ping_seconds(forks=forks)
                    run = self.rotate(fleet, inventory, mode, size, repeat, forks)
                    self.check_rotated(fleet, old_key, run)
                    entry["ping"].append(ping)
                    entry["rotate"].append(run["seconds"])
                    entry["runs"].append(run)
                    log("%s %d hosts, run %d: ping %.1fs, rotate %.1fs (%.1fx)" % (
                        mode, size, repeat + 1, ping, run["seconds"], run["seconds"] / ping))
        entry["ping_median"] = median(entry["ping"])
        entry["rotate_median"] = median(entry["rotate"])
        entry["ratio"] = entry["rotate_median"] / entry["ping_median"]
        middle = sorted(entry["runs"], key=lambda run: run["seconds"])[len(entry["runs"]) // 2]
        entry["profile"] = middle["profile"]
        entry["calls"] = middle["calls"]
        entry["endpoint_calls"] = middle["endpoint_calls"]
        for run in entry["runs"]:
            del run["profile"]
        self.results["rotation"].append(entry)
        return entry

    def rotate(self, fleet, inventory, mode, size, repeat, forks):
        label = "rotate-%s-%d-%d" % (mode, size, repeat + 1)
        timing_file = os.path.join(self.workdir, label + ".timing.json")
        extra_vars = {"rotor_aws_endpoint_url": self.counter.url}
        extra_vars.update(self.args.extra_vars)
        env_extra = {"ROTOR_BENCH_TIMING_FILE": timing_file}
        env_extra.update(self.ssh_settings("rotate"))
        self.counter.reset()
        process = rotation_helpers.spawn_rotation(self.endpoint, [inventory], os.path.join(self.workdir, "runs"),
                                                  extra_vars=extra_vars, label=label, env_extra=env_extra)
        result = process.wait(self.args.timeout)
        if result.returncode != 0:
            raise BenchError("rotation failed:\n" + result.explain())
        return {"seconds": result.seconds, "calls": self.counter.calls(), "endpoint_calls": dict(result.calls),
                "profile": task_profile(timing_file), "forks": forks}

    @staticmethod
    def check_rotated(fleet, old_key, run):
        health = fleet.health()
        wrong = [name for name, report in health.items()
                 if not report.get("healthy") or report.get("access_key_id") in (None, old_key)]
        if wrong:
            raise BenchError("after the rotation (%.1fs) these hosts are not healthy on a new key: %s" % (
                run["seconds"], ", ".join(sorted(wrong))))

    # ---------------------------------------------------------------- audit

    def measure_audit(self, users):
        if not os.path.exists(AUDIT_PLAYBOOK) or audit_helpers is None or seed is None:
            log("audit: playbooks/audit.yml or its test helpers are missing; not available")
            self.results["audit"].append({"users": users, "available": False})
            return None
        log("audit: seeding an account of %d users" % users)
        self.endpoint.reset()
        self.endpoint.configure(new_key_propagation_seconds=self.args.propagation)
        began = time.monotonic()
        seed.seed_account(self.endpoint, users=users)
        entry = {"users": users, "available": True, "seconds": [], "calls": None,
                 "seed_seconds": time.monotonic() - began}
        audit_helpers.PLAYBOOK_TIMEOUT = self.args.timeout
        extra_vars = {"rotor_audit_fail_on_due": False}
        extra_vars.update(self.args.extra_vars)
        for repeat in range(self.args.repeat):
            label = "audit-%d-%d" % (users, repeat + 1)
            run = audit_helpers.run_audit(self.endpoint, os.path.join(self.workdir, "runs"), extra_vars=extra_vars, label=label)
            if run.returncode != 0:
                raise BenchError("audit failed:\n" + run.explain())
            entry["seconds"].append(run.seconds)
            entry["calls"] = dict(run.calls)
            log("audit %d users, run %d: %.1fs, %d calls" % (users, repeat + 1, run.seconds, sum(run.calls.values())))
        entry["median"] = median(entry["seconds"])
        self.results["audit"].append(entry)
        return entry


# --------------------------------------------------------------------------- reports

def split_calls(calls):
    """{'IAM': {action: n}, 'STS': {action: n}} from the counter's {service: {action: n}}."""
    out = {"IAM": {}, "STS": {}}
    for service, actions in calls.items():
        for action, count in actions.items():
            kind = "STS" if service == "sts" or action in STS_ACTIONS else "IAM"
            out[kind][action] = out[kind].get(action, 0) + count
    return out


def endpoint_split(calls):
    out = {"IAM": {}, "STS": {}}
    for action, count in calls.items():
        out["STS" if action in STS_ACTIONS else "IAM"][action] = count
    return out


def table(rows, header):
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
    lines = ["| " + " | ".join(str(cell).ljust(width) for cell, width in zip(header, widths)) + " |",
             "|" + "|".join("-" * (width + 2) for width in widths) + "|"]
    lines += ["| " + " | ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) + " |" for row in rows]
    return "\n".join(lines)


def rotation_table(results):
    rows = []
    for entry in results["rotation"]:
        rows.append((entry["mode"], entry["size"], entry["forks"], fmt_seconds(entry["ping_median"]),
                     fmt_seconds(entry["rotate_median"]), "%.1fx" % entry["ratio"],
                     " / ".join("%.1f" % value for value in entry["ping"]),
                     " / ".join("%.1f" % value for value in entry["rotate"])))
    return table(rows, ("mode", "hosts", "forks", "ping s (median)", "rotate s (median)", "rotate / ping",
                        "ping runs s", "rotate runs s"))


def calls_table(results, sizes):
    chosen = {}
    for entry in results["rotation"]:
        if entry["size"] in sizes and entry["size"] not in chosen:
            chosen[entry["size"]] = entry
    if not chosen:
        return "(no run of these sizes)"
    columns = sorted(chosen)
    per_size = {size: split_calls(chosen[size]["calls"]) for size in columns}
    rows = []
    for kind in ("IAM", "STS"):
        actions = sorted({action for size in columns for action in per_size[size][kind]})
        for action in actions:
            rows.append([kind, action] + [per_size[size][kind].get(action, 0) for size in columns])
        rows.append([kind, "**total**"] + ["**%d**" % sum(per_size[size][kind].values()) for size in columns])
    consumer = []
    for size in columns:
        total = endpoint_split(chosen[size]["endpoint_calls"])["STS"].get("GetCallerIdentity", 0)
        consumer.append(total - per_size[size]["STS"].get("GetCallerIdentity", 0))
    rows.append(["(not rotor)", "consumers' GetCallerIdentity during health checks"] + consumer)
    header = ["service", "action"] + ["%d hosts (%s)" % (size, chosen[size]["mode"]) for size in columns]
    return table(rows, header)


def audit_table(results):
    rows = []
    for entry in results["audit"]:
        if not entry.get("available"):
            rows.append((entry["users"], "not available (playbooks/audit.yml missing)", "-", "-", "-"))
            continue
        calls = entry["calls"] or {}
        detail = ", ".join("%s %d" % item for item in sorted(calls.items()))
        rows.append((entry["users"], sum(calls.values()), detail, fmt_seconds(entry["median"]),
                     " / ".join("%.1f" % value for value in entry["seconds"])))
    return table(rows, ("users", "IAM/STS calls", "by action", "wall s (median)", "runs s"))


def profile_text(entry, top=12):
    tasks, count, total = summarize_profile(entry["profile"], top)
    rows = [(task["name"][:70], "%.1f" % task["seconds"], task["starts"], task["ran"], task["skipped"]) for task in tasks]
    title = "%s, %d hosts (median run, %.1fs): %d task starts, %.1fs in tasks, the rest is ansible-playbook start-up" % (
        entry["mode"], entry["size"], entry["rotate_median"], count, total)
    kinds = [(name, starts, "%.1f" % seconds) for name, (starts, seconds) in profile_breakdown(entry["profile"]).items()]
    parts = (title, table(kinds, ("kind of task", "task starts", "s")),
             table(rows, ("slowest tasks", "s", "starts", "host results", "skipped")))
    return "\n\n".join(parts)


def shown_argv(argv):
    """The command line without options that only name local paths (--json, --workdir)."""
    shown, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item in ("--json", "--workdir"):
            skip = True
        elif not item.startswith(("--json=", "--workdir=")):
            shown.append(item)
    return " ".join(shown)


def render(results, facts, args):
    out = ["# rotor.iam benchmarks", ""]
    out += ["Generated by `benchmarks/run.sh %s` on %s. Figures, not tests: nothing here is asserted." % (
        shown_argv(args.argv), facts["date"]), ""]
    out += ["## Machine", ""]
    out += ["| | |", "|---|---|"]
    for key in ("cpu", "ram", "os", "kernel", "python", "ansible_core", "openssh", "rotor_iam_commit"):
        out.append("| %s | %s |" % (key, facts.get(key, "?")))
    out.append("| load average (1/5/15 min) before / after | %s / %s |" % (facts.get("load_before", "?"), facts.get("load_after", "?")))
    out += ["", "The machine is shared (other engineers' tests run at the same time), so single figures are noisy;"
            " every figure is the median of %d runs and the individual runs are listed beside it. The load average"
            " includes the benchmark's own processes (50 hosts and their forks on 2 cores)." % args.repeat, ""]
    out += ["## How it is measured", ""]
    out += ["- Test IAM endpoint: moto behind tests/iam_endpoint (auth enforced, Inactive keys rejected),"
            " new-key propagation delay %gs, so the figures measure rotor's own overhead." % args.propagation,
            "- Fleet: tests/fleet, one consumer application per host that signs an STS call with its key on every"
            " health check. `local`: ansible_connection=local; `ssh`: one sshd per host on 127.0.X.N, pipelining on.",
            "- One IAM user for the whole fleet, its only key 120 days old before each run (so each run rotates it).",
            "- Each run: `ansible -m ping` over the fleet, then `ansible-playbook rotor.iam.rotate` over the same"
            " inventory, same forks (= hosts), each with a fresh SSH ControlPath directory (cold connections) after"
            " one untimed warm-up ping.",
            "- Calls are counted by a pass-through in front of the endpoint (benchmarks/call_counter.py) that rotor's"
            " controller talks to; the consumers talk to the endpoint directly, so their health-check calls are"
            " counted apart.", ""]
    out += ["## (a) Rotation wall time beside `ansible -m ping`", "", rotation_table(results), ""]
    out += ["At 5 hosts a rotation is mostly fixed cost: ansible-playbook start-up and about a dozen module runs on the"
            " controller (IAM calls, the rotation journal with its lock settle time, verifying the new key), which do not"
            " grow with the fleet. `ansible -m ping` has none of that. The 50-host ratio is the one with a target:", ""]
    for entry in results["rotation"]:
        if entry["size"] == max(e["size"] for e in results["rotation"] if e["mode"] == entry["mode"]):
            verdict = "meets" if entry["ratio"] <= TARGET_RATIO else "misses"
            out.append("- %s, %d hosts: rotate / ping = %.1fx, %s the target of at most %gx." % (
                entry["mode"], entry["size"], entry["ratio"], verdict, TARGET_RATIO))
    out += ["", "## (b) IAM and STS calls per rotation (one IAM user)", ""]
    out += [calls_table(results, args.calls_sizes), ""]
    out += ["Rotor's calls are made once per IAM user on the controller; the consumers' own STS calls (one per"
            " health check, two health checks per host) are the application's, not rotor's.", ""]
    out += ["## (c) `rotor.iam.audit`", "", audit_table(results), ""]
    if results["failures"]:
        out += ["## Failed measurements", ""] + ["- " + failure for failure in results["failures"]] + [""]
    out += ["Requirement: at most 5 IAM calls and under 15 s for 1,000 users.", ""]
    out += ["## Where the time goes (per task, median run)", ""]
    out += ["Each task costs every host a worker process, even when it only sets a fact or is skipped; a module run on"
            " the host costs about one `ansible -m ping` round. [experiments/role-speedups.md](experiments/role-speedups.md) measures what merging and"
            " removing tasks saves.", ""]
    for entry in results["rotation"]:
        if entry["size"] == max(e["size"] for e in results["rotation"] if e["mode"] == entry["mode"]):
            out += [profile_text(entry), ""]
    return "\n".join(out).rstrip() + "\n"


# --------------------------------------------------------------------------- main

def save_json(path, facts, results, args):
    settings = {name: getattr(args, name) for name in ("argv", "repeat", "propagation", "calls_sizes")}
    with open(path, "w") as handle:
        json.dump({"facts": facts, "results": results, "settings": settings}, handle, indent=1)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--sizes", default="5,20,50", help="fleet sizes (default %(default)s)")
    parser.add_argument("--modes", default="local,ssh", help="local, ssh or both (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is reported (default 3)")
    parser.add_argument("--calls-sizes", default="5,50", help="sizes whose calls per rotation are tabled (default %(default)s)")
    parser.add_argument("--audit-users", default="100,1000", help="account sizes for the audit ('' skips it; default %(default)s)")
    parser.add_argument("--forks", type=int, default=0, help="forks for ping and rotate (default: the fleet size)")
    parser.add_argument("--ssh-pipelining", choices=["on", "off"], default="on",
                        help="ansible_pipelining in the SSH fleet's inventory (default %(default)s)")
    parser.add_argument("--propagation", type=float, default=0, help="endpoint new-key propagation delay in seconds (default 0)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds before a playbook run is abandoned")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for ping and rotate, e.g. ANSIBLE_PIPELINING=True (repeatable)")
    parser.add_argument("-e", "--extra-var", action="append", default=[], metavar="NAME=JSON",
                        help="extra variable for the playbooks (value parsed as JSON when it can be)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 5 local hosts, 1 run, audit of 100 users")
    parser.add_argument("--profile", action="store_true", help="print the per-task profile of every fleet size")
    parser.add_argument("--write", action="store_true", help="rewrite benchmarks/RESULTS.md")
    parser.add_argument("--json", metavar="FILE", help="also write the raw results as JSON")
    parser.add_argument("--render", metavar="JSON", help="only rewrite RESULTS.md from a --json file of an earlier run and exit")
    parser.add_argument("--timing", metavar="FILE", help="only print every task of one run's *.timing.json and exit")
    parser.add_argument("--workdir", help="keep fleets, logs and timings here (default: a new temporary directory)")
    args = parser.parse_args(argv)
    args.argv = list(argv)
    if args.quick:
        args.sizes, args.modes, args.repeat, args.audit_users = "5", "local", 1, "100"
    args.sizes = parse_list(args.sizes, int)
    args.modes = parse_list(args.modes)
    args.calls_sizes = parse_list(args.calls_sizes, int)
    args.audit_users = parse_list(args.audit_users, int)
    args.env = dict(item.split("=", 1) for item in args.env)
    extra = {}
    for item in args.extra_var:
        name, value = item.split("=", 1)
        try:
            extra[name] = json.loads(value)
        except ValueError:
            extra[name] = value
    args.extra_vars = extra
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.timing:
        print(timing_text(args.timing))
        return 0
    if args.render:
        with open(args.render) as handle:
            saved = json.load(handle)
        for name, value in saved.get("settings", {}).items():
            setattr(args, name, value)
        with open(RESULTS, "w") as handle:
            handle.write(render(saved["results"], saved["facts"], args))
        log("wrote %s from %s" % (RESULTS, args.render))
        return 0
    workdir = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="rotor-bench-"))
    os.makedirs(os.path.join(workdir, "cp"), exist_ok=True)
    facts = machine_facts()
    facts["load_before"] = load_average()
    log("workdir %s" % workdir)
    with Bench(args, workdir) as bench:
        results = bench.results
        steps = [(bench.measure_fleet, (mode, size)) for mode in args.modes for size in args.sizes]
        steps += [(bench.measure_audit, (users,)) for users in args.audit_users]
        for measure, params in steps:
            try:
                entry = measure(*params)
            except BenchError as exc:  # one failed measurement does not lose the others
                log("%s%s failed: %s" % (measure.__name__, params, exc))
                results["failures"].append("%s %s: %s" % (measure.__name__, params, str(exc).splitlines()[0]))
                continue
            if args.profile and entry and "profile" in entry:
                print(profile_text(entry) + "\n", flush=True)
            if args.json:
                save_json(args.json, facts, results, args)
    facts["load_after"] = load_average()
    print("\n(a) rotation wall time beside ansible -m ping\n")
    print(rotation_table(results))
    print("\n(b) IAM and STS calls per rotation\n")
    print(calls_table(results, args.calls_sizes))
    print("\n(c) rotor.iam.audit\n")
    print(audit_table(results))
    if args.json:
        save_json(args.json, facts, results, args)
    if args.write:
        with open(RESULTS, "w") as handle:
            handle.write(render(results, facts, args))
        log("wrote %s" % RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
