"""The rotate role only loops: the run record decides (plugins/module_utils/_rotation/run.py).

Checked statically over roles/rotate/tasks: the role sets no fact but the run record and the secrets it must hold
(outside the workflow's job files; NOT_YET names what is left, a list that may only shrink); the engine hard-codes
no register name (the role names its registers in vars/main.yml); every task that runs per host is a module run.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
TASKS = ROOT / "roles" / "rotate" / "tasks"
ENGINE = ROOT / "plugins" / "module_utils" / "_rotation"
RUN_RECORD = {"__rotor_run"}
# Secrets (no_log), forgotten together in cutover.yml's always: (and by the workflow job that read them): the one fact
# of secrets (the new keys, the compromised keys read back, the proven backup reads) and the one register every step
# whose result holds a secret registers into.
SECRETS = {"__rotor_secrets", "__rotor_secret_step"}
# The workflow's phase jobs (issue 23): their run record is each IAM user's journal; a job holds its users, its fence
# (with a once-per-run job's work), a batch's host outcome and what its slice failed (key ids and names only), and
# forgets the secrets it read. The prepare job's record is its plan and what each step prepared (key ids only).
WORKFLOW = {"__rotor_users", "__rotor_fence", "__rotor_batch", "__rotor_slice", "__rotor_prepared"}
WORKFLOW_FILES = {"prepare.yml", "finish.yml"} | {path.name for path in TASKS.glob("workflow_*.yml")}
# Per serial batch (distribute.yml): a fact set in one batch never reaches the hosts of the next, so a batch only reads
# the record and keeps its own decision (which users switch) and when it last renewed the locks.
BATCH = {"__rotor_switching"}
# Facts still to fold into the run record (none left: the leaked keys no user owns ride in it, __rotor_run.compromised_not_found).
NOT_YET = set()


def _tasks(tasks):
    for task in tasks or []:
        yield task
        for part in ("block", "rescue", "always"):
            yield from _tasks(task.get(part))


def _facts_set(files=None):
    found = {}
    for path in sorted(TASKS.glob("*.yml")):
        if files is not None and path.name not in files:
            continue
        for task in _tasks(yaml.safe_load(path.read_text())):
            for name in task.get("ansible.builtin.set_fact") or {}:
                found.setdefault(name, set()).add(path.name)
    return found


def _main_path_files():
    return {path.name for path in TASKS.glob("*.yml")} - WORKFLOW_FILES


def test_the_role_sets_no_fact_but_the_run_record_and_the_secrets():
    facts = _facts_set()
    unexpected = {name: sorted(files) for name, files in facts.items() if name not in RUN_RECORD | SECRETS | BATCH | NOT_YET | WORKFLOW}
    assert not unexpected, f"a decision or a value of the run belongs in the run record (__rotor_run), not a fact: {unexpected}"
    assert RUN_RECORD <= set(facts)
    assert NOT_YET <= set(facts), f"gone from the role, drop from NOT_YET: {sorted(NOT_YET - set(facts))}"


def test_the_batch_facts_are_set_only_per_batch():
    facts = _facts_set(_main_path_files())
    assert all(facts.get(name) == {"distribute.yml"} for name in BATCH), {name: facts.get(name) for name in BATCH}


def test_the_run_is_named_once_in_its_record():
    """The run's id, start and IAM users are fields of the record; the role's other names for them only read it."""
    facts = _facts_set(_main_path_files())
    for name in ("__rotor_run_id", "__rotor_started", "__rotor_started_epoch", "__rotor_users", "__rotor_locked", "__rotor_leases"):
        assert name not in facts, f"{name} is set as a fact in {sorted(facts[name])}: it is a field of __rotor_run"
    aliases = yaml.safe_load((ROOT / "roles" / "rotate" / "vars" / "main.yml").read_text())
    assert all("__rotor_run." in aliases[name] for name in ("__rotor_run_id", "__rotor_started", "__rotor_users", "__rotor_leases"))


def test_the_secrets_are_forgotten_in_one_place():
    cutover = yaml.safe_load((TASKS / "cutover.yml").read_text())
    always = next(task["always"] for task in cutover if "always" in task)
    forgotten = set(always[0]["ansible.builtin.set_fact"])
    assert forgotten == SECRETS and always[0].get("no_log") is True


def test_the_engine_hard_codes_no_register_name_but_the_legacy_defaults():
    """The step function reads the registers the role names (roles/rotate/vars/main.yml: __rotor_registers)."""
    for path in ENGINE.glob("*.py"):
        text = path.read_text()
        if path.name == "hosts.py":
            text = text.split("ROLE_REGISTERS = ", 1)[0] + text.split("ROLE_REGISTERS = ", 1)[1].split("}", 1)[1]
            text = re.sub(r'""".*?"""', "", text, flags=re.S)
        assert not re.search(r"['\"]__rotor_", text), f"{path.name} names a register of the role"
    registers = yaml.safe_load((ROOT / "roles" / "rotate" / "vars" / "main.yml").read_text())["__rotor_registers"]
    assert registers == {"switch": "__rotor_switch"}


def test_every_host_step_of_the_main_path_registers_under_one_of_two_names():
    """The switch (its own play's batches keep no fact) and every other host step (__rotor_host_step, whose phase the
    next rotation_advance names and the run record keeps)."""
    found = {}
    for name in sorted(_main_path_files()):
        for task in _tasks(yaml.safe_load((TASKS / name).read_text())):
            if "rotor.iam.host_credentials" in task and not task.get("delegate_to"):
                found.setdefault(task.get("register"), []).append(f"{name}: {task['name']}")
    assert set(found) == {"__rotor_switch", "__rotor_host_step"}, found
    assert len(found["__rotor_host_step"]) == 4, found  # read, re-check, drain check, settle


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
    """With the playbook's one argument validation, at most 6 task starts per host; every one a module run."""
    per_host = [task for phase in ("plan", "create", "distribute", "cutover")
                for task in _per_host_tasks(yaml.safe_load((TASKS / f"{phase}.yml").read_text()))]
    actions = [next(key for key in task if "." in key) for task in per_host]
    assert set(actions) == {"rotor.iam.host_credentials"}, [task["name"] for task in per_host]
    assert len(per_host) <= 5, [task["name"] for task in per_host]
