"""Every failure message of the collection names the thing once, the cause once and the fix once.

Collected from the source: the messages modules fail with (``fail_json(msg=...)``), the errors plugins raise
(filter errors, module_utils errors the modules turn into their message) and the ``msg`` of the roles' and playbooks'
``ansible.builtin.fail`` tasks. A message is rejected when it ends in ``..``, repeats a clause, or puts the same value
in twice (an f-string or Jinja expression used twice names the same thing twice). The messages the rotation engine
composes at run time from a host's failure are checked the same way.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
import yaml

from ansible_collections.rotor.iam.plugins.module_utils._rotation import run as engine
from ansible_collections.rotor.iam.plugins.module_utils._rotation.hosts import host_state
from ansible_collections.rotor.iam.plugins.module_utils.health import check_description

REPO = Path(__file__).resolve().parents[2]
PLACEHOLDER = "\x00"  # where a value goes: an f-string field or a Jinja expression
FAILING_CALLS = {"fail_json", "fail_json_aws", "fail_json_aws_error"}
# Messages whose fix is a command that must name the same thing again: {(file, value): why}.
SAME_VALUE_ALLOWED = {
    ("plugins/module_utils/rotation_journal.py", "user_name"): "the fix is an aws iam untag-user command for that user",
}
# Clauses this short ("got {}", "see the journal") may recur without saying the same thing twice.
MIN_CLAUSE_WORDS = 3


def _template(node: ast.AST) -> str | None:
    """The text of a message expression with PLACEHOLDER for each value, or None when it is not built from literals."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            else:
                parts.append(PLACEHOLDER + ast.unparse(value.value) + PLACEHOLDER)
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _template(node.left), _template(node.right)
        if left is None and right is None:
            return None
        return (left if left is not None else PLACEHOLDER + "?" + PLACEHOLDER) + (right if right is not None else PLACEHOLDER + "?" + PLACEHOLDER)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _template(node.left)
    return None


