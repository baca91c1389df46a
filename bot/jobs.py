"""Job operations shared by the commands and buttons: start, track and derive jobs.

Each writes the job row the loop then follows, and wakes the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import Enum

from bot import policy
from bot.akool import AkoolClient, AkoolError, AkoolUncertainCreateError, ImageBatch, ImageJob
from bot.budget import RequestKind
from bot.create_api import V3, V4, CreateApiChooser, ImageOrder
from bot.errors import UserFacingError
from bot.i18n import Text, lazy
from bot.job_loop import PRESS_MARGIN as PRESS_MARGIN  # the entry point sizes press_wait with it
from bot.job_loop import JobLoop
from bot.metrics import Metrics
from bot.policy import CapReached, LimitReached, OperatorCaps
from bot.server_settings import ServerSettings
from bot.store import (
    ButtonPress,
    Caps,
    CreateOptions,
    CreditUsage,
    ImageRole,
    InteractionReply,
    Job,
    JobKind,
    JobStore,
    KeptImage,
    Limits,
    NewJob,
    StatusUpdate,
)

log = logging.getLogger(__name__)

# The ``button`` of a re-rolled grid: not an AKOOL button, so it may be pressed again and again.
REROLL = "reroll"

# A claim older than this that names no job was left by a crash (AKOOL answers a press well
# within its request timeout), and is checked against AKOOL.
STALE_CLAIM = 120.0

# A later presser re-reads a press being made by another process this often at first, then
# less often.
_FIRST_REREAD = 0.05
_LAST_REREAD = 1.0

# Neither the account nor any server has a credit cap (the operator set none).
NO_CAPS = OperatorCaps()

RESTARTING = lazy("The bot is restarting. Please try again in a minute.")
# The command's intent was reported lost (it waited longer than any create takes) before AKOOL
# was asked: the member was told nothing started, so nothing may start now.
# The order needs v4 (count, resolution, negative, similarity, Original), and the operator set
# AKOOL_CREATE_API=v3.
NOT_OFFERED = lazy(
    "This bot is set to AKOOL's older create API, which cannot make that. Nothing was charged."
)
GIVEN_UP = lazy(
    "This took too long to start, so nothing was started and nothing was charged. Try again."
)


@dataclass(frozen=True, slots=True)
class Origin:
    """Who asked, and where the result goes."""

    requester_id: int
    guild_id: int | None
    channel_id: int


@dataclass(frozen=True, slots=True)
class Admission:
    """A member admitted to spend credits: the server's settings and their limits."""

    settings: ServerSettings
    limits: Limits | None


class GivenUpError(UserFacingError):
    """The command's intent was reported lost before AKOOL was asked: nothing may start now."""


@dataclass(frozen=True, slots=True)
class PressResult:
    """A press either started ``child``, or lost to ``winner`` (an earlier press).

    ``intent`` is the started press's intent: it stays until :meth:`JobService.answered`.
    """

    child: Job | None
    winner: ButtonPress | None = None
    intent: int | None = None


@dataclass(frozen=True, slots=True)
class _Claimed:
    """A press that won its button, written down with its intent before AKOOL is asked."""

    press: ButtonPress
    intent: int
    # Who pressed, and where: the job it starts belongs there.
    origin: Origin


class PressEnd(Enum):
    """How a winning press ended, as far as the bot knows."""

    STARTED = "started"  # it started a job
    FREED = "freed"  # it started none and gave the button back: it may be pressed again
    SPENT = "spent"  # it started none the bot follows, and AKOOL counts the button as used
    UNKNOWN = "unknown"  # it had not settled within the time a press can take


@dataclass(frozen=True, slots=True)
class PressOutcome:
    """The end of a winning press: its job, or why there is none (when this process saw it)."""

    end: PressEnd
    child: Job | None = None
    error: AkoolError | None = None


# A claim, told apart from a later claim of the same button after this one was released.
_ClaimKey = tuple[str, str, int, float]


def _claim_key(press: ButtonPress) -> _ClaimKey:
    return (press.parent_akool_id, press.button, press.presser_id, press.pressed_at)


