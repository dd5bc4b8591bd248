"""Validation of what users pass in, shared by the client, the batch and the CLI.

Every check runs before anything is sent, and every refusal is an ``InvalidInputError`` whose message
names the value and says what to do.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from typing import Final

import yarl

from ._errors import InvalidInputError

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_JOB_TIMEOUT",
    "JOB_TIMEOUT_RANGE",
    "check_base_url",
    "check_choice",
    "check_count",
    "check_message_id",
    "check_options",
    "check_prompt",
    "check_time_scale_target",
    "check_url",
    "check_urls",
    "env_time_scale",
    "short",
]

DEFAULT_BASE_URL: Final = "https://api.imaginepro.ai"
_MESSAGE_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,127}")
#: The server-side job timeout allowed by the API, in seconds (doc).
JOB_TIMEOUT_RANGE: Final = (10, 900)
#: The server-side job timeout when none is given, in seconds (doc).
DEFAULT_JOB_TIMEOUT: Final = 900
_MAX_PROMPT: Final = 8192


def short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_message_id(value: object, what: str = "message_id") -> str:
    if not isinstance(value, str):
        raise InvalidInputError(
            f"{what} must be a messageId string (or a Message), got {type(value).__name__} "
            f"{short(value)}"
        )
    if not _MESSAGE_ID.fullmatch(value):
        raise InvalidInputError(
            f"{what} {short(value)} is not a messageId: expected letters, digits, '-' or '_' "
            "(like 'd15c1541-229a-442b-9873-d3494dede12a'), as returned when a job was created"
        )
    return value


def check_prompt(value: object, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"prompt must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InvalidInputError("prompt is empty: describe the image you want")
    if len(value) > _MAX_PROMPT:
        raise InvalidInputError(
            f"prompt is {len(value)} characters long; keep it under {_MAX_PROMPT}"
        )
    return value


def check_options(
    *,
    ref: object,
    webhook_override: object,
    job_timeout: object,
    disable_cdn: object = None,
    timeout_name: str = "job_timeout",
) -> None:
    """The options every job-creating call shares (nothing is sent when one is wrong).

    ``timeout_name`` names the server-side job timeout in messages (``timeout`` in JSONL input).
    """
    if ref is not None and not isinstance(ref, str):
        raise InvalidInputError(f"ref must be a string, got {type(ref).__name__}")
    if webhook_override is not None:
        url = yarl.URL(webhook_override) if isinstance(webhook_override, str) else None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            raise InvalidInputError(
                f"webhook_override must be an http(s) URL, got {short(webhook_override)}"
            )
    if job_timeout is not None:
        low, high = JOB_TIMEOUT_RANGE
        if (
            isinstance(job_timeout, bool)
            or not isinstance(job_timeout, int)
            or not low <= job_timeout <= high
        ):
            raise InvalidInputError(
                f"{timeout_name} is the server-side job timeout in whole seconds, {low} to {high}; "
                f"got {short(job_timeout)}"
            )
    if disable_cdn is not None and not isinstance(disable_cdn, bool):
        raise InvalidInputError(f"disable_cdn must be True or False, got {short(disable_cdn)}")


def check_url(value: object, what: str) -> str:
    """An http(s) URL with a host (a public image URL, for the API to download)."""
    url = yarl.URL(value) if isinstance(value, str) else None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise InvalidInputError(
            f"{what} must be an http(s) URL of an image the server can download, got {short(value)}"
        )
    return value  # type: ignore[return-value]  # a str: checked above


def check_urls(values: object, what: str, low: int, high: int) -> tuple[str, ...]:
    """``low`` to ``high`` http(s) URLs, as a list or a tuple (not one string)."""
    if isinstance(values, str) or not isinstance(values, list | tuple):
        raise InvalidInputError(
            f"{what} must be a list of {low} to {high} image URLs, got {short(values)}"
        )
    if not low <= len(values) <= high:
        raise InvalidInputError(f"{what} must hold {low} to {high} image URLs, got {len(values)}")
    return tuple(check_url(value, f"{what}[{n}]") for n, value in enumerate(values))


def check_count(
    value: object, what: str, low: int, high: int, *, multiple_of: int = 1, unit: str = ""
) -> int:
    """A whole number from ``low`` to ``high`` (and a multiple of ``multiple_of``)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(
            f"{what} must be a whole number{unit} from {low} to {high}, got {short(value)}"
        )
    if value % multiple_of:
        raise InvalidInputError(f"{what} must be a multiple of {multiple_of}, got {value}")
    return value


