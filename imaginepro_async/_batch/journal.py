"""The batch journal: one SQLite file recording each request, and its state before it is acted on.

States and their meaning on resume::

    pending ──► submitting ──► submitted(messageId) ──► done(final Message) / failed(error)
                    │
                    └──► uncertain   (the POST may have reached the server; never resent silently)

A row left in ``submitting`` by a process that died is read back as ``uncertain``. Entering
``submitting`` stamps ``sent_at``, the send window that ``reconcile.py`` looks up in the account's
history (an uncertain request adopted goes to ``submitted``; one never created back to ``pending``).

How the file is opened, checked and locked is ``journal_file.py``; how it is held by its inode and
watched while a run uses it (deleted, moved, replaced) is ``journal_watch.py``. Every call runs in
a worker thread, one at a time, off the event loop. A failed write raises ``JournalWriteError``. The API key
is never written here.

Over ~500 lines on purpose: the states, the rows, the intake and every query on them stay in one
module, so that each transition and what reads it back are seen together.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Final, Self, TypeVar

import anyio
import anyio.to_thread
import attrs

from imaginepro_async._errors import JournalLostError, JournalMismatchError, JournalWriteError

from .journal_file import connect, get_meta, set_meta, take_lock, transaction
from .journal_watch import Sent, Watch, hold

__all__ = ["Journal", "JournalState", "RequestState", "Row", "StoredRequest"]

T = TypeVar("T")

_SHOWN: Final = 5


class RequestState(enum.StrEnum):
    """Where one request of a batch stands (the journal's ``state`` column).

    ``INVALID`` is never stored: it marks an input line that could not become a request.
    """

    PENDING = "pending"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    DONE = "done"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    INVALID = "invalid"


class JournalState(enum.Enum):
    """A journal's life: new, open (file locked), closed."""

    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


@attrs.frozen(kw_only=True)
class StoredRequest:
    """What the journal keeps of a request: enough to send it, with no input file at hand.

    The mask is kept as the path of its file, or as its bytes when it was given inline.
    """

    parent: str
    prompt: str | None
    timeout: int | None
    webhook_override: str | None
    mask_path: str | None
    mask_data: bytes | None


@attrs.frozen(kw_only=True)
class Row:
    """One request as the journal records it."""

    key: str
    seq: int
    line: int | None
    digest: str
    state: RequestState
    message_id: str | None = None
    result: str | None = None
    error: str | None = None
    files: tuple[str, ...] | None = None
    download_error: str | None = None
    attempts: int = 0
    request: StoredRequest | None = None
    sent_at: float | None = None
    updated_at: float | None = None

    @property
    def replaceable(self) -> bool:
        """True when forgetting this request costs nothing: never sent, or its job ended FAIL."""
        if self.state is RequestState.PENDING:
            return True
        return self.state is RequestState.FAILED and (
            self.message_id is None or self.result is not None
        )


_COLUMNS: Final = (
    "key, seq, line, digest, state, message_id, result, error, files, download_error, attempts, "
    "parent, prompt, timeout, webhook, mask_path, mask_data, sent_at, updated_at"
)


def _row(values: Sequence[Any]) -> Row:
    key, seq, line, digest, state, message_id, result, error, files, download_error, attempts = (
        values[:11]
    )
    parent, prompt, timeout, webhook, mask_path, mask_data, sent_at, updated_at = values[11:]
    return Row(
        key=key,
        seq=seq,
        line=line,
        digest=digest,
        state=RequestState(state),
        message_id=message_id,
        result=result,
        error=error,
        files=None if files is None else tuple(json.loads(files)),
        download_error=download_error,
        attempts=attempts,
        request=StoredRequest(
            parent=parent,
            prompt=prompt,
            timeout=timeout,
            webhook_override=webhook,
            mask_path=mask_path,
            mask_data=mask_data,
        ),
        sent_at=sent_at,
        updated_at=updated_at,
    )


@attrs.frozen(kw_only=True)
class Entry:
    """One valid input request, as the intake records it."""

    key: str
    digest: str
    line: int | None
    request: StoredRequest
    keyed_by_hash: bool = False


@attrs.define
class _Refusals:
    """Requests the input cannot resume: changed after being sent, or gone from the input."""

    changed: list[str] = attrs.Factory(list)
    missing: list[str] = attrs.Factory(list)
    changed_count: int = 0
    missing_count: int = 0

    def add_changed(self, text: str) -> None:
        self.changed_count += 1
        if len(self.changed) < _SHOWN:
            self.changed.append(text)

    def add_missing(self, key: str) -> None:
        self.missing_count += 1
        if len(self.missing) < _SHOWN:
            self.missing.append(key)


class Intake:
    """Adds the input's requests to the journal, in one transaction (see ``Journal.intake``)."""

    def __init__(self, journal: Journal, run: str) -> None:
        self._journal = journal
        self._run = run
        self._refusals = _Refusals()

    async def add(self, entries: Sequence[Entry]) -> list[tuple[Entry, str]]:
        """Record ``entries``; returns those refused as repeats, each with the reason."""
        return await self._journal._call(lambda db: self._add(db, entries), write=True)

    def _add(self, db: sqlite3.Connection, entries: Sequence[Entry]) -> list[tuple[Entry, str]]:
        repeats: list[tuple[Entry, str]] = []
        for entry in entries:
            reason = self._add_one(db, entry)
            if reason is not None:
                repeats.append((entry, reason))
        return repeats

    def _add_one(self, db: sqlite3.Connection, entry: Entry) -> str | None:
        key = entry.key
        for n in range(2, 1_000_000):
            found = db.execute(f"SELECT {_COLUMNS}, run FROM requests WHERE key = ?", (key,))
            values = found.fetchone()
            if values is None:
                _insert(db, attrs.evolve(entry, key=key), self._run)
                return None
            row = _row(values[:-1])
            if values[-1] != self._run:
                break
            if not entry.keyed_by_hash:
                return f"ref {key!r} is used again (first on line {row.line}); each request needs its own ref"
            # The same request twice without a ref is two jobs (two draws), keyed apart.
            key = f"{entry.key}-{n}"
        if row.digest == entry.digest:
            db.execute(
                "UPDATE requests SET line = ?, run = ? WHERE key = ?", (entry.line, self._run, key)
            )
        elif row.replaceable:
            db.execute("DELETE FROM requests WHERE key = ?", (key,))
            _insert(db, attrs.evolve(entry, key=key), self._run, seq=row.seq, attempts=row.attempts)
        else:
            where = f"line {entry.line}" if entry.line is not None else "a request"
            self._refusals.add_changed(
                f"{where} (ref {key!r}) has other contents than the request already "
                f"{row.state.value}"
            )
        return None

    def _finish(self, db: sqlite3.Connection, path: str, source: str) -> None:
        for values in db.execute(
            f"SELECT {_COLUMNS} FROM requests WHERE run IS NOT ? ORDER BY seq", (self._run,)
        ):
            if not _row(values).replaceable:
                self._refusals.add_missing(values[0])
        refusals = self._refusals
        if refusals.changed_count or refusals.missing_count:
            raise JournalMismatchError(
                _mismatch_text(path, get_meta(db, "source"), source, refusals),
                missing=refusals.missing,
                changed=refusals.changed,
            )
        set_meta(db, "source", source)


def _insert(
    db: sqlite3.Connection, entry: Entry, run: str, *, seq: int | None = None, attempts: int = 0
) -> None:
    if seq is None:
        seq = db.execute("SELECT coalesce(max(seq), -1) + 1 FROM requests").fetchone()[0]
    request = entry.request
    db.execute(
        "INSERT INTO requests (key, seq, line, run, digest, parent, prompt, timeout, webhook, "
        "mask_path, mask_data, state, attempts, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            entry.key, seq, entry.line, run, entry.digest, request.parent, request.prompt,
            request.timeout, request.webhook_override, request.mask_path, request.mask_data,
            RequestState.PENDING.value, attempts, time.time(),
        ),
    )  # fmt: skip


