# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmarks' pure parts: parsing what a run leaves behind and formatting the figures.

No processes, no network, no clock: bench.py measures, this module turns measurements
into numbers and Markdown (and is what tests/unit/benchmarks tests).
"""

from __future__ import annotations

import statistics

STS_ACTIONS = {"GetCallerIdentity", "AssumeRole", "GetSessionToken", "GetAccessKeyInfo"}
# Actions that never leave the controller: a task with one of these costs a worker per host but runs no module.
CONTROLLER_ACTIONS = {"set_fact", "debug", "fail", "assert", "include_role", "include_tasks", "import_role",
                      "import_tasks", "validate_argument_spec", "set_stats", "meta", "add_host", "group_by",
                      "include_vars", "noop"}
CATEGORIES = ("module on each host", "per-host bookkeeping (controller only, or skipped)", "once, on the controller")
PLAYBOOKS = ("naive", "rotor")
# The targets (issue 12, point 6): rotor / naive and rotor / ping at 50 hosts; rotor / ping at 500 local hosts.
TARGETS = {50: {"rotor/naive": 0.75, "rotor/ping": 4.0}, 500: {"rotor/ping": 4.0}}


# --------------------------------------------------------------------------- small values

def parse_list(text, cast=str):
    return [cast(item.strip()) for item in str(text).split(",") if item.strip()]


def median(values):
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


def ratio(numerator, denominator):
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def fmt_seconds(value):
    return "-" if value is None else "%.1f" % value


def fmt_ratio(value):
    return "-" if value is None else "%.2fx" % value


def fmt_mib(kib):
    return "-" if kib is None else "%.0f" % (kib / 1024.0)


def parse_loadavg(text):
    """'0.52 0.61 0.70 1/123 4567' -> (0.52, 0.61, 0.70)."""
    fields = text.split()
    return tuple(float(value) for value in fields[:3])


def fmt_load(load):
    return "?" if not load else " ".join("%.2f" % value for value in load)


def short_action(action):
    """'ansible.builtin.set_fact' -> 'set_fact'."""
    return (action or "").rpartition(".")[2]


def is_module(action):
    return short_action(action) not in CONTROLLER_ACTIONS


# --------------------------------------------------------------------------- /proc

def parse_proc_status(text):
    """{'VmHWM': kib, 'VmRSS': kib, ...} from /proc/PID/status (the kB fields only)."""
    out = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        fields = value.split()
        if sep and len(fields) == 2 and fields[1] == "kB" and fields[0].isdigit():
            out[name] = int(fields[0])
    return out


def parse_proc_stat(text):
    """(ppid, process group, rss pages) from /proc/PID/stat (the command name may hold spaces and ')')."""
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[2]), int(fields[21])


def descendants(table, root):
    """[root and every process below it] from {pid: (ppid, ...)} (a process table read from /proc)."""
    children = {}
    for pid, row in table.items():
        children.setdefault(row[0], []).append(pid)
    out, todo = [], [root] if root in table else []
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(child for child in children.get(pid, ()) if child != pid)
    return out


# --------------------------------------------------------------------------- timing records

def task_rows(record):
    """[{name, action, seconds, ran, skipped, hosts}] from the timing callback's record, in run order."""
    tasks = record.get("tasks", [])
    rows = []
    for index, task in enumerate(tasks):
        end = tasks[index + 1]["start"] if index + 1 < len(tasks) else record.get("end", task["start"])
        statuses = task.get("hosts", {})
        rows.append({"name": task["name"], "action": task["action"], "seconds": end - task["start"],
                     "ran": sum(1 for report in statuses.values() if report[0] != "skipped"),
                     "skipped": sum(1 for report in statuses.values() if report[0] == "skipped"),
                     "hosts": {host: report[0] for host, report in statuses.items()}})
    return rows


def per_host_counts(record):
    """{host: {'starts': tasks that reported this host (ran or skipped), 'modules': module runs}}."""
    counts = {}
    for task in record.get("tasks", []):
        module = is_module(task["action"])
        for host, report in task.get("hosts", {}).items():
            entry = counts.setdefault(host, {"starts": 0, "modules": 0})
            entry["starts"] += 1
            if module and report[0] != "skipped":
                entry["modules"] += 1
    return counts


