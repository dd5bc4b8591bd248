"""Every ImaginePro endpoint, declared once: the one table of the wire.

A row says how to reach an endpoint (method, path template), which request budget it spends
(``"create"``: 1 per 3 s on general endpoints; ``"poll"``: 10 per second on progress), whether it
creates a paid job (such a request is never resent once it may have been processed) and which models
its request and answer are. The client's methods, the CLI and the batch call through these rows; no
other module of the client spells a path (the simulator, the other side of the wire, keeps its own).

Adding an endpoint is a row here, a price in ``_costs.py`` when it creates a job, and a thin typed
method on the client. Rows with ``request=None`` have no client method yet; their bodies are plain
mappings until their models exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, Literal
from urllib.parse import quote

import attrs

from ._models import (
    AccountInfo,
    ButtonRequest,
    CreatedJob,
    HistoryPage,
    ImagineRequest,
    Message,
    PromptCheck,
    PromptCheckRequest,
)

__all__ = [
    "ACCOUNT_INFO",
    "BUTTON",
    "ENDPOINTS",
    "HISTORY",
    "IMAGINE",
    "MESSAGE",
    "PROMPT_CHECK",
    "Endpoint",
]

BudgetKind = Literal["create", "poll"]


@attrs.frozen
class Endpoint:
    """One endpoint of the API.

    Attributes:
        name: the endpoint's name (the key of its price in ``_costs.CREDITS``).
        method: ``GET`` or ``POST``.
        path: the path, with ``{name}`` placeholders for path parameters.
        budget: which request budget it spends: ``"create"`` or ``"poll"``.
        creates_job: True when it creates a paid job: resent only when it cannot have been processed.
        request: the model of its JSON body (None: no body, or no model yet).
        answer: the model its JSON answer is structured into (None: no model yet).
    """

    name: str
    method: Literal["GET", "POST"]
    path: str
    budget: BudgetKind
    creates_job: bool = False
    request: type[Any] | None = None
    answer: Any = None

    def path_for(self, **params: str) -> str:
        """The path with each ``{name}`` filled in (escaped: an id can never add a path segment)."""
        return self.path.format_map({k: quote(v, safe="") for k, v in params.items()})


def _job(name: str, path: str, request: type[Any] | None = None) -> Endpoint:
    """A job-creating POST, answered with the creation answer."""
    return Endpoint(name, "POST", path, "create", True, request, CreatedJob)


IMAGINE: Final = _job("imagine", "/api/v1/nova/imagine", ImagineRequest)
BUTTON: Final = _job("button", "/api/v1/nova/button", ButtonRequest)
MESSAGE: Final = Endpoint(
    "message", "GET", "/api/v1/message/fetch/{message_id}", "poll", False, None, Message
)
ACCOUNT_INFO: Final = Endpoint(
    "account_info", "GET", "/api/v1/subscription/account-info", "create", False, None, AccountInfo
)
HISTORY: Final = Endpoint(
    "history", "GET", "/api/v1/nova/images", "create", False, None, HistoryPage
)
# Checking a prompt creates nothing and costs nothing: it is retried like a read.
PROMPT_CHECK: Final = Endpoint("prompt_check", "POST", "/api/v1/nova/prompt-check", "create", False, PromptCheckRequest, PromptCheck)  # fmt: skip

#: Every endpoint by name: those above, and those that have no client method yet.
ENDPOINTS: Final[Mapping[str, Endpoint]] = MappingProxyType(
    {
        row.name: row
        for row in (
            IMAGINE,
            BUTTON,
            MESSAGE,
            ACCOUNT_INFO,
            HISTORY,
            PROMPT_CHECK,
            _job("describe", "/api/v1/nova/describe"),
            _job("blend", "/api/v1/nova/blend"),  # assumed: only the legacy path is documented
            _job("faceswap", "/api/v1/nova/faceswap"),
            _job("boost_imagine", "/api/v1/nova/boost/imagine"),
            _job("boost_button", "/api/v1/nova/boost/button"),
            _job("flux_imagine", "/api/v1/flux/imagine"),
            _job("flux_upscale", "/api/v1/flux/upscale"),
            _job("remove_bg", "/api/v1/tools/remove-bg"),
            _job("gemini_imagine", "/api/v1/gemini/imagine"),
            _job("universal_imagine", "/api/v1/universal/imagine"),
            _job("video_generate", "/api/v1/video/mj/generate"),
            _job("video_extend", "/api/v1/video/mj/extend"),
            _job("commands", "/api/v1/nova/commands"),
            Endpoint("video_fetch", "GET", "/api/v1/video/mj/fetch/{message_id}", "poll"),
        )
    }
)
