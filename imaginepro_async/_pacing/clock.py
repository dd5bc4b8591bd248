"""One clock for the whole client: the only place that knows the time scale.

Every duration the client schedules (budget windows, poll intervals, backoffs, ``Retry-After``, the
server-side job timeout) is in **API seconds**: seconds as the server counts them. Against the real
service one API second is one second; against a simulator running ``scale`` times faster than real
time it is ``1 / scale`` of a second here. Code reads the time with ``clock.now()`` and waits with
``clock.sleep()`` / ``clock.move_on_after()``; nothing else divides by the scale.

The timeouts a user passes for their own waits (``job.wait(timeout=...)``) and ``request_timeout``
are real seconds and do not go through the clock.
"""

from __future__ import annotations

import math

import anyio
import attrs

__all__ = ["Clock"]


def _check_scale(_: object, __: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"time_scale must be a finite number > 0, got {value!r}")
    if not value > 0:
        raise ValueError(f"time_scale must be a finite number > 0, got {value!r}")


@attrs.frozen
class Clock:
    """Time in API seconds (see the module docstring).

    Args:
        scale: how many API seconds pass per real second (1 for the real service).
    """

    scale: float = attrs.field(default=1.0, validator=_check_scale, converter=float)

    def now(self) -> float:
        """The current time in API seconds (monotonic; only differences mean anything)."""
        return anyio.current_time() * self.scale

    def local(self, seconds: float) -> float:
        """``seconds`` API seconds in this process's seconds (for event-loop timers)."""
        return seconds / self.scale

    def api(self, seconds: float) -> float:
        """``seconds`` of this process in API seconds (the inverse of ``local``)."""
        return seconds * self.scale

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` API seconds (a checkpoint even when ``seconds`` ≤ 0)."""
        await anyio.sleep(max(0.0, seconds) / self.scale)

    async def sleep_until(self, when: float) -> None:
        """Wait until ``now()`` reaches ``when``."""
        await self.sleep(when - self.now())

    def move_on_after(self, seconds: float) -> anyio.CancelScope:
        """A cancel scope that ends its block after ``seconds`` API seconds (``inf``: never)."""
        return anyio.move_on_after(max(0.0, seconds) / self.scale)
