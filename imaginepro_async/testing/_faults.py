"""Fault injection: seeded, per endpoint, off by default."""

from __future__ import annotations

import enum
import random

import attrs


class Endpoint(enum.StrEnum):
    """The simulator's endpoints, as named by fault rules, the request log and the statistics."""

    IMAGINE = "imagine"
    BUTTON = "button"
    DESCRIBE = "describe"
    FETCH = "fetch"  # both message-fetch paths
    ACCOUNT_INFO = "account_info"
    IMAGES = "images"
    PROMPT_CHECK = "prompt_check"
    BLEND = "blend"  # both paths
    FACESWAP = "faceswap"  # both paths
    BOOST_IMAGINE = "boost_imagine"
    BOOST_BUTTON = "boost_button"
    FLUX_IMAGINE = "flux_imagine"
    FLUX_UPSCALE = "flux_upscale"
    REMOVE_BG = "remove_bg"
    GEMINI_IMAGINE = "gemini_imagine"
    UNIVERSAL_IMAGINE = "universal_imagine"
    VIDEO_GENERATE = "video_generate"
    VIDEO_EXTEND = "video_extend"
    VIDEO_FETCH = "video_fetch"
    COMMANDS = "commands"  # both paths
    DISCORD_TOKEN = "discord_token"  # GET and PUT
    DISCORD_TOKENS = "discord_tokens"
    MESSAGE_TRACE = "message_trace"
    CDN = "cdn"
    UNKNOWN = "unknown"  # a path the API does not have


class FaultKind(enum.StrEnum):
    """What an injected fault does.

    - ``HTTP_500``/``HTTP_502``/``HTTP_503``: answered at once with that status and a NestJS body;
      nothing is processed (no job, no charge, no rate-limit budget used).
    - ``SLOW``: the answer is held back ``delay`` simulated seconds, then the request is processed.
    - ``MALFORMED_JSON``: the request is processed, then answered 200 with a truncated JSON body.
    - ``DROP_BEFORE``: the connection is closed before anything is processed.
    - ``DROP_AFTER``: the request is processed (a job is created and charged), then the connection
      is closed without an answer: the client sees a disconnect.

    Note: aiohttp's client silently retries an idempotent request (GET) once when the connection
    drops, so dropping a GET once is invisible to an aiohttp caller; use ``times=2``.
    """

    HTTP_500 = "http_500"
    HTTP_502 = "http_502"
    HTTP_503 = "http_503"
    SLOW = "slow"
    MALFORMED_JSON = "malformed_json"
    DROP_BEFORE = "drop_before"
    DROP_AFTER = "drop_after"

    @property
    def status(self) -> int | None:
        """The HTTP status of an error fault, None for the others."""
        return {"http_500": 500, "http_502": 502, "http_503": 503}.get(self.value)


@attrs.define(eq=False)
class FaultRule:
    """One fault rule, as returned by :meth:`Faults.add`; ``fired`` counts the requests it hit."""

    kind: FaultKind
    endpoint: Endpoint | None
    probability: float | None
    remaining: int | None
    delay: float
    fired: int = 0

    def to_json(self) -> dict[str, object]:
        """The rule as JSON-ready data (for the admin routes)."""
        return {
            "kind": self.kind.value,
            "endpoint": None if self.endpoint is None else self.endpoint.value,
            "probability": self.probability,
            "remaining": self.remaining,
            "delay": self.delay,
            "fired": self.fired,
        }


class Faults:
    """The fault rules of one simulator (``sim.faults``).

    Rules are tried in the order they were added; the first that fires decides the request's fault
    (at most one per request). Probabilities are drawn from a generator seeded by the simulator's
    seed, separate from the one that draws job durations.
    """

    def __init__(self, seed: int | None) -> None:
        self._rules: list[FaultRule] = []
        self._rng = random.Random(seed)

    def add(
        self,
        *,
        kind: FaultKind | str,
        endpoint: Endpoint | str | None = None,
        probability: float | None = None,
        times: int | None = None,
        delay: float = 30.0,
    ) -> FaultRule:
        """Add a rule and return it.

        Args:
            kind: What happens (a :class:`FaultKind` or its value, e.g. ``"drop_after"``).
            endpoint: Which endpoint it hits (an :class:`Endpoint` or its value); None: every
                endpoint, including the CDN.
            probability: Fire on each matching request with this probability (0..1), forever.
            times: Fire on the next ``times`` matching requests, then retire. Give ``probability``
                or ``times``; with neither, ``times=1``.
            delay: For ``slow``: how long to hold the answer, in simulated seconds.

        Raises:
            ValueError: An unknown kind or endpoint, both ``probability`` and ``times``, or a value
                out of range.
        """
        fault_kind = FaultKind(kind)
        where = None if endpoint is None else Endpoint(endpoint)
        if probability is not None and times is not None:
            raise ValueError("give either probability or times, not both")
        if probability is None and times is None:
            times = 1
        if probability is not None and not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be between 0 and 1, got {probability!r}")
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1, got {times!r}")
        if delay < 0:
            raise ValueError(f"delay must not be negative, got {delay!r}")
        rule = FaultRule(fault_kind, where, probability, times, float(delay))
        self._rules.append(rule)
        return rule

    def remove(self, rule: FaultRule) -> None:
        """Remove one rule (no error if it already retired)."""
        if rule in self._rules:
            self._rules.remove(rule)

    def clear(self) -> None:
        """Remove every rule."""
        self._rules.clear()

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        """The active rules, in order."""
        return tuple(self._rules)

    def draw(self, endpoint: Endpoint) -> FaultRule | None:
        """The rule that fires for this request, if any (retiring exhausted ``times`` rules)."""
        if not self._rules:
            return None
        for rule in self._rules:
            if rule.endpoint is not None and rule.endpoint is not endpoint:
                continue
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining == 0:
                    self._rules.remove(rule)
            elif rule.probability is None or self._rng.random() >= rule.probability:
                continue
            rule.fired += 1
            return rule
        return None
