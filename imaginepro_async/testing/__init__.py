"""A local ImaginePro for tests and benchmarks: ``async with Simulator() as sim: ...``.

The simulator serves the API described in ``shared/imaginepro-api.md`` over real HTTP on
127.0.0.1, with a scaled clock, rate limits, webhooks, fault injection and introspection. It is
written independently of the client (of :mod:`imaginepro_async` outside this package it imports
only the price table, ``_costs.py``; the pytest plugin alone builds a client, for its fixture), so
a shared mistake cannot pass both sides. Every assumption it makes beyond ImaginePro's
documentation is a named constant in ``_contract.py``.

Its modules, bottom up (none imports a module above it): ``_contract``, ``_clock``, ``_png``,
``_ratelimit``, ``_faults``, ``_http``, ``_cors``; ``_engine`` (accounts, queues, timed events);
``_midjourney`` (prompt parameters, image sizes, buttons offered and what a press makes),
``_messages``, ``_request_checks``, ``_introspection``; ``_settings``, ``_webhooks``, ``_admin``;
``_handler_context``, then the ``_handlers_*`` modules; ``_api_server``; ``_simulator``; on top
``pytest_plugin`` and ``__main__``.

From a shell: ``imaginepro-async simulate --port 8080``. In pytest: the ``imaginepro_simulator``
and ``imaginepro_client`` fixtures of :mod:`imaginepro_async.testing.pytest_plugin`.
"""

from ._engine import DurationFn, fixed_duration, uniform_duration
from ._faults import Endpoint, FaultKind, FaultRule, Faults
from ._introspection import BodyCount, JobTimeline, RequestRecord, Stats, WebhookAttempt
from ._png import make_mask, make_png
from ._ratelimit import RateLimiter, SimulatedRateLimit
from ._simulator import Simulator
from ._webhooks import WebhookFaults

__all__ = [
    "BodyCount",
    "DurationFn",
    "Endpoint",
    "FaultKind",
    "FaultRule",
    "Faults",
    "JobTimeline",
    "RateLimiter",
    "RequestRecord",
    "SimulatedRateLimit",
    "Simulator",
    "Stats",
    "WebhookAttempt",
    "WebhookFaults",
    "fixed_duration",
    "make_mask",
    "make_png",
    "uniform_duration",
]
