"""What every integration test builds the same way: the environment of an Ansible run, and the secret scan.

- ``ansible_env``: the one environment builder for ``ansible-playbook``, ``ansible-runner``, ``molecule``
  and ``ansible-galaxy`` subprocesses: the caller's environment without AWS settings (and without
  Ansible's, for runs that must see only an installed collection), the endpoint's credentials, and
  the settings every test run needs (no colour, no retry files, no host key prompts).
- ``secret_lines`` / ``leaks_in_texts`` / ``leaks_in_files`` / ``assert_no_leaks``: the one secret scan.
  A finding names the secret by its label and the place by source and line numbers, never the secret
  itself, so a failing test cannot leak it into CI logs either.

The endpoint itself is one per test session (``iam_endpoint`` in tests/integration/conftest.py);
unit tests use tests/unit/fake_iam.py and start no server.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Optional

REPO = Path(__file__).resolve().parents[1]
COLLECTIONS_PATH = REPO / ".build" / "collections"


def ansible_env(endpoint=None, collections_path: Optional[Path] = None, endpoint_in_env: bool = True,
                keep_ansible: bool = True, **extra: str) -> Dict[str, str]:
    """Environment for an Ansible subprocess.

    ``endpoint``: its admin credentials and region (and, with ``endpoint_in_env``, its URL as
    ``AWS_ENDPOINT_URL*``; tests of the modules' own ``endpoint_url`` option pass False).
    ``collections_path``: only that tree is searched for collections (default: the caller's
    ``ANSIBLE_COLLECTIONS_PATH``, else the repository's .build/collections). ``keep_ansible=False`` drops the caller's ``ANSIBLE_*`` settings too, for runs
    that must behave like a user's fresh shell (the packaging tests). ``extra`` goes in last.
    """
    dropped = ("AWS_", "BOTO_") if keep_ansible else ("AWS_", "BOTO_", "ANSIBLE_")
    # The caller's collections path stays (benchmarks point it at an exported revision) unless one is given.
    inherited = os.environ.get("ANSIBLE_COLLECTIONS_PATH") if keep_ansible else None
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped) and k != "ANSIBLE_COLLECTIONS_PATH"}
    if endpoint is not None:
        aws = endpoint.admin_env()
        if not endpoint_in_env:
            aws = {k: v for k, v in aws.items() if not k.startswith("AWS_ENDPOINT_URL")}
        env.update(aws)
    env.update(
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        ANSIBLE_COLLECTIONS_PATH=str(collections_path or inherited or COLLECTIONS_PATH),
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="false",
        ANSIBLE_HOST_KEY_CHECKING="false",
    )
    env.setdefault("ANSIBLE_PYTHON_INTERPRETER", sys.executable)
    env.update(extra)
    return env


def secret_lines(text: str, secret: str) -> List[int]:
    """1-based numbers of the lines of ``text`` that contain ``secret`` (never the secret itself)."""
    return [number for number, line in enumerate(text.splitlines(), 1) if secret in line]


def _checked(secrets: Mapping[str, str]) -> Mapping[str, str]:
    for label, secret in secrets.items():
        assert secret and len(secret) >= 20, f"{label} is not a secret access key"
    return secrets


def leaks_in_texts(texts: Mapping[str, str], secrets: Mapping[str, str]) -> List[str]:
    """Where any of ``secrets`` ({label: secret}) appears in ``texts`` ({source: text})."""
    found = []
    for label, secret in _checked(secrets).items():
        for source, text in texts.items():
            lines = secret_lines(text or "", secret)
            if lines:
                found.append(f"{label} in {source} on lines {lines[:10]}")
    return found


def leaks_in_files(roots: Iterable[Path], secrets: Mapping[str, str], skip: Callable[[Path], bool] = lambda path: False) -> List[str]:
    """Where any of ``secrets`` appears in a file under ``roots`` (a root may be a file), ``skip`` apart."""
    _checked(secrets)
    found = []
    for root in roots:
        root = Path(root)
        paths = [root] if root.is_file() else sorted(root.rglob("*")) if root.is_dir() else []
        for path in paths:
            if not path.is_file() or skip(path):
                continue
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            found += [f"{label} in {path} (lines {secret_lines(text, secret)[:5]})" for label, secret in secrets.items() if secret in text]
    return found


def assert_no_leaks(found: List[str], where: str) -> None:
    """Fail naming every place a secret was found (the list never holds a secret)."""
    assert not found, f"secret material in {where}:\n  " + "\n  ".join(found[:30])
