# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a controller task of rotor.iam costs, three ways in one run: figures, not tests.

A playbook of N ``rotor.iam.access_key_info`` tasks on the controller (connection local), timed as:

- ``old``: the collection at --old-rev (default 661077a, the last commit with plugins/plugin_utils/in_process.py,
  which ran the module's main() in the worker through private ansible-core names; it fails on ansible-core 2.20+);
- ``action``: the collection at --rev (default HEAD): the action plugin does the module's work on public APIs;
- ``module``: the same collection as ``action``, with ``ansible_python_interpreter`` a wrapper script around the
  same Python, so every task is a plain module run (AnsiballZ, a new Python per task).

The three alternate within each round (--repeat rounds, medians reported) against the test IAM endpoint, so the
ratios compare runs under the same load. An untimed run at -vvv per way first checks that each way takes the path it
names. ``--write`` replaces this benchmark's section of benchmarks/RESULTS.md (bench.py keeps it).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(ROOT, "tests"), os.path.join(ROOT, "tests", "integration")]

import bench  # noqa: E402  pylint: disable=wrong-import-position
import rotation_helpers  # noqa: E402  pylint: disable=wrong-import-position
from iam_endpoint.control import IAMEndpoint  # noqa: E402  pylint: disable=wrong-import-position

BEGIN, END = bench.CONTROLLER_TASKS_BEGIN, bench.CONTROLLER_TASKS_END
WAYS = ("old", "action", "module")
# What a -vvv run of each way prints when it takes that path.
MARKERS = {
    "old": "running rotor.iam.access_key_info in the worker process",
    "action": "rotor.iam.access_key_info ran in the action plugin on the controller",
    "module": "AnsiballZ_access_key_info.py",
}


def playbook_python():
    """The Python that runs ansible-playbook (its shebang): the one the controller path recognises as its own."""
    with open(rotation_helpers.ansible_playbook()) as handle:
        first = handle.readline()
    return first[2:].strip().split()[0] if first.startswith("#!") else sys.executable


def write_playbook(path, tasks):
    lines = ["- name: Controller tasks of rotor.iam", "  hosts: controller", "  gather_facts: false", "  tasks:"]
    for number in range(1, tasks + 1):
        lines += ["    - name: List the user's keys (%d)" % number, "      rotor.iam.access_key_info:",
                  "        user_name: \"{{ bench_user }}\"", "        endpoint_url: \"{{ bench_endpoint_url }}\""]
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def collections_for(rev, workdir, amazon):
    """rotor.iam at ``rev`` (git archive) beside ``amazon`` (an ansible_collections/amazon folder)."""
    path, commit = bench.export_collection(rev, os.path.join(workdir, rev.replace("/", "_")))
    link = os.path.join(path, "ansible_collections", "amazon")
    if amazon and os.path.realpath(link) != os.path.realpath(amazon):
        os.unlink(link)
        os.symlink(amazon, link)
    return path, commit


def measure(args):
    workdir = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="rotor-controller-tasks-"))
    os.makedirs(workdir, exist_ok=True)
    facts = bench.machine_facts()
    amazon = os.path.abspath(args.amazon) if args.amazon else None
    if amazon:
        with open(os.path.join(amazon, "aws", "MANIFEST.json")) as handle:
            facts["amazon_aws"] = json.load(handle)["collection_info"]["version"]
    old_path, old_commit = collections_for(args.old_rev, workdir, amazon)
    new_path, new_commit = collections_for(args.rev, workdir, amazon)
    python = playbook_python()
    wrapper = os.path.join(workdir, "python-wrapper")
    with open(wrapper, "w") as handle:
        handle.write('#!/bin/sh\nexec "%s" "$@"\n' % python)
    os.chmod(wrapper, 0o755)
    inventories = {}
    for way, interpreter in (("old", python), ("action", python), ("module", wrapper)):
        inventories[way] = os.path.join(workdir, "inventory-%s.ini" % way)
        with open(inventories[way], "w") as handle:
            handle.write("controller ansible_connection=local ansible_python_interpreter=%s\n" % interpreter)
    collections = {"old": old_path, "action": new_path, "module": new_path}
    playbook, probe = os.path.join(workdir, "tasks.yml"), os.path.join(workdir, "probe.yml")
    write_playbook(playbook, args.tasks)
    write_playbook(probe, 1)
    runs_dir = os.path.join(workdir, "runs")
    os.makedirs(runs_dir, exist_ok=True)
    seconds = {way: [] for way in WAYS}
    failures = {}
    with IAMEndpoint().start(workdir=os.path.join(workdir, "iam")) as endpoint:
        endpoint.configure(propagation_seconds=0)
        iam = endpoint.boto3_client("iam")
        user = "bench-controller-tasks"
        iam.create_user(UserName=user)
        iam.create_access_key(UserName=user)
        variables = os.path.join(workdir, "vars.json")
        with open(variables, "w") as handle:
            json.dump({"bench_user": user, "bench_endpoint_url": endpoint.endpoint_url}, handle)

        def run(way, book, label, extra=()):
            env = rotation_helpers.playbook_env(endpoint)
            env.update(ANSIBLE_COLLECTIONS_PATH=collections[way], ANSIBLE_PYTHON_INTERPRETER=python)
            argv = [rotation_helpers.ansible_playbook(), "-i", inventories[way], "-e", "@" + variables, *extra, book]
            return bench.run_measured(argv, env, runs_dir, label, args.timeout)

        for way in WAYS:
            checked = run(way, probe, "probe-%s" % way, ["-vvv"])
            output = bench.tail(checked["stdout"], 10 ** 7)
            if not checked["ok"]:
                failures[way] = "exit %d: %s" % (checked["returncode"], _error_line(output + bench.tail(checked["stderr"])))
            elif MARKERS[way] not in output:
                failures[way] = "did not take the %s path (see %s)" % (way, checked["stdout"])
            bench.log("%s: %s" % (way, failures.get(way, "takes its path")))
        for round_ in range(1, args.repeat + 1):
            for way in WAYS:
                if way in failures:
                    continue
                result = run(way, playbook, "%s-%d" % (way, round_))
                if not result["ok"]:
                    failures[way] = "exit %d in round %d (see %s)" % (result["returncode"], round_, result["stdout"])
                    continue
                seconds[way].append(result["seconds"])
                bench.log("round %d %s: %.1f s for %d tasks" % (round_, way, result["seconds"], args.tasks))
    facts["load_after"] = bench.load_average()
    return {"facts": facts, "tasks": args.tasks, "repeat": args.repeat, "seconds": seconds, "failures": failures,
            "old_commit": old_commit[:12], "new_commit": new_commit[:12], "workdir": workdir,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def _error_line(text):
    lines = [line for line in text.splitlines() if "ERROR" in line or "Error" in line]
    return (lines[0] if lines else text.strip().splitlines()[-1] if text.strip() else "?")[:200]


def median(values):
    return statistics.median(values) if values else None


def render(measured):
    """The RESULTS.md section (between the markers) for one measurement."""
    facts, tasks = measured["facts"], measured["tasks"]
    medians = {way: median(measured["seconds"][way]) for way in WAYS}
    module = medians["module"]

    def cell(way):
        if medians[way] is None:
            return "failed: %s" % re.sub(r" \(/[^)]*\)", "", measured["failures"].get(way, "not measured"))
        per_task = medians[way] / tasks
        ratio = " (%.2fx module run)" % (medians[way] / module) if module and way != "module" else ""
        return "%.1f s, %.2f s per task%s" % (medians[way], per_task, ratio)

    rows = [
        "| %s (Python %s, amazon.aws %s) | %s | %s | %s |" % (
            facts.get("ansible_core", "?"), facts.get("python", "?"), facts.get("amazon_aws", "?"),
            cell("old"), cell("action"), cell("module")),
    ]
    return "\n".join([
        BEGIN,
        "## Controller tasks: the action plugin, the old in-process run, a module run",
        "",
        "Generated by `benchmarks/controller_tasks.py --tasks %d --repeat %d` on %s; rotor.iam %s, the old path from %s. "
        "One playbook of %d `rotor.iam.access_key_info` tasks on the controller (connection local) against the test IAM "
        "endpoint, three ways alternating in each round (medians of %d rounds): **old**, the module's main() run in the "
        "worker through private ansible-core names (plugins/plugin_utils/in_process.py, removed); **action**, the action "
        "plugin doing the module's work on public APIs (plugins/plugin_utils/controller_module.py); **module**, the "
        "same collection with a wrapper script as ansible_python_interpreter, so every task is a plain module run. "
        "Ratios are against the module run of the same run; seconds per task include ansible-playbook's own start, "
        "shared by the tasks. The machine (2 cores) was shared with other jobs: compare the ratios, not the seconds." % (
            tasks, measured["repeat"], measured["date"], measured["new_commit"], measured["old_commit"], tasks, measured["repeat"]),
        "",
        "| ansible-core | old (in process, private names) | action (public APIs) | module run |",
        "|---|---|---|---|",
        *rows,
        END,
    ])


def write_section(section, path=bench.RESULTS):
    """Replace this benchmark's section of RESULTS.md (or put it before the scale section, else at the end)."""
    with open(path) as handle:
        current = handle.read()
    begin, end = current.find(BEGIN), current.find(END)
    if 0 <= begin < end:
        text = current[:begin] + section + current[end + len(END):]
    else:
        scale = current.find(bench.SCALE_BEGIN)
        text = (current[:scale] + section + "\n\n" + current[scale:]) if scale >= 0 else current.rstrip("\n") + "\n\n" + section + "\n"
    with open(path, "w") as handle:
        handle.write(text)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--tasks", type=int, default=30, help="tasks per playbook (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are reported (default %(default)s)")
    parser.add_argument("--old-rev", default="661077a", help="the revision with the old in-process path (default %(default)s)")
    parser.add_argument("--rev", default="HEAD", help="the revision measured as action and module (default %(default)s)")
    parser.add_argument("--amazon", help="an ansible_collections/amazon folder to use (default: the one of .build)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds before a run is killed")
    parser.add_argument("--workdir", help="keep runs and logs here (default: a new temporary directory)")
    parser.add_argument("--json", metavar="FILE", help="also write the raw figures as JSON")
    parser.add_argument("--render", metavar="JSON", action="append", default=[],
                        help="only write the section from --json files of earlier runs (one row each) and exit")
    parser.add_argument("--write", action="store_true", help="replace this benchmark's section of benchmarks/RESULTS.md")
    return parser.parse_args(argv)


def render_many(measured_runs):
    """One section whose table has a row per run (e.g. one per ansible-core line)."""
    sections = [render(measured).splitlines() for measured in measured_runs]
    first = sections[0]
    rows = [line for section in sections[1:] for line in section if line.startswith("| 2.")]
    return "\n".join(first[:-1] + rows + [first[-1]])


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.render:
        runs = []
        for path in args.render:
            with open(path) as handle:
                runs.append(json.load(handle))
        section = render_many(runs)
    else:
        measured = measure(args)
        if args.json:
            with open(args.json, "w") as handle:
                json.dump(measured, handle, indent=1)
        section = render(measured)
    print(section)
    if args.write:
        write_section(section)
        bench.log("wrote %s" % bench.RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
