"""Unit tests for access_key_info's input checks: which users to list, and the numbers."""

import pytest

from ansible_collections.rotor.iam.plugins.modules.access_key_info import _numbers_error
from ansible_collections.rotor.iam.plugins.modules.access_key_info import _selection_error

DEFAULTS = {
    "user_name": None,
    "user_names": None,
    "all_users": False,
    "resolve_key_ids_for": [],
    "max_age_days": None,
    "report_max_age": 14400,
    "report_timeout": 300,
}


def params(**overrides):
    return dict(DEFAULTS, **overrides)


@pytest.mark.parametrize(
    "given",
    [{"user_name": "alice"}, {"user_names": ["alice", "bob"]}, {"user_names": []}, {"all_users": True}, {"all_users": True, "resolve_key_ids_for": ["alice"]}],
)
def test_one_selection_is_accepted(given):
    assert _selection_error(params(**given)) is None


@pytest.mark.parametrize(
    "given, named",
    [
        ({"user_name": "alice", "user_names": ["bob"]}, "user_name and user_names"),
        ({"user_name": "alice", "all_users": True}, "user_name and all_users=true"),
        ({"user_names": ["bob"], "all_users": True}, "user_names and all_users=true"),
    ],
)
def test_selections_are_mutually_exclusive(given, named):
    assert _selection_error(params(**given)).startswith(f"{named} are mutually exclusive")


def test_a_selection_is_required():
    assert "One of user_name, user_names or all_users=true is required" in _selection_error(params())


def test_resolve_key_ids_for_needs_all_users():
    assert "resolve_key_ids_for only applies with all_users=true" in _selection_error(params(user_name="a", resolve_key_ids_for=["a"]))


@pytest.mark.parametrize(
    "given, message",
    [
        ({"max_age_days": -1}, "max_age_days must be 0 or more, got -1."),
        ({"report_max_age": -5}, "report_max_age must be 0 or more, got -5."),
        ({"report_timeout": 0}, "report_timeout must be a positive number of seconds, got 0."),
        ({"user_names": ["alice", " "]}, "user_names has an empty user name at position 1"),
    ],
)
def test_bad_numbers_and_names_are_named(given, message):
    assert _numbers_error(params(**given)).startswith(message)


def test_good_numbers_pass():
    assert _numbers_error(params(max_age_days=0, report_max_age=0)) is None
