"""The rotate role's size and coupling, as docs/architecture.md reports them (issue 22).

    python scripts/measure_role.py                      # static figures of this checkout
    python scripts/measure_role.py --timing RUN.json    # ... and the happy path of one recorded run

Static: YAML lines under roles/rotate/tasks, filters exported by plugins/filter (the names FilterModule.filters()
returns), private facts (distinct __rotor_* names the role sets with set_fact or registers; and those set with set_fact
alone, in the whole role and outside the workflow's job files), tasks that pass connection
options by hand (user_name/profile/region/endpoint_url/lock_run_id/lock_lease/run_id/lease), and rotor.iam filter
references in the role.

With --timing (a benchmarks/callback_plugins/rotor_bench_timing.py record of a rotation, e.g. the benchmark's
runs/rotor-local-N-1.timing.json): the tasks that ran, the rotor.iam filter references in them (each counted once
per task run: a filter in a loop or a lazily evaluated var runs at least that often), the controller module runs
and the host module runs per host. Hops = filter evaluations + controller module runs + host module runs per host.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TASKS = ROOT / "roles" / "rotate" / "tasks"
FILTERS = ROOT / "plugins" / "filter"
FILTER_USE = re.compile(r"rotor\.iam\.([a-z_]+)")
CONNECTION_OPTIONS = ("user_name", "profile", "region", "endpoint_url", "lock_run_id", "lock_lease", "run_id", "lease")
HOST_MODULES = ("rotor.iam.host_credentials",)
MODULE_KEYS = re.compile(r"^(rotor\.iam|ansible\.builtin|amazon\.aws)\.[a-z_]+$")


def exported_filters():
    names = set()
    for path in sorted(FILTERS.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == "filters":
                for ret in ast.walk(node):
                    if isinstance(ret, ast.Dict):
                        names.update(k.value for k in ret.keys if isinstance(k, ast.Constant))
    return sorted(names)


def _tasks(tasks, inherited=None):
    for task in tasks or []:
        yield task, inherited
        for part in ("block", "rescue", "always"):
            if part in task:
                yield from _tasks(task[part], task)


def role_tasks():
    for path in sorted(TASKS.glob("*.yml")):
        for task, parent in _tasks(yaml.safe_load(path.read_text())):
            yield path.name, task, parent


def _action(task):
    return next((key for key in task if MODULE_KEYS.match(str(key))), None)


# The workflow's job files (issue 23); the rest is the main rotation path (the playbook rotor.iam.rotate).
def is_workflow_file(name):
    """The AWX workflow's phase files (prepare, finish, workflow_*): not on the path of the playbook rotor.iam.rotate."""
    return name in ("prepare.yml", "finish.yml") or name.startswith("workflow_")


def facts_set(main_path_only=False):
    """The distinct __rotor_* names the role sets with set_fact (registers apart)."""
    names = set()
    for where, task, _parent in role_tasks():
        if main_path_only and is_workflow_file(where):
            continue
        names.update(k for k in (task.get("ansible.builtin.set_fact") or {}) if k.startswith("__rotor_"))
    return sorted(names)


def private_facts():
    names = set()
    for _where, task, _parent in role_tasks():
        names.update(k for k in (task.get("ansible.builtin.set_fact") or {}) if k.startswith("__rotor_"))
        if str(task.get("register", "")).startswith("__rotor_"):
            names.add(task["register"])
    return sorted(names)


def connection_tasks():
    found = []
    for where, task, _parent in role_tasks():
        action = _action(task)
        args = task.get(action) if action else None
        # A credentials file's own "profile" (its section) is not a connection option.
        if action in ("rotor.iam.credentials_file", "rotor.iam.host_credentials"):
            continue
        if isinstance(args, dict) and action.startswith("rotor.iam.") and any(option in args for option in CONNECTION_OPTIONS):
            found.append(f"{where}: {task.get('name')}")
    return found


def _filters_in(node):
    return FILTER_USE.findall(yaml.safe_dump(node, width=10000)) if node else []


def _name_pattern(name):
    parts = re.split(r"{{.*?}}", str(name))
    return re.compile("^" + ".*".join(re.escape(p) for p in parts) + "$")


def happy_path(timing_path):
    record = json.loads(Path(timing_path).read_text())
    known = [(where, task, parent, _name_pattern(task.get("name", ""))) for where, task, parent in role_tasks() if task.get("name")]
    filters = controller = 0
    per_host = {}
    used = set()
    for entry in record["tasks"]:
        name = str(entry.get("name", "")).split(" : ", 1)[-1]
        statuses = {host: value[0] for host, value in (entry.get("hosts") or {}).items()}
        ran = [host for host, status in statuses.items() if status != "skipped"]
        if not ran:
            continue
        match = next(((w, t, p) for w, t, p, pattern in known if pattern.match(name)), None)
        if match is None:
            continue
        _where, task, parent = match
        # The module's own name (rotor.iam.<module>) is a module run, not a filter evaluation.
        action = _action(task)
        found = _filters_in({("action" if k == action else k): v for k, v in task.items() if k not in ("block", "rescue", "always", "name")})
        found += _filters_in((parent or {}).get("vars"))
        filters += len(found)
        used.update(found)
        action = action or ""
        if action in HOST_MODULES and not task.get("run_once") and not task.get("delegate_to"):
            for host in ran:
                per_host[host] = per_host.get(host, 0) + 1
        elif action.startswith("rotor.iam.") or action.startswith("amazon.aws."):
            controller += 1
    host_runs = max(per_host.values()) if per_host else 0
    return {"tasks_recorded": len(record["tasks"]), "filter_evaluations": filters, "distinct_filters": len(used),
            "controller_module_runs": controller, "host_module_runs_per_host": host_runs, "hops": filters + controller + host_runs}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--timing", help="a rotor_bench_timing.py record of one rotation (happy path)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    figures = {
        "role_yaml_lines": sum(len(p.read_text().splitlines()) for p in TASKS.glob("*.yml")),
        "role_yaml_lines_main_path": sum(len(p.read_text().splitlines()) for p in TASKS.glob("*.yml") if not is_workflow_file(p.name)),
        "role_task_files": len(list(TASKS.glob("*.yml"))),
        "exported_filters": len(exported_filters()),
        "filters_used_by_the_role": len(set(FILTER_USE.findall("".join(p.read_text() for p in TASKS.glob("*.yml"))))
                                        & set(exported_filters())),
        "private_facts": len(private_facts()),
        "facts_set_with_set_fact": len(facts_set()),
        "facts_set_on_the_main_path": len(facts_set(main_path_only=True)),
        "tasks_passing_connection_options": len(connection_tasks()),
    }
    if args.timing:
        figures.update({f"happy_path_{k}": v for k, v in happy_path(args.timing).items()})
    if args.json:
        json.dump(figures, sys.stdout, indent=2)
        print()
    else:
        for key, value in figures.items():
            print(f"{key:45} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
