"""Unit tests for plugins/module_utils/pending_store.py: a fake Secrets Manager client, no network."""

import json
import re
import string

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from ansible_collections.rotor.iam.plugins.module_utils.pending_store import DEFAULT_PREFIX
from ansible_collections.rotor.iam.plugins.module_utils.pending_store import ensure_absent
from ansible_collections.rotor.iam.plugins.module_utils.pending_store import ensure_present
from ansible_collections.rotor.iam.plugins.module_utils.pending_store import explain_error
from ansible_collections.rotor.iam.plugins.module_utils.pending_store import read_pending
from ansible_collections.rotor.iam.plugins.module_utils.pending_store import secret_name

USER = "app-backup"
NAME = "rotor/pending/app-backup"
KEY_ID = "AKIAIOSFODNN7EXAMPLE"
OTHER_KEY_ID = "AKIAI44QH8DHBEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
OTHER_SECRET = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
RUN = "4711"
WRITE_CALLS = ("create_secret", "put_secret_value", "tag_resource", "untag_resource", "delete_secret", "update_secret")
# Secrets Manager's rule for secret names.
SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
IAM_USER_NAMES = st.text(alphabet=string.ascii_letters + string.digits + "+=,.@_-", min_size=1, max_size=64)


def client_error(code, message="AWS says no", operation="Operation"):
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class FakeSecretsManager:
    """Enough of a boto3 secretsmanager client: secrets in memory, every call recorded."""

    def __init__(self, errors=None):
        self.secrets = {}  # name -> {"arn", "value", "tags", "kms"}
        self.calls = []
        self.errors = dict(errors or {})

    def _record(self, name, kwargs):
        assert kwargs.pop("aws_retry", None) is True, f"{name} called without aws_retry=True"
        self.calls.append((name, kwargs))
        if name in self.errors:
            raise self.errors[name]

    def _get(self, secret_id, operation):
        if secret_id not in self.secrets:
            raise client_error("ResourceNotFoundException", "Secrets Manager can't find the specified secret.", operation)
        return self.secrets[secret_id]

    def stage(self, name=NAME, key_id=KEY_ID, secret=SECRET, run_id=RUN, user=USER, tags=None):
        """A secret as pending_secret would have written it (or with ``tags`` instead)."""
        if tags is None:
            tags = {"rotor:run-id": run_id, "rotor:user": user, "rotor:access-key-id": key_id}
        self.secrets[name] = {
            "arn": f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf",
            "value": json.dumps({"access_key_id": key_id, "secret_access_key": secret}),
            "tags": dict(tags),
            "kms": None,
        }

    def describe_secret(self, **kwargs):
        self._record("describe_secret", kwargs)
        secret = self._get(kwargs["SecretId"], "DescribeSecret")
        return {"ARN": secret["arn"], "Name": kwargs["SecretId"], "KmsKeyId": secret["kms"],
                "Tags": [{"Key": k, "Value": v} for k, v in secret["tags"].items()]}

    def get_secret_value(self, **kwargs):
        self._record("get_secret_value", kwargs)
        return {"SecretString": self._get(kwargs["SecretId"], "GetSecretValue")["value"]}

    def create_secret(self, **kwargs):
        self._record("create_secret", kwargs)
        name = kwargs["Name"]
        self.secrets[name] = {"arn": f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-XyZ123",
                              "value": kwargs["SecretString"], "kms": kwargs.get("KmsKeyId"),
                              "tags": {t["Key"]: t["Value"] for t in kwargs.get("Tags", [])}}
        return {"ARN": self.secrets[name]["arn"], "Name": name}

    def put_secret_value(self, **kwargs):
        self._record("put_secret_value", kwargs)
        self._get(kwargs["SecretId"], "PutSecretValue")["value"] = kwargs["SecretString"]
        return {}

    def tag_resource(self, **kwargs):
        self._record("tag_resource", kwargs)
        self._get(kwargs["SecretId"], "TagResource")["tags"].update({t["Key"]: t["Value"] for t in kwargs["Tags"]})
        return {}

    def delete_secret(self, **kwargs):
        self._record("delete_secret", kwargs)
        self._get(kwargs["SecretId"], "DeleteSecret")
        del self.secrets[kwargs["SecretId"]]
        return {}

    def writes(self):
        return [name for name, _kwargs in self.calls if name in WRITE_CALLS]

    def stored_value(self, name=NAME):
        return json.loads(self.secrets[name]["value"])


