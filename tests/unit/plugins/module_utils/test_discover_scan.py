"""The text scanners of rotor.iam.discover: where key ids sit, and that nothing but key ids and names leaves them."""

from __future__ import annotations

import json
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.rotor.iam.plugins.module_utils._discover import scan

KEY_A = "AKIAAAAAAAAAAAAAAAAA"
KEY_B = "AKIABBBBBBBBBBBBBBB2"
TEMP = "ASIACCCCCCCCCCCCCCCC"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def found(result):
    return [(f["access_key_id"], f["profile"], f["variable"], f["line"]) for f in result.found]


def test_aws_credentials_profiles_and_the_secret_slot_name():
    text = f"[default]\naws_access_key_id = {KEY_A}\naws_secret_access_key = {SECRET}\n\n[build]\naws_access_key_id={KEY_B}\n"
    result = scan.scan_text(text, "ini")
    assert found(result) == [(KEY_A, "default", "aws_access_key_id", 2), (KEY_B, "build", "aws_access_key_id", 6)]
    assert result.secret_names == {"default": "aws_secret_access_key"}
    assert result.problems == []


def test_aws_config_sections_keep_their_profile_prefix():
    result = scan.scan_text(f"[profile ci]\nregion = eu-west-1\naws_access_key_id = {KEY_A}  # the CI key\n", "ini")
    assert found(result) == [(KEY_A, "profile ci", "aws_access_key_id", 3)]


def test_env_files_quotes_export_and_comments():
    text = f"# AWS_ACCESS_KEY_ID={KEY_B}\nexport AWS_ACCESS_KEY_ID=\"{KEY_A}\"\nBACKUP_KEY='{TEMP}' # temporary\n"
    result = scan.scan_text(text, "env")
    assert found(result) == [(KEY_A, None, "AWS_ACCESS_KEY_ID", 2), (TEMP, None, "BACKUP_KEY", 3)]


def test_a_secret_in_the_key_id_slot_is_a_problem_and_never_shown():
    for kind, text in (("env", f"AWS_ACCESS_KEY_ID={SECRET}\n"), ("ini", f"[default]\naws_access_key_id = {SECRET}\n"),
                       ("json", json.dumps({"AccessKeyId": SECRET})), ("systemd", f"[Service]\nEnvironment=AWS_ACCESS_KEY_ID={SECRET}\n")):
        result = scan.scan_text(text, kind)
        assert result.found == [], kind
        assert len(result.problems) == 1 and "swapped" in result.problems[0]["problem"], kind
        assert SECRET not in json.dumps(result.as_dict()), kind


def test_placeholders_in_the_key_id_slot_are_not_problems():
    text = "AWS_ACCESS_KEY_ID=${KEY}\nAWS_ACCESS_KEY_ID=\nAWS_ACCESS_KEY_ID={{ vault_key }}\n"
    assert scan.scan_text(text, "env").problems == []
    assert scan.scan_text("AWS_ACCESS_KEY_ID=changeme\n", "env").problems[0]["problem"].endswith("(value withheld)")


def test_a_key_id_inside_a_longer_secret_run_is_not_a_key_id():
    assert scan.scan_text(f"token=abc/{KEY_A}/def\nother=x{KEY_A}\n", "text").found == []
    assert found(scan.scan_text(f"url=https://example.com/?id={KEY_A}&x=1\n", "text")) == [(KEY_A, None, "url", 1)]


def test_systemd_environment_and_environment_files():
    unit = (f"[Service]\nEnvironment=\"AWS_ACCESS_KEY_ID={KEY_A}\" REGION=eu-west-1\nEnvironment=OTHER={KEY_B}\n"
            "EnvironmentFile=-/etc/app/aws.env\nEnvironmentFile=/etc/app/required.env\n"
            f"ExecStart=/usr/bin/app --key {TEMP}\n")
    result = scan.scan_text(unit, "systemd")
    assert found(result) == [(KEY_A, "Service", "AWS_ACCESS_KEY_ID", 2), (KEY_B, "Service", "OTHER", 3), (TEMP, "Service", "ExecStart", 6)]
    assert [(r["path"], r["required"]) for r in result.references] == [("/etc/app/aws.env", False), ("/etc/app/required.env", True)]


