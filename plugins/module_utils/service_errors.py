# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A failed Secrets Manager or SSM Parameter Store call, explained for the operator.

One explainer for the helpers that keep values in those services (``destinations``, ``pending_store``).
They differ only in how they name the resource, what a policy must grant the action on, and a few
hints (:class:`ErrorHints`); everything else is worded here once. No message carries a value read
from or written to the service.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import error_code

THROTTLING_CODES = frozenset(("ThrottlingException", "Throttling", "TooManyRequestsException"))
REJECTED_CREDENTIAL_CODES = frozenset(
    ("UnrecognizedClientException", "InvalidSignatureException", "InvalidClientTokenId", "SignatureDoesNotMatch",
     "IncompleteSignature", "MissingAuthenticationToken", "ExpiredTokenException")
)
DENIED_CODES = frozenset(("AccessDeniedException", "AccessDenied"))
# Besides every code starting with "KMS": Secrets Manager's two and SSM's InvalidKeyId.
KMS_CODES = frozenset(("EncryptionFailure", "DecryptionFailure", "InvalidKeyId"))


@dataclass(frozen=True)
class ErrorHints:
    """What one caller's messages say that another's do not."""

    docs: str  # where the needed permissions are documented, e.g. "docs/iam-policy.json"
    kms_identity: str  # who the KMS key policy must allow, e.g. "this identity"
    quote_aws_on_rejected_credentials: bool  # append "AWS said: ..." to a rejected-credentials message
    scheduled_deletion: bool  # explain InvalidRequestException on a secret scheduled for deletion
    quote_connection_error: bool  # no AWS answer: quote botocore's error (False: only its type)
    network: str  # what to check besides endpoint_url and region, e.g. "network access"


def _aws_message(exc):
    """AWS's own message in a botocore error, else the error's text."""
    try:
        return exc.response["Error"].get("Message") or str(exc)
    except (AttributeError, KeyError, TypeError):
        return str(exc)


def _kms_code(code):
    return bool(code) and (code.startswith("KMS") or code in KMS_CODES)


def explain_service_error(exc, action, label, grant_on, hints):
    """A botocore error from ``action`` (e.g. ``ssm:PutParameter``) on ``label`` (e.g. ``secret 'a/b'``), explained.

    ``grant_on`` is what the identity needs ``action`` on (``it`` or an ARN pattern). Returns a RotorIAMError
    with AWS's ``code`` and the ``action``; the caller raises it.
    """
    code = error_code(exc)
    said = _aws_message(exc)
    if code in DENIED_CODES:
        message = (
            f"Access denied for {action} on {label}: the identity running this task needs {action} on {grant_on} "
            f"(see {hints.docs}; with kms_key_id, the KMS key's policy must also allow it). AWS said: {said}"
        )
    elif code in REJECTED_CREDENTIAL_CODES:
        message = (
            f"AWS rejected the credentials used for {action} on {label} ({code}): the access key in use is unknown, "
            f"inactive or has a wrong secret. Check the connection options (access_key/secret_key/profile)."
        )
        if hints.quote_aws_on_rejected_credentials:
            message += f" AWS said: {said}"
    elif code in THROTTLING_CODES:
        message = f"{action} on {label} was throttled by AWS and retries ran out ({code}); retry later."
    elif _kms_code(code):
        message = (
            f"{action} on {label} failed with {code}: the KMS key cannot be used. Check kms_key_id and that the key "
            f"is enabled and its key policy allows {hints.kms_identity}. AWS said: {said}"
        )
    elif hints.scheduled_deletion and code == "InvalidRequestException" and "deletion" in said:
        message = (
            f"{label[:1].upper()}{label[1:]} is scheduled for deletion, so {action} cannot use it. Restore it or "
            f"delete it for good (aws secretsmanager delete-secret --force-delete-without-recovery), then retry. "
            f"AWS said: {said}"
        )
    elif code is None:
        # botocore's parameter validation quotes the value it rejected, which may be a secret: never quoted.
        quotable = hints.quote_connection_error and type(exc).__name__ != "ParamValidationError"
        detail = exc if quotable else type(exc).__name__
        message = f"{action} on {label} failed: {detail}. Check endpoint_url, region and {hints.network}."
    else:
        message = f"{action} on {label} failed with {code}: {said}"
    return RotorIAMError(message, code=code, action=action)
