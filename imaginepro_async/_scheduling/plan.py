"""The planner's vocabulary: what it keeps per job (``PlannedJob``) and what it answers (``Verdict``,
``Failure``). Plain records, no logic: the rules are in ``planner.py``.
"""

from __future__ import annotations

import enum

from imaginepro_async._models import Status

__all__ = ["Failure", "PlannedJob", "Verdict"]


class Verdict(enum.Enum):
    """What an observation or a failed poll means for the job."""

    GOES_ON = "goes on"  # still followed; its next look is in ``record.due``
    ENDED = "ended"  # seen DONE or FAIL
    DEADLINE = "deadline"  # not ended long after its server-side timeout: given up
    GIVE_UP = "give up"  # a failed poll that ends the job (the poll's error is its outcome)


class Failure(enum.Enum):
    """Why a poll failed, as far as the policy cares."""

    THROTTLED = "throttled"  # 429: the budget pauses; look again one window later
    TRANSIENT = "transient"  # 5xx, connection: back off and retry
    INVALID = "invalid"  # an answer we cannot read: retried a few times in a row
    NOT_FOUND = "not found"  # 404: retried a few times in a row (a lagging replica)
    FATAL = "fatal"  # anything else (401, 400): ends the job


class PlannedJob:
    """What the scheduler knows about one followed job (its handle's data lives in ``JobState``)."""

    __slots__ = (
        "anchor_time",
        "cancel_requested",
        "deadline",
        "due",
        "ended",
        "ends_by",
        "entry",
        "errors_in_row",
        "expected",
        "fifo_key",
        "first_seen_progress",
        "first_seen_time",
        "give_up",
        "heard_at",
        "hinted_at",
        "in_flight",
        "in_queue",
        "invalid_in_row",
        "kind",
        "last_poll_at",
        "message_id",
        "not_found_in_row",
        "overdue_steps",
        "progress",
        "queue_entry",
        "registered_at",
        "status",
        "submitted",
        "watchers",
    )

    def __init__(
        self, message_id: str, *, now: float, submitted: bool, fifo_key: tuple[float, int]
    ) -> None:
        self.message_id = message_id
        self.registered_at = now
        self.submitted = submitted  # submitted by this client (so it waits behind our older jobs)
        self.kind: str | None = None  # endpoint and button, for the durations learnt per kind
        self.expected: float | None = None  # its whole duration, from its progress rate
        self.fifo_key = fifo_key  # (createdAt, order of tracking): the account's FIFO order
        self.status: Status | None = None  # at the latest observation
        self.progress = 0.0  # ... and its progress
        self.last_poll_at: float | None = None
        self.due: float | None = None  # the next look (None: parked, or being polled)
        self.entry = 0  # the scheduler's heap entry of ``due``
        self.in_flight = False  # a poll of it is under way (set by the scheduler)
        self.in_queue = False  # not known to have started
        self.queue_entry = 0
        self.deadline: float | None = None  # a look no later than this
        self.give_up: float | None = None  # not ended when looked at after this: DEADLINE
        self.first_seen_time: float | None = None  # first look while running, and its progress
        self.first_seen_progress = 0.0
        self.anchor_time: float | None = None  # presumed start (progress 0), from a freed slot
        # The latest it can end, from its createdAt and updatedAt (None: not known; planner.py).
        self.ends_by: float | None = None
        self.overdue_steps = 0
        # Intervals asked for by ``updates(every=...)``: a tuple, so that a record holds no
        # container of its own for the garbage collector to walk (see ``Scheduler``).
        self.watchers: tuple[float, ...] = ()
        self.errors_in_row = 0  # failed polls in a row: all kinds (for the backoff) ...
        self.invalid_in_row = 0  # ... and the two kinds that can end a job
        self.not_found_in_row = 0
        self.cancel_requested = False
        self.ended = False
        self.heard_at: float | None = None  # last webhook delivery (None: no webhooks expected)
        self.hinted_at: float | None = None  # last look a delivery asked for

    def __repr__(self) -> str:
        return f"<PlannedJob {self.message_id} {self.status} due={self.due}>"
