# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A pending access key's secret kept in AWS Secrets Manager, shared by the jobs of one rotation.

Plain functions that take a boto3 ``secretsmanager`` client (wrapped so that ``aws_retry=True``
retries throttling) and return plain data; they raise :class:`RotorIAMError` with a message that
names the input and says what to do. The secret value is read only to compare it or when the
caller asks for it, and no result or diff carries it except :func:`read_pending` with
``return_secret=True``.

Secret name rule (:func:`secret_name`): ``<prefix><user>``, where ``<user>`` is the IAM user name
or an ``ACCOUNT:USER`` reference written ``ACCOUNT/USER``, with ``=`` written ``=3D`` and ``,``
written ``=2C`` (IAM allows ``,`` in user names, Secrets Manager does not allow it in secret
names). The mapping is one-to-one, so two users never share a secret.
"""

from __future__ import annotations

import json
import re
import uuid

try:
    import botocore
except ImportError:
    pass  # the modules report a missing botocore through AnsibleAWSModule

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import error_code
from ansible_collections.rotor.iam.plugins.module_utils.redact import is_access_key_id
from ansible_collections.rotor.iam.plugins.module_utils.redact import secret_size_problem
from ansible_collections.rotor.iam.plugins.module_utils.redact import shown_key_id
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import iso
from ansible_collections.rotor.iam.plugins.module_utils.service_errors import ErrorHints
from ansible_collections.rotor.iam.plugins.module_utils.service_errors import explain_service_error

DEFAULT_PREFIX = "rotor/pending/"
TAG_RUN_ID = "rotor:run-id"
TAG_USER = "rotor:user"
TAG_ACCESS_KEY_ID = "rotor:access-key-id"

# Secrets Manager's own throttling and server-error codes (AWSRetry knows the generic ones).
RETRY_CODES = ("ThrottlingException", "InternalServiceError")

_IAM_USER_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")
_ACCOUNT_REF = re.compile(r"(\d{12}):(.+)")
_PREFIX = re.compile(r"[A-Za-z0-9/_+=.@-]*")
# Tag values Secrets Manager accepts (run ids are tag values).
_TAG_VALUE = re.compile(r"[A-Za-z0-9 _.:/=+@-]{1,256}")
_SECRET_NAME_MAX = 512
_ESCAPES = {"=": "=3D", ",": "=2C"}
_NOT_FOUND = "ResourceNotFoundException"
_ERROR_HINTS = ErrorHints(
    docs="docs/iam-policy.json",
    kms_identity="this identity through Secrets Manager",
    quote_aws_on_rejected_credentials=True,
    scheduled_deletion=True,
    quote_connection_error=True,
    network="network access to AWS",
)


def _escape(text):
    return "".join(_ESCAPES.get(char, char) for char in text)


def secret_name(user_name, prefix=DEFAULT_PREFIX):
    """The secret's name for ``user_name`` (an IAM user name or ``ACCOUNT:USER``) under ``prefix``."""
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise RotorIAMError(
            f"prefix {prefix!r} is not a valid Secrets Manager name prefix: use only letters, digits and "
            f"/_+=.@- (for example {DEFAULT_PREFIX!r})."
        )
    account, user = None, user_name
    match = _ACCOUNT_REF.fullmatch(user_name or "")
    if match:
        account, user = match.groups()
    if not isinstance(user, str) or not _IAM_USER_NAME.fullmatch(user):
        raise RotorIAMError(
            f"user_name {user_name!r} is not an IAM user name (1-64 of letters, digits and +=,.@_-) or an "
            f"ACCOUNT:USER reference (12-digit account id, a colon, an IAM user name). Check user_name."
        )
    name = prefix + (f"{account}/" if account else "") + _escape(user)
    if len(name) > _SECRET_NAME_MAX:
        raise RotorIAMError(f"prefix {prefix!r} is too long: the secret name {name!r} exceeds {_SECRET_NAME_MAX} characters.")
    return name


def check_run_id(run_id):
    if run_id is not None and not _TAG_VALUE.fullmatch(run_id):
        raise RotorIAMError(
            f"run_id {run_id!r} cannot be a Secrets Manager tag value: use 1-256 of letters, digits, spaces "
            f"and _.:/=+@- (an AWX workflow job id works)."
        )


def explain_error(exc, action, name):
    """A botocore error from ``action`` (e.g. ``secretsmanager:GetSecretValue``) on secret ``name``, explained."""
    return explain_service_error(
        exc, action, f"secret {name!r}", f"arn:aws:secretsmanager:<region>:<account>:secret:{name}-*", _ERROR_HINTS
    )


def _call(action, name, func, **kwargs):
    try:
        return func(aws_retry=True, **kwargs)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise explain_error(exc, action, name) from exc


