# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Runs a rotor.iam AWS module inside the Ansible worker when the task runs on the controller.

A module run normally builds an AnsiballZ payload and starts a new Python that imports boto3,
botocore and amazon.aws before it makes one IAM call: one to two seconds per task. On the
controller (connection ``local``, no become, no async, the controller's own Python) the same
``main()`` can run in the worker process: its arguments are handed over exactly as AnsiballZ
hands them (same internal ``_ansible_*`` keys, same serialization profile), its printed result is
parsed by the same code as a remote result, so the task result is the module's own, byte for byte.
Anywhere else the module runs as usual (``_execute_module``).

boto3, botocore and the module_utils are imported at the top of this file on purpose: the
strategy loads each action plugin's class in the ``ansible-playbook`` process before it forks the
worker, so the imports are paid once per run and every worker inherits them.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import json
import os
import sys

# Inherited by every worker fork (see the module docstring); a missing SDK is the module's to report.
try:
    import boto3  # noqa: F401 pylint: disable=unused-import
    import botocore  # noqa: F401 pylint: disable=unused-import
    import botocore.session  # noqa: F401 pylint: disable=unused-import
    from ansible_collections.amazon.aws.plugins.module_utils import modules as _aws_modules  # noqa: F401 pylint: disable=unused-import
    from ansible_collections.rotor.iam.plugins.module_utils import rotor_module as _rotor_module  # noqa: F401 pylint: disable=unused-import
except ImportError:
    pass

from ansible import constants as C
from ansible.module_utils import _internal as _module_internal
from ansible.module_utils import basic
from ansible.module_utils._internal import _errors
from ansible.module_utils._internal import _messages
from ansible.module_utils._internal import _traceback
from ansible.module_utils.common import warnings as _module_warnings
from ansible.module_utils.common.json import Direction
from ansible.module_utils.common.json import get_module_encoder
from ansible.module_utils.six import string_types
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.vars.clean import remove_internal_keys

try:
    from ansible.executor.module_common import _get_module_metadata
except ImportError:  # another ansible-core: every module without METADATA uses the legacy profile
    _get_module_metadata = None

display = Display()

_LOCAL_CONNECTIONS = ("local", "ansible.builtin.local", "ansible.legacy.local")
_PROFILES = {}


class InProcessModuleAction(ActionBase):
    """The action of a rotor.iam controller module: in the worker on the controller, else as usual."""

    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # no longer has any effect
        task_vars = task_vars or {}
        wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
        module_name = self._task.resolved_action or self._task.action
        if not wrap_async and self._runs_on_controller(task_vars):
            display.vvv("rotor.iam: running %s in the worker process (no AnsiballZ)" % module_name, host=self._play_context.remote_addr)
            result.update(self._run_in_process(module_name, self._task.args, task_vars))
        else:
            result.update(self._execute_module(module_name=module_name, module_args=self._task.args, task_vars=task_vars,
                                               wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return self.postprocess(result)

    def postprocess(self, result):
        """What a subclass adds to the module's result (pending_secret hides a secret)."""
        return result

    # ------------------------------------------------------------------ where

    def _runs_on_controller(self, task_vars):
        """Local connection, no become, and the Python that would run the module is this one."""
        connection = getattr(self._connection, "_load_name", None) or getattr(self._connection, "transport", None)
        if connection not in _LOCAL_CONNECTIONS and getattr(self._connection, "transport", None) != "local":
            return False
        if self._play_context.become:
            return False
        return self._interpreter_is_ours(task_vars)

    def _interpreter_is_ours(self, task_vars):
        host_vars = task_vars
        if self._task.delegate_to:
            host_vars = task_vars.get("ansible_delegated_vars", {}).get(self._task.delegate_to, task_vars)
        interpreter = host_vars.get("ansible_python_interpreter")
        if interpreter is None:
            # Interpreter discovery would pick a Python of its own: only the controller's is known to have boto3.
            interpreter = C.config.get_config_value("INTERPRETER_PYTHON", variables=host_vars)
        try:
            interpreter = self._templar.template(interpreter)
        except Exception:  # pylint: disable=broad-except
            return False
        if not isinstance(interpreter, string_types) or not interpreter:
            return False
        if interpreter.startswith("auto"):
            return False
        ours = {os.path.abspath(sys.executable)}
        playbook_python = task_vars.get("ansible_playbook_python")
        if isinstance(playbook_python, string_types):
            ours.add(os.path.abspath(playbook_python))
        return os.path.abspath(os.path.expanduser(interpreter)) in ours

    # ------------------------------------------------------------------ how

    def _run_in_process(self, module_name, module_args, task_vars):
        """What ``_execute_module`` returns, with the module's ``main()`` run in this process."""
        self._update_module_args(module_name, module_args, task_vars)
        context = self._shared_loader_obj.module_loader.find_plugin_with_context(module_name, collection_list=self._task.collections)
        if not context.resolved:
            return dict(failed=True, msg="The module %s was not found by the in-process runner of rotor.iam." % module_name)
        profile = _serialization_profile(context.plugin_resolved_path)
        encoder = get_module_encoder(profile, Direction.CONTROLLER_TO_MODULE)
        params = json.dumps(dict(ANSIBLE_MODULE_ARGS=module_args), cls=encoder).encode()
        environment = {}
        self._compute_environment_string(raw_environment_out=environment)
        module_fqn = _python_module_name(context.plugin_resolved_name)
        stdout, stderr, rc = run_module_main(module_fqn, params, profile, environment)
        data = self._parse_returned_data(dict(rc=rc, stdout=stdout, stderr=stderr, stdout_lines=stdout.splitlines(),
                                              stderr_lines=stderr.splitlines()), profile)
        return _clean_module_result(data)


def run_module_main(module_fqn, params, profile, environment=None):
    """Run ``main()`` of the Python module ``module_fqn`` as AnsiballZ would: ``(stdout, stderr, rc)``.

    ``params`` is the JSON document AnsiballZ hands over (``{"ANSIBLE_MODULE_ARGS": ...}``, bytes),
    ``profile`` its serialization profile, ``environment`` the task's ``environment``. Everything
    the run changes in this process (module_utils globals, environment, working directory) is put
    back afterwards.
    """
    stdout, stderr = io.StringIO(), io.StringIO()
    rc = 0
    with _module_runtime(params, profile, environment or {}), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            module = importlib.import_module(module_fqn)
            module.main()
            raise RuntimeError("New-style module did not handle its own exit.")
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception as exc:  # pylint: disable=broad-except
            # What AnsiballZ's loader prints for an exception that escaped the module.
            result = dict(
                failed=True,
                exception=_messages.ErrorSummary(
                    event=_errors.EventFactory.from_exception(exc, _traceback.is_traceback_enabled(_traceback.TracebackEvent.ERROR)),
                ),
            )
            print(json.dumps(result, cls=get_module_encoder(profile, Direction.MODULE_TO_CONTROLLER)))
            rc = 1
    return stdout.getvalue(), stderr.getvalue(), rc


@contextlib.contextmanager
def _module_runtime(params, profile, environment):
    """The process state a module sees on a target, restored on the way out."""
    saved = dict(
        args=basic._ANSIBLE_ARGS,
        profile=basic._ANSIBLE_PROFILE,
        parsed=basic._PARSED_MODULE_ARGS,
        is_controller=_module_internal.is_controller,
        traceback_enabled=_traceback._is_traceback_enabled,
        traceback_events=_traceback._module_tracebacks_enabled_events,
        warnings=dict(_module_warnings._global_warnings),
        deprecations=dict(_module_warnings._global_deprecations),
        environ=dict(os.environ),
        cwd=_cwd(),
    )
    basic._ANSIBLE_ARGS = params
    basic._ANSIBLE_PROFILE = profile
    basic._PARSED_MODULE_ARGS = None
    # Target-side behaviour: warnings and deprecations go into the result (not to the display),
    # tracebacks only as the task's _ansible_tracebacks_for asks.
    _module_internal.is_controller = False
    _traceback._is_traceback_enabled = _traceback._is_module_traceback_enabled
    _traceback._module_tracebacks_enabled_events = None
    _module_warnings._global_warnings.clear()
    _module_warnings._global_deprecations.clear()
    os.environ.update({str(k): str(v) for k, v in environment.items()})
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS = saved["args"]
        basic._ANSIBLE_PROFILE = saved["profile"]
        basic._PARSED_MODULE_ARGS = saved["parsed"]
        _module_internal.is_controller = saved["is_controller"]
        _traceback._is_traceback_enabled = saved["traceback_enabled"]
        _traceback._module_tracebacks_enabled_events = saved["traceback_events"]
        _module_warnings._global_warnings.clear()
        _module_warnings._global_warnings.update(saved["warnings"])
        _module_warnings._global_deprecations.clear()
        _module_warnings._global_deprecations.update(saved["deprecations"])
        os.environ.clear()
        os.environ.update(saved["environ"])
        if saved["cwd"] and _cwd() != saved["cwd"]:
            os.chdir(saved["cwd"])


def _cwd():
    try:
        return os.getcwd()
    except OSError:
        return None


def _clean_module_result(data):
    """The part of ``_execute_module`` that follows parsing, for a module run without a remote tmpdir."""
    data.pop("_ansible_suppress_tmpdir_delete", None)
    if "results" in data and (not isinstance(data["results"], (list, tuple)) or isinstance(data["results"], string_types)):
        data["ansible_module_results"] = data.pop("results")
        display.warning("Found internal 'results' key in module return, renamed to 'ansible_module_results'.")
    remove_internal_keys(data)
    for stream in ("stdout", "stderr"):
        if stream in data and "%s_lines" % stream not in data:
            data["%s_lines" % stream] = (data.get(stream) or "").splitlines()
    return data


def _python_module_name(resolved_name):
    """``rotor.iam.access_key_create`` -> ``ansible_collections.rotor.iam.plugins.modules.access_key_create`` (kept if already so)."""
    if resolved_name.startswith("ansible_collections."):
        return resolved_name
    parts = resolved_name.split(".")
    if len(parts) < 3 or parts[0] == "ansible":
        raise ValueError("rotor.iam runs only collection modules in process, not %s" % resolved_name)
    return "ansible_collections.%s.%s.plugins.modules.%s" % (parts[0], parts[1], ".".join(parts[2:]))


def _serialization_profile(path):
    """The module's serialization profile, read from its METADATA as AnsiballZ reads it (cached per file)."""
    if path not in _PROFILES:
        profile = "legacy"
        if _get_module_metadata is not None:
            with open(path, "rb") as handle:
                profile = _get_module_metadata(ast.parse(handle.read())).serialization_profile
        _PROFILES[path] = profile
    return _PROFILES[path]
