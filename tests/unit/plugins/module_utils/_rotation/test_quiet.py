"""The quiet-key gate: never deactivate a key used after the last known holder switched (outside incident mode)."""

import datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.module_utils._rotation import quiet

SWITCHED = datetime.datetime(2026, 12, 7, 2, 0, 0, tzinfo=datetime.timezone.utc)
KEY = "AKIAOLD0000000000001"


def at(seconds):
    return SWITCHED + datetime.timedelta(seconds=seconds)


def test_a_use_after_the_switch_stops_the_gate_and_the_message_says_when_where_and_how_to_find_it():
    verdict = quiet.quiet_verdict(at(12), SWITCHED, at(40), minutes=0.5)
    assert verdict["verdict"] == "in_use" and verdict["stop"] and verdict["wait_seconds"] == 0
    message = quiet.stop_message("app", KEY, verdict, service="sts", region="eu-west-1", minutes=0.5)
    assert "2026-12-07T02:00:12+00:00 (sts, eu-west-1)" in message
    assert "waiting_for_quiet" in message and "old key stays Active" in message
    assert "LookupEvents by AccessKeyId" in message and "rotor.iam.discover" in message


def test_a_key_silent_since_the_switch_waits_out_the_quiet_period_then_passes():
    waiting = quiet.quiet_verdict(at(-5), SWITCHED, at(10), minutes=0.5)
    assert waiting["verdict"] == "wait" and not waiting["stop"] and waiting["wait_seconds"] == pytest.approx(20)
    done = quiet.quiet_verdict(at(-5), SWITCHED, at(30), minutes=0.5)
    assert done["verdict"] == "quiet" and not done["stop"]
    assert quiet.quiet_verdict(None, SWITCHED, at(31), minutes=0.5)["verdict"] == "quiet"


def test_a_use_within_the_switch_second_counts_as_after_it():
    assert quiet.quiet_verdict(SWITCHED, SWITCHED, at(60))["stop"]
    # A switch at .7 of a second: a use dated to that whole second (AWS) may be after it; one dated in the second before is
    # not. A date with a fraction of a second is exact.
    assert quiet.quiet_verdict(at(0), at(0.7), at(60))["stop"]
    assert not quiet.quiet_verdict(at(-1), at(0.7), at(60))["stop"]
    assert not quiet.quiet_verdict(at(0.1), at(0.7), at(60))["stop"]
    assert quiet.quiet_verdict(at(0.8), at(0.7), at(60))["stop"]


def test_incident_mode_reports_and_never_waits_or_stops():
    used = quiet.quiet_verdict(at(5), SWITCHED, at(6), minutes=10, incident=True)
    assert used["verdict"] == "in_use" and not used["stop"] and used["wait_seconds"] == 0
    assert "does not wait" in quiet.incident_message("app", KEY, used)
    silent = quiet.quiet_verdict(None, SWITCHED, at(1), minutes=10, incident=True)
    assert silent["verdict"] == "quiet" and silent["wait_seconds"] == 0


@pytest.mark.parametrize("bad", ["yesterday", float("nan"), {"a": 1}])
def test_an_unreadable_last_use_is_never_taken_for_silence(bad):
    verdict = quiet.quiet_verdict(bad, SWITCHED, at(60))
    assert verdict["verdict"] == "unknown" and verdict["stop"]
    assert "cannot judge" in quiet.stop_message("app", KEY, verdict)


def test_without_a_switch_time_the_gate_cannot_judge():
    assert quiet.quiet_verdict(None, None, at(60))["stop"]
    assert not quiet.quiet_verdict(None, None, at(60), incident=True)["stop"]


@pytest.mark.parametrize("bad", ["soon", -1, float("inf"), True, None, 100000])
def test_rotor_quiet_minutes_is_a_bounded_number(bad):
    with pytest.raises(quiet.QuietGateError, match="rotor_quiet_minutes"):
        quiet.quiet_minutes(bad)
    assert quiet.quiet_minutes("1.5") == 1.5 and quiet.quiet_minutes(0) == 0


def test_a_clock_that_jumped_back_never_waits_longer_than_the_quiet_period():
    verdict = quiet.quiet_verdict(None, SWITCHED, at(-3600), minutes=0.5)
    assert verdict["verdict"] == "wait" and verdict["wait_seconds"] == 30


seconds = st.floats(min_value=-86400, max_value=86400, allow_nan=False)
moments = st.one_of(st.none(), seconds.map(at), seconds.map(lambda s: at(s).isoformat()), seconds.map(lambda s: at(s).timestamp()))


@given(used=moments, now=seconds, minutes=st.floats(min_value=0, max_value=120), skew=st.floats(min_value=-600, max_value=600))
@example(used=at(-0.5), now=600.0, minutes=0.0, skew=0.0)  # exact, just before the switch: quiet
@example(used=at(-0.5).replace(microsecond=0).isoformat(), now=600.0, minutes=0.0, skew=0.0)
def test_never_a_deactivation_after_a_use_later_than_the_switch(used, now, minutes, skew):
    """Whatever the clocks say (now before the switch, a last use in the future), a later use always stops the gate."""
    verdict = quiet.quiet_verdict(used, SWITCHED, at(now + skew), minutes=minutes)
    used_at = quiet._moment(used)  # pylint: disable=protected-access
    if used_at is not None and used_at > SWITCHED:
        assert verdict["stop"] and verdict["verdict"] == "in_use"
    if verdict["verdict"] == "quiet":
        # A whole-second date (AWS's) may hide a use in the switch's own second; a date with a fraction is exact.
        assert used_at is None or (used_at < SWITCHED if used_at.microsecond else
                                   (SWITCHED - used_at).total_seconds() >= quiet.GRANULARITY_SECONDS)
        assert at(now + skew) >= SWITCHED + datetime.timedelta(minutes=minutes)
    assert 0 <= verdict["wait_seconds"] <= minutes * 60 + 1e-6


@given(used=moments, now=seconds, minutes=st.floats(min_value=0, max_value=120))
def test_incident_mode_never_waits(used, now, minutes):
    verdict = quiet.quiet_verdict(used, SWITCHED, at(now), minutes=minutes, incident=True)
    assert not verdict["stop"] and verdict["wait_seconds"] == 0


def test_cloudtrail_callers_are_named_as_hosts_or_unknown_consumers():
    events = [
        {"event_time": at(20).isoformat(), "source_ip_address": "127.0.1.3", "user_agent": "Boto3/1.35", "event_source": "sts.amazonaws.com",
         "region": "us-east-1"},
        {"event_time": at(25).isoformat(), "source_ip_address": "10.9.9.9", "user_agent": "aws-cli/2", "event_source": "s3.amazonaws.com",
         "region": "eu-west-1"},
        {"event_time": at(-30).isoformat(), "source_ip_address": "127.0.1.1", "user_agent": "Boto3", "event_source": "sts.amazonaws.com",
         "region": "us-east-1"},
    ]
    found = quiet.attribute_events(events, SWITCHED, {"web1": ["127.0.1.1"], "web3": ["127.0.1.3", "::1"]})
    assert list(found["hosts"]) == ["web3"] and found["hosts"]["web3"]["count"] == 1
    assert [u["source_ip_address"] for u in found["unknown"]] == ["10.9.9.9"]
    lines = quiet.attribution_lines(KEY, dict(found, regions_searched=["us-east-1"]))
    assert lines[0].startswith(f"web3 still uses the old key {KEY}: its application did not reload")
    assert "unknown consumer at 10.9.9.9" in lines[1] and "management events only" in lines[-1]
