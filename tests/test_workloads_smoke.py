"""A tiny run of ``benchmarks/workloads.py`` so the benchmark does not rot (no timings asserted)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import workloads


def test_a_tiny_workload_runs_end_to_end(tmp_path: Path) -> None:
    """Three quick jobs through the working tree: every job seen ended, JSON and chart written."""
    argv = ["creates", "--jobs", "3", "--versions", "after", "--after", "tree", "--out"]
    assert workloads.main([*argv, str(tmp_path)]) == 0
    data = json.loads((tmp_path / "workloads_creates.json").read_text())
    (run,) = data["runs"]
    assert run["done"] == 3 and run["lost"] == 0 and run["rate_limited"] == 0
    assert (tmp_path / "workloads_creates.png").stat().st_size > 0


def test_the_fifo_reference_fills_every_slot() -> None:
    """The reference schedule runs jobs first in, first out on C slots, one creation per 3 s."""
    jobs = [{"started": 0.0, "finished": 10.0, "error": None} for _ in range(4)]
    # Two slots: jobs at 0 and 3 run at once; the third starts at 10, the fourth at 13.
    assert workloads.fifo_reference(jobs, 2, 100.0) == 100.0 + 23.0