def present(client, **overrides):
    args = dict(user_name=USER, access_key_id=KEY_ID, secret_access_key=SECRET, run_id=RUN)
    args.update(overrides)
    return ensure_present(client, **args)


def assert_no_secret(result, *secrets):
    text = json.dumps(result)
    for secret in secrets or (SECRET, OTHER_SECRET):
        assert secret not in text, "a secret is in the result or its diff"


# --------------------------------------------------------------------------- present


def test_present_creates_the_secret_with_its_tags_and_json_value():
    client = FakeSecretsManager()

    result = present(client, kms_key_id="alias/rotor")

    assert result["changed"] and result["exists"]
    assert result["name"] == NAME and result["arn"].startswith(f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{NAME}-")
    assert (result["access_key_id"], result["run_id"]) == (KEY_ID, RUN)
    assert client.stored_value() == {"access_key_id": KEY_ID, "secret_access_key": SECRET}
    assert client.secrets[NAME]["tags"] == {"rotor:run-id": RUN, "rotor:user": USER, "rotor:access-key-id": KEY_ID}
    assert client.secrets[NAME]["kms"] == "alias/rotor"
    assert result["diff"] == {"before": {"exists": False, "access_key_id": None, "run_id": None},
                              "after": {"exists": True, "access_key_id": KEY_ID, "run_id": RUN}}
    assert_no_secret(result)


def test_present_again_with_the_same_key_run_and_value_changes_nothing():
    client = FakeSecretsManager()
    present(client)
    client.calls.clear()

    result = present(client)

    assert not result["changed"]
    assert client.writes() == []
    assert [name for name, _kwargs in client.calls] == ["describe_secret", "get_secret_value"]
    assert_no_secret(result)


def test_present_with_a_changed_value_puts_it_without_retagging():
    client = FakeSecretsManager()
    client.stage(secret=OTHER_SECRET)

    result = present(client)

    assert result["changed"]
    assert client.writes() == ["put_secret_value"]
    assert client.stored_value()["secret_access_key"] == SECRET
    assert_no_secret(result)


@pytest.mark.parametrize(
    "staged, named",
    [
        pytest.param(dict(run_id="4700"), ["'4700'", "'4711'"], id="another run"),
        pytest.param(dict(key_id=OTHER_KEY_ID), [OTHER_KEY_ID, KEY_ID], id="another key"),
        pytest.param(dict(user="someone-else"), ["'someone-else'", f"'{USER}'"], id="another user"),
        pytest.param(dict(tags={}), ["no rotor tags"], id="not rotor's"),
    ],
)
def test_present_refuses_a_secret_of_another_run_key_or_owner(staged, named):
    client = FakeSecretsManager()
    client.stage(secret=OTHER_SECRET, **staged)

    with pytest.raises(RotorIAMError) as refused:
        present(client)

    for part in named + [NAME, "force=true"]:
        assert part in refused.value.message
    assert client.writes() == []
    assert OTHER_SECRET not in refused.value.message and SECRET not in refused.value.message


def test_present_with_force_overwrites_value_and_tags_of_another_run():
    client = FakeSecretsManager()
    client.stage(key_id=OTHER_KEY_ID, secret=OTHER_SECRET, run_id="4700")

    result = present(client, force=True)

    assert result["changed"]
    assert client.writes() == ["put_secret_value", "tag_resource"]
    assert client.stored_value() == {"access_key_id": KEY_ID, "secret_access_key": SECRET}
    assert client.secrets[NAME]["tags"]["rotor:run-id"] == RUN
    assert result["diff"]["before"] == {"exists": True, "access_key_id": OTHER_KEY_ID, "run_id": "4700"}
    assert_no_secret(result)


def test_present_passes_one_request_token_to_each_write_so_a_retry_is_not_applied_twice():
    client = FakeSecretsManager()
    present(client, token="0" * 32)
    client.stage(secret=OTHER_SECRET)
    present(client, token="1" * 32)

    tokens = [kwargs["ClientRequestToken"] for name, kwargs in client.calls if name in ("create_secret", "put_secret_value")]
    assert tokens == ["0" * 32, "1" * 32]


# --------------------------------------------------------------------------- check mode


@pytest.mark.parametrize(
    "staged, run, expect_changed",
    [
        pytest.param(None, lambda c: present(c, check_mode=True), True, id="present new"),
        pytest.param({}, lambda c: present(c, check_mode=True), False, id="present same"),
        pytest.param(dict(secret=OTHER_SECRET), lambda c: present(c, check_mode=True), True, id="present new value"),
        pytest.param(dict(run_id="1"), lambda c: present(c, check_mode=True, force=True), True, id="present forced"),
        pytest.param({}, lambda c: ensure_absent(c, USER, check_mode=True), True, id="absent"),
        pytest.param(None, lambda c: ensure_absent(c, USER, check_mode=True), False, id="absent already"),
        pytest.param({}, lambda c: read_pending(c, USER, return_secret=True), False, id="read"),
    ],
)
def test_check_mode_predicts_the_change_and_writes_nothing(staged, run, expect_changed):
    client = FakeSecretsManager()
    if staged is not None:
        client.stage(**staged)
    before = json.dumps(client.secrets, sort_keys=True)

    result = run(client)

    assert result["changed"] is expect_changed
    assert client.writes() == []
    assert json.dumps(client.secrets, sort_keys=True) == before
    assert_no_secret(result.get("diff", {}))


def test_check_mode_present_of_a_new_secret_has_no_arn_yet():
    result = present(FakeSecretsManager(), check_mode=True)
    assert result["arn"] is None and result["exists"]


# --------------------------------------------------------------------------- read


def test_read_reports_key_and_run_without_the_secret():
    client = FakeSecretsManager()
    client.stage()

    result = read_pending(client, USER, run_id=RUN, access_key_id=KEY_ID)

    assert result == {"changed": False, "name": NAME, "arn": client.secrets[NAME]["arn"], "exists": True,
                      "access_key_id": KEY_ID, "run_id": RUN}
    assert [name for name, _kwargs in client.calls] == ["describe_secret"]  # the value is not even fetched


def test_read_returns_the_secret_only_when_asked():
    client = FakeSecretsManager()
    client.stage()

    result = read_pending(client, USER, return_secret=True)

    assert result["secret_access_key"] == SECRET and result["access_key_id"] == KEY_ID


def test_read_of_nothing_is_not_an_error():
    result = read_pending(FakeSecretsManager(), USER, run_id=RUN, return_secret=True)
    assert result == {"changed": False, "name": NAME, "arn": None, "exists": False, "access_key_id": None,
                      "run_id": None, "secret_access_key": None}


def test_read_refuses_another_runs_secret_naming_both_run_ids_unless_forced():
    client = FakeSecretsManager()
    client.stage(run_id="awx-100")

    with pytest.raises(RotorIAMError) as refused:
        read_pending(client, USER, run_id="awx-200", return_secret=True)
    forced = read_pending(client, USER, run_id="awx-200", return_secret=True, force=True)

    assert "'awx-100'" in refused.value.message and "'awx-200'" in refused.value.message
    assert SECRET not in refused.value.message
    assert [name for name, _kwargs in client.calls].count("get_secret_value") == 1  # refused before the value is read
    assert forced["run_id"] == "awx-100" and forced["secret_access_key"] == SECRET


def test_read_refuses_a_value_that_disagrees_with_its_tag():
    client = FakeSecretsManager()
    client.stage()
    client.secrets[NAME]["value"] = json.dumps({"access_key_id": OTHER_KEY_ID, "secret_access_key": OTHER_SECRET})

    with pytest.raises(RotorIAMError) as refused:
        read_pending(client, USER, return_secret=True)

    assert OTHER_KEY_ID in refused.value.message and OTHER_SECRET not in refused.value.message


# --------------------------------------------------------------------------- absent


def test_absent_deletes_without_recovery_and_is_idempotent():
    client = FakeSecretsManager()
    client.stage()
    arn = client.secrets[NAME]["arn"]

    removed = ensure_absent(client, USER, run_id=RUN, access_key_id=KEY_ID)
    again = ensure_absent(client, USER, run_id=RUN)

    assert removed["changed"] and not removed["exists"]
    assert (removed["arn"], removed["access_key_id"], removed["run_id"]) == (arn, KEY_ID, RUN)
    assert [kwargs for name, kwargs in client.calls if name == "delete_secret"] == [
        {"SecretId": NAME, "ForceDeleteWithoutRecovery": True}]
    assert not again["changed"] and NAME not in client.secrets
    assert_no_secret(removed)


def test_absent_refuses_another_runs_or_keys_secret_unless_forced():
    client = FakeSecretsManager()
    client.stage(run_id="awx-100")

    with pytest.raises(RotorIAMError) as other_run:
        ensure_absent(client, USER, run_id="awx-200")
    with pytest.raises(RotorIAMError) as other_key:
        ensure_absent(client, USER, access_key_id=OTHER_KEY_ID)

    assert "'awx-100'" in other_run.value.message and "'awx-200'" in other_run.value.message
    assert KEY_ID in other_key.value.message and OTHER_KEY_ID in other_key.value.message
    assert client.writes() == []
    assert ensure_absent(client, USER, run_id="awx-200", force=True)["changed"]


def test_absent_when_deleted_meanwhile_is_done():
    client = FakeSecretsManager(errors={"delete_secret": client_error("ResourceNotFoundException")})
    client.stage()
    assert ensure_absent(client, USER)["changed"]


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "code, says",
    [
        ("AccessDeniedException", "arn:aws:secretsmanager:<region>:<account>:secret:rotor/pending/app-backup-*"),
        ("UnrecognizedClientException", "connection options"),
        ("ThrottlingException", "retry later"),
        ("KMSInvalidStateException", "kms_key_id"),
    ],
)
def test_errors_name_the_secret_and_say_what_to_do(code, says):
    client = FakeSecretsManager(errors={"create_secret": client_error(code)})

    with pytest.raises(RotorIAMError) as failed:
        present(client)

    assert says in failed.value.message and NAME in failed.value.message
    assert failed.value.code == code and SECRET not in failed.value.message


