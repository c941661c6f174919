"""The role's one fact of secrets (roles/rotate/vars/main.yml: __rotor_secrets), fed by __rotor_step_keys, templated as
the role templates it: each user's key and secret from the last secret-bearing register (__rotor_secret_step); nothing
from a failed, skipped or empty result, nothing else of a result."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

template = pytest.importorskip("ansible.template")
from ansible.parsing.dataloader import DataLoader  # noqa: E402  pylint: disable=wrong-import-position

ROLE = Path(__file__).resolve().parents[3] / "roles" / "rotate"


def registered(*results):
    return {"results": list(results), "changed": False}


def step_keys(step):
    role_vars = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
    variables = {"__rotor_secret_step": step}
    for name in ("__rotor_step_keys", "__rotor_step_held"):
        variables[name] = template.trust_as_template(role_vars[name])
    templar = template.Templar(loader=DataLoader(), variables=variables)
    return templar.template(template.trust_as_template("{{ __rotor_step_keys }}"))


def test_the_keys_come_from_the_step_register_and_nothing_else():
    created = registered({"item": {"user": "app"}, "access_key_id": "AKIANEW", "secret_access_key": "s-app", "changed": True,
                          "invocation": {"module_args": {"when_full": "fail"}}},
                         {"item": {"user": "denied"}, "failed": True, "msg": "AccessDenied"})
    assert step_keys(created) == {"app": {"access_key_id": "AKIANEW", "secret_access_key": "s-app"}}
    stored = registered({"item": {"user": "kept"}, "exists": True, "access_key_id": "AKIAKEPT", "secret_access_key": "s-kept"},
                        {"item": {"user": "lost"}, "exists": False, "access_key_id": None})
    assert step_keys(stored) == {"kept": {"access_key_id": "AKIAKEPT", "secret_access_key": "s-kept"}}
    read_back = registered({"item": {"user": "lost", "host": "web1"}, "exists": True, "access_key_id": "AKIALOST", "secret_access_key": "s-lost"})
    assert step_keys(read_back) == {"lost": {"access_key_id": "AKIALOST", "secret_access_key": "s-lost"}}


def test_check_mode_and_empty_loops_hold_no_secret():
    check_mode = registered({"item": {"user": "app"}, "access_key_id": None, "secret_access_key": None, "changed": True})
    skipped = registered({"item": {"user": "old"}, "skipped": True, "skip_reason": "Conditional result was False"})
    assert step_keys(check_mode) == {}
    assert step_keys(skipped) == {}
    assert step_keys({"results": [], "skipped": True}) == {}
    assert step_keys({}) == {}


def test_the_create_phase_gathers_the_keys_of_every_step():
    """Create replaces what an earlier role run in the play held; the pending-store and read-back steps add to it."""
    create = yaml.safe_load((ROLE / "tasks" / "create.yml").read_text())[0]["block"]
    folds = [task["ansible.builtin.set_fact"]["__rotor_secrets"] for task in create
             if "__rotor_secrets" in (task.get("ansible.builtin.set_fact") or {})]
    assert any("{'new': __rotor_step_keys})" in fold for fold in folds)
    assert sum("{'new': __rotor_step_keys}, recursive=true" in fold for fold in folds) == 2
    assert all(task.get("no_log") is True for task in create if "__rotor_secrets" in (task.get("ansible.builtin.set_fact") or {}))
