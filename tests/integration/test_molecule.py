# -*- coding: utf-8 -*-
# Copyright: (c) 2026, rotor.iam maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the molecule scenario extensions/molecule/default against a real endpoint and fleet.

molecule's default driver (unmanaged, no Docker) cannot start our IAM endpoint
or fleet, so this test does: it starts the endpoint (moto, auth enforced),
seeds an IAM user whose only key is 120 days old, starts a 2-host local fleet
holding that key, and runs ``molecule test -s default`` from the collection
root (molecule 26 finds collection scenarios under extensions/molecule/ when
run where galaxy.yml is). What the scenario needs comes through the
environment: ROTOR_MOLECULE_* (inventory, endpoint, region, user, seeded key
id) and the endpoint's admin credentials as AWS_*.

The scenario converges (rotation), converges again (idempotence: no task
changed) and verifies (IAM, files, consumers). This test also checks that no
secret (admin, seeded, new) shows up in molecule's output.

Run alone:  source scripts/env.sh && python -m pytest tests/integration/test_molecule.py -q
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "extensions" / "molecule" / "default"
HOST_PYTHON = "/usr/bin/python3"
USER = "molecule-app"
MOLECULE_TIMEOUT = 240

sys.path.insert(0, str(REPO / "tests"))

from fleet.fleet import Fleet  # noqa: E402  pylint: disable=wrong-import-position
from support import ansible_env, short_tmpdir  # noqa: E402  pylint: disable=wrong-import-position


def _molecule():
    beside_python = Path(sys.executable).parent / "molecule"
    return str(beside_python) if beside_python.exists() else shutil.which("molecule")


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(_molecule() is None, reason="molecule is not installed"),
    pytest.mark.skipif(not os.path.exists(HOST_PYTHON), reason="the fleet's hosts need " + HOST_PYTHON),
]


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _recap_changed(output, step):
    """{host: changed} from the PLAY RECAP of a molecule step's ansible-playbook run."""
    section = output.split(f"[default > {step}] Executing", 1)[-1].split(f"[default > {step}] Executed", 1)[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", section, re.M)}


def _molecule_env(endpoint, inventory, seeded_key_id, ephemeral):
    return ansible_env(
        endpoint,
        drop=("MOLECULE_",),
        tmpdir=short_tmpdir(),
        ROTOR_MOLECULE_INVENTORY=inventory,
        ROTOR_MOLECULE_ENDPOINT_URL=endpoint.endpoint_url,
        ROTOR_MOLECULE_REGION=endpoint.region,
        ROTOR_MOLECULE_IAM_USER=USER,
        ROTOR_MOLECULE_SEEDED_KEY_ID=seeded_key_id,
        # A private ephemeral directory (instead of ~/.cache/molecule/...): state
        # from another run never leaks in and concurrent runs do not collide.
        MOLECULE_EPHEMERAL_DIRECTORY=str(ephemeral),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        PY_COLORS="0",
        NO_COLOR="1",
    )  # ANSIBLE_PYTHON_INTERPRETER: this interpreter, which has boto3 the controller (delegate_to: localhost) needs


def test_molecule_default_scenario(empty_endpoint, tmp_path):
    assert (SCENARIO / "molecule.yml").is_file()
    endpoint = empty_endpoint  # the session endpoint, reset (tests/integration/conftest.py)
    iam = endpoint.boto3_client("iam")
    iam.create_user(UserName=USER)
    seeded = iam.create_access_key(UserName=USER)["AccessKey"]
    seeded_id, seeded_secret = seeded["AccessKeyId"], seeded["SecretAccessKey"]
    endpoint.backdate(USER, seeded_id, 120)

    with Fleet(str(tmp_path / "fleet"), 2, mode="local", endpoint_url=endpoint.endpoint_url,
               region=endpoint.region, users=USER, initial_keys={USER: (seeded_id, seeded_secret)}) as fleet:
        inventory = fleet.write_inventory()
        assert all(report["healthy"] for report in fleet.health().values()), fleet.health()

        ephemeral = tmp_path / "molecule-ephemeral"
        completed = subprocess.run(
            [_molecule(), "test", "-s", "default"],
            cwd=str(REPO),  # the collection root: galaxy.yml + extensions/molecule/
            env=_molecule_env(endpoint, inventory, seeded_id, ephemeral),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=MOLECULE_TIMEOUT,
            check=False,
        )
        output = completed.stdout
        log = tmp_path / "molecule.log"
        log.write_text(output)

        # The outcome as seen from outside molecule.
        keys = iam.list_access_keys(UserName=USER)["AccessKeyMetadata"]
        after = fleet.health()
        new_secrets = {fleet.read_credentials(host)[1] for host in fleet.hosts}

    output = ANSI.sub("", output)
    tail = output[-8000:]
    assert completed.returncode == 0, f"molecule test exited {completed.returncode}; full output in {log}\n{tail}"

    # molecule really ran the steps that matter: converge rotated, the second converge changed nothing.
    for step in ("syntax", "create", "converge", "idempotence", "verify"):
        assert f"default > {step}: Executed: Successful" in output, f"molecule's {step} step did not succeed ({log})"
    first, second = _recap_changed(output, "converge"), _recap_changed(output, "idempotence")
    assert set(first) == set(second) == set(fleet.hosts), (first, second)
    assert sum(first.values()) > 0, f"the first converge changed nothing: {first} ({log})"
    assert not any(second.values()), f"the second converge changed something: {second} ({log})"

    # And the world is as the verify step says.
    assert len(keys) == 1 and keys[0]["Status"] == "Active" and keys[0]["AccessKeyId"] != seeded_id, keys
    assert all(r["healthy"] and r["access_key_id"] == keys[0]["AccessKeyId"] for r in after.values()), after

    # No secret in molecule's output (the message names the kind, never the secret).
    secrets = {"admin": endpoint.admin_secret_access_key, "seeded": seeded_secret}
    secrets.update({f"new #{n}": s for n, s in enumerate(sorted(new_secrets))})
    leaks = [name for name, secret in secrets.items() if secret and secret in output]
    assert not leaks, f"secret material ({', '.join(leaks)}) in molecule's output ({log})"
