"""The run's IAM users and the AWS connections that reach them (plugins/module_utils/_rotation/fleet.py)."""

import pytest

from ansible_collections.rotor.iam.plugins.module_utils._rotation import fleet

A = {"profile": "a", "region": "", "endpoint_url": ""}
B = {"profile": "b", "region": "eu-west-1", "endpoint_url": ""}


def facts(user, connection, **extra):
    return dict({"rotor_iam_user": user, "rotor_aws_profile": connection["profile"], "rotor_aws_region": connection["region"]}, **extra)


def test_each_connection_of_the_hosts_once_sorted():
    hostvars = {"web1": facts("app", B), "web2": facts("app", B), "db1": facts("db", A)}
    assert fleet.connections(hostvars, ["web1", "web2", "db1"]) == [A, B]


def test_two_accounts_make_two_users_of_one_name_each_checked_on_its_own_connection():
    hostvars = {"web1": facts("app", A), "web2": facts("app", B)}
    identities = [{"item": A, "account": "111111111111"}, {"item": B, "account": "222222222222"}]
    users = fleet.fleet_users(hostvars, ["web1", "web2"], identities)
    assert sorted(users["users"]) == ["111111111111:app", "222222222222:app"]
    assert users["users"]["111111111111:app"]["target"] == dict(A, name="app")
    checks = fleet.connection_users(users)
    assert [(check["profile"], check["user_names"]) for check in checks] == [("a", ["app"]), ("b", ["app"])]
    assert all(check["actions"] and check["target"] == {k: check[k] for k in ("profile", "region", "endpoint_url")} for check in checks)


def test_a_connection_that_does_not_answer_and_hosts_that_disagree_refuse_their_user_only():
    hostvars = {"web1": facts("app", A), "web2": facts("app", B), "db1": facts("db", A), "batch1": facts("batch", B)}
    identities = [{"item": A, "account": "111111111111"}, {"item": B, "failed": True, "msg": "InvalidClientTokenId"}]
    users = fleet.fleet_users(hostvars, ["web1", "web2", "db1", "batch1"], identities)["users"]
    assert "do not agree on the AWS connection" in users["app"]["error"]
    assert "does not answer sts:GetCallerIdentity: InvalidClientTokenId" in users["batch"]["error"]
    assert users["db"]["error"] is None
    assert fleet.lockable_users({"users": users}) == ["db"]


def test_fleet_users_adds_a_user_only_destinations_name_with_the_destinations_connection():
    hostvars = {"web1": facts("app", B)}
    destinations = [{"user": "app", "type": "ssm", "name": "/k/app"},  # a user the hosts name: nothing added
                    {"user": "lambda-app", "type": "secretsmanager", "name": "k/lambda", "region": "us-east-1"},
                    {"user": "123456789012:batch", "type": "ssm", "name": "/k/batch"}]
    users = fleet.fleet_users(hostvars, ["web1"], destinations=destinations)["users"]
    assert sorted(users) == ["123456789012:batch", "app", "lambda-app"]
    assert users["lambda-app"]["hosts"] == [] and users["lambda-app"]["connection"]["region"] == "us-east-1"
    assert users["123456789012:batch"]["user_name"] == "batch" and users["123456789012:batch"]["account"] == "123456789012"
    assert users["123456789012:batch"]["connection"]["region"] == "eu-west-1"  # the play's first host's
    # A destination that names a user of the hosts another way never makes a second reference to that user.
    assert "999999999999:app" not in fleet.fleet_users(hostvars, ["web1"], destinations=[{"user": "999999999999:app"}])["users"]


def test_fleet_users_and_lockable_users_raise_on_malformed_input():
    # The filters that call them (rotor.iam.rotation_start, rotor.iam.workflow_todo) turn these into one error naming
    # themselves: tests/unit/plugins/filter/test_engine_filters.py, test_workflow_filters.py.
    with pytest.raises(KeyError):
        fleet.fleet_users({}, ["web1"])  # a host without its variables
    with pytest.raises(ValueError):
        fleet.lockable_users({"users": ["not", "a", "mapping"]})
