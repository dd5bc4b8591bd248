"""The poll policy, rule by rule, as tables: the planner takes observations and times, no I/O.

Each row is a scenario: steps (submissions, looks and their answers, failed polls) at given API
seconds, then what the planner must have decided. The default ``PollPolicy`` throughout: first_poll
5, queued_interval 20, start_probe 20, probe_interval 10, finish_margin 0.3, overdue_interval 0.5,
deadline_grace 30.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from imaginepro_async import PollPolicy, Status
from imaginepro_async._scheduling.planner import Failure, PlannedJob, Planner, Verdict

POLICY = PollPolicy()
THROTTLE_WAIT = 1.0


class Run:
    """A planner and its jobs by name, driven by steps."""

    def __init__(self) -> None:
        self.pushed: list[PlannedJob] = []
        self.planner = Planner(
            POLICY, schedule=self.pushed.append, rng=random.Random(0), throttle_wait=THROTTLE_WAIT
        )
        self.jobs: dict[str, PlannedJob] = {}
        self.created: dict[str, float] = {}

    def step(self, step: tuple[Any, ...]) -> Verdict | None:
        """Play one step (see the rows below for their shapes)."""
        kind, name, *args = step
        planner = self.planner
        if kind in ("submit", "attach"):
            now, created = args[0], args[1]
            timeout = args[2] if len(args) > 2 else 900.0
            self.created[name] = created
            submitted = kind == "submit"
            self.jobs[name] = planner.track(
                name,
                now=now,
                submitted=submitted,
                created_at=created if submitted else None,
                timeout=timeout if submitted else None,
            )
            return None
        record = self.jobs[name]
        if kind in ("poll", "fail"):
            record.due = None  # the scheduler took it from its heap to poll it
        if kind in ("poll", "fetch"):
            status, progress, t = args
            return planner.observe(
                record,
                Status(status),
                progress,
                at=t,
                now=t,
                created_at=self.created[name],
                sent=t if kind == "poll" else None,
            )
        if kind == "fail":
            failure, t = args
            return planner.poll_failed(record, failure, now=t)
        if kind == "watch":
            every, t = args
            planner.watch(record, every, now=t)
        elif kind == "poke":
            planner.poke(record, now=args[0])
        return None

    def value(self, key: str) -> object:
        """``"a.due"`` is job a's field, ``"unpaid_starts"`` the planner's."""
        if "." in key:
            name, field = key.split(".")
            return getattr(self.jobs[name], field)
        if key == "head":
            head = self.planner.head()
            return None if head is None else head.message_id
        return getattr(self.planner, key)


def play(steps: list[tuple[Any, ...]], expected: dict[str, object]) -> None:
    """Play ``steps`` and check every expected value (``verdict``: of the last step)."""
    run = Run()
    verdict = None
    for step in steps:
        verdict = run.step(step)
    for key, want in expected.items():
        got = verdict if key == "verdict" else run.value(key)
        if isinstance(want, float):
            assert got == pytest.approx(want), key
        else:
            assert got == want, key


# (rule, steps, expected). Steps: ("submit", name, now, createdAt[, timeout]), ("attach", name,
# now, createdAt), ("poll" | "fetch", name, status, progress, t), ("fail", name, Failure, t),
# ("watch", name, every, t), ("poke", name, t).
QUEUE_RULES: list[tuple[str, list[tuple[Any, ...]], dict[str, object]]] = [
    (
        "only the head of the queue is polled; the others are parked until their deadline look",
        [("submit", "a", 0.0, 0.0), ("submit", "b", 1.0, 1.0), ("submit", "c", 2.0, 2.0)],
        {"a.due": 5.0, "b.due": 901.5, "c.due": 902.5, "head": "a"},
    ),
    (
        "the head is looked at every queued_interval while it stays QUEUED",
        [("submit", "a", 0.0, 0.0), ("submit", "b", 1.0, 1.0), ("poll", "a", "QUEUED", 0, 5.0)],
        {"a.due": 25.0, "b.due": 901.5, "saturated": True, "verdict": Verdict.GOES_ON},
    ),
    (
        "after a full account was seen, a new head's first look waits a queued_interval",
        [
            ("submit", "a", 0.0, 0.0),
            ("submit", "b", 1.0, 1.0),
            ("poll", "a", "QUEUED", 0, 5.0),
            ("poll", "a", "PROCESSING", 3, 25.0),
        ],
        {"b.due": 45.0, "head": "b", "saturated": True, "unpaid_starts": 1},
    ),
    (
        "with room in the account, a new head is first looked at first_poll after submission",
        [("submit", "a", 0.0, 0.0), ("submit", "b", 1.0, 1.0), ("poll", "a", "PROCESSING", 3, 5.0)],
        {"b.due": 6.0, "head": "b", "saturated": False, "unpaid_starts": 0},
    ),
    (
        "a job of ours seen finished frees a slot: the head is presumed started then",
        [
            ("attach", "r", 0.0, -100.0),
            ("poll", "r", "PROCESSING", 50, 0.0),
            ("submit", "q", 1.0, 1.0),
            ("poll", "q", "QUEUED", 0, 6.0),
            ("poll", "r", "DONE", 100, 8.0),
        ],
        {
            "q.due": 28.0,
            "q.anchor_time": 8.0,
            "q.in_queue": False,
            "r.ended": True,
            "head": None,
            "verdict": Verdict.ENDED,
        },
    ),
    (
        "a job that fails while queued frees no slot",
        [
            ("submit", "a", 0.0, 0.0),
            ("submit", "b", 1.0, 1.0),
            ("poll", "a", "QUEUED", 0, 5.0),
            ("poll", "a", "FAIL", 0, 25.0),
        ],
        {"b.anchor_time": None, "b.in_queue": True, "b.due": 45.0, "head": "b"},
    ),
    (
        "fewer of ours run than when the account was seen full: a new job is not parked",
        [
            ("submit", "a", 0.0, 0.0),
            ("submit", "b", 1.0, 1.0),
            ("submit", "c", 2.0, 2.0),
            ("poll", "a", "PROCESSING", 10, 5.0),
            ("poll", "b", "PROCESSING", 10, 5.0),
            ("poll", "c", "QUEUED", 0, 6.0),
            ("poll", "a", "DONE", 100, 30.0),
            ("poll", "b", "DONE", 100, 40.0),
            ("submit", "d", 41.0, 41.0),
        ],
        {"d.due": 46.0, "head": "d"},
    ),
    (
        "a job seen started means every job created before it has started too",
        [
            ("submit", "a", 0.0, 0.0),
            ("submit", "b", 1.0, 1.0),
            ("fetch", "b", "PROCESSING", 5, 3.0),
        ],
        {"a.due": 3.0, "a.in_queue": False, "b.in_queue": False, "head": None},
    ),
    (
        "a start seen directly used a slot: the next finish does not start the head again",
        [
            ("attach", "r", 0.0, -100.0),
            ("poll", "r", "PROCESSING", 50, 0.0),
            ("submit", "a", 0.0, 0.0),
            ("submit", "b", 1.0, 1.0),
            ("poll", "a", "QUEUED", 0, 5.0),
            ("poll", "a", "PROCESSING", 1, 25.0),
            ("poll", "r", "DONE", 100, 30.0),
        ],
        {"b.in_queue": True, "b.due": 45.0, "b.anchor_time": None, "unpaid_starts": 0},
    ),
    (
        "a status the SDK does not know is looked at again after probe_interval",
        [("attach", "w", 0.0, 0.0), ("poll", "w", "WEIRD", 0, 0.0)],
        {"w.due": 10.0, "verdict": Verdict.GOES_ON},
    ),
    (
        "a watched job is looked at at least every `every` seconds",
        [("attach", "r", 0.0, 0.0), ("poll", "r", "PROCESSING", 10, 0.0), ("watch", "r", 2.0, 1.0)],
        {"r.due": 3.0},
    ),
    (
        "a poke (after a cancel) looks at the job an overdue_interval later",
        [("attach", "r", 0.0, 0.0), ("poll", "r", "PROCESSING", 10, 0.0), ("poke", "r", 4.0)],
        {"r.due": 4.5},
    ),
]

DEADLINE_RULES: list[tuple[str, list[tuple[Any, ...]], dict[str, object]]] = [
    (
        "a job parked in the queue is looked at just after its server-side timeout",
        [("submit", "a", 0.0, 0.0), ("submit", "b", 1.0, 1.0, 10.0)],
        {"b.due": 11.5, "b.give_up": 41.0},
    ),
    (
        "looks are never later than the timeout's look",
        [("submit", "a", 0.0, 0.0, 10.0), ("poll", "a", "QUEUED", 0, 5.0)],
        {"a.due": 10.5},
    ),
    (
        "not ended at its timeout: the next forced look is at the end of the grace",
        [("submit", "a", 0.0, 0.0, 10.0), ("poll", "a", "WEIRD", 0, 10.5)],
        {"a.deadline": 40.0, "a.due": 20.5, "verdict": Verdict.GOES_ON},
    ),
    (
        "still not ended after the grace: given up (DEADLINE), whatever the status",
        [
            ("submit", "a", 0.0, 0.0, 10.0),
            ("poll", "a", "WEIRD", 0, 10.5),
            ("poll", "a", "WEIRD", 0, 20.5),
            ("poll", "a", "WEIRD", 0, 30.5),
            ("poll", "a", "WEIRD", 0, 40.0),
        ],
        {"a.ended": True, "a.due": None, "verdict": Verdict.DEADLINE},
    ),
    (
        "a queued job that never starts nor times out is given up too",
        [
            ("submit", "a", 0.0, 0.0, 10.0),
            ("poll", "a", "QUEUED", 0, 10.5),
            ("poll", "a", "QUEUED", 0, 40.0),
        ],
        {"a.ended": True, "head": None, "verdict": Verdict.DEADLINE},
    ),
    (
        "a job seen ending at the grace look has ended normally",
        [("submit", "a", 0.0, 0.0, 10.0), ("poll", "a", "FAIL", 0, 40.0)],
        {"a.ended": True, "verdict": Verdict.ENDED},
    ),
    (
        "an observation from a fetch never gives a job up (only the scheduler's own looks do)",
        [("submit", "a", 0.0, 0.0, 10.0), ("fetch", "a", "WEIRD", 0, 50.0)],
        {"a.ended": False, "verdict": Verdict.GOES_ON},
    ),
    (
        "a job followed by id gets the longest timeout (900 s) from when it was first followed",
        [("attach", "r", 0.0, 0.0), ("poll", "r", "PROCESSING", 10, 0.0)],
        {"r.deadline": 930.0, "r.give_up": 930.0},
    ),
    (
        "a job followed by id and never ending is given up after the longest timeout and grace",
        [
            ("attach", "r", 0.0, 0.0),
            ("poll", "r", "WEIRD", 0, 929.0),
            ("poll", "r", "WEIRD", 0, 930.0),
        ],
        {"r.ended": True, "verdict": Verdict.DEADLINE},
    ),
]


@pytest.mark.parametrize(("rule", "steps", "expected"), QUEUE_RULES + DEADLINE_RULES)
def test_rule(rule: str, steps: list[tuple[Any, ...]], expected: dict[str, object]) -> None:
    """Each rule of the poll policy decides as its row says."""
    play(steps, expected)


# Running jobs: (rule, anchor_time, first seen (time, progress) or None, overdue_steps, progress, at,
# expected wait).
NEXT_LOOK: list[tuple[str, float | None, tuple[float, float] | None, int, int, float, float]] = [
    ("no rate yet: look again after probe_interval", None, None, 0, 40, 100.0, 10.0),
    ("presumed start only: half the way, at most probe_interval", 0.0, None, 0, 49, 10.0, 5.0),
    ("presumed start only, far end: probe_interval", 0.0, None, 0, 9, 10.0, 10.0),
    ("real looks span too little of the job: refine halfway", None, (0.0, 0.0), 0, 9, 10.0, 45.0),
    ("real looks span enough: at the end plus finish_margin", None, (0.0, 0.0), 0, 49, 50.0, 50.3),
    ("the fastest of the two rates gives the end", 0.0, (40.0, 20.0), 0, 39, 60.0, 30.0),
    ("at its estimated end: overdue_interval", None, (0.0, 0.0), 0, 99, 100.0, 0.5),
    ("overdue again: the wait grows by half", None, (0.0, 0.0), 2, 99, 100.0, 1.125),
    ("overdue for long: at most overdue_max", None, (0.0, 0.0), 20, 99, 100.0, 10.0),
    ("a slow job is looked at within max_interval", None, (0.0, 0.0), 0, 1, 200.0, 60.0),
]


@pytest.mark.parametrize(
    ("rule", "anchor", "first_seen", "overdue_steps", "progress", "at", "wait"), NEXT_LOOK
)
def test_running_jobs_are_looked_at_near_their_end(
    rule: str,
    anchor: float | None,
    first_seen: tuple[float, float] | None,
    overdue_steps: int,
    progress: int,
    at: float,
    wait: float,
) -> None:
    """A running job's next look follows its progress rate as its row says."""
    run = Run()
    record = run.planner.track("r", now=0.0, submitted=False)
    record.anchor_time = anchor
    if first_seen is not None:
        record.first_seen_time, record.first_seen_progress = first_seen
    record.overdue_steps = overdue_steps
    assert run.planner.next_look(record, progress, at) - at == pytest.approx(wait)


