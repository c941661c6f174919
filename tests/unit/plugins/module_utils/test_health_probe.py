"""health.probe_url: plain http:// checks go straight to the server; everything else through open_url.

A real HTTP server on 127.0.0.1 answers; no mocks except to tell which path a probe took.
"""

from __future__ import annotations

import http.server
import socket
import sys
import threading
import time
from unittest import mock
from urllib.parse import urlsplit

import pytest

from ansible_collections.rotor.iam.plugins.module_utils import health


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


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    "url, plain",
    [
        ("http://127.0.0.1:8080/health", True),
        ("http://[::1]:8080/health?deep=1", True),
        ("HTTP://localhost/", True),
        ("https://127.0.0.1/health", False),
        ("http://user:secret@127.0.0.1/health", False),
        ("http://user@127.0.0.1/health", False),
        ("http://127.0.0.1/sant\u00e9", False),
        ("http://b\u00fccher.example/health", False),
    ],
)
def test_which_urls_skip_open_url(url, plain):
    assert health.plain_http(urlsplit(url)) is plain


@pytest.mark.parametrize("name", ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"])
def test_a_proxy_in_the_environment_sends_every_check_through_open_url(monkeypatch, name):
    monkeypatch.setenv(name, "http://proxy.example:3128")
    assert health.plain_http(urlsplit("http://127.0.0.1:8080/health")) is False


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


def test_no_answer_is_a_failure_with_a_reason():
    healthy, status, detail = health.probe_url("http://127.0.0.1:%d/health" % free_port(), [200], 2)
    assert (healthy, status) == (False, None)
    assert detail.startswith("no answer (") and "refused" in detail.lower()


def test_a_bad_port_is_a_failure_not_an_exception():
    healthy, status, detail = health.probe_url("http://127.0.0.1:99999/health", [200], 2)
    assert (healthy, status) == (False, None) and detail.startswith("no answer (")


def test_https_and_credentials_still_go_through_open_url():
    with mock.patch.object(health, "_probe_with_open_url", return_value=(True, 200, "HTTP 200")) as open_url_probe:
        health.probe_url("https://127.0.0.1:1/health", [200], 1)
        health.probe_url("http://user:secret@127.0.0.1:1/health", [200], 1)
    assert [c.args[0] for c in open_url_probe.call_args_list] == ["https://127.0.0.1:1/health",
                                                                  "http://user:secret@127.0.0.1:1/health"]


def test_a_server_that_does_not_speak_http_is_no_answer():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def answer():
            connection, _address = listener.accept()
            with connection:
                connection.recv(1024)
                connection.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        healthy, status, detail = health.probe_url("http://127.0.0.1:%d/" % listener.getsockname()[1], [200], 5)
        thread.join(5)
    assert (healthy, status) == (False, None)
    assert detail == "no answer (not an HTTP response: b'SSH-2.0-OpenSSH_9.2\\r')"


def test_a_status_line_split_over_several_packets_is_read_whole():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def answer():
            connection, _address = listener.accept()
            with connection:
                request = connection.recv(4096)
                Answers.seen.append(("raw", request.decode()))
                for piece in (b"HTTP/1.", b"1 2", b"04 No Content\r\n\r\n"):
                    connection.sendall(piece)
                    time.sleep(0.05)

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        port = listener.getsockname()[1]
        assert health.probe_url("http://127.0.0.1:%d/x?y=1" % port, [204], 5) == (True, 204, "HTTP 204")
        thread.join(5)
    request = [text for label, text in Answers.seen if label == "raw"][-1]
    assert request.startswith("GET /x?y=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port)
