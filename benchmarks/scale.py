# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scale figures: one big fleet rotated by one job, and by the workflow with its distribution sliced.

On one fleet (benchmarks/light_fleet.py, 1,000 local hosts by default), in the same run:

1. ``ansible -m ping`` (the floor of one round over the fleet);
2. ``ansible-playbook rotor.iam.rotate`` (the one-job path);
3. the workflow as AWX runs it (docs/awx.md): the graph of extensions/awx/rotate-workflow.yml, node by node,
   each sliced node (distribute, settle, cleanup) as N jobs over N slices (hosts dealt round-robin, as AWX job
   slicing does) started at the same time, each once-per-run node (prepare, cutover, finish) as one job.

For each command: wall time, peak memory (largest process, and the whole process tree), load at start
and end, IAM calls, the hosts it ran a task for; per host: seconds per host-round at the forks used. From those
it projects 10,000 hosts over 1, 4, 10 and 25 execution nodes: the once-per-run jobs touch no host and do not
grow with hosts (they grow with IAM users); each sliced job grows with its share of the hosts.
All slices share this machine's 2 cores here, so a sliced node's throughput is this machine's, as if it were one
execution node; the fleet (benchmarks/light_fleet.py) serves its hosts from a process per 50 hosts.

    python benchmarks/scale.py --hosts 1000 --slices 4 --json /tmp/scale.json --write
    python benchmarks/scale.py --render /tmp/scale.json --write   # only rewrite the section of RESULTS.md

``--write`` replaces the part of benchmarks/RESULTS.md between the ``scale`` markers (bench.py keeps it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench  # noqa: E402  pylint: disable=wrong-import-position
import report  # noqa: E402  pylint: disable=wrong-import-position
# bench put tests/ and tests/integration on the path
import rotation_helpers  # noqa: E402  pylint: disable=wrong-import-position
from light_fleet import LightFleet  # noqa: E402  pylint: disable=wrong-import-position

BEGIN, END = bench.SCALE_BEGIN, bench.SCALE_END
PROJECTED_HOSTS = 10000
PROJECTED_NODES = (1, 4, 10, 25)


def workflow_graph():
    """{name: node} of extensions/awx/rotate-workflow.yml, in order (the first node starts)."""
    import yaml  # pylint: disable=import-outside-toplevel
    with open(os.path.join(HERE, "..", "extensions", "awx", "rotate-workflow.yml")) as handle:
        return {node["name"]: node for node in yaml.safe_load(handle)["nodes"]}


def deal(hosts, slices):
    """AWX job slicing: host i goes to slice i mod N (in inventory order)."""
    return [hosts[index::slices] for index in range(slices)]


class LoadSampler:
    """The machine's 1-minute load average every ``interval`` seconds while the benchmark runs: [(seconds in, load)]."""

    def __init__(self, interval=10.0):
        self.interval = interval
        self.began = bench.time.monotonic()
        self.samples = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, name="load-sampler", daemon=True)

    def run(self):
        while not self.stopped.is_set():
            self.samples.append((round(bench.time.monotonic() - self.began, 1), os.getloadavg()[0]))
            self.stopped.wait(self.interval)

    def now(self):
        return round(bench.time.monotonic() - self.began, 1)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join()


def load_during(samples, window):
    """(median, max) of the load samples inside ``window`` (start, end seconds), or None."""
    if not samples or not window:
        return None
    inside = [load for at, load in samples if window[0] <= at <= window[1]]
    return (report.median(inside), max(inside)) if inside else None


def renice(pid, nice):
    """Run process ``pid`` (its main thread, and the threads it starts from now on) at ``nice``; the old value."""
    old = os.getpriority(os.PRIO_PROCESS, pid)
    os.setpriority(os.PRIO_PROCESS, pid, nice)
    return old