# Failed polls: (rule, failures in a row (None: a successful look), expected verdict of the last).
FAILURES: list[tuple[str, list[Failure | None], Verdict]] = [
    ("a 429 slows, it does not fail", [Failure.THROTTLED] * 20, Verdict.GOES_ON),
    (
        "5xx and dropped connections are retried without end",
        [Failure.TRANSIENT] * 20,
        Verdict.GOES_ON,
    ),
    (
        "unreadable answers max_invalid times in a row end the job",
        [Failure.INVALID] * 5,
        Verdict.GIVE_UP,
    ),
    ("fewer unreadable answers do not", [Failure.INVALID] * 4, Verdict.GOES_ON),
    (
        "transient errors between unreadable answers neither count nor reset them",
        [*([Failure.INVALID] * 4), Failure.TRANSIENT, Failure.THROTTLED, Failure.INVALID],
        Verdict.GIVE_UP,
    ),
    (
        "a good answer resets the run of unreadable ones",
        [*([Failure.INVALID] * 4), None, Failure.INVALID],
        Verdict.GOES_ON,
    ),
    ("a 404 max_not_found times in a row ends the job", [Failure.NOT_FOUND] * 3, Verdict.GIVE_UP),
    ("a lagging replica's 404s do not", [Failure.NOT_FOUND] * 2, Verdict.GOES_ON),
    ("any other error ends the job at once", [Failure.FATAL], Verdict.GIVE_UP),
]


