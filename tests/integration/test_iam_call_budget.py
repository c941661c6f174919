"""IAM calls per rotated user: at most 11 on the happy path (10, and the quiet-key gate's GetAccessKeyLastUsed) (STS proofs apart), the same for any fleet size.

Real parts only: ``ansible-playbook rotor.iam.rotate`` against the test IAM endpoint (moto, authentication
enforced), a fleet of local hosts whose consumers sign real STS calls. The endpoint counts every call it
serves; STS (``GetCallerIdentity``: the proofs and the consumers' health) is left out of the IAM count.

The 10 calls (docs/journal.md, "IAM calls per operation"): ListUserTags, TagUser (lock), ListUserTags (read
back after the settle wait), ListAccessKeys (the plan), TagUser (creating, under the lease), CreateAccessKey,
TagUser (distributing, under the lease), UpdateAccessKey (Inactive), DeleteAccessKey, UntagUser (completion
and release: every rotor: tag). Besides them, once per run and AWS connection: SimulatePrincipalPolicy (the plan
checks the caller's own permissions).
"""

from __future__ import annotations

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from rotation_helpers import assert_hosts_on_key, key_statuses, run_rotation  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.slow

BUDGET = 11  # the 10 of a rotation and the quiet-key gate's GetAccessKeyLastUsed
# What one happy-path rotation of one user costs, call by call.
EXPECTED = {
    "ListUserTags": 2,
    "TagUser": 3,
    "UntagUser": 1,
    "ListAccessKeys": 1,
    "CreateAccessKey": 1,
    "UpdateAccessKey": 1,
    "DeleteAccessKey": 1,
    "GetAccessKeyLastUsed": 1,  # the quiet-key gate
}
NOT_IAM = ("GetCallerIdentity", "AssumeRole")
# Once per run and AWS connection, whatever the number of users: the plan checks the caller's own permissions.
PER_RUN = {"SimulatePrincipalPolicy": 1}


def iam_calls(calls):
    per_run = {action: calls.get(action, 0) for action in PER_RUN}
    assert per_run == PER_RUN, f"once per run: {per_run}"
    return {action: count for action, count in calls.items() if action not in NOT_IAM and action not in PER_RUN and count}


@pytest.fixture
def rotate_fleet(empty_endpoint, fleets, tmp_path):

    def rotate(user, size, batch_size="100%"):
        fleet, old_id, _old_secret = fleets.seeded(user, size, 120)
        run = run_rotation(empty_endpoint, [fleet.inventory_path], tmp_path / f"{user}-runs", label=user,
                           extra_vars={"rotor_batch_size": batch_size, "rotor_lock_settle_seconds": 0.5})
        assert run.returncode == 0, run.explain()
        keys = key_statuses(empty_endpoint, user)
        assert old_id not in keys and list(keys.values()) == ["Active"], keys
        assert_hosts_on_key(fleet, next(iter(keys)))
        tags = {t["Key"] for t in empty_endpoint.boto3_client("iam").list_user_tags(UserName=user)["Tags"]}
        assert not {t for t in tags if t.startswith("rotor:")}, f"completion leaves no journal and no lock: {tags}"
        return iam_calls(run.calls)

    return rotate


def test_one_user_three_hosts_costs_ten_iam_calls(rotate_fleet):
    calls = rotate_fleet("budget-three", 3)
    assert sum(calls.values()) <= BUDGET, f"{sum(calls.values())} IAM calls for one rotated user: {calls}"
    assert calls == EXPECTED, calls


def test_more_hosts_and_batches_cost_the_same(rotate_fleet):
    """Six hosts in three batches of two: not one IAM call more (the lease needs no renewal in a short run)."""
    calls = rotate_fleet("budget-batched", 6, batch_size=2)
    assert sum(calls.values()) <= BUDGET, f"{sum(calls.values())} IAM calls for one rotated user: {calls}"
    assert calls == EXPECTED, calls
