# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A counting pass-through in front of the test IAM endpoint, for the benchmarks.

The endpoint counts every call it gets, including the STS GetCallerIdentity each fleet
consumer makes when it is health-checked. To tell rotor's own calls apart, rotor's
controller talks to this pass-through (rotor_aws_endpoint_url) while the consumers talk
to the endpoint directly. Requests and answers are forwarded unchanged (the Host header
included, so SigV4 signatures still match); only the service (from the signature's
credential scope) and the action are counted. Nothing is logged.
"""

from __future__ import annotations

import collections
import http.client
import http.server
import re
import threading
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "content-length"}
SCOPE = re.compile(r"Credential=[^/,\s]+/[^/]+/[^/]+/([^/]+)/aws4_request")


def service_of(authorization):
    """The signing service of a SigV4 Authorization header ('iam', 'sts'), or '?'."""
    match = SCOPE.search(authorization or "")
    return match.group(1) if match else "?"


def action_of(body, query, target):
    """The API action of a query-protocol (Action=) or JSON-protocol (X-Amz-Target) request."""
    for text in (query, body):
        values = urllib.parse.parse_qs(text or "").get("Action")
        if values:
            return values[0]
    return (target or "").rpartition(".")[2] or "Unknown"


class CallCounter:
    """Serve on 127.0.0.1:<free port>, forward to `target_url`, count {service: {action: n}}."""

    def __init__(self, target_url):
        parsed = urllib.parse.urlsplit(target_url)
        self.target = (parsed.hostname, parsed.port or 80)
        self.lock = threading.Lock()
        self.counts = collections.defaultdict(collections.Counter)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def reset(self):
        with self.lock:
            self.counts.clear()

    def calls(self):
        """{service: {action: count}} since the last reset."""
        with self.lock:
            return {service: dict(actions) for service, actions in self.counts.items()}

    def _count(self, service, action):
        with self.lock:
            self.counts[service][action] += 1

    def _handler_class(self):
        counter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                query = urllib.parse.urlsplit(self.path).query
                counter._count(service_of(self.headers.get("Authorization")),  # pylint: disable=protected-access
                               action_of(body.decode("utf-8", "replace"), query, self.headers.get("X-Amz-Target")))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                upstream = http.client.HTTPConnection(*counter.target, timeout=120)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    self.send_response(response.status, response.reason)
                    for key, value in response.getheaders():
                        if key.lower() not in HOP_BY_HOP:
                            self.send_header(key, value)
                finally:
                    upstream.close()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

            def log_message(self, *args):  # pylint: disable=arguments-differ
                pass

        return Handler
