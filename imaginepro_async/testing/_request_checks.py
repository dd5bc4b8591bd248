"""Request checks: read the JSON body, read its fields collecting every problem (NestJS
ValidationPipe style: one 400 answer listing them all), and read integer query parameters."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import urlsplit

import attrs
from aiohttp import web

from . import _contract as c
from ._http import ApiError


@attrs.frozen
class Common:
    ref: str | None
    webhook: str | None
    timeout: int
    disable_cdn: bool


class Fields:
    """Reads request fields, collecting every problem (NestJS ValidationPipe style: a list)."""

    def __init__(self, body: dict[str, Any]) -> None:
        self._body = body
        self.problems: list[str] = []

    @property
    def body(self) -> dict[str, Any]:
        """The request body as received."""
        return self._body

    def string(self, name: str, *, required: bool = False, empty_ok: bool = False) -> str | None:
        value = self._body.get(name)
        if value is None:
            if required:
                self.problems.append(f"{name} is required (a non-empty string)")
            return None
        if not isinstance(value, str):
            self.problems.append(f"{name} must be a string, got {json_type(value)}")
            return None
        if not empty_ok and not value.strip():
            self.problems.append(f"{name} must not be empty")
            return None
        return value

    def url(self, name: str, *, required: bool = False) -> str | None:
        value = self.string(name, required=required)
        if value is None:
            return None
        url = _http_url(value)
        if url is None:
            self.problems.append(f"{name} must be an http(s) URL, got {value!r}")
        return url

    def choice(self, name: str, options: Sequence[str], default: str | None = None) -> str | None:
        """A string that must be one of ``options`` (exactly)."""
        value = self.string(name)
        if value is None:
            return default
        if value not in options:
            self.problems.append(f"{name} must be one of {', '.join(options)}, got {value!r}")
            return default
        return value

    def urls(self, name: str, low: int, high: int) -> list[str]:
        """A required list of ``low``..``high`` http(s) URLs."""
        value = self._body.get(name)
        if not isinstance(value, list):
            what = "is required" if value is None else f"must be an array, got {json_type(value)}"
            self.problems.append(f"{name} {what} (a list of {low} to {high} image URLs)")
            return []
        if not low <= len(value) <= high:
            self.problems.append(f"{name} must hold {low} to {high} URLs, got {len(value)}")
        found: list[str] = []
        for n, item in enumerate(value):
            url = _http_url(item)
            if url is None:
                self.problems.append(f"{name}[{n}] must be an http(s) URL, got {item!r}")
            else:
                found.append(url)
        return found

    def contents(self, name: str) -> list[dict[str, str]]:
        """A required list of ``{type: "image", url}`` / ``{type: "text", text}`` parts."""
        value = self._body.get(name)
        if not isinstance(value, list) or not value:
            self.problems.append(
                f"{name} is required: a non-empty array of {{type: 'image', url}} or"
                " {type: 'text', text} objects"
            )
            return []
        if len(value) > c.MAX_CONTENTS:
            self.problems.append(
                f"{name} may hold at most {c.MAX_CONTENTS} parts, got {len(value)}"
            )
        parts: list[dict[str, str]] = []
        for n, item in enumerate(value):
            part = _content(item)
            if isinstance(part, str):
                self.problems.append(f"{name}[{n}] {part}")
            else:
                parts.append(part)
        return parts

    def integer(
        self, name: str, default: int, low: int, high: int, *, unit: str = "number of seconds"
    ) -> int:
        value = self._body.get(name)
        if value is None:
            return default
        # 10.0 is the same JSON number as 10 (a JavaScript client cannot tell them apart).
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value != int(value)
        ):
            self.problems.append(
                f"{name} must be an integer {unit}, got {json_type(value)} {value!r}"
            )
            return default
        if not low <= value <= high:
            self.problems.append(f"{name} must be between {low} and {high}, got {value!r}")
            return default
        return int(value)

    def boolean(self, name: str) -> bool:
        value = self._body.get(name)
        if value is None:
            return False
        if not isinstance(value, bool):
            self.problems.append(f"{name} must be a boolean, got {json_type(value)}")
            return False
        return value

    def common(self) -> Common:
        """The fields every job-creating endpoint takes."""
        return Common(
            ref=self.string("ref", empty_ok=True),
            webhook=self.url("webhookOverride"),
            timeout=self.integer("timeout", c.TIMEOUT_DEFAULT, c.TIMEOUT_MIN, c.TIMEOUT_MAX),
            disable_cdn=self.boolean("disableCdn"),
        )

    def check(self) -> None:
        if self.problems:
            raise ApiError(400, self.problems)


def json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number" if math.isfinite(value) else "a non-finite number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


async def read_json_body(request: web.Request, limit: int) -> dict[str, Any]:
    """The request body as a JSON object: 413 over ``limit`` bytes, 400 if it is not an object."""
    too_large = ApiError(413, f"Request entity too large: the body must not exceed {limit} bytes.")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large from None
    if not raw.strip():
        return {}  # assumed: like an Express JSON parser, an empty body is {}
    form = _form_encoded(request.content_type, raw)
    if form is not None:
        raise ApiError(400, c.FORM_BODY_ERROR.format(what=form))
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ApiError(
            400,
            f"The request body is not valid JSON ({exc}); send a JSON object with"
            " 'Content-Type: application/json'.",
        ) from None
    if not isinstance(data, dict):
        raise ApiError(400, f"The request body must be a JSON object, got {json_type(data)}.")
    return data


_FORM_TYPES: Final = ("application/x-www-form-urlencoded", "multipart/form-data")
_FORM_TEXT: Final = re.compile(rb"[\w.%+\-\[\]]+=[^&]*(?:&[\w.%+\-\[\]]+=[^&]*)*")


def _form_encoded(content_type: str, raw: bytes) -> str | None:
    """How a body shows it is a form (its Content-Type, or ``a=1&b=2`` text), or None."""
    if content_type in _FORM_TYPES:
        return f"Content-Type: {content_type}"
    if _FORM_TEXT.fullmatch(raw.strip()):
        return "it reads like a=1&b=2"
    return None


def query_int(request: web.Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, [f"{name} must be an integer, got {raw!r}"]) from None
    if value < low or (high is not None and value > high):
        top = "" if high is None else f" and at most {high}"
        raise ApiError(400, [f"{name} must be at least {low}{top}, got {value}"])
    return value


def _http_url(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return value.strip()


def _content(item: object) -> dict[str, str] | str:
    """One content part, or what is wrong with it."""
    if not isinstance(item, dict):
        return f"must be an object, got {json_type(item)}"
    kind = item.get("type")
    if kind == "image":
        url = _http_url(item.get("url"))
        return {"type": "image", "url": url} if url else "needs url, an http(s) URL"
    if kind == "text":
        text = item.get("text")
        if isinstance(text, str) and text.strip():
            return {"type": "text", "text": text}
        return "needs text, a non-empty string"
    return f"type must be one of {', '.join(c.CONTENT_TYPES)}, got {kind!r}"
