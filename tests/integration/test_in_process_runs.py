"""rotor.iam's controller modules run in the Ansible worker on the controller, as modules anywhere else.

targets/in_process/main.yml runs the same tasks on three hosts, all with the local connection: ``controller``
(the controller's own Python: in process), ``wrapped`` (a wrapper script around that same Python, so the module
runs as usual through AnsiballZ and has boto3) and ``no_boto`` (Debian's python3: as usual, and boto3 is
missing). The run keeps AnsiballZ files (ANSIBLE_KEEP_REMOTE_FILES) and is read at -vvvv: no AnsiballZ file of
a rotor.iam module is made for ``controller`` (nor for a task delegated to localhost), and the in-process results
are exactly the AnsiballZ ones.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import PLAYBOOK_TIMEOUT, PlaybookRun, _assert_no_secret_in_output, _playbook_env

HERE = os.path.dirname(os.path.abspath(__file__))
PLAYBOOK = os.path.join(HERE, "targets", "in_process", "main.yml")
HOST_PYTHON = "/usr/bin/python3"
ROTOR_MODULES = ("caller_identity", "access_key_info", "access_key_status", "access_key_create", "access_key_verify")


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
    extra_vars = tmp_path / "vars.json"
    fd = os.open(extra_vars, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"endpoint_url": endpoint.endpoint_url, "user_name": iam_user, "work_dir": str(tmp_path)}, handle)
    env = _playbook_env(endpoint)
    env.update(ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_REMOTE_TMP=str(tmp_path / "remote_tmp"), ANSIBLE_FORKS="3")
    ansible_playbook = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable)) or "ansible-playbook"
    completed = subprocess.run(
        [ansible_playbook, "-i", str(inventory), "-vvvv", "--diff", "-e", "@%s" % extra_vars, PLAYBOOK],
        env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=PLAYBOOK_TIMEOUT, check=False)
    log_path = tmp_path / "in_process.log"
    log_path.write_text(completed.stdout)
    run = PlaybookRun("in_process", completed.returncode, completed.stdout, log_path)
    _assert_no_secret_in_output(run, tmp_path / "secrets", known_secrets + [endpoint.admin_secret_access_key])
    assert run.returncode == 0, run.explain()
    results = {host: json.loads((tmp_path / "results" / ("%s.json" % host)).read_text())
               for host in ("controller", "wrapped", "no_boto")}
    kept = sorted(path.name for path in (tmp_path / "remote_tmp").rglob("AnsiballZ_*.py"))
    return run, results, kept


def lines_of(run, host):
    return [line for line in run.output.splitlines() if line.startswith("<%s>" % host)]


def test_controller_modules_run_in_process_with_the_module_results(in_process_run):
    """One playbook run (about 40 s here) serves the three checks."""
    controller_tasks_make_no_ansiballz_file_and_other_hosts_do(*in_process_run)
    in_process_results_are_the_module_results(*in_process_run)
    without_boto3_a_host_fails_as_the_module_says(*in_process_run)


def controller_tasks_make_no_ansiballz_file_and_other_hosts_do(run, _results, kept):
    for host, module in (("controller", "caller_identity"), ("controller", "access_key_create"), ("localhost", "access_key_verify")):
        assert any("running rotor.iam.%s in the worker process" % module in line for line in lines_of(run, host)), run.explain()
    for host in ("controller", "localhost"):
        assert not [line for line in lines_of(run, host) if re.search(r"AnsiballZ_(%s)\.py" % "|".join(ROTOR_MODULES), line)]
    for host in ("wrapped", "no_boto"):
        assert not [line for line in lines_of(run, host) if "in the worker process" in line]
        assert any("AnsiballZ_caller_identity.py" in line for line in lines_of(run, host)), run.explain()
    # Kept AnsiballZ files: each module once per fallback host (wrapped, no_boto), none for the controller's runs.
    counts = {module: sum(1 for name in kept if name == "AnsiballZ_%s.py" % module) for module in ROTOR_MODULES}
    assert counts == {"caller_identity": 2, "access_key_info": 4, "access_key_status": 2, "access_key_create": 2,
                      "access_key_verify": 0}, kept


def in_process_results_are_the_module_results(run, results, _kept):
    controller, wrapped = results["controller"], results["wrapped"]
    assert controller["identity"]["account"] and not controller["identity"].get("failed"), controller
    assert controller["missing_user"]["failed"] is True and controller["bad_input"]["failed"] is True
    assert controller["predicted"]["changed"] is True
    for name in ("identity", "listed", "missing_user", "bad_input", "predicted"):
        assert controller[name] == wrapped[name], name
    for name in ("missing_user", "bad_input"):
        # ansible-core's own stand-in when a module attached no traceback, as for the remote run
        assert controller[name].get("exception", "(traceback unavailable)") == "(traceback unavailable)", controller[name]
    assert "Traceback (most recent call last)" not in run.output


def without_boto3_a_host_fails_as_the_module_says(_run, results, _kept):
    failed = results["no_boto"]["identity"]
    assert failed["failed"] is True
    assert "boto3" in failed["msg"] or "botocore" in failed["msg"], failed
