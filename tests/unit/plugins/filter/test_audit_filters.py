"""The audit role's one bookkeeping filter (plugins/filter/audit.py: audit_todo): each step over plain data, and a
step it does not know refused with its name."""

from __future__ import annotations

import pytest

pytest.importorskip("ansible")
from ansible.errors import AnsibleFilterError  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.rotor.iam.plugins.filter.audit import FilterModule  # noqa: E402  pylint: disable=wrong-import-position

audit_todo = FilterModule().filters()["audit_todo"]
KEY = "AKIAAUDITHOST0000001"
HOSTVARS = {
    "web1": {"__rotor_audit_host": {"user": "app", "results": [{"item": {"path": "/etc/app/credentials"}, "access_key_id": KEY, "exists": True}]}},
    "web2": {"__rotor_audit_host": {"user": "app", "results": []}, "rotor_aws_profile": "other"},
    "db1": {},  # did not run the role's hosts entry point
}


def test_the_steps_chain_from_the_host_names_to_the_accounts():
    hosts = audit_todo(["web1", "web2", "db1"], "hosts", hostvars=HOSTVARS)
    assert sorted(hosts) == ["web1", "web2"] and hosts["web1"]["files"][0]["access_key_id"] == KEY
    connections = audit_todo(hosts, "connections", hostvars=HOSTVARS)
    assert len(connections) == 2 and {c["profile"] for c in connections} == {"", "other"}
    accounts = audit_todo([], "accounts", hosts=hosts, hostvars=HOSTVARS)
    assert accounts == [{"account": None, "connection": None, "users": ["app"], "hosts": ["web1", "web2"]}]


def test_an_unknown_step_or_a_missing_hostvars_is_refused_by_name():
    with pytest.raises(AnsibleFilterError, match="audit_todo.*'users' is not one of hosts, connections, accounts, key_ids_needed"):
        audit_todo([], "users", hostvars={})
    with pytest.raises(AnsibleFilterError, match="step connections needs hostvars"):
        audit_todo({}, "connections")


def test_no_key_id_is_needed_from_an_empty_account():
    assert audit_todo({"access_keys": [], "users": []}, "key_ids_needed") == [[]]


def test_audit_documents_names_itself_and_refuses_formats_given_as_text():
    documents = FilterModule().filters()["audit_documents"]
    with pytest.raises(AnsibleFilterError, match="^rotor.iam.audit_documents: formats must be a list"):
        documents({"access_keys": [], "users": []}, formats="json")
