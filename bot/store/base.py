"""The one storage interface the rest of the bot uses. SQL lives only in its implementations."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

from bot.budget import Budget
from bot.server_settings import ServerSettings
from bot.store.models import (
    ButtonPress,
    Caps,
    CreateIntent,
    CreditUsage,
    ImageRole,
    InteractionReply,
    Job,
    JobKind,
    JobStatus,
    KeptImage,
    Limits,
    MemberUsage,
    NewJob,
    PressClaim,
    StatusUpdate,
)


class JobStore(ABC):
    """Jobs and button presses. The database is the job queue; nothing lives only in memory.

    Times are Unix seconds passed in by the caller, so tests and the job loop share one clock.
    """

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @abstractmethod
    async def close(self) -> None:
        """Release the connection(s)."""

    @abstractmethod
    async def ping(self) -> bool:
        """True when the database answers a trivial query (for the health check)."""

    # Several processes

    async def subscribe(self, wake: Callable[[], None]) -> None:  # noqa: B027 - optional hook
        """Call ``wake`` whenever another process stores a job or makes one due. Only a
        store that several processes can share has anything to say; the default is silent."""

    def request_budget(self, name: str, per_second: float, burst: float) -> Budget | None:
        """A request budget shared by every process using this database, or ``None`` when
        only one process can use it (a budget in memory is then exact)."""
        return None

    @abstractmethod
    async def first_sighting(self, key: str, *, now: float, forget_before: float) -> bool:
        """Remember ``key`` (a webhook's signature); False if it was seen since
        ``forget_before``, which is how a replay is recognised by every process."""

    # Jobs

    @abstractmethod
    async def add_job(self, job: NewJob, *, now: float, due_at: float | None) -> tuple[Job, bool]:
        """Store a job unless its AKOOL id is known; return the stored row and whether it is new."""

    @abstractmethod
    async def add_batch(
        self, jobs: Sequence[NewJob], *, now: float, due_at: float | None
    ) -> list[tuple[Job, bool]]:
        """:meth:`add_job` for every image of a v4 batch, in one transaction: all are stored or
        none (the lead, ``jobs[0]``, carries the create intent). Returns each row, in order, and
        whether it is new."""

    @abstractmethod
    async def get_job(self, akool_id: str) -> Job | None:
        """The job with this AKOOL id, if stored."""

    @abstractmethod
    async def batch(self, lead_akool_id: str) -> list[Job]:
        """Every image of the v4 batch led by ``lead_akool_id``, in batch order (none for a job
        that leads no batch)."""

    async def record_status(
        self, akool_id: str, update: StatusUpdate, *, now: float, due_at: float | None
    ) -> Job | None:
        """Apply AKOOL's answer if it does not move the job backwards, and set its next due time.

        An answer with a lower status, or a different final status, changes nothing and returns
        ``None``, so a late poll or a repeated webhook is harmless. An answer with the same status
        refreshes the details (buttons, URLs, credits).
        """
        (recorded,) = await self.record_statuses([(akool_id, update, due_at)], now=now)
        return recorded

    @abstractmethod
    async def record_statuses(
        self, updates: Sequence[tuple[str, StatusUpdate, float | None]], *, now: float
    ) -> list[Job | None]:
        """:meth:`record_status` for many jobs ``(akool_id, update, due_at)`` in one write.

        Returns, in the same order, each job as recorded, or ``None`` where the answer would have
        moved the job backwards (or the job is unknown).
        """

    @abstractmethod
    async def record_failure(
        self, akool_id: str, error: str, *, now: float, due_at: float | None
    ) -> Job | None:
        """Count a failed attempt to poll or deliver, remember why, and set the next due time."""

    @abstractmethod
    async def make_due(self, akool_id: str, *, now: float) -> Job | None:
        """Make a job due now, marked ``announced`` (a webhook said it finished); ``None`` if
        unknown or finished with."""

    @abstractmethod
    async def due_jobs(self, now: float, limit: int) -> list[Job]:
        """Jobs whose due time has come, earliest first. Costs O(due), not O(history)."""

    @abstractmethod
    async def claim_due_jobs(self, now: float, limit: int, *, hold: float) -> list[Job]:
        """Take up to ``limit`` due jobs, earliest first, for ``hold`` seconds.

        No other claim gets them until their next status or failure is recorded or the hold
        runs out (the holder died): then they are due again. A webhook for a held job keeps it
        held but has it come due again the moment its holder records it.
        """

    @abstractmethod
    async def claim_job(self, akool_id: str, *, now: float, hold: float) -> Job | None:
        """Take this one job, as :meth:`claim_due_jobs` would, if it is due now and nobody holds
        it (a webhook just made it due); ``None`` otherwise."""

    @abstractmethod
    async def release_claim(self, akool_id: str, *, now: float, due_at: float) -> None:
        """Give a claimed job up without recording anything (AKOOL's answer would have moved it
        backwards): it is due again at ``due_at``, or at once if a webhook came meanwhile."""

    @abstractmethod
    async def recent_durations(self, limit: int) -> list[float]:
        """Seconds from creation to finish of the ``limit`` most recently finished jobs."""

    @abstractmethod
    async def running_ages(self, now: float, limit: int) -> list[float]:
        """Seconds since creation of the ``limit`` newest jobs still at AKOOL (neither
        completed nor failed), tracked jobs aside: durations known only to be longer."""

    @abstractmethod
    async def next_due_at(self) -> float | None:
        """The earliest due time of any job, or ``None`` when no job needs work."""

    @abstractmethod
    async def set_status_message(self, akool_id: str, message_id: int, *, now: float) -> None:
        """Remember the Discord message that shows the job's progress."""

    @abstractmethod
    async def mark_delivered(self, akool_id: str, message_id: int, *, now: float) -> bool:
        """Record the result message. True only for the call that moved it from pending."""

    @abstractmethod
    async def mark_undeliverable(self, akool_id: str, reason: str, *, now: float) -> bool:
        """Give up on posting the job's result. True only if it was still pending."""

    @abstractmethod
    async def wait_for_batch(self, akool_id: str, *, now: float) -> None:
        """A finished image of a batch whose other images are not all finished: nothing is due
        for it any more (no poll, no post). Its batch is posted, and it marked delivered, by
        the delivery of the image that finishes last (or, after a crash, any finished one)."""

    @abstractmethod
    async def mark_batch_delivered(
        self, lead_akool_id: str, message_id: int, *, now: float
    ) -> bool:
        """Record the post of the batch led by ``lead_akool_id`` on every image of it. True only
        for the call that moved them from pending."""

    @abstractmethod
    async def mark_batch_undeliverable(
        self, lead_akool_id: str, reason: str, *, now: float
    ) -> bool:
        """Give up on posting the batch, on every image of it. True only if they were pending."""

    @abstractmethod
    async def recent_jobs(
        self,
        guild_id: int | None,
        requester_id: int,
        *,
        limit: int,
        prefix: str = "",
        offset: int = 0,
    ) -> list[Job]:
        """A member's newest jobs in a server, optionally those whose id starts with ``prefix``.
        A v4 batch is one job here, its lead."""

    @abstractmethod
    async def unfinished_jobs(self) -> list[tuple[JobKind, JobStatus, int]]:
        """``(kind, status, count)`` of the jobs not yet posted (or given up on), for the
        metrics: a status still at AKOOL, or finished and waiting to be posted."""

    @abstractmethod
    async def count_jobs(self, guild_id: int | None, requester_id: int) -> int:
        """How many jobs a member has in a server (a v4 batch counts once, as in
        :meth:`recent_jobs`)."""

    @abstractmethod
    async def credits_spent(self, guild_id: int, *, since: float | None) -> list[tuple[int, int]]:
        """``(member, credits)`` spent in a server since a time (or ever), most first."""

    # Server settings and member preferences

    @abstractmethod
    async def server_settings(self, guild_id: int) -> ServerSettings:
        """The server's settings, or the defaults if it never set any."""

    @abstractmethod
    async def save_server_settings(
        self, guild_id: int, settings: ServerSettings, *, now: float
    ) -> None:
        """Replace the server's settings."""

    @abstractmethod
    async def dm_notify(self, user_id: int) -> bool:
        """Whether the member asked for completion notices by DM."""

    @abstractmethod
    async def set_dm_notify(self, user_id: int, enabled: bool, *, now: float) -> None:
        """Turn completion DMs on or off for a member."""

    # Images Discord keeps for the bot

    @abstractmethod
    async def keep_image(
        self, akool_id: str, role: ImageRole, kept: KeptImage, *, now: float
    ) -> None:
        """Remember where Discord keeps the job's ``role`` image (replacing what was kept)."""

    @abstractmethod
    async def kept_image(self, akool_id: str, role: ImageRole) -> KeptImage | None:
        """Where Discord keeps the job's ``role`` image, if the bot put it there."""

    # What the bot has learnt about AKOOL

    @abstractmethod
    async def note_v3_create_gone(self, *, now: float) -> bool:
        """Remember for good, for every process and after a restart, that AKOOL answered that
        v3 create is gone; True only for the call that noted it first."""

    @abstractmethod
    async def v3_create_gone(self) -> bool:
        """Whether any process has noted that v3 create is gone."""

    @abstractmethod
    async def children(self, parent_akool_id: str) -> Sequence[Job]:
        """Jobs started from the buttons of ``parent_akool_id``, oldest first."""

    # Create intents

    @abstractmethod
    async def add_create_intent(
        self,
        requester_id: int,
        guild_id: int | None,
        channel_id: int,
        prompt: str,
        *,
        now: float,
        limits: Limits | None = None,
        reply: InteractionReply | None = None,
        akool_called_at: float | None = None,
        claim: ButtonPress | None = None,
        caps: Caps | None = None,
        images: int | None = None,
    ) -> int | None:
        """Write down a create before the command is acknowledged; returns its id for the job row.

        With ``limits``, the intent is written only if the member stays within them, counting
        their unfinished jobs and creates under way; ``None`` means over a limit. With ``caps``,
        only if the credits spent in the window, plus the expected cost of unfinished jobs and
        creates under way, plus this create's expected cost (its kind from ``claim``'s button),
        stay within the account's cap over every server and within ``guild_id``'s cap. Checks
        and write are atomic (one statement, or one transaction under locks taken in a fixed
        order), so creates and presses at once cannot slip under a limit or a cap together.
        ``reply`` is how to answer the member's interaction should the process die;
        ``akool_called_at`` is set when AKOOL is asked at once (see :meth:`mark_akool_call`);
        ``claim`` is the button press (by ``requester_id``) the create comes from. ``images``:
        the create is a v4 order of that many images, expected to cost that many times an
        image's cost (counted so while the intent waits for its jobs); ``None``: a v3 job.
        """

    @abstractmethod
    async def mark_akool_call(self, intent_id: int, *, at: float | None) -> bool:
        """Record when the bot began asking AKOOL for the intent's job (``None``: AKOOL refused,
        so it started nothing). False if the intent is gone or taken up by
        :meth:`claim_lost_intents`: its loss is being (or was) reported, and AKOOL must not be
        asked."""

    @abstractmethod
    async def next_lost_intent_at(self, *, grace: float, press_grace: float) -> float | None:
        """When the next intent may be taken up by :meth:`claim_lost_intents` (given those
        graces), or ``None`` when there is no intent."""

    @abstractmethod
    async def member_usage(
        self, guild_id: int | None, user_id: int, *, since: float
    ) -> MemberUsage:
        """What counts against a member's limits now (for explaining a refusal)."""

    @abstractmethod
    async def credit_usage(
        self, guild_id: int | None, *, button: str | None, caps: Caps, images: int | None = None
    ) -> CreditUsage:
        """What counts against ``caps`` now, as :meth:`add_create_intent` counts it: the whole
        account's and ``guild_id``'s spending (none for ``None``), and the expected cost of a
        create from ``button`` (``None``: a grid), or of a v4 order of ``images`` images."""

    @abstractmethod
    async def reported_credits(
        self, guild_id: int | None, *, since: float
    ) -> list[tuple[float, int]]:
        """``(created_at, credits)`` of the jobs since ``since`` whose credits AKOOL reported,
        oldest first, in ``guild_id`` or (``None``) in every server: when they age out of a
        cap's window. Tracked jobs cost the bot nothing and are left out."""

    @abstractmethod
    async def queue_position(self, akool_id: str) -> int | None:
        """The job's place among all unfinished jobs, oldest first (1 = next); ``None`` if done."""

    @abstractmethod
    async def drop_create_intent(self, intent_id: int) -> None:
        """Forget an intent: its command was answered, or its loss was reported. The interaction
        token goes with it."""

    @abstractmethod
    async def lost_create_intents(self, started_before: float) -> list[CreateIntent]:
        """Intents whose command a crash left unanswered: those asked of AKOOL (or, never asked,
        written) before ``started_before``, without a job or whose job has no status message yet.

        Each carries the ``akool_id`` of its job, if stored. Intents whose job has its status
        message were answered, and only the process died before dropping them: they go.
        """

    @abstractmethod
    async def claim_lost_intents(
        self, *, started_before: float, pressed_before: float, now: float, hold: float
    ) -> list[CreateIntent]:
        """Take up, for ``hold`` seconds, the lost intents nobody else is answering.

        As :meth:`lost_create_intents`, except that a press already asked of AKOOL counts from
        ``pressed_before`` (a press may settle for longer than a create), and that each intent
        goes to exactly one of any number of concurrent callers (processes): no other claim
        returns it until the hold runs out (its answerer died) or :meth:`retry_intent_answer`
        says when to try again. Once taken up, an intent is never asked of AKOOL.
        """

    @abstractmethod
    async def retry_intent_answer(self, intent_id: int, *, at: float) -> None:
        """Answering the lost intent failed for now (Discord 5xx): any process may take it up
        again from ``at``."""

    # Button presses

    @abstractmethod
    async def claim_press(
        self, parent_akool_id: str, button: str, presser_id: int, *, now: float
    ) -> PressClaim:
        """Claim a grid's button. Exactly one of any number of concurrent claims wins."""

    @abstractmethod
    async def set_press_child(self, parent_akool_id: str, button: str, child_akool_id: str) -> None:
        """Record the job that the winning press started."""

    @abstractmethod
    async def release_press(
        self, parent_akool_id: str, button: str, *, pressed_at: float | None = None
    ) -> None:
        """Forget a claim whose AKOOL call started no job, so the button can be pressed again.

        With ``pressed_at``, only the claim made at that moment: never a later claim of the same
        button made once this one was released."""

    @abstractmethod
    async def get_press(self, parent_akool_id: str, button: str) -> ButtonPress | None:
        """The winning press of a button, if any."""
