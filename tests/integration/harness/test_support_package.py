"""The integration tests' support package itself: the secret scan finds a secret wherever a run left it (output,
report, leftover file, file name) and names only its label; the result class parses what ansible-playbook printed;
every run gets a short TMPDIR. No endpoint or fleet is started."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from support import PlaybookResult, ansible_env, assert_no_secrets, run_playbook, short_tmpdir  # noqa: E402  pylint: disable=wrong-import-position

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSUPPORTKEY"


def result_with(tmp_path, **fields) -> PlaybookResult:
    return PlaybookResult(["ansible-playbook", "x.yml"], 0, workdir=tmp_path, tmpdir=tmp_path / "tmp", **fields)


@pytest.mark.parametrize("where", ["stdout", "stderr", "log", "report", "leftover", "file name"])
def test_the_scan_finds_a_secret_wherever_the_run_left_it_and_never_shows_it(tmp_path, where):
    (tmp_path / "tmp").mkdir()
    (tmp_path / "reports").mkdir()
    fields = {"stdout": "ok\n", "report_dir": tmp_path / "reports"}
    if where in ("stdout", "stderr", "log"):
        fields[where] = f"line one\nkey {SECRET}\n"
    elif where == "report":
        (tmp_path / "reports" / "rotor-iam-audit.json").write_text(json.dumps({"key": SECRET}))
    elif where == "leftover":
        (tmp_path / "tmp" / "payload.py").write_text(SECRET)
    else:
        (tmp_path / "tmp" / f"backup-{SECRET.replace('/', '_')}").write_text("")
    secret = SECRET.replace("/", "_") if where == "file name" else SECRET

    with pytest.raises(AssertionError) as raised:
        assert_no_secrets(result_with(tmp_path, **fields), {"the old secret": secret})

    assert "the old secret" in str(raised.value) and secret not in str(raised.value)


def test_a_clean_run_passes_the_scan(tmp_path):
    (tmp_path / "tmp").mkdir()
    assert_no_secrets(result_with(tmp_path, stdout="nothing here\n"), [SECRET])


def test_the_result_parses_task_results_failures_and_the_recap():
    stdout = (
        'TASK [one]\nok: [localhost] => {\n    "msg": "hello"\n}\n'
        'TASK [two]\nfatal: [localhost]: FAILED! => {"changed": false, "msg": "ignored one"}\n...ignoring\n'
        'TASK [three]\nfatal: [localhost]: FAILED! => {"changed": false, "msg": "the real failure"}\n'
        "PLAY RECAP\nlocalhost                  : ok=2    changed=0    unreachable=0    failed=1    skipped=0    rescued=0    ignored=1\n"
    )
    run = PlaybookResult(["ansible-playbook"], 2, stdout)
    assert run.messages() == ["hello", "ignored one", "the real failure"]
    assert run.failure_messages() == ["the real failure"]
    assert run.recap() == {"localhost": {"ok": 2, "changed": 0, "unreachable": 0, "failed": 1, "skipped": 0, "rescued": 0, "ignored": 1}}


def test_every_run_gets_a_short_tmpdir_and_no_aws_settings_of_the_caller(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "someone-elses")
    assert "AWS_PROFILE" not in ansible_env()
    assert len(str(short_tmpdir() / "ansible-local-123456abcdef" / "cp" / "0123456789abcdef")) < 80
    playbook = tmp_path / "play.yml"
    playbook.write_text("- hosts: localhost\n  gather_facts: false\n  tasks:\n"
                        "    - ansible.builtin.debug:\n        msg: \"{{ lookup('env', 'TMPDIR') }}\"\n")
    run = run_playbook(playbook, tmp_path, inventories=["localhost,"], extra_vars={}, verbosity=1)
    assert run.returncode == 0, run.explain()
    assert run.messages() == [str(run.tmpdir)] and len(str(run.tmpdir)) < 40
    assert run.log_path.is_file() and (tmp_path / "run.vars.json").stat().st_mode & 0o077 == 0
