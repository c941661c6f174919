"""What an operator sees: the demo (scripts/demo.py, 3 local hosts, the README's ansible.cfg) prints a short run that
ends with the collection's own summary table: one row per user and per host, the old key before, the new key after,
every host healthy."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support import ansible_env, short_tmpdir, summary_rows

pytest.importorskip("boto3")
pytest.importorskip("moto")

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
ANSIBLE_CFG = REPO / "docs" / "ansible.cfg"
# Issue 24: the 3-host demo's Ansible output (first play to recap) at default verbosity with the README's ansible.cfg.
LINE_BUDGET = 120
KEY_ID = r"AKIA[A-Z0-9]{16}"

pytestmark = pytest.mark.slow


def ansible_output(stdout: str) -> list:
    """The lines ansible-playbook printed: from the first play to the end of the recap (the demo's own lines apart)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("PLAY ["))
    recap = next(i for i, line in enumerate(lines) if line.startswith("PLAY RECAP"))
    end = recap + 1
    while end < len(lines) and lines[end].strip():
        end += 1
    return lines[start:end]


def test_the_readme_shows_the_ansible_cfg_the_demo_uses():
    block = re.search(r"```ini\n(# ansible.cfg.*?)```", README.read_text(), re.S)
    assert block, "the README has no ansible.cfg example"
    assert block.group(1) == ANSIBLE_CFG.read_text()


@pytest.fixture(scope="module")
def demo():
    env = ansible_env(keep_ansible=False, tmpdir=short_tmpdir())
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return subprocess.run([sys.executable, str(REPO / "scripts" / "demo.py"), "--hosts", "3", "--lag", "0"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=600, check=False)


def test_the_demo_ends_with_the_collections_summary_table(demo):
    assert demo.returncode == 0, demo.stdout[-6000:] + demo.stderr[-3000:]
    output = ansible_output(demo.stdout)
    text = "\n".join(output)

    rows = summary_rows(text)
    expected = [("demo-app", "(IAM)"), ("demo-app", "host1"), ("demo-app", "host2"), ("demo-app", "host3")]
    assert [(row["user"], row["host"]) for row in rows] == expected, rows
    old, new = rows[0]["key before"], rows[0]["key after"]
    assert re.fullmatch(KEY_ID, old) and re.fullmatch(KEY_ID, new) and old != new, rows[0]
    assert rows[0]["what happened"] == "rotated; old key deleted"
    for row in rows[1:]:
        assert (row["key before"], row["key after"], row["healthy"], row["what happened"]) == (old, new, "yes", "moved to the new key"), row
    assert re.search(r"Run \S+; rotated: demo-app; 3 hosts switched; took \d", text), text[-3000:]

    # The summary is the last thing the run says: after it only task banners and their ok lines, then the recap.
    after = text.split("TASK [rotor.iam.rotate : Rotation summary]", 1)[1].split("\n\n", 1)[1]
    assert "msg" not in after.split("PLAY RECAP", 1)[0], after

    # The plan came first, as one table, and one progress line for the one batch.
    assert "| user" in text.split("Show the plan", 1)[1].split("TASK [", 1)[0]
    assert re.search(r"Progress: 3 of 3 hosts on the new key; 0 failed; \d+s elapsed", text), text

    # No null, no empty message, nothing skipped shown, no secret.
    assert "null" not in text and "skipping:" not in text and "msg: []" not in text
    assert "SecretAccessKey" not in demo.stdout and "secret_access_key" not in demo.stdout


def test_the_demo_output_is_short(demo):
    """The README's ansible.cfg selects rotor.iam.runbook: a task prints only what it has to show."""
    assert demo.returncode == 0, demo.stdout[-6000:]
    output = ansible_output(demo.stdout)
    assert len(output) < LINE_BUDGET, "\n".join(output)
    text = "\n".join(output)
    # The summary table is the last thing the run prints before the recap; no internal step shows as ok, no include line.
    assert re.search(r"\| demo-app \| host3 \|[^\n]*\|\n\nPLAY RECAP \*+\n", text), text[-3000:]
    assert "\nok: [" not in text and "included:" not in text, text


def test_a_failure_shows_its_message_with_the_readme_cfg(tmp_path):
    """A failed check still says what is wrong and what is allowed, in full but without the role's whole argument spec."""
    env = ansible_env(keep_ansible=False, tmpdir=short_tmpdir(), ANSIBLE_CONFIG=str(ANSIBLE_CFG))
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "rotor.iam.rotate", "-i", "localhost,", "-c", "local",
                           "-e", "rotor_old_key_action=shred"], env=env, cwd=tmp_path, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300, check=False)
    assert done.returncode == 2, done.stdout
    output = "\n".join(ansible_output(done.stdout))
    assert "fatal: [localhost]: FAILED!" in output
    assert "value of rotor_old_key_action must be one of: delete, deactivate, got: shred" in output
    assert "argument_spec_data" not in output and len(output.splitlines()) < 40, output
