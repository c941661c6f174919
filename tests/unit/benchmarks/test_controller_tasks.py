"""Unit tests of benchmarks/controller_tasks.py's report: medians, ratios against the module run, a failed way, the section."""

import os
import sys

import pytest

BENCHMARKS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "benchmarks"))
sys.path.insert(0, BENCHMARKS)

controller_tasks = pytest.importorskip("controller_tasks")


def measured(core="2.19.14", seconds=None, failures=None):
    return {"facts": {"ansible_core": core, "python": "3.11.7", "amazon_aws": "10.1.2"}, "tasks": 10, "repeat": 3,
            "seconds": seconds or {"old": [3.0, 2.0, 9.0], "action": [2.0, 2.5, 3.0], "module": [10.0, 12.0, 11.0]},
            "failures": failures or {}, "old_commit": "661077a584a1", "new_commit": "abcdef123456", "date": "2026-12-06 20:00 UTC"}


def test_medians_and_ratios_against_the_module_run_of_the_same_run():
    section = controller_tasks.render(measured())
    row = [line for line in section.splitlines() if line.startswith("| 2.19.14")][0]
    assert "3.0 s, 0.30 s per task (0.27x module run)" in row  # old: median 3.0 of 11.0
    assert "2.5 s, 0.25 s per task (0.23x module run)" in row
    assert row.endswith("| 11.0 s, 1.10 s per task |")


def test_a_way_that_failed_says_why_without_the_file_path():
    run = measured("2.21.5", seconds={"old": [], "action": [2.0], "module": [8.0]},
                   failures={"old": "exit 250: cannot import name 'x' from 'ansible.vars.clean' (/venv/lib/ansible/vars/clean.py)"})
    row = [line for line in controller_tasks.render(run).splitlines() if line.startswith("| 2.21.5")][0]
    assert "failed: exit 250: cannot import name 'x' from 'ansible.vars.clean' |" in row


def test_several_runs_share_one_table_and_the_section_is_replaced_in_place(tmp_path):
    section = controller_tasks.render_many([measured(), measured("2.21.5")])
    assert section.startswith(controller_tasks.BEGIN) and section.endswith(controller_tasks.END)
    assert [line[:9] for line in section.splitlines() if line.startswith("| 2.")] == ["| 2.19.14", "| 2.21.5 "]
    results = tmp_path / "RESULTS.md"
    results.write_text("# title\n\n%s\nold\n%s\n\n<!-- scale:begin -->\nscale\n<!-- scale:end -->\n" % (controller_tasks.BEGIN, controller_tasks.END))
    controller_tasks.write_section(section, str(results))
    text = results.read_text()
    assert text.count(controller_tasks.BEGIN) == 1 and "\nold\n" not in text
    assert text.index(controller_tasks.END) < text.index("<!-- scale:begin -->")
