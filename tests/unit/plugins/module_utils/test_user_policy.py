"""Unit tests for plugins/module_utils/user_policy.py: what the rotor: policy tags mean, and reading them."""

import datetime

import pytest

pytest.importorskip("botocore.exceptions")

from fake_iam import FakeIAM  # noqa: E402

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError  # noqa: E402
from ansible_collections.rotor.iam.plugins.module_utils.user_policy import list_user_tags  # noqa: E402
from ansible_collections.rotor.iam.plugins.module_utils.user_policy import parse_exempt_until  # noqa: E402
from ansible_collections.rotor.iam.plugins.module_utils.user_policy import parse_max_age_days  # noqa: E402
from ansible_collections.rotor.iam.plugins.module_utils.user_policy import read_users_tags  # noqa: E402
from ansible_collections.rotor.iam.plugins.module_utils.user_policy import user_policy  # noqa: E402

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value, ends",
    [
        ("2026-11-26", datetime.datetime(2026, 11, 27, tzinfo=UTC)),  # a date lasts to the end of that day, UTC
        (" 2026-11-26 ", datetime.datetime(2026, 11, 27, tzinfo=UTC)),
        ("2026-11-26T08:30:00Z", datetime.datetime(2026, 11, 26, 8, 30, tzinfo=UTC)),
        ("2026-11-26T08:30", datetime.datetime(2026, 11, 26, 8, 30, tzinfo=UTC)),  # no offset: UTC
        ("2026-11-26 08:30:15.5+02:00", datetime.datetime(2026, 11, 26, 6, 30, 15, 500000, tzinfo=UTC)),
        ("2026-11-26T08:30:00-0500", datetime.datetime(2026, 11, 26, 13, 30, tzinfo=UTC)),
        ("2026-02-30", None),
        ("2026-11-26T25:00", None),
        ("26/11/2026", None),
        ("20261126", None),  # basic format: not what people write in a tag, refused rather than guessed
        ("next week", None),
        ("", None),
        (None, None),
    ],
)
def test_exempt_until_is_a_date_or_an_iso_date_and_time(value, ends):
    assert parse_exempt_until(value) == ends


@pytest.mark.parametrize("value, days", [("30", 30), (" 45 ", 45), ("030", 30), ("0", None), ("-5", None), ("+5", None),
                                         ("30.5", None), ("thirty", None), ("", None), ("\u0663\u0660", None), (None, None)])
def test_max_age_days_is_a_positive_whole_number(value, days):
    assert parse_max_age_days(value) == days


def test_no_tags_means_the_default_policy():
    policy = user_policy({}, 90, NOW)
    assert (policy["owner"], policy["max_age_days"], policy["max_age_source"], policy["exempt"]) == (None, 90, "default", False)
    assert policy["problems"] == [] and policy["notes"] == []
    assert user_policy(None, 90, NOW)["max_age_days"] == 90  # tags not read


@pytest.mark.parametrize(
    "tags, exempt, expired, problems",
    [
        ({"rotor:exempt": "vendor appliance"}, True, False, 0),
        ({"rotor:exempt": "vendor appliance", "rotor:exempt-until": "2026-11-26"}, True, False, 0),  # until the end of today
        ({"rotor:exempt": "vendor appliance", "rotor:exempt-until": "2026-11-25"}, False, True, 0),
        ({"rotor:exempt": "vendor appliance", "rotor:exempt-until": "2026-11-26T12:00:00Z"}, False, True, 0),  # ends at that moment
        ({"rotor:exempt": "vendor appliance", "rotor:exempt-until": "2026-11-26T12:00:01Z"}, True, False, 0),
        ({"rotor:exempt": "vendor appliance", "rotor:exempt-until": "end of Q1"}, True, False, 1),  # fail safe: still exempt
        ({"rotor:exempt": "   "}, False, False, 0),  # blank is no reason
        ({"rotor:exempt": ""}, False, False, 0),
        ({"rotor:exempt-until": "2027-01-01"}, False, False, 0),  # an end without an exemption does nothing
    ],
)
def test_exemptions(tags, exempt, expired, problems):
    policy = user_policy(tags, 90, NOW)
    assert (policy["exempt"], policy["exemption_expired"], len(policy["problems"])) == (exempt, expired, problems)