@pytest.mark.parametrize(("rule", "failures", "verdict"), FAILURES)
def test_failed_polls(rule: str, failures: list[Failure | None], verdict: Verdict) -> None:
    """Failed polls end a job, or delay its next look, as the row says."""
    run = Run()
    run.step(("attach", "r", 0.0, 0.0))
    got: Verdict | None = None
    for n, failure in enumerate(failures):
        now = float(n)
        if failure is None:
            got = run.step(("poll", "r", "PROCESSING", 10, now))
            continue
        got = run.step(("fail", "r", failure, now))
        record = run.jobs["r"]
        if got is Verdict.GOES_ON and failure is Failure.THROTTLED:
            assert record.due == pytest.approx(now + THROTTLE_WAIT)
        elif got is Verdict.GOES_ON:
            ceiling = min(POLICY.retry_cap, POLICY.retry_base * 2.0 ** (record.errors_in_row - 1))
            assert record.due is not None and now <= record.due <= now + ceiling
    assert got is verdict
    assert run.jobs["r"].ended is (verdict is Verdict.GIVE_UP)


# -- what is learnt: concurrency, durations, admission, fresh looks --------------------------------


def rated(policy: PollPolicy = POLICY, **options: Any) -> Run:
    """A run whose planner knows the poll budget's rate (10/s) and, maybe, the account's size."""
    run = Run()
    run.planner = Planner(
        policy,
        schedule=run.pushed.append,
        rng=random.Random(0),
        throttle_wait=THROTTLE_WAIT,
        poll_rate=10.0,
        **options,
    )
    return run


