"""A user whose new key could not be made is rolled back once, while another user of the same run rolls back too (issue 22).

The create step undoes its own work (the key is deleted, the journal closed); the run record then never lists that user
for a second rollback, whatever else fails in the run. Real parts only: ``ansible-playbook rotor.iam.rotate`` against the
test IAM endpoint (IAM policies enforced) and local hosts whose consumers sign real STS calls.
"""

from __future__ import annotations

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from rotation_helpers import assert_hosts_on_key, key_statuses, seed_user, write_host_overrides  # noqa: E402  pylint: disable=wrong-import-position
from fleet.fleet import Fleet  # noqa: E402  pylint: disable=wrong-import-position
from test_controller_checks import ALLOW_ALL, final_message, identity, rotate  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.slow

DENIED, FAILING = "ef-denied", "ef-failing"


@pytest.fixture
def two_users(empty_endpoint, tmp_path):
    keys = {DENIED: seed_user(empty_endpoint, DENIED, 120), FAILING: seed_user(empty_endpoint, FAILING, 120)}
    fleet = Fleet(str(tmp_path / "fleet"), 4, mode="local", endpoint_url=empty_endpoint.endpoint_url, region=empty_endpoint.region,
                  users={"host1": DENIED, "host2": DENIED, "host3": FAILING, "host4": FAILING}, initial_keys=keys)
    fleet.start()
    fleet.write_inventory()
    yield fleet, {user: key_id for user, (key_id, _secret) in keys.items()}
    fleet.stop()


def test_a_denied_create_and_a_failing_host_each_end_with_their_own_message_and_no_refused_journal_write(empty_endpoint, two_users, tmp_path):
    fleet, old = two_users
    account = empty_endpoint.boto3_client("sts").get_caller_identity()["Account"]
    limited = identity(empty_endpoint, "ef-no-create", ALLOW_ALL,
                       {"Effect": "Deny", "Action": "iam:CreateAccessKey", "Resource": f"arn:aws:iam::{account}:user/{DENIED}"})
    # host4's application works only on its old key: it fails on the new one and is healthy again once restored.
    only_old = f"grep -q {old[FAILING]} {fleet.credentials_file('host4')}"
    failing_check = write_host_overrides(tmp_path / "failing.yml", {"host4": {"rotor_health_check": {"command": only_old}}})

    run = rotate(empty_endpoint, fleet, tmp_path, "two-failures", inventories=[failing_check], env_extra=limited)

    assert run.returncode != 0, run.explain()
    message = final_message(run.stdout)
    assert message.startswith(f"Rotation of {DENIED}, {FAILING} rolled back: no new key could be made (Access denied for "
                              f"iam:CreateAccessKey on IAM user '{DENIED}'"), message
    assert "so no host was touched" in message and "host host4 failed" in message, message
    assert "IllegalTransition" not in run.stdout and "Refused to record" not in run.stdout, run.explain()
    assert key_statuses(empty_endpoint, DENIED) == {old[DENIED]: "Active"}
    assert key_statuses(empty_endpoint, FAILING) == {old[FAILING]: "Active"}  # its new key deleted once every host was put back
    assert_hosts_on_key(fleet, old[DENIED], ["host1", "host2"])
    assert_hosts_on_key(fleet, old[FAILING], ["host3", "host4"])
    for user in (DENIED, FAILING):
        tags = {t["Key"]: t["Value"] for t in empty_endpoint.boto3_client("iam").list_user_tags(UserName=user)["Tags"]}
        assert not any(tag.startswith("rotor:lock") for tag in tags), tags
        assert tags.get("rotor:phase") in (None, "rolled_back"), tags
