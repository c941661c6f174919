"""benchmarks/call_counter.py: how a request is attributed to a service and an action (no server: tests/unit starts none;
the forwarding itself carries every IAM call of every benchmark run)."""

import os
import sys

import pytest

BENCHMARKS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "benchmarks"))
sys.path.insert(0, BENCHMARKS)

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
