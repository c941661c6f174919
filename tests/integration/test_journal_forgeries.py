"""Issue 20, point 2: the journal cannot be used as a weapon. The three forgeries of the red-team review, each
written with nothing but TagUser (boto3 tag_user, as someone with only iam:TagUser would), then a scheduled run of
ansible-playbook rotor.iam.rotate against the test endpoint and a local fleet.

Before the fix: the first made the run reactivate a key the security team had disabled; the second got someone's
unused key deleted as a "lost pending key"; the third got a key made two hours ago by someone else deleted as the
orphan of a run "stuck in creating" for three days. Now IAM is the truth and an unsealed journal is advice.
"""

from __future__ import annotations

import datetime
import json
import threading
import time

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from conftest import PLAYBOOK_TIMEOUT  # noqa: E402  pylint: disable=wrong-import-position
from support import run_playbook  # noqa: E402  pylint: disable=wrong-import-position
from rotation_helpers import assert_hosts_on_key, key_statuses  # noqa: E402  pylint: disable=wrong-import-position
from test_fault_matrix import USER, case, matrix_endpoint  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

pytestmark = pytest.mark.slow


def forge(endpoint, **tags):
    """Write rotor: tags as someone with iam:TagUser only."""
    endpoint.boto3_client("iam").tag_user(UserName=USER, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


def ago(**delta):
    return (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(**delta)).replace(microsecond=0)


def run_id_of(moment):
    return moment.strftime("%Y%m%dT%H%M%SZ") + "-4242"


class StatusWatch:
    """Records every status a key has while a run goes on."""

    def __init__(self, endpoint, key_id):
        self.endpoint, self.key_id, self.seen = endpoint, key_id, []  # type: ignore[var-annotated]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)

    def watch(self):
        while not self.stop.is_set():
            self.seen.append(key_statuses(self.endpoint, USER).get(self.key_id, "deleted"))
            time.sleep(0.1)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)


def test_a_forged_rollback_never_reactivates_the_key_the_security_team_disabled(case):
    """phase=rolling_back, previous= the disabled key, inactive-since set, hosts still on it: before, the run took
    the journal's word that rotor had deactivated it and turned it back on. Now it moves the hosts onto a new key."""
    current = case()
    current.endpoint.boto3_client("iam").update_access_key(UserName=USER, AccessKeyId=current.old_id, Status="Inactive")
    began = ago(hours=1)
    forge(current.endpoint, **{"rotor:phase": "rolling_back", "rotor:current": current.old_id, "rotor:previous": current.old_id,
                               "rotor:inactive-since": began.isoformat(), "rotor:run": run_id_of(began), "rotor:updated": began.isoformat()})
    with StatusWatch(current.endpoint, current.old_id) as watch:
        run = current.run()
    assert "Active" not in watch.seen, "the disabled key was reactivated on the journal's word"
    assert "is not sealed by rotor" in run.stdout and "never reactivated" in run.stdout, run.explain()
    keys = key_statuses(current.endpoint, USER)
    assert keys.get(current.old_id) in (None, "Inactive"), keys
    new_ids = [k for k, status in keys.items() if k != current.old_id and status == "Active"]
    assert len(new_ids) == 1, keys
    assert_hosts_on_key(current.fleet, new_ids[0])


def test_a_forged_pending_key_naming_someone_elses_unused_key_is_not_deleted(case):
    """phase=distributing, pending= an unused key someone made for a deployment to come: before, "no host holds it,
    never used, made after the run started" got it deleted as the run's lost key. It is not rotor's: IAM dates it
    outside any creation window rotor recorded."""
    current = case()
    victim = current.endpoint.boto3_client("iam").create_access_key(UserName=USER)["AccessKey"]["AccessKeyId"]
    current.endpoint.backdate(USER, victim, 20 / 1440)  # made 20 minutes ago, not used yet
    began = ago(hours=1)
    forge(current.endpoint, **{"rotor:phase": "distributing", "rotor:current": current.old_id, "rotor:pending": victim,
                               "rotor:run": run_id_of(began), "rotor:updated": began.isoformat()})
    run = current.run()
    assert victim in key_statuses(current.endpoint, USER), "someone's key was deleted on the journal's word: " + run.explain()
    assert run.returncode != 0 and "creation window" in run.stdout, run.explain()
    assert key_statuses(current.endpoint, USER)[current.old_id] == "Active"
    assert_hosts_on_key(current.fleet, current.old_id)


def test_a_journal_stuck_in_creating_for_days_never_claims_a_key_made_hours_ago(case):
    """phase=creating written three days ago: before, any key made after the dead run began (here two hours ago, by
    someone else) counted as its orphan and was deleted, bypassing rotor_in_use_window_minutes. Now a key is the
    orphan only inside the creation window the run recorded around its CreateAccessKey."""
    current = case()
    current.extra_vars["rotor_in_use_window_minutes"] = 240
    victim = current.endpoint.boto3_client("iam").create_access_key(UserName=USER)["AccessKey"]["AccessKeyId"]
    current.endpoint.backdate(USER, victim, 2 / 24)
    began = ago(days=3)
    forge(current.endpoint, **{"rotor:phase": "creating", "rotor:current": current.old_id,
                               "rotor:run": run_id_of(began), "rotor:updated": began.isoformat()})
    run = current.run()
    assert victim in key_statuses(current.endpoint, USER), "a key made by someone else was deleted as an orphan: " + run.explain()
    assert f"key {victim} is not taken for a key run" in run.stdout, run.explain()
    assert key_statuses(current.endpoint, USER)[current.old_id] == "Active"


