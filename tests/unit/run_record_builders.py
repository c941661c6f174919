"""Host states and started run records for the engine's unit tests (test_run.py, test_tables.py)."""

from __future__ import annotations

from ansible_collections.rotor.iam.plugins.module_utils._rotation import run as engine

OLD, NEW = "AKIAOLD0000000000001", "AKIANEW0000000000001"


def host(user="app", state="healthy", wrote=True, **extra):
    """One host's state as the engine keeps it (hosts.py), healthy on the new key unless told otherwise."""
    return dict({"user": user, "state": state, "wrote": wrote, "failure": {}, "key_ids": [OLD], "backups": ["b"], "moved_at": "t",
                 "restored": False, "restore_failure": ""}, **extra)


def started(plans, **options):
    """The run record of a run that planned ``plans``, with run id r1 and the new key NEW for user app by default."""
    return engine.start(plans, run_id="r1", started="2026-12-06T00:00:00Z", started_epoch=100.0,
                        new_key_ids=options.pop("new_key_ids", {"app": NEW}), **options)
