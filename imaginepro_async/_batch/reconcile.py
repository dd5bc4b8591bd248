"""Uncertain requests, looked up in the account's history: adopted, proven unsent, or left uncertain.

A request is *uncertain* when its POST may have reached the server but no answer came (a lost
connection, a 5xx, a process killed while sending). The history (``client.history``: every job
of the last 24 h, newest first, with ``button``, ``prompt`` and ``createdAt``; the assumptions are
marked in ``testing/_contract.py``, ``HISTORY_*``) says whether a job was made:

- the **send window** of a request is when the server can have created its job: from ``sent_at``
  (stamped by the journal as the request left, on this machine's clock) to the end of the attempt
  (``sent_at`` + the client's request timeout, or earlier: when it was recorded uncertain, or when
  this run took the journal over from a dead one), plus ``SETTLE`` API seconds;
- this machine's clock is placed on the server's by the journal's own jobs found in the history:
  a job created from a request sent at local ``t`` has ``createdAt ≥ a + scale·t``, so the least
  ``createdAt − scale·t`` bounds the offset ``a`` from above; the request timeout bounds it from
  below. Against the real service (scale 1) with none of them in sight, the clocks are assumed
  within ``SKEW`` seconds of each other;
- a *candidate* is a ``Vary (Region)`` job with the request's prompt (the parent's when the request
  had none) created in the window, whose messageId no request of the journal claims.

One candidate, a candidate of no other request → **adopted** (its messageId recorded, the job
followed). No candidate, and no unclaimed ``Vary (Region)`` job of any other prompt either (the
server might have rewritten the prompt), in a window the history covers entirely (read newest first
back past its start, or to an empty page), once the window has closed → **never created**: safe to
send again. Anything else stays uncertain, with the candidates named.
"""

from __future__ import annotations

import enum
import itertools
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final

import anyio
import attrs

from imaginepro_async._errors import ImagineProError

from .journal import RequestState, Row
from .results import row_result

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from imaginepro_async._client import ImagineProClient
    from imaginepro_async._models import HistoryImage

    from .follow import Follower
    from .ledger import Ledger
    from .submit import Submitter

__all__ = ["Outcome", "Reconciler", "Reconciliation", "Verdict"]

VARY_REGION: Final = "Vary (Region)"
SETTLE: Final = 60.0  # API seconds; the contract's HISTORY_CREATE_SETTLE_SECONDS
SKEW: Final = 60.0  # seconds this machine's clock may be off the server's (scale 1, no anchor)
HISTORY_SECONDS: Final = 24 * 3600.0
PAGE_SIZE: Final = 100
MAX_PAGES: Final = 500
_EDGE: Final = 1.0  # API seconds: createdAt's rounding and the server replicas' clocks
_SHOWN: Final = 5


class Outcome(enum.StrEnum):
    """What a reconciliation concluded for one request (the journal's ``reconciled`` column)."""

    ADOPTED = "adopted"
    RESENT = "resent"
    UNCERTAIN = "uncertain"
    LATER = "later"  # its window is still open and no job is there yet: look again later


@attrs.frozen(kw_only=True)
class Verdict:
    """The outcome for one request: the job adopted (``message_id``), or why it stays uncertain."""

    outcome: Outcome
    message_id: str | None = None
    note: str = ""
    not_before: float = 0.0  # LATER: this machine's time when its window closes


@attrs.frozen
class _Window:
    start: float  # server seconds (POSIX)
    end: float
    closes: float  # this machine's time when it closes