def test_describe_errors_other_than_not_found_are_raised():
    client = FakeSecretsManager(errors={"describe_secret": client_error("AccessDeniedException")})
    with pytest.raises(RotorIAMError) as failed:
        read_pending(client, USER)
    assert "secretsmanager:DescribeSecret" in failed.value.message


def test_explain_error_without_an_aws_answer_points_at_the_connection():
    from botocore.exceptions import EndpointConnectionError  # pylint: disable=import-outside-toplevel

    error = explain_error(EndpointConnectionError(endpoint_url="https://x.invalid"), "secretsmanager:GetSecretValue", NAME)
    assert "endpoint_url" in error.message


def test_explain_error_never_quotes_the_value_botocore_rejected():
    from botocore.exceptions import ParamValidationError  # pylint: disable=import-outside-toplevel

    rejected = ParamValidationError(report=f"Invalid type for parameter SecretString, value: {{'SecretAccessKey': '{SECRET}'}}")
    error = explain_error(rejected, "secretsmanager:PutSecretValue", NAME)
    assert SECRET not in error.message and "ParamValidationError" in error.message


@pytest.mark.parametrize("run_id", ["", "a,b", "x" * 257, "run#1"])
def test_a_run_id_that_cannot_be_a_tag_value_is_refused_before_any_call(run_id):
    client = FakeSecretsManager()
    with pytest.raises(RotorIAMError) as refused:
        present(client, run_id=run_id)
    assert "run_id" in refused.value.message and client.calls == []


