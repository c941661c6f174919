# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The shell shared by rotor.iam's AWS modules: clients with retries, and one error boundary."""

from __future__ import annotations

import os

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports missing botocore

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.rotor.iam.plugins.module_utils._user_target import resolve_user_target
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import explain_client_error
from ansible_collections.rotor.iam.plugins.module_utils.redact import refuse_non_key_ids

# botocore retries on its own as well; one layer (AWSRetry, jittered) is enough
# and keeps non-idempotent calls from being replayed behind our back.
# total_max_attempts counts the first try; botocore's max_attempts counts retries,
# so max_attempts=1 would still replay a failed CreateAccessKey once.
_NO_SDK_RETRIES = {"retries": {"mode": "standard", "total_max_attempts": 1}}


# A role passes every user's own connection explicitly; an empty value means "not set" (the environment's).
_CONNECTION_OPTIONS = ("profile", "region", "endpoint_url")


# Credentials amazon.aws fills in from the environment when a task gives none.
_ENVIRONMENT_CREDENTIALS = {
    "access_key": ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "EC2_ACCESS_KEY"),
    "secret_key": ("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "EC2_SECRET_KEY"),
    "session_token": ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "EC2_SECURITY_TOKEN"),
}


def build_module(argument_spec, **kwargs):
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True, **kwargs)
    normalize_connection_params(module.params)
    return module


def normalize_connection_params(params):
    """The connection options as rotor.iam reads them (in place): for a module run and for its action plugin alike."""
    resolve_user_target(params)
    for name in _CONNECTION_OPTIONS:
        if params.get(name) == "":
            params[name] = None
    if params.get("profile"):
        # A profile given for a task wins over keys that only come from the environment, as it does in
        # botocore: a controller with default keys in its environment can still reach other accounts.
        for name, variables in _ENVIRONMENT_CREDENTIALS.items():
            value = params.get(name)
            if value and value in [os.environ.get(v) for v in variables]:
                params[name] = None


def iam_client(module, retries=10, delay=1, max_delay=30):
    """An IAM client whose ``aws_retry=True`` calls retry throttling and 5xx with jittered backoff."""
    return module.client(
        "iam",
        retry_decorator=AWSRetry.jittered_backoff(retries=retries, delay=delay, max_delay=max_delay),
        config=_NO_SDK_RETRIES,
    )


def service_client(module, service, retries=10, delay=1, max_delay=30, extra_retry_codes=()):
    """A client for another AWS service (e.g. ``secretsmanager``), retrying like :func:`iam_client`.

    ``extra_retry_codes`` names that service's own throttling/5xx codes (AWSRetry knows IAM's).
    """
    return module.client(
        service,
        retry_decorator=AWSRetry.jittered_backoff(
            retries=retries, delay=delay, max_delay=max_delay, catch_extra_error_codes=list(extra_retry_codes)
        ),
        config=_NO_SDK_RETRIES,
    )


def plain_iam_client(module):
    """An IAM client that never retries: for CreateAccessKey, which must not be replayed blindly."""
    return module.client("iam", config=_NO_SDK_RETRIES)


def run(module, operation, action="the IAM request"):
    """Run ``operation()`` and exit the module: the single error boundary of every rotor.iam module."""
    try:
        result = operation()
    except RotorIAMError as exc:
        module.fail_json(msg=exc.message, error_code=exc.code, **_public(exc.details))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        error = explain_client_error(exc, action, user_name=module.params.get("user_name"))
        module.fail_json(msg=error.message, error_code=error.code)
    module.exit_json(**result)


def _public(details):
    return {k: v for k, v in details.items() if k in ("attempts", "elapsed", "action")}


def refuse_malformed_key_ids(module, *options, secret_max_length=None):
    """Fail, before any call, when an option that names an access key id does not hold one (redact.refuse_non_key_ids:
    the value is never shown, it may be a secret pasted in the wrong place), or a ``secret_access_key`` is longer than
    any AWS secret."""
    refuse_non_key_ids(module, *options)
    secret = module.params.get("secret_access_key")
    if secret_max_length is not None and secret is not None and not 1 <= len(secret) <= secret_max_length:
        module.fail_json(msg=f"secret_access_key must be 1 to {secret_max_length} characters (an AWS secret access key is 40); got "
                             f"{len(secret)}. Nothing was changed.", error_code="InvalidParameter")