class JobService:
    def __init__(
        self,
        *,
        store: JobStore,
        akool: AkoolClient,
        loop: JobLoop,
        webhook_url: str | None,
        clock: Callable[[], float] = time.time,
        press_wait: float = 30.0 + PRESS_MARGIN,
        metrics: Metrics | None = None,
        caps: OperatorCaps = NO_CAPS,
        creator: CreateApiChooser | None = None,
    ) -> None:
        self.store = store
        # Which create API a new job goes through (AKOOL_CREATE_API); v3 unless told.
        self.creator = creator or CreateApiChooser(akool, store, V3, clock=clock)
        self._metrics = metrics or Metrics(clock=clock)
        # The operator's credit caps (CREDITS_PER_DAY, SERVER_CREDITS_PER_DAY).
        self._caps = caps
        self.akool = akool
        self.loop = loop
        self._webhook_url = webhook_url
        self._clock = clock
        # The longest a press can take to settle (AKOOL's request timeout plus a margin).
        self._press_wait = press_wait
        # Claims this process is pressing at AKOOL now, and how each press ended, kept a while
        # for the members who pressed the same button a moment later.
        self._pressing: set[_ClaimKey] = set()
        self._settlements: dict[_ClaimKey, asyncio.Future[PressOutcome]] = {}
        # Calls between AKOOL accepting a job and the store recording it: a stop waits for them,
        # since a job AKOOL made but the store never saw could not be followed.
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False

    @contextlib.asynccontextmanager
    async def _recording(self) -> AsyncIterator[None]:
        if self._stopping:
            raise UserFacingError(RESTARTING)
        self._in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def drain(self, grace: float) -> None:
        """Refuse new jobs and wait (at most ``grace`` seconds) for those being recorded."""
        self._stopping = True
        try:
            async with asyncio.timeout(grace):
                await self._idle.wait()
        except TimeoutError:
            log.warning("Stopping with %d job(s) still being recorded", self._in_flight)

    async def admit(
        self,
        origin: Origin,
        role_ids: Iterable[int],
        prompt: str | None = None,
        *,
        parent_channel_id: int | None = None,
        button: str | None = None,
        order: ImageOrder | None = None,
    ) -> Admission:
        """Check a member may spend credits here now: channel, roles, banned words, limits and
        credit caps (for a job from ``button``; ``None``: a grid; or for ``order``, which costs
        what the API it goes through makes of it: a grid, or its number of v4 images).

        Runs before the interaction is acknowledged, so a refusal can be private. The limits and
        caps are checked again, atomically, when the create is written down.
        """
        if origin.guild_id is None:
            return Admission(ServerSettings(), None)
        settings = await self.store.server_settings(origin.guild_id)
        policy.check_place(
            settings, origin.channel_id, role_ids, parent_channel_id=parent_channel_id
        )
        if prompt is not None:
            policy.check_prompt(settings, prompt)
        limits = policy.limits(settings, self._clock())
        usage = await self.store.member_usage(
            origin.guild_id, origin.requester_id, since=limits.since
        )
        if usage.active >= limits.active or usage.daily >= limits.daily:
            raise LimitReached(policy.explain_limit(limits, usage))
        caps = policy.caps(self._caps, settings, self._clock())
        if caps is not None:
            await self._check_caps(origin.guild_id, button, caps, await self._images(order))
        return Admission(settings, limits)

    async def spending(self, guild_id: int) -> tuple[Caps, CreditUsage]:
        """The server's caps (either may be ``None``) and what counts against them now."""
        settings = await self.store.server_settings(guild_id)
        caps = policy.window(self._caps, settings, self._clock())
        return caps, await self.store.credit_usage(guild_id, button=None, caps=caps)

    async def _check_caps(
        self, guild_id: int | None, button: str | None, caps: Caps, images: int | None = None
    ) -> None:
        """CapReached if a job from ``button`` (or ``images`` v4 images) would pass one of
        ``caps`` now."""
        usage = await self.store.credit_usage(guild_id, button=button, caps=caps, images=images)
        cap = policy.cap_passed(caps, usage)
        if cap is not None:
            raise CapReached(await self._explain_cap(cap, guild_id, caps, usage))

    async def _explain_cap(
        self, cap: policy.Cap, guild_id: int | None, caps: Caps, usage: CreditUsage
    ) -> Text:
        if cap is policy.Cap.SERVER:
            assert caps.server is not None
            assert usage.server is not None
            limit, spending, scope = caps.server, usage.server, guild_id
        else:
            assert caps.account is not None
            limit, spending, scope = caps.account, usage.account, None
        reported = await self.store.reported_credits(scope, since=caps.since)
        return policy.explain_cap(cap, limit, spending, usage.cost, reported)

    async def begin_create(
        self,
        origin: Origin,
        prompt: str,
        *,
        limits: Limits | None,
        reply: InteractionReply | None,
        order: ImageOrder | None = None,
    ) -> int:
        """Write a create down before the member's interaction is acknowledged; its intent id.
        ``order``: what will be created, whose expected cost the credit caps hold (``None``: a
        grid).

        From then on, whatever the moment of a crash, the command gets an answer: this process
        gives it (and calls :meth:`answered` or :meth:`forget`), or the restarted one does from
        the intent and ``reply`` (see ``JobLoop``). Raises LimitReached over a limit, or
        UserFacingError while stopping, both still in time for a private refusal.
        """
        if self._stopping:
            raise UserFacingError(RESTARTING)
        images = await self._images(order)
        return await self._intent(origin, prompt, limits, reply=reply, asked=False, images=images)

    async def _images(self, order: ImageOrder | None) -> int | None:
        """How many v4 images ``order`` will be, for the credit caps; ``None``: a v3 grid."""
        return None if order is None else await self.creator.images(order)

    async def answered(self, intent: int, job: Job, message_id: int) -> None:
        """The command ``intent`` was written for is answered: ``message_id`` shows ``job``."""
        await self.store.set_status_message(job.akool_id, message_id, now=self._clock())
        await self.store.drop_create_intent(intent)

    async def forget(self, intent: int) -> None:
        """The command has another answer (a refusal the member was shown): drop its intent."""
        await self.store.drop_create_intent(intent)

    async def imagine(
        self,
        origin: Origin,
        order: ImageOrder,
        *,
        limits: Limits | None = None,
        reroll_of: Job | None = None,
        intent: int | None = None,
        source_kept: KeptImage | None = None,
    ) -> Job:
        """Start ``order`` at AKOOL through the create API in use and store it (first look after
        one poll interval): a v3 grid is one job, a v4 batch one job per image, and the lead
        (its first image) is returned, the job to the member.

        ``reroll_of`` makes it a re-roll of that grid or batch (posted as a reply to it).
        ``intent``, from :meth:`begin_create`, stays until the command is answered; without
        one, an intent is written and dropped here. ``source_kept``: where Discord keeps
        ``order.source_image``.
        """
        if not self.creator.offers(order):
            raise UserFacingError(NOT_OFFERED)
        async with self._recording():
            own = intent is None
            if intent is None:
                images = await self._images(order)
                intent = await self._intent(origin, order.prompt, limits, images=images)
            elif not await self.store.mark_akool_call(intent, at=self._clock()):
                raise UserFacingError(GIVEN_UP)
            try:
                # In auto, a v3 create AKOOL calls gone is made through v4 within this call: the
                # intent was asked of AKOOL once, and only the v4 create charged anything.
                created = await self.creator.create(
                    dataclasses.replace(order, webhook_url=self._webhook_url)
                )
            except AkoolError as exc:
                # The requester hears why from the command itself; only a crash leaves it behind.
                if own:
                    await self.store.drop_create_intent(intent)
                elif not isinstance(exc, AkoolUncertainCreateError):
                    # AKOOL answered, so it started nothing: a crash before the answer is shown
                    # leaves an intent that says so.
                    await self.store.mark_akool_call(intent, at=None)
                raise
            base = NewJob(
                akool_id="",
                kind=JobKind.IMAGINE,
                requester_id=origin.requester_id,
                guild_id=origin.guild_id,
                channel_id=origin.channel_id,
                prompt=order.prompt,
                scale=order.scale,
                source_image=order.source_image,
                parent_akool_id=reroll_of.akool_id if reroll_of else None,
                button=REROLL if reroll_of else None,
            )
            if isinstance(created, ImageBatch):
                job = await self._store_batch(base, created, self._options(order), intent)
            else:
                job = await self._store_new(
                    dataclasses.replace(
                        base,
                        akool_id=created.id,
                        credits=created.credits,
                        akool_created_at=_seconds(created),
                        intent_id=intent,
                    )
                )
            if source_kept is not None:
                await self.store.keep_image(
                    job.akool_id, ImageRole.SOURCE, source_kept, now=self._clock()
                )
            if own:
                await self.store.drop_create_intent(intent)
            return job

    def _options(self, order: ImageOrder) -> CreateOptions:
        """What a v4 create of ``order`` asked for, with the defaults it was made with."""
        return CreateOptions(
            count=order.count or self.creator.batch_quantity,
            resolution=order.resolution or self.creator.resolution,
            negative=order.negative,
            similarity=order.similarity,
        )

    async def _store_batch(
        self, base: NewJob, batch: ImageBatch, options: CreateOptions, intent: int
    ) -> Job:
        """Store every image of ``batch`` at once (the lead, its first, holds the intent); the
        lead."""
        lead = batch.images[0].id
        rows = [
            dataclasses.replace(
                base,
                akool_id=image.id,
                credits=image.credits,
                akool_created_at=_seconds(image),
                intent_id=intent if index == 0 else None,
                api=V4,
                batch_akool_id=lead,
                batch_index=index,
                options=options,
            )
            for index, image in enumerate(batch.images)
        ]
        now = self._clock()
        added = await self.store.add_batch(rows, now=now, due_at=now + self.loop.next_poll_in(0.0))
        for job, created in added:
            self._metrics.job_created(job, created=created)
        self.loop.wake()
        return added[0][0]

    async def reroll(
        self,
        grid: Job,
        presser_id: int,
        *,
        limits: Limits | None = None,
        intent: int | None = None,
        channel_id: int | None = None,
        source_kept: KeptImage | None = None,
    ) -> Job:
        """A new grid (or batch) with the same prompt, aspect, source image and options,
        credited to the presser.

        It belongs to ``channel_id``, where the press happened (a repost of the grid may be
        elsewhere), or else to the grid's channel. ``source_kept``: where Discord keeps the
        source image (the new grid's own re-roll finds it there too).
        """
        here = grid.channel_id if channel_id is None else channel_id
        origin = Origin(presser_id, grid.guild_id, here)
        return await self.imagine(
            origin,
            order_of(grid),
            limits=limits,
            reroll_of=grid,
            intent=intent,
            source_kept=source_kept,
        )

    async def _intent(
        self,
        origin: Origin,
        what: str,
        limits: Limits | None,
        *,
        reply: InteractionReply | None = None,
        asked: bool = True,
        claim: ButtonPress | None = None,
        images: int | None = None,
    ) -> int:
        """Write the create intent, within the member's limits; LimitReached if over one.

        ``asked``: AKOOL is asked at once, so a crash can never mean it was not. ``claim``: the
        create is this press of a grid's button. ``images``: a v4 order of that many images,
        which the caps hold the expected cost of (``None``: a v3 job).
        """
        now = self._clock()
        # The caps hold on every path that spends credits, whatever limits the caller passed.
        settings = (
            None if origin.guild_id is None else await self.store.server_settings(origin.guild_id)
        )
        caps = policy.caps(self._caps, settings, now)
        intent = await self.store.add_create_intent(
            origin.requester_id,
            origin.guild_id,
            origin.channel_id,
            what,
            now=now,
            limits=limits,
            reply=reply,
            akool_called_at=now if asked else None,
            claim=claim,
            caps=caps,
            images=images,
        )
        if intent is None:
            raise await self._refusal(origin, limits, caps, claim, images)
        return intent

    async def _refusal(
        self,
        origin: Origin,
        limits: Limits | None,
        caps: Caps | None,
        claim: ButtonPress | None,
        images: int | None = None,
    ) -> LimitReached:
        """Why the store refused an intent: a member's limit, else a credit cap."""
        if limits is not None:
            usage = await self.store.member_usage(
                origin.guild_id, origin.requester_id, since=limits.since
            )
            if usage.active >= limits.active or usage.daily >= limits.daily or caps is None:
                return LimitReached(policy.explain_limit(limits, usage))
        assert caps is not None
        button = None if claim is None else claim.button
        spending = await self.store.credit_usage(
            origin.guild_id, button=button, caps=caps, images=images
        )
        # Passed a moment ago; should the figures have moved since, the account's cap is named
        # if there is one.
        cap = policy.cap_passed(caps, spending) or (
            policy.Cap.ACCOUNT if caps.account is not None else policy.Cap.SERVER
        )
        return CapReached(await self._explain_cap(cap, origin.guild_id, caps, spending))

    async def track(
        self,
        origin: Origin,
        job_id: str,
        *,
        prompt_rule: Callable[[str], None] | None = None,
    ) -> tuple[Job, bool]:
        """Follow a job created elsewhere; ``(job, False)`` when it is tracked already.

        ``prompt_rule`` (the server's banned words) may refuse the job's prompt, by raising,
        before it is stored and followed."""
        existing = await self.store.get_job(job_id)
        if existing is not None:
            return existing, False
        # Raises code 1008 for an unknown id.
        result = await self.akool.get_result(job_id, kind=RequestKind.LOOKUP)
        if prompt_rule is not None:
            prompt_rule(result.prompt or "")
        now = self._clock()
        new = NewJob(
            akool_id=result.id,
            kind=JobKind.TRACK,
            requester_id=origin.requester_id,
            guild_id=origin.guild_id,
            channel_id=origin.channel_id,
            prompt=result.prompt or "",
            credits=result.credits,
            akool_created_at=_seconds(result),
            # A v4 image is a single image, posted without a grid's buttons. It is followed on
            # its own: AKOOL's answer does not name the rest of its batch.
            api=V4 if result.made_by_v4 else V3,
        )
        job, created = await self.store.add_job(new, now=now, due_at=None)
        self._metrics.job_created(job, created=created)
        if not created:
            return job, False
        update = StatusUpdate.from_akool(result)
        age = now - (_seconds(result) or now)
        due_at = now if update.status.finished else now + self.loop.next_poll_in(age)
        recorded = await self.store.record_status(job.akool_id, update, now=now, due_at=due_at)
        # Ended before the bot first saw it: when is not known.
        self._metrics.job_ended(job, recorded, timed=False)
        self.loop.wake()
        return recorded or job, True

    async def press(
        self,
        parent: Job,
        button: str,
        presser_id: int,
        *,
        limits: Limits | None = None,
        refusal: UserFacingError | None = None,
        channel_id: int | None = None,
        reply: InteractionReply | None = None,
        acknowledge: Callable[[], Awaitable[object]] | None = None,
    ) -> PressResult:
        """Use one of a grid's buttons once: the first press starts a job, later ones lose.

        The job counts against the presser's limits. If AKOOL refuses or fails without starting a
        job, the claim is released so the button can be pressed again, and the error is raised
        for the presser to see. A loser learns how the winning press ended from
        :meth:`press_outcome`. ``refusal`` is why this presser may start no job (the server's
        rules): they may only lose, and it is raised should the button turn out to be free.
        The job belongs to ``channel_id``, where the press happened, or else to the grid's.

        ``acknowledge`` (the interaction's defer) is awaited once the press is written down: its
        claim and, for a winner, its intent with ``reply``. From then on, whatever the moment of
        a crash, the presser gets an answer: this process gives it, or the restarted one does
        from the intent (see ``JobLoop``). Anything raised before the acknowledgement (a
        refusal, a limit, a restart) is still in time for a private answer. A job's intent,
        ``PressResult.intent``, stays until :meth:`answered` records its announcement.
        """
        start = await self._claim(parent, button, presser_id, limits, refusal, reply, channel_id)
        if acknowledge is not None:
            try:
                await acknowledge()
            except BaseException:
                if isinstance(start, _Claimed):
                    await self._abandon(start)
                raise
        if not isinstance(start, _Claimed):
            if (
                refusal is not None
                and self._may_be_stale(start)
                and await self.press_child(start) is None
            ):
                # Only a free button would be this presser's to start, and they may start
                # nothing: AKOOL is not asked about the claim on their behalf.
                raise refusal
            # A claim a crash left before its intent was written is checked against AKOOL:
            # only now, since that may take longer than Discord waits for the acknowledgement.
            if not await self._release_if_stale(parent, start):
                return PressResult(child=None, winner=start)
            start = await self._claim(
                parent, button, presser_id, limits, refusal, reply, channel_id
            )
            if not isinstance(start, _Claimed):
                return PressResult(child=None, winner=start)
        return await self._use_claim(parent, button, presser_id, start)

    async def _claim(
        self,
        parent: Job,
        button: str,
        presser_id: int,
        limits: Limits | None,
        refusal: UserFacingError | None,
        reply: InteractionReply | None,
        channel_id: int | None,
    ) -> _Claimed | ButtonPress:
        """Claim the button and write the press's intent; the winning press if another won."""
        claim = await self.store.claim_press(parent.akool_id, button, presser_id, now=self._clock())
        if not claim.won:
            return claim.press
        press = claim.press
        try:
            if refusal is not None:
                # Free after all (its claim was released, or stale): not this presser's to start.
                raise refusal
            if self._stopping:
                raise UserFacingError(RESTARTING)
            here = parent.channel_id if channel_id is None else channel_id
            origin = Origin(presser_id, parent.guild_id, here)
            what = f"{button} of {parent.akool_id}"
            intent = await self._intent(origin, what, limits, reply=reply, asked=False, claim=press)
        except BaseException:
            # Refused before AKOOL was asked: nobody used the button.
            await self.store.release_press(parent.akool_id, button, pressed_at=press.pressed_at)
            raise
        key = _claim_key(press)
        # No await between the claim's intent and this: a loser in this process finds it here.
        self._pressing.add(key)
        self._settlement(key)
        return _Claimed(press, intent, origin)

    async def _abandon(self, claimed: _Claimed) -> None:
        """Give back a claim whose interaction Discord gave up on before it was acknowledged."""
        press = claimed.press
        key = _claim_key(press)
        try:
            await self.store.release_press(
                press.parent_akool_id, press.button, pressed_at=press.pressed_at
            )
            await self.store.drop_create_intent(claimed.intent)
        finally:
            self._pressing.discard(key)
            settlement = self._settlement(key)
            if not settlement.done():
                settlement.set_result(PressOutcome(PressEnd.FREED))

    async def _use_claim(
        self, parent: Job, button: str, presser_id: int, claimed: _Claimed
    ) -> PressResult:
        key = _claim_key(claimed.press)
        settlement = self._settlement(key)
        outcome = PressOutcome(PressEnd.UNKNOWN)
        intent = claimed.intent
        asked = False
        try:
            async with self._recording():
                if not await self.store.mark_akool_call(intent, at=self._clock()):
                    # Reported lost (it waited longer than any press takes) before AKOOL was
                    # asked: the presser was told nothing started, and the claim is given back.
                    raise GivenUpError(GIVEN_UP)
                asked = True
                child = await self._start_press(parent, button, claimed)
            outcome = PressOutcome(PressEnd.STARTED, child=child)
            return PressResult(child=child, intent=intent)
        except Exception as exc:
            given_up = isinstance(exc, GivenUpError)
            if not asked and not given_up:
                # Refused (a restart) before AKOOL was asked: nobody used the button.
                await self.store.release_press(
                    parent.akool_id, button, pressed_at=claimed.press.pressed_at
                )
            outcome = await self._outcome_after(claimed.press, exc)
            if isinstance(exc, AkoolError | UserFacingError) and not given_up:
                # The presser hears why from the error raised; only a crash leaves it behind.
                # (One given up on belongs to the job loop, which gives the claim back.)
                await self.store.drop_create_intent(intent)
            raise
        finally:
            self._pressing.discard(key)
            if not settlement.done():
                settlement.set_result(outcome)

    async def press_outcome(self, press: ButtonPress) -> PressOutcome:
        """How the winning ``press`` ended, waiting while it may still be settling.

        A press made in this process is known the moment it ends (with AKOOL's reason when it
        started no job); one made by another process sharing the store is re-read until it
        settles. Either wait ends once the press is older than a press can take.
        """
        key = _claim_key(press)
        settlement = self._settlement(key)
        event_loop = asyncio.get_running_loop()
        age = max(0.0, self._clock() - press.pressed_at)
        deadline = event_loop.time() + max(0.0, self._press_wait - age)
        pause = _FIRST_REREAD
        while not settlement.done():
            here = key in self._pressing
            if not here:
                settled = await self._settled_in_store(press)
                if settled is not None:
                    return settled
            remaining = deadline - event_loop.time()
            if remaining <= 0:
                return PressOutcome(PressEnd.UNKNOWN) if here else await self._unsettled(press)
            await asyncio.wait({settlement}, timeout=remaining if here else min(pause, remaining))
            pause = min(pause * 2, _LAST_REREAD)
        outcome = settlement.result()
        if outcome.child is None:
            return outcome
        # The job as it is now (posted, perhaps), not as it was when the press started it.
        child = await self.store.get_job(outcome.child.akool_id)
        return outcome if child is None else dataclasses.replace(outcome, child=child)

    def _settlement(self, key: _ClaimKey) -> asyncio.Future[PressOutcome]:
        settlement = self._settlements.get(key)
        if settlement is None:
            loop = asyncio.get_running_loop()
            settlement = self._settlements[key] = loop.create_future()
            # Long enough for the press to settle and for those who pressed meanwhile to hear.
            loop.call_later(2 * self._press_wait, self._forget, key, settlement)
        return settlement

    def _forget(self, key: _ClaimKey, settlement: asyncio.Future[PressOutcome]) -> None:
        if self._settlements.get(key) is settlement:
            del self._settlements[key]

    async def _settled_in_store(self, press: ButtonPress) -> PressOutcome | None:
        """The press's end as the store shows it, or None while it may still be settling."""
        current = await self.store.get_press(press.parent_akool_id, press.button)
        if current is None or _claim_key(current) != _claim_key(press):
            return PressOutcome(PressEnd.FREED)  # released (and perhaps claimed again since)
        child = await self.press_child(current)
        return None if child is None else PressOutcome(PressEnd.STARTED, child=child)

    async def _outcome_after(self, press: ButtonPress, exc: Exception) -> PressOutcome:
        """How a press that raised ``exc`` ended: the claim was released, or it stands."""
        error = exc if isinstance(exc, AkoolError) else None
        try:
            settled = await self._settled_in_store(press)
        except Exception:
            log.exception(
                "Could not read back the press of %s %s", press.parent_akool_id, press.button
            )
            return PressOutcome(PressEnd.UNKNOWN, error=error)
        if settled is not None:
            return PressOutcome(settled.end, child=settled.child, error=error)
        # The claim stands without a job: AKOOL used the button, or may have (see _start_press).
        return PressOutcome(PressEnd.SPENT if error else PressEnd.UNKNOWN, error=error)

    async def _unsettled(self, press: ButtonPress) -> PressOutcome:
        """A press older than a press can take that names no job: AKOOL's buttons tell."""
        parent = await self.store.get_job(press.parent_akool_id)
        if parent is None:
            return PressOutcome(PressEnd.UNKNOWN)
        fresh = await self.resync_buttons(parent)
        if press.button in fresh.used_buttons:
            return PressOutcome(PressEnd.SPENT)
        return PressOutcome(PressEnd.UNKNOWN)

    async def _start_press(self, parent: Job, button: str, claimed: _Claimed) -> Job:
        origin = claimed.origin
        pressed_at = claimed.press.pressed_at
        try:
            created = await self.akool.press_button(
                parent.akool_id, button, webhook_url=self._webhook_url
            )
        except AkoolUncertainCreateError:
            # Whether AKOOL used the button is unknown: its own used_buttons decides.
            fresh = await self.resync_buttons(parent)
            if button not in fresh.used_buttons:
                await self.store.release_press(parent.akool_id, button, pressed_at=pressed_at)
            raise
        except AkoolError as exc:
            if exc.code in (1010, 1011):
                # Used or closed elsewhere (the AKOOL web app, another bot): the claim stands.
                await self.resync_buttons(parent)
            else:
                # AKOOL answered, so it started nothing: a crash before the answer is shown
                # leaves an intent that says so, and the button free.
                await self.store.mark_akool_call(claimed.intent, at=None)
                await self.store.release_press(parent.akool_id, button, pressed_at=pressed_at)
            raise
        # The job row first: should the process die before the claim names it, the job is still
        # delivered, and press_child() finds it by its parent and button.
        child = await self._store_new(
            NewJob(
                akool_id=created.id,
                kind=JobKind.BUTTON,
                requester_id=origin.requester_id,
                guild_id=parent.guild_id,
                channel_id=origin.channel_id,
                prompt=parent.prompt,
                scale=parent.scale,
                parent_akool_id=parent.akool_id,
                button=button,
                credits=created.credits,
                akool_created_at=_seconds(created),
                intent_id=claimed.intent,
            )
        )
        await self.store.set_press_child(parent.akool_id, button, created.id)
        await self._mark_used(parent, button)
        return child

    async def press_child(self, press: ButtonPress) -> Job | None:
        """The job a winning press started, if it got that far."""
        if press.child_akool_id is not None:
            return await self.store.get_job(press.child_akool_id)
        children = await self.store.children(press.parent_akool_id)
        return next((c for c in children if c.button == press.button), None)

    async def _release_if_stale(self, parent: Job, press: ButtonPress) -> bool:
        """Free a claim left behind by a crash between claiming and asking AKOOL.

        A claim that named no job for ``STALE_CLAIM`` seconds is checked against AKOOL's own
        ``used_buttons``: if AKOOL never used the button, nobody did, and it may be pressed again.
        """
        if not self._may_be_stale(press):
            return False
        if await self.press_child(press) is not None:
            return False
        fresh = await self.resync_buttons(parent)
        if press.button in fresh.used_buttons:
            return False
        log.warning(
            "Releasing the stale claim on %s %s by %s",
            parent.akool_id,
            press.button,
            press.presser_id,
        )
        await self.store.release_press(parent.akool_id, press.button, pressed_at=press.pressed_at)
        return True

    def _may_be_stale(self, press: ButtonPress) -> bool:
        """No press of this process holds the claim, and it is older than any press takes."""
        return (
            _claim_key(press) not in self._pressing
            and self._clock() - press.pressed_at >= STALE_CLAIM
        )

    async def resync_buttons(self, parent: Job) -> Job:
        """Refresh a grid's buttons from AKOOL's ``buttons``/``used_buttons``."""
        try:
            # A press waits on it: as urgent as the press itself.
            result = await self.akool.get_result(parent.akool_id, kind=RequestKind.URGENT)
        except AkoolError as exc:
            log.warning("Could not re-sync the buttons of %s: %s", parent.akool_id, exc)
            return parent
        update = StatusUpdate.from_akool(result)
        recorded = await self.store.record_status(
            parent.akool_id, update, now=self._clock(), due_at=parent.due_at
        )
        return recorded or parent

    async def _mark_used(self, parent: Job, button: str) -> None:
        update = StatusUpdate(
            status=parent.status,
            upscaled_urls=parent.upscaled_urls,
            buttons=tuple(b for b in parent.buttons if b != button),
            used_buttons=tuple(dict.fromkeys([*parent.used_buttons, button])),
            credits=parent.credits,
        )
        await self.store.record_status(
            parent.akool_id, update, now=self._clock(), due_at=parent.due_at
        )

    async def _store_new(self, new: NewJob) -> Job:
        now = self._clock()
        job, created = await self.store.add_job(
            new, now=now, due_at=now + self.loop.next_poll_in(0.0)
        )
        self._metrics.job_created(job, created=created)
        self.loop.wake()
        return job


def order_of(job: Job) -> ImageOrder:
    """The order that made ``job`` (a grid, or a batch's lead), to be made again: a v4 batch
    keeps its options, so it is made through v4 again."""
    options = job.options
    scale = job.scale or "1:1"
    if options is None:
        return ImageOrder(job.prompt, scale, job.source_image)
    return ImageOrder(
        job.prompt,
        scale,
        job.source_image,
        count=options.count,
        resolution=options.resolution,
        negative=options.negative,
        similarity=options.similarity,
    )


def _seconds(job: ImageJob) -> float | None:
    return job.created_at.timestamp() if job.created_at is not None else None
