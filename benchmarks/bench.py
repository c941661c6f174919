# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmarks of rotor.iam on this machine: figures, not tests.

On the same fleet, in the same run, one after the other: `ansible -m ping`, the naive
amazon.aws playbook a user writes by hand (benchmarks/naive/rotate.yml) and
`ansible-playbook rotor.iam.rotate`. For each: wall time, ratios, task starts and module
runs per host (benchmarks/callback_plugins), IAM and STS calls per rotated user (counted
by benchmarks/call_counter.py in front of the endpoint), peak memory of ansible-playbook,
the load average at the start and end, and whether every host ended healthy on the new key.
Optionally `rotor.iam.audit` over seeded accounts.

Everything is real: the test IAM endpoint (moto behind tests/iam_endpoint, auth enforced),
a fleet on this machine (tests/fleet; benchmarks/light_fleet.py above its 250 hosts),
the real playbooks. Run it through benchmarks/run.sh; --write rewrites benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(ROOT, "tests"), os.path.join(ROOT, "tests", "integration")]

import report  # noqa: E402  pylint: disable=wrong-import-position
import rotation_helpers  # noqa: E402  pylint: disable=wrong-import-position
from call_counter import CallCounter  # noqa: E402  pylint: disable=wrong-import-position
from fleet.fleet import MAX_SIZE, Fleet  # noqa: E402  pylint: disable=wrong-import-position
from iam_endpoint.control import IAMEndpoint  # noqa: E402  pylint: disable=wrong-import-position
from light_fleet import LightFleet  # noqa: E402  pylint: disable=wrong-import-position

try:  # the audit and its helpers arrived after the rotation; older trees lack them
    import audit_helpers  # noqa: E402  pylint: disable=wrong-import-position
    from iam_endpoint import seed  # noqa: E402  pylint: disable=wrong-import-position
except ImportError:
    audit_helpers = seed = None

RESULTS = os.path.join(HERE, "RESULTS.md")
CALLBACKS = os.path.join(HERE, "callback_plugins")
NAIVE_PLAYBOOK = os.path.join(HERE, "naive", "rotate.yml")
ROTOR_PLAYBOOK = "rotor.iam.rotate"
AUDIT_PLAYBOOK = os.path.join(ROOT, "playbooks", "audit.yml")
KEY_AGE_DAYS = 120
SCALE_BEGIN, SCALE_END = "<!-- scale:begin -->", "<!-- scale:end -->"  # benchmarks/scale.py's section
CONTROLLER_TASKS_BEGIN, CONTROLLER_TASKS_END = "<!-- controller-tasks:begin -->", "<!-- controller-tasks:end -->"  # controller_tasks.py's
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


class BenchError(RuntimeError):
    """A measurement could not be taken (a fleet did not start, a check could not run)."""


def log(message):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), message))
    sys.stderr.flush()


def load_average():
    try:
        with open("/proc/loadavg") as handle:
            return report.parse_loadavg(handle.read())
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------- one process, measured

def process_table():
    """{pid: (ppid, rss kib)} of every process now."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                ppid, _group, rss_pages = report.parse_proc_stat(handle.read())
        except (OSError, ValueError, IndexError):
            continue
        table[int(entry)] = (ppid, rss_pages * PAGE_KIB)
    return table


class TreeSampler(threading.Thread):
    """Samples, every `interval` s, the summed RSS of a process and all its descendants (ansible-playbook,
    its worker forks, which start sessions of their own, and the modules they run) and the process's VmHWM."""

    def __init__(self, pid, interval=0.25):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.tree_peak_kib = 0
        self.main_hwm_kib = None
        self.done = threading.Event()

    def sample(self):
        table = process_table()
        self.tree_peak_kib = max(self.tree_peak_kib, sum(table[pid][1] for pid in report.descendants(table, self.pid)))
        try:
            with open("/proc/%d/status" % self.pid) as handle:
                hwm = report.parse_proc_status(handle.read()).get("VmHWM")
            if hwm:
                self.main_hwm_kib = max(self.main_hwm_kib or 0, hwm)
        except OSError:
            pass

    def run(self):
        while not self.done.wait(self.interval):
            self.sample()


