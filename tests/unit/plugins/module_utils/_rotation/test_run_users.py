"""The run's IAM users and the AWS connections that reach them (plugins/module_utils/_rotation/fleet.py)."""

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
