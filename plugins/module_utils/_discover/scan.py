# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""Where in a text do AWS access key ids sit? Pure functions over a file's text, for rotor.iam.discover.

What leaves these functions: access key ids (the form ``redact.is_access_key_id`` accepts), line numbers, and
the names of profiles and variables (through ``shown_label``, which withholds a name that looks like a secret).
Never a value that is not a key id: a key-id slot (``aws_access_key_id``, ``AWS_ACCESS_KEY_ID``...) holding
anything else is reported as a problem naming the slot, the value withheld, since it may be a secret put
there by mistake.
"""

from __future__ import annotations

import json
import re
import shlex

from ansible_collections.rotor.iam.plugins.module_utils.redact import is_access_key_id

# A key id standing alone: not part of a longer run of the characters a secret access key is made of.
KEY_ID_TOKEN_RE = re.compile(r"(?<![A-Za-z0-9/+])((?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Za-z0-9/+])")
_NAME_RE = re.compile(r"""\A(["']?)([A-Za-z_][A-Za-z0-9_.\-]*)\1\s*[=:](.*)\Z""", re.S)
_SECTION_RE = re.compile(r"\A\[\s*([^\]]*?)\s*\]\s*\Z")
_SECRETISH_RE = re.compile(r"[A-Za-z0-9+/=]{20,}")
_SECRET_SHAPE_RE = re.compile(r"\A[A-Za-z0-9+/=]{40}\Z")
_ENV_FILE_RE = re.compile(r"\A(\s*)env_file\s*:\s*(.*)\Z")

WITHHELD_LABEL = "(withheld: looks like a secret)"
# Normalised names (lower case, letters and digits only) of the slots that hold a key id, and of those that hold
# its secret (only the name of the latter is ever kept).
KEY_ID_NAMES = frozenset(("awsaccesskeyid", "accesskeyid", "awsaccesskey", "accesskey"))
SECRET_NAMES = frozenset(("awssecretaccesskey", "secretaccesskey", "awssecretkey", "secretkey"))
KINDS = ("ini", "env", "systemd", "compose", "json", "text")
COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
_MAX_LABEL = 128


def _normal(name):
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _secretish(text):
    """Whether text holds a run of secret-key characters that could be a secret: 32 or more of them (a secret access
    key has 40), or 20 or more mixing upper case, lower case and digits."""
    for run in _SECRETISH_RE.findall(text):
        if len(run) >= 32 or (re.search(r"[A-Z]", run) and re.search(r"[a-z]", run) and re.search(r"[0-9]", run)):
            return True
    return False


def shown_label(name):
    """A profile or variable name as it may be shown: None stays None; a name that could be a secret (or is not
    printable, or too long) is withheld."""
    if name is None:
        return None
    if not isinstance(name, str) or len(name) > _MAX_LABEL or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return WITHHELD_LABEL
    if is_access_key_id(name):
        return name
    return WITHHELD_LABEL if _secretish(name) else name


def shown_path(path):
    """A path as it may be shown: each component that could be a secret is withheld."""
    if not isinstance(path, str):
        return path
    parts = []
    for part in path.split("/"):
        parts.append(WITHHELD_LABEL if part and (_secretish(part) or any(ord(c) < 0x20 for c in part)) else part)
    return "/".join(parts)


def _unquote(value):
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _clean_value(raw):
    value = raw.strip().rstrip(",").strip()
    if value[:1] in ("'", '"'):
        end = value.find(value[0], 1)
        return value[1:end] if end > 0 else value[1:]
    return re.split(r"\s+[#;]", value, maxsplit=1)[0].strip()


def split_assignment(line):
    """``(name, value)`` for ``NAME=value``, ``name = value``, ``name: value``, ``export NAME=value``,
    ``- NAME=value`` (a YAML list item) and ``"Name": "value",`` (a JSON member); else None."""
    text = line.strip()
    if text.startswith("- "):
        text = _unquote(text[2:])
    if text.startswith("export "):
        text = text[7:].lstrip()
    match = _NAME_RE.match(text)
    if not match:
        return None
    return match.group(2), _clean_value(match.group(3))


def is_reference(value):
    """A value that names another value (a variable, a template, a placeholder) rather than holding one."""
    return value == "" or value[0] in "$%<{" or value.lower() in ("none", "null", "~")


def slot_problem(value):
    """Why a value in a key-id slot is reported (it is never shown), or None when it is a key id or a reference."""
    if is_access_key_id(value) or is_reference(value):
        return None
    if _SECRET_SHAPE_RE.match(value):
        return ("holds a 40-character value shaped like a secret access key where the access key id belongs "
                "(value withheld): are the id and the secret swapped?")
    return "holds a value that is not an access key id (value withheld)"


class ScanResult:
    """What one text holds: key ids found, problems, secret slot names and referenced files."""

    def __init__(self):
        self.found = []  # {access_key_id, line, profile, variable}
        self.problems = []  # {line, profile, variable, problem}
        self.secret_names = {}  # profile (None outside sections) -> the name of its secret slot
        self.references = []  # {line, path, required}: EnvironmentFile= and env_file entries, as written

    def add_found(self, key_id, line, profile, variable):
        entry = {"access_key_id": key_id, "line": line, "profile": shown_label(profile), "variable": shown_label(variable)}
        if entry not in self.found:
            self.found.append(entry)

    def add_problem(self, problem, line, profile, variable):
        self.problems.append({"line": line, "profile": shown_label(profile), "variable": shown_label(variable), "problem": problem})

    def as_dict(self):
        return {"found": self.found, "problems": self.problems, "secret_names": self.secret_names,
                "references": self.references}


def _assignment(result, name, value, line, profile, whole):
    """One NAME=value: a key-id slot is checked; any other slot yields the key ids it holds."""
    normal = _normal(name)
    if normal in SECRET_NAMES:
        result.secret_names.setdefault(shown_label(profile), shown_label(name))
        return
    if normal in KEY_ID_NAMES:
        problem = slot_problem(value)
        if problem:
            result.add_problem(f"{shown_label(name)} {problem}", line, profile, name)
        elif is_access_key_id(value):
            result.add_found(value, line, profile, name)
        return
    for key_id in KEY_ID_TOKEN_RE.findall(whole):
        result.add_found(key_id, line, profile, name)


def _systemd_environment(result, value, line, profile):
    try:
        words = shlex.split(value, comments=False, posix=True)
    except ValueError:
        words = value.split()
    for word in words:
        if "=" in word:
            name, item = word.split("=", 1)
            if re.match(r"\A[A-Za-z_][A-Za-z0-9_]*\Z", name):
                _assignment(result, name, item, line, profile, item)
                continue
        for key_id in KEY_ID_TOKEN_RE.findall(word):
            result.add_found(key_id, line, profile, None)


def _env_file_items(lines, index, indent, rest):
    """The paths of a compose file's ``env_file:`` (a string, a flow list, or a block list of strings or
    ``path:`` mappings) starting at lines[index]."""
    rest = rest.split(" #", 1)[0].strip()
    if rest.startswith("["):
        return [_unquote(item) for item in rest.strip("[]").split(",") if item.strip()]
    if rest:
        return [_unquote(rest)]
    items = []
    for line in lines[index + 1:]:
        if not line.strip() or line.strip().startswith("#"):
            continue
        if len(line) - len(line.lstrip()) <= len(indent):
            break
        text = line.strip()
        if text.startswith("- "):
            text = text[2:].strip()
        if text.startswith("path:"):
            text = text[5:]
        elif ":" in text and not text.startswith(("/", ".")):
            continue  # another key of a long-syntax item (required: false)
        items.append(_unquote(text.split(" #", 1)[0]))
    return [item for item in items if item]


def scan_text(text, kind="text"):
    """The key ids in text, read as ``kind`` (one of KINDS), with where they sit; see ScanResult."""
    result = ScanResult()
    if kind == "json" or (kind == "text" and text.lstrip().startswith("{")):
        if _scan_json(result, text):
            return result
    lines = text.splitlines()
    profile = None
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        section = _SECTION_RE.match(line)
        if section and kind != "compose":
            profile = section.group(1)
            continue
        if kind == "systemd" and "=" in line:
            name, value = line.split("=", 1)
            if name.strip() == "Environment":
                _systemd_environment(result, value.strip(), number, profile)
                continue
            if name.strip() == "EnvironmentFile":
                value = value.strip()
                result.references.append({"line": number, "path": value.lstrip("-"), "required": not value.startswith("-")})
                continue
        if kind == "compose":
            match = _ENV_FILE_RE.match(raw)
            if match:
                for item in _env_file_items(lines, number - 1, match.group(1), match.group(2)):
                    result.references.append({"line": number, "path": item, "required": True})
                continue
        assignment = split_assignment(raw)
        if assignment:
            _assignment(result, assignment[0], assignment[1], number, profile if kind != "env" else None, line)
        else:
            for key_id in KEY_ID_TOKEN_RE.findall(line):
                result.add_found(key_id, number, profile, None)
    return result


def _scan_json(result, text):
    """Key ids in a JSON document (members named like key-id slots are checked); False when it is not JSON."""
    try:
        document = json.loads(text)
    except ValueError:
        return False

    def walk(value, name):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, key)
        elif isinstance(value, list):
            for item in value:
                walk(item, name)
        elif isinstance(value, str) and name is not None:
            _assignment(result, name, value, None, None, value)
        elif isinstance(value, str):
            for key_id in KEY_ID_TOKEN_RE.findall(value):
                result.add_found(key_id, None, None, None)

    walk(document, None)
    return True


def kind_of(path, default="text"):
    """How to read the file at path (one of KINDS), from its name."""
    directory, _sep, name = path.rpartition("/")
    if name in COMPOSE_NAMES:
        return "compose"
    if name in ("credentials", "config") and directory.endswith("/.aws"):
        return "ini"
    if name.endswith((".service", ".socket", ".timer", ".mount")) or (
            name.endswith(".conf") and re.search(r"/systemd/.*\.d\Z", directory)):
        return "systemd"
    if name == "environment" or name == ".env" or name.endswith(".env"):
        return "env"
    if name.endswith(".json"):
        return "json"
    if name == "credentials" or name.endswith((".ini", ".cfg")):
        return "ini"
    return default


def file_format(kind, text):
    """The rotor.iam.credentials_file format a file of this kind can be rotated as, or None (a unit or compose
    file holds the key inline: rotor does not edit those)."""
    if kind == "ini":
        return "aws_credentials"
    if kind == "env":
        return "env"
    if kind == "json":
        return "json"
    if kind == "text":
        stripped = text.lstrip()
        if stripped.startswith("{"):
            return "json"
        if any(_SECTION_RE.match(line.strip()) for line in text.splitlines()):
            return "aws_credentials"
        return "env"
    return None
