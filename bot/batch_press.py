"""U n and V n on a v4 batch's post: the batch is one job to the member, its images n rows.

The post attaches the batch's completed images in batch order and numbers them so (U1 is the
first file on it; an image that failed, or that could not be fetched or fitted, has no number),
keeping each where it is attached (``kept_images``); its buttons name the lead
(``akool:v1:{lead}:V2``).
AKOOL keeps no buttons for a v4 image, so every button is the bot's own:

- U n posts image n alone, full size, as a reply to the post: from the post that keeps it on
  Discord (or AKOOL's original while AKOOL has it). No AKOOL call, no credits. Once per button per
  post, as a grid's U: a later press is told who pressed it, and the button shows as used.
- V n is a v4 image-to-image create of image n (its link freshly signed by Discord at the press,
  ``similar`` the server's setting), with the lead's prompt, aspect and options. Once per button
  per post through the grid's claims (:meth:`JobService.press`), so any member may press it,
  exactly one press starts it, and it is attributed to the presser; it is a batch of its own.

An image kept nowhere any more (its post deleted, AKOOL's copy older than 7 days) refuses the
press before anything is claimed, spent or asked of AKOOL.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final

import discord

from bot import batch_render, render
from bot.akool import AkoolError, AkoolUncertainCreateError, ImageBatch
from bot.create_api import ImageOrder
from bot.errors import UserFacingError
from bot.i18n import lazy
from bot.jobs import NOT_OFFERED, STALE_CLAIM, Claimed, JobService, PressResult
from bot.kept_images import ImageGone, KeptImages
from bot.store import (
    ButtonPress,
    CreateOptions,
    ImageRole,
    InteractionReply,
    Job,
    JobKind,
    JobStatus,
    KeptImage,
    Limits,
    NewJob,
    StatusUpdate,
)

log = logging.getLogger(__name__)

# How make_preview names a shrunk copy: the post keeps a preview, not the full-size image.
PREVIEW_SUFFIX: Final = "-preview.jpg"


def in_post_order(batch: Sequence[Job]) -> list[Job]:
    """A batch's completed images in the order its post attaches them."""
    ordered = sorted(batch, key=lambda job: (job.batch_index or 0, job.id))
    return [job for job in ordered if job.status is JobStatus.COMPLETED]


def number_of(button: str) -> int:
    """The image a batch's button names: ``V2`` is image 2."""
    return int(button[1:])


@dataclass(frozen=True, slots=True)
class BatchImage:
    """Image ``number`` of a batch's post, as Discord (or AKOOL) has it at the press."""

    number: int
    job: Job
    # The file on the post that keeps it, its links freshly signed; None: that file is gone.
    attachment: discord.Attachment | None
    kept: KeptImage
    # AKOOL's original is still there (it deletes results after 7 days).
    at_akool: bool

    @property
    def link(self) -> str:
        """A link to the image that works now."""
        if self.attachment is not None:
            return self.attachment.url
        assert self.job.image_url is not None  # at_akool
        return self.job.image_url

    @property
    def kept_full_size(self) -> bool:
        """Whether the post keeps the image itself, not a preview shrunk to fit it."""
        return self.attachment is not None and not self.attachment.filename.endswith(PREVIEW_SUFFIX)