def per_host_summary(record):
    """Task starts and module runs of a typical host (median over hosts) and of the busiest one (max),
    and the tasks that ran for one host only (run_once / controller work), for a fleet of more than one host."""
    counts = per_host_counts(record)
    if not counts:
        return None
    starts = [entry["starts"] for entry in counts.values()]
    modules = [entry["modules"] for entry in counts.values()]
    tasks = record.get("tasks", [])
    once = sum(1 for task in tasks if len(task.get("hosts", {})) <= 1) if len(counts) > 1 else None
    return {"hosts": len(counts), "starts_median": statistics.median(starts), "starts_max": max(starts),
            "modules_median": statistics.median(modules), "modules_max": max(modules),
            "once": once, "tasks": len(tasks)}


def typical_host(record):
    """The host whose task starts are the median (ties: the last host name in order), or None."""
    counts = per_host_counts(record)
    if not counts:
        return None
    middle = statistics.median_low([entry["starts"] for entry in counts.values()])
    candidates = sorted((host for host, entry in counts.items() if entry["starts"] == middle), key=host_order)
    return candidates[-1]


def host_order(name):
    digits = "".join(ch for ch in name if ch.isdigit())
    return (name.rstrip("0123456789"), int(digits) if digits else 0, name)


def host_tasks(record, host):
    """[(name, action, status, module run?)] of every task that reported `host`, in run order."""
    out = []
    for task in record.get("tasks", []):
        report = task.get("hosts", {}).get(host)
        if report is not None:
            out.append((task["name"], short_action(task["action"]), report[0],
                        is_module(task["action"]) and report[0] != "skipped"))
    return out


def host_breakdown(record, host):
    """{'modules': module runs, 'controller': controller-only tasks that ran, 'skipped': skipped} of one host."""
    out = {"modules": 0, "controller": 0, "skipped": 0}
    for _name, _action, status, module in host_tasks(record, host):
        out["modules" if module else "skipped" if status == "skipped" else "controller"] += 1
    return out


def once_breakdown(record):
    """Tasks that reported one host only (run_once / controller work): {'tasks', 'modules'} (modules: ran a module)."""
    once = [task for task in record.get("tasks", []) if len(task.get("hosts", {})) <= 1]
    modules = sum(1 for task in once if is_module(task["action"])
                  and any(report[0] != "skipped" for report in task.get("hosts", {}).values()))
    return {"tasks": len(once), "modules": modules}


def category(row):
    """Which of CATEGORIES a task row belongs to."""
    if row["ran"] + row["skipped"] <= 1:
        return CATEGORIES[2]
    if row["ran"] and is_module(row["action"]):
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


def timing_text(record):
    """Every task of one run, in order: start, seconds, action, name, host statuses."""
    lines = []
    clock = 0.0
    for row in task_rows(record):
        lines.append("%6.1f %5.1f  %-30s %-72s ran %d skipped %d" % (
            clock, row["seconds"], row["action"][:30], row["name"][:72], row["ran"], row["skipped"]))
        clock += row["seconds"]
    return "\n".join(lines)


# --------------------------------------------------------------------------- calls

def split_calls(calls):
    """{'IAM': {action: n}, 'STS': {action: n}} from the counter's {service: {action: n}}."""
    out = {"IAM": {}, "STS": {}}
    for service, actions in calls.items():
        for action, count in actions.items():
            kind = "STS" if service == "sts" or action in STS_ACTIONS else "IAM"
            out[kind][action] = out[kind].get(action, 0) + count
    return out


def calls_per_user(calls, users):
    """(IAM calls, STS calls) per rotated user from the counter's {service: {action: n}}."""
    split = split_calls(calls)
    users = max(users, 1)
    return sum(split["IAM"].values()) / users, sum(split["STS"].values()) / users


# --------------------------------------------------------------------------- a measurement's figures

