"""rotor.iam.health_check through ansible-playbook on a real host (local connection, Debian's python3),
against a real HTTP server: restart, HTTP and command checks, retries, failures, check mode, bad input."""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

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
    ansible_playbook = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable)) or "ansible-playbook"
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=HOST_PYTHON, ANSIBLE_NOCOLOR="1")
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".build" / "collections"))
    command = [
        ansible_playbook, "-i", "localhost,", "-v",
        "-e", f"work_dir={tmp_path}", "-e", f"healthy_url={health_server}/ok", "-e", f"unhealthy_url={health_server}/down",
        "-e", f"closed_url={closed_url}",
        str(REPO / "tests" / "integration" / "targets" / "health_check" / "main.yml"),
    ]

    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)

    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-2000:]
    assert (tmp_path / "restarted").read_text() == "once\n"
    assert "Traceback" not in completed.stdout + completed.stderr
    assert "HealthCheckPassw0rd" not in completed.stdout + completed.stderr  # URL credentials redacted everywhere
