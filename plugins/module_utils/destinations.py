# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Access keys kept where applications read them in AWS: a Secrets Manager secret or an SSM SecureString parameter.

Plain functions that take a boto3 client (``secretsmanager`` or ``ssm``, wrapped so that ``aws_retry=True``
retries throttling) and return plain data; they raise :class:`RotorIAMError` with a message that names the
destination and says what to do.

A destination holds a JSON object; two of its fields (names configurable) carry the access key id and its
secret, the others are preserved. Values are read inside the module only, to learn which key id the
destination holds, to merge the other fields and to compare; no result and no diff ever carries a secret.

Rollback keeps the old value inside the service. Secrets Manager: writing moves AWSCURRENT to the new version
and AWSPREVIOUS to the old one; restoring moves AWSCURRENT back to the version that was current before
(UpdateSecretVersionStage), so the old secret is never read for it. SSM Parameter Store has no way to make an
older version current: restoring reads the previous version's value inside the module (never returned) and
puts it again as a new version.
"""

from __future__ import annotations

import json
import uuid

try:
    import botocore
except ImportError:
    pass  # the modules report a missing botocore through AnsibleAWSModule

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import error_code
from ansible_collections.rotor.iam.plugins.module_utils.redact import secret_size_problem
from ansible_collections.rotor.iam.plugins.module_utils.redact import shown_key_id
from ansible_collections.rotor.iam.plugins.module_utils.redact import shown_key_ids
from ansible_collections.rotor.iam.plugins.module_utils.service_errors import ErrorHints
from ansible_collections.rotor.iam.plugins.module_utils.service_errors import explain_service_error

TYPES = ("secretsmanager", "ssm")
DEFAULT_ID_FIELD = "AccessKeyId"
DEFAULT_SECRET_FIELD = "SecretAccessKey"
CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"

# Both services' own throttling and server-error codes (AWSRetry knows the generic ones).
RETRY_CODES = ("ThrottlingException", "InternalServiceError", "InternalServerError")

_NOT_FOUND = frozenset(("ResourceNotFoundException", "ParameterNotFound", "ParameterVersionNotFound"))
_ERROR_HINTS = ErrorHints(
    docs="docs/iam-policy.json and docs/destinations.md",
    kms_identity="this identity",
    quote_aws_on_rejected_credentials=False,
    scheduled_deletion=False,
    quote_connection_error=False,
    network="network access",
)


class Destination:
    """Which destination, how its value is laid out, and the client that reaches it."""

    def __init__(self, client, kind, name, id_field=DEFAULT_ID_FIELD, secret_field=DEFAULT_SECRET_FIELD,
                 kms_key_id=None):
        if kind not in TYPES:
            raise RotorIAMError(f"type {kind!r} is not a destination type: use one of {', '.join(TYPES)}.")
        if not isinstance(name, str) or not name.strip():
            raise RotorIAMError(
                f"name {name!r} is not a {_label(kind)}: give the secret's name or ARN (secretsmanager) or the "
                f"parameter's name (ssm), e.g. /app/aws-key."
            )
        for option, field in (("access_key_id_field", id_field), ("secret_access_key_field", secret_field)):
            if not isinstance(field, str) or not field:
                raise RotorIAMError(f"{option} {field!r} must be the name of a JSON field, e.g. AccessKeyId.")
        if id_field == secret_field:
            raise RotorIAMError(
                f"access_key_id_field and secret_access_key_field are both {id_field!r}: they must name two "
                f"different JSON fields."
            )
        self.client = client
        self.kind = kind
        self.name = name
        self.id_field = id_field
        self.secret_field = secret_field
        self.kms_key_id = kms_key_id or None

    @property
    def label(self):
        return f"{_label(self.kind)} {self.name!r}"


def _label(kind):
    return "Secrets Manager secret" if kind == "secretsmanager" else "SSM parameter"


def explain_error(exc, action, dest):
    """A botocore error from ``action`` (e.g. ``ssm:PutParameter``) on ``dest``, explained."""
    return explain_service_error(exc, action, dest.label, "it", _ERROR_HINTS)


def _call(dest, action, func, missing_ok=False, **kwargs):
    """``func(**kwargs)`` with retries; None when ``missing_ok`` and AWS says there is no such thing."""
    try:
        return func(aws_retry=True, **kwargs)
    except botocore.exceptions.ClientError as exc:
        if missing_ok and error_code(exc) in _NOT_FOUND:
            return None
        raise explain_error(exc, action, dest) from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise explain_error(exc, action, dest) from exc


def _parse(dest, text, what="the current value"):
    """The JSON object a destination holds; an error naming the destination when it is not one."""
    try:
        value = json.loads(text or "")
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise RotorIAMError(
            f"{dest.label}: {what} is not a JSON object, so rotor cannot tell which key it holds or keep its other "
            f"fields. Store a JSON object such as {{\"{dest.id_field}\": ..., \"{dest.secret_field}\": ...}} there, "
            f"or point name at the destination applications read their key from."
        )
    return value


def _key_id(dest, value):
    key_id = value.get(dest.id_field)
    return key_id if isinstance(key_id, str) and key_id else None


# --------------------------------------------------------------------------- reading


def current(dest):
    """``{"version_id", "value"}`` of what the destination holds now, or None when it does not exist.

    ``value`` is the parsed JSON object: it stays inside the module.
    """
    if dest.kind == "secretsmanager":
        response = _call(dest, "secretsmanager:GetSecretValue", dest.client.get_secret_value, missing_ok=True,
                         SecretId=dest.name, VersionStage=CURRENT)
        if response is None:
            return None
        return {"version_id": response.get("VersionId"), "value": _parse(dest, response.get("SecretString"))}
    response = _call(dest, "ssm:GetParameter", dest.client.get_parameter, missing_ok=True,
                     Name=dest.name, WithDecryption=True)
    if response is None:
        return None
    parameter = response["Parameter"]
    if parameter.get("Type") != "SecureString":
        raise RotorIAMError(
            f"{dest.label} is of type {parameter.get('Type')}, not SecureString: rotor does not write a secret into "
            f"a parameter stored in plain text. Make it a SecureString parameter (delete it and put it again with "
            f"--type SecureString), or choose another name."
        )
    return {"version_id": str(parameter.get("Version")), "value": _parse(dest, parameter.get("Value"))}


def _previous_secret_version(dest):
    """The version id that carries AWSPREVIOUS, or None."""
    response = _call(dest, "secretsmanager:DescribeSecret", dest.client.describe_secret, SecretId=dest.name)
    for version_id, stages in (response.get("VersionIdsToStages") or {}).items():
        if PREVIOUS in stages:
            return version_id
    return None


def _previous_parameter_version(dest, current_version):
    """The highest version below ``current_version`` in the parameter's history, as a string, or None."""
    versions = []
    kwargs = {"Name": dest.name, "WithDecryption": False}
    while True:
        response = _call(dest, "ssm:GetParameterHistory", dest.client.get_parameter_history, **kwargs)
        versions += [int(p["Version"]) for p in response.get("Parameters") or []]
        if not response.get("NextToken"):
            break
        kwargs["NextToken"] = response["NextToken"]
    older = [v for v in versions if v < int(current_version)]
    return str(max(older)) if older else None


