# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one filter guard: a bad input ends in an AnsibleFilterError naming the filter and the input (by name and type),
never in a traceback, a chained cause or a value that could be a secret."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleError, AnsibleFilterError, AnsibleUndefinedVariable

from ansible_collections.rotor.iam.plugins.filter import audit
from ansible_collections.rotor.iam.plugins.plugin_utils.filter_guard import filter_guard

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"


class ModelError(Exception):
    """A model error: its message is written for the user."""


@filter_guard("demo", ModelError, expects="the result of rotor.iam.other")
def demo(report, max_rows=10):
    """A filter that reads report['keys'] and max_rows."""
    if report == "model":
        raise ModelError("report has no summary; run rotor.iam.other first")
    if report == "ansible":
        raise AnsibleUndefinedVariable("'report' is undefined")
    return report["keys"][: int(max_rows)]


def raised(*args, **kwargs):
    with pytest.raises(AnsibleFilterError) as caught:
        demo(*args, **kwargs)
    return caught.value


def test_a_good_input_passes_through_and_the_filter_keeps_its_name_and_doc():
    assert demo({"keys": [1, 2, 3]}, max_rows="2") == [1, 2]
    assert demo.__name__ == "demo" and "report['keys']" in demo.__doc__


@pytest.mark.parametrize("args, kwargs, named", [
    (({SECRET: 1},), {}, "(report: dict)"),
    (([SECRET],), {}, "(report: list)"),
    (({"keys": [1]},), {"max_rows": SECRET}, "(report: dict, max_rows: string)"),
    ((None,), {}, "(report: null)"),
])
def test_a_malformed_input_names_the_filter_the_arguments_and_what_to_pass_but_no_value(args, kwargs, named):
    error = raised(*args, **kwargs)
    message = str(error)
    assert message.startswith("rotor.iam.demo: could not use its input " + named), message
    assert message.endswith(". Pass the result of rotor.iam.other"), message
    assert SECRET not in message
    assert error.__cause__ is None and error.__suppress_context__  # nothing chained for Ansible to print


def test_a_model_error_is_shown_as_written():
    assert str(raised("model")) == "rotor.iam.demo: report has no summary; run rotor.iam.other first"


def test_ansibles_own_errors_pass_through():
    with pytest.raises(AnsibleUndefinedVariable):
        demo("ansible")
    assert issubclass(AnsibleFilterError, AnsibleError)


def test_the_audit_filters_are_guarded():
    with pytest.raises(AnsibleFilterError) as caught:
        audit.audit_html([SECRET])
    assert str(caught.value).startswith("rotor.iam.audit_html: could not use its input (report: list)")
    assert SECRET not in str(caught.value)
    with pytest.raises(AnsibleFilterError) as caught:
        audit.audit_markdown({}, max_rows=3)
    assert str(caught.value).startswith("rotor.iam.audit_markdown: could not use its input (report: dict, max_rows: int)")
    with pytest.raises(AnsibleFilterError) as caught:  # a bad option is refused by the filter's own check, by name
        audit.audit_markdown({}, max_rows="many")
    assert str(caught.value).startswith("rotor.iam.audit_markdown: max_rows must be a whole number of 0 or more")
    with pytest.raises(AnsibleFilterError) as caught:
        audit.audit_documents({"results": SECRET})
    assert str(caught.value).startswith("rotor.iam.audit_documents: ") and SECRET not in str(caught.value)
