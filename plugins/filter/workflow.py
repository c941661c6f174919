# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# The filters of the rotation workflow's phase playbooks (rotor.iam.rotate_prepare, _distribute, _cutover, _settle,
# _rollback, _restore, _finish, _cleanup); each is documented in plugins/filter/<name>.yml. The decisions are
# plain functions of module_utils/_rotation/workflow.py.

from ansible_collections.rotor.iam.plugins.module_utils._rotation import workflow
from ansible_collections.rotor.iam.plugins.plugin_utils.filter_guard import filter_guard


def _host_results(hostvars, hosts, register):
    return {host: hostvars[host].get(register) for host in hosts if isinstance(hostvars[host].get(register), dict)}


@filter_guard("workflow_fence", user_errors=workflow.WorkflowRunError, expects="rotor.iam.workflow_journal read results, a run id and a job")
def workflow_fence(reads, run_id, job):
    """Which users job ``job`` of run ``run_id`` acts for, from rotor.iam.workflow_journal state=read results."""
    return workflow.fence(list(reads or []), run_id, str(job))


@filter_guard("workflow_plan", user_errors=workflow.WorkflowRunError, expects="lock results, access_key_info results, a run id, an age")
def workflow_plan(locks, key_infos, run_id, max_age_days, force=False):
    """The prepare job's plan, from IAM and the journal only."""
    return workflow.prepare_plans(list(locks or []), list(key_infos or []), run_id, int(max_age_days), bool(force))


@filter_guard("workflow_prepared", expects="a plan and the registered create, journal, verify and stage loops")
def workflow_prepared(plans, created=None, journaled=None, verified=None, staged=None):
    """Which due users the prepare job prepared, which failed and at which step."""
    return workflow.prepare_outcome(dict(plans or {}), created, journaled, verified, staged)


@filter_guard("workflow_todo", user_errors=workflow.WorkflowRunError, expects="a workflow_fence result")
def workflow_todo(check, hostvars=None, hosts=None, host_refs=None, register=None):
    """A job's work from its fence: a once-per-run job's users, or a sliced job's hosts (from the read it registered)."""
    job = check["job"]
    if job == "cutover":
        return workflow.cutover_todo(check)
    if job == "rollback":
        return workflow.rollback_todo(check)
    if job == "finish":
        return workflow.finish_todo(check)
    return workflow.slice_todo(check, dict(host_refs or {}), _host_results(hostvars, list(hosts or []), str(register)))


@filter_guard("workflow_failures", expects="a workflow_fence result, hostvars, the job's hosts, host_refs and a register name")
def workflow_failures(check, hostvars, hosts, host_refs, register):
    """The users whose hosts failed a host step of a sliced job: {user: [host: why]}; ``register`` one name or a list."""
    names = [register] if isinstance(register, str) else list(register)
    results = {host: [hostvars[host].get(name) for name in names] for host in list(hosts or [])}
    return workflow.slice_failures(check, dict(host_refs or {}), results)


class FilterModule:
    def filters(self):
        return {
            "workflow_fence": workflow_fence,
            "workflow_plan": workflow_plan,
            "workflow_prepared": workflow_prepared,
            "workflow_todo": workflow_todo,
            "workflow_failures": workflow_failures,
        }
