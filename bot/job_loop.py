"""The job loop: takes due jobs from the store, asks AKOOL about them, and hands finished ones to
the notifier.

Each job goes its own way through the loop: the moment AKOOL's answer for it is recorded, it is
shown or delivered, whatever else is in flight, and a callback's job is confirmed and delivered
by the process that received the callback, ahead of every due poll.

The database is the queue and this loop is disposable: after a restart it simply finds every
unfinished job due again. One failing job never stops the loop; a new job wakes it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from bot import logs, stored_text
from bot.akool import AkoolClient, AkoolError, ImageJob, ImageStatus
from bot.budget import Budget, RequestKind
from bot.i18n import Text
from bot.metrics import Metrics
from bot.notifier import Notifier, RetryLater
from bot.schedule import PollSchedule
from bot.status_writer import StatusWriter
from bot.store import CreateIntent, Job, JobKind, JobStatus, JobStore, StatusUpdate
from bot.webhook_trust import WebhookTrust

log = logging.getLogger(__name__)

_Claimed = TypeVar("_Claimed")

# Codes saying the job itself is unusable (unknown, not ours, cannot be operated): no retry helps.
_JOB_GONE_CODES: Final = frozenset({1008, 1009, 1010})
# How long the loop sleeps at most when nothing is due; a new job wakes it sooner.
_MAX_IDLE: Final = 30.0
# The longest pause between retries of one failing job.
_MAX_BACKOFF: Final = 300.0
# How long past AKOOL's request timeout a press may still be settling: a throttled press is
# re-sent after a backoff, and every request waits for the shared request budget.
PRESS_MARGIN: Final = 15.0
# A lost command whose answer Discord refused for now (5xx) is tried again this much later.
_ANSWER_RETRY: Final = 5.0
# The schedule is told the ages of at most this many of the jobs still running (the newest).
_RUNNING_SAMPLES: Final = 1000


@dataclass(frozen=True, slots=True)
class _Write:
    """What to record for a job after looking at it: AKOOL's answer and the next due time."""

    job: Job
    update: StatusUpdate
    due_at: float | None
    # Seconds since creation when AKOOL answered; None for a verdict of the bot's own.
    age: float | None
    # Seconds since creation when the job was last known unfinished (its last poll, about).
    since: float = 0.0


def timeout_message(job: Job, limit: float) -> Text:
    return stored_text.timed_out(max(1, round(limit / 60)), job.akool_id)