def python_messages() -> Iterator[Tuple[str, str]]:
    """(where, template) of every failure message written as a literal in plugins/."""
    for path in sorted((REPO / "plugins").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            candidates: List[ast.AST] = []
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in FAILING_CALLS:
                    candidates += [kw.value for kw in node.keywords if kw.arg == "msg"]
                    if name != "fail_json":
                        candidates += node.args[1:2]
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
                candidates.append(node.exc.args[0])
            for candidate in candidates:
                text = _template(candidate)
                if text is not None:
                    yield f"{path.relative_to(REPO)}:{candidate.lineno}", text


def _fail_tasks(tasks) -> Iterator[dict]:
    for task in tasks or []:
        if not isinstance(task, dict):
            continue
        for key in ("block", "rescue", "always", "tasks"):
            yield from _fail_tasks(task.get(key))
        for action in ("ansible.builtin.fail", "fail"):
            if isinstance(task.get(action), dict) and isinstance(task[action].get("msg"), str):
                yield task


def yaml_messages() -> Iterator[Tuple[str, str]]:
    """(where, template) of the msg of every fail task of the roles and playbooks."""
    paths = sorted(REPO.glob("roles/*/tasks/*.yml")) + sorted(REPO.glob("playbooks/*.yml"))
    for path in paths:
        for task in _fail_tasks(yaml.safe_load(path.read_text())):
            msg = (task.get("ansible.builtin.fail") or task.get("fail"))["msg"]
            text = re.sub(r"\{\{(.*?)\}\}", lambda m: PLACEHOLDER + m.group(1).strip() + PLACEHOLDER, msg)
            yield f"{path.relative_to(REPO)}: {task.get('name')}", text


def problems(text: str) -> List[str]:
    """What is wrong with one message (its placeholders marked with PLACEHOLDER)."""
    found = []
    literal = re.sub(f"{PLACEHOLDER}[^{PLACEHOLDER}]*{PLACEHOLDER}", "{}", text).strip()
    if re.search(r"(?<!\.)\.\.$", literal) or literal.endswith(".{}."):
        found.append("ends in '..'")
    clauses = [re.sub(r"\s+", " ", c).strip(" ,;:.()").lower() for c in re.split(r"[.;:]\s|\n|, ", literal)]
    seen = set()
    for clause in clauses:
        if len(clause.split()) >= MIN_CLAUSE_WORDS and clause.replace("{}", "").strip():
            if clause in seen:
                found.append(f"repeats the clause {clause!r}")
            seen.add(clause)
    values = re.findall(f"{PLACEHOLDER}([^{PLACEHOLDER}]*){PLACEHOLDER}", text)
    repeated = sorted({v for v in values if values.count(v) > 1 and v != "?"})
    if repeated:
        found.append(f"shows the same value twice: {', '.join(repeated)}")
    return found


MESSAGES = list(python_messages()) + list(yaml_messages())


def test_the_lint_sees_the_collections_messages():
    """The collectors find messages of every kind (a collector that silently finds nothing would pass everything)."""
    places = [where for where, _text in MESSAGES]
    assert len(MESSAGES) > 100, len(MESSAGES)
    assert any(p.startswith("plugins/modules/") for p in places) and any(p.startswith("plugins/filter/") for p in places)
    assert any(p.startswith("roles/") for p in places)


@pytest.mark.parametrize("text, wrong", [
    ("the key is bad..", "ends in '..'"),
    (f"{PLACEHOLDER}msg{PLACEHOLDER}..", "ends in '..'"),
    ("the lock is held; run it again later; the lock is held", "repeats the clause 'the lock is held'"),
    (f"{PLACEHOLDER}check{PLACEHOLDER} failed: {PLACEHOLDER}check{PLACEHOLDER} timed out", "shows the same value twice: check"),
])
def test_the_lint_rejects(text, wrong):
    assert wrong in problems(text)


def _allowed(where, problem):
    return any(where.startswith(path + ":") and problem == f"shows the same value twice: {value}" for path, value in SAME_VALUE_ALLOWED)


def test_no_failure_message_ends_in_two_dots_or_says_a_thing_twice():
    bad = {}
    for where, text in MESSAGES:
        found = [problem for problem in problems(text) if not _allowed(where, problem)]
        if found:
            bad[where] = found
    assert not bad, "\n".join(f"{where}: {', '.join(why)}" for where, why in sorted(bad.items()))


# --------------------------------------------------------------------------- messages composed at run time

OLD, NEW = "AKIAOLD0000000000001", "AKIANEW0000000000001"


def _rolled_back_message(register, result, check):
    """The run's failure message when one host's ``register`` result failed (hosts.py reads it as the role does)."""
    facts = {"rotor_iam_user": "app", "rotor_health_check": check,
             "__rotor_read": {"key_ids": [OLD], "file_key_ids": [OLD]},
             "__rotor_switch": {"changed": True, "wrote": True, "switched_at": "t", "files": [{"backup_file": "b"}]}}
    facts[register] = result
    state = host_state(facts, user="app")
    plans = {"app": {"due": True, "error": None, "old_key_id": OLD, "hosts": ["web1"], "reason": "due", "user_name": "app"}}
    run = engine.start(plans, run_id="r", new_key_ids={"app": NEW})
    run = engine.advance(run, "hosts", {"hosts": {"web1": state}})
    return engine.report(run)["message"]


@pytest.mark.parametrize("register", ["__rotor_switch", "__rotor_recheck", "__rotor_drain_check"])
@pytest.mark.parametrize("check", [{"command": "/usr/local/bin/app-health --deep"}, {"url": "http://127.0.0.1:8080/health"}],
                         ids=["command", "url"])
def test_a_failed_health_check_names_its_command_once(register, check):
    what = check_description(check.get("url"), check.get("command"))
    msg = f"{what} failed after 6 attempt(s): exit code 1"
    result = {"failed": True, "msg": msg, "step": "health_check", "failure": {"check": what, "msg": msg}}
    if register == "__rotor_switch":
        result.update(changed=True, wrote=True, switched_at="t", files=[{"backup_file": "b"}])
    message = _rolled_back_message(register, result, check)
    shown = check.get("command") or check.get("url")

    assert message.count(shown) == 1, message
    assert not problems(message), message


def test_the_runs_failure_message_ends_each_sentence_once_whatever_its_parts_end_with():
    """Plan refusals and host messages often end in a full stop; the run's message does not add a second one."""
    plans = {"app": {"due": True, "error": None, "old_key_id": OLD, "hosts": ["web1"], "reason": "due", "user_name": "app"},
             "db": {"due": False, "error": "host db1 holds a key of another user. Fix the inventory and run again.", "hosts": ["db1"],
                    "reason": "", "user_name": "db"}}
    failed = {"user": "app", "state": "failed", "wrote": True, "failure": {"check": "restart", "msg": "unit app.service not found."},
              "key_ids": [OLD], "backups": ["b"], "moved_at": "t", "restored": False, "restore_failure": "restore: disk full."}
    run = engine.advance(engine.start(plans, run_id="r", new_key_ids={"app": NEW}), "hosts", {"hosts": {"web1": failed}})
    message = engine.report(run)["message"]

    assert "rolled back" in message and "Not rotated" in message and "disk full" in message, message
    assert ".." not in message and not problems(message), message
