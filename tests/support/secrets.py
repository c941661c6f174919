"""The one secret scan: outputs, files, leftover files and file names.

A finding names the secret by its label and the place by source and line numbers, never the secret itself,
so a failing test cannot leak it into CI logs either.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Union

Secrets = Union[Mapping[str, str], Iterable[str]]


def secret_lines(text: str, secret: str) -> List[int]:
    """1-based numbers of the lines of ``text`` that contain ``secret`` (never the secret itself)."""
    return [number for number, line in enumerate(text.splitlines(), 1) if secret in line]


def labelled(secrets: Secrets) -> Mapping[str, str]:
    """``{label: secret}``; a plain list is labelled ``secret #N``. Each must look like a secret access key."""
    found = dict(secrets) if isinstance(secrets, Mapping) else {f"secret #{index}": secret for index, secret in enumerate(secrets)}
    for label, secret in found.items():
        assert secret and len(secret) >= 20, f"{label} is not a secret access key"
    return found


def leaks_in_texts(texts: Mapping[str, str], secrets: Secrets) -> List[str]:
    """Where any of ``secrets`` appears in ``texts`` ({source: text})."""
    found = []
    for label, secret in labelled(secrets).items():
        for source, text in texts.items():
            lines = secret_lines(text or "", secret)
            if lines:
                found.append(f"{label} in {source} on lines {lines[:10]}")
    return found


def leaks_in_files(roots: Iterable[Path], secrets: Secrets, skip: Callable[[Path], bool] = lambda path: False) -> List[str]:
    """Where any of ``secrets`` appears in a file under ``roots`` (a root may be a file), or in the name of
    any file or directory there, ``skip`` apart (skipped files are still checked by name)."""
    secrets = labelled(secrets)
    found = []
    for root in roots:
        root = Path(root)
        paths = [root] if root.is_file() else sorted(root.rglob("*")) if root.is_dir() else []
        for path in paths:
            found += [f"{label} in the name {path.parent}/<{label}>" for label, secret in secrets.items() if secret in path.name]
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


def assert_no_secrets(run, secrets: Secrets, files: Iterable[Path] = (), skip: Callable[[Path], bool] = lambda path: False) -> None:
    """None of ``secrets`` appears in anything ``run`` (a PlaybookResult) printed, logged or wrote (its reports,
    its vars and log files, its TMPDIR leftovers), nor under ``files``."""
    secrets = labelled(secrets)
    found = leaks_in_texts(run.outputs(), secrets)
    found += leaks_in_files([*run.leftovers(), *files], secrets, skip=skip)
    assert_no_leaks(found, f"the output or files of {run.label} ({run.log_path or run.workdir})")


def saved_secrets(secrets_dir: Path) -> Dict[str, str]:
    """``{label: secret}`` of the secrets a playbook saved, one per 0600 file, in ``secrets_dir`` (each must be 0600)."""
    found = {}
    for path in sorted(Path(secrets_dir).iterdir()) if Path(secrets_dir).is_dir() else []:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == 0o600, f"{path} holds a secret but has mode {mode:o}"
        found[f"secret saved in {path.name}"] = path.read_text().strip()
    return found
