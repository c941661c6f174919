# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""IAM access key operations for rotor.iam.

Plain functions that take a boto3 IAM client (ideally wrapped with
``AWSRetry.jittered_backoff`` so ``aws_retry=True`` retries throttling) and
return plain data. They raise :class:`RotorIAMError` with a message that names
the input and says what to do; modules catch it once in ``main()``.
"""

from __future__ import annotations

import datetime
import email.utils
import time

try:
    import botocore
except ImportError:
    pass  # the modules report a missing botocore through AnsibleAWSModule

IAM_KEY_LIMIT = 2

# Error codes that mean "this credential is not accepted", as opposed to
# transient failures (throttling, network) that prove nothing either way.
REJECTED_CREDENTIAL_CODES = frozenset(
    (
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
        "AuthFailure",
        "InvalidAccessKeyId",
    )
)

# The answers that prove a key disabled (or gone): AWS looked the key id up and refused it, whatever the
# signature. STS answers InvalidClientTokenId; the others are the same verdict in other services' words.
DISABLED_KEY_CODES = frozenset(("InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId", "AuthFailure"))
# The answers that say the key id is known and the secret used is not its secret: they prove nothing about
# the key's status, only that the proof was made with the wrong secret (a stale file, a rewritten backup).
WRONG_SECRET_CODES = frozenset(("SignatureDoesNotMatch", "InvalidSignatureException", "IncompleteSignature"))

# Failures after which a CreateAccessKey call may or may not have happened.
_AMBIGUOUS_CREATE_CODES = frozenset(("InternalFailure", "InternalError", "ServiceUnavailable", "Unavailable"))
_THROTTLING_CODES = frozenset(("Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"))
# Connection errors in a row, with no answer from AWS before them, after which a verify stops: AWS is not reachable.
UNREACHABLE_ATTEMPTS = 3
# Answers to GetCallerIdentity that say nothing about the key: they neither confirm nor break a streak.
_TRANSIENT_CODES = _THROTTLING_CODES | _AMBIGUOUS_CREATE_CODES


class RotorIAMError(Exception):
    """An IAM failure explained for the operator; ``code`` is AWS's error code."""

    def __init__(self, message, code=None, **details):
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details


def error_code(exc):
    try:
        return exc.response["Error"]["Code"]
    except (AttributeError, KeyError, TypeError):
        return None


def _error_message(exc):
    try:
        return exc.response["Error"].get("Message") or str(exc)
    except (AttributeError, KeyError, TypeError):
        return str(exc)


def explain_client_error(exc, action, user_name=None, access_key_id=None):
    """Turn a botocore error from ``action`` (e.g. ``iam:ListAccessKeys``) into a RotorIAMError."""
    code = error_code(exc)
    aws_message = _error_message(exc)
    if code == "NoSuchEntity":
        if access_key_id and user_name:
            message = (
                f"Access key {access_key_id} was not found for IAM user {user_name!r}, or the user does not exist "
                f"(AWS said: {aws_message}). Check access_key_id and user_name; "
                f"rotor.iam.access_key_info lists the user's keys."
            )
        else:
            message = (
                f"IAM user {user_name!r} does not exist (AWS said: {aws_message}). "
                f"Check user_name (it is case-sensitive) and the account you are connected to."
            )
    elif code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
        message = (
            f"Access denied for {action} on IAM user {user_name!r}: the identity running this task needs the "
            f"{action} permission on arn:aws:iam::<account>:user/{user_name}. Grant it in an IAM policy "
            f"(see docs/iam-policy.json) and retry. AWS said: {aws_message}"
        )
    elif code == "LimitExceeded":
        message = (
            f"IAM refused {action} for user {user_name!r} with LimitExceeded: a user can hold at most "
            f"{IAM_KEY_LIMIT} access keys. Delete an unused key first (rotor.iam.access_key_delete) or use "
            f"when_full=delete_inactive. AWS said: {aws_message}"
        )
    elif code in REJECTED_CREDENTIAL_CODES:
        message = (
            f"AWS rejected the credentials used for {action} ({code}): the access key in use is unknown, "
            f"inactive or has a wrong secret. Check the connection options (access_key/secret_key/profile). "
            f"AWS said: {aws_message}"
        )
    elif code in _THROTTLING_CODES:
        message = f"{action} was throttled by AWS and retries ran out ({code}); retry later or lower the concurrency."
    elif code is None:
        message = f"{action} failed: {exc}. Check endpoint_url, region and network access to AWS."
    else:
        message = f"{action} failed for IAM user {user_name!r} with {code}: {aws_message}"
    return RotorIAMError(message, code=code, action=action)