def summarize_fleet(entry):
    """Medians, ratios and per-host counts of one fleet's runs (entry as bench.py builds it), in place."""
    runs = entry["runs"]
    summary = {}
    for name in ("ping",) + PLAYBOOKS:
        summary[name] = median([run[name]["seconds"] for run in runs if run.get(name) and run[name]["ok"]])
    summary["rotor/naive"] = ratio(summary["rotor"], summary["naive"])
    summary["rotor/ping"] = ratio(summary["rotor"], summary["ping"])
    summary["naive/ping"] = ratio(summary["naive"], summary["ping"])
    for name in ("ping",) + PLAYBOOKS:
        summary[name + "_maxrss_kib"] = max([run[name].get("maxrss_kib") or 0 for run in runs if run.get(name)] or [0]) or None
        summary[name + "_tree_kib"] = max([run[name].get("tree_peak_kib") or 0 for run in runs
                                           if run.get(name) and run[name].get("tree") == "descendants"] or [0]) or None
    loads = [run[name]["load_start"][0] for run in runs for name in ("ping",) + PLAYBOOKS
             if run.get(name) and run[name].get("load_start")]
    loads += [run[name]["load_end"][0] for run in runs for name in ("ping",) + PLAYBOOKS
              if run.get(name) and run[name].get("load_end")]
    summary["load_min"] = min(loads) if loads else None
    summary["load_max"] = max(loads) if loads else None
    entry["summary"] = summary
    return entry


def target_verdicts(entries):
    """['- local, 50 hosts: rotor / naive 1.80x, target <= 0.75x: misses', ...] for the sizes with a target."""
    lines = []
    for entry in entries:
        targets = TARGETS.get(entry["size"])
        if not targets or entry.get("lag"):
            continue
        if entry["size"] == 500 and entry["mode"] != "local":
            continue
        for name, limit in targets.items():
            value = entry["summary"].get(name)
            verdict = "not measured" if value is None else ("meets" if value <= limit else "misses")
            lines.append("- %s, %d hosts: %s = %s, target at most %gx: **%s**" % (
                entry["mode"], entry["size"], name.replace("/", " / "), fmt_ratio(value), limit, verdict))
    return lines


# --------------------------------------------------------------------------- Markdown

