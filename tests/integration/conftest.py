"""Fixtures for running rotor.iam's modules through ansible-playbook against the test IAM endpoint.

One endpoint (moto behind our wrapper, HTTP on 127.0.0.1, auth enforced) serves the
whole session. Each test gets fresh IAM users from a boto3 admin client; every
playbook run is at -vvvv with --diff, and its combined stdout+stderr is checked for
every secret the test knows of before the test sees the result.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Dict, List

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")

from botocore.exceptions import ClientError  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TARGETS = Path(__file__).resolve().parent / "targets" / "access_keys"
sys.path.insert(0, str(REPO / "tests"))

from support import PlaybookResult, ansible_env, assert_no_secrets, saved_secrets, tool, wait_until_accepted  # noqa: E402
from support import run_playbook as run_any_playbook  # noqa: E402
from support.fixtures import empty_endpoint, endpoint, fleets, iam_endpoint, run_ansible  # noqa: E402,F401  pylint: disable=unused-import

from support import PLAYBOOK_TIMEOUT  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
PlaybookRun = PlaybookResult  # the name earlier tests import


@pytest.fixture
def iam(endpoint):
    """boto3 IAM client with the endpoint's admin credentials."""
    return endpoint.boto3_client("iam")


@pytest.fixture
def known_secrets() -> List[str]:
    """Secrets that must never appear in a playbook's output (keys made through boto3 add theirs)."""
    return []


