"""rotor.iam.health_check through ansible-playbook on a real host (local connection, Debian's python3),
against a real HTTP server: restart, HTTP and command checks, retries, failures, check mode, bad input."""

from __future__ import annotations

import http.server
import os
import threading
from pathlib import Path

import pytest
from support import run_playbook

REPO = Path(__file__).resolve().parents[2]
HOST_PYTHON = "/usr/bin/python3"

pytestmark = pytest.mark.skipif(not os.path.exists(HOST_PYTHON), reason="needs the host's " + HOST_PYTHON)


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802  (the http.server API)
        self.send_response(200 if self.path == "/ok" else 503)
        self.end_headers()

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def health_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_health_check_module(health_server, tmp_path):
    closed = http.server.HTTPServer(("127.0.0.1", 0), Health)
    closed_url = f"http://127.0.0.1:{closed.server_address[1]}/"
    closed.server_close()
    completed = run_playbook(REPO / "tests" / "integration" / "targets" / "health_check" / "main.yml", tmp_path / "runs",
                             inventories=["localhost,"], verbosity=1, log=False, timeout=300,
                             extra_vars={"work_dir": str(tmp_path), "healthy_url": f"{health_server}/ok",
                                         "unhealthy_url": f"{health_server}/down", "closed_url": closed_url},
                             env_extra={"ANSIBLE_PYTHON_INTERPRETER": HOST_PYTHON})

    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-2000:]
    assert (tmp_path / "restarted").read_text() == "once\n"
    assert "Traceback" not in completed.stdout + completed.stderr
    assert "HealthCheckPassw0rd" not in completed.stdout + completed.stderr  # URL credentials redacted everywhere