def test_compose_env_file_forms_and_inline_environment():
    compose = (
        "services:\n  app:\n    env_file: app.env\n    environment:\n"
        f"      AWS_ACCESS_KEY_ID: {KEY_A}\n      - \"OTHER={KEY_B}\"\n"
        "  worker:\n    env_file:\n      - ./worker.env\n      - path: /etc/shared.env\n        required: false\n"
        "  cron:\n    env_file: [a.env, \"b.env\"]\n"
    )
    result = scan.scan_text(compose, "compose")
    assert [r["path"] for r in result.references] == ["app.env", "./worker.env", "/etc/shared.env", "a.env", "b.env"]
    assert found(result) == [(KEY_A, None, "AWS_ACCESS_KEY_ID", 5), (KEY_B, None, "OTHER", 6)]


def test_json_documents():
    document = {"Credentials": {"AccessKeyId": KEY_A, "SecretAccessKey": SECRET}, "note": f"old {KEY_B}"}
    result = scan.scan_text(json.dumps(document, indent=2), "json")
    assert sorted(found(result)) == [(KEY_A, None, "AccessKeyId", None), (KEY_B, None, "note", None)]


def test_names_and_paths_that_look_like_secrets_are_withheld():
    assert scan.shown_label("aws_access_key_id") == "aws_access_key_id"
    assert scan.shown_label("profile production-2024") == "profile production-2024"
    assert scan.shown_label(SECRET.replace("/", "")) == scan.WITHHELD_LABEL
    assert scan.shown_label("bad\nname") == scan.WITHHELD_LABEL
    assert scan.shown_path("/srv/app/.env") == "/srv/app/.env"
    assert SECRET.replace("/", "") not in scan.shown_path("/tmp/" + SECRET.replace("/", "") + "/x")
    result = scan.scan_text(f"[{SECRET.replace('/', '')}]\naws_access_key_id = {KEY_A}\n", "ini")
    assert found(result) == [(KEY_A, scan.WITHHELD_LABEL, "aws_access_key_id", 2)]


def test_kind_and_format_from_the_name():
    assert scan.kind_of("/home/a/.aws/credentials") == "ini"
    assert scan.kind_of("/etc/systemd/system/app.service") == "systemd"
    assert scan.kind_of("/etc/systemd/system/app.service.d/aws.conf") == "systemd"
    assert scan.kind_of("/opt/app/docker-compose.yml") == "compose"
    assert scan.kind_of("/opt/app/.env") == "env"
    assert scan.kind_of("/opt/app/creds.json") == "json"
    assert scan.file_format("text", "[default]\nx=1\n") == "aws_credentials"
    assert scan.file_format("text", "A=1\n") == "env"
    assert scan.file_format("systemd", "") is None


_SECRET_CHARS = string.ascii_letters + string.digits + "+/"


@settings(max_examples=300, deadline=None)
@given(
    secret=st.text(alphabet=_SECRET_CHARS, min_size=40, max_size=40),
    name=st.sampled_from(["AWS_ACCESS_KEY_ID", "aws_access_key_id", "AccessKeyId", "OTHER", "aws_secret_access_key"]),
    kind=st.sampled_from(scan.KINDS),
    layout=st.sampled_from(["{n}={s}", "{n} = {s}", "{n}: \"{s}\"", "- {n}={s}", "export {n}='{s}'", "[{s}]\n{n}={s}",
                            "Environment={n}={s}", "{s}", "{{\"{n}\": \"{s}\"}}"]),
)
def test_no_secret_ever_leaves_the_scanner(secret, name, kind, layout):
    """Whatever a file holds and wherever, only key ids and names leave: never a 40-character secret."""
    text = layout.format(n=name, s=secret) + "\n"
    result = scan.scan_text(text, kind)
    dumped = json.dumps(result.as_dict())
    for entry in result.found:
        assert scan.KEY_ID_TOKEN_RE.fullmatch(entry["access_key_id"])
    # The secret's slot (aws_secret_access_key) is kept by name only; a name, profile or path that could be a secret
    # is withheld.
    assert secret not in dumped
