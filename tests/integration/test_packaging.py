"""The collection as users receive it: a Galaxy tarball and an execution environment.

* ``ansible-galaxy collection build`` leaves development junk out (build_ignore in galaxy.yml);
* the tarball installs offline into an empty collections path next to amazon.aws, and from
  there ``ansible-doc`` documents every module and role and ``ansible-playbook rotor.iam.rotate``
  (by FQCN) plans a rotation against the test IAM endpoint and a fleet;
* meta/execution-environment.yml declares requirements.txt and bindep.txt, which
  ansible-builder's introspection finds in the installed collection; and
  ``ansible-builder create`` turns docs/execution-environment.yml into a complete build
  context (no container engine needed), whose galaxy stage we replay offline.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Dict, List

import pytest
import yaml

from support import ansible_env, plan_row, tool

REPO = Path(__file__).resolve().parents[2]
AMAZON_AWS = REPO / ".build" / "collections" / "ansible_collections" / "amazon" / "aws"
TOOL_TIMEOUT = 180

# Nothing matching these may be in the tarball (fnmatch on member paths; "*" matches "/").
JUNK = [
    ".venv*", ".build*", ".ci*", ".git*", "*__pycache__*", "*.pyc", "*.pyo", "*.pytest_cache*", "*.mypy_cache*",
    "*.ruff_cache*", "*.retry", "*.tar.gz", "tests/output*", "*/tests/output*", ".tox*", "*.egg-info*",
    ".coverage*", "benchmarks/output*", "benchmarks/results*", "benchmarks/runs*", "context/*", "*.swp", "*.log",
    "changelogs/.plugin-cache.yaml", ".ansible/*", "*/.ansible/*",
]
# What a user of the tarball needs.
REQUIRED = [
    "MANIFEST.json", "FILES.json", "README.md", "CHANGELOG.rst", "meta/runtime.yml", "meta/execution-environment.yml",
    "requirements.txt", "bindep.txt", "meta/requirements.txt", "meta/bindep.txt", "playbooks/rotate.yml", "roles/rotate/meta/argument_specs.yml",
    "docs/iam-policy.json", "docs/awx.md", "docs/execution-environment.yml",
]


def clean_env(collections_path: Path, **extra: str) -> Dict[str, str]:
    """Only ``collections_path`` as collections, none of the caller's Ansible settings: the repository's own link must not be found."""
    return ansible_env(collections_path=collections_path, keep_ansible=False, **extra)


def run(command: List[str], env: Dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=False, env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=TOOL_TIMEOUT)


def members(tarball: Path) -> List[str]:
    with tarfile.open(tarball) as archive:
        return [name[2:] if name.startswith("./") else name for name in archive.getnames()]


def junk_in(names: List[str]) -> List[str]:
    return sorted(name for name in names if any(fnmatch.fnmatch(name, pattern) for pattern in JUNK))


def galaxy_version() -> str:
    return yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]


# --------------------------------------------------------------------------- the tarball


def test_tarball_holds_the_collection_and_no_junk(collection_tarball):
    names = members(collection_tarball)

    assert collection_tarball.name == f"rotor-iam-{galaxy_version()}.tar.gz"
    assert junk_in(names) == [], f"build junk in {collection_tarball.name}: {junk_in(names)}"
    missing = [name for name in REQUIRED if name not in names]
    assert not missing, f"{collection_tarball.name} lacks {missing}"
    modules = sorted(p.name for p in (REPO / "plugins" / "modules").glob("*.py") if p.name != "__init__.py")
    assert [m for m in modules if f"plugins/modules/{m}" not in names] == []
    with tarfile.open(collection_tarball) as archive:
        manifest = json.load(archive.extractfile("MANIFEST.json"))
    assert manifest["collection_info"]["dependencies"].get("amazon.aws"), manifest["collection_info"]["dependencies"]


def test_build_ignore_keeps_planted_junk_out(tmp_path):
    """Caches, test output, virtualenvs and benchmark results planted in a copy of the tree stay out."""
    tree = tmp_path / "rotor_iam"
    listing = subprocess.run(["git", "ls-files", "-z"], check=True, cwd=REPO, capture_output=True).stdout.decode()
    for name in filter(None, listing.split("\0")):
        if (REPO / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, tree / name)
    planted = [
        ".venv/bin/python", ".build/collections/x.txt", ".pytest_cache/v/cache/lastfailed",
        "tests/unit/.pytest_cache/README.md", "tests/output/junit/python3.11.xml", "tests/unit/fleet/__pycache__/x.cpython-311.pyc",
        "plugins/modules/__pycache__/access_key_info.cpython-311.pyc", "playbooks/rotate.retry", "benchmarks/output/run1.json",
        "benchmarks/results/raw.json", "rotor-iam-0.0.1.tar.gz", "context/Containerfile", "changelogs/.plugin-cache.yaml",
        ".mypy_cache/x.json", "docs/rotor-iam-0.1.0.tar.gz", ".coverage", "rotor.log",
    ]
    for name in planted:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text("junk\n")
    out = tmp_path / "out"

    built = run([tool("ansible-galaxy"), "collection", "build", "--output-path", str(out), str(tree)], clean_env(tmp_path / "none"))

    assert built.returncode == 0, built.stdout + built.stderr
    names = members(next(out.glob("*.tar.gz")))
    assert [name for name in planted if name in names] == [], "planted junk made it into the tarball"
    assert junk_in(names) == []


def warnings_about_us(stderr: str) -> list:
    """stderr's [WARNING] lines, less ansible-core 2.21's own about its internal collections (no MANIFEST.json there)."""
    return [line for line in stderr.splitlines() if "[WARNING]" in line and "/ansible/_internal/ansible_collections/" not in line]


def test_installed_tarball_documents_every_module_and_role(installed_collections):
    """ansible-doc from the installed copy (only that collections path): every module, every role."""
    installed = installed_collections / "ansible_collections" / "rotor" / "iam"
    env = clean_env(installed_collections)
    modules = sorted(p.stem for p in (installed / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
    assert modules == sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
    roles = sorted(p.name for p in (installed / "roles").iterdir() if (p / "meta" / "argument_specs.yml").is_file())
    assert "rotate" in roles

    listing = run([tool("ansible-doc"), "-t", "module", "-l", "rotor.iam"], env)
    assert listing.returncode == 0, listing.stderr
    for module in modules:
        assert re.search(rf"^rotor\.iam\.{module}\s", listing.stdout, re.M), f"ansible-doc -l does not list {module}"
        shown = run([tool("ansible-doc"), "-t", "module", "--json", f"rotor.iam.{module}"], env)
        assert shown.returncode == 0 and not warnings_about_us(shown.stderr), f"ansible-doc rotor.iam.{module}:\n{shown.stderr}"
        doc = json.loads(shown.stdout)[f"rotor.iam.{module}"]["doc"]
        assert doc["short_description"] and doc["filename"].startswith(str(installed)), doc.get("filename")
    for role in roles:
        shown = run([tool("ansible-doc"), "-t", "role", f"rotor.iam.{role}"], env)
        assert shown.returncode == 0 and not warnings_about_us(shown.stderr), f"ansible-doc -t role rotor.iam.{role}:\n{shown.stderr}"
        assert re.search(r"ENTRY POINT: \W*main\b", shown.stdout) and "rotor_" in shown.stdout, shown.stdout[:2000]


@pytest.mark.slow
def test_installed_tarball_plans_a_rotation_by_fqcn(installed_collections, empty_endpoint, tmp_path):
    """ansible-playbook rotor.iam.rotate --check --diff from the installed collection, against the
    test IAM endpoint and a fleet of 2 hosts: the plan, no IAM write, no host change."""
    pytest.importorskip("boto3")
    pytest.importorskip("moto")
    from fleet.fleet import Fleet  # pylint: disable=import-outside-toplevel
    from rotation_helpers import file_states, key_statuses, seed_user  # pylint: disable=import-outside-toplevel

    endpoint = empty_endpoint  # the session endpoint, reset (tests/integration/conftest.py)
    endpoint.configure(propagation_seconds=0)  # this test is about something else
    old_id, old_secret = seed_user(endpoint, "pkg-app", 120)
    with Fleet(str(tmp_path / "fleet"), 2, mode="local", endpoint_url=endpoint.endpoint_url, region=endpoint.region,
               users="pkg-app", initial_keys={"pkg-app": (old_id, old_secret)}) as fleet:
        inventory = fleet.write_inventory()
        before = file_states(fleet)
        env = clean_env(installed_collections, **endpoint.admin_env())
        endpoint.reset_calls()

        planned = run([tool("ansible-playbook"), "rotor.iam.rotate", "-i", inventory, "--check", "--diff",
                       "-e", f"rotor_aws_endpoint_url={endpoint.endpoint_url}"], env, cwd=tmp_path)

        calls = endpoint.calls()["calls"]
        assert planned.returncode == 0, planned.stdout[-6000:] + planned.stderr[-2000:]
        listed = json.loads(run([tool("ansible-galaxy"), "collection", "list", "rotor.iam", "--format", "json"], env).stdout)
        assert list(listed) == [str(installed_collections / "ansible_collections")], f"rotor.iam found elsewhere: {listed}"
        assert plan_row(planned.stdout, "pkg-app").get("action and why", "").startswith(f"ROTATE - key {old_id} is 120 days old"), \
            planned.stdout[-6000:]
        assert not any(calls.get(action) for action in ("CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey")), calls
        assert file_states(fleet) == before
        assert key_statuses(endpoint, "pkg-app") == {old_id: "Active"}
        assert old_secret not in planned.stdout + planned.stderr


# --------------------------------------------------------------------------- the execution environment


def create_build_context(definition: Path, work: Path) -> Path:
    """``ansible-builder create`` for ``definition``; asserts the context is complete and returns it."""
    context = work / "context"
    created = run([tool("ansible-builder"), "create", "-f", str(definition), "-c", str(context),
                   "--output-filename", "Containerfile"], clean_env(work / "none"), cwd=work)
    assert created.returncode == 0, created.stdout + created.stderr
    containerfile = (context / "Containerfile").read_text()
    assert re.search(r'^ARG EE_BASE_IMAGE="[^"]+"', containerfile, re.M), containerfile[:500]
    # The current ansible-core line (the development environment's default, scripts/lines.sh) on a Python it supports.
    assert "ansible-core>=2.21,<2.22" in containerfile and "ansible-runner" in containerfile
    assert "python3.12" in containerfile, containerfile[:2000]
    assert "introspect" in containerfile and "ansible-galaxy collection install" in containerfile
    for source in re.findall(r"^(?:COPY|ADD)\s+(?!--from)(\S+)", containerfile, re.M):
        assert (context / source).exists(), f"Containerfile copies {source}, which is not in the build context"
    for path in context.rglob("*"):
        assert not path.is_symlink(), f"{path} is a symlink: it would not resolve in the image build"
    return context


def test_collection_declares_its_execution_environment_needs(installed_collections, tmp_path):
    """meta/execution-environment.yml names requirements.txt and bindep.txt, and ansible-builder's
    introspection (what the image build runs) finds boto3, botocore and the SSH client through it."""
    meta = yaml.safe_load((REPO / "meta" / "execution-environment.yml").read_text())
    assert meta["dependencies"]["python"] == "requirements.txt" and meta["dependencies"]["system"] == "bindep.txt", meta
    for name in ("requirements.txt", "bindep.txt"):
        lines = [line for line in (REPO / name).read_text().splitlines() if line.strip() and not line.startswith("#")]
        assert lines, f"{name} is empty"
        # ansible-builder reads these names next to the definition; introspection at the collection root.
        assert (REPO / "meta" / name).read_text() == (REPO / name).read_text(), f"meta/{name} differs from {name}"

    pip_out, bindep_out = tmp_path / "requirements.txt", tmp_path / "bindep.txt"
    introspected = run([tool("ansible-builder"), "introspect", "--sanitize", "--write-pip", str(pip_out),
                        "--write-bindep", str(bindep_out), str(installed_collections)], clean_env(installed_collections))

    assert introspected.returncode == 0, introspected.stdout + introspected.stderr
    python = pip_out.read_text()
    system = bindep_out.read_text()
    for requirement in ("boto3", "botocore"):
        assert re.search(rf"^{requirement}\b.*# from collection .*rotor\.iam", python, re.M), python
    assert re.search(r"^openssh-client \[platform:dpkg\].*# from collection rotor\.iam", system, re.M), system
    assert re.search(r"^openssh-clients \[platform:rpm\].*# from collection rotor\.iam", system, re.M), system


def test_ansible_builder_creates_a_build_context_from_the_collection_definition(tmp_path):
    """``ansible-builder create -f meta/execution-environment.yml`` (no container engine needed): a
    Containerfile and a context holding our Python and system requirements and amazon.aws."""
    work = tmp_path / "ee"
    work.mkdir()

    context = create_build_context(REPO / "meta" / "execution-environment.yml", work)

    build = context / "_build"
    assert (build / "requirements.txt").read_text() == (REPO / "requirements.txt").read_text()
    assert (build / "bindep.txt").read_text() == (REPO / "bindep.txt").read_text()
    galaxy = yaml.safe_load((build / "requirements.yml").read_text())
    assert "amazon.aws" in [c["name"] for c in galaxy["collections"]], galaxy
    containerfile = (context / "Containerfile").read_text()
    assert "--user-pip=requirements.txt" in containerfile and "--user-bindep=bindep.txt" in containerfile


def test_ansible_builder_creates_the_awx_image_context_with_the_tarball(collection_tarball, tmp_path):
    """docs/execution-environment.yml (next to the tarball, as docs/awx.md says) gives a complete
    context; replaying its galaxy stage offline installs amazon.aws's requirement and rotor.iam
    from the copied tarball."""
    definition = yaml.safe_load((REPO / "docs" / "execution-environment.yml").read_text())
    assert definition["version"] == 3
    work = tmp_path / "ee"
    work.mkdir()
    shutil.copy2(REPO / "docs" / "execution-environment.yml", work / "execution-environment.yml")
    shutil.copy2(collection_tarball, work / collection_tarball.name)

    context = create_build_context(work / "execution-environment.yml", work)

    build = context / "_build"
    assert (build / "collections" / collection_tarball.name).is_file(), sorted(p.name for p in build.rglob("*"))
    requirements = yaml.safe_load((build / "requirements.yml").read_text())
    assert "amazon.aws" in [c["name"] for c in requirements["collections"]], requirements
    containerfile = (context / "Containerfile").read_text()
    galaxy_stage = containerfile.split("FROM base AS galaxy", 1)[1].split("\nFROM ", 1)[0]
    installs = [line[4:] for line in galaxy_stage.splitlines() if line.startswith("RUN ") and "ansible-galaxy collection install" in line]
    assert len(installs) == 2 and "rotor-iam-*.tar.gz" in installs[-1], installs

    # Replay the stage here, offline (Galaxy is unreachable): amazon.aws is already in the target.
    target = tmp_path / "ee-collections"
    shutil.copytree(AMAZON_AWS, target / "ansible_collections" / "amazon" / "aws", symlinks=True)
    for command in installs:
        command = command.replace("$ANSIBLE_GALAXY_CLI_COLLECTION_OPTS", "--offline").replace("/usr/share/ansible/collections", str(target))
        command = command.replace("/build/", f"{build}/").replace("ansible-galaxy ", f"{tool('ansible-galaxy')} ", 1)
        replayed = run(["bash", "-c", command], clean_env(target), cwd=build)
        assert replayed.returncode == 0, f"{command}\n{replayed.stdout}{replayed.stderr}"
    installed = target / "ansible_collections" / "rotor" / "iam"
    assert json.loads((installed / "MANIFEST.json").read_text())["collection_info"]["version"] == galaxy_version()
    assert (installed / "meta" / "execution-environment.yml").is_file()


# --------------------------------------------------------------------------- the changelog


def test_changelog_fragments_pass_antsibull_changelog_lint():
    fragments = sorted((REPO / "changelogs" / "fragments").glob("*.y*ml"))
    linted = run([tool("antsibull-changelog"), "lint", "-v"], clean_env(REPO / ".build" / "collections"))

    assert linted.returncode == 0 and not linted.stdout.strip(), f"antsibull-changelog lint:\n{linted.stdout}{linted.stderr}"
    assert (REPO / "changelogs" / "fragments" / "awx-packaging.yml") in fragments
