"""The shared ``iam_user`` and ``lock`` options of the controller modules, through ansible-playbook and the endpoint."""

from __future__ import annotations


def test_a_user_and_a_lock_are_one_value_each(iam, iam_user, create_key, run_playbook, key_statuses):
    old_key_id = create_key(iam_user)[0]

    run = run_playbook("user_target", user_name=iam_user, old_key_id=old_key_id)

    assert run.returncode == 0, run.explain()
    statuses = key_statuses(iam_user)
    assert old_key_id not in statuses
    assert list(statuses.values()) == ["Active"]
    # The rival lock and the refused option pairs changed nothing beyond the run's own steps.
    assert run.calls.get("CreateAccessKey") == 1
    assert run.calls.get("DeleteAccessKey") == 1
    # Released by the lock value: no lock tag left, the phase it recorded kept.
    tags = {tag["Key"]: tag["Value"] for tag in iam.list_user_tags(UserName=iam_user)["Tags"]}
    assert "rotor:lock-run" not in tags
    assert tags.get("rotor:phase") == "creating"
