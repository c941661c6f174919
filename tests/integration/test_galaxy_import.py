"""Galaxy's importer on the built tarball: what Galaxy runs on every upload must accept the collection.

``galaxy-importer`` (from PyPI) pins its own dependencies, so it runs from a virtualenv of its own,
``.build/galaxy-importer`` (made by ``scripts/setup.sh``; created on demand if missing), never from
``.venv``. Its ansible-test step needs a container and is switched off (``RUN_ANSIBLE_TEST = False``);
everything else runs as on Galaxy: the checksums of FILES.json, the content finder, ansible-doc on
every plugin, the READMEs and docs/ rendered to HTML, the changelog check and ansible-lint.

amazon.aws is linked into that virtualenv's site-packages (ansible-doc scans sys.path for
``ansible_collections/``), so the importer's ansible-doc step resolves our modules' amazon.aws doc
fragments: every ERROR line in its log is a real problem, and none is tolerated.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

import pytest
import yaml
from support import clean_env

REPO = Path(__file__).resolve().parents[2]
GALAXY_VENV = REPO / ".build" / "galaxy-importer"
IMPORTER_PYTHON = GALAXY_VENV / "bin" / "python"
SETUP_TIMEOUT = 600
IMPORT_TIMEOUT = 600

pytestmark = pytest.mark.slow


@dataclass
class ImportRun:
    returncode: int
    log: str = field(repr=False)  # the importer's log (stdout and stderr)
    result: Dict = field(repr=False)  # importer_result.json

    def errors(self) -> List[str]:
        return [line for line in self.log.splitlines() if line.startswith("ERROR:")]

    def warnings(self) -> List[str]:
        return [line for line in self.log.splitlines() if line.startswith("WARNING:")]

    def contents(self, content_type: str) -> Dict[str, Dict]:
        """{name: entry of docs_blob.contents} for one content type."""
        return {c["content_name"]: c for c in self.result["docs_blob"]["contents"] if c["content_type"] == content_type}

    def explain(self) -> str:
        return f"galaxy-importer exited {self.returncode}:\n{self.log[-8000:]}"


def importer_installed() -> bool:
    if not IMPORTER_PYTHON.is_file():
        return False
    probe = subprocess.run([str(IMPORTER_PYTHON), "-c", "import galaxy_importer.main"], check=False,
                           capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    return probe.returncode == 0


def importer_env() -> Dict[str, str]:
    """The importer's virtualenv first on PATH (it runs ``ansible-doc`` and ``ansible-lint`` from PATH);
    no Ansible, AWS or importer settings of ours, and not .venv's tools."""
    main_bin = str(REPO / ".venv" / "bin")
    env = clean_env(drop=("GALAXY_IMPORTER_", "PYTHON", "VIRTUAL_ENV"))
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and os.path.realpath(p) != os.path.realpath(main_bin)]
    env["PATH"] = os.pathsep.join([str(IMPORTER_PYTHON.parent)] + path)
    return env


@pytest.fixture(scope="module")
def galaxy_importer() -> Path:
    """The importer's python; runs scripts/setup.sh (idempotent) when the virtualenv is missing."""
    if not importer_installed():
        setup = subprocess.run(["bash", str(REPO / "scripts" / "setup.sh")], check=False, cwd=REPO, capture_output=True,
                               text=True, stdin=subprocess.DEVNULL, timeout=SETUP_TIMEOUT)
        assert setup.returncode == 0, f"scripts/setup.sh failed:\n{setup.stdout[-4000:]}{setup.stderr[-4000:]}"
    assert importer_installed(), f"scripts/setup.sh did not install galaxy-importer into {GALAXY_VENV}"
    return IMPORTER_PYTHON


@pytest.fixture(scope="module")
def galaxy_import(collection_tarball, galaxy_importer, tmp_path_factory) -> ImportRun:
    """``python -m galaxy_importer.main TARBALL``, as Galaxy runs it, without its ansible-test step."""
    work = tmp_path_factory.mktemp("galaxy-import")
    (work / "tmp").mkdir()
    config = configparser.ConfigParser()
    config["galaxy-importer"] = {
        "RUN_ANSIBLE_TEST": "False",  # needs a container engine
        "RUN_ANSIBLE_DOC": "True",
        "RUN_ANSIBLE_LINT": "True",
        "CHECK_CHANGELOG": "True",
        "LOG_LEVEL_MAIN": "INFO",
        "TMP_ROOT_DIR": str(work / "tmp"),
        "ANSIBLE_LOCAL_TMP": str(work / "ansible-tmp"),
    }
    with open(work / "galaxy-importer.cfg", "w", encoding="utf-8") as handle:
        config.write(handle)
    env = importer_env()
    env["GALAXY_IMPORTER_CONFIG"] = str(work / "galaxy-importer.cfg")

    run = subprocess.run([str(galaxy_importer), "-m", "galaxy_importer.main", str(collection_tarball)], check=False,
                         cwd=work, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=IMPORT_TIMEOUT)

    log = run.stdout + run.stderr
    (work / "importer.log").write_text(log)
    result_file = work / "importer_result.json"  # written by the importer into its working directory
    result = json.loads(result_file.read_text()) if result_file.is_file() else {}
    return ImportRun(run.returncode, log, result)


def repo_modules() -> List[str]:
    return sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if p.stem != "__init__")


def repo_roles() -> List[str]:
    return sorted(p.name for p in (REPO / "roles").iterdir() if (p / "tasks" / "main.yml").is_file())