SEAL_PLAYBOOK = """\
---
- name: Write and read a sealed journal
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/rotor.iam.iam:
      endpoint_url: "{{ endpoint_url }}"
  tasks:
    - name: Record a cutover as a run does (the seal key comes from ROTOR_JOURNAL_SEAL_KEY)
      rotor.iam.rotation_journal:
        user_name: "{{ user_name }}"
        state: locked
        run_id: 20261206T120000Z-7
        settle_seconds: 0.2
        phase: "{{ item.phase }}"
        current_key_id: "{{ item.current }}"
        previous_key_id: "{{ item.previous | default(omit) }}"
        pending_key_id: "{{ item.pending | default(omit) }}"
        inactive_since: "{{ item.since | default(omit) }}"
      loop:
        - {phase: creating, current: "{{ old_id }}"}
        - {phase: distributing, current: "{{ old_id }}", pending: "{{ new_id }}"}
        - {phase: cutover, current: "{{ new_id }}", previous: "{{ old_id }}", since: now}

    - name: Read it back
      rotor.iam.rotation_journal:
        user_name: "{{ user_name }}"
      register: journal

    - name: Save the result for the test
      ansible.builtin.copy:
        content: "{{ journal.journal | to_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
"""


def test_a_journal_written_with_the_seal_key_verifies_and_a_hand_edit_breaks_it(endpoint, iam, iam_user, tmp_path):
    """Through ansible-playbook with ROTOR_JOURNAL_SEAL_KEY: rotor's own writes are sealed, carry the creation window,
    and one edited tag (someone with iam:TagUser) makes the record unsealed; without the key nothing is believed."""
    old_id = iam.create_access_key(UserName=iam_user)["AccessKey"]["AccessKeyId"]
    new_id = iam.create_access_key(UserName=iam_user)["AccessKey"]["AccessKeyId"]
    (tmp_path / "seal.yml").write_text(SEAL_PLAYBOOK)

    def run(label, seal_key):
        completed = run_playbook(tmp_path / "seal.yml", tmp_path, endpoint=endpoint, endpoint_in_env=False, inventories=["localhost,"],
                                 label=label, verbosity=3, log=False, timeout=PLAYBOOK_TIMEOUT, reset_calls=False,
                                 extra_vars={"endpoint_url": endpoint.endpoint_url, "user_name": iam_user, "old_id": old_id, "new_id": new_id,
                                             "result_file": str(tmp_path / f"{label}.json")},
                                 env_extra={"ROTOR_JOURNAL_SEAL_KEY": seal_key} if seal_key else {})
        assert completed.returncode == 0, completed.stdout[-3000:]
        assert seal_key is None or seal_key not in completed.stdout + completed.stderr
        return json.loads((tmp_path / f"{label}.json").read_text())

    journal = run("sealed", "the-fleet-seal-key-0123456789")
    tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=iam_user)["Tags"]}
    assert journal["sealed"] is True and tags["rotor:seal"].startswith("v1.")
    assert journal["created_after"] and journal["created_before"] and journal["created_after"] <= journal["created_before"]
    assert journal["previous_key_id"] == old_id and journal["inactive_since"]

    iam.tag_user(UserName=iam_user, Tags=[{"Key": "rotor:inactive-since", "Value": "2020-01-01T00:00:00+00:00"}])
    assert run_read(endpoint, iam_user, tmp_path, "the-fleet-seal-key-0123456789")["sealed"] is False
    assert run_read(endpoint, iam_user, tmp_path, None)["sealed"] is False


READ_PLAYBOOK = """\
---
- name: Read a journal
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Read it
      rotor.iam.rotation_journal:
        user_name: "{{ user_name }}"
        endpoint_url: "{{ endpoint_url }}"
      register: journal

    - name: Save the result for the test
      ansible.builtin.copy:
        content: "{{ journal.journal | to_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
"""


def run_read(endpoint, user_name, tmp_path, seal_key):
    (tmp_path / "read.yml").write_text(READ_PLAYBOOK)
    result_file = tmp_path / "read.json"
    completed = run_playbook(tmp_path / "read.yml", tmp_path, endpoint=endpoint, endpoint_in_env=False, inventories=["localhost,"], label="read",
                             extra_vars={"endpoint_url": endpoint.endpoint_url, "user_name": user_name, "result_file": str(result_file)},
                             env_extra={"ROTOR_JOURNAL_SEAL_KEY": seal_key} if seal_key else {}, log=False, timeout=PLAYBOOK_TIMEOUT,
                             reset_calls=False)
    assert completed.returncode == 0, completed.stdout[-3000:]
    return json.loads(result_file.read_text())
