"""Unit tests for plugins/module_utils/destinations.py: fake Secrets Manager and SSM clients with versions, no network.

The end-to-end behaviour against the endpoint is in tests/integration/test_secret_destination_*.py; here the guards
and the invariants: no result carries a secret, check mode writes nothing, a restore only undoes rotor's own write.
"""

import json
import uuid

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from ansible_collections.rotor.iam.plugins.module_utils.destinations import Destination
from ansible_collections.rotor.iam.plugins.module_utils.destinations import ensure_present
from ansible_collections.rotor.iam.plugins.module_utils.destinations import ensure_restored
from ansible_collections.rotor.iam.plugins.module_utils.destinations import read_destination

WRITES = ("put_secret_value", "create_secret", "update_secret_version_stage", "put_parameter")


def not_found(operation, code):
    return ClientError({"Error": {"Code": code, "Message": "not found"}}, operation)


class FakeSecretsManager:
    """Versions with staging labels, as Secrets Manager keeps them."""

    def __init__(self):
        self.versions, self.stages, self.calls = {}, {}, []  # version id -> text; stage -> version id

    def _record(self, name, kwargs):
        assert kwargs.pop("aws_retry") is True
        self.calls.append(name)
        if not self.versions and name not in ("create_secret",):
            raise not_found(name, "ResourceNotFoundException")

    def _put(self, text):
        version = str(uuid.uuid4())
        self.versions[version] = text
        if "AWSCURRENT" in self.stages:
            self.stages["AWSPREVIOUS"] = self.stages["AWSCURRENT"]
        self.stages["AWSCURRENT"] = version
        return version

    def create_secret(self, **kwargs):
        self._record("create_secret", kwargs)
        return {"VersionId": self._put(kwargs["SecretString"])}

    def put_secret_value(self, **kwargs):
        self._record("put_secret_value", kwargs)
        return {"VersionId": self._put(kwargs["SecretString"])}

    def get_secret_value(self, **kwargs):
        self._record("get_secret_value", kwargs)
        version = kwargs.get("VersionId") or self.stages[kwargs.get("VersionStage", "AWSCURRENT")]
        return {"VersionId": version, "SecretString": self.versions[version]}

    def describe_secret(self, **kwargs):
        self._record("describe_secret", kwargs)
        return {"VersionIdsToStages": {v: [s for s, at in self.stages.items() if at == v] for v in self.versions}}

    def update_secret_version_stage(self, **kwargs):
        self._record("update_secret_version_stage", kwargs)
        assert self.stages["AWSCURRENT"] == kwargs["RemoveFromVersionId"]
        self.stages["AWSPREVIOUS"], self.stages["AWSCURRENT"] = kwargs["RemoveFromVersionId"], kwargs["MoveToVersionId"]

    def current(self):
        return json.loads(self.versions[self.stages["AWSCURRENT"]])


class FakeSSM:
    """A parameter's history: version n is history[n - 1]."""

    def __init__(self, kind="SecureString"):
        self.history, self.kind, self.calls = [], kind, []

    def _record(self, name, kwargs):
        assert kwargs.pop("aws_retry") is True
        self.calls.append(name)

    def get_parameter(self, **kwargs):
        self._record("get_parameter", kwargs)
        name, _sep, version = kwargs["Name"].partition(":")
        if not self.history or (version and int(version) > len(self.history)):
            raise not_found("GetParameter", "ParameterNotFound")
        number = int(version) if version else len(self.history)
        return {"Parameter": {"Type": self.kind, "Version": number, "Value": self.history[number - 1]}}

    def get_parameter_history(self, **kwargs):
        self._record("get_parameter_history", kwargs)
        return {"Parameters": [{"Version": n} for n in range(1, len(self.history) + 1)]}

    def put_parameter(self, **kwargs):
        self._record("put_parameter", kwargs)
        assert kwargs["Type"] == "SecureString"
        self.history.append(kwargs["Value"])
        return {"Version": len(self.history)}

    def current(self):
        return json.loads(self.history[-1])


def holding(kind, key_id, secret, extra=None):
    client = FakeSecretsManager() if kind == "secretsmanager" else FakeSSM()
    text = json.dumps(dict(extra or {}, AccessKeyId=key_id, SecretAccessKey=secret))
    if kind == "secretsmanager":
        client._put(text)
    else:
        client.history.append(text)
    return client, Destination(client, kind, "rotor/keys/app")


def no_secret_in(result, *secrets):
    text = json.dumps(result)
    return not any(s in text for s in secrets)


