"""Unit tests for access_key_info's include_tags: each user's tags, one ListUserTags per user, never the root's."""

import pytest

pytest.importorskip("botocore.exceptions")

from ansible_collections.rotor.iam.plugins.modules.access_key_info import add_user_tags  # noqa: E402
from fake_iam import FakeIAM  # noqa: E402  pylint: disable=wrong-import-order


def test_tags_are_added_to_each_user_and_the_calls_counted():
    client = FakeIAM(tags={"alice": {"rotor:owner": "team-a"}, "gone": "NoSuchEntity"})
    users = [{"user_name": "<root_account>"}, {"user_name": "alice"}, {"user_name": "gone"}]

    calls = add_user_tags(client, users)

    assert calls == 2 and [kwargs["UserName"] for name, kwargs in client.calls if name == "list_user_tags"] == ["alice", "gone"]
    assert "tags" not in users[0]  # the root user has no tags to list
    assert users[1] == {"user_name": "alice", "tags": {"rotor:owner": "team-a"}}
    assert users[2]["tags"] is None and "does not exist" in users[2]["tags_error"]