# (rule, submissions, jobs seen running, hint, expected hold?, expected concurrency). Nothing
# learnt yet: durations are the prior, exponential with mean expected_duration (60 s). The risk
# rule alone (no queue_horizon: see test_admission_rules.py's table HORIZONS).
RISK_ONLY = PollPolicy(queue_horizon=None)
ADMISSION: list[tuple[str, int, int, int | None, bool, int]] = [
    ("a few jobs ahead can end in time: no hold", 4, 1, None, False, 1),
    ("one at a time, 13 ahead of ~60 s each: the 14th would time out", 13, 1, None, True, 1),
    ("seen running 3 at once: the same queue drains 3 times faster", 13, 3, None, False, 3),
    ("three at once, 40 ahead: held", 40, 3, None, True, 3),
    ("the user's hint is a floor under what is seen", 40, 3, 10, False, 10),
]


@pytest.mark.parametrize(("rule", "ahead", "running", "hint", "held", "concurrency"), ADMISSION)
def test_submissions_wait_while_a_new_job_could_not_end_in_time(
    rule: str, ahead: int, running: int, hint: int | None, held: bool, concurrency: int
) -> None:
    """A new job is held while the jobs ahead would keep it queued past its timeout."""
    run = rated(RISK_ONLY, account_concurrency=hint)
    for n in range(ahead):
        run.step(("submit", f"j{n}", 0.0, float(n)))
    for n in range(running):
        run.step(("poll", f"j{n}", "PROCESSING", 1, 5.0))
    assert run.planner.concurrency == concurrency
    reason = run.planner.hold_reason(timeout=900.0, kind="imagine", now=5.0)
    assert (reason is not None) is held
    if held:
        assert f"{ahead} jobs are ahead" in str(reason)


def test_a_reserved_submission_counts_as_ahead() -> None:
    """Submissions admitted but not yet tracked count as jobs ahead of the next one."""
    run = rated(RISK_ONLY)
    for n in range(4):
        run.step(("submit", f"j{n}", 0.0, float(n)))
    assert run.planner.hold_reason(timeout=900.0, kind=None) is None
    run.planner.reserved = 5
    assert run.planner.hold_reason(timeout=900.0, kind=None) is not None
    # ... but not the submission's own place, reserved before its gate judges it again.
    assert run.planner.hold(timeout=900.0, kind=None, now=0.0, own=5) is None


# (rule, looks at a running job of ours: (time, progress), its duration as the admission rule
# takes it: None while it is only bounded from below)
RUNNING_DURATION: list[tuple[str, list[tuple[float, float]], float | None]] = [
    ("one look: no rate, only a bound", [(5.0, 10.0)], None),
    ("one point of progress more: still a bound", [(5.0, 10.0), (7.0, 11.0)], None),
    ("two points in 6 s: about 300 s", [(5.0, 10.0), (11.0, 12.0)], 300.0),
    ("refined at every look", [(5.0, 10.0), (11.0, 12.0), (35.0, 20.0)], 300.0),
]


@pytest.mark.parametrize(("rule", "looks", "duration"), RUNNING_DURATION)
def test_a_running_jobs_duration_is_taken_from_its_progress(
    rule: str, looks: list[tuple[float, float]], duration: float | None
) -> None:
    """From two points of progress on, a running job's whole duration counts as seen (rough at
    first, refined later): a bound alone would leave the curve an open tail."""
    run = rated()
    run.step(("submit", "r", 0.0, 0.0))
    for at, progress in looks:
        run.step(("poll", "r", "PROCESSING", progress, at))
    assert run.jobs["r"].expected == (None if duration is None else pytest.approx(duration))


# (rule, (first seen at, progress), seen DONE at, anchor, learnt duration)
LEARNT: list[tuple[str, tuple[float, float] | None, float, float | None, float]] = [
    ("from the progress at the first look", (10.0, 50.0), 20.0, None, 20.0),
    ("progress 0 at the first look: started then", (10.0, 0.0), 30.0, None, 20.0),
    ("never seen running: from the presumed start", None, 40.0, 5.0, 35.0),
]


