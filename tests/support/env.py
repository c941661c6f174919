"""The environment of every Ansible subprocess a test starts (ansible-playbook, ansible-runner, molecule, ansible-galaxy)."""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Dict, Optional, Tuple

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS_PATH = REPO / ".build" / "collections"
# ansible-core 2.21 opens a Unix socket under TMPDIR and a socket path holds at most 107 bytes: pytest's
# tmp_path is too deep, so every run gets its own directory right under the system's temporary root.
SHORT_TMP_ROOT = "/tmp"
_short_root: Optional[Path] = None
_short_numbers = itertools.count(1)


def tool(name: str) -> str:
    """An executable of the test virtualenv (ansible-playbook, ansible-runner, ...), else the one on PATH."""
    return shutil.which(name, path=os.path.dirname(sys.executable)) or name


def short_tmpdir() -> Path:
    """A new, private directory with a short path (/tmp/rt-XXXXXXXX/N), for TMPDIR and ANSIBLE_LOCAL_TEMP;
    removed when the test process ends, after the tests have scanned it."""
    global _short_root  # pylint: disable=global-statement
    if _short_root is None:
        _short_root = Path(tempfile.mkdtemp(prefix="rt-", dir=SHORT_TMP_ROOT if os.path.isdir(SHORT_TMP_ROOT) else None))
        atexit.register(shutil.rmtree, _short_root, True)
    path = _short_root / str(next(_short_numbers))
    path.mkdir(mode=0o700)
    return path


def clean_env(drop: Tuple[str, ...] = ()) -> Dict[str, str]:
    """The caller's environment without AWS, boto and Ansible settings (and ``drop``'s prefixes), nothing added:
    for tools whose settings come from elsewhere (ansible-runner reads a job's from its private data dir)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BOTO_", "ANSIBLE_") + tuple(drop))}


def job_envvars(endpoint, collections_path: Optional[Path] = None, **injected: str) -> Dict[str, str]:
    """``env/envvars`` of an AWX job run by ansible-runner: what the execution environment has built in (the
    collections, its Python, no AWS config) and what the job's credential injects (``injected``, e.g. the path of a
    0600 AWS_SHARED_CREDENTIALS_FILE)."""
    return dict(
        injected,
        AWS_CONFIG_FILE=os.devnull,
        AWS_DEFAULT_REGION=endpoint.region,
        AWS_EC2_METADATA_DISABLED="true",
        ANSIBLE_COLLECTIONS_PATH=str(collections_path or os.environ.get("ANSIBLE_COLLECTIONS_PATH") or COLLECTIONS_PATH),
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_HOST_KEY_CHECKING="false",
        ANSIBLE_RETRY_FILES_ENABLED="false",
    )


def ansible_env(endpoint=None, collections_path: Optional[Path] = None, endpoint_in_env: bool = True,
                keep_ansible: bool = True, tmpdir: Optional[Path] = None, drop: Tuple[str, ...] = (), **extra: str) -> Dict[str, str]:
    """Environment for an Ansible subprocess.

    The caller's environment without AWS settings (and without Ansible's with ``keep_ansible=False``, for
    runs that must behave like a user's fresh shell); ``endpoint``: its admin credentials and region (and,
    with ``endpoint_in_env``, its URL as ``AWS_ENDPOINT_URL*``; tests of the modules' own ``endpoint_url``
    option pass False). ``collections_path``: the only tree searched for collections (default: the caller's
    ``ANSIBLE_COLLECTIONS_PATH``, else the repository's .build/collections). ``tmpdir``: TMPDIR of the run
    (keep it short). ``drop``: more prefixes of the caller's variables to leave out. ``extra`` goes in last.
    """
    dropped = (("AWS_", "BOTO_") if keep_ansible else ("AWS_", "BOTO_", "ANSIBLE_")) + tuple(drop)
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
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    env.update(extra)
    return env