def check_choice(value: object, what: str, options: tuple[str, ...]) -> str:
    """One of ``options``, exactly."""
    if not isinstance(value, str) or value not in options:
        raise InvalidInputError(
            f"{what} must be one of {', '.join(map(repr, options))}; got {short(value)}"
        )
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(value: str) -> yarl.URL:
    url = yarl.URL(value)
    if not url.is_absolute() or url.scheme not in ("http", "https") or not url.host:
        raise InvalidInputError(
            f"base_url must be an absolute http(s) URL like {DEFAULT_BASE_URL!r}, got {value!r}"
        )
    if url.scheme == "http" and not _is_loopback(url.host):
        raise InvalidInputError(
            f"base_url {value!r} is plain http: the API key would travel unencrypted. Use https "
            "(plain http is allowed only on a loopback address, such as the local simulator)"
        )
    if url.user or url.password or url.query or url.fragment:
        raise InvalidInputError(
            f"base_url must not carry credentials, a query or a fragment, got {url.with_user(None)}"
        )
    return url.with_path(url.path.rstrip("/") + "/")


def env_time_scale() -> float:
    """The time scale from ``IMAGINEPRO_TIME_SCALE`` (a simulator's speed-up), or 1 if unset."""
    text = os.environ.get("IMAGINEPRO_TIME_SCALE", "").strip()
    if not text:
        return 1.0
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise InvalidInputError(
            f"IMAGINEPRO_TIME_SCALE must be a number > 0 (a simulator's speed-up), got {text!r}; "
            "unset it against the real service"
        )
    return value


def check_time_scale_target(scale: float, base_url: yarl.URL, *, from_env: bool) -> None:
    """Refuse a time scale other than 1 unless ``base_url`` is on loopback (a local simulator).

    A scale left in a shell from testing would otherwise shrink every wait against the real
    service (its create window of 3 s to 0.06 s at 50).
    """
    if scale == 1 or (base_url.host is not None and _is_loopback(base_url.host)):
        return
    if from_env:
        given = f"IMAGINEPRO_TIME_SCALE={scale:g} (from the environment)"
        fix = "unset IMAGINEPRO_TIME_SCALE against the real service"
    else:
        given = f"time_scale={scale:g}"
        fix = "leave time_scale out (or pass 1) against the real service"
    raise InvalidInputError(
        f"{given} is meant for a local simulator, but base_url {str(base_url)!r} is not on "
        f"loopback: {fix}, or point base_url (IMAGINEPRO_BASE_URL) at the simulator"
    )


def check_api_key(value: object) -> str:
    """The API key given, else ``IMAGINEPRO_API_KEY``, stripped (never echoed in a message)."""
    key = value if value is not None else os.environ.get("IMAGINEPRO_API_KEY")
    if not key or not isinstance(key, str) or not key.strip():
        raise InvalidInputError(
            "no API key: pass api_key='sk-...' or set the IMAGINEPRO_API_KEY environment variable"
        )
    if any(ch.isspace() for ch in key.strip()) or not key.isprintable():
        raise InvalidInputError("the API key contains spaces or control characters; recopy it")
    return key.strip()


def check_positive(
    value: object, what: str, unit: str = "a number", *, finite: bool = True
) -> float:
    """A number > 0 (not a bool; finite unless told), as a float."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not value > 0
        or (finite and not math.isfinite(value))
    ):
        raise InvalidInputError(f"{what} must be {unit} > 0, got {short(value)}")
    return float(value)
