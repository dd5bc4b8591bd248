"""The simulator's clock: simulated seconds since start, running ``scale`` times faster than real."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import format_datetime


class SimClock:
    """Simulated time: ``(monotonic elapsed) * scale + jumps``, plus a simulated wall clock."""

    __slots__ = ("_offset", "_start_monotonic", "_start_wall", "scale")

    def __init__(self, scale: float) -> None:
        if not scale > 0:
            raise ValueError(f"time_scale must be a positive number, got {scale!r}")
        self.scale = float(scale)
        self._start_monotonic = time.monotonic()
        self._start_wall = time.time()
        self._offset = 0.0

    def restart(self) -> None:
        """Put the clock back to zero (called when the simulator starts serving)."""
        self._start_monotonic = time.monotonic()
        self._start_wall = time.time()
        self._offset = 0.0

    def now(self) -> float:
        """Simulated seconds since start."""
        return (time.monotonic() - self._start_monotonic) * self.scale + self._offset

    def jump(self, seconds: float) -> None:
        """Move simulated time forward at once."""
        if seconds < 0:
            raise ValueError(f"time only moves forward; cannot advance by {seconds!r} seconds")
        self._offset += seconds

    def real(self, seconds: float) -> float:
        """Real seconds that ``seconds`` of simulated time take."""
        return max(seconds, 0.0) / self.scale

    def iso(self, at: float) -> str:
        """The simulated wall time ``at`` seconds after start, ISO-8601 with ms and ``Z``."""
        stamp = datetime.fromtimestamp(self._start_wall + at, tz=UTC)
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"

    def http_date(self, at: float) -> str:
        """The simulated wall time ``at`` seconds after start, as an HTTP ``Date`` header."""
        return format_datetime(datetime.fromtimestamp(self._start_wall + at, tz=UTC), usegmt=True)
