"""On the controller, rotor.iam's action plugins do their module's work themselves (public APIs only); anywhere else the module runs.

targets/in_process/main.yml runs the same tasks on three hosts, all with the local connection: ``controller``
(the controller's own Python: the action plugin does the work), ``wrapped`` (a wrapper script around that same
Python, so the module runs as usual through AnsiballZ and has boto3) and ``no_boto`` (Debian's python3: a module
run, and boto3 is missing). The run keeps AnsiballZ files (ANSIBLE_KEEP_REMOTE_FILES) and is read at -vvvv: no
AnsiballZ file of a rotor.iam module is made for ``controller`` (nor for a task delegated to localhost), and the
action plugin's results (keys, changed, diff, masked no_log values, failure messages) are exactly the module's.
"""

from __future__ import annotations

import json
import os
import re
import sys

import pytest
from conftest import PLAYBOOK_TIMEOUT
from support import ansible_env, assert_no_secrets, run_playbook, saved_secrets

HERE = os.path.dirname(os.path.abspath(__file__))
PLAYBOOK = os.path.join(HERE, "targets", "in_process", "main.yml")
HOST_PYTHON = "/usr/bin/python3"
ROTOR_MODULES = ("caller_identity", "access_key_info", "access_key_status", "access_key_create", "access_key_verify")
MASK = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
TASKS = ("Which identity the connection reaches", "Which identity the keys of the task's environment reach",
         "List the keys of the user (check mode)", "List the keys of a user that does not exist", "Bad input",
         "A secret where a number belongs", "Predict a new key (check mode)")
# The keys a task's environment gives (never valid: the endpoint does not enforce authentication here).
ENV_ACCESS_KEY_ID = "AKIAENVIRONMENT00001"
ENV_SECRET = "EnvironmentSecret/Of/The/Task/0123456789abcd"


@pytest.fixture
def in_process_run(endpoint, iam_user, tmp_path, known_secrets):
    for name in ("results", "secrets", "remote_tmp"):
        (tmp_path / name).mkdir(mode=0o700)
    wrapper = tmp_path / "python-wrapper"
    wrapper.write_text('#!/bin/sh\nexec "%s" "$@"\n' % sys.executable)
    wrapper.chmod(0o755)
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(
        "controller ansible_connection=local ansible_python_interpreter=%s\n"
        "wrapped ansible_connection=local ansible_python_interpreter=%s\n"
        "no_boto ansible_connection=local ansible_python_interpreter=%s\n" % (sys.executable, wrapper, HOST_PYTHON))
    # INJECT_INVOCATION (ansible-core 2.21 and later; earlier lines always inject): the results show their module_args.
    env = ansible_env(endpoint, endpoint_in_env=False, ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_REMOTE_TMP=str(tmp_path / "remote_tmp"),
                      ANSIBLE_FORKS="3", ANSIBLE_INJECT_INVOCATION="1")
    run = run_playbook(PLAYBOOK, tmp_path, endpoint=endpoint, inventories=[inventory], label="in_process", env=env,
                       extra_vars={"endpoint_url": endpoint.endpoint_url, "user_name": iam_user, "work_dir": str(tmp_path),
                                   "env_access_key_id": ENV_ACCESS_KEY_ID, "env_secret": ENV_SECRET},
                       verbosity=4, diff=True, combined=True, log=False, timeout=PLAYBOOK_TIMEOUT)
    known = {f"known secret #{index}": secret for index, secret in enumerate(known_secrets + [endpoint.admin_secret_access_key])}
    assert_no_secrets(run, dict(known, **saved_secrets(tmp_path / "secrets")))
    assert run.returncode == 0, run.explain()
    results = {host: json.loads((tmp_path / "results" / ("%s.json" % host)).read_text())
               for host in ("controller", "wrapped", "no_boto")}
    kept = sorted(path.name for path in (tmp_path / "remote_tmp").rglob("AnsiballZ_*.py"))
    return run, results, kept


def lines_of(run, host):
    return [line for line in run.output.splitlines() if line.startswith("<%s>" % host)]


def shown_results(run, task):
    """{host: the result the callback showed for ``task``}: with its ``invocation``, which register drops."""
    shown, in_task, host, lines = {}, False, None, []
    for line in run.output.splitlines():
        if line.startswith("TASK ["):
            in_task = line.startswith("TASK [%s]" % task)
            continue
        started = re.match(r"^(?:ok|changed|fatal): \[([^\]]+)\](?:: FAILED!)? => \{$", line)
        if in_task and started:
            host, lines = started.group(1), ["{"]
        elif host is not None:
            lines.append(line)
            if line == "}":
                shown[host] = json.loads("\n".join(lines))
                host = None
    return shown


