"""Incident mode never waits on a host (issue 20, point 5), through ansible-playbook against the endpoint and a fleet.

A compromised key is deactivated first whatever the state of the hosts: a host whose credentials file cannot
be read is reported by name (it does not refuse the user), and is moved onto the new key by the next run once
its file can be read again. A ``--limit`` run says what it does to the leaked key: it deactivates it.
"""

from __future__ import annotations

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

import json
import time
from pathlib import Path

from rotation_helpers import assert_no_secrets, key_statuses, run_rotation  # noqa: E402  pylint: disable=wrong-import-position
from test_rotate_organisations import FAST, endpoint, fleet_of  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

pytestmark = pytest.mark.slow

UNREADABLE = "this is not a credentials file\n[default\naws_access_key_id\n"


def rotate(endpoint, fleet, tmp_path, limit=None, **extra_vars):  # noqa: F811
    summary = tmp_path / f"summary-{time.monotonic_ns()}.json"
    run = run_rotation(endpoint, [fleet.inventory_path], tmp_path / "runs", extra_vars=dict(FAST, rotor_summary_file=str(summary), **extra_vars),
                       verbosity=2, label=f"run{time.monotonic_ns()}", limit=limit)
    return run, (json.loads(summary.read_text()) if summary.exists() else None)


def test_an_unreadable_host_does_not_keep_a_leaked_key_active(endpoint, fleet_of, tmp_path):  # noqa: F811
    fleet, keys = fleet_of({"host1": "inc-unread", "host2": "inc-unread", "host3": "inc-unread"}, {"inc-unread": 10})
    leaked_id, leaked_secret = keys["inc-unread"]
    Path(fleet.credentials_file("host3")).write_text(UNREADABLE)

    run, summary = rotate(endpoint, fleet, tmp_path, rotor_compromised_key_ids=[leaked_id])

    assert run.returncode != 0, run.explain()  # host3 is reported
    statuses = key_statuses(endpoint, "inc-unread")
    assert statuses.get(leaked_id) == "Inactive", (statuses, run.explain())
    (new_id,) = [key for key, status in statuses.items() if key != leaked_id]
    for host in ("host1", "host2"):
        assert fleet.read_credentials(host)[0] == new_id, f"{host} is not on the new key"
    assert Path(fleet.credentials_file("host3")).read_text() == UNREADABLE
    assert "INCIDENT - key {} is compromised".format(leaked_id) in run.stdout, run.explain()
    assert "host3" in summary["rotation"]["inc-unread"]["message"], summary["rotation"]["inc-unread"]
    assert "CANNOT ROTATE" not in run.stdout, run.explain()

    # host3 comes back (its file readable again, still on the leaked key): the next run moves it onto the new key.
    fleet.write_credentials("host3", leaked_id, leaked_secret, reload=True)
    again, summary = rotate(endpoint, fleet, tmp_path, rotor_compromised_key_ids=[leaked_id])

    assert again.returncode == 0, again.explain()
    statuses = key_statuses(endpoint, "inc-unread")
    assert leaked_id not in statuses and list(statuses.values()) == ["Active"], statuses
    (current,) = statuses
    for host in fleet.hosts:
        assert fleet.read_credentials(host)[0] == current, f"{host} is not on the working key"
    assert_no_secrets(again, {"leaked secret": leaked_secret, "new secret": fleet.read_credentials("host1")[1]})


def test_a_limited_run_says_it_deactivates_the_leaked_key(endpoint, fleet_of, tmp_path):  # noqa: F811
    fleet, keys = fleet_of({"host1": "inc-limit", "host2": "inc-limit", "host3": "inc-limit"}, {"inc-limit": 10})
    leaked_id, _secret = keys["inc-limit"]

    run, _summary = rotate(endpoint, fleet, tmp_path, limit="host1,host2", rotor_compromised_key_ids=[leaked_id])

    statuses = key_statuses(endpoint, "inc-limit")
    assert statuses.get(leaked_id) == "Inactive", (statuses, run.explain())
    plan = [line for line in run.stdout.splitlines() if "INCIDENT - " in line]
    assert plan, run.explain()
    assert "kept Active" not in plan[0] and "stays Active" not in plan[0], plan[0]
    assert "deactivated now" in plan[0] and "host3" in plan[0], plan[0]
    assert fleet.read_credentials("host3")[0] == leaked_id  # outside the play: untouched

    # The next run over the whole fleet moves host3 too, and the leaked key goes.
    again, _summary = rotate(endpoint, fleet, tmp_path, rotor_compromised_key_ids=[leaked_id])

    assert again.returncode == 0, again.explain()
    statuses = key_statuses(endpoint, "inc-limit")
    assert leaked_id not in statuses and list(statuses.values()) == ["Active"], statuses
    (current,) = statuses
    for host in fleet.hosts:
        assert fleet.read_credentials(host)[0] == current, f"{host} is not on the working key"