# --------------------------------------------------------------------------- the name rule


@pytest.mark.parametrize(
    "user, name",
    [
        ("app-backup", "rotor/pending/app-backup"),
        ("app,ops", "rotor/pending/app=2Cops"),
        ("a=b", "rotor/pending/a=3Db"),
        ("a=2Cb", "rotor/pending/a=3D2Cb"),
        ("222222222222:app", "rotor/pending/222222222222/app"),
    ],
)
def test_name_rule(user, name):
    assert secret_name(user) == name


@pytest.mark.parametrize("user", ["", "a/b", "a b", "ä", "x" * 65, "12345:app", "222222222222:"])
def test_name_rule_refuses_what_is_not_an_iam_user_name_or_account_ref(user):
    with pytest.raises(RotorIAMError) as refused:
        secret_name(user)
    assert "user_name" in refused.value.message


def test_name_rule_refuses_a_prefix_secrets_manager_would_refuse():
    with pytest.raises(RotorIAMError) as refused:
        secret_name(USER, prefix="rotor pending:")
    assert "prefix" in refused.value.message


@settings(max_examples=300, deadline=None)
@given(IAM_USER_NAMES, IAM_USER_NAMES, st.sampled_from([None, "111111111111", "222222222222"]),
       st.sampled_from([None, "111111111111", "222222222222"]))
def test_any_user_maps_to_a_valid_prefix_scoped_name_and_no_two_users_share_one(first, second, first_account, second_account):
    first_ref = f"{first_account}:{first}" if first_account else first
    second_ref = f"{second_account}:{second}" if second_account else second

    name = secret_name(first_ref)

    assert SECRET_NAME.fullmatch(name), name
    assert name.startswith(DEFAULT_PREFIX)
    assert ":" not in name and "," not in name
    if first_ref != second_ref:
        assert secret_name(second_ref) != name
