"""``Resource``: what every API family on the client is built on (the client's core), and the checks
several families share.

A resource method checks its arguments, builds its request model and hands it to the core through
one row of the wire table (``self._call`` for a job-creating row, ``self._core.read`` for another).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from imaginepro_async._calls import JobCall, Prepared
from imaginepro_async._core import ClientCore
from imaginepro_async._errors import InvalidInputError
from imaginepro_async._models import ContentPart, ContentsRequest, CreatedJob, ImagePart, TextPart
from imaginepro_async._validation import check_choice, check_options, check_url, short
from imaginepro_async._wire.endpoints import Endpoint

__all__ = ["MAX_CONTENTS", "Resource", "check_contents", "contents_request"]

RequestT = TypeVar("RequestT")

#: At most this many parts in ``contents`` (assumed).
MAX_CONTENTS = 16


class Resource:
    """One family of the API, over the client's core (``client.flux``, ``client.video``, ...)."""

    __slots__ = ("_core",)

    def __init__(self, core: ClientCore) -> None:
        self._core = core

    def _call(
        self,
        name: str,
        endpoint: Endpoint[RequestT, CreatedJob],
        build: Callable[[], RequestT],
    ) -> JobCall:
        """A job-creating call: ``build`` checks the arguments and makes the request when the call
        is awaited (nothing is sent when it raises)."""
        core = self._core

        async def prepare() -> Prepared[RequestT]:
            core.open()  # a closed client is refused before any work
            return Prepared(endpoint, build())

        return core.call(name, prepare)

    def _prepared_call(
        self, name: str, prepare: Callable[[], Awaitable[Prepared[RequestT]]]
    ) -> JobCall:
        """A job-creating call whose preparation awaits something (a mask, an image's size)."""
        return self._core.call(name, prepare)


def check_contents(parts: object) -> tuple[ContentPart, ...]:
    """The parts of a Gemini or universal request: text as ``str``/``TextPart``, ``ImagePart``s."""
    if isinstance(parts, str | TextPart | ImagePart):
        parts = [parts]
    if not isinstance(parts, list | tuple) or not 1 <= len(parts) <= MAX_CONTENTS:
        raise InvalidInputError(
            f"contents must be a list of 1 to {MAX_CONTENTS} parts (text as str or TextPart, "
            f"images as ImagePart(url)), got {short(parts)}"
        )
    checked: list[ContentPart] = []
    for n, part in enumerate(parts):
        if isinstance(part, str):
            part = TextPart(part)
        if isinstance(part, TextPart):
            if not isinstance(part.text, str) or not part.text.strip():
                raise InvalidInputError(f"contents[{n}] is an empty text: say what you want")
        elif isinstance(part, ImagePart):
            check_url(part.url, f"contents[{n}].url")
        else:
            raise InvalidInputError(
                f"contents[{n}] must be a str, a TextPart or an ImagePart, got {short(part)}"
            )
        checked.append(part)
    return tuple(checked)


def contents_request(
    contents: object,
    model: str | None,
    models: tuple[str, ...],
    ref: str | None,
    webhook_override: str | None,
    job_timeout: int | None,
) -> ContentsRequest:
    """The checked request of a Gemini or universal call (``models``: the ones it takes)."""
    parts = check_contents(contents)
    if model is not None:
        check_choice(model, "model", models)
    check_options(ref=ref, webhook_override=webhook_override, job_timeout=job_timeout)
    return ContentsRequest(
        contents=parts, model=model, ref=ref, webhook_override=webhook_override, timeout=job_timeout
    )