def describe(client, name):
    """What the store holds for ``name``, without the value: None when there is no such secret."""
    try:
        response = client.describe_secret(aws_retry=True, SecretId=name)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == _NOT_FOUND:
            return None
        raise explain_error(exc, "secretsmanager:DescribeSecret", name) from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise explain_error(exc, "secretsmanager:DescribeSecret", name) from exc
    tags = {tag["Key"]: tag["Value"] for tag in response.get("Tags") or []}
    return {
        "name": response.get("Name", name),
        "arn": response.get("ARN"),
        "access_key_id": tags.get(TAG_ACCESS_KEY_ID),
        "run_id": tags.get(TAG_RUN_ID),
        "user": tags.get(TAG_USER),
        "kms_key_id": response.get("KmsKeyId"),
        "deleted_date": iso(response.get("DeletedDate")),
    }


def _value(client, name, strict=True):
    """The stored value, parsed; only ever compared or handed to the caller who asked for it.

    Not rotor's JSON: an error, or None when not ``strict`` (a value to be overwritten).
    """
    response = _call("secretsmanager:GetSecretValue", name, client.get_secret_value, SecretId=name)
    try:
        value = json.loads(response.get("SecretString") or "")
    except ValueError:
        value = None
    if not isinstance(value, dict):
        if not strict:
            return None
        raise RotorIAMError(
            f"Secret {name!r} does not hold rotor's JSON (access_key_id, secret_access_key). It was not written "
            f"by rotor.iam.pending_secret; remove it or choose another prefix."
        )
    return value


def _view(stored):
    """The public view of a stored secret: key id and run id, never the value."""
    if stored is None:
        return {"exists": False, "access_key_id": None, "run_id": None}
    return {"exists": True, "access_key_id": shown_key_id(stored["access_key_id"]), "run_id": stored["run_id"]}


def _result(name, stored, changed, before):
    after = _view(stored)
    return {
        "changed": changed,
        "name": name,
        "arn": stored.get("arn") if stored else None,
        "exists": after["exists"],
        "access_key_id": after["access_key_id"],
        "run_id": after["run_id"],
        "diff": {"before": before, "after": after},
    }


def _refuse_mismatch(name, stored, user, access_key_id, run_id, force, doing):
    """Raise unless ``stored`` belongs to this user, key and run (or ``force``)."""
    if force:
        return
    if stored["deleted_date"]:
        raise RotorIAMError(
            f"Secret {name!r} is scheduled for deletion (since {stored['deleted_date']}); rotor does not {doing}. "
            f"Restore it or delete it for good, then retry."
        )
    if stored["user"] is None and stored["run_id"] is None and stored["access_key_id"] is None:
        raise RotorIAMError(
            f"Secret {name!r} exists but carries no rotor tags: it was not written by rotor.iam.pending_secret, so "
            f"rotor does not {doing}. Choose another prefix, or set force=true to take it over."
        )
    if stored["user"] is not None and stored["user"] != user:
        raise RotorIAMError(
            f"Secret {name!r} belongs to user {stored['user']!r}, not {user!r}; rotor does not {doing}. "
            f"Check user_name and prefix, or set force=true."
        )
    if access_key_id is not None and stored["access_key_id"] != access_key_id:
        raise RotorIAMError(
            f"Secret {name!r} holds access key {shown_key_id(stored['access_key_id'])}, not {shown_key_id(access_key_id)}; "
            f"rotor does not {doing}. Another rotation may be pending for user {user!r}: finish or roll back that one, "
            f"or set force=true.",
            stored_access_key_id=shown_key_id(stored["access_key_id"]),
        )
    if run_id is not None and stored["run_id"] != run_id:
        raise RotorIAMError(
            f"Secret {name!r} was staged by run {stored['run_id']!r}, not by this run {run_id!r}; rotor does not "
            f"{doing}. Use the run id of the rotation that staged it, finish or roll back that run first, or "
            f"set force=true.",
            stored_run_id=stored["run_id"],
        )


def _tags(user, access_key_id, run_id):
    return [
        {"Key": TAG_RUN_ID, "Value": run_id},
        {"Key": TAG_USER, "Value": user},
        {"Key": TAG_ACCESS_KEY_ID, "Value": access_key_id},
    ]