class JobLoop:
    """Polls due jobs with bounded concurrency, schedules each one's next look, and hands each
    finished one on as soon as it is seen finished."""

    def __init__(
        self,
        *,
        store: JobStore,
        akool: AkoolClient,
        notifier: Notifier,
        poll_interval: float,
        schedule: PollSchedule | None = None,
        poll_budget: Budget | None = None,
        job_timeout: float,
        concurrency: int,
        create_grace: float = 60.0,
        batch: int = 100,
        hold: float = 120.0,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics or Metrics(clock=clock)
        self._akool = akool
        self._notifier = notifier
        self._interval = poll_interval
        self.schedule = schedule or PollSchedule(
            base_gap=poll_interval, min_gap=poll_interval, max_gap=poll_interval
        )
        # An optional cap on polls alone, besides the AKOOL client's budget that all requests share.
        self._poll_budget = poll_budget
        self._learnt = False
        # When the ages of the jobs still running were last handed to the schedule.
        self._ages_read_at = -math.inf
        self.webhooks = WebhookTrust()
        self._timeout = job_timeout
        # At most this many polls at once, and as many deliveries (image downloads) apart.
        self._limit = asyncio.Semaphore(concurrency)
        self._delivering = asyncio.Semaphore(concurrency)
        self._writer = StatusWriter(store, clock)
        # At most this many jobs in hand at once; more are claimed as these are done with.
        self._batch = batch
        # A claimed job is this process's for so long; should the process die, another
        # process (or this one, restarted) takes it over when the hold runs out.
        self._hold = hold
        # A create intent older than this outlived any AKOOL request: its process died. A press
        # asked of AKOOL may settle for longer (see PRESS_MARGIN).
        self._create_grace = create_grace
        self._press_grace = create_grace + PRESS_MARGIN
        self._clock = clock
        self._wake = asyncio.Event()
        # When the idle loop next looks anyway; a job due sooner than that wakes it.
        self._deadline = math.inf
        self._task: asyncio.Task[None] | None = None
        # The jobs in hand, each its own task; the loop claims more when half of them are done.
        self._in_hand: set[asyncio.Task[None]] = set()
        self._in_hand_by_id: dict[str, asyncio.Task[None]] = {}
        # Jobs whose task ended while a claim was under way: the row a claim returns for one of
        # them may predate what that task recorded (a post), so it is read again first.
        self._claims_under_way = 0
        self._done_meanwhile: set[str] = set()
        self._full = False
        # Operator-facing AKOOL codes (bad key, no credits, banned) already logged as errors:
        # one line per outage, not one per job per poll.
        self._alerted: set[int] = set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="job-loop")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # Jobs in hand are abandoned safely: their claims run out, and they are due again.
        in_hand = list(self._in_hand)
        for job_task in in_hand:
            job_task.cancel()
        await asyncio.gather(*in_hand, return_exceptions=True)
        await self._writer.close()

    def next_poll_in(self, age: float) -> float:
        """Seconds until a job that is ``age`` seconds old and unfinished is worth asking about."""
        return self.schedule.next_gap(age, webhooks_trusted=self.webhooks.trusted)

    async def on_webhook(self, akool_id: str, status: ImageStatus) -> Job | None:
        """A verified webhook says a job moved on; return the job, or ``None`` if it is unknown
        or finished with.

        A final status makes the job due now, and a poll confirms it: the webhook's word alone
        never posts a result. Progress is shown without asking AKOOL.
        """
        now = self._clock()
        if status in (ImageStatus.COMPLETED, ImageStatus.FAILED):
            job = await self._store.make_due(akool_id, now=now)
            if job is None:
                self.webhooks.announced_late(akool_id)
                return None
            # Confirmed here and now, ahead of every due poll; a job another look holds (here or
            # in another process) is due again the moment that look is recorded.
            claimed = None
            if self._task is not None:
                claimed = await self._claim_for_hand(
                    self._store.claim_job(akool_id, now=now, hold=self._hold)
                )
            if claimed is None:
                self.wake()
            else:
                self._take_in_hand(claimed)
                self._forget_done()
            return job
        job = await self._store.get_job(akool_id)
        if job is None or job.due_at is None:
            return None
        if status is ImageStatus.PROCESSING and job.status is JobStatus.QUEUED:
            update = StatusUpdate(JobStatus.PROCESSING)
            recorded = await self._store.record_status(akool_id, update, now=now, due_at=job.due_at)
            if recorded is not None and recorded.status is not job.status:
                await self._notifier.show_progress(recorded)
        return job

    def wake(self) -> None:
        """Look for due jobs now (a job was created, or a webhook said one finished)."""
        self._wake.set()

    async def _run(self) -> None:
        log.info("Job loop started")
        while True:
            self._wake.clear()
            delay = _MAX_IDLE
            try:
                await self._prepare()
                room = self._batch - len(self._in_hand)
                claimed = await self._claim_for_hand(self._claim(room)) if room > 0 else []
                for job in claimed:
                    self._take_in_hand(job)
                self._forget_done()
                # Hands full: more are claimed once half of these are done with.
                self._full = len(claimed) >= room
                if not self._full:
                    delay = await self._idle_delay()
            except Exception:
                # Never let one bad pass end the loop for good; try again shortly.
                log.exception("Job loop pass failed")
                delay = self._interval
            if delay > 0:
                self._deadline = self._clock() + delay
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel that
                # races with the event being set, and stop() would then wait forever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                self._deadline = math.inf

    async def _idle_delay(self) -> float:
        """Until the next job is due or the next create intent can be lost, at most _MAX_IDLE."""
        moments = [
            await self._store.next_due_at(),
            await self._store.next_lost_intent_at(
                grace=self._create_grace, press_grace=self._press_grace
            ),
        ]
        known = [m for m in moments if m is not None]
        if not known:
            return _MAX_IDLE
        return min(max(min(known) - self._clock(), 0.0), _MAX_IDLE)

    async def tick(self) -> int:
        """Handle every job due now and return how many there were, once all are done with.

        The jobs are looked at concurrently (bounded), and each is shown or delivered as soon
        as its own answer is recorded; answers that come together share a write.
        """
        await self._prepare()
        jobs = await self._claim(self._batch)
        await asyncio.gather(*(self._handle(job) for job in jobs))
        return len(jobs)

    async def _prepare(self) -> None:
        if not self._learnt:
            # Tracked jobs were made elsewhere at unknown times; they are not learnt from.
            self.schedule.observe_all(reversed(await self._store.recent_durations(1000)))
            self._learnt = True
        now = self._clock()
        if now - self._ages_read_at >= self._interval:
            # The safety net's first look counts the slow jobs still running (see PollSchedule).
            self.schedule.running(await self._store.running_ages(now, _RUNNING_SAMPLES))
            self._ages_read_at = now
        await self._report_lost_creates()

    async def _claim(self, limit: int) -> list[Job]:
        return await self._store.claim_due_jobs(self._clock(), limit, hold=self._hold)

    async def _claim_for_hand(self, claim: Awaitable[_Claimed]) -> _Claimed:
        """Run ``claim``, noting which jobs' tasks end meanwhile (see :meth:`_take_in_hand`)."""
        self._claims_under_way += 1
        try:
            return await claim
        finally:
            self._claims_under_way -= 1

    def _take_in_hand(self, job: Job) -> None:
        before = self._in_hand_by_id.get(job.akool_id)
        if before is None and job.akool_id not in self._done_meanwhile:
            step = self._handle(job)
        else:
            step = self._handle_after(before, job)
        task = asyncio.create_task(step, name=f"job-{job.akool_id}")
        self._in_hand.add(task)
        self._in_hand_by_id[job.akool_id] = task
        task.add_done_callback(functools.partial(self._done_with, job.akool_id))

    def _forget_done(self) -> None:
        if not self._claims_under_way:
            self._done_meanwhile.clear()

    async def _handle_after(self, previous: asyncio.Task[None] | None, claimed: Job) -> None:
        """A job claimed again while its last look was still under way here (a finished job is
        due until its post is recorded): its turn comes once that look is done with, if it
        still has work and nothing was recorded since the claim."""
        if previous is not None:
            await asyncio.wait([previous])
        try:
            fresh = await self._store.get_job(claimed.akool_id)
        except Exception:
            log.exception("Job %s could not be read; its claim runs out", claimed.akool_id)
            return
        if fresh is not None and fresh.needs_work and fresh.due_at == claimed.due_at:
            await self._handle(fresh)

    def _done_with(self, akool_id: str, task: asyncio.Task[None]) -> None:
        self._in_hand.discard(task)
        if self._claims_under_way:
            self._done_meanwhile.add(akool_id)
        if self._in_hand_by_id.get(akool_id) is task:
            del self._in_hand_by_id[akool_id]
        if self._full and len(self._in_hand) <= self._batch // 2:
            self._full = False
            self.wake()

    def _due(self, at: float | None) -> None:
        """A job in hand was given its next due time: wake the loop if that is before its next
        look."""
        if at is not None and at < self._deadline:
            self.wake()

    async def _handle(self, job: Job) -> None:
        """One job's way through the loop: look, record, then show or deliver at once. Every
        line logged meanwhile names the job (see bot.logs)."""
        with logs.context(**logs.about(job)):
            await self._handle_in_context(job)

    async def _handle_in_context(self, job: Job) -> None:
        try:
            if job.status.finished:
                await self._deliver(job)
                return
            write = await self._look(job)
            if write is None:
                return
            recorded = await self._writer.record(job.akool_id, write.update, write.due_at)
            if recorded is None:  # AKOOL's answer would have moved the job backwards
                now = self._clock()
                due_at = write.due_at if write.due_at is not None else now + self._interval
                await self._store.release_claim(job.akool_id, now=now, due_at=due_at)
                self._due(due_at)
                return
            if not recorded.status.finished:  # a finished one is delivered right here
                self._due(recorded.due_at)
            await self._after(write, recorded)
        except Exception as exc:
            log.exception("Job %s failed unexpectedly; retrying later", job.akool_id)
            await self._retry_later(job, f"{type(exc).__name__}: {exc}")

    async def _report_lost_creates(self) -> None:
        """Answer every command a crash left unanswered (see :class:`CreateIntent`).

        Each lost intent is taken up in the store by exactly one process, so a command is never
        answered twice by several processes' loops; one whose answer fails for now is tried
        again later, by whichever process takes it up then.
        """
        now = self._clock()
        lost = await self._store.claim_lost_intents(
            started_before=now - self._create_grace,
            pressed_before=now - self._press_grace,
            now=now,
            hold=self._hold,
        )
        for intent in lost:
            try:
                await self._answer_lost(intent)
            except Exception as exc:
                # One intent that cannot be answered must not stop the loop for every job.
                if isinstance(exc, RetryLater):
                    log.warning("Could not answer lost create %s yet: %s", intent.id, exc)
                else:
                    log.exception("Answering lost create %s failed; retrying later", intent.id)
                await self._store.retry_intent_answer(intent.id, at=self._clock() + _ANSWER_RETRY)
                continue
            await self._store.drop_create_intent(intent.id)

    async def _answer_lost(self, intent: CreateIntent) -> None:
        job = await self._store.get_job(intent.akool_id) if intent.akool_id else None
        used: bool | None = None
        claim = intent.claim
        if claim is not None:
            if job is not None:
                # The press's job was stored: its claim names it (it may not have yet).
                await self._store.set_press_child(claim.parent_akool_id, claim.button, job.akool_id)
            else:
                used = await self._settle_lost_press(intent)
        await self._notifier.report_lost_create(intent, job, button_used=used)

    async def _settle_lost_press(self, intent: CreateIntent) -> bool | None:
        """Whether AKOOL used the button of a press a crash interrupted before its job was
        stored; ``None`` if AKOOL cannot say. A button AKOOL did not use is given back.

        Its claim, if it still stands, is released only when AKOOL was never asked or its own
        ``used_buttons`` (as for a stale claim) say the press started nothing.
        """
        claim = intent.claim
        assert claim is not None
        current = await self._store.get_press(claim.parent_akool_id, claim.button)
        if current is None or (current.presser_id, current.pressed_at) != (
            claim.presser_id,
            claim.pressed_at,
        ):
            return False  # released already (an earlier try at this answer, or as stale)
        parent = await self._store.get_job(claim.parent_akool_id)
        if intent.akool_called_at is not None and parent is not None and parent.in_batch:
            # A v4 batch's V is a create of its own, which AKOOL records on no button: as for a
            # lost /imagine, AKOOL cannot say, and the presser may press again.
            await self._store.release_press(
                claim.parent_akool_id, claim.button, pressed_at=claim.pressed_at
            )
            return None
        if intent.akool_called_at is not None:
            try:
                result = await self._akool.get_result(claim.parent_akool_id)
            except AkoolError as exc:
                if exc.retryable:
                    raise RetryLater(
                        f"AKOOL cannot say yet whether it used the button: {exc}"
                    ) from exc
                log.warning(
                    "AKOOL cannot say whether %s of %s was used: %s",
                    claim.button,
                    claim.parent_akool_id,
                    exc,
                )
                return None
            if parent is not None:
                await self._store.record_status(
                    parent.akool_id,
                    StatusUpdate.from_akool(result),
                    now=self._clock(),
                    due_at=parent.due_at,
                )
            if claim.button in result.used_buttons:
                return True
        log.info(
            "Giving %s of %s back: the press by %s started nothing",
            claim.button,
            claim.parent_akool_id,
            claim.presser_id,
        )
        await self._store.release_press(
            claim.parent_akool_id, claim.button, pressed_at=claim.pressed_at
        )
        return False

    async def _look(self, job: Job) -> _Write | None:
        """What to record for an unfinished job."""
        now = self._clock()
        if now - job.created_at > self._timeout:
            log.warning("Job %s timed out after %.0f s", job.akool_id, now - job.created_at)
            update = StatusUpdate(
                JobStatus.FAILED, error=stored_text.dump(timeout_message(job, self._timeout))
            )
            return _Write(job, update, now, age=None)
        try:
            result = await self._ask(job)
        except AkoolError as exc:
            return await self._on_akool_error(job, exc)
        if self._alerted:
            log.info("AKOOL answers again; the account problem is over")
            self._alerted.clear()
        update = StatusUpdate.from_akool(result)
        now = self._clock()
        age = now - job.created_at
        due_at = now if update.status.finished else now + self.next_poll_in(age)
        since = min(age, max(0.0, job.updated_at - job.created_at))
        return _Write(job, update, due_at, age=age, since=since)

    async def _ask(self, job: Job) -> ImageJob:
        """AKOOL's answer about the job. A callback said it finished: the poll confirming that
        is as urgent as a member's create. Others are polls, a few at a time."""
        if job.announced:
            return await self._akool.get_result(job.akool_id, kind=RequestKind.URGENT)
        async with self._limit:
            if self._poll_budget is not None:
                await self._poll_budget.acquire()
            return await self._akool.get_result(job.akool_id)

    async def _after(self, write: _Write, recorded: Job | None) -> None:
        """Show or deliver a job whose answer changed its status."""
        job = write.job
        if recorded is None or recorded.status is job.status:
            return  # unchanged, or moved on by another path (a webhook, another process)
        log.info("Job %s is %s", job.akool_id, recorded.status.value)
        self._metrics.job_ended(job, recorded, timed=write.age is not None)
        if not recorded.status.finished:
            await self._notifier.show_progress(recorded)
            return
        # Read from the store: the webhook may have reached another process.
        self.webhooks.finished(announced=recorded.announced, akool_id=job.akool_id)
        if write.age is not None and job.kind is not JobKind.TRACK:
            # It finished somewhere since the last look. Learning the moment it was noticed
            # instead would teach the schedule that jobs never finish where it does not poll.
            self.schedule.observe(random.uniform(write.since, write.age))
        await self._deliver(recorded)

    async def _on_akool_error(self, job: Job, exc: AkoolError) -> _Write | None:
        if exc.code in _JOB_GONE_CODES:
            update = StatusUpdate(JobStatus.FAILED, error=stored_text.dump(exc.user_text))
            return _Write(job, update, self._clock(), age=None)
        if exc.operator_facing and exc.code is not None:
            if exc.code not in self._alerted:
                self._alerted.add(exc.code)
                log.error(
                    "AKOOL refuses the bot's requests (code %s: %s). Jobs wait until this is "
                    "fixed: %s",
                    exc.code,
                    exc.msg,
                    exc.user_message,
                )
        else:
            log.warning("Polling job %s failed: %s", job.akool_id, exc)
        await self._retry_later(job, str(exc))
        return None

    async def _deliver(self, job: Job) -> None:
        try:
            async with self._delivering:
                await self._notifier.deliver(job)
        except RetryLater as exc:
            log.warning("Delivering job %s failed, will retry: %s", job.akool_id, exc)
            await self._retry_later(job, str(exc))

    async def _retry_later(self, job: Job, error: str) -> None:
        backoff = min(self._interval * 2 ** min(job.attempts, 10), _MAX_BACKOFF)
        now = self._clock()
        due_at = now + backoff * random.uniform(0.8, 1.2)
        await self._store.record_failure(job.akool_id, error, now=now, due_at=due_at)
        self._due(due_at)
