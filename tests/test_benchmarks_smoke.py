"""A tiny workload through ``benchmarks/compare.py`` so the benchmark does not rot.

Completeness only: timings are measured by the benchmarks themselves, never asserted here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks import compare

TINY = compare.Workload(jobs=5, concurrency=5, time_scale=300.0, seed=3)


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, Any]]:
    """Each contender run once on the tiny workload, in this process."""
    return {name: compare.run_contender(TINY, name, isolate=False) for name in compare.CONTENDERS}


@pytest.mark.parametrize("contender", compare.CONTENDERS)
def test_every_contender_finishes_every_job(
    results: dict[str, dict[str, Any]], contender: str
) -> None:
    """Each contender sees all five jobs end DONE, with none lost and none submitted twice."""
    result = results[contender]
    assert result["created_on_server"] == TINY.jobs
    assert result["finished"] == TINY.jobs
    assert result["lost"] == 0
    assert result["duplicates"] == 0
    assert len(result["lags"]) == TINY.jobs


def test_summary_table_and_charts_are_written(
    results: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """The summary table names every contender and both PNG charts are drawn."""
    runs = [[results[name] for name in compare.CONTENDERS]]
    text = compare.render_table(compare.summarise(runs))
    assert all(name in text for name in compare.CONTENDERS)
    paths = compare.draw_charts(runs[0], tmp_path)
    assert [p.name for p in paths] == ["compare_lag.png", "compare_timeline.png"]
    assert all(p.stat().st_size > 0 for p in paths)