@pytest.mark.parametrize(("rule", "first_seen", "done_at", "anchor", "duration"), LEARNT)
def test_durations_are_learnt_from_jobs_seen_done(
    rule: str,
    first_seen: tuple[float, float] | None,
    done_at: float,
    anchor: float | None,
    duration: float,
) -> None:
    """A job seen DONE adds how long it ran to its kind's durations."""
    run = rated()
    record = run.planner.track("r", now=0.0, submitted=False, kind="U1")
    record.anchor_time = anchor
    if first_seen is not None:
        record.first_seen_time, record.first_seen_progress = first_seen
    run.planner.observe(record, Status.DONE, 100, at=done_at, now=done_at)
    for _ in range(2):  # quantiles need three samples
        run.planner.durations.add("U1", duration)
    assert run.planner.durations.quantile("U1", 0.5) == pytest.approx(duration)


def test_the_first_look_follows_the_shortest_durations_of_the_kind() -> None:
    """After a presumed start, the first look is at the kind's 10 % duration, not start_probe."""
    run = Run()
    assert run.planner.first_look("U1") == POLICY.start_probe
    for seconds in (8.0, 9.0, 10.0, 11.0, 12.0):
        run.planner.durations.add("U1", seconds)
    for seconds in (200.0, 250.0, 300.0):
        run.planner.durations.add("video", seconds)
    assert run.planner.first_look("U1") == pytest.approx(8.4)
    assert run.planner.first_look("video") == pytest.approx(POLICY.max_interval)
    assert run.planner.first_look("imagine") == pytest.approx(8.7)  # pooled


# (rule, running jobs, expected longest wait of a running job)
FRESH: list[tuple[str, int, float]] = [
    ("budget free: every running job at least every fresh_interval", 10, 2.0),
    ("budget binds: the wait grows with the running jobs", 70, 10.0),
    ("thousands running: even past max_interval (the budget cannot do better)", 2100, 300.0),
]


@pytest.mark.parametrize(("rule", "running", "cap"), FRESH)
def test_free_budget_keeps_running_jobs_fresh(rule: str, running: int, cap: float) -> None:
    """A running job is looked at within fresh_interval while the budget allows it."""
    run = rated()
    for n in range(running):
        run.step(("attach", f"j{n}", 0.0, 0.0))
    assert run.planner.fresh_cap() == pytest.approx(cap)
    record = run.jobs["j0"]
    record.first_seen_time, record.first_seen_progress = 0.0, 0.0
    # A slow job whose end is far: the next look is no later than the cap.
    assert run.planner.next_look(record, 1, 100.0) - 100.0 == pytest.approx(cap)


def test_overdue_jobs_back_off_to_their_fair_share_when_the_budget_binds() -> None:
    """With 2,100 running, an overdue job's wait grows past overdue_max to the fair share."""
    run = rated()
    for n in range(2100):
        run.step(("attach", f"j{n}", 0.0, 0.0))
    record = run.jobs["j0"]
    record.first_seen_time, record.first_seen_progress = 0.0, 0.0
    record.overdue_steps = 20
    assert run.planner.next_look(record, 99, 100.0) - 100.0 == pytest.approx(300.0)


def test_a_full_account_caps_the_concurrency_seen() -> None:
    """Four seen running while an end was unseen, then the queue head seen waiting with three
    running: the account runs three."""
    run = rated()
    for n in range(6):
        run.step(("submit", f"j{n}", 0.0, float(n)))
    for n in range(3):
        run.step(("poll", f"j{n}", "PROCESSING", 10, 5.0))
    run.step(("poll", "j3", "PROCESSING", 1, 6.0))  # j0 ended unseen and j3 took its slot
    run.planner.unpaid_starts = 0  # as if that start had been paid by another end
    assert run.planner.concurrency == 4
    run.step(("poll", "j0", "DONE", 100, 7.0))
    run.step(("poll", "j4", "QUEUED", 0, 8.0))
    assert run.planner.concurrency == 3


def test_running_jobs_correct_the_short_first_ends() -> None:
    """The first jobs to end are the short ones: running jobs' progress rates weigh in too."""
    run = rated()
    for _ in range(3):
        run.planner.durations.add("imagine", 10.0)
    for n in range(7):
        run.step(("submit", f"j{n}", 0.0, float(n)))
        run.step(("poll", f"j{n}", "PROCESSING", 0, 0.0))
        run.step(("poll", f"j{n}", "PROCESSING", 10, 30.0))  # 10 % in 30 s: 300 s
    survival = run.planner.survival(None, 30.0)  # the jobs' kind is not named: pooled
    assert survival.quantile(0.5) == pytest.approx(300.0)  # 3 of 10 are short
    run.step(("poll", "j0", "DONE", 100, 300.0))
    assert run.jobs["j0"].expected is None  # an ended job leaves the running estimates


def test_a_free_budget_keeps_looking_at_an_overdue_job_every_overdue_interval() -> None:
    """Past its estimated end, a job is looked at every overdue_interval while the budget is free."""
    run = rated()
    record = run.planner.track("r", now=0.0, submitted=False)
    record.first_seen_time, record.first_seen_progress = 0.0, 0.0
    record.overdue_steps = 20
    assert run.planner.next_look(record, 99, 100.0) - 100.0 == pytest.approx(0.5)


