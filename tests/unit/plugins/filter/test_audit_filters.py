"""The audit role's one bookkeeping filter (plugins/filter/audit.py: audit_todo): each step over plain data, and a
step it does not know refused with its name."""

from __future__ import annotations

import re

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


# The renderer filters' options, over a one-user account: one Active key 120 days old, its user's tags read (its own
# rotor:max-age-days), and a second Active key so that the user has two.
def _old_key(position, key_id):
    return {"user_name": "solo", "user": "solo", "position": position, "access_key_id": key_id, "status": "Active", "active": True,
            "create_date": "2020-01-01T00:00:00+00:00", "last_rotated": "2020-01-01T00:00:00+00:00", "age_days": None,
            "last_used_date": None, "last_used_service": None, "last_used_region": None}


ONE_USER = {
    "access_keys": [_old_key(1, "AKIASOLO000000000001"), _old_key(2, "AKIASOLO000000000002")],
    "users": [{"user_name": "solo", "arn": "arn:aws:iam::123456789012:user/solo", "access_key_count": 2, "active_key_count": 2,
               "tags": {"rotor:max-age-days": "30"}}],
    "user_tags_calls": 1,
    "report_generated_time": "2026-11-26T12:00:00+00:00",
    "report_age_seconds": 10,
    "report_requested": False,
}
FILTERS = FilterModule().filters()
BAD_COUNTS = [(-1, "the int -1"), (True, "the bool True"), ("abc", "a text that is not digits"), (2.5, "the float 2.5")]


@pytest.mark.parametrize("bad, shown", BAD_COUNTS)
@pytest.mark.parametrize("option", ["chart_max_keys", "markdown_max_rows", "fail_list_max"])
def test_audit_documents_refuses_a_count_that_is_not_a_whole_number_of_0_or_more(option, bad, shown):
    with pytest.raises(AnsibleFilterError) as refused:
        FILTERS["audit_documents"](ONE_USER, **{option: bad})
    assert str(refused.value) == (f"rotor.iam.audit_documents: {option} must be a whole number of 0 or more (an int or a string of digits), "
                                  f"not {shown}")
    assert "abc" not in str(refused.value)  # a text is described, not quoted: it could be any variable templated in


@pytest.mark.parametrize("bad, shown", BAD_COUNTS)
@pytest.mark.parametrize("name, option", [("audit_markdown", "max_rows"), ("audit_html", "chart_max_keys")])
def test_the_single_renderers_refuse_a_bad_count_by_name(name, option, bad, shown):
    report = FILTERS["audit_report"](ONE_USER)
    with pytest.raises(AnsibleFilterError, match=f"^rotor.iam.{name}: {option} must be a whole number of 0 or more .*not {re.escape(shown)}$"):
        FILTERS[name](report, **{option: bad})


def test_a_count_given_as_a_string_of_digits_is_taken():
    out = FILTERS["audit_documents"](ONE_USER, chart_max_keys="1", markdown_max_rows="1", fail_list_max="3")
    assert "The 1 oldest of 2 keys are drawn" in out["documents"]["html"]
    assert "… and 1 more in the JSON report." in out["documents"]["md"]
    assert "AKIASOLO000000000001" in out["due_message"] and "more" not in out["due_message"]
    report = FILTERS["audit_report"](ONE_USER)
    assert FILTERS["audit_markdown"](report, max_rows="3") == FILTERS["audit_markdown"](report, max_rows=3)
    assert FILTERS["audit_html"](report, chart_max_keys="3") == FILTERS["audit_html"](report, chart_max_keys=3)


def test_counts_of_0_name_nothing_yet_still_count():
    out = FILTERS["audit_documents"](ONE_USER, chart_max_keys=0, markdown_max_rows=0, fail_list_max=0)
    # The failure message says how many keys are due, lists none, and has no dangling list or "and N more".
    assert out["due_message"] == ("2 access key(s) are due for rotation (Active and at least 90 days old, or their own rotor:max-age-days). "
                                  "Rotate them with rotor.iam.rotate; the reports list every key.")
    assert "AKIASOLO" not in out["due_message"]
    assert "No key is drawn; all 2 are in the tables below and in the JSON report." in out["documents"]["html"]
    assert "The 0 oldest" not in out["documents"]["html"]
    markdown = out["documents"]["md"]
    assert "2 rows, listed in the JSON report." in markdown and "| User | Key |" not in markdown and "0 more" not in markdown


@pytest.mark.parametrize("bad, shown", [("Account", "'Account'"), ("everything", "'everything'"), (["account"], "a list"), (None, "a NoneType")])
@pytest.mark.parametrize("name", ["audit_report", "audit_documents"])
def test_a_scope_the_audit_does_not_know_is_refused_with_the_known_ones(name, bad, shown):
    with pytest.raises(AnsibleFilterError) as refused:
        FILTERS[name](ONE_USER, scope=bad)
    assert str(refused.value) == f"rotor.iam.{name}: scope must be one of account, inventory, not {shown}"
    assert FILTERS[name](ONE_USER, scope="inventory")  # the other known scope is taken


def test_one_user_and_one_call_read_in_the_singular():
    out = FILTERS["audit_documents"](ONE_USER)
    assert " 1 user with two Active keys; " in out["summary_text"]
    assert " User tags read for 1 user in 1 ListUserTags call: " in out["summary_text"]
    assert "read for 1 user in 1 ListUserTags call." in out["documents"]["md"]
    assert "(1 user has its own, IAM user tag rotor:max-age-days)" in out["documents"]["md"]
    assert "user tags read for 1 user (1 ListUserTags call)" in out["documents"]["html"]
    assert "1 users" not in out["summary_text"] + out["documents"]["md"] + out["documents"]["html"]