def test_an_expired_exemption_keeps_its_reason_and_says_when_it_ended():
    policy = user_policy({"rotor:exempt": "vendor appliance", "rotor:exempt-until": "2026-10-31"}, 90, NOW)
    assert policy["exempt_reason"] == "vendor appliance" and policy["exempt_until"] == "2026-10-31"
    assert policy["exemption_ends"] == "2026-11-01T00:00:00+00:00"
    assert policy["notes"] == ["the exemption (vendor appliance) ended at 2026-11-01T00:00:00+00:00: the user is judged by its policy"]


def test_an_unparseable_end_is_reported_and_the_exemption_stays():
    policy = user_policy({"rotor:exempt": "legacy", "rotor:exempt-until": "31.12.2026"}, 90, NOW)
    assert policy["exempt"] and policy["exemption_ends"] is None
    assert policy["problems"][0]["tag"] == "rotor:exempt-until" and "stays in effect" in policy["problems"][0]["problem"]


def test_an_end_without_an_exemption_is_noted():
    assert "has no effect without rotor:exempt" in user_policy({"rotor:exempt-until": "2027-01-01"}, 90, NOW)["notes"][0]


def test_own_max_age_replaces_the_default_and_an_invalid_one_is_reported():
    assert user_policy({"rotor:max-age-days": "30"}, 90, NOW)["max_age_days"] == 30
    bad = user_policy({"rotor:max-age-days": "30d"}, 90, NOW)
    assert (bad["max_age_days"], bad["max_age_source"]) == (90, "default")
    assert bad["problems"] == [{"tag": "rotor:max-age-days", "value": "30d", "problem": (
        "rotor:max-age-days holds '30d', which is not a positive whole number of days: the default policy of 90 days "
        "applies until the tag is fixed")}]


def test_owner_is_free_text_trimmed():
    assert user_policy({"rotor:owner": "  payments@example.com "}, 90, NOW)["owner"] == "payments@example.com"
    assert user_policy({"rotor:owner": " "}, 90, NOW)["owner"] is None


# --------------------------------------------------------------------------- reading


def test_list_user_tags_follows_the_pages_with_retries():
    client = FakeIAM(tags={"alice": [{"rotor:owner": "team-a"}, {"rotor:exempt": "x"}]})
    assert list_user_tags(client, "alice") == ({"rotor:owner": "team-a", "rotor:exempt": "x"}, 2)
    assert client.calls == [("list_user_tags", {"UserName": "alice", "MaxItems": 100, "aws_retry": True}),
                            ("list_user_tags", {"UserName": "alice", "Marker": "1", "MaxItems": 100, "aws_retry": True})]


def test_one_call_per_user_and_a_user_that_cannot_be_read_does_not_stop_the_others():
    client = FakeIAM(tags={"alice": [{"rotor:owner": "team-a"}], "gone": "NoSuchEntity", "hidden": "AccessDenied", "bob": [{}]})
    found = read_users_tags(client, ["alice", "gone", "hidden", "bob", "alice"])
    assert found["tags"] == {"alice": {"rotor:owner": "team-a"}, "gone": None, "hidden": None, "bob": {}}
    assert set(found["errors"]) == {"gone", "hidden"} and "iam:ListUserTags" in found["errors"]["hidden"]
    assert found["calls"] == 4 == len(client.calls)  # alice once, although named twice


def test_throttling_past_the_retries_fails_the_read():
    with pytest.raises(RotorIAMError, match="throttled"):
        read_users_tags(FakeIAM(tags={"alice": "Throttling"}), ["alice"])
