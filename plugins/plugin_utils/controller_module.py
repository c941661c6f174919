# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The action of a rotor.iam AWS module: its work done by the action plugin on the controller, a module run anywhere else.

A module run builds an AnsiballZ payload and starts a new Python that imports boto3, botocore and
amazon.aws before it makes one IAM call: one to two seconds per task. When the task runs on the
controller (connection ``local``, no become, no async, the controller's own Python), the action
plugin does the module's work itself with public APIs only: it validates the task's arguments with
``ArgumentSpecValidator`` against the module's own spec plus amazon.aws's connection options, builds
the boto3 clients through amazon.aws's public ``module_utils`` exactly as ``AnsibleAWSModule`` does,
and calls the module's own work function with a module-like object (:class:`ControllerModule`). The
result has the module's keys, and ``no_log`` values masked as ``AnsibleModule`` masks them.
Anywhere else the module runs as usual (``_execute_module``).

boto3, botocore and amazon.aws are imported at the top of this file on purpose: the strategy loads
each action plugin's class in the ``ansible-playbook`` process before it forks the worker, so the
imports are paid once per run and every worker inherits them.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import sys
import traceback

# Inherited by every worker fork (see the module docstring); without them the module runs and reports what is missing.
try:
    import boto3  # noqa: F401 pylint: disable=unused-import
    import botocore  # noqa: F401 pylint: disable=unused-import
    import botocore.session  # noqa: F401 pylint: disable=unused-import
    from ansible_collections.amazon.aws.plugins.module_utils.botocore import boto3_conn
    from ansible_collections.amazon.aws.plugins.module_utils.botocore import check_sdk_version_supported
    from ansible_collections.amazon.aws.plugins.module_utils.botocore import gather_sdk_versions
    from ansible_collections.amazon.aws.plugins.module_utils.botocore import get_aws_connection_info
    from ansible_collections.amazon.aws.plugins.module_utils.botocore import get_aws_region
    from ansible_collections.amazon.aws.plugins.module_utils.modules import aws_argument_spec
    from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
    from ansible_collections.rotor.iam.plugins.module_utils.rotor_module import normalize_connection_params
    HAS_AWS_SDK = True
except ImportError:
    HAS_AWS_SDK = False

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()

_LOCAL_CONNECTIONS = ("local", "ansible.builtin.local", "ansible.legacy.local")


class ModuleExit(BaseException):
    """Raised by :class:`ControllerModule` where a module would print its result and exit.

    A BaseException, as the SystemExit of a module run is: an ``except Exception`` in the work does not swallow it.
    """

    def __init__(self, result):
        super().__init__("module exit")
        self.result = result


class RunAsModule(Exception):
    """The task asks for something only a module run gives (botocore's endpoint log)."""


class ControllerModule:
    """What a rotor.iam module's work function uses of ``AnsibleAWSModule``, for a task run by its action plugin.

    ``spec`` is the module's ``module_spec()`` (``argument_spec`` and its constraints); amazon.aws's
    connection options are added to it as ``AnsibleAWSModule`` adds them.
    """

    def __init__(self, name, spec, args, check_mode=False, diff=False, inject_invocation=True):
        self._name = name
        self._inject_invocation = inject_invocation
        self.check_mode = bool(check_mode)
        self._diff = bool(diff)
        self._warnings = []
        spec = dict(spec)
        argument_spec = aws_argument_spec()
        argument_spec.update(spec.pop("argument_spec", {}))
        self.argument_spec = argument_spec
        self.params = plain(args or {})
        # Whatever the task gave for a no_log option stays masked, even when validation rejects it.
        self.no_log_values = no_log_values(argument_spec, self.params)
        validation = ArgumentSpecValidator(argument_spec, **spec).validate(self.params)
        self.params.update(validation.validated_parameters)
        self.no_log_values |= no_log_values(argument_spec, self.params)
        for option, alias in both_option_and_alias(argument_spec, args or {}):
            self.warn("Both option %s and its alias %s are set." % (option, alias))
        if validation.error_messages:
            message = validation.errors.msg
            if isinstance(validation.errors.errors[0], UnsupportedError):
                message = "Unsupported parameters for (%s) module: %s" % (name, message)
            self.fail_json(msg=message)
        if self.params.get("debug_botocore_endpoint_logs"):
            raise RunAsModule()
        normalize_connection_params(self.params)
        check_sdk_version_supported(warn=self.warn)

    # ------------------------------------------------------------------ AnsibleAWSModule's interface

    def client(self, service, retry_decorator=None, **extra_params):
        region, endpoint_url, connection = get_aws_connection_info(self)
        arguments = dict(region=region, endpoint=endpoint_url, **connection)
        arguments.update(extra_params)
        client = boto3_conn(self, conn_type="client", resource=service, **arguments)
        return client if retry_decorator is None else RetryingBotoClientWrapper(client, retry_decorator)

    @property
    def region(self):
        return get_aws_region(self)

    def warn(self, warning):
        if warning not in self._warnings:
            self._warnings.append(warning)

    def exit_json(self, **result):
        raise ModuleExit(self._finished(result))

    def fail_json(self, msg, **result):
        result.update(failed=True, msg=msg)
        raise ModuleExit(self._finished(result))

    def fail_json_aws(self, exception, msg=None, **result):
        """How amazon.aws reports an SDK error it could not connect through (``boto3_conn``)."""
        message = str(getattr(exception, "message", exception))
        failure = dict(msg="%s: %s" % (msg, message) if msg else message, exception=traceback.format_exc(), **gather_sdk_versions())
        failure.update(result)
        self.fail_json(**failure)

    def _finished(self, result):
        """The result as ``AnsibleModule`` returns it: invocation (as configured), warnings, no_log values masked."""
        if self._inject_invocation:
            result.setdefault("invocation", {"module_args": self.params})
        if self._warnings:
            result["warnings"] = list(self._warnings)
        return remove_values(plain(result), self.no_log_values)


class ControllerModuleAction(ActionBase):
    """The action of a rotor.iam AWS module; ``module`` is the module's Python module (``module_spec()``, ``execute(module)``)."""

    _supports_check_mode = True
    _supports_async = True
    module = None

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # no longer has any effect
        task_vars = task_vars or {}
        wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
        module_name = self._task.resolved_action or self._task.action
        done = None
        if not wrap_async and HAS_AWS_SDK and self._runs_on_controller(task_vars):
            done = self._run_on_controller(module_name, task_vars)
        if done is not None:
            display.vvv("rotor.iam: %s ran in the action plugin on the controller (no module run)" % module_name,
                        host=self._play_context.remote_addr)
            result.update(done)
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
        if not isinstance(interpreter, str) or not interpreter:
            return False
        if interpreter.startswith("auto"):
            return False
        ours = {python_identity(sys.executable)}
        playbook_python = task_vars.get("ansible_playbook_python")
        if isinstance(playbook_python, str):
            ours.add(python_identity(playbook_python))
        return python_identity(os.path.expanduser(interpreter)) in ours

    # ------------------------------------------------------------------ how

    def _run_on_controller(self, module_name, task_vars):
        """The module's result, its work done here; None when only a module run will do."""
        environment = {}
        self._compute_environment_string(raw_environment_out=environment)
        return run_work(self.module, module_name, self._task.args, environment, check_mode=self._task.check_mode,
                        diff=self._task.diff, inject_invocation=inject_invocation(task_vars))


def inject_invocation(task_vars):
    """Does a module result carry ``invocation``? Always before ansible-core 2.21; from 2.21 when INJECT_INVOCATION says so."""
    try:
        return bool(C.config.get_config_value("INJECT_INVOCATION", variables=task_vars))
    except AnsibleError:  # AnsibleUndefinedConfigEntry: an ansible-core without the setting
        return True


def run_work(module_code, name, args, environment, check_mode=False, diff=False, inject_invocation=True):  # pylint: disable=redefined-outer-name
    """Validate ``args`` and call ``module_code.execute`` with the task's environment in effect: the module's result.

    None when the task needs a module run (see :class:`RunAsModule`).
    """
    module = None
    with task_environment(environment):
        try:
            module = ControllerModule(name, module_code.module_spec(), args, check_mode=check_mode, diff=diff,
                                      inject_invocation=inject_invocation)
            module_code.execute(module)
            return dict(failed=True, msg="%s did not report a result; this is a bug of rotor.iam." % name)
        except ModuleExit as done:
            return done.result
        except RunAsModule:
            return None
        except Exception as exc:  # pylint: disable=broad-except
            # What a module run reports for an exception that escaped it, with the no_log values masked.
            hidden = module.no_log_values if module is not None else no_log_values(module_code.module_spec()["argument_spec"], args or {})
            return remove_values(dict(failed=True, msg="%s failed: %s: %s" % (name, type(exc).__name__, exc),
                                      exception=traceback.format_exc()), hidden)


def python_identity(path):
    """Which Python ``path`` runs: its real directory (a virtualenv's ``bin``, through symlinks to it) and real binary.

    Both count: every virtualenv's ``python`` resolves to the same base binary, but only one has our ``bin``.
    """
    path = os.path.abspath(path)
    return os.path.realpath(os.path.dirname(path)), os.path.realpath(path)


@contextlib.contextmanager
def task_environment(environment):
    """The task's ``environment:`` in ``os.environ`` (where botocore and the env fallbacks read it), restored afterwards."""
    saved = dict(os.environ)
    os.environ.update({str(k): str(v) for k, v in (environment or {}).items()})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def no_log_values(argument_spec, params):
    """Every value a ``no_log`` option holds in ``params`` (the leaves of lists and dicts, as strings), sub-options too."""
    found = set()
    for name, option in argument_spec.items():
        value = params.get(name) if isinstance(params, dict) else None
        if value is None:
            continue
        if option.get("no_log"):
            found.update(_leaves(value))
        suboptions = option.get("options")
        if suboptions:
            for element in value if isinstance(value, list) else [value]:
                if isinstance(element, dict):
                    found |= no_log_values(suboptions, element)
    return found


def _leaves(value):
    if isinstance(value, bool):
        return
    if isinstance(value, (str, int, float)):
        text = str(value)
        if text:
            yield text
    elif isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _leaves(item)


def both_option_and_alias(argument_spec, args):
    """(option, alias) for each option the task gives under its name and an alias."""
    for name, option in argument_spec.items():
        for alias in option.get("aliases") or ():
            if name in args and alias in args:
                yield name, alias


def plain(value):
    """``value`` as a module would see or return it: JSON's types only (tuples become lists, dates ISO strings)."""
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(value):
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
