"""rotor_health_check.timeout, end to end: the role accepts it (its meta/argument_specs.yml takes every option of the
one health-check spec) and the hosts' health check honours it.

host1's health check asks a server whose first answer takes 4 seconds, with timeout 1 and one retry: the first
attempt gives up after about a second and the second is answered at once, so the rotation completes. With the
default timeout (10 s) the first attempt would have waited for the slow answer and there would be no second one.
"""

from __future__ import annotations

import http.server
import threading
import time

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from rotation_helpers import assert_hosts_on_key, key_statuses, seed_user  # noqa: E402  pylint: disable=wrong-import-position
from test_inventory_mistakes import fleet_of, operator_inventory, rotate  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

pytestmark = pytest.mark.slow

SLOW_FIRST_ANSWER = 4.0


class SlowFirstAnswer(http.server.BaseHTTPRequestHandler):
    """200 to every GET; the server's first request is answered only after SLOW_FIRST_ANSWER seconds."""

    def do_GET(self):  # noqa: N802  (the http.server API)
        with self.server.lock:
            self.server.arrivals.append(time.monotonic())
            first = len(self.server.arrivals) == 1
        if first:
            time.sleep(SLOW_FIRST_ANSWER)
        try:
            self.send_response(200)
            self.end_headers()
        except OSError:
            pass  # the client gave up waiting: what the timeout is for

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def slow_health():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowFirstAnswer)
    server.arrivals, server.lock = [], threading.Lock()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_a_health_check_timeout_is_accepted_by_the_role_and_honoured_on_the_host(empty_endpoint, fleet_of, slow_health, tmp_path):  # noqa: F811
    user = "health-timeout"
    old_id, old_secret = seed_user(empty_endpoint, user)
    fleet = fleet_of(user, {user: (old_id, old_secret)})
    url = "http://127.0.0.1:%d/health" % slow_health.server_address[1]
    inventory = operator_inventory(fleet, tmp_path / "inventory.json", host_vars={
        "host1": {"rotor_health_check": {"url": url, "status_code": 200, "retries": 1, "delay": 0, "timeout": 1}}})

    run = rotate(empty_endpoint, inventory, tmp_path, "timeout")

    assert run.returncode == 0, run.explain()
    assert "timeout" not in "\n".join(line for line in run.everything.splitlines() if "Unsupported parameters" in line)
    keys = key_statuses(empty_endpoint, user)
    assert old_id not in keys and len(keys) == 1, keys
    assert_hosts_on_key(fleet, next(iter(keys)))
    arrivals = slow_health.arrivals
    assert len(arrivals) >= 2, arrivals
    # The first attempt gave up after about the timeout (1 s), well before the slow answer (4 s) came.
    assert arrivals[1] - arrivals[0] < SLOW_FIRST_ANSWER - 1, arrivals
    assert old_secret not in run.everything
