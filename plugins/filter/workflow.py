# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# The filters of the rotation's phase playbooks (rotor.iam.rotate_prepare / _distribute / _finish); each is
# documented in plugins/filter/<name>.yml. The decisions are in module_utils/workflow_run.py.

from ansible.errors import AnsibleFilterError

from ansible_collections.rotor.iam.plugins.module_utils._rotation.workflow import WorkflowRunError
from ansible_collections.rotor.iam.plugins.module_utils._rotation.workflow import check_run
from ansible_collections.rotor.iam.plugins.module_utils._rotation.workflow import finish_plan
from ansible_collections.rotor.iam.plugins.module_utils._rotation.workflow import pending_key_errors
from ansible_collections.rotor.iam.plugins.module_utils._rotation.workflow import pending_keys
from ansible_collections.rotor.iam.plugins.module_utils._rotation.workflow import run_new_keys
from ansible_collections.rotor.iam.plugins.module_utils._rotation.workflow import slice_plan
from ansible_collections.rotor.iam.plugins.module_utils._rotation.workflow import slice_result
from ansible_collections.rotor.iam.plugins.module_utils._rotation.hosts import host_states
from ansible_collections.rotor.iam.plugins.module_utils._rotation.workflow import workflow_users


def _guard(name, func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except (WorkflowRunError, KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError(f"rotor.iam.{name}: malformed input ({exc})") from exc


def run_journals(journal_results, run_id, phases=("distributing",), require_lock=True, job="distribute"):
    """Which users a distribute or finish job acts for, from rotor.iam.rotation_journal state=read results."""
    phases = [phases] if isinstance(phases, str) else list(phases)
    return _guard("run_journals", check_run, journal_results, run_id, phases=tuple(phases), require_lock=bool(require_lock), job=str(job))


def run_slice_plan(check):
    """The plan of a distribute job: the run's users due, the others not."""
    return _guard("run_slice_plan", slice_plan, dict(check))


def run_pending_keys(check, reads):
    """The run's new keys, with their secrets, from rotor.iam.pending_secret state=read results."""
    return _guard("run_pending_keys", pending_keys, dict(check), reads)


def run_pending_key_errors(check, reads):
    """Why the pending secret of a user of the run cannot be used (no secret in the messages)."""
    return _guard("run_pending_key_errors", pending_key_errors, dict(check), reads)


def run_finish_plan(plans, check):
    """rotor.iam.rotation_plan's plan, restricted to the run's users; no key is made or replaced."""
    return _guard("run_finish_plan", finish_plan, plans, dict(check))


def run_new_key_ids(check):
    """The run's new key ids per user, as the journal names them (no secret)."""
    return _guard("run_new_key_ids", run_new_keys, dict(check))


def run_workflow_users(plans, new_keys=None, create_errors=None):
    """What a prepare job publishes per user: key ids, hosts, prepared or why not (no secret)."""
    return _guard("run_workflow_users", workflow_users, plans, new_keys or {}, create_errors or {})


def run_slice_result(check, hostvars, hosts, host_refs=None, check_mode=False):
    """What a distribute job did on its hosts (healthy on the new key, failed, untouched), for its artifacts;
    in check mode, what it would do (key ids and paths only)."""
    check, hosts = dict(check), list(hosts)

    def result():
        files = {host: [f.get("path") for f in hostvars[host].get("rotor_credentials_files") or []] for host in hosts}
        return slice_result(check, host_states(hostvars, hosts, dict(host_refs or {})), check.get("run_id"), bool(check_mode), files)

    return _guard("run_slice_result", result)


class FilterModule:
    def filters(self):
        return {
            "run_journals": run_journals,
            "run_slice_plan": run_slice_plan,
            "run_pending_keys": run_pending_keys,
            "run_pending_key_errors": run_pending_key_errors,
            "run_finish_plan": run_finish_plan,
            "run_new_key_ids": run_new_key_ids,
            "run_workflow_users": run_workflow_users,
            "run_slice_result": run_slice_result,
        }