def test_jobs_followed_by_id_do_not_count_in_the_admission_durations() -> None:
    """Jobs attached by id (maybe not ours, of unknown kind) leave the admission's durations alone."""
    run = rated()
    for n in range(20):
        run.step(("attach", f"a{n}", 0.0, 0.0))
        run.step(("poll", f"a{n}", "PROCESSING", 0, 0.0))
        run.step(("poll", f"a{n}", "PROCESSING", 10, 100.0))  # 1,000 s jobs
    run.step(("poll", "a0", "DONE", 100, 1000.0))
    assert run.planner.survival("imagine", 1000.0).events == 0
    assert run.planner.durations.quantile(None, 0.5) is None  # one sample of its own kind


# -- no job waits a probe interval for its first rate (issue 19) ------------------------------------

# (rule, budget rate known?, durations learnt of the kind, progress at the first look, wait)
FIRST_RATE: list[tuple[str, bool, tuple[float, ...], float, float]] = [
    ("no rate, budget unknown: probe_interval", False, (), 0.0, 10.0),
    ("no rate, budget free: the fresh-look cap, not probe_interval", True, (), 0.0, 2.0),
    ("a kind learnt short: at its learnt end, before probe_interval", False, (8.0,) * 5, 0.0, 8.0),
    ("a short kind seen half done: near what is left of it", False, (8.0,) * 5, 50.0, 4.0),
    ("a short kind seen at its end: no sooner than overdue_interval", False, (8.0,) * 5, 99.0, 0.5),
    ("a long kind: the other caps apply", True, (300.0,) * 5, 0.0, 2.0),
]


@pytest.mark.parametrize(("rule", "rated_budget", "learnt", "progress", "wait"), FIRST_RATE)
def test_a_job_without_a_rate_is_looked_at_again_soon(
    rule: str, rated_budget: bool, learnt: tuple[float, ...], progress: float, wait: float
) -> None:
    """A job seen running for the first time (no rate yet) is looked at again within the
    fresh-look cap, and near the learnt end of a short kind."""
    run = rated() if rated_budget else Run()
    for seconds in learnt:
        run.planner.durations.add("U1", seconds)
    record = run.planner.track("r", now=0.0, submitted=False, kind="U1")
    run.planner.observe(record, Status.PROCESSING, progress, at=5.0, now=5.0, sent=5.0)
    assert record.due == pytest.approx(5.0 + wait)


# (rule, durations learnt of the kind, when a new job of it is first looked at after creation)
FIRST_LOOK: list[tuple[str, tuple[float, ...], float]] = [
    ("nothing learnt: first_poll", (), 5.0),
    ("a kind learnt longer than first_poll: first_poll", (30.0,) * 5, 5.0),
    ("a kind learnt at 3 s: at 3 s, not 2 s after its end", (3.0,) * 5, 3.0),
    ("a kind learnt near 0: no sooner than overdue_interval", (0.1,) * 5, 0.5),
]


@pytest.mark.parametrize(("rule", "learnt", "first"), FIRST_LOOK)
def test_a_short_kind_is_first_looked_at_near_its_end(
    rule: str, learnt: tuple[float, ...], first: float
) -> None:
    """A submitted job is first looked at ``first_poll`` after its creation, or near its kind's
    shortest durations when they are shorter."""
    run = rated()
    for seconds in learnt:
        run.planner.durations.add("describe", seconds)
    record = run.planner.track("r", now=10.0, submitted=True, created_at=10.0, kind="describe")
    assert record.due == pytest.approx(10.0 + first)


# (rule, jobs that ended: (last progress seen, failed?), progress of a running job, its fresh
# look's factor). Keller: looks denser where the hazard is higher, the same number in all.
FRESH_BY_HAZARD: list[tuple[str, list[tuple[float, bool]], float, float]] = [
    ("fewer than 5 failures: even", [(50.0, True)] * 4 + [(100.0, False)] * 20, 55.0, 1.0),
    (
        "failures last seen between 40 and 60 %: looked at 1.7 times as often there",
        [(45.0, True)] * 5 + [(55.0, True)] * 5 + [(100.0, False)] * 40,
        55.0,
        0.589,
    ),
    (
        "... and at most 1.5 times less often where none failed",
        [(45.0, True)] * 5 + [(55.0, True)] * 5 + [(100.0, False)] * 40,
        85.0,
        1.5,
    ),
    (
        "failures everywhere alike: even",
        [(float(p), True) for p in range(5, 100, 10)] + [(100.0, False)] * 90,
        35.0,
        1.0,
    ),
]


@pytest.mark.parametrize(("rule", "ended", "progress", "factor"), FRESH_BY_HAZARD)
def test_fresh_looks_follow_where_jobs_fail(
    rule: str, ended: list[tuple[float, bool]], progress: float, factor: float
) -> None:
    """The fresh-look interval of a running job scales with one over the square root of the
    hazard at its progress, relative to the mean over the job (``FailurePoints``)."""
    run = rated()
    for last, failed in ended:
        run.planner.failures.ended(last, failed=failed)
    record = run.planner.track("r", now=0.0, submitted=False)
    run.planner.observe(record, Status.PROCESSING, progress, at=1.0, now=1.0, sent=1.0)
    assert run.planner.fresh_cap(record) == pytest.approx(POLICY.fresh_interval * factor, rel=0.03)