class BatchPresses:
    """What U n and V n of a batch's post do; the cog checks the rules first."""

    def __init__(
        self,
        jobs: JobService,
        kept: KeptImages,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._jobs = jobs
        self._store = jobs.store
        self._kept = kept
        self._clock = clock

    async def image(self, lead: Job, button: str) -> BatchImage:
        """Image n of ``lead``'s post as it can be had now. Raises :class:`UserFacingError` for
        an image the post does not show, and :class:`ImageGone` for one kept nowhere any more."""
        number = number_of(button)
        shown = await self.posted(lead)
        if not 1 <= number <= len(shown):
            raise UserFacingError(
                lazy("This batch's post shows no image {n}, so nothing was done.", n=number)
            )
        job, kept = shown[number - 1]
        attachment = await self._kept.find(kept)
        now = self._clock()
        at_akool = bool(job.image_url) and render.expires_at(job).timestamp() > now
        if attachment is None and not at_akool:
            raise ImageGone(
                lazy(
                    "Image {n} of this batch is no longer kept anywhere: the post that kept it "
                    "on Discord is gone, and AKOOL deletes results after 7 days. Nothing was "
                    "spent.",
                    n=number,
                )
            )
        return BatchImage(number, job, attachment, kept, at_akool)

    async def view(self, lead: Job) -> discord.ui.View:
        """The buttons of the batch's post as the store has them now (used ones green)."""
        return batch_render.view(lead, len(await self.posted(lead)))

    async def posted(self, lead: Job) -> list[tuple[Job, KeptImage]]:
        """The images the batch's post attached, numbered as the post numbers them (U1 is the
        first), each with where Discord keeps it."""
        posted = []
        for job in in_post_order(await self._store.batch(lead.akool_id)):
            kept = await self._store.kept_image(job.akool_id, ImageRole.RESULT)
            if kept is not None:
                posted.append((job, kept))
        return posted

    # U n

    async def claim_upscale(self, lead: Job, button: str, presser_id: int) -> ButtonPress | None:
        """Claim U n for ``presser_id``: ``None`` if they won it, else the press that did.

        A claim that never posted its image (a crash between claiming and posting) is given
        back once it is older than any post takes.
        """
        for _ in range(2):
            claim = await self._store.claim_press(
                lead.akool_id, button, presser_id, now=self._clock()
            )
            if claim.won:
                return None
            press = claim.press
            if press.child_akool_id is not None or self._clock() - press.pressed_at < STALE_CLAIM:
                return press
            log.warning("Releasing the stale claim on %s %s", lead.akool_id, button)
            await self._store.release_press(lead.akool_id, button, pressed_at=press.pressed_at)
        return press

    async def upscaled(self, lead: Job, button: str, image: BatchImage) -> None:
        """U n's image is posted: its claim names the image, and the button shows as used."""
        await self._store.set_press_child(lead.akool_id, button, image.job.akool_id)
        await self.mark_used(lead, button)

    async def give_back(self, lead: Job, button: str, presser_id: int) -> None:
        """U n posted nothing: the button is free again."""
        press = await self._store.get_press(lead.akool_id, button)
        if press is not None and press.presser_id == presser_id and press.child_akool_id is None:
            await self._store.release_press(lead.akool_id, button, pressed_at=press.pressed_at)

    # V n

    async def vary(
        self,
        lead: Job,
        button: str,
        presser_id: int,
        image: BatchImage,
        *,
        similarity: float,
        limits: Limits | None = None,
        refusal: UserFacingError | None = None,
        channel_id: int | None = None,
        reply: InteractionReply | None = None,
        acknowledge: Callable[[], Awaitable[object]] | None = None,
    ) -> PressResult:
        """Press V n once for everyone: the first press starts the variation batch (see
        :meth:`JobService.press` for the claim, its intent and the acknowledgement)."""
        order = variation_order(lead, image.link, similarity)
        if refusal is None and not self._jobs.creator.offers(order):
            raise UserFacingError(NOT_OFFERED)

        async def begin(parent: Job, pressed: str, claimed: Claimed) -> Job:
            return await self._start_variation(parent, pressed, claimed, order, image)

        return await self._jobs.press(
            lead,
            button,
            presser_id,
            limits=limits,
            refusal=refusal,
            channel_id=channel_id,
            reply=reply,
            acknowledge=acknowledge,
            begin=begin,
            order=order,
        )

    async def _start_variation(
        self, lead: Job, button: str, claimed: Claimed, order: ImageOrder, image: BatchImage
    ) -> Job:
        pressed_at = claimed.press.pressed_at
        try:
            created = await self._jobs.creator.create(
                dataclasses.replace(order, webhook_url=self._jobs.webhook_url)
            )
        except AkoolError as exc:
            if not isinstance(exc, AkoolUncertainCreateError):
                # AKOOL answered, so it started nothing: a crash before the answer is shown
                # leaves an intent that says so.
                await self._store.mark_akool_call(claimed.intent, at=None)
            # AKOOL records a v4 create on no button, so nothing can say later whether an
            # unanswered one made a job: as after an unanswered /imagine, the member may try
            # again (and hears that AKOOL may have made one).
            await self._store.release_press(lead.akool_id, button, pressed_at=pressed_at)
            raise
        if not isinstance(created, ImageBatch):
            raise TypeError("a variation of a v4 image is made through v4")
        origin = claimed.origin
        base = NewJob(
            akool_id="",
            kind=JobKind.BUTTON,
            requester_id=origin.requester_id,
            guild_id=lead.guild_id,
            channel_id=origin.channel_id,
            prompt=lead.prompt,
            scale=order.scale,
            source_image=order.source_image,
            parent_akool_id=lead.akool_id,
            button=button,
        )
        options = CreateOptions(
            count=order.count or len(created.images),
            resolution=order.resolution or self._jobs.creator.resolution,
            negative=order.negative,
            similarity=order.similarity,
        )
        child = await self._jobs.store_batch(base, created, options, claimed.intent)
        if image.attachment is not None:
            # The variation's own 🔄 starts from the same image, kept where it is now.
            await self._store.keep_image(
                child.akool_id, ImageRole.SOURCE, image.kept, now=self._clock()
            )
        await self._store.set_press_child(lead.akool_id, button, child.akool_id)
        await self.mark_used(lead, button)
        return child

    async def mark_used(self, lead: Job, button: str) -> None:
        """Show ``button`` as used on the post: the lead's own record (AKOOL keeps none)."""
        fresh = await self._store.get_job(lead.akool_id) or lead
        update = StatusUpdate(
            status=fresh.status,
            upscaled_urls=fresh.upscaled_urls,
            buttons=fresh.buttons,
            used_buttons=tuple(dict.fromkeys([*fresh.used_buttons, button])),
            credits=fresh.credits,
        )
        await self._store.record_status(
            lead.akool_id, update, now=self._clock(), due_at=fresh.due_at
        )


def variation_order(lead: Job, source: str, similarity: float) -> ImageOrder:
    """A v4 image-to-image of ``source`` with the lead's prompt, aspect and options."""
    options = lead.options
    return ImageOrder(
        lead.prompt,
        lead.scale or "1:1",
        source,
        count=None if options is None else options.count,
        resolution=None if options is None else options.resolution,
        negative=None if options is None else options.negative,
        similarity=similarity,
    )
