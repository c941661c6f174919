"""rotor.iam.runbook, the stdout callback of the README's ansible.cfg: a tiny playbook run with that ansible.cfg, on this
machine only (no network), and what it prints: debug messages as plain lines, one line per changed host, failures in full,
nothing a no_log result hides."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ansible_collections.rotor.iam.plugins.callback import runbook

REPO = Path(__file__).resolve().parents[4]
ANSIBLE_CFG = REPO / "docs" / "ansible.cfg"
BIN = Path(sys.executable).parent
SECRETS = ("TOPSECRET-debug", "TOPSECRET-fail", "TOPSECRET-item")

PLAYBOOK = """\
- name: Tiny rotation
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Quiet internal step
      ansible.builtin.set_fact:
        answer: 42
    - name: Show the plan
      ansible.builtin.debug:
        msg: ["| user | key |", "|------|-----|", "| app  | AKIA1 |"]
    - name: Progress
      ansible.builtin.debug:
        msg: "Progress: 1 of 1 hosts on the new key"
    - name: Show a variable
      ansible.builtin.debug:
        var: answer
    - name: Hidden debug
      ansible.builtin.debug:
        msg: TOPSECRET-debug
      no_log: true
    - name: Change two things
      ansible.builtin.command: "echo {{ item }}"
      loop: [first, second]
    - name: Hidden loop
      ansible.builtin.command: "echo {{ item }}"
      loop: [TOPSECRET-item]
      no_log: true
    - name: Never runs
      ansible.builtin.debug:
        msg: skipped
      when: false
    - name: Only at -vv
      ansible.builtin.debug:
        msg: verbose only
        verbosity: 2
    - name: Warn
      warner:
    - name: Health check
      ansible.builtin.fail:
        msg: "host1: the health check 'curl app' failed: restore the app's key"
      ignore_errors: true
    - name: Hidden failure
      ansible.builtin.fail:
        msg: TOPSECRET-fail
      no_log: true
      ignore_errors: true
    - name: Include more
      ansible.builtin.include_tasks: more.yml
    - name: Stop here
      ansible.builtin.fail:
        msg: the run stops
"""

MORE = """\
- name: Included table
  ansible.builtin.debug:
    msg: included line
"""

WARNER = """\
from ansible.module_utils.basic import AnsibleModule

module = AnsibleModule(argument_spec={})
module.warn("disk nearly full")
module.exit_json(changed=False)
"""


@pytest.fixture(scope="module")
def run():
    """The tiny playbook run with the README's ansible.cfg: (return code, stdout + stderr)."""
    with tempfile.TemporaryDirectory(prefix="rb", dir="/tmp") as tmp:
        work = Path(tmp)
        (work / "library").mkdir()
        (work / "library" / "warner.py").write_text(WARNER)
        (work / "play.yml").write_text(PLAYBOOK)
        (work / "more.yml").write_text(MORE)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "AWS_"))}
        env.update(ANSIBLE_CONFIG=str(ANSIBLE_CFG), ANSIBLE_NOCOLOR="1", ANSIBLE_LIBRARY=str(work / "library"), TMPDIR=tmp,
                   ANSIBLE_COLLECTIONS_PATH=os.environ.get("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".build" / "collections")),
                   ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCAL_TEMP=tmp, PYTHONWARNINGS="ignore")
        done = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "play.yml"], cwd=work, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300, check=False)
    return done.returncode, done.stdout


def section(output, task):
    """The lines under ``task``'s banner, up to the next banner (blank lines left out)."""
    text = re.split(r"\n(?=TASK \[|PLAY )", output.split(f"TASK [{task}]", 1)[1], maxsplit=1)[0]
    return [line for line in text.splitlines()[1:] if line.strip()]


def test_the_readme_cfg_selects_the_callback():
    assert re.search(r"^stdout_callback = rotor\.iam\.runbook$", ANSIBLE_CFG.read_text(), re.M)


def test_debug_messages_print_as_plain_lines(run):
    output = run[1]
    assert section(output, "Show the plan") == ["| user | key |", "|------|-----|", "| app  | AKIA1 |"]
    assert section(output, "Progress") == ["Progress: 1 of 1 hosts on the new key"]
    assert section(output, "Included table") == ["included line"]
    # Not a message: shown as the default callback shows it.
    assert section(output, "Show a variable") == ["ok: [localhost] => ", "    answer: 42"]


def test_quiet_tasks_print_nothing(run):
    output = run[1]
    for task in ("Quiet internal step", "Never runs", "Only at -vv", "Include more"):
        assert f"[{task}]" not in output, output
    assert "included:" not in output and "skipping:" not in output and "msg:" not in output.split("TASK [Health check]")[0]


def test_a_changed_loop_is_one_line_per_host(run):
    assert section(run[1], "Change two things") == ["changed: [localhost]"]
    assert section(run[1], "Hidden loop") == ["changed: [localhost]"]


def test_warnings_show(run):
    assert "disk nearly full" in "\n".join(section(run[1], "Warn"))


def test_failures_show_in_full(run):
    code, output = run
    assert code == 2
    health = "\n".join(section(run[1], "Health check"))
    assert "fatal: [localhost]: FAILED!" in health and "the health check 'curl app' failed: restore the app's key" in health
    assert health.rstrip().endswith("...ignoring")
    stop = "\n".join(section(run[1], "Stop here"))
    assert "fatal: [localhost]: FAILED!" in stop and "the run stops" in stop
    assert re.search(r"PLAY RECAP \*+\nlocalhost +: ok=\d+ +changed=2 .*failed=1 .*ignored=2", output), output


def test_no_log_results_stay_hidden(run):
    output = run[1]
    for secret in SECRETS:
        assert secret not in output
    assert "censored" in "\n".join(section(output, "Hidden debug"))
    hidden = "\n".join(section(output, "Hidden failure"))
    assert "fatal: [localhost]: FAILED!" in hidden and "censored" in hidden and hidden.rstrip().endswith("...ignoring")


@pytest.mark.parametrize("msg, lines", [
    ("one", ["one"]),
    ("one\ntwo", ["one", "two"]),
    ("", [""]),
    (["a", "b"], ["a", "b"]),
    ([1, "b"], ["1", "b"]),
    ({"a": 1}, None),
    ([{"a": 1}], None),
    (None, None),
])
def test_message_lines(msg, lines):
    assert runbook.message_lines(msg) == lines


def test_censored():
    assert runbook.is_censored({"censored": "hidden"}) and runbook.is_censored({"_ansible_no_log": True, "msg": "x"})
    assert not runbook.is_censored({"msg": "x"})


def test_the_documentation_loads():
    done = subprocess.run([str(BIN / "ansible-doc"), "-t", "callback", "rotor.iam.runbook"], capture_output=True, text=True, timeout=120,
                          check=False, env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    assert done.returncode == 0, done.stderr
    assert "display_skipped_hosts" in done.stdout and "result_format" in done.stdout and "[WARNING]" not in done.stderr
