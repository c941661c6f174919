"""A workflow's lock outlives the job that took it (rotor.iam.rotation_journal detached=true), with real
ansible-playbook runs against the test IAM endpoint.

The AWX workflow's prepare job locks each user for the run id and exits; the distribute and finish jobs of the
same run id work under that lock. A lock that records prepare's process would be taken over by the next run on
the same machine as soon as prepare exits. Each test runs one ansible-playbook that takes the lock and exits, then
a second one, on the same machine, for another run id.
"""

from __future__ import annotations

import json

from conftest import PLAYBOOK_TIMEOUT
from support import assert_no_secrets, run_playbook, saved_secrets

# Takes the lock of user_name for run_id and saves the task's result (it holds no secret) as result_file.
LOCK_PLAYBOOK = """\
---
- name: Take the rotation lock of one user
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/rotor.iam.iam:
      endpoint_url: "{{ endpoint_url }}"
  tasks:
    - name: Lock the user for the run
      rotor.iam.rotation_journal:
        user_name: "{{ user_name }}"
        state: locked
        run_id: "{{ run_id }}"
        owner: "{{ run_id }} owner"
        detached: "{{ detached }}"
        lock_ttl_minutes: 30
        settle_seconds: 0.2
      register: lock
      ignore_errors: true

    - name: Save the result for the test
      ansible.builtin.copy:
        content: "{{ lock | to_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
"""


def take_lock(endpoint, tmp_path, user_name, run_id, detached, label):
    """Run the lock playbook to its end (its ansible-playbook process is gone afterwards): (PlaybookResult, result)."""
    (tmp_path / "secrets").mkdir(mode=0o700, exist_ok=True)
    playbook = tmp_path / "lock.yml"
    playbook.write_text(LOCK_PLAYBOOK)
    result_file = tmp_path / f"{label}.json"
    run = run_playbook(playbook, tmp_path, endpoint=endpoint, endpoint_in_env=False, inventories=["localhost,"], label=label,
                       extra_vars={"endpoint_url": endpoint.endpoint_url, "user_name": user_name, "run_id": run_id, "detached": detached,
                                   "result_file": str(result_file)}, combined=True, log=False, timeout=PLAYBOOK_TIMEOUT)
    assert_no_secrets(run, dict(saved_secrets(tmp_path / "secrets"), admin=endpoint.admin_secret_access_key))
    assert run.returncode == 0, run.explain()
    return run, json.loads(result_file.read_text())


def lock_tags(iam, user_name):
    return {tag["Key"]: tag["Value"] for tag in iam.list_user_tags(UserName=user_name)["Tags"] if tag["Key"].startswith("rotor:lock-")}


def test_a_detached_lock_is_not_taken_over_once_the_job_that_took_it_has_exited(endpoint, iam, iam_user, tmp_path):
    prepare, taken = take_lock(endpoint, tmp_path, iam_user, "wf-1", True, "prepare")
    assert not taken.get("failed") and taken["changed"], prepare.explain()
    tags = lock_tags(iam, iam_user)
    assert tags["rotor:lock-run"] == "wf-1" and tags.get("rotor:lock-pid", "") == "" and tags.get("rotor:lock-started", "") == ""
    assert tags["rotor:lock-machine"] and tags["rotor:lock-expires"]

    other, refused = take_lock(endpoint, tmp_path, iam_user, "other", False, "other")

    assert refused.get("failed") and refused["error_code"] == "RotationLocked", other.explain()
    assert "run wf-1 (wf-1 owner)" in refused["msg"] and "no process recorded" in refused["msg"], refused["msg"]
    assert "pid ?" not in refused["msg"]
    assert lock_tags(iam, iam_user) == tags


def test_without_detached_the_next_run_on_this_machine_takes_the_lock_over(endpoint, iam, iam_user, tmp_path):
    first, taken = take_lock(endpoint, tmp_path, iam_user, "wf-1", False, "first")
    assert not taken.get("failed"), first.explain()
    pid = lock_tags(iam, iam_user)["rotor:lock-pid"]
    assert pid.isdigit() and lock_tags(iam, iam_user)["rotor:lock-started"]

    other, took = take_lock(endpoint, tmp_path, iam_user, "other", False, "other")

    assert not took.get("failed"), other.explain()
    assert f"ansible-playbook process {pid} on this controller is gone" in took["lock_note"], took["lock_note"]
    after = lock_tags(iam, iam_user)
    assert after["rotor:lock-run"] == "other" and after["rotor:lock-pid"].isdigit() and after["rotor:lock-pid"] != pid
