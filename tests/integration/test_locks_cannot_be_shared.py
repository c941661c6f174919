"""Issue 20, point 3: a live lock is never shared, with real ansible-playbook runs against the test endpoint.

- A second controller that shares the machine id, the boot and the host name but runs in its own pid namespace
  (a container beside another, a cloned VM) never takes over the first one's live lock. Before, the machine id
  alone made it "this controller", the first run's pid was no ansible-playbook in its namespace, so the lock
  counted as dead and two runs held one user.
- A run id with a newline is refused before anything is written. Before, the tag kept it as "run_1", the run never
  recognised its own lock and left it behind for an hour.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time

import pytest

from conftest import PLAYBOOK_TIMEOUT
from rotation_helpers import key_statuses, run_rotation, seed_user
from support import run_playbook, spawn_playbook

pytest.importorskip("boto3")

HOLD_PLAYBOOK = """\
---
- name: Take the rotation lock of one user and hold it
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
        lock_ttl_minutes: 30
        settle_seconds: 0.2
      register: lock
      ignore_errors: true

    - name: Save the result for the test
      ansible.builtin.copy:
        content: "{{ lock | to_json }}"
        dest: "{{ result_file }}"
        mode: "0600"

    - name: Hold the lock for a while (a live run)
      ansible.builtin.pause:
        seconds: "{{ hold_seconds }}"
"""


def hold_options(tmp_path, endpoint, label, **variables):
    """Options of support.spawn_playbook/run_playbook for the hold playbook."""
    playbook = tmp_path / "hold.yml"
    playbook.write_text(HOLD_PLAYBOOK)
    return {"playbook": playbook, "workdir": tmp_path, "endpoint": endpoint, "endpoint_in_env": False, "inventories": ["localhost,"],
            "label": label, "combined": True, "log": False, "timeout": PLAYBOOK_TIMEOUT,
            "extra_vars": dict(variables, endpoint_url=endpoint.endpoint_url, result_file=str(tmp_path / f"{label}.json"))}


def lock_tags(iam, user_name):
    return {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=user_name)["Tags"] if t["Key"].startswith("rotor:lock-")}


@pytest.mark.skipif(not shutil.which("unshare"), reason="needs unshare(1) for a second pid namespace")
def test_a_controller_in_another_pid_namespace_with_the_same_machine_id_never_takes_a_live_lock(endpoint, iam, iam_user, tmp_path):
    first = spawn_playbook(wrap=["unshare", "--pid", "--fork", "--mount-proc"], reset_calls=False,
                           **hold_options(tmp_path, endpoint, "first", user_name=iam_user, run_id="run-in-a-container", hold_seconds=90))
    try:
        deadline = time.monotonic() + PLAYBOOK_TIMEOUT
        while not (tmp_path / "first.json").exists():
            assert first.running() and time.monotonic() < deadline, first.stdout_path.read_text()[-3000:]
            time.sleep(0.2)
        held = lock_tags(iam, iam_user)
        assert held["rotor:lock-run"] == "run-in-a-container", first.stdout_path.read_text()[-3000:]
        with open("/etc/machine-id", encoding="ascii") as handle:
            assert handle.read().strip() in held["rotor:lock-machine"]  # the same machine (and boot)

        second = run_playbook(reset_calls=False, **hold_options(tmp_path, endpoint, "second", user_name=iam_user, run_id="run-beside-it",
                                                                hold_seconds=0))
        result = json.loads((tmp_path / "second.json").read_text())
        assert result.get("failed") and "locked by another rotation, run run-in-a-container" in result["msg"], second.stdout[-3000:]
        assert lock_tags(iam, iam_user)["rotor:lock-run"] == "run-in-a-container"
        assert first.running(), "the first run must still be alive: its lock was live"
    finally:
        first.kill()
        first.wait(10)


def test_a_run_id_with_a_newline_is_refused_and_leaves_no_lock(endpoint, iam, tmp_path):
    user = "runid-app"
    endpoint.reset()
    old_id, _secret = seed_user(endpoint, user, 120)
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        "all:\n  hosts:\n    app1:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n      rotor_iam_user: {user}\n"
        f"      rotor_credentials_files: [{{path: {tmp_path / 'credentials'}}}]\n")
    (tmp_path / "credentials").write_text(f"[default]\naws_access_key_id = {old_id}\naws_secret_access_key = {_secret}\n")
    os.chmod(tmp_path / "credentials", 0o600)

    run = run_rotation(endpoint, [inventory], tmp_path / "runs", extra_vars={"rotor_run_id": "nightly\n42", "rotor_lock_settle_seconds": 0.2})

    assert run.returncode != 0, run.explain()
    assert "not a valid run id" in run.stdout and "not printable" in run.stdout, run.explain()
    tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=user)["Tags"]}
    assert not [name for name in tags if name.startswith("rotor:")], tags
    assert key_statuses(endpoint, user) == {old_id: "Active"}
    assert endpoint.calls()["calls"].get("TagUser", 0) == 0


def test_two_jobs_given_the_same_run_id_cannot_both_hold_a_user(endpoint, iam, tmp_path):
    """Issue 23: a run id names one job of rotor.iam.rotate. A second job given the same rotor_run_id while the first
    (a live ansible-playbook) holds the user is refused, naming the other job, and changes nothing; before, the lock
    took the run id alone for its holder and both jobs rotated the user."""
    user = "same-run-app"
    endpoint.reset()
    old_id, secret = seed_user(endpoint, user, 120)
    first = spawn_playbook(reset_calls=False, **hold_options(tmp_path, endpoint, "first", user_name=user, run_id="nightly-42", hold_seconds=120))
    try:
        deadline = time.monotonic() + PLAYBOOK_TIMEOUT
        while not (tmp_path / "first.json").exists():
            assert first.running() and time.monotonic() < deadline, first.stdout_path.read_text()[-3000:]
            time.sleep(0.2)
        assert lock_tags(iam, user)["rotor:lock-run"] == "nightly-42"
        credentials = tmp_path / "credentials"
        credentials.write_text(f"[default]\naws_access_key_id = {old_id}\naws_secret_access_key = {secret}\n")
        os.chmod(credentials, 0o600)
        before = credentials.read_bytes()
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(
            "all:\n  hosts:\n    app1:\n      ansible_connection: local\n"
            f"      ansible_python_interpreter: {sys.executable}\n      rotor_iam_user: {user}\n"
            f"      rotor_credentials_files: [{{path: {credentials}}}]\n")

        second = run_rotation(endpoint, [inventory], tmp_path / "runs", extra_vars={"rotor_run_id": "nightly-42", "rotor_lock_settle_seconds": 0.2})

        assert second.returncode != 0, second.explain()
        assert "held by another job of this run id, nightly-42" in second.stdout, second.explain()
        assert "two jobs cannot share a run id" in second.stdout, second.explain()
        assert secret not in second.everything
        assert key_statuses(endpoint, user) == {old_id: "Active"}  # no key made
        assert credentials.read_bytes() == before
        assert lock_tags(iam, user)["rotor:lock-run"] == "nightly-42" and first.running()
    finally:
        first.kill()
        first.wait(10)