def _version_value(dest, version_id):
    """The JSON object stored in one older version (SSM: read to put it back; Secrets Manager: to check a guard)."""
    if dest.kind == "secretsmanager":
        response = _call(dest, "secretsmanager:GetSecretValue", dest.client.get_secret_value, missing_ok=True,
                         SecretId=dest.name, VersionId=version_id)
        text = None if response is None else response.get("SecretString")
    else:
        response = _call(dest, "ssm:GetParameter", dest.client.get_parameter, missing_ok=True,
                         Name=f"{dest.name}:{version_id}", WithDecryption=True)
        text = None if response is None else response["Parameter"].get("Value")
    if response is None:
        raise RotorIAMError(
            f"{dest.label} has no version {version_id}: check previous_version_id (give the previous_version_id "
            f"that state=present returned), or restore the destination by hand."
        )
    return _parse(dest, text, what=f"version {version_id}")


def _result(dest, changed, access_key_id, version_id, previous_access_key_id, previous_version_id, before_id):
    # A destination's id field may hold anything (id and secret swapped): only key ids are shown.
    access_key_id, previous_access_key_id, before_id = shown_key_ids((access_key_id, previous_access_key_id, before_id))
    return {
        "changed": changed,
        "type": dest.kind,
        "name": dest.name,
        "exists": access_key_id is not None or version_id is not None,
        "access_key_id": access_key_id,
        "version_id": version_id,
        "previous_access_key_id": previous_access_key_id,
        "previous_version_id": previous_version_id,
        "diff": {
            "before": {"access_key_id": before_id},
            "after": {"access_key_id": access_key_id},
        },
    }


def read_destination(dest):
    """Which key id the destination holds now (never the secret)."""
    now = current(dest)
    if now is None:
        return _result(dest, False, None, None, None, None, None)
    key_id = _key_id(dest, now["value"])
    return _result(dest, False, key_id, now["version_id"], None, None, key_id)


# --------------------------------------------------------------------------- writing


