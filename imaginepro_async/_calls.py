"""Job-creating calls: the ``JobCall`` every job-creating method returns, and how it is sent.

``client.inpaint(...)`` returns a ``JobCall``: awaiting it checks the arguments (nothing is sent on
a bad one) and submits the job, exactly like a coroutine (it is one: ``asyncio.create_task`` and
task groups take it). ``client.enqueue(call)`` instead checks it in the caller's task and sends it
when its turn comes. A call is made of two steps, kept apart so that nothing travels in hidden
channels: ``prepare`` (check the arguments, load a mask, build the request of one row of the wire
table) and ``submit`` (send it by that row's rules, with ``SubmitOptions``: what a submission needs
below the client, such as the batch's journal write right before the request leaves).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from ._models import CreatedJob
from ._wire.endpoints import Endpoint
from ._wire.sender import BeforeSend

if TYPE_CHECKING:
    from ._jobs import Job

__all__ = ["JobCall", "Prepared", "SubmitOptions", "steps"]

RequestT = TypeVar("RequestT")


@attrs.frozen
class Prepared(Generic[RequestT]):
    """A checked request and the row of the wire table it is sent through."""

    endpoint: Endpoint[RequestT, CreatedJob]
    request: RequestT


@attrs.frozen
class SubmitOptions:
    """What one submission needs below the client, passed down explicitly.

    Attributes:
        before_send: runs once the create permit is held and the admission rule passed, right
            before the request leaves (a safe resend does not run it again); if it raises, nothing
            is sent.
    """

    before_send: BeforeSend | None = None


#: Checks a call's arguments and builds its request (raises ``InvalidInputError``: nothing sent).
Prepare = Callable[[], Awaitable[Prepared[Any]]]
#: Sends a prepared request by its row's rules and returns the job's handle.
Submit = Callable[[Prepared[Any], SubmitOptions], Awaitable["Job"]]


class JobCall(Coroutine[Any, Any, "Job"]):
    """A job-creating call not awaited yet: ``await`` it for its ``Job``, or pass it to
    ``client.enqueue``.

    It is a coroutine: awaiting it checks the arguments (``InvalidInputError``, nothing sent),
    waits for the submission budget, sends the request and returns as soon as the server took the
    job. Like any coroutine it is awaited once; one never awaited warns.
    """

    __slots__ = ("_coro", "_name", "_prepare", "_submit")

    def __init__(self, name: str, prepare: Prepare, submit: Submit) -> None:
        self._name = name
        self._prepare = prepare
        self._submit = submit
        self._coro = self._run()

    async def _run(self) -> Job:
        return await self._submit(await self._prepare(), SubmitOptions())

    def __repr__(self) -> str:
        return f"<JobCall {self._name}>"

    def send(self, value: Any) -> Any:
        return self._coro.send(value)

    def throw(self, *args: Any, **kwargs: Any) -> Any:
        return self._coro.throw(*args, **kwargs)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, Job]:
        return self._coro.__await__()


def steps(call: JobCall) -> tuple[Prepare, Submit]:
    """A call's two steps, for a caller that runs them itself (the queue, the batch).

    The call itself is spent (it would warn if never awaited otherwise).

    Raises:
        TypeError: ``call`` is not a job-creating call of a client.
    """
    if not isinstance(call, JobCall):
        if isinstance(call, Coroutine):
            call.close()
        raise TypeError(
            "expected a job-creating call not awaited, such as client.inpaint(parent, mask, "
            f"prompt=...), got {type(call).__name__}"
        )
    call.close()
    return call._prepare, call._submit
