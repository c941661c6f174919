"""The create phase's one fact of secrets (roles/rotate/tasks/create.yml), templated as the role templates it: each due
user's new key and secret from the create, pending-store and read-back registers; nothing from a failed, skipped or
empty result, nothing else of a result."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

template = pytest.importorskip("ansible.template")
from ansible.parsing.dataloader import DataLoader  # noqa: E402  pylint: disable=wrong-import-position

CREATE = Path(__file__).resolve().parents[3] / "roles" / "rotate" / "tasks" / "create.yml"


def registered(*results):
    return {"results": list(results), "changed": False}


def new_keys(created, stored, recovered):
    task = next(t for t in yaml.safe_load(CREATE.read_text())[0]["block"] if t["name"] == "Keep the new keys for distribution")
    variables = {"__rotor_created": created, "__rotor_stored": stored, "__rotor_recovered": recovered,
                 "__rotor_keys": template.trust_as_template(task["vars"]["__rotor_keys"])}
    templar = template.Templar(loader=DataLoader(), variables=variables)
    return templar.template(template.trust_as_template(task["ansible.builtin.set_fact"]["__rotor_new_keys"]))


def test_the_new_keys_come_from_the_create_store_and_host_registers_and_nothing_else():
    created = registered({"item": {"user": "app"}, "access_key_id": "AKIANEW", "secret_access_key": "s-app", "changed": True,
                          "invocation": {"module_args": {"when_full": "fail"}}},
                         {"item": {"user": "denied"}, "failed": True, "msg": "AccessDenied"})
    stored = registered({"item": {"user": "kept"}, "exists": True, "access_key_id": "AKIAKEPT", "secret_access_key": "s-kept"},
                        {"item": {"user": "lost"}, "exists": False, "access_key_id": None})
    recovered = registered({"item": {"user": "lost", "host": "web1"}, "exists": True, "access_key_id": "AKIALOST", "secret_access_key": "s-lost"})

    assert new_keys(created, stored, recovered) == {
        "app": {"access_key_id": "AKIANEW", "secret_access_key": "s-app"},
        "kept": {"access_key_id": "AKIAKEPT", "secret_access_key": "s-kept"},
        "lost": {"access_key_id": "AKIALOST", "secret_access_key": "s-lost"},
    }


def test_check_mode_and_empty_loops_hold_no_secret():
    check_mode = registered({"item": {"user": "app"}, "access_key_id": None, "secret_access_key": None, "changed": True})
    skipped = registered({"item": {"user": "old"}, "skipped": True, "skip_reason": "Conditional result was False"})
    assert new_keys(check_mode, skipped, {"results": [], "skipped": True}) == {}