def ensure_present(dest, access_key_id, secret_access_key, check_mode=False):
    """Make the destination hold ``access_key_id`` and its secret, keeping its other fields.

    Unchanged when it already holds both. Secrets Manager: PutSecretValue (AWSCURRENT moves to the new version,
    AWSPREVIOUS to the old one), or CreateSecret for a secret that does not exist. SSM: PutParameter with
    Overwrite as a SecureString (the old value stays in the parameter's history).
    """
    if not access_key_id or not secret_access_key:
        raise RotorIAMError("state=present needs access_key_id and secret_access_key (the key to write).")
    if secret_size_problem("secret_access_key", secret_access_key):
        raise RotorIAMError(secret_size_problem("secret_access_key", secret_access_key), code="InvalidParameter")
    now = current(dest)
    value = dict(now["value"]) if now else {}
    before_id = _key_id(dest, value)
    before_version = now["version_id"] if now else None
    if before_id == access_key_id and value.get(dest.secret_field) == secret_access_key:
        return _result(dest, False, access_key_id, before_version, None, None, before_id)
    value[dest.id_field] = access_key_id
    value[dest.secret_field] = secret_access_key
    text = json.dumps(value)
    del value  # the old secret's fields, merged and never returned
    version_id = None
    if not check_mode:
        version_id = _write(dest, text, exists=now is not None)
    previous_id = before_id if now else None
    return _result(dest, True, access_key_id, version_id, previous_id, before_version, before_id)


def _write(dest, text, exists):
    """Write ``text`` as the destination's new current value; its new version id."""
    if dest.kind == "secretsmanager":
        token = str(uuid.uuid4())
        if exists:
            response = _call(dest, "secretsmanager:PutSecretValue", dest.client.put_secret_value,
                             SecretId=dest.name, ClientRequestToken=token, SecretString=text)
        else:
            response = _call(dest, "secretsmanager:CreateSecret", dest.client.create_secret,
                             Name=dest.name, ClientRequestToken=token, SecretString=text,
                             Description="rotor.iam: an access key applications read",
                             **({"KmsKeyId": dest.kms_key_id} if dest.kms_key_id else {}))
        return response.get("VersionId")
    response = _call(dest, "ssm:PutParameter", dest.client.put_parameter,
                     Name=dest.name, Value=text, Type="SecureString", Overwrite=exists,
                     **({"KeyId": dest.kms_key_id} if dest.kms_key_id else {}))
    return str(response.get("Version"))


def ensure_restored(dest, access_key_id, previous_access_key_id=None, previous_version_id=None, force=False,
                    check_mode=False):
    """Undo rotor's write of ``access_key_id``: make the value that was current before it current again.

    Refused (unless ``force``) when the destination no longer holds ``access_key_id``: someone else wrote it
    since, and rotor does not undo their change. Unchanged when it already holds ``previous_access_key_id``.
    ``previous_version_id`` is what state=present returned; without it, the version before the current one
    (Secrets Manager: AWSPREVIOUS; SSM: the highest older version in the history).
    """
    now = current(dest)
    if now is None:
        raise RotorIAMError(
            f"{dest.label} does not exist, so there is nothing to restore. Check type and name."
        )
    holds = _key_id(dest, now["value"])
    if previous_access_key_id and holds == previous_access_key_id:
        return _result(dest, False, holds, now["version_id"], None, None, holds)
    if holds != access_key_id and not force:
        raise RotorIAMError(
            f"{dest.label} holds access key {shown_key_id(holds)}, not {shown_key_id(access_key_id)} (the key rotor "
            f"wrote): it was changed since, so rotor does not undo that change. Check the destination and restore it "
            f"by hand, or set force=true to make the version before the current one current again.",
            destination_access_key_id=shown_key_id(holds),
        )
    target = previous_version_id
    if target is None:
        target = (_previous_secret_version(dest) if dest.kind == "secretsmanager"
                  else _previous_parameter_version(dest, now["version_id"]))
    if target is None or target == now["version_id"]:
        raise RotorIAMError(
            f"{dest.label} has no version before the one holding {shown_key_id(holds)}: rotor created it, so there "
            f"is no earlier value to restore. Delete it or write a working key into it by hand."
        )
    restored_id = previous_access_key_id
    old = None
    if dest.kind == "ssm" or (previous_access_key_id and previous_version_id is None):
        # SSM cannot make an old version current: its value is read here and put again, never returned.
        # Secrets Manager without the version id from state=present: read to check the guard only.
        old = _version_value(dest, target)
        restored_id = _key_id(dest, old)
        if previous_access_key_id and restored_id != previous_access_key_id and not force:
            raise RotorIAMError(
                f"{dest.label}: version {target} holds access key {shown_key_id(restored_id)}, not "
                f"{shown_key_id(previous_access_key_id)}; rotor does not restore a value it did not replace. Check "
                f"previous_access_key_id, or set force=true.",
                destination_access_key_id=shown_key_id(holds),
            )
    version_id = target if dest.kind == "secretsmanager" else None
    if not check_mode:
        if dest.kind == "secretsmanager":
            _call(dest, "secretsmanager:UpdateSecretVersionStage", dest.client.update_secret_version_stage,
                  SecretId=dest.name, VersionStage=CURRENT, MoveToVersionId=target,
                  RemoveFromVersionId=now["version_id"])
        else:
            version_id = _write(dest, json.dumps(old), exists=True)
    del old
    return _result(dest, True, restored_id, version_id, holds, now["version_id"], holds)
