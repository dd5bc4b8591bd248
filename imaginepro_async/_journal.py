"""The batch journal: one SQLite file recording each request's state before it is acted on.

States and their meaning on resume::

    pending ──► submitting ──► submitted(messageId) ──► done(final Message) / failed(error)
                    │
                    └──► uncertain   (the POST may have reached the server; never resent silently)

A row left in ``submitting`` by a process that died is read back as ``uncertain``.

The file uses WAL mode with ``synchronous=FULL`` (a state change survives a power cut, not only a
killed process) and the exclusive locking mode, so a second process cannot run the same journal at
the same time. Every call runs in a worker thread, one at a time, off the event loop. The API key
is never written here.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

import anyio
import anyio.to_thread
import attrs

from ._errors import JournalBusyError, JournalMismatchError

__all__ = [
    "Journal",
    "RequestState",
    "Row",
    "fingerprint",
]

T = TypeVar("T")

_SCHEMA_VERSION: Final = 1
_APPLICATION_ID: Final = 0x49505241  # "IPRA": marks the file as an imaginepro-async journal
_SHOWN_KEYS: Final = 5

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    key            TEXT PRIMARY KEY,
    seq            INTEGER NOT NULL,
    line           INTEGER,
    digest         TEXT NOT NULL,
    state          TEXT NOT NULL,
    message_id     TEXT,
    result         TEXT,
    error          TEXT,
    files          TEXT,
    download_error TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    updated_at     REAL NOT NULL
);
"""


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

    @property
    def is_final(self) -> bool:
        """True for the states a run ends in (done, failed, uncertain, invalid)."""
        return self in _FINAL


_FINAL: Final = frozenset(
    {RequestState.DONE, RequestState.FAILED, RequestState.UNCERTAIN, RequestState.INVALID}
)


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


def fingerprint(keys: Sequence[str]) -> str:
    """A digest of a request set: its keys, in order."""
    digest = hashlib.sha256()
    for key in keys:
        digest.update(key.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


def _row(values: tuple[Any, ...]) -> Row:
    key, seq, line, digest, state, message_id, result, error, files, download_error, attempts = (
        values
    )
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
    )


_COLUMNS: Final = (
    "key, seq, line, digest, state, message_id, result, error, files, download_error, attempts"
)


def _listed(keys: Sequence[str]) -> str:
    shown = ", ".join(repr(k) for k in keys[:_SHOWN_KEYS])
    return shown + (f" and {len(keys) - _SHOWN_KEYS} more" if len(keys) > _SHOWN_KEYS else "")


class Journal:
    """The SQLite journal of one batch. Open it with ``await Journal.open(path)``.

    One process, one connection, one writer: every method runs in a worker thread, one at a
    time (a ``CapacityLimiter`` of 1), so the event loop never waits on the disk.
    """

    def __init__(self, path: str | os.PathLike[str], connection: sqlite3.Connection) -> None:
        self.path = os.fspath(path)
        self._db: sqlite3.Connection | None = connection
        self._limiter = anyio.CapacityLimiter(1)

    @classmethod
    async def open(cls, path: str | os.PathLike[str]) -> Journal:
        """Open (or create) the journal at ``path`` and take its lock.

        Raises:
            JournalBusyError: another process holds the journal, or the file is not a journal.
        """
        connection = await anyio.to_thread.run_sync(_connect, os.fspath(path))
        return cls(path, connection)

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        db = self._db
        if db is None:
            raise RuntimeError("the journal is closed")
        # Not abandoned on cancellation: a write that started is finished and committed first.
        return await anyio.to_thread.run_sync(fn, db, limiter=self._limiter)

    async def aclose(self) -> None:
        """Close the file (releasing its lock); safe to repeat."""
        db, self._db = self._db, None
        if db is not None:
            await anyio.to_thread.run_sync(db.close, limiter=self._limiter)

    async def reconcile(
        self, entries: Sequence[tuple[str, str, int | None]], *, source: str
    ) -> list[Row]:
        """Check the journal against the input and add its new requests as pending.

        Args:
            entries: ``(key, digest, line)`` of every valid request, in input order.
            source: a name for the input (a file name), kept for error messages.

        Returns:
            Every row, in input order.

        Raises:
            JournalMismatchError: the journal holds requests the input does not (or holds them
                with other contents): it was made from another input.
        """

        def run(db: sqlite3.Connection) -> list[Row]:
            with _transaction(db):
                known = {
                    key: (digest, seq)
                    for key, digest, seq in db.execute("SELECT key, digest, seq FROM requests")
                }
                wanted = {key: digest for key, digest, _ in entries}
                missing = [key for key in known if key not in wanted]
                changed = [k for k, (d, _) in known.items() if k in wanted and wanted[k] != d]
                if missing or changed:
                    raise JournalMismatchError(
                        _mismatch_text(self.path, db, source, missing, changed, len(known)),
                        missing=missing[:_SHOWN_KEYS],
                        changed=changed[:_SHOWN_KEYS],
                    )
                now = time.time()
                next_seq = max((seq for _, seq in known.values()), default=-1) + 1
                for key, digest, line in entries:
                    if key in known:
                        db.execute("UPDATE requests SET line = ? WHERE key = ?", (line, key))
                        continue
                    db.execute(
                        "INSERT INTO requests (key, seq, line, digest, state, updated_at) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (key, next_seq, line, digest, RequestState.PENDING.value, now),
                    )
                    next_seq += 1
                keys = [key for key, _, _ in entries]
                _set_meta(db, "fingerprint", fingerprint(keys))
                _set_meta(db, "source", source)
                _set_meta(db, "requests", str(len(keys)))
                order = {key: n for n, key in enumerate(keys)}
                rows = [_row(r) for r in db.execute(f"SELECT {_COLUMNS} FROM requests")]
                return sorted(rows, key=lambda r: order[r.key])

        return await self._call(run)

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
    ) -> None:
        """Record a request's new state (committed to disk before this returns).

        ``message_id`` and ``result`` are kept when not given; ``error`` replaces the last one when
        given, and is removed with ``clear_error``.
        """

        def run(db: sqlite3.Connection) -> None:
            with _transaction(db):
                db.execute(
                    "UPDATE requests SET state = ?, message_id = COALESCE(?, message_id), "
                    "result = COALESCE(?, result), "
                    "error = CASE WHEN ? THEN NULL ELSE COALESCE(?, error) END, "
                    "attempts = attempts + ?, updated_at = ? WHERE key = ?",
                    (
                        state.value,
                        message_id,
                        result,
                        clear_error,
                        error,
                        int(count_attempt),
                        time.time(),
                        key,
                    ),
                )

        await self._call(run)

    async def record_files(
        self, key: str, files: Sequence[str] | None, download_error: str | None
    ) -> None:
        """Record where a request's images were saved (or why they could not be)."""

        def run(db: sqlite3.Connection) -> None:
            with _transaction(db):
                db.execute(
                    "UPDATE requests SET files = ?, download_error = ?, updated_at = ? "
                    "WHERE key = ?",
                    (
                        None if files is None else json.dumps(list(files)),
                        download_error,
                        time.time(),
                        key,
                    ),
                )

        await self._call(run)

    async def rows(self) -> list[Row]:
        """Every row, in the order the requests were first recorded."""

        def run(db: sqlite3.Connection) -> list[Row]:
            return [_row(r) for r in db.execute(f"SELECT {_COLUMNS} FROM requests ORDER BY seq")]

        return await self._call(run)


