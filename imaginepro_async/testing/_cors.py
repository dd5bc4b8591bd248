"""CORS for loopback origins (ours, see ``_contract``): a browser app served from localhost may call
the simulator; any other origin gets no CORS headers."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

from . import _contract as c


def loopback_origin(origin: str | None) -> str | None:
    """``origin`` if it names a loopback host (localhost, 127.x.x.x, [::1]), else None."""
    if not origin:
        return None
    try:
        host = urlsplit(origin).hostname
    except ValueError:
        return None
    if host is None:
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return origin
    try:
        return origin if ipaddress.ip_address(host).is_loopback else None
    except ValueError:
        return None


def answer_headers(origin: str) -> dict[str, str]:
    """What every answer to a loopback origin carries."""
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": "Retry-After, Date",
        "Vary": "Origin",
    }


def preflight_headers(origin: str, request_headers: Mapping[str, str]) -> dict[str, str]:
    """The answer to a preflight from a loopback origin: the methods, and the headers it asked for."""
    asked = request_headers.get("Access-Control-Request-Headers", "")
    return {
        **answer_headers(origin),
        "Access-Control-Allow-Methods": c.CORS_METHODS,
        "Access-Control-Allow-Headers": asked or "Authorization, Content-Type",
        "Access-Control-Max-Age": c.CORS_MAX_AGE,
    }