def _call(action, func, user_name=None, access_key_id=None, **kwargs):
    try:
        return func(**kwargs)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise explain_client_error(exc, action, user_name=user_name, access_key_id=access_key_id) from exc


def iso(value):
    """Datetimes become ISO 8601 strings in UTC; anything else passes through."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(datetime.timezone.utc).isoformat()
    return value


def as_datetime(value):
    """A datetime, or an ISO 8601 string (boto3's dates once they went through JSON), as an aware
    datetime; naive means UTC. None for anything else. A malformed string raises ValueError."""
    if isinstance(value, datetime.datetime):
        parsed = value
    elif isinstance(value, str) and value:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    else:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def age_days(create_date, now):
    created = as_datetime(create_date)
    if created is None:
        return None
    return max(0, (now - created).days)


def normalize_access_key(metadata):
    """AccessKeyMetadata (or CreateAccessKey's AccessKey, minus the secret) to snake_case."""
    return {
        "access_key_id": metadata["AccessKeyId"],
        "user_name": metadata.get("UserName"),
        "status": metadata.get("Status"),
        "create_date": iso(metadata.get("CreateDate")),
    }


def list_access_keys(client, user_name):
    """The user's keys, oldest first, normalized. Raises if the user does not exist."""
    return _list_access_keys_and_server_time(client, user_name)[0]


def _server_time(response):
    """AWS's clock, from the Date header of an answer (None when the answer has none)."""
    try:
        moment = email.utils.parsedate_to_datetime(response["ResponseMetadata"]["HTTPHeaders"]["date"])
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def _list_access_keys_and_server_time(client, user_name):
    metadata = []
    server_time = None
    request = {"UserName": user_name}
    while True:
        response = _call("iam:ListAccessKeys", client.list_access_keys, user_name=user_name, aws_retry=True, **request)
        server_time = server_time or _server_time(response)
        metadata.extend(response.get("AccessKeyMetadata", []))
        if not response.get("IsTruncated"):
            break
        request["Marker"] = response["Marker"]
    keys = [normalize_access_key(k) for k in metadata]
    return sorted(keys, key=lambda k: (k["create_date"] or "", k["access_key_id"])), server_time


def get_access_key_last_used(client, access_key_id, user_name=None):
    response = _call(
        "iam:GetAccessKeyLastUsed",
        client.get_access_key_last_used,
        user_name=user_name,
        access_key_id=access_key_id,
        aws_retry=True,
        AccessKeyId=access_key_id,
    )
    last_used = response.get("AccessKeyLastUsed") or {}
    service = last_used.get("ServiceName")
    region = last_used.get("Region")
    return {
        "last_used_date": iso(last_used.get("LastUsedDate")),
        # AWS reports "N/A" when a key has never been used.
        "last_used_service": None if service in (None, "N/A") else service,
        "last_used_region": None if region in (None, "N/A") else region,
    }


def get_access_key_owner(client, access_key_id):
    """The IAM user that owns ``access_key_id`` (any key of the account); raises RotorIAMError (code NoSuchEntity: no such key)."""
    response = _call("iam:GetAccessKeyLastUsed", client.get_access_key_last_used, access_key_id=access_key_id,
                     aws_retry=True, AccessKeyId=access_key_id)
    return response.get("UserName") or ""


def describe_access_keys(client, user_name, max_age_days=None, include_last_used=True, now=None, skip_last_used_for=()):
    """Keys of ``user_name`` with age, last use (but for the keys in ``skip_last_used_for``) and (if max_age_days)
    rotation_due."""
    now = now or utcnow()
    keys = []
    for key in list_access_keys(client, user_name):
        key["age_days"] = age_days(key["create_date"], now)
        if include_last_used and key["access_key_id"] not in set(skip_last_used_for or ()):
            key.update(get_access_key_last_used(client, key["access_key_id"], user_name=user_name))
        if max_age_days is not None:
            key["rotation_due"] = key["status"] == "Active" and key["age_days"] is not None and key["age_days"] >= max_age_days
        keys.append(key)
    return keys


def find_key(keys, access_key_id):
    for key in keys:
        if key["access_key_id"] == access_key_id:
            return key
    return None


def key_summary(keys):
    return ", ".join(f"{k['access_key_id']} ({k['status']}, created {k['create_date']})" for k in keys) or "none"


def plan_free_slot(keys, when_full):
    """Which key (if any) must be deleted before a new one fits. Raises when it must not.

    An Active key is never chosen: it may be what the fleet runs on.
    """
    if len(keys) < IAM_KEY_LIMIT:
        return None
    if when_full == "delete_inactive":
        inactive = [k for k in keys if k["status"] != "Active"]
        if inactive:
            return inactive[0]  # keys are sorted oldest first
        raise RotorIAMError(
            f"IAM user {keys[0]['user_name']!r} already has {len(keys)} access keys and both are Active: "
            f"{key_summary(keys)}. when_full=delete_inactive never deletes an Active key; deactivate the one "
            f"no longer in use (rotor.iam.access_key_status) or delete it (rotor.iam.access_key_delete), then retry.",
            code="LimitExceeded",
        )
    raise RotorIAMError(
        f"IAM user {keys[0]['user_name']!r} already has {len(keys)} access keys (the IAM maximum): "
        f"{key_summary(keys)}. Delete one first (rotor.iam.access_key_delete), or set when_full=delete_inactive "
        f"to let this module delete an Inactive key.",
        code="LimitExceeded",
    )


def _delete_key(client, user_name, access_key_id):
    """DeleteAccessKey; True if deleted, False if it was already gone."""
    try:
        client.delete_access_key(aws_retry=True, UserName=user_name, AccessKeyId=access_key_id)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return False
        raise explain_client_error(exc, "iam:DeleteAccessKey", user_name=user_name, access_key_id=access_key_id) from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise explain_client_error(exc, "iam:DeleteAccessKey", user_name=user_name, access_key_id=access_key_id) from exc
    return True


def create_access_key(client, user_name, when_full="fail", check_mode=False, create_client=None, attempts=4, sleep=time.sleep,
                      list_keys=False, clock=time.monotonic):
    """Create a key for ``user_name``, freeing a slot per ``when_full``.

    With ``when_full="fail"`` the keys are not listed first (unless ``list_keys``, or in check mode):
    CreateAccessKey itself answers LimitExceeded for a full user, and only then are the keys listed,
    to name them in the same error as before. So a create costs one call, not two.

    CreateAccessKey has no idempotency token and its secret is returned once,
    so a create that fails ambiguously (5xx, timeout) is reconciled against a
    fresh key listing: a key that appeared without us receiving its secret is
    unusable by anyone and is deleted before trying again.

    ``create_client`` is an IAM client without automatic retries (defaults to
    ``client``). Returns a dict with ``changed``, ``access_key`` (metadata),
    ``access_key_id``, ``secret_access_key`` (None in check mode),
    ``deleted_access_key_id`` and ``keys_before`` (None when the keys were not listed).
    """
    create_client = create_client or client
    keys = None
    to_delete = None
    if list_keys or check_mode or when_full != "fail":
        keys = list_access_keys(client, user_name)
        to_delete = plan_free_slot(keys, when_full)
    result = {
        "changed": True,
        "access_key": None,
        "access_key_id": None,
        "secret_access_key": None,
        "deleted_access_key_id": to_delete["access_key_id"] if to_delete else None,
        "keys_before": keys,
    }
    if check_mode:
        return result
    if to_delete:
        _delete_key(client, user_name, to_delete["access_key_id"])
        keys = [k for k in keys if k["access_key_id"] != to_delete["access_key_id"]]

    known_ids = None if keys is None else {k["access_key_id"] for k in keys}
    started = clock()
    last_error = None
    for attempt in range(attempts):
        try:
            response = create_client.create_access_key(UserName=user_name)
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code in _THROTTLING_CODES:
                last_error = exc
            elif code in _AMBIGUOUS_CREATE_CODES:
                last_error = exc
                known_ids = _remove_orphans(client, user_name, known_ids, started, clock)
            elif code == "LimitExceeded" and keys is None:
                # Not listed before: list now, to refuse with the keys named, as a listing first would have.
                plan_free_slot(list_access_keys(client, user_name), when_full)
                raise explain_client_error(exc, "iam:CreateAccessKey", user_name=user_name) from exc
            else:
                raise explain_client_error(exc, "iam:CreateAccessKey", user_name=user_name) from exc
        except botocore.exceptions.BotoCoreError as exc:
            # Timeouts and dropped connections: the key may exist without us holding its secret.
            last_error = exc
            known_ids = _remove_orphans(client, user_name, known_ids, started, clock)
        else:
            key = response["AccessKey"]
            result["access_key"] = normalize_access_key(key)
            result["access_key_id"] = key["AccessKeyId"]
            result["secret_access_key"] = key["SecretAccessKey"]
            return result
        sleep(min(2 ** attempt, 10))
    raise explain_client_error(last_error, "iam:CreateAccessKey", user_name=user_name)


# How much earlier than our first CreateAccessKey (on AWS's clock) a key may be dated and still be its
# orphan: AWS's Date header and a key's CreateDate may each be cut to the second.
ORPHAN_MARGIN_SECONDS = 1


def _remove_orphans(client, user_name, known_ids, started, clock):
    """Delete the key a failed CreateAccessKey may have made; return the ids of the keys left.

    ``known_ids``: the keys before the first attempt. When they were not listed (None), a key is the
    orphan only if AWS dates it after our first attempt (measured on AWS's own clock, from the
    listing's Date header and the time elapsed here, so the controller's clock does not matter) and it
    has never been used: nobody but the lost answer ever had its secret.
    """
    keys, server_time = _list_access_keys_and_server_time(client, user_name)
    if known_ids is None:
        since = (server_time or utcnow()) - datetime.timedelta(seconds=clock() - started + ORPHAN_MARGIN_SECONDS)
        orphans = [k["access_key_id"] for k in keys
                   if (as_datetime(k["create_date"]) or since) > since  # an undated key is never taken for one
                   and not get_access_key_last_used(client, k["access_key_id"], user_name=user_name)["last_used_date"]]
    else:
        orphans = [k["access_key_id"] for k in keys if k["access_key_id"] not in known_ids]
    for access_key_id in orphans:
        _delete_key(client, user_name, access_key_id)
    return {k["access_key_id"] for k in keys} - set(orphans)


def _known_key(user_name, access_key_id, known_status):
    """The key as the caller last saw it (its status from an earlier listing): what a change is judged on
    when the module is told not to list the keys again."""
    return {"access_key_id": access_key_id, "user_name": user_name, "status": known_status.capitalize()}


def set_access_key_status(client, user_name, access_key_id, status, check_mode=False, force=False, signing_access_key_id=None,
                          before_change=None, known_status=None):
    """Set ``status`` (Active/Inactive). Returns ``changed``, ``access_key``, ``previous_status``.

    IAM calls: ListAccessKeys (the only way to know the status before, hence ``changed`` and
    ``previous_status``), then UpdateAccessKey only when the status differs. ``before_change`` (the lock
    check) runs right before that write, and not at all when nothing is to change. With ``known_status``
    (the status the caller read, e.g. in the plan's listing of the same run) there is no listing: the
    change is judged on it, and UpdateAccessKey answers NoSuchEntity for a key that is gone.
    """
    status = status.capitalize()
    if known_status:
        key = _known_key(user_name, access_key_id, known_status)
    else:
        keys = list_access_keys(client, user_name)
        key = find_key(keys, access_key_id)
        if key is None:
            raise RotorIAMError(
                f"Access key {access_key_id} does not belong to IAM user {user_name!r}; the user's keys are: "
                f"{key_summary(keys)}. Check access_key_id and user_name.",
                code="NoSuchEntity",
            )
    previous = key["status"]
    if previous == status:
        return {"changed": False, "access_key": key, "previous_status": previous}
    if status == "Inactive" and signing_access_key_id == access_key_id and not force:
        raise RotorIAMError(
            f"Refusing to deactivate {access_key_id}: it is the access key this task itself is signing its AWS "
            f"requests with, so the task would lock itself out. Run it with other credentials, or set force=true "
            f"if you really mean it.",
            code="SelfDeactivation",
        )
    after = dict(key, status=status)
    if not check_mode:
        if before_change is not None:
            before_change()
        _call(
            "iam:UpdateAccessKey",
            client.update_access_key,
            user_name=user_name,
            access_key_id=access_key_id,
            aws_retry=True,
            UserName=user_name,
            AccessKeyId=access_key_id,
            Status=status,
        )
    return {"changed": True, "access_key": after, "previous_status": previous}


def delete_access_key(client, user_name, access_key_id, check_mode=False, force=False, before_change=None, known_status=None):
    """Delete a key. Absent is fine; an Active key needs ``force``. Returns ``changed``, ``access_key``.

    IAM calls: ListAccessKeys (the key's status decides whether it may go without ``force``, and its
    metadata is returned), then DeleteAccessKey only when the key exists. ``before_change`` (the lock
    check) runs right before that write, and not at all when the key is already gone. With ``known_status``
    (the status the caller knows, e.g. Inactive because the same run deactivated it) there is no listing:
    DeleteAccessKey alone, and a key already gone is reported unchanged (check mode then assumes it exists).
    """
    if known_status:
        key = _known_key(user_name, access_key_id, known_status)
    else:
        keys = list_access_keys(client, user_name)
        key = find_key(keys, access_key_id)
        if key is None:
            return {"changed": False, "access_key": None}
    if key["status"] == "Active" and not force:
        raise RotorIAMError(
            f"Refusing to delete {access_key_id} of IAM user {user_name!r}: the key is Active, so something may "
            f"still use it, and a deleted key cannot be restored. Deactivate it first (rotor.iam.access_key_status "
            f"status=inactive) and check nothing breaks, or set force=true.",
            code="KeyActive",
        )
    if not check_mode:
        if before_change is not None:
            before_change()
        if not _delete_key(client, user_name, access_key_id):
            return {"changed": False, "access_key": None}
    return {"changed": True, "access_key": key}


def signing_access_key_id(client):
    """The access key id a boto3 client signs with, or None if it cannot be told."""
    raw = getattr(client, "client", client)  # unwrap RetryingBotoClientWrapper
    try:
        credentials = raw._request_signer._credentials  # pylint: disable=protected-access
        return credentials.get_frozen_credentials().access_key if credentials else None
    except AttributeError:
        return None


def verify_access_key(
    get_caller_identity,
    expect="valid",
    timeout=120,
    consecutive=3,
    clock=time.monotonic,
    sleep=time.sleep,
    initial_delay=0.25,
    max_delay=1.0,
):
    """Poll ``get_caller_identity()`` until it proves the key ``expect``-ed.

    IAM is eventually consistent: a new key is rejected for seconds after
    creation, and one success does not guarantee the next, so ``consecutive``
    matching answers in a row are required. Transient errors (throttling,
    network) count neither way. Returns ``arn``, ``account``, ``user_id``,
    ``attempts``, ``elapsed``, ``last_error``.

    Only an answer about the key id proves ``invalid`` (``DISABLED_KEY_CODES``). An answer that the
    signature does not match (``WRONG_SECRET_CODES``) says the secret used is not the key's: it proves
    neither outcome, so the proof fails at once (code ``WrongSecret``) instead of passing or waiting.
    """
    started = clock()
    attempts = 0
    streak = 0
    unreachable = 0  # connection errors in a row while AWS never answered: nothing to do with propagation
    answered = False
    delay = initial_delay
    last_error = None
    identity = {}
    while True:
        attempts += 1
        matched = False
        transient = False
        try:
            response = get_caller_identity()
        except botocore.exceptions.ClientError as exc:
            answered = True
            code = error_code(exc)
            last_error = f"{code}: {_error_message(exc)}"
            if code in WRONG_SECRET_CODES:
                raise RotorIAMError(
                    f"The proof that the key is {expect} cannot be made with this secret: AWS answered {code}, so the "
                    f"secret used is not the key's (a stale or rewritten copy) and proves nothing about the key. "
                    f"Prove it with the key's real secret.",
                    code="WrongSecret",
                    attempts=attempts,
                    elapsed=round(clock() - started, 3),
                ) from exc
            transient = code in _TRANSIENT_CODES
            matched = expect == "invalid" and code in DISABLED_KEY_CODES
        except botocore.exceptions.BotoCoreError as exc:
            last_error = f"{type(exc).__name__}: {exc}"
            transient = True
            unreachable = unreachable + 1 if isinstance(exc, botocore.exceptions.ConnectionError) else 0
            if unreachable >= UNREACHABLE_ATTEMPTS and not answered:
                raise RotorIAMError(
                    f"Cannot reach AWS STS to prove the key {expect}: {last_error} ({attempts} attempts, no answer from AWS "
                    f"at all, so this says nothing about the key or IAM propagation). Check the endpoint (endpoint_url, "
                    f"region, AWS_ENDPOINT_URL_STS), the network and any proxy.",
                    code="ConnectionError",
                    attempts=attempts,
                    elapsed=round(clock() - started, 3),
                ) from exc
        else:
            answered = True
            unreachable = 0
            identity = {"arn": response.get("Arn"), "account": response.get("Account"), "user_id": response.get("UserId")}
            matched = expect == "valid"
            if not matched:
                last_error = f"the key is still accepted by AWS (as {identity['arn']})"
        if matched:
            streak += 1
            delay = initial_delay  # confirmations come quickly once the key settles
        elif not transient:
            streak = 0
        elapsed = clock() - started
        if streak >= consecutive:
            result = {"attempts": attempts, "elapsed": round(elapsed, 3), "last_error": last_error}
            result.update(identity if expect == "valid" else {"arn": None, "account": None, "user_id": None})
            return result
        if elapsed >= timeout:
            raise RotorIAMError(
                f"The access key did not prove {expect} within {timeout}s ({attempts} attempts, "
                f"{streak} of {consecutive} consecutive confirmations). Last answer: {str(last_error).rstrip('.')}. "
                f"IAM can take longer to propagate a key change; raise timeout, or check the key.",
                code="VerifyTimeout",
                attempts=attempts,
                elapsed=round(elapsed, 3),
            )
        sleep(min(delay, max(0.0, timeout - elapsed)))
        if not matched:
            delay = min(delay * 1.5, max_delay)