def test_controller_modules_are_done_by_their_action_plugins_with_the_module_results(in_process_run, iam, iam_user):
    """One playbook run (about 40 s here) serves the checks."""
    controller_tasks_make_no_ansiballz_file_and_other_hosts_do(*in_process_run)
    action_plugin_results_are_the_module_results(*in_process_run)
    the_task_environment_reaches_botocore_and_its_secret_is_masked(*in_process_run)
    without_boto3_a_host_fails_as_the_module_says(*in_process_run)
    # Check mode wrote nothing: the only key is the one the second play created.
    assert len(iam.list_access_keys(UserName=iam_user)["AccessKeyMetadata"]) == 1


def controller_tasks_make_no_ansiballz_file_and_other_hosts_do(run, _results, kept):
    for host, module in (("controller", "caller_identity"), ("controller", "access_key_create"), ("localhost", "access_key_verify")):
        assert any("rotor.iam.%s ran in the action plugin on the controller" % module in line for line in lines_of(run, host)), run.explain()
    for host in ("controller", "localhost"):
        assert not [line for line in lines_of(run, host) if re.search(r"AnsiballZ_(%s)\.py" % "|".join(ROTOR_MODULES), line)]
    for host in ("wrapped", "no_boto"):
        assert not [line for line in lines_of(run, host) if "ran in the action plugin" in line]
        assert any("AnsiballZ_caller_identity.py" in line for line in lines_of(run, host)), run.explain()
    # Kept AnsiballZ files: each module task once per fallback host (wrapped, no_boto), none for the controller's tasks.
    counts = {module: sum(1 for name in kept if name == "AnsiballZ_%s.py" % module) for module in ROTOR_MODULES}
    assert counts == {"caller_identity": 4, "access_key_info": 4, "access_key_status": 2, "access_key_create": 2,
                      "access_key_verify": 2}, kept


def action_plugin_results_are_the_module_results(run, results, _kept):
    controller, wrapped = results["controller"], results["wrapped"]
    assert controller["identity"]["account"] and not controller["identity"].get("failed"), controller
    assert controller["missing_user"]["failed"] is True and "does not exist" in controller["missing_user"]["msg"]
    assert controller["bad_input"]["failed"] is True and "status" in controller["bad_input"]["msg"]
    assert controller["secret_as_number"]["failed"] is True and "timeout" in controller["secret_as_number"]["msg"]
    assert controller["predicted"]["changed"] is True and controller["predicted"]["diff"]
    assert controller["listed"]["changed"] is False and "access_keys" in controller["listed"]
    for name in ("identity", "env_identity", "listed", "missing_user", "bad_input", "secret_as_number", "predicted"):
        assert controller[name] == wrapped[name], name
    for task in TASKS:
        shown = shown_results(run, task)
        assert shown["controller"] == shown["wrapped"], task
        assert "invocation" in shown["controller"] or task == "Bad input", shown["controller"]
    for name in ("missing_user", "bad_input", "secret_as_number"):
        assert "exception" not in controller[name] or controller[name]["exception"] == "(traceback unavailable)", controller[name]
    assert "Traceback (most recent call last)" not in run.output


def the_task_environment_reaches_botocore_and_its_secret_is_masked(run, results, _kept):
    controller = results["controller"]
    # The endpoint enforces authentication: the environment's unknown key is what botocore signed with.
    assert controller["env_identity"]["error_code"] == "InvalidClientTokenId", controller["env_identity"]
    arguments = shown_results(run, "Which identity the keys of the task's environment reach")["controller"]["invocation"]["module_args"]
    assert arguments["access_key"] == ENV_ACCESS_KEY_ID and arguments["secret_key"] == MASK
    for task, host in (("A secret where a number belongs", "controller"),
                       ("Delegated to localhost, the action plugin still does the work", "controller -> localhost")):
        assert shown_results(run, task)[host]["invocation"]["module_args"]["secret_access_key"] == MASK, task
    assert ENV_SECRET not in json.dumps(results)
    # A module run's command line carries the task's environment (ansible-core shows it at -vvv); nothing else may.
    shown = [line for line in run.output.splitlines() if ENV_SECRET in line]
    assert all(re.match(r"<(wrapped|no_boto)> EXEC ", line) for line in shown), shown


def without_boto3_a_host_fails_as_the_module_says(_run, results, _kept):
    failed = results["no_boto"]["identity"]
    assert failed["failed"] is True
    assert "boto3" in failed["msg"] or "botocore" in failed["msg"], failed
