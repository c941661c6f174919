"""health.probe_url and plain_http without a server: which path a check takes, and failures with nobody listening.

Unit tests start no server: the checks against real listeners (an HTTP server, raw sockets) are in
tests/integration/harness/test_health_probe_http.py.
"""

from __future__ import annotations

import socket
from unittest import mock
from urllib.parse import urlsplit

import pytest

from ansible_collections.rotor.iam.plugins.module_utils import health


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