@pytest.mark.parametrize("kind", ["secretsmanager", "ssm"])
def test_present_then_restored_puts_the_old_key_back_and_keeps_other_fields(kind):
    client, dest = holding(kind, "AKIAOLD0000000000000", "old-secret", {"Region": "eu-west-1"})
    written = ensure_present(dest, "AKIANEW0000000000000", "new-secret")
    assert (written["changed"], written["access_key_id"], written["previous_access_key_id"]) == (True, "AKIANEW0000000000000", "AKIAOLD0000000000000")
    assert client.current() == {"Region": "eu-west-1", "AccessKeyId": "AKIANEW0000000000000", "SecretAccessKey": "new-secret"}
    assert ensure_present(dest, "AKIANEW0000000000000", "new-secret")["changed"] is False
    restored = ensure_restored(dest, "AKIANEW0000000000000", "AKIAOLD0000000000000", written["previous_version_id"])
    assert restored["changed"] and restored["access_key_id"] == "AKIAOLD0000000000000"
    assert client.current()["SecretAccessKey"] == "old-secret"
    assert ensure_restored(dest, "AKIANEW0000000000000", "AKIAOLD0000000000000")["changed"] is False
    for result in (written, restored, read_destination(dest)):
        assert no_secret_in(result, "old-secret", "new-secret")


def test_secrets_manager_restore_moves_the_label_and_never_reads_the_old_version():
    client, dest = holding("secretsmanager", "AKIAOLD0000000000000", "old-secret")
    written = ensure_present(dest, "AKIANEW0000000000000", "new-secret")
    client.calls.clear()
    ensure_restored(dest, "AKIANEW0000000000000", "AKIAOLD0000000000000", written["previous_version_id"])
    assert client.calls == ["get_secret_value", "update_secret_version_stage"]  # the current (new) value only


@pytest.mark.parametrize("kind", ["secretsmanager", "ssm"])
def test_check_mode_writes_nothing(kind):
    client, dest = holding(kind, "AKIAOLD0000000000000", "old-secret")
    assert ensure_present(dest, "AKIANEW0000000000000", "new-secret", check_mode=True)["diff"] == {
        "before": {"access_key_id": "AKIAOLD0000000000000"}, "after": {"access_key_id": "AKIANEW0000000000000"}}
    written = ensure_present(dest, "AKIANEW0000000000000", "new-secret")
    client.calls.clear()
    ensure_restored(dest, "AKIANEW0000000000000", "AKIAOLD0000000000000", written["previous_version_id"], check_mode=True)
    assert not set(client.calls) & set(WRITES)


@pytest.mark.parametrize("kind", ["secretsmanager", "ssm"])
def test_a_destination_changed_by_someone_else_is_not_restored(kind):
    client, dest = holding(kind, "AKIAOLD0000000000000", "old-secret")
    ensure_present(dest, "AKIANEW0000000000000", "new-secret")
    ensure_present(dest, "AKIATHEIRS0000000000", "their-secret")
    with pytest.raises(RotorIAMError, match="holds access key AKIATHEIRS0000000000, not AKIANEW0000000000000"):
        ensure_restored(dest, "AKIANEW0000000000000", "AKIAOLD0000000000000")
    assert client.current()["AccessKeyId"] == "AKIATHEIRS0000000000"


def test_a_plain_string_parameter_and_a_non_json_value_are_refused():
    ssm = FakeSSM(kind="String")
    ssm.history.append("{}")
    with pytest.raises(RotorIAMError, match="not SecureString"):
        ensure_present(Destination(ssm, "ssm", "/app/key"), "AKIANEW0000000000000", "s")
    client = FakeSecretsManager()
    client._put("plain text")
    with pytest.raises(RotorIAMError, match="is not a JSON object"):
        ensure_present(Destination(client, "secretsmanager", "app"), "AKIANEW0000000000000", "s")
    assert "put_secret_value" not in client.calls and "put_parameter" not in ssm.calls


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(["secretsmanager", "ssm"]),
       steps=st.lists(st.tuples(st.sampled_from(["rotor", "other"]), st.integers(0, 3)), min_size=1, max_size=6))
def test_a_restore_only_ever_undoes_rotors_own_last_write(kind, steps):
    """Whatever writes happen in between, restoring rotor's write either puts back exactly the key it replaced,
    or is refused because the destination no longer holds rotor's key; no result carries a secret."""
    client, dest = holding(kind, "AKIA0", "secret-0")
    last = None
    for number, (writer, key) in enumerate(steps, start=1):
        key_id, secret = f"AKIA{writer.upper()}{key}", f"secret-{writer}-{key}-{number}"
        if writer == "rotor":
            last = ensure_present(dest, key_id, secret)
        else:
            text = json.dumps({"AccessKeyId": key_id, "SecretAccessKey": secret})
            if kind == "secretsmanager":
                client._put(text)
            else:
                client.history.append(text)
    if last is None or not last["changed"]:
        return
    before = client.current()
    try:
        restored = ensure_restored(dest, last["access_key_id"], last["previous_access_key_id"], last["previous_version_id"])
    except RotorIAMError:
        assert before["AccessKeyId"] != last["access_key_id"] and client.current() == before
        return
    assert client.current()["AccessKeyId"] == last["previous_access_key_id"]
    assert no_secret_in(restored, before["SecretAccessKey"], client.current()["SecretAccessKey"])