class Reconciler:
    """Looks uncertain requests up in the account's history (see the module).

    Args:
        client: the batch's client.
        taken_over: when this run took the journal (this machine's clock): a request left
            ``submitting`` by an earlier process was sent before it.
    """

    def __init__(self, client: ImagineProClient, *, taken_over: float) -> None:
        self._client = client
        self.taken_over = taken_over
        self._scale = client.time_scale
        self._timeout = client._core.settings.request_timeout
        self._prompts: dict[str, str | None] = {}

    async def reconcile(
        self, rows: Sequence[Row], claimed: dict[str, float | None], *, early: bool = False
    ) -> dict[str, Verdict]:
        """A verdict for each of ``rows`` (uncertain or left submitting), by key.

        ``claimed``: every messageId the journal records, with its request's ``sent_at`` (None
        where that send time cannot anchor the clocks). ``early``: jobs this run creates will
        come to anchor the clocks, so requests that cannot be placed yet are looked at ``LATER``.

        Raises:
            ImagineProError: the history (or a parent) could not be read.
        """
        if not rows:
            return {}
        prompts = {row.key: await self._prompt(row) for row in rows}
        earliest = min((row.sent_at or row.updated_at or 0.0) for row in rows)
        entries, exhausted, oldest, ordered = await self._history(earliest, claimed)
        offset = self._offset(entries, claimed)
        if offset is None and early:
            return {row.key: Verdict(outcome=Outcome.LATER) for row in rows}
        if offset is None:
            note = (
                "the account's history shows none of this journal's jobs, so this machine's clock "
                "cannot be placed on the server's; check the account's recent jobs by hand"
            )
            return {row.key: Verdict(outcome=Outcome.UNCERTAIN, note=note) for row in rows}
        low, high = offset
        server_now = high + self._scale * time.time()
        windows = {row.key: self._window(row, low, high) for row in rows}
        candidates: dict[str, list[HistoryImage]] = {}
        in_window: dict[str, list[HistoryImage]] = {}
        for row in rows:
            window = windows[row.key]
            prompt = prompts[row.key]
            in_window[row.key] = [
                e
                for e in entries
                if e.id not in claimed
                and e.button == VARY_REGION
                and window is not None
                and window.start <= _stamp(e) <= window.end
            ]
            candidates[row.key] = [e for e in in_window[row.key] if e.prompt == prompt]
        wanted: dict[str, int] = {}
        for found in candidates.values():
            for entry in found:
                wanted[entry.id] = wanted.get(entry.id, 0) + 1
        adopted = {f[0].id for f in candidates.values() if len(f) == 1 and wanted[f[0].id] == 1}
        verdicts: dict[str, Verdict] = {}
        for row in rows:
            window = windows[row.key]
            found = candidates[row.key]
            # Unclaimed Vary (Region) jobs of the window with another prompt: the server may
            # have rewritten this request's prompt, so they forbid calling it never created.
            strangers = [e for e in in_window[row.key] if e not in found and e.id not in adopted]
            covered = (
                ordered
                and window is not None
                and (
                    (exhausted and window.start > server_now - HISTORY_SECONDS + SETTLE)
                    or (oldest is not None and oldest < window.start)
                )
            )
            verdicts[row.key] = self._decide(
                row, window, found or strangers, wanted, covered, prompts[row.key]
            )
        return verdicts

    def _decide(
        self,
        row: Row,
        window: _Window | None,
        found: list[HistoryImage],
        wanted: dict[str, int],
        covered: bool,
        prompt: str | None,
    ) -> Verdict:
        if window is None:
            return Verdict(
                outcome=Outcome.UNCERTAIN,
                note="the journal does not know when this request was sent (an earlier version "
                "made it); check the account's recent jobs by hand",
            )
        if prompt is None:
            return Verdict(
                outcome=Outcome.UNCERTAIN,
                note="the parent's prompt could not be read, so its job cannot be told apart",
            )
        if len(found) == 1 and wanted.get(found[0].id) == 1 and found[0].prompt == prompt:
            return Verdict(outcome=Outcome.ADOPTED, message_id=found[0].id)
        if found:
            shown = ", ".join(f"{e.id} (created {e.created_at})" for e in found[:_SHOWN])
            more = f" and {len(found) - _SHOWN} more" if len(found) > _SHOWN else ""
            shared = "" if len(found) > 1 else " (another uncertain request could be it too)"
            return Verdict(
                outcome=Outcome.UNCERTAIN,
                note=f"{len(found)} jobs in the account's history could be this request{shared}: "
                f"{shown}{more}",
            )
        if time.time() < window.closes:
            return Verdict(outcome=Outcome.LATER, not_before=window.closes)
        if not covered:
            return Verdict(
                outcome=Outcome.UNCERTAIN,
                note="the account's history no longer reaches back to when it was sent",
            )
        return Verdict(outcome=Outcome.RESENT)

    async def _prompt(self, row: Row) -> str | None:
        """The prompt its job has in the history: the request's, else the parent's."""
        request = row.request
        assert request is not None
        if request.prompt:
            return request.prompt
        if request.parent not in self._prompts:
            try:
                self._prompts[request.parent] = (await self._client.fetch(request.parent)).prompt
            except ImagineProError:
                return None
        return self._prompts[request.parent]

    async def _history(
        self, earliest: float, claimed: dict[str, float | None]
    ) -> tuple[list[HistoryImage], bool, float | None, bool]:
        """The history back past ``earliest`` (local time of the first send to place), deduped.

        Returns the entries, whether the history ran out (an empty page: a short one may be the
        server's own page size), the oldest ``createdAt`` seen, and whether every page was
        newest first (if not, no window counts as covered).
        """
        entries: dict[str, HistoryImage] = {}
        oldest: float | None = None
        ordered = True
        for page in range(1, MAX_PAGES + 1):
            images = await self._client.history(page=page, size=PAGE_SIZE)
            stamps = [_stamp(e) for e in images if e.created_at is not None]
            if any(a < b for a, b in itertools.pairwise(stamps)) or (
                oldest is not None and stamps and stamps[0] > oldest + _EDGE
            ):
                ordered = False
            for entry in images:
                if entry.created_at is not None:
                    entries.setdefault(entry.id, entry)
                    stamp = _stamp(entry)
                    oldest = stamp if oldest is None else min(oldest, stamp)
            if not images:
                return list(entries.values()), True, oldest, ordered
            offset = self._offset(entries.values(), claimed)
            if offset is not None and oldest is not None:
                low, _ = offset
                if oldest < low + self._scale * earliest - _EDGE:
                    return list(entries.values()), False, oldest, ordered
        return list(entries.values()), False, oldest, ordered

    def _offset(
        self, entries: Iterable[HistoryImage], claimed: dict[str, float | None]
    ) -> tuple[float, float] | None:
        """Bounds of ``a`` in ``server time = a + scale × this machine's time``."""
        anchors = [
            _stamp(e) - self._scale * sent
            for e in entries
            if (sent := claimed.get(e.id)) is not None and e.created_at is not None
        ]
        if anchors:
            high = min(anchors) + _EDGE
            return high - self._scale * self._timeout - 2 * _EDGE, high
        if self._scale == 1.0:
            return -SKEW, SKEW
        return None

    def _window(self, row: Row, low: float, high: float) -> _Window | None:
        sent = row.sent_at
        if sent is None:
            return None
        ended = sent + self._timeout
        if row.state is RequestState.UNCERTAIN and row.updated_at is not None:
            ended = min(ended, row.updated_at)
        elif row.state is RequestState.SUBMITTING:
            ended = min(ended, self.taken_over)
        ended = max(ended, sent)
        settle = SETTLE / self._scale
        return _Window(
            start=low + self._scale * sent - _EDGE,
            end=high + self._scale * ended + SETTLE + _EDGE,
            closes=ended + settle,
        )


