"""Unit tests for access_key_info's include_tags: each user's tags, one ListUserTags per user, never the root's."""

import pytest

pytest.importorskip("botocore.exceptions")

from ansible_collections.rotor.iam.plugins.modules.access_key_info import add_user_tags  # noqa: E402
import botocore.exceptions  # noqa: E402  pylint: disable=wrong-import-order


class FakeIAM:
    """list_user_tags from a table: {user: {tags} or an error code}; records the users asked for."""

    def __init__(self, users):
        self.users = users
        self.calls = []

    def list_user_tags(self, UserName, MaxItems, aws_retry=False, **more):  # noqa: N803 (boto3's names)
        self.calls.append(UserName)
        answer = self.users[UserName]
        if isinstance(answer, str):
            raise botocore.exceptions.ClientError({"Error": {"Code": answer, "Message": answer}}, "ListUserTags")
        return {"Tags": [{"Key": k, "Value": v} for k, v in answer.items()], "IsTruncated": False}


def test_tags_are_added_to_each_user_and_the_calls_counted():
    client = FakeIAM({"alice": {"rotor:owner": "team-a"}, "gone": "NoSuchEntity"})
    users = [{"user_name": "<root_account>"}, {"user_name": "alice"}, {"user_name": "gone"}]

    calls = add_user_tags(client, users)

    assert calls == 2 and client.calls == ["alice", "gone"]
    assert "tags" not in users[0]  # the root user has no tags to list
    assert users[1] == {"user_name": "alice", "tags": {"rotor:owner": "team-a"}}
    assert users[2]["tags"] is None and "does not exist" in users[2]["tags_error"]
