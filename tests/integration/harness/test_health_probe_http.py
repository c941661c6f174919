"""health.probe_url against real listeners on 127.0.0.1: an HTTP server, and raw sockets for what no HTTP server sends.

These start servers (threads of the test process), so they live here and not in tests/unit
(tests/unit/plugins/module_utils/test_health_probe.py keeps the checks that need none).
No mocks except to tell which path a probe took.
"""

from __future__ import annotations

import http.server
import os
import socket
import sys
import threading
import time
from unittest import mock

import pytest

COLLECTIONS_PATH = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".build", "collections"))
if COLLECTIONS_PATH not in sys.path:
    sys.path.insert(0, COLLECTIONS_PATH)

from ansible_collections.rotor.iam.plugins.module_utils import health  # noqa: E402


class Answers(http.server.BaseHTTPRequestHandler):
    seen = []

    def do_GET(self):  # noqa: N802 pylint: disable=invalid-name
        Answers.seen.append((self.path, self.headers.get("User-Agent")))
        if self.path.startswith("/moved"):
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status = 200 if self.path.startswith("/ok") else 503
        body = b"fine" if status == 200 else b"down"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
        pass


class RawListener:
    """A listener on 127.0.0.1 that reads one request and answers it with raw bytes, piece by piece."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(1)
        self.port = self.socket.getsockname()[1]
        self._request = b""
        self._thread = None

    def answer(self, *pieces, pause=0.0):
        def serve():
            connection, _address = self.socket.accept()
            with connection:
                self._request = connection.recv(4096)
                for piece in pieces:
                    connection.sendall(piece)
                    time.sleep(pause)

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()

    def request(self):
        """The request it read, once it has answered."""
        self._thread.join(5)
        return self._request.decode()

    def close(self):
        if self._thread is not None:
            self._thread.join(5)
        self.socket.close()


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def raw_listener():
    listener = RawListener()
    yield listener
    listener.close()


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def test_a_plain_check_reads_the_status_without_open_url(server):
    with mock.patch.object(health, "_probe_with_open_url") as open_url_probe:
        assert health.probe_url(server + "/ok?x=1", [200], 5) == (True, 200, "HTTP 200")
        assert health.probe_url(server + "/down", [200], 5) == (False, 503, "HTTP 503")
        assert health.probe_url(server + "/down", [200, 503], 5) == (True, 503, "HTTP 503")
    open_url_probe.assert_not_called()
    assert ("/ok?x=1", "ansible-httpget") in Answers.seen


def test_ansible_module_utils_urls_is_not_imported_by_a_plain_check(server):
    sys.modules.pop("ansible.module_utils.urls", None)
    health.probe_url(server + "/ok", [200], 5)
    assert "ansible.module_utils.urls" not in sys.modules


def test_a_redirect_is_followed_by_open_url_as_before(server):
    assert health.probe_url(server + "/moved", [200], 5) == (True, 200, "HTTP 200")


def test_a_server_that_does_not_speak_http_is_no_answer(raw_listener):
    raw_listener.answer(b"SSH-2.0-OpenSSH_9.2\r\n")
    healthy, status, detail = health.probe_url("http://127.0.0.1:%d/" % raw_listener.port, [200], 5)
    assert (healthy, status) == (False, None)
    assert detail == "no answer (not an HTTP response: b'SSH-2.0-OpenSSH_9.2\\r')"


def test_a_status_line_split_over_several_packets_is_read_whole(raw_listener):
    raw_listener.answer(b"HTTP/1.", b"1 2", b"04 No Content\r\n\r\n", pause=0.05)
    port = raw_listener.port
    assert health.probe_url("http://127.0.0.1:%d/x?y=1" % port, [204], 5) == (True, 204, "HTTP 204")
    assert raw_listener.request().startswith("GET /x?y=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port)
