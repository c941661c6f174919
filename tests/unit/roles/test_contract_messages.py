"""The role's contract check (roles/rotate/tasks/contract.yml) rewrites Ansible's argument errors, templated as the role
templates them: one clause per error, an unknown suboption named as such, no internal class name of Ansible's."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

template = pytest.importorskip("ansible.template")
from ansible.parsing.dataloader import DataLoader  # noqa: E402  pylint: disable=wrong-import-position

CONTRACT = Path(__file__).resolve().parents[2].parent / "roles" / "rotate" / "tasks" / "contract.yml"


def rewritten(*errors):
    task = yaml.safe_load(CONTRACT.read_text())[1]
    variables = {"__rotor_step": {"argument_errors": list(errors)}}
    templar = template.Templar(loader=DataLoader(), variables=variables)
    return templar.template(template.trust_as_template(task["vars"]["__rotor_errors"]))


def test_a_value_of_the_wrong_type_names_the_option_and_the_type_without_ansible_internals():
    tagged = ("argument 'timeout' is of type str found in 'rotor_health_check'. and we were unable to convert to float: "
              "<class 'ansible.module_utils._internal._datatag._AnsibleTaggedStr'> cannot be converted to a float")
    assert rewritten(tagged) == ["argument 'timeout' is of type str found in 'rotor_health_check' and cannot be converted to float"]
    as_int = tagged.replace("float", "int").replace("a int", "an int")
    assert rewritten(as_int) == ["argument 'timeout' is of type str found in 'rotor_health_check' and cannot be converted to int"]


def test_an_unknown_suboption_lists_the_options():
    assert rewritten("rotor_health_check.timout. Supported parameters include: url, timeout.") == [
        "rotor_health_check.timout is not an option (the options are: url, timeout)"]
