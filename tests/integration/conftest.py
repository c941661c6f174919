"""Fixtures for running rotor.iam's modules through ansible-playbook against the test IAM endpoint.

One endpoint (moto behind our wrapper, HTTP on 127.0.0.1, auth enforced) serves the
whole session. Each test gets fresh IAM users from a boto3 admin client; every
playbook run is at -vvvv with --diff, and its combined stdout+stderr is checked for
every secret the test knows of before the test sees the result.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")

from botocore.exceptions import ClientError  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TARGETS = Path(__file__).resolve().parent / "targets" / "access_keys"
sys.path.insert(0, str(REPO / "tests"))

from harness import ansible_env, assert_no_leaks, leaks_in_texts  # noqa: E402
from iam_endpoint.control import IAMEndpoint  # noqa: E402
from rotation_helpers import IAM_LAG_SECONDS, wait_until_accepted  # noqa: E402

PLAYBOOK_TIMEOUT = 150


@dataclass
class PlaybookRun:
    playbook: str
    returncode: int
    output: str = field(repr=False)  # stdout and stderr, interleaved as ansible-playbook wrote them
    log_path: Path = field(repr=False)
    calls: Dict[str, Dict[str, int]] = field(repr=False, default_factory=dict)  # endpoint counters of this run

    def explain(self) -> str:
        return f"ansible-playbook {self.playbook} exited {self.returncode}; full output in {self.log_path}\n{self.output[-6000:]}"


@pytest.fixture(scope="session")
def iam_endpoint(tmp_path_factory):
    """The one IAM endpoint of the session (of each xdist worker), lagging like AWS; test files share it
    through ``endpoint`` (state kept, tests make their own users) or ``empty_endpoint`` (reset)."""
    # Generous: every test of this worker needs it, and moto's import alone takes long on a loaded machine.
    with IAMEndpoint().start(workdir=str(tmp_path_factory.mktemp("iam-endpoint")), propagation_seconds=IAM_LAG_SECONDS,
                             timeout=180) as endpoint:
        yield endpoint


@pytest.fixture
def empty_endpoint(iam_endpoint):
    """The session endpoint reset to an empty account (only rotor-admin): no IAM state, faults or counters,
    the lags it started with."""
    iam_endpoint.reset()
    yield iam_endpoint
    iam_endpoint.reset()  # the next test of the plain ``endpoint`` fixture finds no account-wide leftovers


@pytest.fixture
def endpoint(iam_endpoint):
    """The session endpoint without faults or counters left by an earlier test, lagging like AWS."""

    def settle():
        iam_endpoint.clear_faults()
        iam_endpoint.configure(propagation_seconds=IAM_LAG_SECONDS)
        iam_endpoint.reset_calls()

    settle()
    yield iam_endpoint
    settle()


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


def _playbook_env(endpoint: IAMEndpoint) -> Dict[str, str]:
    # The targets pass endpoint_url through module_defaults: the variable must be what reaches the endpoint.
    return ansible_env(endpoint, endpoint_in_env=False)


@pytest.fixture
def run_playbook(endpoint, tmp_path, known_secrets):
    """Run ``targets/access_keys/<name>.yml`` at -vvvv --diff with admin credentials in the environment.

    The playbook gets ``endpoint_url`` (for module_defaults), ``work_dir`` and the given
    variables through a 0600 vars file. Playbooks save each secret they create, with a
    no_log task, to ``<work_dir>/secrets/<label>`` (0600). After the run, the output is
    checked for those secrets, the ones in ``known_secrets`` and the admin secret; the
    endpoint's call counters are reset just before the run and read right after it, before
    the test's own boto3 calls add to them (``PlaybookRun.calls``).
    """
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir(mode=0o700, exist_ok=True)
    ansible_playbook = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable)) or "ansible-playbook"
    runs = iter(range(1, 1000))

    def run(name: str, **extra_vars) -> PlaybookRun:
        number = next(runs)
        vars_file = tmp_path / f"{name}-{number}.vars.json"
        fd = os.open(vars_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(dict(extra_vars, endpoint_url=endpoint.endpoint_url, work_dir=str(tmp_path)), handle)
        command = [
            ansible_playbook,
            "-i", "localhost,",
            "-vvvv",
            "--diff",
            "-e", f"@{vars_file}",
            str(TARGETS / f"{name}.yml"),
        ]
        endpoint.reset_calls()
        completed = subprocess.run(
            command,
            check=False,
            env=_playbook_env(endpoint),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=PLAYBOOK_TIMEOUT,
        )
        log_path = tmp_path / f"{name}-{number}.log"
        log_path.write_text(completed.stdout)
        result = PlaybookRun(name, completed.returncode, completed.stdout, log_path, endpoint.calls())
        _assert_no_secret_in_output(result, secrets_dir, known_secrets + [endpoint.admin_secret_access_key])
        return result

    return run


def _assert_no_secret_in_output(result: PlaybookRun, secrets_dir: Path, secrets: List[str]) -> None:
    labelled = {f"known secret #{index}": secret for index, secret in enumerate(secrets)}
    for path in sorted(secrets_dir.iterdir()):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == 0o600, f"{path} holds a secret but has mode {mode:o}"
        labelled[f"secret saved in {path.name}"] = path.read_text().strip()
    assert_no_leaks(leaks_in_texts({"the output": result.output}, labelled), f"the output of {result.playbook} ({result.log_path})")


# --------------------------------------------------------------------------- packaging and AWX (issue 6)
# The collection as users get it (a Galaxy tarball installed next to amazon.aws), and the
# least-privilege identity of docs/iam-policy.json; shared by test_packaging.py,
# test_awx_runner.py and test_iam_policy.py.

IAM_POLICY_FILE = REPO / "docs" / "iam-policy.json"
AMAZON_AWS = REPO / ".build" / "collections" / "ansible_collections" / "amazon" / "aws"


def _galaxy_env(collections_path: Path) -> Dict[str, str]:
    return ansible_env(collections_path=collections_path)


def _venv_tool(name: str) -> str:
    return shutil.which(name, path=os.path.dirname(sys.executable)) or name


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
