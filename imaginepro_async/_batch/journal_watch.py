"""The journal is one file, whatever path reaches it: held by its inode, watched while a run uses it.

**One run per file.** ``run.db.lock`` (``journal_file.take_lock``) is named after the path, so a
symlink or a hard link to the same ``run.db`` has another lock file. The file itself is therefore
also held with ``flock`` on an open descriptor of ``run.db`` (its device and inode): a second run
through any path to it is refused. ``flock`` and SQLite's own POSIX locks do not interact on Linux;
the descriptor is closed only after SQLite's connection, so no POSIX lock of SQLite is dropped.

**The file under a run stays the file the run opened.** Before every journal call, ``Watch.check``
compares the path's inode with the held one (deleted, moved away, replaced by another file) and the
SQLite header's file change counter with the one of this run's last commit (overwritten in place,
say an older copy copied over it). On any change the run stops with ``JournalLostError`` before it
reads or writes anything more, and a copy of what this run recorded is saved beside the path
(``run.db.saved-<time>``), so that the message can name a rerun that pays for nothing twice.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Mapping
from typing import Final

import attrs

from imaginepro_async._errors import JournalBusyError, JournalLostError

__all__ = ["Sent", "Watch", "hold"]

_COUNTER_AT: Final = 24  # the SQLite header's "file change counter": 4 bytes, big-endian
_SHOWN: Final = 5


@attrs.frozen(kw_only=True)
class Sent:
    """A request this run sent, as a saved copy needs it: its row (the mask's bytes left out) and
    its messageId (None: not heard back)."""

    message_id: str | None
    key: str
    line: int | None
    digest: str
    parent: str
    prompt: str | None
    timeout: int | None
    webhook: str | None
    mask_path: str | None


def hold(path: str) -> int:
    """An open descriptor of the journal's file, locked with ``flock`` (the file, not the path).

    Raises:
        JournalBusyError: another run holds this file, through this path or another one.
    """
    descriptor = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise JournalBusyError(
            f"the journal {path} is in use by another process (another batch is running on this "
            "file, through this path or another link to it); wait for it to end, or give another "
            "--journal path"
        ) from None
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def _counter(descriptor: int) -> bytes:
    return os.pread(descriptor, 4, _COUNTER_AT)


class Watch:
    """Notices when the file at ``path`` is no longer the one held by ``descriptor``.

    ``sent`` is what this run sent, kept by the journal, by key.
    """

    def __init__(self, path: str, descriptor: int, sent: Mapping[str, Sent]) -> None:
        self.path = path
        self._descriptor = descriptor
        held = os.fstat(descriptor)
        self._identity = (held.st_dev, held.st_ino)
        self._counter = _counter(descriptor)
        self._sent = sent
        self.lost: JournalLostError | None = None

    def committed(self) -> None:
        """This run committed: its change counter is the one to expect from now on."""
        self._counter = _counter(self._descriptor)

    def check(self, db: sqlite3.Connection) -> None:
        """Raise ``JournalLostError`` if the file at the path is not this run's journal any more."""
        if self.lost is not None:
            raise self.lost
        what = self._what_happened()
        if what is None:
            return
        happened, in_place = what
        self.lost = JournalLostError(self._text(db, happened, in_place), path=self.path)
        raise self.lost

    def _what_happened(self) -> tuple[str, bool] | None:
        path = self.path
        try:
            now = os.stat(path)
        except FileNotFoundError:
            if os.fstat(self._descriptor).st_nlink == 0:
                return f"the journal {path} was deleted while the batch ran", False
            return f"the journal {path} was moved away while the batch ran", False
        if (now.st_dev, now.st_ino) != self._identity:
            return (
                f"the journal {path} was replaced by another file while the batch ran (an older "
                "copy moved back over it, or another journal)",
                False,
            )
        if _counter(self._descriptor) != self._counter:
            return (
                f"the journal {path} was overwritten in place by another program while the batch "
                "ran (an older copy copied over it, say): it no longer holds what this run recorded",
                True,
            )
        return None

    def _text(self, db: sqlite3.Connection, happened: str, in_place: bool) -> str:
        sent = len(self._sent)
        known = [k for k, m in self._sent.items() if m.message_id is not None][:_SHOWN]
        try:
            saved = self._save(db, in_place)
        except (sqlite3.Error, OSError) as exc:
            shown = ", ".join(f"{k!r} → {self._sent[k].message_id}" for k in known)
            return (
                f"{happened}; the batch stopped at once, nothing more was sent. A copy of this "
                f"run's journal could not be saved ({exc}). Do NOT run the same command again: "
                f"the file at {self.path} does not record the {sent} requests this run sent, so a "
                "rerun would send them again and pay for them twice"
                + (f" (some of them: {shown})" if shown else "")
                + ". Put back the journal this run wrote, if a copy exists, then rerun."
            )
        rerun = (
            "it would start a new journal and send every request again, paying twice for those "
            "already sent"
            if not os.path.lexists(self.path)
            else f"the file there does not record the {sent} requests this run sent, so it would "
            "send them again and pay for them twice"
        )
        return (
            f"{happened}; the batch stopped at once, nothing more was sent. This run's journal "
            f"({sent} requests sent by this run) is saved as {saved}. Do not run the same command "
            f"on {self.path} as it is now: {rerun}. Put the saved copy in its place "
            f"(mv {saved} {self.path}), then run the same command again: it resumes from it and "
            "pays for nothing twice."
        )

    def _save(self, db: sqlite3.Connection, in_place: bool) -> str:
        """Copy what this connection sees to a new file beside the path; return its name."""
        saved = f"{self.path}.saved-{time.strftime('%Y%m%d-%H%M%S')}"
        if os.path.lexists(saved):
            saved = f"{saved}-{os.getpid()}"
        temp = f"{saved}.new"
        target = sqlite3.connect(temp, isolation_level=None)
        try:
            db.backup(target)
            if in_place:
                # Overwritten in place: what this connection sees now is the other copy. Mark
                # every request this run sent, so that a rerun follows or reconciles it.
                _overlay(target, self._sent)
            target.close()
            os.replace(temp, saved)
        finally:
            target.close()
            if os.path.lexists(temp):
                os.unlink(temp)
        return saved


def _overlay(db: sqlite3.Connection, sent: Mapping[str, Sent]) -> None:
    db.execute("BEGIN IMMEDIATE")
    for key, request in sent.items():
        message_id = request.message_id
        if db.execute("SELECT 1 FROM requests WHERE key = ?", (key,)).fetchone() is None:
            # Not in the other copy at all: add it back, as sent (its mask is not needed again).
            db.execute(
                "INSERT INTO requests (key, seq, line, digest, parent, prompt, timeout, webhook, "
                "mask_path, state, message_id, updated_at) VALUES (?, (SELECT coalesce(max(seq), "
                "-1) + 1 FROM requests), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key, request.line, request.digest, request.parent, request.prompt,
                    request.timeout, request.webhook, request.mask_path,
                    "uncertain" if message_id is None else "submitted", message_id, time.time(),
                ),
            )  # fmt: skip
        elif message_id is not None:
            db.execute(
                "UPDATE requests SET state = 'submitted', message_id = ?, result = NULL "
                "WHERE key = ? AND state NOT IN ('done', 'submitted')",
                (message_id, key),
            )
        else:
            db.execute(
                "UPDATE requests SET state = 'uncertain' "
                "WHERE key = ? AND state IN ('pending', 'failed') AND message_id IS NULL",
                (key,),
            )
    db.execute("COMMIT")
