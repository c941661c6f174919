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


def test_the_workflow_exports_one_documented_filter():
    exported = filters.FilterModule().filters()
    assert set(exported) == {"workflow_todo"}
    doc = yaml.safe_load((ROOT / "plugins" / "filter" / "workflow_todo.yml").read_text())
    assert doc["DOCUMENTATION"]["name"] == "workflow_todo"
    assert doc["DOCUMENTATION"]["options"]["step"]["choices"] == list(filters.STEPS)


def test_a_bad_input_names_the_filter_and_never_a_value():
    with pytest.raises(AnsibleFilterError) as raised:
        filters.workflow_todo([{"item": "app", "journal": {"run_id": RUN, "phase": "distributing"}}], "", "distribute")
    assert "rotor.iam.workflow_todo" in str(raised.value)
    with pytest.raises(AnsibleFilterError) as raised:
        filters.workflow_todo("not a fence", RUN, "settle", step="hosts", hostvars={}, hosts=["h1"], registers="r")
    assert "rotor.iam.workflow_todo" in str(raised.value) and "not a fence" not in str(raised.value)
    with pytest.raises(AnsibleFilterError) as raised:
        filters.workflow_todo([], RUN, "cutover", step="advance")
    assert "step 'advance' is not one of" in str(raised.value)


def reads(phase="distributing", **extra):
    journal = {"run_id": RUN, "phase": phase, "current_key_id": OLD, "pending_key_id": NEW, **extra}
    if phase == "cutover":
        journal.update(current_key_id=NEW, previous_key_id=OLD, pending_key_id=None)
    return [{"item": "app", "journal": journal}]


def test_the_fence_carries_a_once_per_run_jobs_work():
    cutover = filters.workflow_todo(reads(), RUN, "cutover")
    assert cutover["act"] == ["app"] and cutover["cutover"] == ["app"] and cutover["refused"] == {}
    rollback = filters.workflow_todo(reads("cutover"), RUN, "rollback")
    assert rollback["rollback"]["app"]["reactivate"] is True
    assert filters.workflow_todo(reads("cutover"), RUN, "finish")["retire"] == ["app"]


def test_a_sliced_job_reads_its_hosts_from_the_registers_it_names():
    check = filters.workflow_todo(reads(), RUN, "distribute")
    hostvars = {"h1": {"switch": {"failed": True, "msg": "health check failed"}}, "h2": {"switch": {"changed": True}}, "h3": {}}
    refs = {"h1": "app", "h2": "app", "h3": "app"}
    batch = filters.workflow_todo(check, RUN, "distribute", step="hosts", hostvars=hostvars, hosts=["h1", "h2", "h3"], host_refs=refs,
                                  registers="switch", reads=reads("rolling_back"))
    assert batch == {"failed": {"app": ["h1: health check failed"]}, "left": ["app"], "put_back": ["h2"]}

    back = filters.workflow_todo(reads("rolling_back"), RUN, "restore")
    hostvars = {"h1": {"my_read": {"key_ids": [NEW]}}, "h2": {"my_read": {"key_ids": [OLD]}}, "h3": {}}
    todo = filters.workflow_todo(back, RUN, "restore", step="reads", hostvars=hostvars, hosts=["h1", "h2", "h3"], host_refs=refs,
                                 registers="my_read")
    assert {host: entry["action"] for host, entry in todo["hosts"].items()} == {"h1": "restore", "h2": "none"}


def test_settle_proves_from_a_host_whose_files_it_finds_in_hostvars():
    check = filters.workflow_todo(reads("cutover"), RUN, "settle")
    hostvars = {"h1": {}, "h2": {"rotor_credentials_files": [{"path": "/etc/app/credentials"}]}}
    proofs = filters.workflow_todo(check, RUN, "settle", step="proofs", hostvars=hostvars, hosts=["h1", "h2"],
                                   host_refs={"h1": "app", "h2": "app"})
    assert proofs == [{"user": "app", "host": "h2", "access_key_id": OLD, "file": {"path": "/etc/app/credentials"}}]


def test_the_users_step_names_the_lockable_users_of_the_jobs_hosts():
    hostvars = {"h1": {"rotor_iam_user": "app"}, "h2": {"rotor_iam_user": "web"}, "h3": {}}
    users = filters.workflow_todo(hostvars, RUN, "distribute", step="users", hosts=["h1", "h3"], inventory_hosts=["h1", "h2", "h3"])
    assert users["lockable"] == ["app"] and users["host_refs"] == {"h1": "app"}


def test_the_users_step_turns_the_engines_error_into_one_naming_the_filter_and_never_a_value():
    # fleet_users raises KeyError for a host without its variables (test_run_users.py): the filter names itself and the
    # input's types, not the host nor its variables.
    with pytest.raises(AnsibleFilterError) as raised:
        filters.workflow_todo({"h1": {"rotor_iam_user": "s3cr3t-user"}}, RUN, "distribute", step="users", hosts=["h1", "h2"])
    message = str(raised.value)
    assert message.startswith("rotor.iam.workflow_todo: could not use its input (results: dict") and "KeyError" in message
    assert "h2" not in message and "s3cr3t-user" not in message


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
