"""No file under plugins/ uses a private name of ansible-core: its private modules and names change between minor releases.

Private means a component of the imported path, or an imported name, that starts with ``_`` (``ansible.module_utils._text``,
``from ansible.vars.clean import _x``). Read with ast, so comments and strings that mention such names do not count, and
``importlib.import_module("ansible._internal...")`` does.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

PLUGINS = pathlib.Path(__file__).resolve().parents[3] / "plugins"


def is_ansible(path):
    return path == "ansible" or path.startswith("ansible.")


def is_private(path):
    return any(part.startswith("_") for part in path.split("."))


def private_ansible_imports(source, filename="<source>"):
    """``(line, what)`` for each private ansible-core module or name ``source`` imports."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if is_ansible(alias.name) and is_private(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and is_ansible(node.module):
            if is_private(node.module):
                found.append((node.lineno, node.module))
            found += [(node.lineno, "%s.%s" % (node.module, alias.name)) for alias in node.names if alias.name.startswith("_")]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            name = node.args[0].value
            if called in ("import_module", "__import__") and is_ansible(name) and is_private(name):
                found.append((node.lineno, name))
    return found


PLUGIN_FILES = sorted(PLUGINS.rglob("*.py"))


def test_the_plugins_are_there():
    assert len(PLUGIN_FILES) > 20


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=[str(p.relative_to(PLUGINS)) for p in PLUGIN_FILES])
def test_no_private_ansible_core_import(path):
    found = private_ansible_imports(path.read_text(encoding="utf-8"), str(path))
    assert not found, "%s imports private ansible-core names (use a public API): %s" % (
        path.relative_to(PLUGINS.parent), ", ".join("line %d: %s" % item for item in found))


@pytest.mark.parametrize("source, private", [
    ("from ansible.module_utils import _internal", True),
    ("from ansible.module_utils._internal import _errors", True),
    ("import ansible.module_utils._text", True),
    ("from ansible.module_utils._text import to_native", True),
    ("from ansible.vars.clean import _remove_internal_keys", True),
    ("from ansible.executor.module_common import _get_module_metadata as metadata", True),
    ("import importlib\nimportlib.import_module('ansible._internal._templating')", True),
    ("from ansible.module_utils.common.text.converters import to_native", False),
    ("from ansible.module_utils.common.parameters import remove_values", False),
    ("from ansible_collections.rotor.iam.plugins.module_utils.access_keys import _call", False),
    ("from . import _private_helper", False),
    ("# from ansible.module_utils._text import to_native\nx = 'ansible._internal'", False),
])
def test_what_counts_as_private(source, private):
    assert bool(private_ansible_imports(source)) is private
