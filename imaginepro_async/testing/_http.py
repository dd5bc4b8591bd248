"""HTTP answers in JSON: compact encoding, and the NestJS error body (doc) raised as ApiError."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from . import _contract as c


def dumps(data: object) -> bytes:
    """Compact UTF-8 JSON (emoji buttons stay readable)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(
    data: object, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON answer."""
    return web.Response(
        body=dumps(data), status=status, headers=headers, content_type="application/json"
    )


def error_body(status: int, message: str | list[str]) -> dict[str, Any]:
    """The NestJS error body (doc): ``{"message", "error", "statusCode"}``."""
    return {"message": message, "error": c.REASONS.get(status, "Error"), "statusCode": status}


class ApiError(Exception):
    """An answer with an error status; raised by handlers, rendered by the pipeline."""

    def __init__(
        self, status: int, message: str | list[str], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers

    def response(self) -> web.Response:
        """The NestJS-style answer."""
        return json_response(error_body(self.status, self.message), self.status, self.headers)
