"""The fleet's unknown consumer (tests/fleet/unknown.py) and what the endpoint records of it: the facts the
quiet-key gate of issue 25 will rely on.

- a key signing on a timer moves its LastUsedDate forward on that timer (GetAccessKeyLastUsed);
- inside the deactivation lag the key is still accepted and its use still recorded; after it, calls fail and
  LastUsedDate stops;
- once the consumer is moved to another key by hand, the old key falls silent;
- a paused consumer signs nothing (a consumer idle during the quiet period is invisible to the gate).
"""

from __future__ import annotations

import os
import time

import pytest

pytest.importorskip("boto3")

from fleet.fleet import Fleet  # noqa: E402  pylint: disable=wrong-import-position
from harness import assert_no_leaks, leaks_in_files  # noqa: E402  pylint: disable=wrong-import-position
from rotation_helpers import wait_until_accepted  # noqa: E402  pylint: disable=wrong-import-position

INTERVAL = 0.5


def last_used(iam, key_id):
    return iam.get_access_key_last_used(AccessKeyId=key_id)["AccessKeyLastUsed"].get("LastUsedDate")


def wait_for_last_use_after(iam, key_id, moment, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        used = last_used(iam, key_id)
        if used is not None and used.timestamp() > moment:
            return used
        time.sleep(0.1)
    raise AssertionError(f"{key_id} recorded no use after {moment}: last used {last_used(iam, key_id)}")


def test_an_unknown_consumer_keeps_the_key_in_use_until_it_is_moved(endpoint, iam, iam_user, create_key, tmp_path):
    old_id, old_secret = create_key(iam_user, signs=True)
    new_id, new_secret = create_key(iam_user, signs=True)
    fleet = Fleet(str(tmp_path / "fleet"), 1, mode="local", endpoint_url=endpoint.endpoint_url, region=endpoint.region,
                  users=iam_user, initial_keys={iam_user: (new_id, new_secret)})
    with fleet:
        fleet.write_inventory()
        unknown = fleet.start_unknown_consumer("cron-box", old_id, old_secret, interval=INTERVAL)
        assert unknown.loaded_key() == old_id
        assert not unknown.dir.startswith(fleet.host("host1").dir), "the unknown consumer lives outside every host"
        assert "cron-box" not in open(fleet.inventory_path).read(), "and outside the inventory"

        # On the timer: each read of LastUsedDate is later than the one before.
        began = time.time()
        calls = unknown.wait_for_calls(3, since=began)
        assert all(c["healthy"] and c["access_key_id"] == old_id for c in calls), calls
        first = wait_for_last_use_after(iam, old_id, began)
        second = wait_for_last_use_after(iam, old_id, first.timestamp() + INTERVAL / 2)
        assert second > first

        # Deactivated with a lag: still accepted (and recorded) inside it, rejected (and not recorded) after it.
        endpoint.configure(deactivation_propagation_seconds=3)
        iam.update_access_key(UserName=iam_user, AccessKeyId=old_id, Status="Inactive")
        deactivated = time.time()
        inside = wait_for_last_use_after(iam, old_id, deactivated)
        assert inside.timestamp() < deactivated + 3 + 1
        time.sleep(3.5)
        failing = unknown.wait_for_calls(2, since=time.time())
        assert not any(c["healthy"] for c in failing), failing
        assert "InvalidClientTokenId" in (failing[-1]["error"] or "")
        stopped = last_used(iam, old_id)
        time.sleep(INTERVAL * 3)
        assert last_used(iam, old_id) == stopped, "a rejected call must not count as a use"

        # Reactivated (as a rollback would), then moved by hand: the old key falls silent, the new one is used.
        endpoint.configure(deactivation_propagation_seconds=0, reactivation_propagation_seconds=0)
        iam.update_access_key(UserName=iam_user, AccessKeyId=old_id, Status="Active")
        wait_until_accepted(endpoint, old_id)
        unknown.switch(new_id, new_secret)
        moved = time.time()
        wait_for_last_use_after(iam, new_id, moved)
        quiet = last_used(iam, old_id)
        time.sleep(INTERVAL * 4)
        assert last_used(iam, old_id) == quiet, "the old key is still used after the consumer moved"

        # Paused: nothing is signed, nothing recorded (an idle consumer is invisible).
        unknown.pause()
        time.sleep(INTERVAL * 2)
        paused = last_used(iam, new_id)
        time.sleep(INTERVAL * 4)
        assert last_used(iam, new_id) == paused
        unknown.resume()
        wait_for_last_use_after(iam, new_id, paused.timestamp())

        pid = unknown.pid
        found = leaks_in_files([tmp_path / "fleet"], {"old secret": old_secret, "new secret": new_secret},
                               skip=lambda path: path.name == "credentials" or "/etc/" in str(path))
        assert_no_leaks(found, "the unknown consumer's logs")
    time.sleep(0.2)
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z", "the fleet did not stop it"