def test_galaxy_importer_accepts_the_tarball(galaxy_import):
    """Exit 0, the importer's own success line, and no ERROR line at all (the doc fragments resolve)."""
    assert galaxy_import.returncode == 0, galaxy_import.explain()
    assert "Importer processing completed successfully" in galaxy_import.log, galaxy_import.explain()
    assert galaxy_import.errors() == [], "\n".join(galaxy_import.errors())
    assert galaxy_import.result, "no importer_result.json"
    # Every step ran with the importer's own tools, none was skipped for want of them.
    for step in ("Getting doc strings via ansible-doc", "Linting collection via ansible-lint", "...ansible-lint run complete"):
        assert step in galaxy_import.log, f"{step!r} missing:\n{galaxy_import.log[-4000:]}"
    assert "not found, skipping" not in galaxy_import.log, galaxy_import.explain()
    # Not failures; shown in the test log (pytest -rA) for whoever owns the files they name.
    print("\n".join(galaxy_import.warnings()))


def test_import_result_names_the_collection_of_galaxy_yml(galaxy_import):
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    metadata = galaxy_import.result["metadata"]

    assert (metadata["namespace"], metadata["name"], metadata["version"]) == (galaxy["namespace"], galaxy["name"], galaxy["version"])
    assert metadata["dependencies"] == galaxy["dependencies"]
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert galaxy_import.result["requires_ansible"] == runtime["requires_ansible"]


def test_every_module_role_and_playbook_is_listed(galaxy_import):
    listed: Dict[str, List[str]] = {}
    for entry in galaxy_import.result["contents"]:
        listed.setdefault(entry["content_type"], []).append(entry["name"])
    playbooks = sorted(p.name for p in (REPO / "playbooks").glob("*.yml"))

    assert sorted(listed.get("module", [])) == repo_modules(), listed
    assert sorted(listed.get("role", [])) == repo_roles(), listed
    assert sorted(listed.get("playbook", [])) == playbooks, listed
    assert {"rotate", "audit"} <= set(repo_roles())


def test_every_module_is_documented_with_the_amazon_aws_fragments(galaxy_import):
    """ansible-doc ran on every module from the tarball: the docs Galaxy shows, fragments included."""
    modules = galaxy_import.contents("module")
    aws_modules = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())["action_groups"]["iam"]
    aws_modules = [m for m in aws_modules if isinstance(m, str)]
    assert aws_modules, "meta/runtime.yml lists no module in group/rotor.iam.iam"

    undocumented = sorted(name for name in repo_modules() if not (modules.get(name) or {}).get("doc_strings"))
    assert undocumented == [], f"Galaxy would show no documentation for {undocumented}:\n" + "\n".join(galaxy_import.errors())
    for name in repo_modules():
        doc = modules[name]["doc_strings"]["doc"]
        assert doc["short_description"] and doc["options"], f"{name}: {doc}"
        assert doc["module"] == name
    for name in aws_modules:
        options = [option["name"] for option in modules[name]["doc_strings"]["doc"]["options"]]  # the importer's list form
        # From amazon.aws.common.modules and amazon.aws.region.modules.
        assert {"profile", "endpoint_url", "region"} <= set(options), f"{name}: amazon.aws fragments not merged: {sorted(options)}"


@pytest.mark.parametrize("role", ["rotate", "audit"])
def test_each_role_readme_is_found_and_rendered(galaxy_import, role):
    roles = galaxy_import.contents("role")
    assert role in roles, sorted(roles)
    entry = roles[role]

    assert entry["readme_file"] == "README.md"
    html = entry["readme_html"]
    assert f"<h1>rotor.iam.{role}</h1>" in html, html[:500]
    # What a Galaxy visitor needs: requirements, usage by FQCN, where the variables are documented, the docs.
    for needle in ("boto3", "standard library", f"ansible-playbook rotor.iam.{role}", f"name: rotor.iam.{role}",
                   f"ansible-doc -t role rotor.iam.{role}", "meta/argument_specs.yml", "docs/awx.md", "docs/journal.md"):
        assert needle in html, f"roles/{role}/README.md does not say {needle!r}"
    assert "<table>" in html and "<pre><code" in html, "the README's table or code blocks did not render"
    # The variables table lists only real options (the full list is argument_specs, tested with README.md).
    specs = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    options = {name for entry_point in specs.values() for name in (entry_point.get("options") or {})}
    source = (REPO / "roles" / role / "README.md").read_text()
    listed = [name for cell in re.findall(r"^\|([^|]*`rotor_[^|]*)\|", source, re.M) for name in re.findall(r"`(rotor_\w+)`", cell)]
    assert len(listed) >= 5, f"roles/{role}/README.md lists no key variables: {listed}"
    assert sorted(set(listed) - options) == [], f"roles/{role}/README.md lists variables its argument_specs do not have"


def test_collection_readme_and_docs_render(galaxy_import):
    """The collection README and every docs/*.md, rendered to HTML as Galaxy shows them."""
    blob = galaxy_import.result["docs_blob"]
    readme = blob["collection_readme"]
    assert readme["name"] == "README.md" and "<h1>rotor.iam</h1>" in readme["html"], readme["html"][:300]

    rendered = {doc["name"]: doc["html"] for doc in blob["documentation_files"]}
    expected = sorted(p.name for p in (REPO / "docs").glob("*.md"))
    assert sorted(rendered) == expected, sorted(rendered)
    for name in expected:
        assert re.match(r"\s*<h1>", rendered[name]), f"docs/{name} did not render with its title: {rendered[name][:200]}"


def test_importer_runs_outside_the_project_virtualenv(galaxy_importer):
    """The importer and its pins live in their own virtualenv; .venv does not have it."""
    in_project = subprocess.run([sys.executable, "-c", "import galaxy_importer"], check=False, capture_output=True,
                                stdin=subprocess.DEVNULL, timeout=60)
    assert in_project.returncode != 0, f"galaxy_importer is importable from {sys.executable}"
    assert Path(galaxy_importer).parent != Path(sys.executable).parent
