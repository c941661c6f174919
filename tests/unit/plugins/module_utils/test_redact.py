"""Shown or withheld (plugins/module_utils/redact.py), and health URL redaction (plugins/module_utils/health.py)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.module_utils.health import redact_url
from ansible_collections.rotor.iam.plugins.module_utils.health import scrub as scrub_url
from ansible_collections.rotor.iam.plugins.module_utils.health import url_secrets
from ansible_collections.rotor.iam.plugins.module_utils.redact import WITHHELD
from ansible_collections.rotor.iam.plugins.module_utils.redact import is_access_key_id
from ansible_collections.rotor.iam.plugins.module_utils.redact import scrub
from ansible_collections.rotor.iam.plugins.module_utils.redact import shown_key_id
from ansible_collections.rotor.iam.plugins.module_utils.redact import shown_tags

KEY_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@given(st.sampled_from(["AKIA", "ASIA"]), st.text(alphabet=KEY_ID_CHARS, min_size=16, max_size=16))
def test_an_access_key_id_is_shown(prefix, rest):
    assert shown_key_id(prefix + rest) == prefix + rest


@given(st.text(min_size=1))
def test_anything_else_is_withheld(value):
    shown = shown_key_id(value)
    assert shown == value if is_access_key_id(value) else shown == WITHHELD


@pytest.mark.parametrize("value", [
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # a secret, id and secret swapped
    "AKIAIOSFODNN7EXAMPLE\n", " AKIAIOSFODNN7EXAMPLE", "akiaiosfodnn7example", "AKIAIOSFODNN7EXAMPLEX", "AROAIOSFODNN7EXAMPLE",
    "AKIAIOSFODNN7EXAMPL",
])
def test_near_misses_are_withheld(value):
    assert shown_key_id(value) == WITHHELD


def test_the_check_mode_placeholder_is_shown():
    assert shown_key_id("NEW-KEY-OF-SVC-APP") == "NEW-KEY-OF-SVC-APP"
    assert scrub("would write NEW-KEY-OF-SVC-APP", ["NEW-KEY-OF-SVC-APP"]) == "would write NEW-KEY-OF-SVC-APP"


def test_none_and_empty_stay_as_they_are():
    assert shown_key_id(None) is None and shown_key_id("") == ""


def test_scrub_masks_values_that_are_not_key_ids_and_keeps_key_ids():
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    text = f"key {secret} not found; key AKIAIOSFODNN7EXAMPLE is fine"
    assert scrub(text, [secret, "AKIAIOSFODNN7EXAMPLE", None, [secret]]) == f"key {WITHHELD} not found; key AKIAIOSFODNN7EXAMPLE is fine"


def test_only_the_key_id_tags_are_withheld():
    tags = {"rotor:pending": "secret-looking-value-000000", "rotor:current": "AKIAIOSFODNN7EXAMPLE", "rotor:owner": "team"}
    assert shown_tags(tags) == {"rotor:pending": WITHHELD, "rotor:current": "AKIAIOSFODNN7EXAMPLE", "rotor:owner": "team"}


@pytest.mark.parametrize("url, shown, hidden", [
    ("http://127.0.0.1:8080/health", "http://127.0.0.1:8080/health", []),
    ("https://monitor:Hunter2@h/health", "https://********@h/health", ["Hunter2", "monitor:Hunter2"]),
    ("https://h/health?check=full&access_token=abcd1234", "https://h/health?check=full&access_token=********", ["abcd1234"]),
    ("https://h/p?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA%2F1;api_key=q1w2", "https://h/p?X-Amz-Signature=********&"
     "X-Amz-Credential=********;api_key=********", ["deadbeef", "q1w2"]),
    ("https://h/p#password=frag123", "https://h/p#password=********", ["frag123"]),
    ("https://h/p?Secret=S3cr3t&SESSION=s355", "https://h/p?Secret=********&SESSION=********", ["S3cr3t", "s355"]),
])
def test_health_urls_are_redacted_in_every_part_that_can_carry_a_credential(url, shown, hidden):
    assert redact_url(url) == shown
    assert set(hidden) <= set(url_secrets(url))
    message = scrub_url(f"HTTP health check {url} failed: no answer ({url})", url)
    assert all(value not in message for value in hidden) and shown in message