class _transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _set_meta(db: sqlite3.Connection, name: str, value: str) -> None:
    db.execute(
        "INSERT INTO meta (name, value) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        (name, value),
    )


def _meta(db: sqlite3.Connection, name: str) -> str | None:
    found = db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
    return None if found is None else str(found[0])


def _mismatch_text(
    path: str,
    db: sqlite3.Connection,
    source: str,
    missing: Sequence[str],
    changed: Sequence[str],
    known: int,
) -> str:
    made_from = _meta(db, "source") or "another input"
    parts = []
    if missing:
        parts.append(
            f"{len(missing)} of its {known} requests are not in {source} ({_listed(missing)})"
        )
    if changed:
        parts.append(
            f"{len(changed)} requests have the same key but other contents ({_listed(changed)})"
        )
    return (
        f"the journal {path} was made from {made_from}, not from this input: "
        + "; ".join(parts)
        + ". Give the input it was made from to resume it, or a new --journal path to start a "
        "new batch."
    )


def _connect(path: str) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(path, timeout=0.5, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise JournalBusyError(f"cannot open the journal {path}: {exc}") from exc
    try:
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables and app_id != _APPLICATION_ID:
            raise JournalBusyError(
                f"{path} is an SQLite file but not an imaginepro-async journal; give another "
                "--journal path"
            )
        # Exclusive locking: the first write takes a lock held until close, so a second process
        # running the same journal fails here instead of submitting the same requests again.
        db.execute("PRAGMA locking_mode = EXCLUSIVE")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise JournalBusyError(f"cannot put the journal {path} in WAL mode (got {mode})")
        db.execute("PRAGMA synchronous = FULL")
        db.executescript(_SCHEMA)
        db.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
        with _transaction(db):
            # Always write: in exclusive locking mode, this takes the lock for good.
            _set_meta(db, "opened_at", repr(time.time()))
            version = _meta(db, "schema")
            if version is None:
                _set_meta(db, "schema", str(_SCHEMA_VERSION))
            elif version != str(_SCHEMA_VERSION):
                raise JournalBusyError(
                    f"the journal {path} has schema version {version}; this version of "
                    f"imaginepro-async reads version {_SCHEMA_VERSION}"
                )
    except sqlite3.OperationalError as exc:
        db.close()
        if "locked" in str(exc) or "busy" in str(exc):
            raise JournalBusyError(
                f"the journal {path} is in use by another process (another batch is running on "
                "it); wait for it to end, or give another --journal path"
            ) from exc
        raise JournalBusyError(f"cannot use the journal {path}: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        db.close()
        raise JournalBusyError(
            f"{path} is not an imaginepro-async journal ({exc}); give another --journal path"
        ) from exc
    except BaseException:
        db.close()
        raise
    return db
