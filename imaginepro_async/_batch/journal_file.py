"""The journal's file: its schema, how it is created, opened, checked and locked.

**The file alone is the truth.** The journal uses SQLite's rollback journal (``journal_mode=DELETE``)
with ``synchronous=FULL``: every commit is in ``run.db`` itself before the call returns (and survives
a power cut), so copying or moving ``run.db`` loses nothing. WAL mode was refused on purpose: its
commits live in ``run.db-wal`` until a checkpoint, so the main file alone is stale. A process killed
in the middle of a commit leaves a ``run.db-journal`` beside it, which SQLite uses to undo the
half-written commit on the next open; a copy torn that way fails the integrity check and is refused.

**Only a missing path starts a new journal.** An existing file that is empty, not SQLite, damaged,
another program's SQLite file, or a journal of another schema is refused (``NotAJournalError``), so a
lost or broken journal never silently sends every request again.

**One process at a time**: ``run.db.lock`` is held with ``flock`` while the journal is open (a
SQLite locking mode would keep state out of the main file); it guards the path (creating a new
journal there). The file itself, reached through any path, is held by ``journal_watch.hold``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from typing import Final

from imaginepro_async._errors import JournalBusyError, NotAJournalError

__all__ = ["connect", "get_meta", "set_meta", "take_lock", "transaction"]

_SCHEMA_VERSION: Final = 2

_APPLICATION_ID: Final = 0x49505241  # "IPRA": marks the file as an imaginepro-async journal

_SQLITE_HEADER: Final = b"SQLite format 3\x00"

_SCHEMA: Final = """
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE requests (
    key            TEXT PRIMARY KEY,
    seq            INTEGER NOT NULL UNIQUE,
    line           INTEGER,
    run            TEXT,
    digest         TEXT NOT NULL,
    parent         TEXT NOT NULL,
    prompt         TEXT,
    timeout        INTEGER,
    webhook        TEXT,
    mask_path      TEXT,
    mask_data      BLOB,
    state          TEXT NOT NULL,
    message_id     TEXT,
    result         TEXT,
    error          TEXT,
    files          TEXT,
    download_error TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    updated_at     REAL NOT NULL,
    sent_at        REAL,
    reconciled     TEXT
);
"""


class transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        elif self._db.in_transaction:
            self._db.execute("ROLLBACK")


def set_meta(db: sqlite3.Connection, name: str, value: str) -> None:
    db.execute(
        "INSERT INTO meta (name, value) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        (name, value),
    )


def get_meta(db: sqlite3.Connection, name: str) -> str | None:
    found = db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
    return None if found is None else str(found[0])


def take_lock(path: str) -> int:
    descriptor = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise JournalBusyError(
            f"the journal {path} is in use by another process (another batch is running on "
            "it); wait for it to end, or give another --journal path"
        ) from None
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def _create(path: str) -> None:
    """Make a new journal beside ``path``, then move it there: a journal is never half made."""
    temp = f"{path}.{os.getpid()}.new"
    db = sqlite3.connect(temp, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = DELETE")
        with transaction(db):
            for statement in _SCHEMA.split(";"):
                db.execute(statement)
            db.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
            set_meta(db, "schema", str(_SCHEMA_VERSION))
        db.close()
        os.replace(temp, path)
    finally:
        db.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def connect(path: str) -> sqlite3.Connection:
    if os.path.lexists(path):
        _check_header(path)
    else:
        try:
            _create(path)
        except (sqlite3.Error, OSError) as exc:
            raise JournalBusyError(f"cannot create the journal {path}: {exc}") from exc
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise JournalBusyError(f"cannot open the journal {path}: {exc}") from exc
    try:
        db.execute("PRAGMA journal_mode = DELETE")
        db.execute("PRAGMA synchronous = FULL")
        _check_journal(db, path)
        _add_columns(db)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise NotAJournalError(_not_ours(path, f"SQLite cannot read it: {exc}")) from exc
    except BaseException:
        db.close()
        raise
    return db


# Columns added to schema 2 since its first release (nullable: older versions ignore them).
_ADDED: Final = (("sent_at", "REAL"), ("reconciled", "TEXT"))


def _add_columns(db: sqlite3.Connection) -> None:
    """Give a journal made by an earlier release the columns it lacks (``sent_at``, ...)."""
    have = {values[1] for values in db.execute("PRAGMA table_info(requests)")}
    missing = [(name, kind) for name, kind in _ADDED if name not in have]
    if missing:
        with transaction(db):
            for name, kind in missing:
                db.execute(f"ALTER TABLE requests ADD COLUMN {name} {kind}")


def _not_ours(path: str, why: str) -> str:
    return (
        f"{path} is not an imaginepro-async journal ({why}); nothing was sent. Give the path of "
        "the journal to resume, or a path where no file exists to start a new batch"
    )


def _check_header(path: str) -> None:
    try:
        with open(path, "rb") as file:
            header = file.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise NotAJournalError(_not_ours(path, f"it cannot be read: {exc}")) from exc
    if not header:
        raise NotAJournalError(_not_ours(path, "the file is empty"))
    if header != _SQLITE_HEADER:
        raise NotAJournalError(_not_ours(path, "the file is not an SQLite database"))


def _check_journal(db: sqlite3.Connection, path: str) -> None:
    if db.execute("PRAGMA application_id").fetchone()[0] != _APPLICATION_ID:
        raise NotAJournalError(_not_ours(path, "it is another program's SQLite database"))
    problems = [r[0] for r in db.execute("PRAGMA quick_check").fetchall()]
    if problems != ["ok"]:
        raise NotAJournalError(_not_ours(path, f"it is damaged: {problems[0]}"))
    version = get_meta(db, "schema")
    if version != str(_SCHEMA_VERSION):
        raise NotAJournalError(
            _not_ours(
                path,
                f"it has schema version {version}, and this version of imaginepro-async reads "
                f"version {_SCHEMA_VERSION}; finish it with the version that made it",
            )
        )
