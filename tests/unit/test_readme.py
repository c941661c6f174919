"""README.md and docs/awx.md say what the code does: commands first, every role variable with its
real default, the policy, the lifecycle diagram, the AWX survey variables that exist."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
AWX_DOC = REPO / "docs" / "awx.md"
HOW_IT_WORKS = REPO / "docs" / "how-it-works.md"
REQUIRED = "(required)"


def role_options() -> Dict[str, Dict[str, dict]]:
    """{role: {option: spec}} over every entry point of every role's meta/argument_specs.yml."""
    roles = {}
    for path in sorted(REPO.glob("roles/*/meta/argument_specs.yml")):
        options: Dict[str, dict] = {}
        for entry_point in yaml.safe_load(path.read_text())["argument_specs"].values():
            for name, spec in (entry_point.get("options") or {}).items():
                options.setdefault(name, spec)
        roles[path.parents[1].name] = options
    return roles


def section(text: str, heading: str) -> str:
    """The text under a Markdown heading (any level), up to the next heading of the same or a higher level."""
    match = re.search(rf"^(#+) {re.escape(heading)}\s*$", text, re.M)
    assert match, f"no heading {heading!r}"
    level = len(match.group(1))
    rest = text[match.end():]
    following = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[: following.start()] if following else rest


def table_rows(text: str) -> List[List[str]]:
    """Body rows of the Markdown tables in ``text``, as lists of stripped cells."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|[\s:|-]+\|$", line):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def documented_variables(text: str) -> Dict[str, str]:
    """{variable: default cell} of the table rows whose first cell is one backticked variable."""
    found = {}
    for row in table_rows(text):
        match = re.fullmatch(r"`(rotor_\w+)`", row[0])
        if match:
            assert match.group(1) not in found, f"{match.group(1)} is documented twice in one table"
            found[match.group(1)] = row[1]
    return found


def parse_default(cell: str) -> Tuple[bool, object]:
    """(required?, value) of a default cell: ``(required)`` or a backticked YAML value."""
    if cell == REQUIRED:
        return True, None
    match = re.fullmatch(r"`([^`]*)`", cell)
    assert match, f"default cell {cell!r} is neither {REQUIRED} nor one `value`"
    return False, yaml.safe_load(match.group(1))


# --------------------------------------------------------------------------- README


def test_readme_starts_with_the_two_commands():
    lines = README.read_text().splitlines()
    assert lines[0] == "# rotor.iam"
    assert lines[2] == "```sh"
    assert lines[3].startswith("scripts/demo.sh ") and lines[4].startswith("scripts/test.sh ")
    assert lines[5] == "```"


@pytest.mark.parametrize("role", sorted(role_options()))
def test_readme_variables_table_matches_argument_specs(role):
    """Every option of the role is in its README table with the argument spec's default, and the
    table documents nothing the role does not have."""
    options = role_options()[role]
    table = documented_variables(section(README.read_text(), f"rotor.iam.{role}"))

    assert sorted(set(options) - set(table)) == [], f"options of {role} missing from README"
    assert sorted(set(table) - set(options)) == [], f"README documents variables {role} does not have"
    wrong = {}
    for name, spec in options.items():
        required, value = parse_default(table[name])
        if spec.get("required"):
            if not required:
                wrong[name] = (table[name], "required")
        elif required or value != spec.get("default"):
            wrong[name] = (table[name], spec.get("default"))
    assert not wrong, f"README defaults differ from roles/{role}/meta/argument_specs.yml: {wrong}"


def test_readme_covers_what_a_newcomer_needs():
    text = README.read_text()
    for needle in (
        "--check --diff",
        "docs/iam-policy.json",
        "ansible-galaxy collection install amazon.aws",
        'pip install "ansible==',
        "--offline",
        "inventory.yml",
        "ansible-playbook rotor.iam.rotate -i inventory.yml",
        "ansible-playbook rotor.iam.audit",
        "benchmarks/run.sh",
        "benchmarks/RESULTS.md",
        "docs/awx.md",
    ):
        assert needle in text, f"README lacks {needle!r}"
    assert "```mermaid" in section(HOW_IT_WORKS.read_text(), "How a rotation runs"), "no lifecycle diagram in docs/how-it-works.md"
    for heading in ("What it does", "Install", "From zero to a check-mode run against your AWS account", "Variables", "More"):
        section(text, heading)
    # Every link to a file of this repository leads somewhere.
    for target in re.findall(r"\]\(((?:docs|benchmarks)/[^)#]+)", text):
        assert (REPO / target).exists(), f"README links to {target}, which does not exist"
    assert re.search(r"(?i)when to use iam roles instead", text)
    inventory = re.search(r"```yaml\n# inventory.yml\n(.*?)```", text, re.S)
    assert inventory, "no inventory example"
    hosts_vars = {k: v for k, v in yaml.safe_load(inventory.group(1))["all"]["vars"].items() if not k.startswith("ansible_")}
    rotate = role_options()["rotate"]
    assert set(hosts_vars) <= set(rotate), f"the inventory example uses unknown variables: {set(hosts_vars) - set(rotate)}"
    assert {"rotor_iam_user", "rotor_credentials_files", "rotor_aws_region"} <= set(hosts_vars), "the inventory example names no region"


# --------------------------------------------------------------------------- docs/awx.md


def test_awx_survey_variables_exist():
    text = AWX_DOC.read_text()
    options = role_options()
    for heading, role in (("Survey", "rotate"), ("6. Job template: audit", "audit")):
        table = section(text, heading)
        used = re.findall(r"^\|[^|]+\| `(rotor_\w+)` \|", table, re.M)
        assert used, f"no survey variables under {heading!r}"
        unknown = sorted(set(used) - set(options[role]))
        assert not unknown, f"docs/awx.md survey for {role} uses variables the role does not have: {unknown}"
    audit_survey = re.findall(r"`(rotor_\w+)`", section(text, "6. Job template: audit"))
    assert {"rotor_report_dir", "rotor_audit_fail_on_due", "rotor_max_key_age_days"} <= set(audit_survey)


def test_awx_doc_covers_templates_schedules_and_credentials():
    text = AWX_DOC.read_text()
    for needle in ("rotor.iam.rotate", "rotor.iam.audit", "FREQ=WEEKLY", "docs/iam-policy.json", "Credential Types",
                   "AWS_SHARED_CREDENTIALS_FILE", "set_stats", "rotor_rotation_run", "execution-environment.yml", "Check"):
        assert needle in text, f"docs/awx.md lacks {needle!r}"
