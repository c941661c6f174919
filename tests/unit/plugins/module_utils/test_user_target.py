"""The shared iam_user and lock options: composed into each controller module's spec once, resolved into its flat options."""

from __future__ import annotations

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.amazon.aws.plugins.module_utils.modules import aws_argument_spec

from ansible_collections.rotor.iam.plugins.module_utils._user_target import resolve_user_target
from ansible_collections.rotor.iam.plugins.module_utils._user_target import with_user_target
from ansible_collections.rotor.iam.plugins.modules import access_key_create
from ansible_collections.rotor.iam.plugins.modules import access_key_delete
from ansible_collections.rotor.iam.plugins.modules import access_key_info
from ansible_collections.rotor.iam.plugins.modules import access_key_status
from ansible_collections.rotor.iam.plugins.modules import access_key_verify
from ansible_collections.rotor.iam.plugins.modules import caller_identity
from ansible_collections.rotor.iam.plugins.modules import pending_secret
from ansible_collections.rotor.iam.plugins.modules import quarantine_policy
from ansible_collections.rotor.iam.plugins.modules import rotation_journal
from ansible_collections.rotor.iam.plugins.modules import secret_destination

USER_MODULES = [access_key_create, access_key_delete, access_key_info, access_key_status, access_key_verify, caller_identity,
                pending_secret, quarantine_policy, rotation_journal, secret_destination]
LOCK_MODULES = [access_key_delete, access_key_status, pending_secret, rotation_journal]
TARGET = {"name": "svc-app", "profile": "prod", "region": "eu-west-1", "endpoint_url": "http://127.0.0.1:5000"}


def validated(module, params):
    spec = dict(module.module_spec())
    argument_spec = aws_argument_spec()  # the connection options, as the modules get them
    argument_spec.update(spec.pop("argument_spec"))
    result = ArgumentSpecValidator(argument_spec, **spec).validate(params)
    return result.validated_parameters, result.error_messages


@pytest.mark.parametrize("module", USER_MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_controller_module_takes_the_same_iam_user_option(module):
    spec = module.module_spec()["argument_spec"]
    assert set(spec["iam_user"]["options"]) == {"name", "profile", "region", "endpoint_url"}


@pytest.mark.parametrize("module", LOCK_MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_lock_taking_module_takes_the_same_lock_option(module):
    spec = module.module_spec()["argument_spec"]
    assert set(spec["lock"]["options"]) == {"run_id", "lease", "ttl_minutes", "detached"}


def test_iam_user_becomes_the_user_name_and_replaces_the_task_connection():
    params, errors = validated(access_key_delete, {"iam_user": dict(TARGET, profile=None), "access_key_id": "AKIAEXAMPLE000000001",
                                                   "profile": "from-module-defaults", "lock": {"run_id": "r1", "lease": {"x": 1}}})
    assert not errors
    resolve_user_target(params)
    assert params["user_name"] == "svc-app"
    assert params["profile"] is None  # the user's own connection: none given means the environment's
    assert (params["region"], params["endpoint_url"]) == ("eu-west-1", "http://127.0.0.1:5000")
    assert (params["lock_run_id"], params["lock_lease"]) == ("r1", {"x": 1})


def test_the_journal_takes_every_field_of_the_lock_and_keeps_its_defaults_for_the_rest():
    params, errors = validated(rotation_journal, {"iam_user": TARGET, "state": "locked", "lock": {"run_id": "r1", "detached": True}})
    assert not errors
    resolve_user_target(params)
    assert (params["run_id"], params["detached"], params["lock_ttl_minutes"], params["lease"]) == ("r1", True, 60, None)


@pytest.mark.parametrize("params, named", [
    ({"iam_user": TARGET, "user_name": "svc-app", "access_key_id": "AKIAEXAMPLE000000001"}, "user_name|iam_user"),
    ({"iam_user": TARGET, "access_key_id": "AKIAEXAMPLE000000001", "lock": {"run_id": "r1"}, "lock_run_id": "r1"}, "lock_run_id|lock"),
    ({"access_key_id": "AKIAEXAMPLE000000001"}, "user_name, iam_user"),
    ({"iam_user": {"profile": "prod"}, "access_key_id": "AKIAEXAMPLE000000001"}, "name"),
])
def test_a_user_or_a_lock_given_twice_or_not_at_all_is_refused_by_name(params, named):
    _params, errors = validated(access_key_delete, params)
    assert errors and named in " ".join(errors)


def test_a_rule_that_requires_a_flat_lock_option_accepts_the_lock_instead():
    present = {"iam_user": TARGET, "state": "present", "access_key_id": "AKIAEXAMPLE000000001", "secret_access_key": "x" * 40}
    _params, errors = validated(pending_secret, dict(present, lock={"run_id": "r1"}))
    assert not errors
    _params, errors = validated(pending_secret, present)
    assert errors and "run_id" in " ".join(errors)


def test_a_module_without_user_name_gets_no_rule_about_it():
    spec = with_user_target({"argument_spec": {"access_key_id": {"type": "str"}}}, name_required=False)
    assert "required_one_of" not in spec and "mutually_exclusive" not in spec


def test_a_secret_destination_takes_its_connection_as_iam_user_without_a_name():
    params, errors = validated(secret_destination, {"iam_user": {"profile": "prod", "region": "eu-west-1", "endpoint_url": ""},
                                                    "type": "ssm", "name": "/app/key", "state": "read", "region": "us-east-1"})
    assert not errors
    resolve_user_target(params)
    assert (params["profile"], params["region"], params["endpoint_url"]) == ("prod", "eu-west-1", None)
    assert params["name"] == "/app/key"  # the destination's own name, not the user's


def test_the_quarantine_takes_its_user_as_iam_user():
    params, errors = validated(quarantine_policy, {"iam_user": TARGET, "leaked_access_key_id": "AKIAEXAMPLE000000001"})
    assert not errors
    resolve_user_target(params)
    assert (params["user_name"], params["profile"]) == ("svc-app", "prod")