def run_measured(argv, env, cwd, label, timeout):
    """Run one command in its own process group: seconds, exit code, peak memory, load at start and end.

    maxrss_kib: ru_maxrss of os.wait4 on the process, i.e. the peak RSS of the largest single process
    among ansible-playbook and the workers it reaped (in practice ansible-playbook itself);
    tree_peak_kib: the largest sampled sum of RSS over the process and all its descendants.
    """
    stdout_path, stderr_path = os.path.join(cwd, label + ".stdout"), os.path.join(cwd, label + ".stderr")
    load_start = load_average()
    with open(stdout_path, "w") as out, open(stderr_path, "w") as err:
        began = time.monotonic()
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,  # pylint: disable=consider-using-with
                                   stderr=err, start_new_session=True)
    sampler = TreeSampler(process.pid)
    sampler.start()
    timer = threading.Timer(timeout, lambda: _kill_tree(process.pid))
    timer.start()
    try:
        _pid, status, usage = os.wait4(process.pid, 0)
    finally:
        timer.cancel()
        sampler.done.set()
    seconds = time.monotonic() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    _kill_group(process.pid)  # anything the run left behind in its group (workers reparented elsewhere are gone by now)
    return {"seconds": seconds, "returncode": process.returncode, "ok": process.returncode == 0,
            "maxrss_kib": usage.ru_maxrss, "tree_peak_kib": sampler.tree_peak_kib or None, "tree": "descendants",
            "main_hwm_kib": sampler.main_hwm_kib, "load_start": load_start, "load_end": load_average(),
            "stdout": stdout_path, "stderr": stderr_path, "argv": list(argv)}


def _kill_tree(pid):
    """On a timeout: SIGKILL the process's descendants (workers have sessions of their own), then its group."""
    for child in report.descendants(process_table(), pid):
        if child != pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(child, signal.SIGKILL)
    _kill_group(pid)


def _kill_group(pid):
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def tail(path, chars=4000):
    try:
        with open(path, errors="replace") as handle:
            return handle.read()[-chars:]
    except OSError:
        return ""


# --------------------------------------------------------------------------- machine

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
    try:
        with open(os.path.join(ROOT, ".build", "collections", "ansible_collections", "amazon", "aws", "MANIFEST.json")) as handle:
            facts["amazon_aws"] = json.load(handle)["collection_info"]["version"]
    except (OSError, ValueError, KeyError):
        facts["amazon_aws"] = "?"
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "roles", "playbooks", "plugins"],
                           capture_output=True, text=True, check=False)
    facts["rotor_iam_commit"] = (head.stdout.strip() or "?") + (
        " (with uncommitted changes in roles/playbooks/plugins)" if dirty.stdout.strip() else "")
    facts["uncommitted"] = [line[3:] for line in dirty.stdout.splitlines()]
    ssh = subprocess.run(["ssh", "-V"], capture_output=True, text=True, check=False)
    facts["openssh"] = (ssh.stderr or ssh.stdout).strip() or "?"
    return facts


# --------------------------------------------------------------------------- the collection measured

