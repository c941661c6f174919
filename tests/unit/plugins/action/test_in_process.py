"""The in-process runner of rotor.iam's controller modules (plugins/plugin_utils/in_process.py).

A fake module (written to a temporary package) stands in for the AWS modules: what it prints
must be what AnsiballZ would have printed, and the process must be left as it was found.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import types
from unittest import mock

import pytest

from ansible.module_utils import _internal
from ansible.module_utils import basic
from ansible.module_utils.common import warnings
from ansible.module_utils.common.json import Direction
from ansible.module_utils.common.json import get_module_encoder

from ansible_collections.rotor.iam.plugins.action import access_key_create
from ansible_collections.rotor.iam.plugins.action import pending_secret
from ansible_collections.rotor.iam.plugins.plugin_utils import in_process

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

FAKE_MODULE = textwrap.dedent(
    '''
    import os
    from ansible.module_utils.basic import AnsibleModule

    def main():
        module = AnsibleModule(
            argument_spec=dict(
                mode=dict(type="str", required=True),
                secret=dict(type="str", no_log=True),
                name=dict(type="str", default="x"),
            ),
            supports_check_mode=True,
        )
        mode = module.params["mode"]
        if mode == "ok":
            module.exit_json(changed=not module.check_mode, name=module.params["name"], diff_mode=module._diff,
                             check_mode=module.check_mode, env=os.environ.get("ROTOR_TEST_ENV"))
        if mode == "warn":
            module.warn("careful")
            module.deprecate("old option", version="9.0.0", collection_name="rotor.iam")
            module.exit_json(changed=False)
        if mode == "fail":
            module.fail_json(msg="the user does not exist: give an existing user_name")
        if mode == "echo_secret":
            module.exit_json(changed=False, echoed=module.params["secret"])
        if mode == "raise":
            raise ValueError("boom")
        if mode == "chdir":
            os.chdir("/")
            os.environ["ROTOR_LEAK"] = "1"
            module.exit_json(changed=False)
        # mode == "return": falls off the end without exiting
    '''
)


@pytest.fixture
def fake_module(tmp_path, monkeypatch):
    """The Python name of a fake module in a fresh package."""
    package = "rotor_fake_%s" % os.urandom(4).hex()
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / package / "fake.py").write_text(FAKE_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(_internal, "is_controller", True)  # the worker is controller code
    return "%s.fake" % package


def params(**module_args):
    internal = dict(_ansible_check_mode=False, _ansible_no_log=False, _ansible_diff=False, _ansible_verbosity=0,
                    _ansible_version="2.19.0", _ansible_module_name="rotor.iam.fake", _ansible_tracebacks_for=[],
                    _ansible_keep_remote_files=False, _ansible_remote_tmp="~/.ansible/tmp", _ansible_tmpdir=None)
    internal.update(module_args)
    encoder = get_module_encoder("legacy", Direction.CONTROLLER_TO_MODULE)
    return json.dumps(dict(ANSIBLE_MODULE_ARGS=internal), cls=encoder).encode()


def run(fake_module, environment=None, **module_args):
    """(result, exit code) of the fake module."""
    stdout, _stderr, rc = in_process.run_module_main(fake_module, params(**module_args), "legacy", environment)
    return json.loads(stdout), rc


def test_a_module_result_is_what_it_prints_with_its_invocation(fake_module):
    result, rc = run(fake_module, mode="ok", name="app")
    assert rc == 0
    assert result["changed"] is True and result["name"] == "app"
    assert result["invocation"]["module_args"] == {"mode": "ok", "name": "app", "secret": None}


def test_check_mode_and_diff_reach_the_module(fake_module):
    result = run(fake_module, mode="ok", _ansible_check_mode=True, _ansible_diff=True)[0]
    assert result["check_mode"] is True and result["diff_mode"] is True and result["changed"] is False


def test_no_log_option_is_masked_in_the_invocation_and_anywhere_it_is_echoed(fake_module):
    stdout, _stderr, _rc = in_process.run_module_main(fake_module, params(mode="echo_secret", secret=SECRET), "legacy")
    assert SECRET not in stdout
    result = json.loads(stdout)
    assert result["invocation"]["module_args"]["secret"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_warnings_and_deprecations_go_into_the_result_not_to_the_controller_display(fake_module):
    with mock.patch("ansible.utils.display.Display.warning") as display_warning:
        result = run(fake_module, mode="warn")[0]
    display_warning.assert_not_called()
    assert [w["event"]["msg"] for w in result["warnings"]] == ["careful"]
    assert [d["event"]["msg"] for d in result["deprecations"]] == ["old option"]
    # A second run starts without the first run's warnings, as a new process would.
    result = run(fake_module, mode="ok")[0]
    assert "warnings" not in result


def test_a_failure_is_the_module_message_without_traceback(fake_module):
    result, rc = run(fake_module, mode="fail")
    assert rc == 1
    assert result["failed"] is True
    assert result["msg"] == "the user does not exist: give an existing user_name"
    assert "exception" not in result


def test_bad_arguments_fail_cleanly(fake_module):
    result, rc = run(fake_module, name="app")
    assert rc == 1 and result["failed"] is True
    assert "missing required arguments: mode" in result["msg"]


def test_an_exception_that_escapes_the_module_is_reported_as_ansiballz_reports_it(fake_module):
    result, rc = run(fake_module, mode="raise")
    assert rc == 1 and result["failed"] is True
    assert result["exception"]["event"]["msg"] == "boom"
    assert not result["exception"]["event"].get("formatted_traceback")


def test_a_module_that_does_not_exit_is_a_failure(fake_module):
    result, rc = run(fake_module, mode="return")
    assert rc == 1 and "did not handle its own exit" in result["exception"]["event"]["msg"]


def test_the_task_environment_applies_to_the_run_only(fake_module, monkeypatch):
    monkeypatch.delenv("ROTOR_TEST_ENV", raising=False)
    result = run(fake_module, environment={"ROTOR_TEST_ENV": "from-task"}, mode="ok")[0]
    assert result["env"] == "from-task"
    assert "ROTOR_TEST_ENV" not in os.environ


def test_the_process_is_left_as_it_was(fake_module, tmp_path):
    os.chdir(tmp_path)
    before = (basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE, _internal.is_controller, dict(os.environ))
    warnings._global_warnings.clear()
    run(fake_module, mode="chdir")
    run(fake_module, mode="warn")
    assert (basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE, _internal.is_controller, dict(os.environ)) == before
    assert os.getcwd() == str(tmp_path)
    assert not warnings._global_warnings and not warnings._global_deprecations


def test_stdout_and_stderr_of_the_worker_are_untouched(fake_module, capsys):
    run(fake_module, mode="ok")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.parametrize(
    "resolved, python_name",
    [
        ("rotor.iam.access_key_create", "ansible_collections.rotor.iam.plugins.modules.access_key_create"),
        ("ansible_collections.rotor.iam.plugins.modules.caller_identity", "ansible_collections.rotor.iam.plugins.modules.caller_identity"),
    ],
)
def test_python_module_name(resolved, python_name):
    assert in_process._python_module_name(resolved) == python_name


def test_builtin_modules_are_not_run_in_process():
    with pytest.raises(ValueError):
        in_process._python_module_name("ansible.builtin.ping")


# ---------------------------------------------------------------------- where a task runs


def action(connection="local", become=False, delegate_to=None, host_vars=None, delegated_vars=None):
    plugin = object.__new__(access_key_create.ActionModule)
    plugin._connection = types.SimpleNamespace(_load_name="ansible.builtin.%s" % connection, transport=connection)
    plugin._play_context = types.SimpleNamespace(become=become, remote_addr="localhost")
    plugin._task = types.SimpleNamespace(delegate_to=delegate_to)
    plugin._templar = types.SimpleNamespace(template=lambda value: value)
    task_vars = dict(host_vars or {})
    if delegate_to:
        task_vars["ansible_delegated_vars"] = {delegate_to: dict(delegated_vars or {})}
    return plugin, task_vars


OURS = {"ansible_python_interpreter": sys.executable}


@pytest.mark.parametrize(
    "case, kwargs, in_process_expected",
    [
        ("local connection, the controller's python", dict(host_vars=OURS), True),
        ("delegated to localhost", dict(delegate_to="localhost", host_vars={"ansible_python_interpreter": "/usr/bin/python3"},
                                        delegated_vars=OURS), True),
        ("ansible_playbook_python", dict(host_vars={"ansible_python_interpreter": "/venv/bin/python", "ansible_playbook_python": "/venv/bin/python"}), True),
        ("ssh connection", dict(connection="ssh", host_vars=OURS), False),
        ("become", dict(become=True, host_vars=OURS), False),
        ("another python", dict(host_vars={"ansible_python_interpreter": "/usr/bin/python3"}), False),
        ("delegated to a host with another python", dict(delegate_to="host1", host_vars=OURS,
                                                         delegated_vars={"ansible_python_interpreter": "/usr/bin/python3"}), False),
        ("interpreter discovery", dict(host_vars={"ansible_python_interpreter": "auto_silent"}), False),
    ],
)
def test_which_tasks_run_in_process(case, kwargs, in_process_expected):
    plugin, task_vars = action(**kwargs)
    assert plugin._runs_on_controller(task_vars) is in_process_expected, case


def test_elsewhere_the_module_runs_as_usual():
    plugin = object.__new__(access_key_create.ActionModule)
    plugin._task = types.SimpleNamespace(async_val=0, resolved_action="rotor.iam.access_key_create", action="x", args={"user_name": "u"})
    plugin._connection = types.SimpleNamespace(has_native_async=False, _shell=types.SimpleNamespace(tmpdir=None))
    plugin._play_context = types.SimpleNamespace(remote_addr="host1")
    with mock.patch("ansible.plugins.action.ActionBase.run", return_value={}), \
         mock.patch.object(plugin, "_runs_on_controller", return_value=False), \
         mock.patch.object(plugin, "_execute_module", return_value={"changed": True}) as execute, \
         mock.patch.object(plugin, "_run_in_process") as in_worker, \
         mock.patch.object(plugin, "_remove_tmp_path"):
        assert plugin.run(task_vars={}) == {"changed": True}
    execute.assert_called_once()
    in_worker.assert_not_called()


def test_pending_secret_hides_a_result_that_carries_the_secret():
    plugin = object.__new__(pending_secret.ActionModule)
    assert plugin.postprocess({"secret_access_key": SECRET})["_ansible_no_log"] is True
    assert "_ansible_no_log" not in plugin.postprocess({"secret_access_key": None, "changed": False})
