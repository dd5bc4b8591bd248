"""The simulator's settings: :class:`AppConfig` (what the request handlers read; the latencies
can change live), checked from the ``Simulator`` keywords, and the job duration per kind."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

import attrs

from . import _contract as c
from ._engine import RESULT_GRID, DurationFn, Job, WordList, uniform_duration
from ._messages import PREVIEW


@attrs.define(kw_only=True)
class AppConfig:
    """The settings the handlers read."""

    image_size: tuple[int, int]
    grid_size: tuple[int, int]
    check_mask_size: bool
    max_body_bytes: int
    costs: Mapping[str, int]
    blocked: WordList
    latency_before: float = c.LATENCY_BEFORE
    latency_after: float = c.LATENCY_AFTER

    def size_of(self, job: Job, name: str) -> tuple[int, int]:
        """The pixel size of the CDN file ``name`` of ``job``."""
        if name == PREVIEW:
            width, height = job.size
            return max(1, width // c.PREVIEW_FACTOR), max(1, height // c.PREVIEW_FACTOR)
        if job.result == RESULT_GRID and name in ("grid.png", "original.png"):
            if job.size == self.image_size:
                return self.grid_size
            # A grid of another shape (``--ar``, a pan): the configured grid's proportions.
            (width, height), (iw, ih), (gw, gh) = job.size, self.image_size, self.grid_size
            return min(c.MAX_SIDE * 2, width * gw // iw), min(c.MAX_SIDE * 2, height * gh // ih)
        return job.size


def app_config(
    *,
    image_size: tuple[int, int],
    grid_size: tuple[int, int] | None,
    check_mask_size: bool,
    max_body_bytes: int,
    prices: dict[str, int],
    blocked_words: Iterable[str],
    latency_before: float,
    latency_after: float,
) -> AppConfig:
    """The handlers' settings from the ``Simulator`` keywords, checked (``ValueError`` names the
    bad one)."""
    width, height = _check_size("image_size", image_size)
    grid = _check_size("grid_size", grid_size or (width * c.GRID_FACTOR, height * c.GRID_FACTOR))
    if max_body_bytes < 1:
        raise ValueError(f"max_body_bytes must be positive, got {max_body_bytes!r}")
    if min(prices.values()) < 0:
        raise ValueError("costs must not be negative")
    if latency_before < 0 or latency_after < 0:
        raise ValueError("latency_before and latency_after must not be negative")
    return AppConfig(
        image_size=(width, height),
        grid_size=grid,
        check_mask_size=check_mask_size,
        max_body_bytes=max_body_bytes,
        costs=MappingProxyType(prices),
        blocked=WordList(blocked_words),
        latency_before=float(latency_before),
        latency_after=float(latency_after),
    )


def _check_size(name: str, size: tuple[int, int]) -> tuple[int, int]:
    """A ``(width, height)`` of 1..8192 pixels each way, as ints."""
    width, height = size
    if not (0 < width <= 8192 and 0 < height <= 8192):
        raise ValueError(f"{name} must be 1..8192 pixels each way, got {size!r}")
    return int(width), int(height)


def non_negative(name: str, seconds: float) -> float:
    """``seconds`` as a float, if it is not negative."""
    if not seconds >= 0:
        raise ValueError(f"{name} must not be negative, got {seconds!r}")
    return float(seconds)


def durations_per_kind(
    duration: DurationFn | None,
    describe: DurationFn | None,
    overrides: Mapping[str, DurationFn] | None,
) -> dict[str, DurationFn]:
    """Duration per job kind: the assumed defaults (unless ``duration`` replaces them), then
    describe's, then the caller's overrides."""
    table: dict[str, DurationFn] = {}
    if duration is None:
        table.update({k: uniform_duration(*r) for k, r in c.KIND_DURATION_RANGES.items()})
    table["describe"] = describe or uniform_duration(*c.DESCRIBE_DURATION_RANGE)
    table.update(overrides or {})
    return table
