"""The test endpoint records a key's last use as AWS does (tests/iam_endpoint/last_use.py): only for accepted
requests (not a wrong signature, not an Inactive key after its lag), and with a publication delay when set."""

from __future__ import annotations

import time

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")

from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

ONE_TRY = Config(retries={"total_max_attempts": 1})


def sts_as(endpoint, key_id, secret):
    return boto3.client("sts", endpoint_url=endpoint.endpoint_url, region_name=endpoint.region, aws_access_key_id=key_id,
                        aws_secret_access_key=secret, config=ONE_TRY)


def last_used(iam, key_id):
    return iam.get_access_key_last_used(AccessKeyId=key_id)["AccessKeyLastUsed"].get("LastUsedDate")


def test_a_wrong_signature_and_an_inactive_key_leave_no_last_use(endpoint, iam, iam_user, create_key):
    key_id, secret = create_key(iam_user, signs=True)
    with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
        sts_as(endpoint, key_id, secret[:-1] + ("A" if secret[-1] != "A" else "B")).get_caller_identity()
    assert last_used(iam, key_id) is None, "a refused signature counted as a use"

    sts_as(endpoint, key_id, secret).get_caller_identity()
    used = last_used(iam, key_id)
    assert used is not None

    iam.update_access_key(UserName=iam_user, AccessKeyId=key_id, Status="Inactive")
    deadline = time.monotonic() + 60
    while endpoint.key_view(key_id)["accepted"] and time.monotonic() < deadline:  # the session's deactivation lag
        time.sleep(0.2)
    used = last_used(iam, key_id)  # a use inside the lag counts
    with pytest.raises(ClientError, match="InvalidClientTokenId"):
        sts_as(endpoint, key_id, secret).get_caller_identity()
    assert last_used(iam, key_id) == used, "a call with an Inactive key counted as a use"


def test_a_publication_delay_shows_a_use_late_and_dated_when_it_happened(endpoint, iam, iam_user, create_key):
    key_id, secret = create_key(iam_user, signs=True)
    try:
        assert endpoint.configure_last_use(delay_seconds=2)["delay_seconds"] == 2
        began = time.time()
        sts_as(endpoint, key_id, secret).get_caller_identity()
        assert last_used(iam, key_id) is None, "published before the delay"
        time.sleep(2.2)
        used = last_used(iam, key_id)
        assert used is not None and began - 1 <= used.timestamp() <= began + 1.5, (used, began)
    finally:
        endpoint.configure_last_use(delay_seconds=0)
    assert endpoint.configure_last_use() == {"delay_seconds": 0.0, "pending": 0}
