"""The action plugins of rotor.iam's AWS modules (plugins/plugin_utils/controller_module.py).

On the controller the action plugin does the module's work itself: its validation, masking and clients
must be the module's. Where a module run can be had without the network (bad input), the same arguments
go through both and the results are compared.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import types
from unittest import mock

import pytest
from ansible import constants as C
from ansible.errors import AnsibleError

from ansible_collections.rotor.iam.plugins.action import access_key_create
from ansible_collections.rotor.iam.plugins.action import pending_secret
from ansible_collections.rotor.iam.plugins.modules import access_key_info
from ansible_collections.rotor.iam.plugins.modules import access_key_status
from ansible_collections.rotor.iam.plugins.modules import access_key_verify
from ansible_collections.rotor.iam.plugins.modules import caller_identity
from ansible_collections.rotor.iam.plugins.modules import rotation_journal
from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import iam_client
from ansible_collections.rotor.iam.plugins.plugin_utils import controller_module
from ansible_collections.rotor.iam.plugins.plugin_utils.controller_module import ControllerModule
from ansible_collections.rotor.iam.plugins.plugin_utils.controller_module import run_work

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
MASK = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".build", "collections"))
AWS_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CA_BUNDLE", "ANSIBLE_DEBUG_BOTOCORE_LOGS")


try:
    C.config.get_config_value("INJECT_INVOCATION")
    HAS_INJECT_INVOCATION = True
except AnsibleError:
    HAS_INJECT_INVOCATION = False


@pytest.fixture(autouse=True)
def no_aws_environment(monkeypatch):
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def module_run(module_code, args, environment=None):
    """The result of a real module run (AnsibleModule, in a new Python) with ``args``: only for runs that need no network."""
    env = dict(os.environ, PYTHONPATH=COLLECTIONS, **(environment or {}))
    payload = dict(args, _ansible_module_name="rotor.iam.%s" % module_code.__name__.rsplit(".", 1)[-1])
    if HAS_INJECT_INVOCATION:  # ansible-core 2.21 and later add invocation only when asked; earlier lines always do
        payload["_ansible_inject_invocation"] = True
    completed = subprocess.run([sys.executable, "-m", module_code.__name__], input=json.dumps({"ANSIBLE_MODULE_ARGS": payload}),
                               env=env, capture_output=True, text=True, timeout=60, check=False)
    return json.loads(completed.stdout), completed.stdout + completed.stderr


def action_run(module_code, args, environment=None, **kwargs):
    return run_work(module_code, "rotor.iam.%s" % module_code.__name__.rsplit(".", 1)[-1], args, environment or {}, **kwargs)


# ---------------------------------------------------------------------- the same results as a module run

BAD_INPUTS = [
    ("a choice out of range", access_key_status, dict(user_name="alice", access_key_id="AKIAEXAMPLE000000001", status="Inactive")),
    ("a required option missing", access_key_status, dict(user_name="alice", status="inactive")),
    ("an unknown option", access_key_status, dict(user_name="alice", access_key_id="AKIAEXAMPLE000000001", status="inactive", colour="red")),
    ("a wrong type", rotation_journal, dict(user_name="alice", lock_ttl_minutes="soon")),
    ("required_if", rotation_journal, dict(user_name="alice", state="locked")),
    ("the module's own check", access_key_info, dict(user_name="alice", all_users=True)),
    ("the module's own check on numbers", access_key_info, dict(user_name="alice", max_age_days=-1)),
    ("a secret given with a bad option", access_key_verify, dict(access_key_id="AKIAEXAMPLE000000001", secret_access_key=SECRET, timeout=-1)),
    ("a secret where a number belongs", access_key_verify, dict(access_key_id="AKIAEXAMPLE000000001", secret_access_key="x", timeout=SECRET)),
    ("a profile and keys", caller_identity, dict(profile="other", access_key="AKIAEXAMPLE000000001", secret_key=SECRET)),
]


@pytest.mark.parametrize("case, module_code, args", BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_fails_as_the_module_fails(case, module_code, args):
    expected, output = module_run(module_code, args)
    got = action_run(module_code, args)
    assert got["failed"] is True and expected["failed"] is True, case
    assert got["msg"] == expected["msg"], case
    assert got["invocation"] == expected["invocation"], case
    # deprecations: ansible-core 2.21 reports amazon.aws 10's own imports of private names when a module run imports it
    assert set(got) - {"warnings"} == set(expected) - {"warnings", "exception", "deprecations"}, case
    assert "exception" not in got and "Traceback" not in got["msg"]
    assert SECRET not in json.dumps(got) and SECRET not in output


def test_credentials_from_the_task_environment_are_used_and_masked_as_by_the_module():
    environment = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE000000001", "AWS_SECRET_ACCESS_KEY": SECRET}
    args = dict(user_name="alice", all_users=True)
    expected, _output = module_run(access_key_info, args, environment)
    got = action_run(access_key_info, args, environment)
    assert got["invocation"] == expected["invocation"]
    assert got["invocation"]["module_args"]["secret_key"] == MASK
    assert got["invocation"]["module_args"]["access_key"] == "AKIAEXAMPLE000000001"
    assert "AWS_SECRET_ACCESS_KEY" not in os.environ


# ---------------------------------------------------------------------- the module-like object

def test_check_mode_diff_and_the_validated_parameters_reach_the_work():
    seen = {}

    def execute(module):
        seen.update(check_mode=module.check_mode, diff=module._diff, params=dict(module.params))  # pylint: disable=protected-access
        module.exit_json(changed=False)

    code = types.SimpleNamespace(module_spec=access_key_status.module_spec, execute=execute, __name__="access_key_status")
    result = action_run(code, dict(user="alice", access_key_id="AKIAEXAMPLE000000001", status="inactive", region=""), check_mode=True, diff=True)
    assert result["changed"] is False and result["invocation"]["module_args"]["user"] == "alice"
    assert seen["check_mode"] is True and seen["diff"] is True
    assert seen["params"]["user_name"] == "alice" and seen["params"]["force"] is False and seen["params"]["validate_certs"] is True
    assert seen["params"]["region"] is None  # an empty connection option means "not set", as in a module run


def test_a_secret_the_work_returns_is_masked_everywhere_but_a_key_id_is_not():
    def execute(module):
        module.exit_json(changed=False, echoed=module.params["secret_access_key"], inside="key %s here" % module.params["secret_access_key"],
                         access_key_id=module.params["access_key_id"])

    code = types.SimpleNamespace(module_spec=access_key_verify.module_spec, execute=execute, __name__="access_key_verify")
    result = action_run(code, dict(access_key_id="AKIAEXAMPLE000000001", secret_access_key=SECRET))
    assert SECRET not in json.dumps(result)
    assert result["echoed"] == MASK and result["invocation"]["module_args"]["secret_access_key"] == MASK
    assert result["access_key_id"] == "AKIAEXAMPLE000000001"


def test_without_inject_invocation_the_result_has_none_as_a_module_result_from_ansible_core_2_21():
    code = types.SimpleNamespace(module_spec=caller_identity.module_spec, execute=lambda module: module.exit_json(changed=False),
                                 __name__="caller_identity")
    assert action_run(code, {}, inject_invocation=False) == {"changed": False}
    assert "invocation" in action_run(code, {})


def test_an_exception_that_escapes_the_work_is_a_failure_without_the_secret():
    def execute(module):
        raise ValueError("cannot use %s" % module.params["secret_access_key"])

    code = types.SimpleNamespace(module_spec=access_key_verify.module_spec, execute=execute, __name__="access_key_verify")
    result = action_run(code, dict(access_key_id="AKIAEXAMPLE000000001", secret_access_key=SECRET))
    assert result["failed"] is True and "ValueError" in result["msg"]
    assert SECRET not in json.dumps(result)


def test_warnings_go_into_the_result_once():
    def execute(module):
        module.warn("careful")
        module.warn("careful")
        module.exit_json(changed=False)

    code = types.SimpleNamespace(module_spec=caller_identity.module_spec, execute=execute, __name__="caller_identity")
    assert action_run(code, {})["warnings"] == ["careful"]


def test_the_task_environment_applies_to_the_work_only(monkeypatch):
    monkeypatch.delenv("ROTOR_TEST_ENV", raising=False)
    seen = {}

    def execute(module):
        seen["env"] = os.environ.get("ROTOR_TEST_ENV")
        seen["region"] = module.params["region"]
        os.environ["ROTOR_LEAK"] = "1"
        module.exit_json(changed=False)

    code = types.SimpleNamespace(module_spec=caller_identity.module_spec, execute=execute, __name__="caller_identity")
    before = dict(os.environ)
    action_run(code, {}, {"ROTOR_TEST_ENV": "from-task", "AWS_REGION": "eu-west-3"})
    assert seen == {"env": "from-task", "region": "eu-west-3"}
    assert dict(os.environ) == before


def test_the_endpoint_log_of_botocore_needs_a_module_run():
    code = types.SimpleNamespace(module_spec=caller_identity.module_spec, execute=mock.Mock(), __name__="caller_identity")
    assert action_run(code, {"debug_botocore_endpoint_logs": True}) is None
    code.execute.assert_not_called()


def test_clients_have_the_connection_of_the_task_and_one_retry_layer():
    module = ControllerModule("rotor.iam.access_key_info", access_key_info.module_spec(),
                              dict(user_name="alice", endpoint_url="http://127.0.0.1:5999", region="eu-west-3",
                                   access_key="AKIAEXAMPLE000000001", secret_key=SECRET))
    client = iam_client(module)
    assert isinstance(client, controller_module.RetryingBotoClientWrapper)
    assert client.client.meta.endpoint_url == "http://127.0.0.1:5999"
    assert client.client.meta.region_name == "eu-west-3"
    assert client.client.meta.config.retries["total_max_attempts"] == 1
    assert client.client._request_signer._credentials.secret_key == SECRET  # pylint: disable=protected-access


def test_a_connection_problem_fails_as_amazon_aws_reports_it():
    module = ControllerModule("rotor.iam.access_key_info", access_key_info.module_spec(), dict(user_name="alice", profile="no-such-profile"))
    with pytest.raises(controller_module.ModuleExit) as exited:
        iam_client(module)
    assert exited.value.result["failed"] is True and "no-such-profile" in exited.value.result["msg"]


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
    "case, kwargs, on_controller",
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
def test_which_tasks_the_action_plugin_does_itself(case, kwargs, on_controller):
    plugin, task_vars = action(**kwargs)
    assert plugin._runs_on_controller(task_vars) is on_controller, case


def test_a_virtualenv_reached_through_a_symlink_is_the_same_python_another_virtualenv_is_not(tmp_path):
    base = os.path.realpath(sys.executable)
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").symlink_to(base)
    (tmp_path / "linked-venv").symlink_to(tmp_path / "venv")
    (tmp_path / "other-venv" / "bin").mkdir(parents=True)
    (tmp_path / "other-venv" / "bin" / "python").symlink_to(base)
    identity = controller_module.python_identity
    assert identity(str(tmp_path / "linked-venv" / "bin" / "python")) == identity(str(tmp_path / "venv" / "bin" / "python"))
    assert identity(str(tmp_path / "other-venv" / "bin" / "python")) != identity(str(tmp_path / "venv" / "bin" / "python"))


def plugin_for_run(runs_on_controller, done):
    plugin = object.__new__(access_key_create.ActionModule)
    plugin._task = types.SimpleNamespace(async_val=0, resolved_action="rotor.iam.access_key_create", action="x", args={"user_name": "u"})
    plugin._connection = types.SimpleNamespace(has_native_async=False, _shell=types.SimpleNamespace(tmpdir=None))
    plugin._play_context = types.SimpleNamespace(remote_addr="host1")
    patches = [mock.patch("ansible.plugins.action.ActionBase.run", return_value={}),
               mock.patch.object(plugin, "_runs_on_controller", return_value=runs_on_controller),
               mock.patch.object(plugin, "_execute_module", return_value={"changed": True, "ran": "module"}),
               mock.patch.object(plugin, "_run_on_controller", return_value=done),
               mock.patch.object(plugin, "_remove_tmp_path")]
    return plugin, patches


@pytest.mark.parametrize("runs_on_controller, done, expected", [
    (False, None, "module"),
    (True, {"changed": False, "ran": "action"}, "action"),
    (True, None, "module"),  # the action plugin declined (botocore's endpoint log)
])
def test_the_module_runs_unless_the_action_plugin_did_the_work(runs_on_controller, done, expected):
    plugin, patches = plugin_for_run(runs_on_controller, done)
    for patch in patches:
        patch.start()
    try:
        assert plugin.run(task_vars={})["ran"] == expected
    finally:
        mock.patch.stopall()


def test_pending_secret_hides_a_result_that_carries_the_secret():
    plugin = object.__new__(pending_secret.ActionModule)
    assert plugin.postprocess({"secret_access_key": SECRET})["_ansible_no_log"] is True
    assert "_ansible_no_log" not in plugin.postprocess({"secret_access_key": None, "changed": False})


CONTROLLER_MODULES = ("access_key_create", "access_key_delete", "access_key_info", "access_key_status", "access_key_verify",
                      "caller_identity", "pending_secret", "rotation_journal", "secret_destination")


@pytest.mark.parametrize("name", CONTROLLER_MODULES)
def test_each_action_plugin_does_its_own_modules_work(name):
    action_plugin = importlib.import_module("ansible_collections.rotor.iam.plugins.action.%s" % name)
    module_code = action_plugin.ActionModule.module
    assert module_code.__name__ == "ansible_collections.rotor.iam.plugins.modules.%s" % name
    assert callable(module_code.execute) and callable(module_code.main)
    assert isinstance(module_code.module_spec()["argument_spec"], dict)
