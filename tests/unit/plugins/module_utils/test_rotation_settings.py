"""The rotate role's run-wide variables are checked before anything changes; a refused value is never quoted."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.module_utils.rotation_settings import batch_size_problem
from ansible_collections.rotor.iam.plugins.module_utils.rotation_settings import check_settings
from ansible_collections.rotor.iam.plugins.module_utils.rotation_settings import key_id_list
from ansible_collections.rotor.iam.plugins.module_utils.rotation_settings import split_key_ids

ONE = "AKIAIOSFODNN7EXAMPLE"
TWO = "ASIAY34FZKBOKMUTVV7A"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize("given_value", [
    [ONE, TWO], f"{ONE},{TWO}", f"{ONE}, {TWO}", f"{ONE} {TWO}", f" {ONE}\n{TWO} ", [f"{ONE}, {TWO}"], (ONE, TWO, ONE),
])
def test_leaked_key_ids_as_a_list_or_an_awx_survey_text(given_value):
    assert key_id_list(given_value) == ([ONE, TWO], [])
    assert split_key_ids(given_value)[:2] == [ONE, TWO]


@pytest.mark.parametrize("empty", [None, "", [], " , "])
def test_no_leaked_keys(empty):
    assert key_id_list(empty) == ([], [])


def test_an_entry_that_is_not_a_key_id_is_refused_without_being_quoted():
    ids, problems = key_id_list(f"{ONE}, {SECRET}, abc")

    assert ids == [ONE]
    assert len(problems) == 1
    assert "entry 2 (a text of 40 characters), entry 3 (a text of 3 characters)" in problems[0]
    assert SECRET not in problems[0] and "abc" not in problems[0]
    assert "Nothing was changed" in problems[0]


@given(st.text(min_size=1, max_size=60))
def test_a_refused_entry_is_never_echoed(text):
    _ids, problems = key_id_list([text])
    entries = split_key_ids(text)
    # The same message for entries of the same lengths that echo nothing: what is in it is the message's own wording.
    wording = key_id_list([" ".join("\u2603" * len(entry) for entry in entries)])[1] if problems else []
    for entry in entries:
        if problems and len(entry) > 3 and "\u2603" not in entry:
            assert entry not in problems[0] or entry in wording[0]


@pytest.mark.parametrize("size", [1, 5, "5", "25%", "100%", "12.5%", [1, "50%", "100%"]])
def test_batch_sizes_the_playbook_can_serve(size):
    assert batch_size_problem(size) is None


@pytest.mark.parametrize("size", ["abc", 0, -1, "0%", "150%", "", True, [], ["abc"], {"a": 1}, 1.5])
def test_batch_sizes_refused_before_anything_changes(size):
    problem = batch_size_problem(size)
    assert problem.startswith("rotor_batch_size must be a whole number of hosts") and "Nothing was changed" in problem


def test_bounds():
    checked = check_settings({"rotor_lock_ttl_minutes": 10 ** 9, "rotor_verify_timeout": 0, "rotor_drain_seconds": "x",
                              "rotor_lock_settle_seconds": 2.5, "rotor_max_key_age_days": 90})
    assert checked["problems"] == [
        "rotor_verify_timeout must be a number of seconds from 1 to 3600; got 0. Nothing was changed.",
        "rotor_drain_seconds must be a number of seconds from 0 to 604800; got a text of 1 characters. Nothing was changed.",
        "rotor_lock_ttl_minutes must be a number of minutes from 1 to 10080; got 1000000000. Nothing was changed.",
    ]


def test_the_role_defaults_pass():
    defaults = {"rotor_compromised_key_ids": [], "rotor_batch_size": "100%", "rotor_max_key_age_days": 90,
                "rotor_delete_inactive_after_days": 7, "rotor_verify_timeout": 120, "rotor_in_use_window_minutes": 60,
                "rotor_drain_seconds": 0, "rotor_lock_ttl_minutes": 60, "rotor_lock_settle_seconds": 2}
    assert check_settings(defaults) == {"problems": [], "compromised_key_ids": []}


def test_health_check_warnings_name_unchecked_hosts_of_due_users():
    from ansible_collections.rotor.iam.plugins.module_utils.rotation_settings import health_check_warnings

    plans = {"app": {"due": True, "error": None, "hosts": ["web1", "web2"]},
             "all-unchecked": {"due": True, "error": None, "hosts": ["db1"]},
             "young": {"due": False, "error": None, "hosts": ["web3"]}}
    checks = {"web1": {"url": "http://web1/health"}, "web2": {}, "db1": {"retries": 3}, "web3": {}}

    assert health_check_warnings(plans, checks) == [
        "WARNING all-unchecked: its hosts have no health check (rotor_health_check): only the key's acceptance by AWS will be checked: "
        "an application that fails on the new key will not be noticed",
        "WARNING app: web2 have no health check (rotor_health_check): only the key's acceptance by AWS will be checked: "
        "an application that fails on the new key will not be noticed",
    ]
