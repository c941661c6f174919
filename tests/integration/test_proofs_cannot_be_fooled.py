"""Issue 20, point 1: a proof of deactivation is made only with a secret proven to be the key's own.

Reproductions of the red-team findings, through ansible-playbook against the test endpoint and a local fleet:
a backup whose secret the host's account rewrites (a real unprivileged uid), and a file whose key id is right
but whose secret is stale. Both with a deactivation lag and a service that ignores its reload: before the fix
the proof took SignatureDoesNotMatch for "rejected", cut over at once and deleted the old key the service
still ran on. Now the run proves the secret first, from another host's backup, waits for AWS's real verdict
(InvalidClientTokenId), catches the host and rolls back.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from rotation_helpers import key_statuses  # noqa: E402  pylint: disable=wrong-import-position
from test_fault_matrix import USER, case, matrix_endpoint  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

pytestmark = pytest.mark.slow

DEACTIVATION_LAG = 8
# The attacker's interpreter: the system's (the virtualenv under /work is not the account's to run).
ATTACKER_PYTHON = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if os.access(p, os.X_OK)), sys.executable)


def stale_copy(secret: str) -> str:
    """A secret of the same shape that is not the key's."""
    return secret[:-6] + ("AAAAAA" if not secret.endswith("AAAAAA") else "BBBBBB")


def rewrite_secret(path: Path, secret: str, forged: str) -> None:
    path.write_text(path.read_text().replace(secret, forged))


def assert_waited_and_rolled_back(current, first):
    assert first.returncode != 0, first.explain()
    # The run did not cut over on the wrong secret: the old key still exists, Active again, no host lost it.
    assert key_statuses(current.endpoint, USER) == {current.old_id: "Active"}, first.explain()
    assert "the backup on host1 could not prove old key " + current.old_id in first.stdout, first.explain()
    assert "host1" in first.stdout and "after deactivating the old key" in first.stdout, first.explain()
    # It waited for AWS's verdict: the deactivation proof could not pass before the lag ended.
    assert first.seconds > DEACTIVATION_LAG, first.explain()
    assert current.fleet.loaded_key("host1") == current.old_id


def test_a_stale_secret_with_the_right_key_id_never_proves_the_deactivation(case):
    """host1's file names the old key with a stale secret (its service loaded the real one and ignores reloads).
    Before: the proof read the stale secret from host1's backup, took SignatureDoesNotMatch for a rejection, cut over
    inside the lag and deleted the key host1 still ran on."""
    current = case()
    current.endpoint.configure(deactivation_propagation_seconds=DEACTIVATION_LAG)
    current.fleet.ignore_reload("host1", True)
    current.fleet.write_credentials("host1", current.old_id, stale_copy(current.old_secret))
    try:
        first = current.run()
        assert_waited_and_rolled_back(current, first)
    finally:
        current.fleet.ignore_reload("host1", False)


@pytest.fixture
def attacker():
    """A fresh unprivileged account (removed afterwards), or nobody if accounts cannot be created."""
    name = "rotor-prf-" + uuid.uuid4().hex[:6]
    created = shutil.which("useradd") and subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], capture_output=True, check=False).returncode == 0
    account = pwd.getpwnam(name) if created else pwd.getpwnam("nobody")
    yield account
    if created:
        subprocess.run(["userdel", name], capture_output=True, check=False)


REWRITER = r"""
import os, sys, time
directory, secret, forged = int(sys.argv[1]), sys.argv[2], sys.argv[3]  # a descriptor of the account's directory
deadline = time.time() + 170
while time.time() < deadline:
    try:
        names = os.listdir(directory)
    except OSError as exc:
        print("cannot list:", exc, flush=True)
        names = []
    for name in names:
        if not name.endswith(".rotor-iam-backup"):
            continue
        try:
            with open(os.open(name, os.O_RDONLY, dir_fd=directory)) as handle:
                text = handle.read()
            if secret in text:
                with open(os.open(name, os.O_WRONLY | os.O_TRUNC, dir_fd=directory), "w") as handle:  # the account owns the backup
                    handle.write(text.replace(secret, forged))
                print("rewrote", name, flush=True)
        except OSError as exc:
            print("cannot rewrite", name, exc, flush=True)
    time.sleep(0.02)
"""


def test_a_host_account_that_rewrites_the_secret_in_its_backup_cannot_switch_the_proof_off(case, attacker):
    """The service account owns host1's directory and file, so it owns the backup rotor makes there; a real
    process of that uid rewrites the old secret in every backup as soon as it appears. Before: one host decided
    the proof, SignatureDoesNotMatch passed it, the run cut over inside the lag."""
    current = case()
    current.endpoint.configure(deactivation_propagation_seconds=DEACTIVATION_LAG)
    credentials = Path(current.fleet.credentials_file("host1"))
    directory = credentials.parent
    os.chown(directory, attacker.pw_uid, attacker.pw_gid)
    os.chown(credentials, attacker.pw_uid, attacker.pw_gid)
    current.fleet.ignore_reload("host1", True)
    # The operator declares the service account as the file's owner (rotor keeps an owner only when told or trusted).
    entry = dict(current.fleet.host_vars("host1")["rotor_credentials_files"][0], owner=attacker.pw_name)
    owned = current.tmp / "owner.yml"
    owned.write_text(json.dumps({"all": {"hosts": {"host1": {"rotor_credentials_files": [entry]}}}}))
    current.inventories.append(str(owned))

    def drop():
        os.setgroups([])
        os.setgid(attacker.pw_gid)
        os.setuid(attacker.pw_uid)

    # The account reaches its directory through a descriptor: pytest keeps the directories above it root-only.
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    rewriter = subprocess.Popen(  # pylint: disable=consider-using-with
        [ATTACKER_PYTHON, "-c", REWRITER, str(descriptor), current.old_secret, stale_copy(current.old_secret)],
        preexec_fn=drop, cwd="/", pass_fds=(descriptor,),
        stdout=open(current.tmp / "rewriter.log", "w"), stderr=subprocess.STDOUT)  # pylint: disable=consider-using-with
    try:
        time.sleep(0.5)
        assert rewriter.poll() is None, "the attacker's process could not start"
        first = current.run()
        assert "rewrote" in (current.tmp / "rewriter.log").read_text(), (current.tmp / "rewriter.log").read_text()[-3000:]
        assert_waited_and_rolled_back(current, first)
    finally:
        rewriter.kill()
        rewriter.wait(10)
        os.close(descriptor)
        current.fleet.ignore_reload("host1", False)
        os.chown(directory, 0, 0)