def ensure_present(client, user_name, access_key_id, secret_access_key, run_id, prefix=DEFAULT_PREFIX,
                   kms_key_id=None, force=False, check_mode=False, token=None):
    """Store the pending secret of ``user_name``'s new key ``access_key_id``, staged by ``run_id``.

    Creates the secret, or puts a new value into one that holds the same key for the same run
    (another key, run or owner is refused unless ``force``). Unchanged when key id, run id and
    value already match. ``token`` (default: random) is the ClientRequestToken, so a retried
    write is not applied twice.
    """
    name = secret_name(user_name, prefix)
    check_run_id(run_id)
    if secret_size_problem("secret_access_key", secret_access_key):
        raise RotorIAMError(secret_size_problem("secret_access_key", secret_access_key), code="InvalidParameter")
    if not is_access_key_id(access_key_id) and not (check_mode and shown_key_id(access_key_id) == access_key_id):
        # Its tag is readable by anyone who may describe the secret: only a key id goes there.
        raise RotorIAMError(
            f"access_key_id {shown_key_id(access_key_id)} for secret {name!r}: give the new key's id (AKIA or ASIA and "
            f"16 upper-case letters or digits). Check that the id and the secret are not swapped; nothing was written."
        )
    user = _escape(user_name)
    stored = describe(client, name)
    before = _view(stored)
    wanted = {"access_key_id": access_key_id, "secret_access_key": secret_access_key}
    token = token or str(uuid.uuid4())
    if stored is None:
        if not check_mode:
            response = _call(
                "secretsmanager:CreateSecret", name, client.create_secret,
                Name=name, ClientRequestToken=token, SecretString=json.dumps(wanted),
                Tags=_tags(user, access_key_id, run_id), Description=f"rotor.iam: pending access key of {user_name}",
                **({"KmsKeyId": kms_key_id} if kms_key_id else {}),
            )
            stored = {"arn": response.get("ARN")}
        after = dict(stored or {}, access_key_id=access_key_id, run_id=run_id)
        return _result(name, after, True, before)

    _refuse_mismatch(name, stored, user, access_key_id, run_id, force, "overwrite it")
    tags_match = (stored["user"], stored["access_key_id"], stored["run_id"]) == (user, access_key_id, run_id)
    value_matches = False
    if tags_match and not stored["deleted_date"]:
        value = _value(client, name, strict=False) or {}
        value_matches = value.get("access_key_id") == access_key_id and value.get("secret_access_key") == secret_access_key
        del value  # compared, never returned
    if tags_match and value_matches:
        return _result(name, stored, False, before)
    if not check_mode:
        if not value_matches:
            _call("secretsmanager:PutSecretValue", name, client.put_secret_value,
                  SecretId=name, ClientRequestToken=token, SecretString=json.dumps(wanted))
        if not tags_match:
            _call("secretsmanager:TagResource", name, client.tag_resource, SecretId=name,
                  Tags=_tags(user, access_key_id, run_id))
    after = dict(stored, access_key_id=access_key_id, run_id=run_id)
    return _result(name, after, True, before)


def read_pending(client, user_name, prefix=DEFAULT_PREFIX, access_key_id=None, run_id=None, return_secret=False,
                 force=False):
    """What is staged for ``user_name``; the secret only with ``return_secret``.

    A stored secret of another key (``access_key_id``) or another run (``run_id``) is refused
    unless ``force``. No secret: ``exists`` false, not an error.
    """
    name = secret_name(user_name, prefix)
    check_run_id(run_id)
    stored = describe(client, name)
    view = _view(stored)
    result = dict(name=name, arn=stored["arn"] if stored else None, changed=False, **view)
    if stored is None:
        if return_secret:
            result["secret_access_key"] = None
        return result
    _refuse_mismatch(name, stored, _escape(user_name), access_key_id, run_id, force, "hand it out")
    if return_secret:
        value = _value(client, name)
        held = value.get("access_key_id")
        if not is_access_key_id(held) or (held != stored["access_key_id"] and not force):
            raise RotorIAMError(
                f"Secret {name!r} holds access key {shown_key_id(value.get('access_key_id'))} but is tagged with "
                f"{shown_key_id(stored['access_key_id'])}: it was changed outside rotor. Stage the pending key again "
                f"(state=present with force=true)."
            )
        result["access_key_id"] = value.get("access_key_id")
        result["secret_access_key"] = value.get("secret_access_key")
    return result


def ensure_absent(client, user_name, prefix=DEFAULT_PREFIX, access_key_id=None, run_id=None, force=False,
                  check_mode=False):
    """Delete the pending secret for good (no recovery window); already absent is unchanged."""
    name = secret_name(user_name, prefix)
    check_run_id(run_id)
    stored = describe(client, name)
    before = _view(stored)
    if stored is None:
        return _result(name, None, False, before)
    _refuse_mismatch(name, stored, _escape(user_name), access_key_id, run_id, force, "delete it")
    if not check_mode:
        try:
            client.delete_secret(aws_retry=True, SecretId=name, ForceDeleteWithoutRecovery=True)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != _NOT_FOUND:  # deleted meanwhile (or by a retried call): the goal is met
                raise explain_error(exc, "secretsmanager:DeleteSecret", name) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise explain_error(exc, "secretsmanager:DeleteSecret", name) from exc
    result = _result(name, None, True, before)
    result.update(arn=stored["arn"], access_key_id=shown_key_id(stored["access_key_id"]), run_id=stored["run_id"])
    return result
