"""benchmarks/webhooks.py on a tiny workload, so that it does not rot (no timings asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import webhooks

from .conftest import free_port

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", webhooks.MODES)
async def test_every_mode_finishes_every_job(mode: str, tmp_path: Path) -> None:
    """Five jobs end in each mode; the table and the chart are written."""
    workload = webhooks.Workload(jobs=5, concurrency=5, time_scale=600.0, seed=3)
    result = await webhooks.run_mode(workload, mode, free_port())
    assert result["finished"] == 5 and len(result["lags"]) == 5
    assert mode in webhooks.render([result])
    assert webhooks.draw_chart([result], tmp_path).stat().st_size > 0
