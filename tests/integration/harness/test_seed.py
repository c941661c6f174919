"""The endpoint's bulk seed route and tests/iam_endpoint/seed.py: what is seeded is what IAM shows."""

import datetime
import os
import sys

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

TESTS_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, TESTS_DIR)

from iam_endpoint.control import EndpointError, IAMEndpoint  # noqa: E402  pylint: disable=wrong-import-position
from iam_endpoint.seed import seed_account  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    with IAMEndpoint().start(workdir=str(tmp_path_factory.mktemp("seed-iam"))) as started:
        yield started


def test_seeded_account_is_what_iam_lists(endpoint):
    endpoint.reset()
    account = seed_account(endpoint, users=60, prefix="s", rng_seed=7)
    iam = endpoint.boto3_client("iam")
    now = datetime.datetime.now(datetime.timezone.utc)

    names = {u["UserName"] for u in iam.get_paginator("list_users").paginate().build_full_result()["Users"]}
    assert names == set(account.users) | {"rotor-admin"}
    assert account.users[0] == "s-0001" and len(account.users) == 60
    for key in account.keys[:40]:
        listed = {k["AccessKeyId"]: k for k in iam.list_access_keys(UserName=key.user_name)["AccessKeyMetadata"]}
        assert listed[key.access_key_id]["Status"] == key.status
        assert (now - listed[key.access_key_id]["CreateDate"]).days == key.age_days
        used = iam.get_access_key_last_used(AccessKeyId=key.access_key_id)["AccessKeyLastUsed"]
        if key.last_used_days_ago is None:
            assert "LastUsedDate" not in used
        else:
            assert (now - used["LastUsedDate"]).days == key.last_used_days_ago
            assert used["ServiceName"] == key.last_used_service


def test_the_mix_is_deterministic_and_has_every_case(endpoint):
    endpoint.reset()
    first = seed_account(endpoint, users=200, prefix="a", rng_seed=3)
    endpoint.reset()
    second = seed_account(endpoint, users=200, prefix="a", rng_seed=3)
    assert [(k.user_name, k.age_days, k.status) for k in first.keys] == [(k.user_name, k.age_days, k.status) for k in second.keys]
    assert first.due(90) and first.unused(90) and first.two_active()
    assert any(k.status == "Inactive" for k in first.keys)
    assert len({k.user_name for k in first.keys}) < 200  # some users have no key


def test_exact_profiles(endpoint):
    endpoint.reset()
    account = seed_account(
        endpoint, users=2, prefix="p",
        profiles=[[{"age_days": 100, "last_used_days_ago": 95}], [{"age_days": 5}, {"age_days": 1, "status": "Inactive"}]],
    )
    assert [(k.user_name, k.position, k.age_days, k.status) for k in account.keys] == [
        ("p-0001", 1, 100, "Active"), ("p-0002", 1, 5, "Active"), ("p-0002", 2, 1, "Inactive")
    ]
    assert [k.user_name for k in account.due(90)] == ["p-0001"]
    assert [k.user_name for k in account.unused(90)] == ["p-0001"]


@pytest.mark.parametrize(
    "users, message",
    [
        ("alice", "'users' must be a list"),
        ([{"user_name": "x", "keys": [{}, {}, {}]}], "at most 2 keys"),
        ([{"user_name": "x", "keys": [{"status": "Gone"}]}], "bad status"),
        ([{"user_name": "x", "keys": [{"age_days": -1}]}], "'age_days' must be a number >= 0"),
    ],
)
def test_bad_seed_requests_are_refused(endpoint, users, message):
    with pytest.raises(EndpointError, match=message):
        endpoint.seed(users)
