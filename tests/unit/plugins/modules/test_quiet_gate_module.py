"""rotor.iam.quiet_gate's own logic: the switch time it is given, and one wait then one more read."""

import datetime

from ansible_collections.rotor.iam.plugins.modules import quiet_gate

UTC = datetime.timezone.utc
SWITCHED = datetime.datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def test_a_switch_time_without_a_zone_is_the_controllers_local_time_and_garbage_is_refused():
    assert quiet_gate.switch_moment("2026-12-07T02:00:00+00:00") == SWITCHED
    naive = "2026-12-07 02:00:00.250000"  # ansible.builtin.pause's start
    assert quiet_gate.switch_moment(naive) == datetime.datetime.fromisoformat(naive).astimezone().astimezone(UTC)
    assert quiet_gate.switch_moment("after lunch") is None


def test_the_module_waits_out_the_rest_once_and_judges_the_second_read():
    reads = iter([{"last_used_date": None}, {"last_used_date": (SWITCHED + datetime.timedelta(seconds=20)).isoformat()}])
    clock = iter([SWITCHED + datetime.timedelta(seconds=5), SWITCHED + datetime.timedelta(seconds=30)])
    slept = []
    verdict, used, waited = quiet_gate.judge(lambda: next(reads), SWITCHED, 0.5, False, True, now=lambda: next(clock), sleep=slept.append)
    assert slept == [25.0] and waited == 25.0
    assert verdict["verdict"] == "in_use" and verdict["stop"] and used["last_used_date"].endswith("02:00:20+00:00")


def never_sleep(seconds):
    raise AssertionError(f"slept {seconds}s")


def test_incident_mode_and_wait_false_never_sleep():
    clock = iter([SWITCHED, SWITCHED])
    verdict, _used, waited = quiet_gate.judge(lambda: {"last_used_date": None}, SWITCHED, 10, True, True, now=lambda: next(clock), sleep=never_sleep)
    assert verdict["verdict"] == "quiet" and waited == 0
    verdict, _used, waited = quiet_gate.judge(lambda: {"last_used_date": None}, SWITCHED, 10, False, False, now=lambda: SWITCHED, sleep=never_sleep)
    assert verdict["verdict"] == "wait" and waited == 0
