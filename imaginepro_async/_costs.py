"""What each job-creating endpoint costs, in credits: the one table of prices.

Only imagine (10, fast mode) and button actions (5) have published prices (third-party docs); every
other price is **assumed** and marked so. The client uses this table to tell users what a job cost
(an estimate: the server does not report it) and the simulator charges by it, so the two cannot
drift apart. Keys are the endpoint names of the client's endpoint table.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["CREDITS", "CREDITS_CANCEL", "CREDITS_SOURCE", "cost_of"]

#: Credits per job, by endpoint name.
CREDITS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "imagine": 10,  # third-party docs (fast mode)
        "button": 5,  # third-party docs: every button action
        "describe": 5,  # assumed: priced like a button action
        "blend": 10,  # assumed: priced like imagine
        "faceswap": 10,  # assumed
        "boost_imagine": 10,  # assumed: as imagine
        "boost_button": 5,  # assumed: as a button
        "flux_imagine": 10,  # assumed (per request, whatever n)
        "flux_upscale": 5,  # assumed
        "remove_bg": 5,  # assumed
        "gemini_imagine": 10,  # assumed
        "universal_imagine": 10,  # assumed
        "video_generate": 40,  # assumed
        "video_extend": 40,  # assumed
        "commands": 0,  # assumed: a Midjourney setting command creates no image
    }
)

#: Pressing ``Cancel Job`` costs nothing (assumed).
CREDITS_CANCEL: Final = 0

#: Where each price comes from: "doc" (published) or "assumed".
CREDITS_SOURCE: Final[Mapping[str, str]] = MappingProxyType(
    {name: ("doc" if name in ("imagine", "button") else "assumed") for name in CREDITS}
)


def cost_of(endpoint: str, *, button: str | None = None) -> int:
    """The credits one job of ``endpoint`` costs (``Cancel Job`` is free)."""
    if button == "Cancel Job":
        return CREDITS_CANCEL
    return CREDITS[endpoint]