# (rule, progress of a running job, its rate (points per second, None: unknown), its next
# fresh look in seconds) with failures last seen at 45 and 55 %, and looks 2 s apart when even.
# Smoothed over their neighbours, the factors are 1.5 up to 30 %, F3 = 0.81 from 30 %, F4 = 0.589
# from 40 %, ..., 1.5 again from 70 % (the looks per job of even ones).
F3, F4 = 0.81, 0.589
GAP_ALONG_PROGRESS: list[tuple[str, float, float | None, float]] = [
    ("rate unknown: the factor where it is (quiet: 3 s)", 25.0, None, 3.0),
    ("deep in a quiet stretch: 3 s", 5.0, 1.0, 3.0),
    (
        "entering where jobs fail in 2 s: 2 s of quiet, the rest at the next stretch's",
        28.0,
        1.0,
        2.0 + (1 - 2.0 / 3.0) * 2 * F3,
    ),
    (
        "a fast job: 1 s of quiet, 1 s of the next, the rest at the one after",
        20.0,
        10.0,
        2.0 + (1 - 1 / 3.0 - 1 / (2 * F3)) * 2 * F4,
    ),
    ("a fast job in quiet stretches: 3 s, however many it crosses", 70.0, 10.0, 3.0),
    ("near the end: as the last stretch asks", 95.0, 1.0, 3.0),
]


@pytest.mark.parametrize(("rule", "progress", "rate", "gap"), GAP_ALONG_PROGRESS)
def test_the_next_fresh_look_follows_the_progress_it_will_cross(
    rule: str, progress: float, rate: float | None, gap: float
) -> None:
    """The gap to the next fresh look spends one look's worth of the density where jobs fail
    along the progress the job will go through, not only at the progress it is at."""
    from imaginepro_async._scheduling.estimates import FailurePoints

    points = FailurePoints()
    for last, failed in [(45.0, True)] * 5 + [(55.0, True)] * 5 + [(100.0, False)] * 40:
        points.ended(last, failed=failed)
    assert points.gap(progress, rate, 2.0) == pytest.approx(gap, rel=0.03)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_looks_per_job_stay_those_of_even_looks(seed: int) -> None:
    """Clipped to [0.5, 1.5], the factors are scaled so that a job crossing every tenth of
    progress gets as many fresh looks as with even ones (the mean of 1 / factor is 1)."""
    from imaginepro_async._scheduling.estimates import FailurePoints

    points, rng = FailurePoints(), random.Random(seed)
    for _ in range(80):
        failed = rng.random() < 0.2
        points.ended(rng.uniform(20, 80) if failed else 100.0, failed=failed)
    factors = [points.factor(10.0 * stretch + 5.0) for stretch in range(10)]
    assert all(0.5 <= f <= 1.5 for f in factors) and min(factors) < 1.0 < max(factors)
    assert sum(1.0 / f for f in factors) / 10 == pytest.approx(1.0, abs=0.005)


def test_looks_follow_where_jobs_fail_around_the_fair_share_too() -> None:
    """With the budget binding (fair share 5 s), a job where jobs fail is looked at more often
    than the fair share, one where none fail less often: the factor is no longer clipped at it."""
    run = rated()
    for last, failed in [(45.0, True)] * 5 + [(55.0, True)] * 5 + [(100.0, False)] * 40:
        run.planner.failures.ended(last, failed=failed)
    records = [run.planner.track(f"j{n}", now=0.0, submitted=False) for n in range(50)]
    for record in records:
        run.planner.observe(record, Status.PROCESSING, 10, at=1.0, now=1.0, sent=1.0)
    failing, quiet = records[0], records[1]
    run.planner.observe(failing, Status.PROCESSING, 50, at=2.0, now=2.0, sent=2.0)
    fair = 50 / (POLICY.budget_share * 10.0)
    assert run.planner.fresh_cap(failing) == pytest.approx(0.589 * fair, rel=0.03)
    assert run.planner.fresh_cap(quiet) == pytest.approx(1.5 * fair, rel=0.03)


def test_failures_are_learnt_from_jobs_seen_running() -> None:
    """A job seen running then FAIL counts a failure where it was last seen; one seen DONE went
    through every stretch; a job never seen running tells nothing."""
    run = rated()
    for name, steps in (
        ("failed", [("PROCESSING", 42, 1.0), ("FAIL", 42, 3.0)]),
        ("done", [("PROCESSING", 10, 1.0), ("DONE", 100, 9.0)]),
        ("unseen", [("FAIL", 0, 2.0)]),
    ):
        record = run.planner.track(name, now=0.0, submitted=False)
        for status, progress, at in steps:
            run.planner.observe(record, Status(status), progress, at=at, now=at, sent=at)
    assert run.planner.failures.failures == 1


