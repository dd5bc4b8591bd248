"""A tiny run of ``benchmarks/replicas.py`` so the benchmark does not rot (no timings asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import redis_outage, replicas
from tests.redis._server import RedisServer

pytestmark = pytest.mark.slow

TINY = replicas.Workload(duration=6.0, time_scale=20.0, pollers=2)


def test_both_budgets_run_and_the_table_and_chart_are_written(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Two processes with each budget: the Redis one draws no 429; table and PNG are written."""
    results = [replicas.run_one(TINY, mode, 2, redis_server.url) for mode in replicas.MODES]
    shared = results[1]
    assert shared["mode"] == "redis"
    assert shared["served_429"] == 0
    assert shared["max_creates_in_3s"] <= 1
    assert shared["max_polls_in_1s"] <= 10
    assert shared["counts"].get("create_200", 0) >= 1
    text = replicas.render_table(results)
    assert "429s redis" in text
    chart = replicas.draw_chart(results, tmp_path)
    assert chart.stat().st_size > 0


def test_the_job_workload_runs_and_draws(redis_server: RedisServer, tmp_path: Path) -> None:
    """Two client processes sharing budget and jobs through Redis: every job ends, no 429."""
    tiny = replicas.JobWorkload(jobs=2, time_scale=40.0, duration_low=10.0, duration_high=20.0)
    result = replicas.run_jobs(tiny, "shared", 2, redis_server.url)
    assert result["served_429"] == 0
    assert result["finished"] == 2
    assert result["progress_per_job"] > 0
    assert "makespan ratio" in replicas.render_jobs_table([result])
    assert replicas.draw_chart([], tmp_path, [result]).stat().st_size > 0


def test_the_outage_benchmark_runs_and_nothing_is_lost() -> None:
    """benchmarks/redis_outage.py, tiny (a 1.5 s blackhole and a restart, time scale 30):
    3 client processes lose no job, draw no 429, and every client is still open at the end.

    The jobs (150-180 s) outlast the blackhole (15-60 s after the last child was ready): each
    child submits once it is ready itself, seconds earlier on a busy machine, and with 10-20 s
    jobs they could all end before the blackhole, leaving no poll after it to time."""
    tiny = redis_outage.Outage(time_scale=30.0, jobs=1, warm=15.0, blackhole=45.0, gap=15.0,
                               lease=15.0, leader_lease=15.0, durations=(150.0, 180.0))  # fmt: skip
    (result,) = redis_outage.run(tiny, ("shared",))
    assert result["lost"] == 0
    assert result["served_429"] == 0
    assert result["states_at_end"] == ["open"] * 3
    assert result["recover_poll_after_blackhole"] is not None
    assert "poll back after restart" in redis_outage.render_table([result])
