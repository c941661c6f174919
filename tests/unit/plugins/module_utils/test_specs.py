# -*- coding: utf-8 -*-
# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each contract is declared once (module_utils/_specs.py): the modules compose the spec functions, and the role's
meta/argument_specs.yml and the modules' DOCUMENTATION accept exactly what they accept, wherever they document it."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.rotor.iam.plugins.module_utils import _specs
from ansible_collections.rotor.iam.plugins.module_utils._specs import OptionError
from ansible_collections.rotor.iam.plugins.module_utils._specs import check_suboptions
from ansible_collections.rotor.iam.plugins.module_utils._specs import credentials_file_entry_spec
from ansible_collections.rotor.iam.plugins.module_utils._specs import health_check_spec
from ansible_collections.rotor.iam.plugins.modules import credentials_file
from ansible_collections.rotor.iam.plugins.modules import health_check
from ansible_collections.rotor.iam.plugins.modules import host_credentials

COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(_specs.__file__))))
ROLE_SPEC = os.path.join(COLLECTION, "roles", "rotate", "meta", "argument_specs.yml")


def contract(spec):
    """What an option accepts (type, elements, choices, default, required, suboptions), not how it is described."""
    shaped = {}
    for name, option in spec.items():
        suboptions = option.get("options") or option.get("suboptions")  # suboptions: in DOCUMENTATION
        shaped[name] = {
            "type": option.get("type", "str"),
            "elements": option.get("elements"),
            "choices": list(option["choices"]) if option.get("choices") is not None else None,
            "default": option.get("default"),
            "required": bool(option.get("required")),
            "options": contract(suboptions) if suboptions else None,
        }
    return shaped


def role_options():
    """Every entry point's options of the rotate role (entry points may share them through YAML anchors)."""
    with open(ROLE_SPEC) as handle:
        specs = yaml.safe_load(handle)["argument_specs"]
    return {name: entry.get("options") or {} for name, entry in specs.items()}


def test_every_entry_point_that_takes_credentials_files_takes_the_credentials_file_entry():
    found = {name: options["rotor_credentials_files"] for name, options in role_options().items()
             if "rotor_credentials_files" in options}
    assert found, "no entry point of the role documents rotor_credentials_files"
    for name, option in found.items():
        assert (option["type"], option.get("elements")) == ("list", "dict"), name
        assert contract(option["options"]) == contract(credentials_file_entry_spec()), name


def test_every_entry_point_that_takes_a_health_check_takes_the_health_check_with_timeout():
    found = {name: options["rotor_health_check"] for name, options in role_options().items()
             if "rotor_health_check" in options}
    assert found, "no entry point of the role documents rotor_health_check"
    for name, option in found.items():
        assert option["type"] == "dict" and option.get("default") == {}, name
        assert contract(option["options"]) == contract(health_check_spec()), name
        assert option["options"]["timeout"]["type"] == "float", name


def test_a_destinations_health_check_is_the_same_health_check():
    found = {name: options["rotor_secret_destinations"] for name, options in role_options().items()
             if "rotor_secret_destinations" in options}
    assert found, "no entry point of the role documents rotor_secret_destinations"
    for name, option in found.items():
        checks = option["options"]["health_check"]
        assert checks["type"] == "dict", name
        assert contract(checks["options"]) == contract(health_check_spec()), name


def documented(module):
    return yaml.safe_load(module.DOCUMENTATION)["options"]


def test_the_modules_compose_the_shared_specs():
    file_options = credentials_file.argument_spec()
    assert contract({name: file_options[name] for name in credentials_file_entry_spec()}) == \
        contract(credentials_file_entry_spec())
    host = host_credentials.argument_spec()
    assert contract(host["files"]["options"]) == contract(credentials_file_entry_spec())
    assert contract(host["health_check"]["options"]) == contract(health_check_spec())
    checks = health_check.argument_spec()
    assert contract({name: checks[name] for name in health_check_spec()}) == contract(health_check_spec())


def test_host_credentials_documents_exactly_its_suboptions():
    options = documented(host_credentials)
    assert contract(options["files"]["suboptions"]) == contract(credentials_file_entry_spec())
    assert contract(options["health_check"]["suboptions"]) == contract(health_check_spec())


@pytest.mark.parametrize("value, expected", [
    ({}, {"url": None, "command": None, "status_code": [200], "retries": 5, "delay": 2.0, "timeout": 10.0}),
    ({"url": "http://x/", "status_code": 204, "timeout": "2.5"},
     {"url": "http://x/", "command": None, "status_code": [204], "retries": 5, "delay": 2.0, "timeout": 2.5}),
])
def test_check_suboptions_converts_and_fills_defaults_as_ansible_module_does(value, expected):
    assert check_suboptions("health_check", health_check_spec(), value) == expected


@pytest.mark.parametrize("value, message", [
    ("a string", "files[0] must be a dict (path, format, profile, variable_names, owner, group, mode, create), got str"),
    ({"path": "/x", "colour": "red"}, "files[0]: unknown key(s) 'colour'; it takes path, format"),
    ({"format": "env"}, "files[0]: path is required"),
    ({"path": "/x", "format": "yaml"}, "files[0].format: format must be one of aws_credentials, env, json, got 'yaml'"),
    ({"path": "/x", "create": "perhaps"}, "files[0].create must be true or false, got 'perhaps'"),
    ({"path": "/x", "variable_names": {"id": "X"}}, "files[0].variable_names: unknown key(s) 'id'"),
    ({"path": "/x", "variable_names": "X"}, "files[0].variable_names must be a dict, got 'X'"),
])
def test_check_suboptions_names_the_entry_and_the_key(value, message):
    with pytest.raises(OptionError) as caught:
        check_suboptions("files[0]", credentials_file_entry_spec(), value)
    assert str(caught.value).startswith(message), str(caught.value)


def test_check_suboptions_refuses_what_is_mutually_exclusive_and_shows_no_value_of_a_no_log_option():
    with pytest.raises(OptionError, match="health_check: url and command are mutually exclusive"):
        check_suboptions("health_check", health_check_spec(), {"url": "http://x/", "command": "true"},
                         _specs.HEALTH_CHECK_MUTUALLY_EXCLUSIVE)
    with pytest.raises(OptionError) as caught:
        check_suboptions("x", {"token": dict(type="int", no_log=True)}, {"token": "Sekr3tValue"})
    assert str(caught.value) == "x.token must be a whole number" and "Sekr3t" not in str(caught.value)