class ScaleBench(bench.Bench):
    """bench.Bench's endpoint, counter and measurements, over one light fleet."""

    sampler = None

    def __enter__(self):
        # bench.Bench's, with more time for the endpoint to start: at load 60 on 2 cores its 30 s were not enough
        self.endpoint = bench.IAMEndpoint().start(workdir=os.path.join(self.workdir, "iam"), timeout=180)
        self.endpoint.configure(propagation_seconds=0)
        self.counter = bench.CallCounter(self.endpoint.endpoint_url).start()
        return self

    def rotor_vars(self, extra=None):
        variables = {"rotor_aws_endpoint_url": self.counter.url, "rotor_aws_region": self.endpoint.region}
        variables.update(self.args.extra_vars)
        variables.update(extra or {})
        return variables

    def run_playbook(self, playbook, inventory, forks, label, variables, limit_file=None):
        """One ansible-playbook, measured; IAM calls are counted by the caller (slices run at the same time)."""
        timing_file = os.path.join(self.runs_dir, label + ".timing.json")
        vars_file = os.path.join(self.runs_dir, label + ".vars.json")
        with open(vars_file, "w") as handle:
            json.dump(variables, handle)
        argv = [rotation_helpers.ansible_playbook(), playbook, "-i", inventory, "-f", str(forks), "-e", "@" + vars_file]
        if limit_file:
            argv += ["--limit", "@" + limit_file]
        began = self.sampler.now() if self.sampler else None
        result = bench.run_measured(argv, self.env({"ROTOR_BENCH_TIMING_FILE": timing_file}), self.runs_dir, label,
                                    self.args.timeout)
        if self.sampler:
            result["window"] = (began, self.sampler.now())
        try:
            with open(timing_file) as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            record = {}
        result["per_host"] = report.per_host_summary(record) or {}
        # Seconds of the tasks every host ran (module runs and per-host bookkeeping) against the rest (once-per-run
        # tasks, start-up): the part that grows with hosts and the part that does not.
        split = report.profile_breakdown(report.task_rows(record)) if record else None
        result["host_part"] = (split[report.CATEGORIES[0]][1] + split[report.CATEGORIES[1]][1]) if split else None
        # The inventory hosts the job ran a task for (a once-per-run workflow job runs on the controller only).
        result["hosts_touched"] = len([host for host in (report.per_host_counts(record) or {}) if host != "localhost"]) if record else None
        if not result["ok"]:
            bench.log("%s failed (rc %d); stdout tail:\n%s" % (label, result["returncode"], bench.tail(result["stdout"], 3000)))
            self.results["failures"].append("%s exited %d (see %s)" % (label, result["returncode"], result["stdout"]))
        return result

    def measured(self, fleet, old_key, result, calls):
        result["calls"] = calls
        return self.check_hosts(fleet, old_key, result)

    def one_job(self, fleet, inventory, forks, user):
        old_key = self.make_due(user)
        self.counter.reset()
        result = self.run_playbook(bench.ROTOR_PLAYBOOK, inventory, forks, "rotate-%d" % len(fleet.hosts), self.rotor_vars())
        self.measured(fleet, old_key, result, self.counter.calls())
        self.reset_keys(user)
        return result

    def workflow(self, fleet, inventory, forks, user, slices):
        """The graph of extensions/awx/rotate-workflow.yml as AWX walks it: a sliced node as ``slices`` jobs at once
        (hosts dealt round-robin), any other node as one job; the success or failure edges of each node after it."""
        old_key = self.make_due(user)
        variables = self.rotor_vars({"rotor_run_id": "bench-workflow-%d" % len(fleet.hosts), "rotor_pending_store": "secretsmanager",
                                     "rotor_lock_ttl_minutes": 240})
        limit_files = []
        for index, hosts in enumerate(deal(list(fleet.hosts), slices)):
            path = os.path.join(self.runs_dir, "slice-%d.hosts" % (index + 1))
            with open(path, "w") as handle:
                handle.write("\n".join(hosts) + "\n")
            limit_files.append((path, len(hosts)))
        graph = workflow_graph()
        nodes, queue, seen = [], [next(iter(graph))], set()
        while queue:
            name = queue.pop(0)
            if name in seen:
                continue
            seen.add(name)
            spec = graph[name]
            self.counter.reset()
            began = bench.time.monotonic()
            if spec["sliced"]:
                jobs = [None] * slices

                def run_slice(index, name=name, spec=spec, jobs=jobs):
                    jobs[index] = self.run_playbook(spec["playbook"], inventory, forks, "%s-%d" % (name, index + 1), variables,
                                                    limit_file=limit_files[index][0])
                    jobs[index]["hosts_in_slice"] = limit_files[index][1]

                threads = [threading.Thread(target=run_slice, args=(index,)) for index in range(slices)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            else:
                jobs = [self.run_playbook(spec["playbook"], inventory, forks, name, variables)]
            node = {"name": name, "sliced": spec["sliced"], "jobs": jobs, "wall": bench.time.monotonic() - began, "calls": self.counter.calls(),
                    "ok": all(job["ok"] for job in jobs)}
            nodes.append(node)
            queue += list(spec.get("success" if node["ok"] else "failure") or []) + list(spec.get("always") or [])
        final = {"seconds": sum(node["wall"] for node in nodes)}
        self.measured(fleet, old_key, final, {})
        self.reset_keys(user)
        return {"nodes": nodes, "ok": all(node["ok"] for node in nodes), "wall": final["seconds"], "final": final}

    def measure(self):
        args = self.args
        forks = min(args.hosts, args.max_forks)
        user = "bench-scale-%d" % args.hosts
        key = rotation_helpers.seed_user(self.endpoint, user, age_days=bench.KEY_AGE_DAYS)
        fleet = LightFleet(os.path.join(self.workdir, "fleet-%d" % args.hosts), args.hosts, endpoint_url=self.endpoint.endpoint_url,
                           region=self.endpoint.region, users=user, initial_keys={user: key})
        bench.log("starting a light fleet of %d hosts, forks %d" % (args.hosts, forks))
        with fleet, LoadSampler() as sampler:
            self.sampler = sampler
            figures = {"hosts": args.hosts, "forks": forks, "slices": args.slices, "service_nice": args.service_nice,
                       "load_samples": sampler.samples}
            if args.service_nice:
                # The endpoint stands for AWS and the fleet's consumers for the application hosts: neither shares an
                # execution node's CPU in real life. Here they share 2 cores with hundreds of Ansible workers.
                for pid in [self.endpoint._process.pid] + [process.pid for process in fleet.processes]:  # pylint: disable=protected-access
                    renice(pid, args.service_nice)
                bench.log("endpoint and fleet consumers at nice %d" % args.service_nice)
            inventory = fleet.write_inventory()
            if not args.workflow_only:
                self.ping(inventory, forks, "warm")
                began = sampler.now()
                figures["ping"] = self.ping(inventory, forks, "ping")
                figures["ping"]["window"] = (began, sampler.now())
                bench.log("ping: %.1fs" % figures["ping"]["seconds"])
                figures["one_job"] = self.one_job(fleet, inventory, forks, user)
                bench.log("rotor.iam.rotate: %.1fs" % figures["one_job"]["seconds"])
            figures["workflow"] = self.workflow(fleet, inventory, forks, user, args.slices)
            bench.log("workflow: %.1fs" % figures["workflow"].get("wall", 0))
        return figures


# --------------------------------------------------------------------------- figures

def linear(result, measured_hosts, hosts):
    """A run's seconds at ``hosts`` from its measurement at ``measured_hosts``, same forks: the part every host ran
    scales with the hosts, the rest stays."""
    host_part = result.get("host_part")
    if host_part is None:
        host_part = result["seconds"]
    return result["seconds"] - host_part + host_part * hosts / float(measured_hosts)


def projection(figures):
    """PROJECTED_HOSTS hosts over N execution nodes, from the measured costs (seconds).

    A node is taken to be this machine. A once-per-run job touches no host: its time does not grow with hosts (it
    grows with IAM users). The slices of a sliced node ran at the same time on this one machine, so its throughput is
    the node's hosts over its wall time less one slice's fixed part; N nodes each take the fixed part plus H/N hosts
    at that throughput. The one job grows linearly in its per-host part."""
    hosts = figures["hosts"]
    once, sliced = 0.0, []
    for node in figures["workflow"]["nodes"]:
        if not node["sliced"]:
            once += node["wall"]
            continue
        fixed = report.median([job["seconds"] - (job.get("host_part") or 0.0) for job in node["jobs"]])
        sliced.append({"name": node["name"], "fixed": fixed, "per_host": max(0.0, node["wall"] - fixed) / float(hosts)})
    rows = []
    for nodes in PROJECTED_NODES:
        spread = sum(item["fixed"] + item["per_host"] * PROJECTED_HOSTS / float(nodes) for item in sliced)
        rows.append({"nodes": nodes, "once": once, "sliced": spread, "total": once + spread})
    return {"rows": rows, "once": once, "sliced": sliced, "one_job": linear(figures["one_job"], hosts, PROJECTED_HOSTS),
            "one_job_per_host": (figures["one_job"].get("host_part") or 0.0) / float(hosts)}


def mib(kib):
    return "-" if not kib else "%d" % round(kib / 1024.0)


def render(figures, facts):
    hosts, forks = figures["hosts"], figures["forks"]
    workflow = figures["workflow"]
    lines = [BEGIN, "## Scale: %d hosts (measured at this size), one job and the sliced workflow" % hosts, ""]
    lines.append("Measured by `benchmarks/scale.py --hosts %d` on commit %s, %s (%s, %s RAM, shared with other jobs), light fleet of %d "
                 "local hosts, forks %d; the workflow is the graph of `extensions/awx/rotate-workflow.yml`, each sliced node as %d jobs "
                 "started at the same time on this one machine, each other node as one job."
                 % (hosts, facts.get("rotor_iam_commit", "?"), facts.get("date", "?"), facts.get("cpu", "?"), facts.get("ram", "?"), hosts, forks,
                    figures["slices"]))
    if figures.get("service_nice"):
        lines.append("")
        lines.append("The test endpoint and the fleet's consumer process ran at nice %d (they stand for AWS and the application hosts, "
                     "which do not compete with the Ansible jobs for an execution node's CPU); every Ansible job at nice 0."
                     % figures["service_nice"])
    samples = figures.get("load_samples") or []
    lines += ["", "| job | wall s | host-seconds (tasks run per host) | hosts touched | IAM calls | peak MiB (largest / tree) | load start-end "
              "| load during (median / max) |", "|---|---|---|---|---|---|---|---|"]

    def row(name, result, calls=None):
        calls = calls if calls is not None else (result.get("calls") or {})
        iam = sum(calls.get("iam", {}).values()) if isinstance(calls.get("iam"), dict) else calls.get("iam_total", "-")
        during = load_during(samples, result.get("window"))
        lines.append("| %s | %.1f | %.1f | %s | %s | %s / %s | %s-%s | %s |" % (
            name, result["seconds"], result.get("host_part") or 0.0, result.get("hosts_touched", "-"), iam, mib(result.get("maxrss_kib")),
            mib(result.get("tree_peak_kib")), report.fmt_load(result["load_start"]), report.fmt_load(result["load_end"]),
            "%.1f / %.1f" % during if during else "-"))

    row("`ansible -m ping`", figures["ping"])
    row("`rotor.iam.rotate` (one job)", figures["one_job"])
    for node in workflow["nodes"]:
        for index, job in enumerate(node["jobs"], 1):
            label = "`%s` %s" % (node["name"], ("slice %d (%d hosts)" % (index, job["hosts_in_slice"])) if node["sliced"] else "(once per run)")
            row(label, job, node["calls"] if not node["sliced"] else {})
    final = workflow.get("final") or {}
    lines.append("")
    lines.append("Workflow: %s = **%.1f s** (%s), against **%.1f s** for one job (healthy on the new key: %s/%s) and %.1f s for one "
                 "ping round." % (" + ".join("%s %.1f s" % (node["name"], node["wall"]) for node in workflow["nodes"]), workflow["wall"],
                                  "healthy on the new key: %s/%s" % (final.get("healthy_on_new"), final.get("hosts")),
                                  figures["one_job"]["seconds"], figures["one_job"].get("healthy_on_new"), figures["one_job"].get("hosts"),
                                  figures["ping"]["seconds"]))
    projected = projection(figures)
    lines += ["", "- **Once per run, no host**: %s: %.0f s together, the same at any number of hosts (they grow with IAM users)."
              % (", ".join(node["name"] for node in workflow["nodes"] if not node["sliced"]), projected["once"])]
    for item in projected["sliced"]:
        lines.append("- **Sliced `%s`**: %.0f s fixed per job, %.3f s per host on this machine with the slices at once."
                     % (item["name"], item["fixed"], item["per_host"]))
    lines += ["", "Projected for %d hosts, each execution node as fast as this machine (linear in the hosts each slice drives):"
              % PROJECTED_HOSTS, "", "| execution nodes | once-per-run jobs s | sliced jobs s (per node, at once) | total min |", "|---|---|---|---|"]
    for item in projected["rows"]:
        lines.append("| %d | %.0f | %.0f | %.1f |" % (item["nodes"], item["once"], item["sliced"], item["total"] / 60.0))
    ten = [item for item in projected["rows"] if item["nodes"] == 10]
    goal = projected["one_job"] / 10.0 + projected["once"]
    lines += ["", "One `rotor.iam.rotate` job for %d hosts: about %.0f min on one node. Measured at %d hosts only: the per-host "
              "costs are extrapolated linearly, and this machine's 2 cores were shared with other work during the run."
              % (PROJECTED_HOSTS, projected["one_job"] / 60.0, hosts)]
    if ten:
        lines += ["", "Issue 23's goal, 10 nodes in under a tenth of one job's time plus the once-per-run jobs' time: %.1f min against "
                  "%.1f min (%s). The sliced jobs cost %.2f s per host in all (%s), one job %.2f s per host."
                  % (ten[0]["total"] / 60.0, goal / 60.0, "met" if ten[0]["total"] < goal else "not met",
                     sum(item["per_host"] for item in projected["sliced"]),
                     " + ".join("%s %.2f" % (item["name"], item["per_host"]) for item in projected["sliced"]),
                     projected["one_job"] / float(PROJECTED_HOSTS))]
    lines += [
        "", "Before issue 23 (the prepare, sliced distribute, finish workflow, measured at 1,000 hosts): prepare 366 s and finish "
        "1,487 s read every host from one node; 2,332 s in all against 1,265 s for one job, projected to 377 / 319 / 307 / 303 "
        "min on 1 / 4 / 10 / 25 nodes: adding nodes barely helped. Now no once-per-run job touches a host, and the projection "
        "falls with the nodes.", END]
    return "\n".join(lines) + "\n"


def write_section(text):
    with open(bench.RESULTS) as handle:
        current = handle.read()
    if BEGIN in current and END in current:
        updated = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", lambda _m: text, current, flags=re.S)
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    with open(bench.RESULTS, "w") as handle:
        handle.write(updated)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--slices", type=int, default=4)
    parser.add_argument("--max-forks", type=int, default=50)
    parser.add_argument("--timeout", type=int, default=3600)
    parser.add_argument("--workdir")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--render", metavar="JSON", help="only render the figures of an earlier --json")
    parser.add_argument("--write", action="store_true", help="replace the scale section of benchmarks/RESULTS.md")
    parser.add_argument("--rev", default="HEAD")
    parser.add_argument("--workflow-only", action="store_true",
                        help="run only the workflow (no ping round, no one job): its figures go to --json, not rendered")
    parser.add_argument("--service-nice", type=int, default=0, metavar="N",
                        help="run the test endpoint and the fleet's consumer process at nice N (e.g. -10, as root): they stand for AWS "
                             "and the application hosts, which do not compete with the Ansible jobs for CPU in real life")
    parser.add_argument("-e", "--extra-var", action="append", default=[], metavar="NAME=JSON")
    args = parser.parse_args(argv)
    args.extra_vars = {}
    for item in args.extra_var:
        name, _sep, value = item.partition("=")
        args.extra_vars[name] = json.loads(value)
    args.env = {}
    args.fleet = "light"
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.render:
        with open(args.render) as handle:
            saved = json.load(handle)
        figures, facts = saved["figures"], saved["facts"]
    else:
        workdir = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="rotor-scale-"))
        os.makedirs(workdir, exist_ok=True)
        facts = bench.machine_facts()
        if args.rev != "tree":
            # As bench.py: the revision measured (git archive), not the working tree, which may change meanwhile.
            collections, commit = bench.export_collection(args.rev, workdir)
            os.environ["ANSIBLE_COLLECTIONS_PATH"] = collections
            facts["rotor_iam_commit"] = "%s (git archive of %s)" % (commit[:12], args.rev)
        with ScaleBench(args, workdir) as runner:
            figures = runner.measure()
            failures = runner.results["failures"]
        if args.json:
            with open(args.json, "w") as handle:
                json.dump({"figures": figures, "facts": facts, "failures": failures}, handle, indent=1, default=str)
        if failures:
            print("failures:\n  " + "\n  ".join(failures))
        if args.workflow_only:
            return 0
    text = render(figures, facts)
    print(text)
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