class Reconciliation:
    """A batch run's reconciliations: ``first`` before dispatching, ``last`` once all is sent.

    ``Batch`` owns one, and hands it what acting on a verdict takes: the run's ``Ledger`` (the
    journal writes), the ``Follower`` (an adopted job is followed) and the ``Submitter`` (a request
    never created is sent again).

    Attributes:
        later: keys whose send window is still open: looked up again by ``last``.
    """

    def __init__(
        self,
        reconciler: Reconciler,
        ledger: Ledger,
        follower: Follower,
        submitter: Submitter,
        *,
        run: str,
    ) -> None:
        self.reconciler = reconciler
        self._ledger = ledger
        self._follower = follower
        self._submitter = submitter
        self._run = run
        self.later: set[str] = set()
        self._concluded: set[str] = set()  # left uncertain by a look-up of this run

    async def first(self, tg: TaskGroup) -> None:
        """Reconcile what earlier runs left uncertain; the dispatch then acts on the journal."""
        await self._reconcile(tg, await self._ledger.journal.unsettled(self._run), early=True)

    async def last(self, tg: TaskGroup, *, stopping: Callable[[], bool]) -> None:
        """Reconcile, and act on, what is still uncertain, as each send window closes."""
        while not stopping():
            rows = [
                r
                for r in await self._ledger.journal.unsettled(self._run)
                if r.key not in self._concluded
            ]
            if not rows:
                return
            self.later.clear()
            when = await self._reconcile(tg, rows, act=True)
            if when is not None:
                await anyio.sleep(max(0.0, when - time.time()))

    async def only(self, *, stopping: Callable[[], bool]) -> None:
        """Reconcile what is uncertain, record and report each verdict, and act on none of them.

        An adopted job is recorded ``submitted`` and a request never created ``pending``: the next
        run follows or sends them. Waits for the send windows still open to close.
        """
        while not stopping():
            rows = [
                r
                for r in await self._ledger.journal.unsettled(self._run)
                if r.key not in self._concluded
            ]
            self.later.clear()
            when = await self._reconcile(None, rows, report=True)
            if when is None:
                return
            await anyio.sleep(max(0.0, when - time.time()))

    async def _reconcile(
        self,
        tg: TaskGroup | None,
        rows: list[Row],
        *,
        act: bool = False,
        early: bool = False,
        report: bool = False,
    ) -> float | None:
        """Look ``rows`` up in the history and record each verdict; the next time to look again.

        ``act``: also follow the adopted jobs, send the requests never created, and report the
        others (otherwise the dispatch that follows does it from the journal). ``report``: report
        every verdict, acting on none.
        """
        if not rows:
            return None
        try:
            claimed = await self._ledger.journal.claimed()
            verdicts = await self.reconciler.reconcile(rows, claimed, early=early)
        except ImagineProError as exc:
            note = f"the account's history could not be read ({exc})"
            verdicts = {row.key: Verdict(outcome=Outcome.UNCERTAIN, note=note) for row in rows}
        later: float | None = None
        for row in rows:
            verdict = verdicts[row.key]
            if verdict.outcome is Outcome.LATER:
                self.later.add(row.key)
                later = verdict.not_before if later is None else min(later, verdict.not_before)
                continue
            await self._settle(tg, row, verdict, act=act, report=report)
            if report:
                await self._report(row, verdict)
        return later

    async def _report(self, row: Row, verdict: Verdict) -> None:
        if verdict.outcome is Outcome.ADOPTED:
            await self._ledger.emit(
                row_result(
                    row, RequestState.SUBMITTED, message_id=verdict.message_id,
                    error="found in the account's history: adopted; the next run follows it",
                )
            )  # fmt: skip
        elif verdict.outcome is Outcome.RESENT:
            await self._ledger.emit(
                row_result(
                    row, RequestState.PENDING,
                    error="no such job in the account's history: never created; the next run "
                    "sends it",
                )
            )  # fmt: skip

    async def _settle(
        self, tg: TaskGroup | None, row: Row, verdict: Verdict, *, act: bool, report: bool = False
    ) -> None:
        ledger = self._ledger
        outcome = verdict.outcome
        if outcome is Outcome.ADOPTED:
            await ledger.record(
                row, row.state, RequestState.SUBMITTED, message_id=verdict.message_id,
                clear_error=True, reconciled=outcome.value,
            )  # fmt: skip
            if act and tg is not None:
                row = attrs.evolve(row, state=RequestState.SUBMITTED, message_id=verdict.message_id)
                await self._follower.reattach(tg, row)
        elif outcome is Outcome.RESENT:
            await ledger.record(
                row, row.state, RequestState.PENDING, clear_error=True, reconciled=outcome.value
            )
            if act and tg is not None:
                await self._submitter.submit(tg, attrs.evolve(row, state=RequestState.PENDING))
        else:
            self._concluded.add(row.key)
            error = (
                "the request may have been processed, but no answer came, and the account's "
                f"history does not settle it: {verdict.note}. Check the account's recent jobs "
                f"(ref {row.key!r}), then resend it with --resubmit-uncertain if it is not there"
            )
            await ledger.record(
                row, row.state, RequestState.UNCERTAIN, error=error, reconciled=outcome.value
            )
            if act or report:
                await ledger.emit(row_result(row, RequestState.UNCERTAIN, error=error))


def _stamp(entry: HistoryImage) -> float:
    created: datetime | None = entry.created_at
    assert created is not None
    return created.timestamp()
