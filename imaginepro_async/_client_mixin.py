"""``ClientMixin``: what the client's method mixins use of ``ImagineProClient``.

The mixins (``_client_midjourney.py``, ``_client_endpoints.py``, ``_client_reads.py``) each hold one
group of public methods; they reach the client only through these names, declared here for the type
checker and defined by ``ImagineProClient`` in ``_client.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._jobs import Job
    from ._pacing.clock import Clock
    from ._scheduling.scheduler import Scheduler
    from ._wire.endpoints import Endpoint
    from ._wire.sender import Transport

__all__ = ["ClientMixin"]


class ClientMixin:
    """The client's core, as its method mixins see it."""

    if TYPE_CHECKING:
        _clock: Clock
        _image_sizes: dict[str, tuple[int, int]]

        def _open(self) -> tuple[Transport, Scheduler]: ...
        async def _submit(self, endpoint: Endpoint, request: Any) -> Job: ...
        async def _read(
            self, endpoint: Endpoint, *, body: Any = None, query: Any = None, **params: str
        ) -> Any: ...

    async def _job(self, endpoint: Endpoint, request: Any) -> Job:
        self._open()  # a closed client is refused before any work
        return await self._submit(endpoint, request)
