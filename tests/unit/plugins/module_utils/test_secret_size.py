"""A value far longer than any AWS secret access key (a pasted file, a 2 MB blob) is refused before anything is
written, on the host side and on the AWS side alike, and never quoted."""

import pytest

from test_destinations import holding  # pylint: disable=wrong-import-order

from ansible_collections.rotor.iam.plugins.module_utils._credfile.common import CredentialsFileError
from ansible_collections.rotor.iam.plugins.module_utils._credfile.common import check_secret
from ansible_collections.rotor.iam.plugins.module_utils.access_keys import RotorIAMError
from ansible_collections.rotor.iam.plugins.module_utils.destinations import ensure_present
from ansible_collections.rotor.iam.plugins.module_utils.redact import SECRET_MAX_LENGTH
from ansible_collections.rotor.iam.plugins.module_utils.redact import secret_size_problem

BLOB = "x" * (2 * 1024 * 1024)


def test_a_real_secret_passes_both_checks():
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert secret_size_problem("secret_access_key", secret) is None
    check_secret("secret_access_key", secret)


@pytest.mark.parametrize("value", ["y" * (SECRET_MAX_LENGTH + 1), BLOB])
def test_an_oversized_value_is_refused_by_size_and_never_quoted(value):
    problem = secret_size_problem("secret_access_key", value)
    assert problem.startswith(f"secret_access_key is {len(value)} characters long") and value not in problem
    with pytest.raises(CredentialsFileError) as refused:
        check_secret("secret_access_key", value)
    assert f"is {len(value)} characters long" in str(refused.value) and value[:50] not in str(refused.value)


@pytest.mark.parametrize("kind", ["secretsmanager", "ssm"])
def test_a_destination_refuses_an_oversized_secret_before_reading_or_writing(kind):
    client, dest = holding(kind, "AKIAOLD0000000000000", "old-secret", {})
    with pytest.raises(RotorIAMError) as refused:
        ensure_present(dest, "AKIANEW0000000000000", BLOB)
    assert "characters long" in refused.value.message and BLOB[:50] not in refused.value.message
    assert client.current() == {"AccessKeyId": "AKIAOLD0000000000000", "SecretAccessKey": "old-secret"}
