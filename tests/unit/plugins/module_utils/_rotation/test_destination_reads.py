"""The secret destinations before the run record (plugins/module_utils/_rotation/destinations.py): which are read at plan
time and what they hold; a bad rotor_secret_destinations is refused naming the entry. What the run writes, checks and
restores: test_destination_work.py. That rotor.iam.rotation_start turns a refusal into a filter error naming itself:
tests/unit/plugins/filter/test_engine_filters.py."""

import pytest

from ansible_collections.rotor.iam.plugins.module_utils._rotation.destinations import DestinationError
from ansible_collections.rotor.iam.plugins.module_utils._rotation.destinations import destination_holdings
from ansible_collections.rotor.iam.plugins.module_utils._rotation.destinations import destinations_to_read

USERS = {"users": {"app": {"connection": {"profile": "", "region": "eu-west-1", "endpoint_url": "http://iam"}}}}
OLD = "AKIAOLD0000000000000"


def dest(user, kind="secretsmanager", name=None, **extra):
    return dict({"user": user, "type": kind, "name": name or f"rotor/keys/{user}-{kind}"}, **extra)


def test_a_bad_destination_is_refused_naming_the_entry():
    # Every refusal is check_destinations' (test_destination_work.py); the reads before the plan go through it too.
    with pytest.raises(DestinationError, match=r"rotor_secret_destinations\[1\]: secretsmanager .* is listed twice"):
        destinations_to_read([dest("app"), dest("app")], USERS)


def test_destinations_to_read_are_those_of_the_runs_users_with_their_connection():
    chosen = destinations_to_read([dest("app"), dest("nobody")], USERS)
    assert [d["user"] for d in chosen] == ["app"] and chosen[0]["endpoint_url"] == "http://iam"
    assert chosen[0]["target"] == {"profile": "", "region": "eu-west-1", "endpoint_url": "http://iam"}
    assert destinations_to_read(None, USERS) == [] and destinations_to_read([dest("app")], None) == []


def test_what_each_destination_holds_and_which_could_not_be_read():
    reads = {"results": [{"item": dest("app", kind="ssm", name="/k/app"), "access_key_id": OLD},
                         {"item": dest("app"), "access_key_id": None},
                         {"item": dest("db"), "failed": True, "msg": "AccessDenied"},
                         {"item": dest("idle"), "skipped": True},
                         {"item": "not a destination", "access_key_id": OLD}]}
    holdings, unreadable = destination_holdings(reads)
    assert holdings == {"app": {"ssm:/k/app": OLD, "secretsmanager:rotor/keys/app-secretsmanager": None}}
    assert list(unreadable) == ["db"] and "its secretsmanager destination rotor/keys/db-secretsmanager could not be read (AccessDenied)" in (
        unreadable["db"])
    assert destination_holdings(None) == ({}, {}) and destination_holdings(reads["results"])[0] == holdings
