"""Shared by the benchmarks: the simulator in a subprocess, its admin routes, clocks, statistics."""

from __future__ import annotations

import json
import math
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parent.parent

_URL_LINE = re.compile(r"listening on (http://\S+)")
_KEY_LINE = re.compile(r"API key: (sk-\S+)")


class SimulatorProcess:
    """``python -m imaginepro_async.testing`` in a child process, stopped (SIGTERM) on exit.

    Args:
        time_scale: simulated seconds per real second.
        seed: the simulator's seed (same seed, same job ids and durations in creation order).
        concurrency: the account's concurrent-job limit.
        duration_range: job durations, uniform, in simulated seconds.
        rate_limits: enforce the documented rate limits (1 per 3 s general, 10 per s progress).
        startup_timeout: real seconds to wait for the simulator to listen.
    """

    def __init__(
        self,
        *,
        time_scale: float,
        seed: int,
        concurrency: int,
        duration_range: tuple[float, float] = (30.0, 90.0),
        rate_limits: bool = True,
        startup_timeout: float = 20.0,
    ) -> None:
        self.args = [
            sys.executable,
            "-m",
            "imaginepro_async.testing",
            "--port",
            "0",
            "--time-scale",
            repr(time_scale),
            "--seed",
            str(seed),
            "--concurrency",
            str(concurrency),
            "--duration-range",
            repr(duration_range[0]),
            repr(duration_range[1]),
        ]
        if not rate_limits:
            self.args.append("--no-rate-limits")
        self.time_scale = time_scale
        self.startup_timeout = startup_timeout
        self.url = ""
        self.api_key = ""
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> Self:
        self._proc = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=REPO,
        )
        assert self._proc.stdout is not None
        deadline = time.monotonic() + self.startup_timeout
        while not (self.url and self.api_key):
            line = self._proc.stdout.readline()
            if not line or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"the simulator did not start: {' '.join(self.args)}")
            if found := _URL_LINE.search(line):
                self.url = found.group(1)
            if found := _KEY_LINE.search(line):
                self.api_key = found.group(1)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    @property
    def pid(self) -> int:
        """The simulator's process id."""
        assert self._proc is not None
        return self._proc.pid

    # -- plain HTTP (blocking; loopback only) --------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        auth: bool = False,
        timeout: float = 30.0,
    ) -> Any:
        """One request to the simulator; returns the decoded JSON answer (raises on non-2xx)."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.loads(answer.read())

    def admin(self, method: str, path: str, body: object = None) -> Any:
        """One call to an admin route (``/_simulator`` + ``path``)."""
        return self.call(method, "/_simulator" + path, body)

    def now(self) -> float:
        """The simulator's clock, in simulated seconds."""
        return float(self.admin("GET", "/time")["now"])

    def make_upscaled_parent(self) -> str:
        """imagine, then U1, jumping the simulated clock over both jobs; the upscale's messageId.

        Uses no real time: ``/_simulator/time/advance`` moves the clock past each job's end (and
        past the 3 s window of the general rate limit).
        """
        created = self.call("POST", "/api/v1/nova/imagine", {"prompt": "a harbour"}, auth=True)
        grid = created["messageId"]
        self.admin("POST", "/time/advance", {"seconds": 100.0})
        message = self.call("GET", f"/api/v1/message/fetch/{grid}", auth=True)
        assert message["status"] == "DONE", message
        created = self.call(
            "POST", "/api/v1/nova/button", {"messageId": grid, "button": "U1"}, auth=True
        )
        upscaled: str = created["messageId"]
        self.admin("POST", "/time/advance", {"seconds": 100.0})
        message = self.call("GET", f"/api/v1/message/fetch/{upscaled}", auth=True)
        assert message["status"] == "DONE", message
        assert "Vary (Region)" in message["buttons"], message
        # Let the progress window pass too, then forget the setup's requests.
        self.admin("POST", "/time/advance", {"seconds": 5.0})
        self.admin("POST", "/reset")
        return upscaled


class SimClock:
    """Maps this process's ``time.monotonic()`` to the simulator's clock (simulated seconds).

    Both processes read the same monotonic clock; the simulator's is ``elapsed * scale + jumps``. The
    offset is taken from the fastest of a few ``GET /_simulator/time`` round trips, so the mapping
    is off by at most half that round trip (times the scale).
    """

    def __init__(self, monotonic_origin: float, sim_origin: float, scale: float, rtt: float):
        self.monotonic_origin = monotonic_origin
        self.sim_origin = sim_origin
        self.scale = scale
        self.rtt = rtt

    @classmethod
    def sync(cls, url: str, scale: float, tries: int = 7) -> SimClock:
        """Measure the offset against the simulator at ``url``."""
        best: tuple[float, float, float] | None = None
        for _ in range(tries):
            before = time.monotonic()
            with urllib.request.urlopen(url + "/_simulator/time", timeout=10) as answer:
                now = float(json.loads(answer.read())["now"])
            after = time.monotonic()
            if best is None or after - before < best[0]:
                best = (after - before, (before + after) / 2, now)
        assert best is not None
        rtt, mono, sim = best
        return cls(mono, sim, scale, rtt)

    def sim(self, monotonic: float | None = None) -> float:
        """Simulated time at ``monotonic`` (default: now)."""
        at = time.monotonic() if monotonic is None else monotonic
        return self.sim_origin + (at - self.monotonic_origin) * self.scale

    @property
    def error(self) -> float:
        """The largest mapping error, in simulated seconds."""
        return self.rtt / 2 * self.scale


def cpu_seconds() -> float:
    """User + system CPU of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far (Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(kib * (1 if sys.platform == "darwin" else 1024))


def rss_bytes() -> int:
    """This process's current resident set size."""
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100), linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    """The median; NaN for no values."""
    return percentile(values, 50.0)


def code_version() -> str:
    """The repository's commit, with ``+dirty`` if the package has uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "imaginepro_async"],
            cwd=REPO,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (commit or "unknown") + ("+dirty" if dirty else "")


def machine() -> dict[str, Any]:
    """Where and when this ran."""
    model = ""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": os.getloadavg(),
        "code": code_version(),
    }


def write_json(name: str, data: object, directory: Path = RESULTS) -> Path:
    """Write ``data`` to ``directory/name`` (created if needed); return the path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    return path


def table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    """A plain-text table (also valid Markdown)."""
    cells = [[str(h) for h in header]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
             for row in cells]  # fmt: skip
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
