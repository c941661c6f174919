"""rotor.iam.discover as Ansible runs it: its result, check mode, and bad input named without a traceback."""

from __future__ import annotations

import json

import pytest

from module_args import patch_module_args

from ansible_collections.rotor.iam.plugins.modules import discover

KEY = "AKIAAAAAAAAAAAAAAAAA"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def run_module(capsys, args, check_mode=False):
    with patch_module_args(dict(args, _ansible_check_mode=check_mode)):
        with pytest.raises(SystemExit):
            discover.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("check_mode", [False, True])
def test_finds_key_ids_and_changes_nothing(capsys, tmp_path, check_mode):
    path = tmp_path / "app.env"
    path.write_text(f"AWS_ACCESS_KEY_ID={KEY}\nAWS_SECRET_ACCESS_KEY={SECRET}\n")
    before = path.read_bytes()
    result = run_module(capsys, {"paths": [str(path)], "search": []}, check_mode)
    assert not result.get("failed") and result["changed"] is False
    assert result["access_key_ids"] == [KEY]
    assert result["found"][0]["secret_variable"] == "AWS_SECRET_ACCESS_KEY"
    assert SECRET not in json.dumps(result)
    assert path.read_bytes() == before


@pytest.mark.parametrize("paths, message", [
    ("/etc/app.env", "paths must be a list of absolute paths, got the string"),
    (["relative/app.env"], "paths[0] 'relative/app.env' is not absolute"),
])
def test_bad_paths_fail_with_a_message_naming_them(capsys, paths, message):
    result = run_module(capsys, {"paths": paths, "search": []})
    assert result["failed"] and message in result["msg"]
    assert "Traceback" not in json.dumps(result)


def test_an_unknown_place_is_refused_by_the_spec(capsys):
    result = run_module(capsys, {"search": ["everywhere"]})
    assert result["failed"] and "search" in result["msg"]
