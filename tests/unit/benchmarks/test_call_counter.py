"""The benchmark's parsing and formatting (benchmarks/bench.py, call_counter.py): no timing, no network.

The call counter is exercised for real: a tiny HTTP server stands in for the IAM endpoint.
"""

import http.server
import json
import os
import sys
import threading
import urllib.request

import pytest

BENCHMARKS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "benchmarks"))
sys.path.insert(0, BENCHMARKS)

bench = pytest.importorskip("bench")
call_counter = pytest.importorskip("call_counter")

IAM_AUTH = "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261126/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0"
STS_AUTH = IAM_AUTH.replace("/iam/", "/sts/")


def test_service_comes_from_the_signature_scope():
    assert call_counter.service_of(IAM_AUTH) == "iam"
    assert call_counter.service_of(STS_AUTH) == "sts"
    assert call_counter.service_of("") == "?"


def test_action_comes_from_the_query_body_or_target():
    assert call_counter.action_of("Action=ListAccessKeys&Version=2010-05-08", "", None) == "ListAccessKeys"
    assert call_counter.action_of("", "Action=GetCallerIdentity", None) == "GetCallerIdentity"
    assert call_counter.action_of("{}", "", "AWSIdentityManagementV20100508.ListUsers") == "ListUsers"


def test_calls_split_into_iam_and_sts():
    split = bench.split_calls({"iam": {"ListAccessKeys": 2, "CreateAccessKey": 1}, "sts": {"GetCallerIdentity": 3}})
    assert split == {"IAM": {"ListAccessKeys": 2, "CreateAccessKey": 1}, "STS": {"GetCallerIdentity": 3}}


def test_profile_rows_and_kinds(tmp_path):
    timing = tmp_path / "run.timing.json"
    timing.write_text(json.dumps({"end": 10.0, "plays": [], "tasks": [
        {"name": "read", "action": "rotor.iam.credentials_file", "start": 1.0, "hosts": {"h1": ["ok", 2], "h2": ["ok", 3]}},
        {"name": "note", "action": "ansible.builtin.set_fact", "start": 4.0, "hosts": {"h1": ["ok", 4], "h2": ["ok", 4]}},
        {"name": "create", "action": "rotor.iam.access_key_create", "start": 5.0, "hosts": {"h1": ["ok", 6]}},
        {"name": "gone", "action": "ansible.builtin.command", "start": 7.0, "hosts": {"h1": ["skipped", 7], "h2": ["skipped", 7]}},
    ]}))
    rows = bench.task_profile(str(timing))
    assert [(row["name"], row["seconds"], row["ran"], row["skipped"]) for row in rows] == [
        ("read", 3.0, 2, 0), ("note", 1.0, 2, 0), ("create", 2.0, 1, 0), ("gone", 3.0, 0, 2)]
    kinds = bench.profile_breakdown(rows)
    assert kinds[bench.CATEGORIES[0]] == [1, 3.0]
    assert kinds[bench.CATEGORIES[1]] == [2, 4.0]
    assert kinds[bench.CATEGORIES[2]] == [1, 2.0]


def test_markdown_table_pads_columns():
    assert bench.table([("a", 1)], ("name", "n")).splitlines() == ["| name | n |", "|------|---|", "| a    | 1 |"]


def test_options_quick_and_lists():
    args = bench.parse_args(["--quick", "--env", "ANSIBLE_PIPELINING=True", "-e", "rotor_force=true"])
    assert (args.sizes, args.modes, args.repeat, args.audit_users) == ([5], ["local"], 1, [100])
    assert args.env == {"ANSIBLE_PIPELINING": "True"} and args.extra_vars == {"rotor_force": True}


class _Upstream(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        answer = json.dumps({"host": self.headers["Host"], "body": body.decode()}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


def test_counter_forwards_unchanged_and_counts():
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    try:
        with call_counter.CallCounter("http://127.0.0.1:%d" % upstream.server_address[1]) as counter:
            for auth, body in ((IAM_AUTH, b"Action=ListAccessKeys"), (IAM_AUTH, b"Action=ListAccessKeys"), (STS_AUTH, b"Action=GetCallerIdentity")):
                request = urllib.request.Request(counter.url + "/", data=body, headers={"Authorization": auth})
                with urllib.request.urlopen(request, timeout=10) as response:
                    echoed = json.loads(response.read())
                assert echoed["body"] == body.decode()
                assert echoed["host"] == counter.url.split("//")[1]  # the signed Host header is kept
            assert counter.calls() == {"iam": {"ListAccessKeys": 2}, "sts": {"GetCallerIdentity": 1}}
            counter.reset()
            assert counter.calls() == {}
    finally:
        upstream.shutdown()
        upstream.server_close()
