# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# The one filter of the rotation workflow's phase playbooks (rotor.iam.rotate_prepare, _distribute, _cutover, _settle,
# _rollback, _restore, _finish, _cleanup), documented in plugins/filter/workflow_todo.yml. Each step hands what the
# job's modules returned to a plain function of module_utils/_rotation/workflow.py and gives back the job's work lists.

from ansible_collections.rotor.iam.plugins.module_utils._rotation import workflow
from ansible_collections.rotor.iam.plugins.module_utils._rotation.fleet import fleet_users
from ansible_collections.rotor.iam.plugins.module_utils._rotation.fleet import lockable_users
from ansible_collections.rotor.iam.plugins.plugin_utils.filter_guard import filter_guard

STEPS = ("users", "fence", "plan", "prepared", "proofs", "reads", "hosts")


def _host_results(hostvars, hosts, registers):
    names = [registers] if isinstance(registers, str) else list(registers or [])
    return {host: [hostvars[host].get(name) for name in names] for host in list(hosts or [])}


def _loop(registered):
    """A registered loop's results (the register itself or its results)."""
    return list(registered.get("results") or []) if isinstance(registered, dict) else list(registered or [])


def _first(results):
    return {host: found[0] for host, found in results.items() if found and isinstance(found[0], dict)}


@filter_guard("workflow_todo", user_errors=workflow.WorkflowRunError, expects="registered results, the run id, the job and a step")
def workflow_todo(results, run_id, job, step="fence", hostvars=None, hosts=None, host_refs=None, registers=None, reads=None,
                  proofs=None, inventory_hosts=None, key_infos=None, max_age_days=None, force=False, creating=None, created=None, journaled=None,
                  verified=None, staged=None):
    """A workflow job's next work lists, from what its last step returned (see workflow_todo.yml for each step)."""
    job, step = str(job), str(step)
    if step not in STEPS:
        raise workflow.WorkflowRunError(f"step {step!r} is not one of {', '.join(STEPS)}")
    if step == "users":
        fleet = fleet_users(results, list(hosts or []), [], list(inventory_hosts or []))
        return dict(fleet, lockable=lockable_users(fleet))
    if step == "fence":
        check = workflow.fence(list(results or []), run_id, job)
        return dict(check, **workflow.job_todo(check))
    if step == "plan":
        return workflow.prepare_start(workflow.prepare_plans(list(results or []), list(key_infos or []), run_id, int(max_age_days), bool(force)))
    if step == "prepared":
        record = dict(results or {})
        for name, registered in (("creating", creating), ("created", created), ("journaled", journaled), ("verified", verified), ("staged", staged)):
            if registered is not None:
                record = workflow.prepare_step(record, name, _loop(registered))
        return record
    if step == "proofs":
        files = {host: hostvars[host].get("rotor_credentials_files") for host in list(hosts or [])}
        return workflow.settle_proofs(results, dict(host_refs or {}), list(hosts or []), files)
    if step == "reads":
        return workflow.slice_todo(results, dict(host_refs or {}), _first(_host_results(hostvars, hosts, registers)))
    return workflow.after_hosts(results, dict(host_refs or {}), _host_results(hostvars, hosts, registers),
                                None if reads is None else list(reads), None if proofs is None else [list(part or []) for part in proofs])


class FilterModule:
    def filters(self):
        return {"workflow_todo": workflow_todo}