@pytest.fixture
def make_iam_user(iam, request):
    """Factory: a fresh IAM user (optionally with an inline policy allowing ``actions``), removed afterwards."""
    created = []
    test_name = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name.replace("test_", "", 1))[:30].strip("-")

    def make(role: str = "user", actions=None) -> str:
        name = f"it-{test_name}-{role}-{uuid.uuid4().hex[:6]}"[:64]
        iam.create_user(UserName=name)
        created.append(name)
        if actions:
            # moto evaluates IAM actions against the resource "*" only, so a statement limited to
            # arn:aws:iam::<account>:user/<name> would never match; "*" stands in for the user itself.
            policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}
            iam.put_user_policy(UserName=name, PolicyName="integration-test", PolicyDocument=json.dumps(policy))
        return name

    yield make

    for name in created:
        try:
            for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
                iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
            for policy_name in iam.list_user_policies(UserName=name)["PolicyNames"]:
                iam.delete_user_policy(UserName=name, PolicyName=policy_name)
            iam.delete_user(UserName=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchEntity":
                raise


@pytest.fixture
def iam_user(make_iam_user) -> str:
    """A fresh IAM user without keys or permissions."""
    return make_iam_user()


@pytest.fixture
def create_key(endpoint, iam, known_secrets):
    """Factory: create an access key through boto3 (admin) and remember its secret; returns (id, secret).
    ``signs=True``: the test signs with the key, so wait until its propagation is over."""

    def create(user_name: str, status: str = "Active", signs: bool = False):
        key = iam.create_access_key(UserName=user_name)["AccessKey"]
        known_secrets.append(key["SecretAccessKey"])
        if status != "Active":
            iam.update_access_key(UserName=user_name, AccessKeyId=key["AccessKeyId"], Status=status)
        elif signs:
            wait_until_accepted(endpoint, key["AccessKeyId"])
        return key["AccessKeyId"], key["SecretAccessKey"]

    return create


@pytest.fixture
def key_statuses(iam):
    """The keys of a user as IAM has them, in IAM's order: ``key_statuses(user) -> {access_key_id: status}``."""

    def statuses(user_name: str) -> Dict[str, str]:
        return {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"]}

    return statuses


@pytest.fixture
def run_playbook(endpoint, tmp_path, known_secrets):
    """Run ``targets/access_keys/<name>.yml`` at -vvvv --diff with admin credentials in the environment.

    The playbook gets ``endpoint_url`` (for module_defaults; none in the environment: the variable must be what
    reaches the endpoint), ``work_dir`` and the given variables through a 0600 vars file. Playbooks save each secret
    they create, with a no_log task, to ``<work_dir>/secrets/<label>`` (0600). After the run, its output and
    TMPDIR are scanned for those secrets, the ones in ``known_secrets`` and the admin secret; the endpoint's call
    counters are reset just before the run and read right after it, before the test's own boto3 calls add to them.
    """
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir(mode=0o700, exist_ok=True)
    runs = iter(range(1, 1000))

    def run(name: str, **extra_vars) -> PlaybookResult:
        result = run_any_playbook(TARGETS / f"{name}.yml", tmp_path, endpoint=endpoint, endpoint_in_env=False, label=f"{name}-{next(runs)}",
                                  inventories=["localhost,"],
                                  extra_vars=dict(extra_vars, endpoint_url=endpoint.endpoint_url, work_dir=str(tmp_path)),
                                  verbosity=4, diff=True, combined=True, log=False, timeout=PLAYBOOK_TIMEOUT)
        labelled = {f"known secret #{index}": secret for index, secret in enumerate(known_secrets + [endpoint.admin_secret_access_key])}
        assert_no_secrets(result, dict(labelled, **saved_secrets(secrets_dir)))
        return result

    return run


# --------------------------------------------------------------------------- packaging and AWX (issue 6)
# The collection as users get it (a Galaxy tarball installed next to amazon.aws), and the
# least-privilege identity of docs/iam-policy.json; shared by test_packaging.py,
# test_awx_runner.py and test_iam_policy.py.

IAM_POLICY_FILE = REPO / "docs" / "iam-policy.json"
AMAZON_AWS = REPO / ".build" / "collections" / "ansible_collections" / "amazon" / "aws"


def _galaxy_env(collections_path: Path) -> Dict[str, str]:
    return ansible_env(collections_path=collections_path)


_venv_tool = tool


@pytest.fixture(scope="session")
def collection_tarball(tmp_path_factory) -> Path:
    """``ansible-galaxy collection build`` of the working tree: the Galaxy tarball users install.

    Built from a snapshot of the tree (caches and test output included, only the virtualenv, the
    build dir and .git left out), so a file saved while the build runs cannot break its checksums.
    """
    out = tmp_path_factory.mktemp("galaxy-build")
    snapshot = tmp_path_factory.mktemp("galaxy-source") / "iam"
    shutil.copytree(REPO, snapshot, symlinks=True, ignore=shutil.ignore_patterns(".venv", ".build", ".git"))
    built = subprocess.run(
        [_venv_tool("ansible-galaxy"), "collection", "build", "--output-path", str(out), str(snapshot)],
        check=False, capture_output=True, text=True, timeout=120, env=_galaxy_env(out / "none"), stdin=subprocess.DEVNULL,
    )
    assert built.returncode == 0, f"ansible-galaxy collection build failed:\n{built.stdout}\n{built.stderr}"
    tarballs = sorted(out.glob("rotor-iam-*.tar.gz"))
    assert len(tarballs) == 1, f"expected one tarball in {out}: {tarballs}"
    return tarballs[0]


@pytest.fixture(scope="session")
def installed_collections(collection_tarball, tmp_path_factory) -> Path:
    """An empty collections path holding amazon.aws (copied: Galaxy is unreachable) and rotor.iam
    installed offline from the tarball. Returns the directory to use as ANSIBLE_COLLECTIONS_PATH."""
    root = tmp_path_factory.mktemp("collections")
    shutil.copytree(AMAZON_AWS, root / "ansible_collections" / "amazon" / "aws", symlinks=True)
    installed = subprocess.run(
        [_venv_tool("ansible-galaxy"), "collection", "install", "--offline", str(collection_tarball), "-p", str(root)],
        check=False, capture_output=True, text=True, timeout=120, env=_galaxy_env(root), stdin=subprocess.DEVNULL,
    )
    assert installed.returncode == 0, f"offline install of {collection_tarball.name} failed:\n{installed.stdout}\n{installed.stderr}"
    assert (root / "ansible_collections" / "rotor" / "iam" / "MANIFEST.json").is_file(), installed.stdout
    return root


def load_rotation_policy() -> Dict:
    """docs/iam-policy.json, parsed."""
    return json.loads(IAM_POLICY_FILE.read_text())


def policy_for_moto(policy: Dict) -> Dict:
    """The same statements with every Resource replaced by "*" and no Condition: moto only matches the
    resource "*" (see make_iam_user) and evaluates no conditions for user policies, so the ARN scoping
    and the tag-key condition are checked structurally by test_iam_policy.py instead."""
    statements = [
        {key: value for key, value in dict(statement, Resource="*").items() if key != "Condition"}
        for statement in policy["Statement"]
    ]
    return dict(policy, Statement=statements)


@pytest.fixture
def make_rotator():
    """Factory: on ``endpoint``, an IAM user whose only permissions are docs/iam-policy.json, with one
    access key. Returns (user_name, access_key_id, secret_access_key)."""

    def make(endpoint, user_name: str = "rotor-rotator"):
        admin = endpoint.boto3_client("iam")
        admin.create_user(UserName=user_name)
        admin.put_user_policy(
            UserName=user_name,
            PolicyName="rotor-iam-rotation",
            PolicyDocument=json.dumps(policy_for_moto(load_rotation_policy())),
        )
        key = admin.create_access_key(UserName=user_name)["AccessKey"]
        wait_until_accepted(endpoint, key["AccessKeyId"])  # the rotator signs every call of the test
        return user_name, key["AccessKeyId"], key["SecretAccessKey"]

    return make