def _mismatch_text(path: str, made_from: str | None, source: str, refusals: _Refusals) -> str:
    parts = []
    if refusals.missing_count:
        shown = ", ".join(repr(k) for k in refusals.missing)
        more = refusals.missing_count - len(refusals.missing)
        parts.append(
            f"{refusals.missing_count} of its requests, already sent, are not in {source} "
            f"({shown}{f' and {more} more' if more > 0 else ''})"
        )
    if refusals.changed_count:
        more = refusals.changed_count - len(refusals.changed)
        parts.append(
            f"{refusals.changed_count} requests have the same key but other contents, and were "
            f"already sent: " + "; ".join(refusals.changed) + (f"; and {more} more" if more else "")
        )
    return (
        f"the journal {path} was made from {made_from or 'another input'}, not from this input: "
        + "; ".join(parts)
        + ". A request whose job ended FAIL, or that was never sent, may be edited; one that was "
        "sent may not (it could be paid for twice). Give the input the journal was made from to "
        "resume it, or a new --journal path to start a new batch."
    )


class Journal:
    """The SQLite journal of one batch: ``async with Journal(path) as journal:``.

    Entering takes the lock file and opens (or, only when no file is there, creates) the journal.
    One process, one connection, one writer: every method runs in a worker thread, one at a time.

    Raises (on entering):
        JournalBusyError: another process holds the journal (through this path or another).
        NotAJournalError: a file is there that is not a journal of ours.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.state = JournalState.NEW
        self._db: sqlite3.Connection | None = None
        self._lock: int | None = None
        self._held: int | None = None
        self._watch: Watch | None = None
        self._sent: dict[str, Sent] = {}  # what this run sent, by key
        self._limiter = anyio.CapacityLimiter(1)
        self.commits = 0

    @classmethod
    async def open(cls, path: str | os.PathLike[str]) -> Journal:
        """Open the journal at ``path`` (the same as entering ``async with``); ``aclose()`` it."""
        journal = cls(path)
        await journal.__aenter__()
        return journal

    async def __aenter__(self) -> Self:
        if self.state is not JournalState.NEW:
            raise RuntimeError("a Journal is opened once; create a new one to open it again")
        self.state = JournalState.OPEN
        try:
            self._lock = await anyio.to_thread.run_sync(take_lock, self.path)
            self._db = await anyio.to_thread.run_sync(connect, self.path)
            self._held = await anyio.to_thread.run_sync(hold, self.path)
            self._watch = Watch(self.path, self._held, self._sent)
            await self._call(self._watch.check)  # the path still leads to the file held
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the file and release its lock; closing twice is harmless."""
        self.state = JournalState.CLOSED
        db, self._db = self._db, None
        lock, self._lock = self._lock, None
        held, self._held = self._held, None
        with anyio.CancelScope(shield=True):
            if db is not None:
                await anyio.to_thread.run_sync(db.close, limiter=self._limiter)
            if held is not None:
                os.close(held)  # after SQLite's connection: its POSIX locks are gone with it
            if lock is not None:
                os.close(lock)  # releases the flock

    async def _call(self, fn: Callable[[sqlite3.Connection], T], *, write: bool = False) -> T:
        db = self._db
        if db is None:
            raise RuntimeError("the journal is not open")
        watch = self._watch

        def watched(db: sqlite3.Connection) -> T:
            if watch is None:
                return fn(db)
            watch.check(db)
            try:
                result = fn(db)
            except (sqlite3.Error, OSError):
                watch.check(db)  # the file changed under the call: say that, not "disk full"
                raise
            if write:
                watch.committed()
            return result

        try:
            # Not abandoned on cancellation: a write that started is finished and committed first.
            return await anyio.to_thread.run_sync(watched, db, limiter=self._limiter)
        except JournalLostError:
            raise
        except (sqlite3.Error, OSError) as exc:
            if not write or isinstance(exc, sqlite3.IntegrityError):
                raise
            raise JournalWriteError(
                f"the journal {self.path} could not be written ({exc}); the batch stopped. Free "
                "disk space (or lift the file size limit), then run the same command again: it "
                "resumes from what the journal holds",
                path=self.path,
            ) from exc

    async def _write(self, sql: str, values: Sequence[Any]) -> None:
        def run(db: sqlite3.Connection) -> None:
            with transaction(db):
                db.execute(sql, values)

        await self._call(run, write=True)
        self.commits += 1

    @contextlib.asynccontextmanager
    async def intake(self, run: str, *, source: str) -> AsyncIterator[Intake]:
        """Add this run's input to the journal, all or nothing.

        Rows the input repeats unchanged are kept; new ones are added as pending; a changed one
        replaces its row if that request was never sent or its job ended FAIL.

        Raises:
            JournalMismatchError: (on leaving) a request already sent has changed, or is no
                longer in the input; nothing of this intake is kept.
        """
        await self._call(lambda db: db.execute("BEGIN IMMEDIATE"), write=True)
        intake = Intake(self, run)
        try:
            yield intake
            await self._call(lambda db: intake._finish(db, self.path, source), write=True)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._call(lambda db: db.execute("ROLLBACK"))
            raise
        await self._call(lambda db: db.execute("COMMIT"), write=True)
        self.commits += 1

    async def update(
        self,
        key: str,
        state: RequestState,
        *,
        message_id: str | None = None,
        result: str | None = None,
        error: str | None = None,
        clear_error: bool = False,
        count_attempt: bool = False,
        row: Row | None = None,
        reconciled: str | None = None,
    ) -> None:
        """Record a request's new state (committed to disk before this returns).

        ``message_id`` and ``result`` are kept when not given; ``error`` replaces the last one when
        given, and is removed with ``clear_error``. ``row`` (the request's row) lets the journal
        keep what a saved copy needs if the file is lost under the run. Entering ``SUBMITTING`` stamps
        ``sent_at`` (this machine's clock); ``reconciled`` records what a reconciliation concluded.

        Raises:
            JournalWriteError: the write failed.
            JournalLostError: the file was deleted, moved, replaced or overwritten under the run.
        """
        now = time.time()
        await self._write(
            "UPDATE requests SET state = ?, message_id = COALESCE(?, message_id), "
            "result = COALESCE(?, result), "
            "error = CASE WHEN ? THEN NULL ELSE COALESCE(?, error) END, "
            "attempts = attempts + ?, updated_at = ?, "
            "sent_at = CASE WHEN ? THEN ? ELSE sent_at END, "
            "reconciled = COALESCE(?, reconciled) WHERE key = ?",
            (
                state.value, message_id, result, clear_error, error, int(count_attempt),
                now, state is RequestState.SUBMITTING, now, reconciled, key,
            ),
        )  # fmt: skip
        if (
            row is not None
            and row.request is not None
            and (
                state is RequestState.SUBMITTING
                or (state is RequestState.SUBMITTED and message_id is not None)
            )
        ):
            request = row.request
            self._sent[key] = Sent(
                message_id=message_id, key=key, line=row.line, digest=row.digest,
                parent=request.parent, prompt=request.prompt, timeout=request.timeout,
                webhook=request.webhook_override, mask_path=request.mask_path,
            )  # fmt: skip

    async def record_files(
        self, key: str, files: Sequence[str] | None, download_error: str | None
    ) -> None:
        """Record where a request's images were saved (or why they could not be)."""
        saved = None if files is None else json.dumps(list(files))
        await self._write(
            "UPDATE requests SET files = ?, download_error = ?, updated_at = ? WHERE key = ?",
            (saved, download_error, time.time(), key),
        )

    async def page(self, run: str, *, after: int, limit: int = 32) -> list[Row]:
        """The next ``limit`` rows of ``run`` after sequence number ``after``, in input order."""
        return await self._call(
            lambda db: [
                _row(values)
                for values in db.execute(
                    f"SELECT {_COLUMNS} FROM requests WHERE run = ? AND seq > ? ORDER BY seq "
                    "LIMIT ?",
                    (run, after, limit),
                )
            ]
        )

    async def counts(self, run: str) -> dict[RequestState, int]:
        """How many requests of ``run`` are in each state."""
        found = await self._call(
            lambda db: db.execute(
                "SELECT state, count(*) FROM requests WHERE run = ? GROUP BY state", (run,)
            ).fetchall()
        )
        counts = dict.fromkeys(RequestState, 0)
        for state, count in found:
            counts[RequestState(state)] = count
        return counts

    async def rows(self) -> list[Row]:
        """Every row, in the order the requests were first recorded (for tests and tools)."""
        return await self._call(
            lambda db: [
                _row(values)
                for values in db.execute(f"SELECT {_COLUMNS} FROM requests ORDER BY seq")
            ]
        )

    async def claimed(self) -> dict[str, float | None]:
        """Every messageId the journal records, with when its request was sent.

        The send time is given only where it is the send of that messageId's job (not for a
        request being sent again, whose row still holds the earlier messageId).
        """
        found = await self._call(
            lambda db: db.execute(
                "SELECT message_id, CASE WHEN state IN ('submitting', 'uncertain') THEN NULL "
                "ELSE sent_at END FROM requests WHERE message_id IS NOT NULL"
            ).fetchall()
        )
        return dict(found)

    async def unsettled(self, run: str) -> list[Row]:
        """The requests of ``run`` left submitting or uncertain, in input order."""
        return await self._call(
            lambda db: [
                _row(values)
                for values in db.execute(
                    f"SELECT {_COLUMNS} FROM requests WHERE run = ? AND state IN "
                    "('submitting', 'uncertain') ORDER BY seq",
                    (run,),
                )
            ]
        )

    async def reconciled(self) -> dict[str, int]:
        """How many requests each reconciliation outcome was last recorded for (for benchmarks)."""
        found = await self._call(
            lambda db: db.execute(
                "SELECT reconciled, count(*) FROM requests WHERE reconciled IS NOT NULL "
                "GROUP BY reconciled"
            ).fetchall()
        )
        return dict(found)