# (rule, steps after two submissions on a two-slot account, does the admission's input move?)
CHANGES: list[tuple[str, list[tuple[Any, ...]], bool]] = [
    (
        "a look at a running job that goes on, its duration known: no change",
        [("poll", "a", "PROCESSING", 20, 10.0), ("poll", "a", "PROCESSING", 30, 15.0)],
        False,
    ),
    (
        "a running job's duration first learnt from its progress: a change",
        [("poll", "a", "PROCESSING", 20, 10.0)],
        True,
    ),
    ("a look at the queue head still queued: no change", [("poll", "c", "QUEUED", 0, 10.0)], False),
    ("a queued job seen started: a change", [("poll", "c", "PROCESSING", 1, 10.0)], True),
    ("a job of ours seen ended: a change", [("poll", "a", "DONE", 100, 10.0)], True),
]


@pytest.mark.parametrize(("rule", "steps", "changed"), CHANGES)
def test_held_submissions_are_judged_again_only_when_their_input_moves(
    rule: str, steps: list[tuple[Any, ...]], changed: bool
) -> None:
    """``changes`` (what makes the scheduler judge held submissions again) moves on an end, a
    start seen or a duration first learnt, not at every look."""
    run = rated()
    for name, t in (("a", 0.0), ("b", 1.0), ("c", 2.0)):
        run.step(("submit", name, t, t))
    run.step(("poll", "a", "PROCESSING", 10, 5.0))
    run.step(("poll", "b", "PROCESSING", 10, 5.0))
    run.step(("poll", "c", "QUEUED", 0, 5.0))
    before = run.planner.changes
    for step in steps:
        if step is steps[-1]:
            before = run.planner.changes
        run.step(step)
    assert (run.planner.changes != before) is changed


# -- a cold start: jobs followed by id under a binding budget (issue 19) ----------------------------

# (rule, jobs followed, createdAt, updatedAt, progress at the look at t = 12, wait after it)
STAMPED_END: list[tuple[str, int, float | None, float | None, float, float]] = [
    ("binds: 20 % at 10 s, never queued: just after its end (40 s on)", 1000, 0.0, 10.0, 20.0,
     40.3),
    ("binds: queued 60 s first: the latest end is far, the fair share caps it", 1000, -60.0, 10.0,
     20.0, 1000 / 7),
    ("budget free: the stamps are not needed, the fresh-look cap is shorter", 1, 0.0, 10.0, 20.0,
     2.0),
    ("binds, progress 0: no rate to bound, probe_interval", 1000, 0.0, 10.0, 0.0, 10.0),
    ("binds, no updatedAt: probe_interval", 1000, 0.0, None, 20.0, 10.0),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "jobs", "created", "updated", "progress", "wait"), STAMPED_END)
def test_a_job_seen_running_is_looked_at_after_the_end_its_stamps_allow(
    rule: str,
    jobs: int,
    created: float | None,
    updated: float | None,
    progress: float,
    wait: float,
) -> None:
    """It reached ``progress`` % at updatedAt, running at most since createdAt: when the budget
    binds, its next look is just after the end that rate allows (within the fair share)."""
    run = rated()
    for n in range(jobs):
        run.step(("attach", f"j{n}", 0.0, 0.0))
    record = run.jobs["j0"]
    record.due = None
    run.planner.observe(
        record,
        Status.PROCESSING,
        progress,
        at=12.0,
        now=12.0,
        created_at=created,
        updated_at=updated,
        sent=12.0,
    )
    assert record.due == pytest.approx(12.0 + wait)


# (rule, budget rate known?, jobs attached at t = 0, then one more at ``later``, the dues)
BOOKED: list[tuple[str, bool, int, float, list[float]]] = [
    ("a window's worth at once, then at the budget's rate", True, 12, 0.0,
     [0.0] * 11 + [0.1, 0.2]),
    ("attached after the booked ones: at once", True, 12, 5.0, [0.0] * 11 + [0.1, 5.0]),
    ("the budget's rate unknown: all at once", False, 12, 0.0, [0.0] * 13),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "rated_budget", "jobs", "later", "dues"), BOOKED)
def test_first_looks_of_jobs_followed_by_id_are_booked_at_the_budgets_rate(
    rule: str, rated_budget: bool, jobs: int, later: float, dues: list[float]
) -> None:
    """Thousands attached at once are not all due at once: a look due at a known end is not
    queued behind them."""
    run = rated() if rated_budget else Run()
    for n in range(jobs):
        run.step(("attach", f"j{n}", 0.0, 0.0))
    run.step(("attach", "last", later, 0.0))
    assert [run.jobs[name].due for name in [*(f"j{n}" for n in range(jobs)), "last"]] == (
        pytest.approx(dues)
    )


def test_a_look_at_a_stamped_end_takes_the_slot_of_a_later_first_look() -> None:
    """30 attached (booked until 2.9 s); one seen at 20 % ending at 1.0 s: the next first look
    booked moves one slot later (2.1 s instead of 2.0 s)."""
    run = rated()
    for n in range(30):
        run.step(("attach", f"j{n}", 0.0, 0.0))
    record = run.jobs["j0"]
    record.due = None
    run.planner.observe(
        record, Status.PROCESSING, 20, at=0.0, now=0.0, created_at=-0.2, updated_at=0.0, sent=0.0
    )
    assert record.due == pytest.approx(0.8 + POLICY.finish_margin)
    run.step(("attach", "next", 0.0, 0.0))
    assert run.jobs["next"].due == pytest.approx(2.1)
