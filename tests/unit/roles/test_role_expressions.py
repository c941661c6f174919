"""The rotate role passes values and loops; decisions live in Python (plugins/filter, module_utils).

Checked statically over roles/rotate/tasks: no Jinja expression chains more than two filters, and every task
that runs per host is a module run (the hosts keep no state in facts; their registered results are read by filters).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

TASKS = Path(__file__).resolve().parents[3] / "roles" / "rotate" / "tasks"
EXPRESSION = re.compile(r"{{(.*?)}}|{%(.*?)%}", re.S)
MAX_FILTERS = 2


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in ("when", "changed_when", "failed_when", "until"):
                yield from ("{{ " + v + " }}" for v in (value if isinstance(value, list) else [value]) if isinstance(v, str))
            else:
                yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _filter_chains(expression):
    """The longest run of `| filter` in each parenthesis level of ``expression``, quoted text ignored."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "''", expression)
    depth, counts, best = 0, {0: 0}, 0
    for index, char in enumerate(text):
        if char in "([{":
            depth += 1
            counts[depth] = 0
        elif char in ")]}":
            counts.pop(depth, None)
            depth = max(depth - 1, 0)
        elif char == "|" and text[index + 1:index + 2] != "|":
            counts[depth] = counts.get(depth, 0) + 1
            best = max(best, counts[depth])
        elif char in ",:" or text[index:index + 4] in (" if ", " or ", " and", " els", " not"):
            counts[depth] = 0
    return best


def _expressions():
    for path in sorted(TASKS.glob("*.yml")):
        for text in _strings(yaml.safe_load(path.read_text())):
            for match in EXPRESSION.finditer(text):
                yield path.name, (match.group(1) or match.group(2)).strip()


@pytest.mark.parametrize("where, expression", list(_expressions()), ids=lambda v: v if len(str(v)) < 60 else str(v)[:60])
def test_no_expression_chains_more_than_two_filters(where, expression):
    assert _filter_chains(expression) <= MAX_FILTERS, f"{where}: move this decision into a rotor.iam filter: {expression}"


def test_the_chain_counter_counts_filters_per_chain():
    assert _filter_chains("a | b | c") == 2
    assert _filter_chains("a | b | c | d") == 3
    assert _filter_chains("a | f(x | g) | h") == 2
    assert _filter_chains("'x | y | z | w' ~ a | b") == 1
    assert _filter_chains("a | b if c else d | e | f") == 2


def _per_host_tasks(tasks, inherited_run_once=False):
    """The tasks of a task list that run for every host (not run_once), blocks flattened."""
    for task in tasks or []:
        run_once = inherited_run_once or bool(task.get("run_once"))
        if "block" in task:
            for part in ("block", "rescue", "always"):
                yield from _per_host_tasks(task.get(part), run_once)
        elif not run_once:
            yield task


def test_each_host_costs_at_most_five_tasks_all_of_them_host_module_runs():
    """With the argument validation of the plan entry point, at most 6 task starts per host; every one a module run."""
    per_host = [task for phase in ("plan", "create", "distribute", "cutover")
                for task in _per_host_tasks(yaml.safe_load((TASKS / f"{phase}.yml").read_text()))]
    actions = [next(key for key in task if "." in key) for task in per_host]
    assert set(actions) == {"rotor.iam.host_credentials"}, [task["name"] for task in per_host]
    assert len(per_host) <= 5, [task["name"] for task in per_host]
