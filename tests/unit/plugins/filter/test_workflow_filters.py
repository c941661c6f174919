"""The workflow's filters (plugins/filter/workflow.py) and the AWX workflow file they serve (extensions/awx/)."""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.rotor.iam.plugins.filter import workflow as filters

ROOT = Path(__file__).resolve().parents[4]
AWX = ROOT / "extensions" / "awx"
RUN = "4711"
OLD, NEW = "AKIAOLDOLDOLDOLDOLD1", "AKIANEWNEWNEWNEWNEW2"


def test_every_workflow_filter_is_exported_and_documented():
    exported = filters.FilterModule().filters()
    assert set(exported) == {"workflow_fence", "workflow_plan", "workflow_prepared", "workflow_todo", "workflow_failures"}
    for name in exported:
        doc = yaml.safe_load((ROOT / "plugins" / "filter" / f"{name}.yml").read_text())
        assert doc["DOCUMENTATION"]["name"] == name


def test_a_bad_input_names_the_filter_and_never_a_value():
    with pytest.raises(AnsibleFilterError) as raised:
        filters.workflow_fence([{"item": "app", "journal": {"run_id": RUN, "phase": "distributing"}}], "", "distribute")
    assert "rotor.iam.workflow_fence" in str(raised.value)
    with pytest.raises(AnsibleFilterError) as raised:
        filters.workflow_todo("not a fence")
    assert "rotor.iam.workflow_todo" in str(raised.value) and "not a fence" not in str(raised.value)


def test_a_sliced_job_reads_the_hosts_from_the_register_it_names():
    reads = [{"item": "app", "journal": {"run_id": RUN, "phase": "distributing", "current_key_id": OLD, "pending_key_id": NEW}}]
    check = filters.workflow_fence(reads, RUN, "distribute")
    hostvars = {"h1": {"my_read": {"key_ids": [OLD]}}, "h2": {"my_read": {"key_ids": [NEW]}}, "h3": {}}
    todo = filters.workflow_todo(check, hostvars, ["h1", "h2", "h3"], {"h1": "app", "h2": "app", "h3": "app"}, "my_read")
    assert {host: entry["action"] for host, entry in todo["hosts"].items()} == {"h1": "write", "h2": "check"}
    hostvars["h1"]["switch"] = {"failed": True, "msg": "health check failed"}
    assert filters.workflow_failures(check, hostvars, ["h1", "h2"], {"h1": "app", "h2": "app"}, ["switch"]) == {"app": ["h1: health check failed"]}


def test_the_workflow_file_is_a_graph_whose_edges_name_its_nodes():
    nodes = yaml.safe_load((AWX / "rotate-workflow.yml").read_text())["nodes"]
    names = [node["name"] for node in nodes]
    assert names[0] == "prepare" and len(set(names)) == len(names)
    for node in nodes:
        assert node["playbook"].startswith("rotor.iam.rotate_") and isinstance(node["sliced"], bool)
        assert (ROOT / "playbooks" / (node["playbook"].split(".")[-1] + ".yml")).is_file()
        assert (AWX / "project" / f"rotor_{node['name']}.yml").is_file()
        for edge in ("success", "failure", "always"):
            assert set(node.get(edge) or []) <= set(names), (node["name"], edge)
    # Every round over hosts is sliced; the once-per-run jobs are the IAM ones.
    assert {node["name"] for node in nodes if node["sliced"]} == {"distribute", "settle", "restore", "cleanup"}


def test_the_awx_node_schema_is_rendered_from_the_workflow_file():
    workflow = yaml.safe_load((AWX / "rotate-workflow.yml").read_text())
    env = jinja2.Environment()
    env.filters["to_json"] = json.dumps
    rendered = json.loads(env.from_string((AWX / "workflow-nodes.json.j2").read_text()).render(awx_workflow=workflow, awx_organization="Default"))
    by_id = {node["identifier"]: node for node in rendered}
    for node in workflow["nodes"]:
        related = by_id[node["name"]]["related"]
        for edge in ("success", "failure", "always"):
            assert [child["identifier"] for child in related[f"{edge}_nodes"]] == list(node.get(edge) or [])
        assert by_id[node["name"]]["unified_job_template"]["name"] == f"IAM keys - {node['name']}"
