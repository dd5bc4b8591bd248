"""A typing test of the hooks and the OpenTelemetry integration: mypy checks it, never run."""

from __future__ import annotations

from typing import assert_type

from imaginepro_async import (
    ClientHooks,
    ImagineProClient,
    JobEnded,
    JobPolled,
    RateLimited,
    ResponseReceived,
    RetryScheduled,
)
from imaginepro_async.telemetry import METRICS, OpenTelemetryHooks


class Watch(ClientHooks):
    def on_job_ended(self, event: JobEnded) -> None:
        assert_type(event.status, str | None)
        assert_type(event.detection_lag, float | None)
        assert_type(event.credits, int | None)
        assert_type(event.polls, int)

    def on_job_polled(self, event: JobPolled) -> None:
        assert_type(event.progress, int | None)

    def on_rate_limited(self, event: RateLimited) -> None:
        assert_type(event.retry_after, float | None)

    def on_retry(self, event: RetryScheduled) -> None:
        assert_type(event.wait, float)

    def on_response(self, event: ResponseReceived) -> None:
        assert_type(event.status, int | None)


ImagineProClient("sk-x", hooks=Watch())
ImagineProClient("sk-x", hooks=[Watch(), OpenTelemetryHooks()])
ImagineProClient("sk-x", hooks=(Watch(),))
ImagineProClient("sk-x", hooks=None)
ImagineProClient("sk-x", hooks=object())  # type: ignore[arg-type]
assert_type(METRICS["imaginepro.job.detection_lag"], tuple[str, str, str])