def export_collection(rev, workdir):
    """rotor.iam as committed at `rev` (git archive), beside the amazon.aws of .build: the collections path to use.

    Other engineers change roles/ and plugins/ in the working tree while a benchmark runs; measuring
    a commit keeps their half-done work out of the figures.
    """
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--verify", rev + "^{commit}"], capture_output=True,
                            text=True, check=True).stdout.strip()
    path = os.path.join(workdir, "collections")
    target = os.path.join(path, "ansible_collections", "rotor", "iam")
    os.makedirs(target, exist_ok=True)
    archive = subprocess.Popen(["git", "-C", ROOT, "archive", commit], stdout=subprocess.PIPE)  # pylint: disable=consider-using-with
    subprocess.run(["tar", "-x", "-C", target], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise BenchError("git archive %s failed" % commit)
    amazon = os.path.join(path, "ansible_collections", "amazon")
    if not os.path.lexists(amazon):
        os.symlink(os.path.join(ROOT, ".build", "collections", "ansible_collections", "amazon"), amazon)
    return path, commit


# --------------------------------------------------------------------------- the benchmark

class Bench:
    """One endpoint, a call counter in front of it, and the measurements."""

    def __init__(self, args, workdir):
        self.args = args
        self.workdir = workdir
        self.runs_dir = os.path.join(workdir, "runs")
        os.makedirs(self.runs_dir, exist_ok=True)
        os.makedirs(os.path.join(workdir, "cp"), exist_ok=True)
        self.endpoint = None
        self.counter = None
        self.results = {"fleets": [], "audit": [], "failures": [], "timings": {}}

    def __enter__(self):
        self.endpoint = IAMEndpoint().start(workdir=os.path.join(self.workdir, "iam"))
        self.endpoint.configure(propagation_seconds=0)
        self.counter = CallCounter(self.endpoint.endpoint_url).start()
        return self

    def __exit__(self, *exc):
        if self.counter:
            self.counter.stop()
        if self.endpoint:
            self.endpoint.stop()

    # ---------------------------------------------------------------- IAM state

    def make_due(self, user):
        """Backdate the user's Active key so the next rotation rotates it; returns its id."""
        keys = self.endpoint.boto3_client("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
        active = [key["AccessKeyId"] for key in keys if key["Status"] == "Active"]
        if len(active) != 1 or len(keys) != 1:
            raise BenchError("%s has keys %s, expected one Active key" % (user, {k["AccessKeyId"]: k["Status"] for k in keys}))
        self.endpoint.backdate(user, active[0], KEY_AGE_DAYS)
        return active[0]

    # ---------------------------------------------------------------- commands

    def env(self, extra=None):
        env = rotation_helpers.playbook_env(self.endpoint)
        # The test harness points ANSIBLE_COLLECTIONS_PATH at the working tree (.build/collections); the
        # revision being measured (--rev, exported into the workdir) must win, or every run measures the tree.
        if os.environ.get("ANSIBLE_COLLECTIONS_PATH"):
            env["ANSIBLE_COLLECTIONS_PATH"] = os.environ["ANSIBLE_COLLECTIONS_PATH"]
        env.update(ANSIBLE_CALLBACK_PLUGINS=CALLBACKS, ANSIBLE_CALLBACKS_ENABLED="rotor_bench_timing")
        env.update(self.args.env)
        env.update(extra or {})
        return env

    def ssh_env(self, label):
        """A fresh ControlPath directory per run: every run starts with cold SSH connections."""
        return {"ANSIBLE_SSH_CONTROL_PATH_DIR": tempfile.mkdtemp(prefix="cp-%s-" % label, dir=os.path.join(self.workdir, "cp"))}

    def ping(self, inventory, forks, label):
        argv = [os.path.join(os.path.dirname(rotation_helpers.ansible_playbook()), "ansible"), "-i", inventory,
                "rotor_fleet", "-m", "ping", "-f", str(forks)]
        return run_measured(argv, self.env(self.ssh_env(label)), self.runs_dir, label, self.args.timeout)

    def playbook(self, name, inventory, forks, label):
        timing_file = os.path.join(self.runs_dir, label + ".timing.json")
        if name == "naive":
            variables = {"naive_aws_endpoint_url": self.counter.url, "naive_aws_region": self.endpoint.region}
            playbook = NAIVE_PLAYBOOK
        else:
            variables = {"rotor_aws_endpoint_url": self.counter.url, "rotor_aws_region": self.endpoint.region}
            variables.update(self.args.extra_vars)
            playbook = ROTOR_PLAYBOOK
        vars_file = os.path.join(self.runs_dir, label + ".vars.json")
        with open(vars_file, "w") as handle:
            json.dump(variables, handle)
        argv = [rotation_helpers.ansible_playbook(), playbook, "-i", inventory, "-f", str(forks), "-e", "@" + vars_file]
        env = self.env(dict(self.ssh_env(label), ROTOR_BENCH_TIMING_FILE=timing_file))
        self.counter.reset()
        result = run_measured(argv, env, self.runs_dir, label, self.args.timeout)
        result["calls"] = self.counter.calls()
        try:
            with open(timing_file) as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            record = {}
        result["timing_file"] = timing_file
        result["per_host"] = report.per_host_summary(record)
        self.results["timings"][label] = record
        return result

    @staticmethod
    def check_hosts(fleet, old_key, result):
        """How many hosts answer healthy on a key other than the old one (the run's own verdict apart)."""
        health = fleet.health()
        good = [name for name, answer in health.items()
                if answer.get("healthy") and answer.get("access_key_id") not in (None, old_key)]
        result["hosts"] = len(health)
        result["healthy_on_new"] = len(good)
        result["not_healthy_on_new"] = sorted(set(health) - set(good), key=report.host_order)[:10]
        return result

    # ---------------------------------------------------------------- one fleet

    def open_fleet(self, mode, size, user, key):
        fleet_dir = os.path.join(self.workdir, "fleet-%s-%d" % (mode, size))
        light = self.args.fleet == "light" or (self.args.fleet == "auto" and size > MAX_SIZE)
        if light:
            if mode != "local":
                raise BenchError("the light fleet is local only; an SSH fleet holds at most %d hosts" % MAX_SIZE)
            return "light", LightFleet(fleet_dir, size, endpoint_url=self.endpoint.endpoint_url, region=self.endpoint.region,
                                       users=user, initial_keys={user: key})
        return "tests/fleet", Fleet(fleet_dir, size, mode=mode, endpoint_url=self.endpoint.endpoint_url,
                                    region=self.endpoint.region, users=user, initial_keys={user: key},
                                    pipelining=self.args.ssh_pipelining == "on")

    def measure_fleet(self, mode, size):
        args = self.args
        forks = min(size, args.max_forks)
        user = "bench-%s-%d" % (mode, size)
        key = rotation_helpers.seed_user(self.endpoint, user, age_days=KEY_AGE_DAYS)
        kind, fleet = self.open_fleet(mode, size, user, key)
        log("starting a %s fleet (%s) of %d hosts, forks %d" % (mode, kind, size, forks))
        entries = []
        with fleet:
            inventory = fleet.write_inventory()
            self.ping(inventory, forks, "warm-%s-%d" % (mode, size))  # page cache, byte-compiled modules
            entry = {"mode": mode, "size": size, "forks": forks, "fleet": kind, "users": 1, "lag": 0, "runs": []}
            for repeat in range(1, args.repeat + 1):
                entry["runs"].append(self.one_round(fleet, inventory, mode, size, forks, user, "%d" % repeat,
                                                    with_ping=True))
                self.log_round(entry, entry["runs"][-1])
            entries.append(report.summarize_fleet(entry))
            if mode == "local" and size in args.lag_sizes and args.test_lag:
                self.endpoint.configure(propagation_seconds=args.test_lag)
                try:
                    lagged = {"mode": mode, "size": size, "forks": forks, "fleet": kind, "users": 1, "lag": args.test_lag,
                              "runs": [self.one_round(fleet, inventory, mode, size, forks, user, "lag", with_ping=True)]}
                    self.log_round(lagged, lagged["runs"][-1])
                    entries.append(report.summarize_fleet(lagged))
                finally:
                    self.endpoint.configure(propagation_seconds=0)
        self.results["fleets"].extend(entries)
        return entries

    def one_round(self, fleet, inventory, mode, size, forks, user, tag, with_ping):
        round_ = {}
        if with_ping:
            round_["ping"] = self.ping(inventory, forks, "ping-%s-%d-%s" % (mode, size, tag))
        for name in ("naive", "rotor"):
            old_key = self.make_due(user)
            label = "%s-%s-%d-%s" % (name, mode, size, tag)
            result = self.playbook(name, inventory, forks, label)
            self.check_hosts(fleet, old_key, result)
            if not result["ok"]:
                log("%s failed (rc %d); stdout tail:\n%s" % (label, result["returncode"], tail(result["stdout"], 3000)))
                self.results["failures"].append("%s exited %d (see %s)" % (label, result["returncode"], result["stdout"]))
            self.reset_keys(user)
            round_[name] = result
        return round_

    def reset_keys(self, user):
        """After a run that left the user with more than one key (a failure half-way), keep only the newest Active one."""
        iam = self.endpoint.boto3_client("iam")
        keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
        if len(keys) <= 1 and all(key["Status"] == "Active" for key in keys):
            return
        raise BenchError("%s has keys %s after the run; later runs of this fleet would not be comparable" % (
            user, {key["AccessKeyId"]: key["Status"] for key in keys}))

    @staticmethod
    def log_round(entry, round_):
        parts = []
        for name in ("ping",) + report.PLAYBOOKS:
            part = round_.get(name)
            if part:
                parts.append("%s %s%s" % (name, report.fmt_seconds(part["seconds"]), "" if part["ok"] else " (FAILED)"))
        log("%s: %s; load %s" % (report.label(entry), ", ".join(parts), report.fmt_load(load_average())))

    # ---------------------------------------------------------------- audit

    def measure_audit(self, users):
        if not os.path.exists(AUDIT_PLAYBOOK) or audit_helpers is None or seed is None:
            log("audit: playbooks/audit.yml or its test helpers are missing; not available")
            self.results["audit"].append({"users": users, "available": False})
            return None
        log("audit: seeding an account of %d users" % users)
        self.endpoint.reset()
        self.endpoint.configure(propagation_seconds=0)
        seed.seed_account(self.endpoint, users=users)
        entry = {"users": users, "available": True, "seconds": [], "calls": None, "load": load_average()}
        audit_helpers.PLAYBOOK_TIMEOUT = self.args.timeout
        for repeat in range(self.args.repeat):
            run = audit_helpers.run_audit(self.endpoint, self.runs_dir, extra_vars={"rotor_audit_fail_on_due": False},
                                          label="audit-%d-%d" % (users, repeat + 1))
            if run.returncode != 0:
                raise BenchError("audit failed:\n" + run.explain())
            entry["seconds"].append(run.seconds)
            entry["calls"] = dict(run.calls)
            log("audit %d users, run %d: %.1fs, %d calls" % (users, repeat + 1, run.seconds, sum(run.calls.values())))
        entry["median"] = report.median(entry["seconds"])
        self.results["audit"].append(entry)
        return entry


# --------------------------------------------------------------------------- RESULTS.md

def render(results, facts, settings):
    fleets = [report.summarize_fleet(entry) for entry in results["fleets"]]  # with today's rules, also for saved runs
    main = [entry for entry in fleets if not entry.get("lag")]
    out = ["# rotor.iam benchmarks", ""]
    out += ["Generated by `%s` on %s. Figures, not tests: nothing here is asserted." % (
        " ".join(["benchmarks/run.sh"] + [report.shown_argv(settings["argv"])]).strip(), facts["date"]), ""]
    if settings.get("note"):
        out += [settings["note"], ""]
    out += ["## Machine", "", "| | |", "|---|---|"]
    for key in ("cpu", "ram", "os", "kernel", "python", "ansible_core", "amazon_aws", "openssh", "rotor_iam_commit"):
        out.append("| %s | %s |" % (key, facts.get(key, "?")))
    out.append("| load average (1/5/15 min) at start / end | %s / %s |" % (
        report.fmt_load(facts.get("load_before")), report.fmt_load(facts.get("load_after"))))
    out += ["", "The machine has 2 cores and is shared: other engineers' tests run at the same time, so absolute"
            " seconds are noisy. Ping, the naive playbook and rotor run one right after the other on the same fleet,"
            " and each run's load average (1 min, at its start and end) is recorded beside it; compare the ratios,"
            " not the seconds. The load includes the benchmark's own processes.", ""]
    out += ["## How it is measured", "",
            "- **Same fleet, same run**: for each fleet, `ansible -m ping`, then `benchmarks/naive/rotate.yml`, then"
            " `ansible-playbook rotor.iam.rotate`, same inventory, same forks, %d round(s); the median of each is"
            " reported. Before each playbook the user's only key is backdated to %d days, so both rotate it." % (
                settings["repeat"], KEY_AGE_DAYS),
            "- **The naive playbook** (`benchmarks/naive/rotate.yml`) is what a user writes with amazon.aws: list the"
            " user's keys and create one (`amazon.aws.iam_access_key_info`, `amazon.aws.iam_access_key`, run once), then on"
            " every host `ansible.builtin.copy` the credentials file, `ansible.builtin.command` the restart,"
            " `ansible.builtin.uri` the health check (retries 5, delay 1), then deactivate and delete the old key (run"
            " once). No verification, no rollback, no lock, no journal.",
            "- **IAM endpoint**: moto behind tests/iam_endpoint, auth enforced, Inactive keys rejected, propagation lags"
            " 0 for the main figures (so they measure the playbooks, not waiting); the rows marked `lag %gs` repeat one"
            " round with every lag at %gs, the integration tests' default." % (settings["test_lag"], settings["test_lag"]),
            "- **Fleets**: up to %d hosts, tests/fleet (one consumer process per host that signs a real STS call with its"
            " loaded key on every health check; `ssh`: one sshd per host on 127.0.X.N in its own mount namespace,"
            " pipelining on). Above that (500 hosts), `benchmarks/light_fleet.py`: every host keeps its own"
            " credentials file, its own consumer object, health URL and restart (a POST that reloads that host's"
            " file), but all consumers live in one process: tests/fleet's 46 MB per consumer would need 23 GB, and it"
            " holds at most %d hosts. Every host is `ansible_connection: local`, as in tests/fleet's local mode." % (
                MAX_SIZE, MAX_SIZE),
            "- **Forks**: the fleet size, at most %d (500 forks of ansible-playbook would need more memory than the"
            " machine has; ping uses the same forks)." % settings["max_forks"],
            "- **Task starts and module runs per host** come from `callback_plugins/rotor_bench_timing.py`: a task start"
            " is a task that reported the host (ran or skipped); a module run is one that ran an action other than"
            " controller-only ones (set_fact, debug, assert, include_*, meta, ...). The median host is shown, with the"
            " busiest host (the one that also carries run-once work) beside it.",
            "- **IAM calls per rotated user** are counted by `call_counter.py`, a pass-through both playbooks' IAM calls go"
            " through; the consumers' own health-check STS calls go to the endpoint directly and are not counted.",
            "- **Memory**: the first figure is `ru_maxrss` of `os.wait4` on the command, i.e. the peak RSS of its largest"
            " single process (ansible-playbook / ansible itself); the second the peak sum of RSS over the process and"
            " all its descendants (worker forks and the modules they run), sampled every 0.25 s (`-` where a run"
            " predates that sampler: it summed the process group, which misses the workers' own sessions).", ""]
    out += ["## Wall time and ratios", "", report.wall_table(fleets), ""]
    out += ["Targets of issue 12 (point 6), for the final structure of the role:", ""] + report.target_verdicts(main) + [""]
    out += ["Every run, with the load average (1 min) at its start:", "", report.runs_table(fleets), ""]
    out += ["## Task starts and module runs per host", "", report.per_host_table(fleets), ""]
    out += ["## IAM calls per rotated user", "", report.calls_table(fleets), ""]
    if main:
        biggest = max(main, key=lambda entry: (entry["mode"] == "local", entry["size"]))
        out += ["By action (%s):" % report.label(biggest), "", report.calls_by_action_table(biggest), ""]
    out += ["## Peak memory (MiB): largest process / process with all descendants", "", report.memory_table(fleets), ""]
    if results.get("audit"):
        out += ["## `rotor.iam.audit`", "", report.audit_table(results["audit"]), "",
                "Requirement: at most 5 IAM calls and under 15 s for 1,000 users.", ""]
    if results["failures"]:
        out += ["## Failed runs", ""] + ["- " + failure for failure in results["failures"]] + [""]
    out += where_time_goes(results)
    return "\n".join(out).rstrip() + "\n"


def where_time_goes(results):
    """rotor.iam.rotate's tasks as one host sees them, and the slowest tasks, for the largest local fleet."""
    main = [entry for entry in results["fleets"] if not entry.get("lag") and entry["runs"]]
    if not main:
        return []
    out = ["## Where rotor's time goes", ""]
    for mode in ("local", "ssh"):
        candidates = [entry for entry in main if entry["mode"] == mode]
        if not candidates:
            continue
        entry = max(candidates, key=lambda item: item["size"])
        run = entry["runs"][-1]
        for name in ("rotor", "naive"):
            part = run.get(name) or {}
            record = results["timings"].get(os.path.basename(part.get("timing_file", "")).replace(".timing.json", ""), {})
            if not record:
                continue
            if name == "rotor" and mode == "local":
                host = report.typical_host(record)
                counts = report.per_host_counts(record)[host]
                kinds = report.host_breakdown(record, host)
                once = report.once_breakdown(record)
                split = report.profile_breakdown(report.task_rows(record))
                out += ["What one host (%s of %s) costs in `rotor.iam.rotate`: **%d task starts, %d module runs**."
                        " The other %d are %d controller-only tasks that ran for the host (set_fact, include_tasks,"
                        " validate_argument_spec) and %d skipped ones; each still costs a worker per host. Besides, %d"
                        " tasks ran once for the whole run (%d of them module runs on the controller: the IAM calls,"
                        " the journal in the user's tags, proving keys). In this run the %d per-host module tasks took"
                        " %.0f s, the %d per-host bookkeeping tasks %.0f s and the once-per-run tasks %.0f s." % (
                            host, report.label(entry), counts["starts"], counts["modules"],
                            counts["starts"] - counts["modules"], kinds["controller"], kinds["skipped"],
                            once["tasks"], once["modules"], split[report.CATEGORIES[0]][0], split[report.CATEGORIES[0]][1],
                            split[report.CATEGORIES[1]][0], split[report.CATEGORIES[1]][1], split[report.CATEGORIES[2]][1]),
                        "", report.host_tasks_table(record, host), ""]
            out += [report.profile_text("%s, %s (%.1f s)" % (name, report.label(entry), part["seconds"]),
                                        report.task_rows(record)), ""]
    return out


# --------------------------------------------------------------------------- main

def write_results(text):
    """Rewrite RESULTS.md, keeping the sections benchmarks/controller_tasks.py and scale.py wrote (between their markers) at the end."""
    kept = ""
    try:
        with open(RESULTS) as handle:
            current = handle.read()
        for section_begin, section_end in (CONTROLLER_TASKS_BEGIN, CONTROLLER_TASKS_END), (SCALE_BEGIN, SCALE_END):
            begin, end = current.find(section_begin), current.find(section_end)
            if 0 <= begin < end:
                kept += "\n" + current[begin:end + len(section_end)] + "\n"
    except OSError:
        pass
    with open(RESULTS, "w") as handle:
        handle.write(text.rstrip("\n") + "\n" + kept)


def save_json(path, facts, results, args):
    with open(path, "w") as handle:
        json.dump({"facts": facts, "results": results, "settings": settings_of(args)}, handle, indent=1)


def settings_of(args):
    return {name: getattr(args, name) for name in ("argv", "repeat", "max_forks", "test_lag", "lag_sizes")}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--sizes", default="5,50,500", help="local fleet sizes (default %(default)s)")
    parser.add_argument("--ssh-sizes", default="50", help="SSH fleet sizes ('' for none; default %(default)s)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds per fleet; medians are reported (default 1)")
    parser.add_argument("--max-forks", type=int, default=50, help="forks = fleet size, at most this (default %(default)s)")
    parser.add_argument("--fleet", choices=["auto", "tests", "light"], default="auto",
                        help="auto: tests/fleet up to its 250 hosts, the light fleet above (default %(default)s)")
    parser.add_argument("--test-lag", type=float, default=rotation_helpers.IAM_LAG_SECONDS,
                        help="propagation lag of the extra lagged round (default: the tests' %(default)gs)")
    parser.add_argument("--lag-sizes", default="5", help="local sizes that also get one lagged round ('' none; default %(default)s)")
    parser.add_argument("--audit-users", default="", help="account sizes for rotor.iam.audit, e.g. 100,1000 (default: none)")
    parser.add_argument("--ssh-pipelining", choices=["on", "off"], default="on",
                        help="ansible_pipelining in the SSH fleet's inventory (default %(default)s)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds before a run is killed")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for every command, e.g. ANSIBLE_PIPELINING=True (repeatable)")
    parser.add_argument("-e", "--extra-var", action="append", default=[], metavar="NAME=JSON",
                        help="extra variable for rotor.iam.rotate (value parsed as JSON when it can be)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 5 local hosts, one round, no SSH, no lag, no audit")
    parser.add_argument("--profile", action="store_true", help="print where rotor's time goes after each fleet")
    parser.add_argument("--write", action="store_true", help="rewrite benchmarks/RESULTS.md")
    parser.add_argument("--json", metavar="FILE", help="also write the raw results as JSON (after every fleet)")
    parser.add_argument("--render", metavar="JSON", help="only rewrite RESULTS.md from a --json file of an earlier run and exit")
    parser.add_argument("--note", default="", help="with --render: a paragraph put under the title (e.g. what was not measured)")
    parser.add_argument("--timing", metavar="FILE", help="only print every task of one run's *.timing.json and exit")
    parser.add_argument("--workdir", help="keep fleets, logs and timings here (default: a new temporary directory)")
    parser.add_argument("--rev", default="HEAD",
                        help="measure rotor.iam as committed at this revision (git archive into the workdir; default"
                             " %(default)s), or 'tree' for the working tree as it is (.build/collections)")
    args = parser.parse_args(argv)
    args.argv = list(argv)
    if args.quick:
        args.sizes, args.ssh_sizes, args.repeat, args.lag_sizes, args.audit_users = "5", "", 1, "", ""
    args.sizes = report.parse_list(args.sizes, int)
    args.ssh_sizes = report.parse_list(args.ssh_sizes, int)
    args.lag_sizes = report.parse_list(args.lag_sizes, int)
    args.audit_users = report.parse_list(args.audit_users, int)
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


def print_summary(results):
    fleets = results["fleets"]
    print("\nWall time and ratios\n\n" + report.wall_table(fleets))
    print("\nPer host\n\n" + report.per_host_table(fleets))
    print("\nIAM calls per rotated user\n\n" + report.calls_table(fleets))
    print("\nPeak memory (MiB): largest process / with all descendants\n\n" + report.memory_table(fleets))
    if results["audit"]:
        print("\nrotor.iam.audit\n\n" + report.audit_table(results["audit"]))
    for failure in results["failures"]:
        print("FAILED: " + failure)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.timing:
        with open(args.timing) as handle:
            print(report.timing_text(json.load(handle)))
        return 0
    if args.render:
        with open(args.render) as handle:
            saved = json.load(handle)
        settings = dict(saved["settings"], note=args.note or saved["settings"].get("note", ""))
        write_results(render(saved["results"], saved["facts"], settings))
        log("wrote %s from %s" % (RESULTS, args.render))
        return 0
    workdir = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="rotor-bench-"))
    os.makedirs(workdir, exist_ok=True)
    facts = machine_facts()
    if args.rev != "tree":
        collections, commit = export_collection(args.rev, workdir)
        os.environ["ANSIBLE_COLLECTIONS_PATH"] = collections  # every command of the run, the audit's too
        facts["rotor_iam_commit"] = "%s (git archive of %s)" % (commit[:12], args.rev)
    facts["collections_path"] = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")
    facts["load_before"] = load_average()
    log("workdir %s, rotor.iam %s" % (workdir, facts["rotor_iam_commit"]))
    with Bench(args, workdir) as bench:
        results = bench.results
        # Small fleets first, so a long large one (or a failure in it) does not cost the others.
        fleets = [("local", size) for size in args.sizes] + [("ssh", size) for size in args.ssh_sizes]
        steps = [(bench.measure_fleet, params) for params in sorted(fleets, key=lambda params: params[1])]
        steps += [(bench.measure_audit, (users,)) for users in args.audit_users]
        for measure, params in steps:
            try:
                measure(*params)
            except (BenchError, OSError, RuntimeError) as exc:  # one failed measurement does not lose the others
                log("%s%s failed: %s" % (measure.__name__, params, exc))
                results["failures"].append("%s %s: %s" % (measure.__name__, params, str(exc).splitlines()[0]))
                continue
            if args.profile:
                print("\n".join(where_time_goes(results)), flush=True)
            if args.json:
                save_json(args.json, facts, results, args)
    facts["load_after"] = load_average()
    print_summary(results)
    if args.json:
        save_json(args.json, facts, results, args)
    if args.write:
        write_results(render(results, facts, settings_of(args)))
        log("wrote %s" % RESULTS)
    return 1 if results["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
