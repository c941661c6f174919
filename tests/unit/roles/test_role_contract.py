"""The rotate role's contract is the main entry point's options, checked first by every rotation job; the workflow's
phase entry points document their job briefly and declare no options of their own (issue 24: role docs sized for
their readers)."""

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
SPECS = yaml.safe_load((REPO / "roles" / "rotate" / "meta" / "argument_specs.yml").read_text())["argument_specs"]
ROTATION_PLAYBOOKS = sorted(REPO.glob("playbooks/rotate*.yml"))


def test_the_user_entry_point_documents_every_option():
    options = SPECS["main"]["options"]
    assert len(options) > 20
    assert all(spec.get("description") for spec in options.values())


def test_the_phase_entry_points_are_brief_and_point_to_main():
    for name, entry_point in SPECS.items():
        if name == "main":
            continue
        assert "options" not in entry_point, f"{name} repeats the contract; it takes main's options"
        text = " ".join(entry_point["description"])
        assert "-e main" in text and len(text) < 600, name


def test_every_rotation_job_checks_the_contract_before_anything_else():
    assert len(ROTATION_PLAYBOOKS) == 9
    for path in ROTATION_PLAYBOOKS:
        first_play = yaml.safe_load(path.read_text())[0]
        first_task = first_play["tasks"][0]
        assert first_task.get("ansible.builtin.import_role") == {"name": "rotor.iam.rotate", "tasks_from": "contract"}, path.name
        later_imports = [task["ansible.builtin.import_role"] for play in yaml.safe_load(path.read_text())
                         for task in play.get("tasks", [])[1:] if "ansible.builtin.import_role" in task]
        for role_import in later_imports:
            if role_import["tasks_from"] in SPECS:
                # The phase's own (empty) validation would only add a task per host.
                assert role_import.get("rolespec_validate") is False, path.name