def table(rows, header):
    rows = [list(row) for row in rows]
    widths = [max(len(str(row[i])) for row in [list(header)] + rows) for i in range(len(header))]
    lines = ["| " + " | ".join(str(cell).ljust(width) for cell, width in zip(header, widths)) + " |",
             "|" + "|".join("-" * (width + 2) for width in widths) + "|"]
    lines += ["| " + " | ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) + " |" for row in rows]
    return "\n".join(lines)


def label(entry):
    text = "%s %d" % (entry["mode"], entry["size"])
    if entry.get("lag"):
        text += " (lag %gs)" % entry["lag"]
    return text


def healthy_text(run):
    if not run or run.get("healthy_on_new") is None:
        return "-"
    return "%d/%d" % (run["healthy_on_new"], run["hosts"])


def wall_table(entries):
    rows = []
    for entry in entries:
        summary = entry["summary"]
        last = entry["runs"][-1] if entry["runs"] else {}
        rows.append((label(entry), entry["forks"], entry["fleet"], len(entry["runs"]),
                     fmt_seconds(summary["ping"]), fmt_seconds(summary["naive"]), fmt_seconds(summary["rotor"]),
                     fmt_ratio(summary["rotor/naive"]), fmt_ratio(summary["rotor/ping"]), fmt_ratio(summary["naive/ping"]),
                     "%s-%s" % (fmt_load_value(summary["load_min"]), fmt_load_value(summary["load_max"])),
                     healthy_text(last.get("naive")), healthy_text(last.get("rotor"))))
    return table(rows, ("fleet (mode, hosts)", "forks", "kind", "runs", "ping s", "naive s", "rotor s", "rotor / naive",
                        "rotor / ping", "naive / ping", "load (1 min)", "naive: healthy on new key",
                        "rotor: healthy on new key"))


def fmt_load_value(value):
    return "?" if value is None else "%.1f" % value


def runs_table(entries):
    """Every run's seconds and the load at its start, so a reader can see the noise."""
    rows = []
    for entry in entries:
        for index, run in enumerate(entry["runs"], 1):
            cells = [label(entry), index]
            for name in ("ping",) + PLAYBOOKS:
                part = run.get(name)
                if not part:
                    cells.append("-")
                    continue
                text = fmt_seconds(part["seconds"]) if part["ok"] else "failed"
                cells.append("%s (load %s)" % (text, fmt_load_value((part.get("load_start") or [None])[0])))
            rows.append(cells)
    return table(rows, ("fleet", "run", "ping s", "naive s", "rotor s"))


def per_host_table(entries):
    rows = []
    for entry in entries:
        run = entry["runs"][-1] if entry["runs"] else {}
        cells = [label(entry)]
        for name in PLAYBOOKS:
            counts = (run.get(name) or {}).get("per_host")
            if not counts:
                cells += ["-", "-", "-"]
                continue
            cells += ["%g (max %g)" % (counts["starts_median"], counts["starts_max"]),
                      "%g (max %g)" % (counts["modules_median"], counts["modules_max"]),
                      "-" if counts["once"] is None else "%d of %d" % (counts["once"], counts["tasks"])]
        rows.append(cells)
    return table(rows, ("fleet", "naive: task starts per host", "naive: module runs per host", "naive: one-host tasks",
                        "rotor: task starts per host", "rotor: module runs per host", "rotor: one-host tasks"))


def calls_table(entries):
    rows = []
    for entry in entries:
        run = entry["runs"][-1] if entry["runs"] else {}
        cells = [label(entry), entry.get("users", 1)]
        for name in PLAYBOOKS:
            part = run.get(name) or {}
            if "calls" not in part:
                cells += ["-", "-"]
                continue
            iam, sts = calls_per_user(part["calls"], entry.get("users", 1))
            cells += ["%g" % iam, "%g" % sts]
        rows.append(cells)
    return table(rows, ("fleet", "users", "naive: IAM calls per user", "naive: STS", "rotor: IAM calls per user", "rotor: STS"))


def calls_by_action_table(entry):
    run = entry["runs"][-1] if entry["runs"] else {}
    per = {name: split_calls((run.get(name) or {}).get("calls", {})) for name in PLAYBOOKS}
    rows = []
    for kind in ("IAM", "STS"):
        actions = sorted({action for name in PLAYBOOKS for action in per[name][kind]})
        for action in actions:
            rows.append((kind, action, per["naive"][kind].get(action, 0), per["rotor"][kind].get(action, 0)))
        rows.append((kind, "**total**", "**%d**" % sum(per["naive"][kind].values()),
                     "**%d**" % sum(per["rotor"][kind].values())))
    return table(rows, ("service", "action", "naive", "rotor"))


def memory_table(entries):
    rows = []
    for entry in entries:
        summary = entry["summary"]
        rows.append([label(entry), entry["forks"]] + [
            "%s / %s" % (fmt_mib(summary[name + "_maxrss_kib"]), fmt_mib(summary[name + "_tree_kib"]))
            for name in ("ping",) + PLAYBOOKS])
    return table(rows, ("fleet", "forks", "ansible -m ping MiB", "naive MiB", "rotor MiB"))


def host_tasks_table(record, host):
    rows = []
    for index, (name, action, status, module) in enumerate(host_tasks(record, host), 1):
        rows.append((index, name[:80], action, status, "yes" if module else ""))
    return table(rows, ("#", "task", "action", "status", "module run"))


def profile_text(title, rows, top=12):
    tasks, count, total = summarize_profile(rows, top)
    lines = [(task["name"][:70], "%.1f" % task["seconds"], task["starts"], task["ran"], task["skipped"]) for task in tasks]
    kinds = [(name, starts, "%.1f" % seconds) for name, (starts, seconds) in profile_breakdown(rows).items()]
    head = "%s: %d task starts, %.1f s in tasks" % (title, count, total)
    return "\n\n".join((head, table(kinds, ("kind of task", "task starts", "s")),
                        table(lines, ("slowest tasks", "s", "starts", "host results", "skipped"))))


def audit_table(audits):
    rows = []
    for entry in audits:
        if not entry.get("available"):
            rows.append((entry["users"], "not available (playbooks/audit.yml missing)", "-", "-", "-"))
            continue
        calls = entry.get("calls") or {}
        detail = ", ".join("%s %d" % item for item in sorted(calls.items()))
        rows.append((entry["users"], sum(calls.values()), detail, fmt_seconds(entry.get("median")),
                     " / ".join("%.1f" % value for value in entry["seconds"])))
    return table(rows, ("users", "IAM/STS calls", "by action", "wall s (median)", "runs s"))


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
