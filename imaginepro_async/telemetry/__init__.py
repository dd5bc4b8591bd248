"""OpenTelemetry for imaginepro-async: each job one span, and the client's metrics.

Install the extra (``pip install 'imaginepro-async[otel]'``: ``opentelemetry-api``), configure an
SDK as usual, and pass the hooks to the client::

    from imaginepro_async.telemetry import OpenTelemetryHooks

    async with ImagineProClient(hooks=OpenTelemetryHooks()) as client:
        job = await client.inpaint(parent, mask, prompt="a red door")

Only this module imports ``opentelemetry``; ``import imaginepro_async`` never does, and a client
without these hooks does no telemetry work at all. What is recorded is listed in
``OpenTelemetryHooks``.
"""

from __future__ import annotations

from imaginepro_async._errors import ExtraNotInstalledError

try:
    import opentelemetry.metrics
    import opentelemetry.trace  # noqa: F401
except ModuleNotFoundError as exc:
    raise ExtraNotInstalledError(
        "imaginepro_async.telemetry",
        extra="otel",
        package="opentelemetry-api",
        module="opentelemetry",
    ) from exc

from .otel import METRICS, OpenTelemetryHooks

__all__ = ["METRICS", "OpenTelemetryHooks"]
