"""Unit tests of benchmarks/scale.py's arithmetic: slicing, the linear model, the projection, the RESULTS.md section."""

import os
import sys

import pytest

BENCHMARKS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "benchmarks"))
sys.path.insert(0, BENCHMARKS)

scale = pytest.importorskip("scale")
bench = pytest.importorskip("bench")


def test_hosts_are_dealt_round_robin_as_awx_slices_them():
    hosts = ["host%d" % n for n in range(1, 11)]
    slices = scale.deal(hosts, 4)
    assert slices == [["host1", "host5", "host9"], ["host2", "host6", "host10"], ["host3", "host7"], ["host4", "host8"]]
    assert sorted(sum(slices, [])) == sorted(hosts)


def test_only_the_part_every_host_ran_grows_with_hosts():
    run = {"seconds": 100.0, "host_part": 60.0}
    assert scale.linear(run, 1000, 1000) == 100.0
    assert scale.linear(run, 1000, 10000) == pytest.approx(40.0 + 600.0)
    assert scale.linear({"seconds": 10.0, "host_part": None}, 10, 20) == 20.0  # no timing: all of it grows


def figures():
    def node(name, sliced, wall, seconds=45.0, host_part=35.0):
        jobs = [{"seconds": seconds, "host_part": host_part, "hosts_in_slice": 250} for _job in range(4 if sliced else 1)]
        return {"name": name, "sliced": sliced, "wall": wall, "jobs": jobs, "ok": True}

    return {"hosts": 1000, "forks": 50, "slices": 4,
            "one_job": {"seconds": 300.0, "host_part": 250.0},
            "workflow": {"nodes": [node("prepare", False, 20.0, 20.0, 0.0), node("distribute", True, 50.0), node("cutover", False, 5.0, 5.0, 0.0),
                                   node("settle", True, 30.0, 25.0, 15.0)]}}


def test_projection_divides_the_sliced_jobs_by_nodes_and_keeps_the_once_per_run_jobs_constant():
    projected = scale.projection(figures())
    rows = {row["nodes"]: row for row in projected["rows"]}
    by_name = {item["name"]: item for item in projected["sliced"]}
    assert by_name["distribute"]["fixed"] == 10.0 and by_name["distribute"]["per_host"] == pytest.approx(0.04)
    assert by_name["settle"]["fixed"] == 10.0 and by_name["settle"]["per_host"] == pytest.approx(0.02)
    assert all(row["once"] == pytest.approx(25.0) for row in rows.values())  # touches no host: the same at any size
    assert rows[1]["sliced"] == pytest.approx(20.0 + 600.0) and rows[25]["sliced"] == pytest.approx(20.0 + 24.0)
    assert [row["total"] for row in projected["rows"]] == sorted((row["total"] for row in projected["rows"]), reverse=True)
    assert projected["one_job"] == pytest.approx(50.0 + 2500.0)


def test_the_section_is_replaced_in_place_and_bench_keeps_it(tmp_path, monkeypatch):
    results = tmp_path / "RESULTS.md"
    monkeypatch.setattr(bench, "RESULTS", str(results))
    results.write_text("# figures\n")
    scale.write_section(scale.BEGIN + "\nfirst\n" + scale.END + "\n")
    scale.write_section(scale.BEGIN + "\nsecond\n" + scale.END + "\n")
    assert results.read_text().count(scale.BEGIN) == 1 and "second" in results.read_text() and "first" not in results.read_text()
    bench.write_results("# new figures\n")
    assert results.read_text().startswith("# new figures\n") and "second" in results.read_text()
