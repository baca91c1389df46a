"""The one place that turns a finished job into a Discord message, exactly once.

The post carries a nonce derived from the job id; discord.py sends it with ``enforce_nonce``, so if
the process dies after Discord created the message but before the store recorded it, the retry
after a restart gets the same message back instead of a second post.

A job whose channel cannot be posted in any more (the bot lost its permissions, the channel was
deleted) goes to its requester by DM; if that fails too, the job is recorded as undeliverable with
the reason, so the loop never tries it again.

A requester who asked for it (``/notify dm:on``) also gets a copy by DM, sent once the channel post
is recorded. The copy is best-effort: it never holds up or repeats the post, and is not retried.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import discord

from bot import batch_render, interaction_webhook, kept_images, render
from bot.i18n import LocaleLike, Text, gettext, lazy
from bot.images import (
    DownloadedImage,
    ImageDownloadError,
    ImageFetcher,
    fit_together,
    make_preview,
)
from bot.kept_images import ImageGone, KeptImages, kept_on
from bot.languages import PublicLocales
from bot.metrics import Metrics
from bot.store import (
    CreateIntent,
    Delivery,
    ImageRole,
    InteractionReply,
    Job,
    JobStatus,
    JobStore,
    KeptImage,
    ReplyBy,
)

log = logging.getLogger(__name__)

# Discord's upload cap on servers without boosts and in DMs; used when the guild is not cached.
DEFAULT_UPLOAD_LIMIT: Final = 10 * 1024 * 1024
# Room for the multipart envelope and the embed next to the file.
_UPLOAD_MARGIN: Final = 64 * 1024
# A download that keeps failing (an error status, a network error, an error page or a file cut
# short) is reported in the post after this many tries, not retried forever. With the job loop's
# doubling backoff that is about 7 poll intervals (some 20 s at the default 3 s) from the first.
DOWNLOAD_ATTEMPTS: Final = 4
# An image of a batch that could not be made small enough to go with the others.
TOO_LARGE_FOR_ALL: Final = lazy(
    "This image is too large to upload here with the others and could not be shrunk."
)
RESULT_GONE: Final = lazy(
    "This job's image is no longer kept anywhere: the post that kept it on Discord is gone, "
    "and AKOOL deletes results after 7 days."
)


class RetryLater(Exception):
    """Delivery failed for a reason that may pass (Discord 5xx, a network error)."""


def upload_limit(guild: discord.Guild | None) -> int:
    """The largest file the bot may attach to a message in ``guild`` (``None``: a DM, or a
    server not cached), with room for the rest of the message."""
    limit = guild.filesize_limit if guild is not None else DEFAULT_UPLOAD_LIMIT
    return limit - _UPLOAD_MARGIN


def nonce_for(job: Job) -> str:
    """The completion post's nonce: Discord allows 25 characters; an AKOOL id has 24."""
    return job.akool_id[:25]


def dm_copy_nonce_for(job: Job) -> str:
    """The DM copy's own nonce, so it can never be mistaken for (or dedupe into) the post."""
    return f"d{job.akool_id}"[:25]


def may_pass(exc: discord.HTTPException) -> bool:
    """Whether sending again later can succeed where Discord refused now.

    Server errors and a rate limit that outlasted discord.py's own retries pass; 401 means the
    token was reset, and pending jobs go out once the bot runs with the new one. Any other 4xx
    says the message itself is refused (too large, invalid) and would be refused every time.
    """
    return exc.status >= 500 or exc.status in (401, 429)


def describe(exc: discord.HTTPException) -> str:
    """Discord's refusal in a few words for a log line and the stored reason."""
    text = exc.text or "no message"
    return (
        f"HTTP {exc.status} (code {exc.code}): {text}" if exc.code else f"HTTP {exc.status}: {text}"
    )


class Notifier:
    """Edits status messages and posts results and failures."""

    def __init__(
        self,
        client: discord.Client,
        store: JobStore,
        images: ImageFetcher,
        *,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
        kept: KeptImages | None = None,
    ) -> None:
        self._client = client
        self._store = store
        self._images = images
        self._clock = clock
        self._metrics = metrics or Metrics(clock=clock)
        self._kept = kept or KeptImages(client, store, clock=clock)
        # A v4 batch is posted by one of its images' deliveries at a time (see deliver).
        self._batch_locks: dict[str, tuple[asyncio.Lock, int]] = {}
        # Every post, status line and DM copy is written in the language of the job's server.
        self.languages = PublicLocales(store, client)

    def _channel(self, job: Job) -> discord.PartialMessageable:
        return self._client.get_partial_messageable(job.channel_id, guild_id=job.guild_id)

    def _upload_limit(self, job: Job) -> int:
        return upload_limit(self._client.get_guild(job.guild_id) if job.guild_id else None)

    async def status_text(
        self, job: Job, *, position: int | None = None, locale: LocaleLike = None
    ) -> str:
        """The text of ``job``'s status message: a batch's (its lead's) with the batch's
        progress, any other job's its status line."""
        if job.batch_akool_id is None:
            return render.status_line(job, self._clock(), position=position, locale=locale)
        batch = await self._store.batch(job.batch_akool_id)
        lead = next((j for j in batch if j.akool_id == job.batch_akool_id), job)
        return batch_render.status_line(
            lead, batch, self._clock(), position=position, locale=locale
        )

    async def show_progress(self, job: Job) -> None:
        """Edit the job's status message to its current state (an image of a batch: the batch's
        status message, its lead's, to the batch's state). Failing to is never fatal."""
        content = None
        if job.batch_akool_id is not None:
            batch = await self._store.batch(job.batch_akool_id)
            lead = next((j for j in batch if j.akool_id == job.batch_akool_id), None)
            if lead is None:
                return
            others = [j for j in batch if j.akool_id != job.akool_id]
            if job.status is JobStatus.PROCESSING and any(
                j.status is not JobStatus.QUEUED for j in others
            ):
                # The batch was under way already: nothing the member sees changed (Discord
                # allows a channel a few edits a second; a batch's images share one message).
                return
            locale = await self.languages.of(job.guild_id)
            content = batch_render.status_line(lead, batch, self._clock(), locale=locale)
            job = lead
        if job.status_message_id is None:
            return
        message = self._channel(job).get_partial_message(job.status_message_id)
        locale = await self.languages.of(job.guild_id)
        if content is None:
            content = render.status_line(job, self._clock(), locale=locale)
        try:
            await message.edit(content=content)
        except discord.HTTPException as exc:
            # Deleted by a member, or its channel is gone or closed to the bot: the result post
            # does not depend on it.
            log.warning(
                "Could not edit the status message of job %s: %s", job.akool_id, describe(exc)
            )

    async def deliver(self, job: Job) -> None:
        """Post a finished job's result or failure and record it. Raises :class:`RetryLater`.

        A channel that cannot be posted in sends the post to the requester by DM instead; a job
        that cannot be posted anywhere is recorded as undeliverable with the reason. An image of
        a v4 batch is posted with the whole batch, once every image of it has finished.
        """
        if job.batch_akool_id is not None:
            # Its images finish together often: one of them at a time here posts the batch, and
            # the others then find it posted (another process's post is one by the nonce).
            lead_id = job.batch_akool_id
            lock, users = self._batch_locks.get(lead_id, (asyncio.Lock(), 0))
            self._batch_locks[lead_id] = (lock, users + 1)
            try:
                async with lock:
                    await self._deliver_batch(job, lead_id)
            finally:
                lock, users = self._batch_locks[lead_id]
                if users == 1:
                    del self._batch_locks[lead_id]
                else:
                    self._batch_locks[lead_id] = (lock, users - 1)
            return
        parent = await self._store.get_job(job.parent_akool_id) if job.parent_akool_id else None
        image, problem = await self._image(job, final=False)
        locale = await self.languages.of(job.guild_id)
        kwargs = await self._post(
            job, parent, image, problem, limit=self._upload_limit(job), locale=locale
        )
        reply_to = _reply_target(job, parent)
        if reply_to is not None:
            # The status message or grid may have been deleted; Discord then sends the post as a
            # plain message instead of refusing it.
            kwargs["reference"] = discord.MessageReference(
                message_id=reply_to, channel_id=job.channel_id, fail_if_not_exists=False
            )
        in_channel = True
        try:
            message = await self._send(
                self._channel(job), job, kwargs, pings=render.mentioned_users(job, parent)
            )
        except (discord.Forbidden, discord.NotFound) as exc:
            reason = f"cannot post in channel {job.channel_id}: {describe(exc)}"
            by_dm = await self._deliver_by_dm(job, parent, image, problem, reason, locale)
            if by_dm is None:
                return
            message, in_channel = by_dm, False
        except discord.HTTPException as exc:
            if may_pass(exc):
                raise RetryLater(f"Discord answered {describe(exc)}") from exc
            await self._give_up(job, f"Discord refused the post: {describe(exc)}")
            return
        first = await self._store.mark_delivered(job.akool_id, message.id, now=self._clock())
        self._metrics.job_delivered(job, first=first)
        if image is not None:
            # AKOOL deletes it in 7 days; the post keeps it for Post here a month on.
            await self._kept.keep(job.akool_id, ImageRole.RESULT, kept_on(message))
        if first:
            log.info(
                "Delivered job %s as message %s in channel %s",
                job.akool_id,
                message.id,
                message.channel.id,
            )
        # Only the call that recorded the post sends the copy, so a retry after a crash or a
        # second process never sends two; one that already went by DM needs no copy.
        if first and in_channel:
            await self._send_dm_copy(job, parent, image, problem, message.id, locale)
        # Last, so "Done" on the status message means the delivery is over, DM copy included.
        await self.show_progress(job)

    async def _deliver_batch(self, job: Job, lead_id: str) -> None:
        """Post the batch ``job`` belongs to, once all its images finished; until then ``job``
        waits, out of the due jobs (no poll, no post), for the last of them.

        Whichever finished image is delivered once all have finished posts them all (with the
        lead's nonce, so two at once, in two processes, make one post) and records the post on
        every image. A crash anywhere leaves a finished image due, or one still to finish.
        """
        batch = await self._store.batch(lead_id)
        lead = next((j for j in batch if j.akool_id == lead_id), None)
        if lead is None:  # pragma: no cover - the lead is stored with its batch
            await self._give_up(job, f"the batch {lead_id} is not stored")
            return
        if all(image.delivery is not Delivery.PENDING for image in batch):
            return  # posted (or given up on) by a sibling's delivery meanwhile
        if not batch_render.Progress.of(batch).finished:
            await self._store.wait_for_batch(job.akool_id, now=self._clock())
            log.info("Job %s waits for the rest of its batch %s", job.akool_id, lead_id)
            await self.show_progress(job)
            return
        parent = await self._store.get_job(lead.parent_akool_id) if lead.parent_akool_id else None
        # Tried again as a whole: the attempts of the image being delivered count for all.
        downloads = await asyncio.gather(
            *(
                self._image(dataclasses.replace(image, attempts=job.attempts), final=False)
                for image in batch
            )
        )
        locale = await self.languages.of(lead.guild_id)
        post = _BatchPost(lead, batch, parent, list(downloads))
        kwargs = await self._batch_kwargs(post, limit=self._upload_limit(lead), locale=locale)
        reply_to = _reply_target(lead, parent)
        if reply_to is not None:
            kwargs["reference"] = discord.MessageReference(
                message_id=reply_to, channel_id=lead.channel_id, fail_if_not_exists=False
            )
        in_channel = True
        pings = render.mentioned_users(lead, parent)
        try:
            message = await self._send(self._channel(lead), lead, kwargs, pings=pings)
        except (discord.NotFound, discord.Forbidden) as exc:
            reason = f"cannot post in channel {lead.channel_id}: {describe(exc)}"
            by_dm = await self._batch_by_dm(post, reason, locale)
            if by_dm is None:
                return
            message, in_channel = by_dm, False
        except discord.HTTPException as exc:
            if may_pass(exc):
                raise RetryLater(f"Discord answered {describe(exc)}") from exc
            await self._give_up_batch(lead, f"Discord refused the post: {describe(exc)}")
            return
        # Kept before the post is recorded: a crash between the two posts again, with the
        # lead's nonce, so Discord answers the same message and the images are kept then.
        await self._keep_batch(batch, message)
        first = await self._store.mark_batch_delivered(lead_id, message.id, now=self._clock())
        for image in batch:
            self._metrics.job_delivered(image, first=first)
        if first:
            log.info(
                "Delivered batch %s (%d images) as message %s in channel %s",
                lead_id,
                len(batch),
                message.id,
                message.channel.id,
            )
        if in_channel and first:
            await self._send_batch_dm_copy(post, message.id, locale)
        await self.show_progress(lead)

    async def _batch_kwargs(
        self, post: _BatchPost, *, limit: int, locale: LocaleLike, by_dm: bool = False
    ) -> dict[str, Any]:
        """Content, embed, files and buttons of a batch's post; fresh file objects every call.

        Every completed image is attached, the files together within ``limit`` (Discord counts
        them together against the server's upload limit): the larger ones shrunk to previews
        where needed, their originals linked with their expiry. Failed images are named.
        """
        lead, batch = post.lead, post.batch
        if not any(job.status is JobStatus.COMPLETED for job in batch):
            failed = batch_render.failure_job(lead, batch)
            kwargs: dict[str, Any] = {
                "content": render.failure_content(failed, locale),
                "embed": render.failure_embed(failed, locale),
                "view": batch_render.view(lead, 0),
            }
        else:
            kwargs = await self._batch_result(post, limit=limit, locale=locale)
        if by_dm:
            kwargs.pop("view", None)
            kwargs["content"] = f"{render.dm_fallback_note(lead, locale)}\n{kwargs['content']}"
        kwargs["content"] = _fit(lead, kwargs["content"])
        return kwargs

    async def _batch_result(
        self, post: _BatchPost, *, limit: int, locale: LocaleLike
    ) -> dict[str, Any]:
        lead, batch = post.lead, post.batch
        present = [
            (job, image)
            for job, (image, _) in zip(batch, post.downloads, strict=True)
            if image is not None
        ]
        fitted = await fit_together([image for _, image in present], limit)
        notes: list[str] = []
        below: list[str] = []
        files: list[discord.File] = []
        previews: list[tuple[int, Job]] = []
        for (job, original), image in zip(present, fitted, strict=True):
            if image is None:
                unfit = render.problem_note(job, TOO_LARGE_FOR_ALL, locale)
                notes.append(unfit.line)
                below.extend([unfit.below] if unfit.below else [])
                continue
            files.append(discord.File(io.BytesIO(image.data), filename=image.filename))
            if image is not original:
                previews.append((len(files), job))
        for job, (image, problem) in zip(batch, post.downloads, strict=True):
            if image is None and problem is not None:
                note = render.problem_note(job, problem, locale)
                notes.append(note.line)
                below.extend([note.below] if note.below else [])
        if previews:
            line, links = batch_render.originals_below(lead, previews, locale)
            notes.insert(0, line)
            below.insert(0, links or "")
        failed = batch_render.failed_note(batch, locale)
        if failed is not None:
            notes.insert(0, failed)
        content = render.result_content(
            lead, post.parent, note="\n".join(notes) if notes else None, locale=locale
        )
        description = "\n".join(part for part in below if part) or None
        embed = batch_render.result_embed(
            lead,
            batch,
            now=self._clock(),
            description=render.cut(description, 4096) if description else None,
            locale=locale,
        )
        return {
            "content": content,
            "embed": embed,
            "files": files,
            "view": batch_render.view(lead, len(files)),
        }

    async def _keep_batch(self, batch: Sequence[Job], message: discord.Message) -> None:
        """Remember where the post keeps each image (its file's name names the image's job)."""
        by_name = {attachment.filename: attachment for attachment in message.attachments}
        for job in batch:
            for name in (f"{job.akool_id}.", f"{job.akool_id}-preview."):
                attachment = next((a for n, a in by_name.items() if n.startswith(name)), None)
                if attachment is not None:
                    kept = KeptImage(
                        message.channel.id, message.id, attachment.id, attachment.filename
                    )
                    await self._kept.keep(job.akool_id, ImageRole.RESULT, kept)
                    break

    async def _batch_by_dm(
        self, post: _BatchPost, channel_reason: str, locale: LocaleLike
    ) -> discord.Message | None:
        """The batch's post sent to the requester instead; ``None`` once it is given up on."""
        lead = post.lead
        if lead.guild_id is None:
            await self._give_up_batch(lead, channel_reason)
            return None
        log.warning(
            "Batch %s: %s; sending it to the requester %s by DM",
            lead.akool_id,
            channel_reason,
            lead.requester_id,
        )
        kwargs = await self._batch_kwargs(
            post, limit=DEFAULT_UPLOAD_LIMIT - _UPLOAD_MARGIN, locale=locale, by_dm=True
        )
        return await self._send_by_dm(lead, kwargs, channel_reason, self._give_up_batch)

    async def _give_up_batch(self, lead: Job, reason: str) -> None:
        log.error("Batch %s is undeliverable: %s", lead.akool_id, reason)
        batch = await self._store.batch(lead.akool_id)
        first = await self._store.mark_batch_undeliverable(lead.akool_id, reason, now=self._clock())
        for image in batch:
            self._metrics.job_undeliverable(image, first=first)

    async def _send_batch_dm_copy(self, post: _BatchPost, post_id: int, locale: LocaleLike) -> None:
        """The requester's copy of a batch's post, if they asked for one. Never raises."""

        async def copy() -> dict[str, Any]:
            return await self._batch_kwargs(
                post, limit=DEFAULT_UPLOAD_LIMIT - _UPLOAD_MARGIN, locale=locale
            )

        await self._send_copy(post.lead, copy, post_id, locale, what="batch")

    async def _send_dm_copy(
        self,
        job: Job,
        parent: Job | None,
        image: DownloadedImage | None,
        problem: Text | None,
        post_id: int,
        locale: LocaleLike,
    ) -> None:
        """Send the requester a copy of the post if they asked for one. Never raises."""

        async def copy() -> dict[str, Any]:
            return await self._post(
                job,
                parent,
                image,
                problem,
                limit=DEFAULT_UPLOAD_LIMIT - _UPLOAD_MARGIN,
                locale=locale,
            )

        await self._send_copy(job, copy, post_id, locale, what="job")

    async def _send_copy(
        self,
        job: Job,
        post: Callable[[], Awaitable[dict[str, Any]]],
        post_id: int,
        locale: LocaleLike,
        *,
        what: str,
    ) -> None:
        """Send ``job``'s requester a copy of its post (``post()`` makes it afresh) if they asked
        for one, in the post's language (the member's own is known only while they interact).
        Never raises.

        The job is already delivered: a DM that fails (closed DMs are Discord 403, code 50007)
        is logged and dropped, never retried.
        """
        if job.guild_id is None:
            return
        try:
            if not await self._store.dm_notify(job.requester_id):
                return
            kwargs = await post()
            # Buttons only work in the job's server (presses are checked against it).
            kwargs.pop("view", None)
            note = gettext(
                locale,
                "-# A copy for you; the post is in {channel}: {link}",
                channel=render.channel_mention(job.channel_id),
                link=render.message_link(job.guild_id, job.channel_id, post_id),
            )
            kwargs["content"] = _fit(job, f"{note}\n{kwargs['content']}")
            dm = await self._client.create_dm(discord.Object(job.requester_id))
            await dm.send(
                nonce=dm_copy_nonce_for(job),
                allowed_mentions=discord.AllowedMentions.none(),
                **kwargs,
            )
        except discord.HTTPException as exc:
            log.warning(
                "Could not send member %s the DM copy of %s %s: %s",
                job.requester_id,
                what,
                job.akool_id,
                describe(exc),
            )
            return
        except Exception:
            log.exception("The DM copy of %s %s failed unexpectedly", what, job.akool_id)
            return
        log.info("Sent member %s a DM copy of %s %s", job.requester_id, what, job.akool_id)

    async def _deliver_by_dm(
        self,
        job: Job,
        parent: Job | None,
        image: DownloadedImage | None,
        problem: Text | None,
        channel_reason: str,
        locale: LocaleLike,
    ) -> discord.Message | None:
        """Send the post to the requester instead; ``None`` once the job is given up on."""
        if job.guild_id is None:
            # The job's channel was already a private one: there is nowhere else to send it.
            await self._give_up(job, channel_reason)
            return None
        log.warning(
            "Job %s: %s; sending it to the requester %s by DM",
            job.akool_id,
            channel_reason,
            job.requester_id,
        )
        kwargs = await self._post(
            job,
            parent,
            image,
            problem,
            limit=DEFAULT_UPLOAD_LIMIT - _UPLOAD_MARGIN,
            by_dm=True,
            locale=locale,
        )
        return await self._send_by_dm(job, kwargs, channel_reason, self._give_up)

    async def _send_by_dm(
        self,
        job: Job,
        kwargs: dict[str, Any],
        channel_reason: str,
        give_up: Callable[[Job, str], Awaitable[None]],
    ) -> discord.Message | None:
        """Send ``job``'s post (``kwargs``) to its requester; ``None`` once ``give_up`` has
        recorded it undeliverable. Raises :class:`RetryLater` while Discord may take it later."""
        try:
            dm = await self._client.create_dm(discord.Object(job.requester_id))
            return await self._send(dm, job, kwargs, pings=[job.requester_id])
        except discord.HTTPException as exc:
            if may_pass(exc):
                raise RetryLater(
                    f"{channel_reason}; the DM failed too: Discord answered {describe(exc)}"
                ) from exc
            await give_up(
                job, f"{channel_reason}; cannot send the requester a DM either: {describe(exc)}"
            )
            return None

    async def _give_up(self, job: Job, reason: str) -> None:
        log.error("Job %s is undeliverable: %s", job.akool_id, reason)
        first = await self._store.mark_undeliverable(job.akool_id, reason, now=self._clock())
        self._metrics.job_undeliverable(job, first=first)

    async def _send(
        self,
        destination: discord.abc.Messageable,
        job: Job,
        kwargs: dict[str, Any],
        *,
        pings: Iterable[int],
    ) -> discord.Message:
        return await destination.send(
            nonce=nonce_for(job),
            allowed_mentions=discord.AllowedMentions(
                everyone=False,
                roles=False,
                replied_user=False,
                users=[discord.Object(u) for u in pings],
            ),
            **kwargs,
        )

    async def report_lost_create(
        self, intent: CreateIntent, job: Job | None = None, *, button_used: bool | None = None
    ) -> None:
        """Answer a command that a crash left unanswered. Raises :class:`RetryLater`.

        With its ``job`` stored, the answer is the job's status line, which becomes the job's
        status message (so progress edits and the result's reply follow it); else a sentence:
        AKOOL was never asked, so nothing was started or charged, or AKOOL was asked and may
        have made a job the bot cannot follow. For a press, ``button_used`` is whether AKOOL
        counts its button as used (``None``: AKOOL cannot say); an unused one was given back,
        and the presser may press it again.

        The interaction itself is answered while its token is good: a slash command's
        "thinking" response is edited; a button's original response is the grid, so the
        sentence goes to the presser privately, and a job's status line is posted as a reply
        to the grid, as the press itself does. Otherwise, or should Discord refuse, a channel
        message pings the member.
        """
        reply = intent.reply
        if reply is not None and not interaction_webhook.usable(intent.started_at, self._clock()):
            reply = None
        # The server's language, even for the presser's private answer: nothing stored says
        # what their Discord is in.
        locale = await self.languages.of(intent.guild_id)
        if job is not None:
            answered = await self._answer_with_status(intent, job, reply, locale)
        else:
            if intent.claim is not None:
                content = render.lost_press_content(intent, button_used=button_used, locale=locale)
            elif intent.akool_called_at is None:
                content = render.nothing_started_content(intent, locale)
            else:
                content = render.lost_create_content(intent, locale)
            answered = await self._answer_with_sentence(intent, content, reply)
        if answered:
            log.warning(
                "Answered create %s of %s, interrupted by a restart (%s)",
                intent.id,
                intent.requester_id,
                f"job {job.akool_id}" if job is not None else "no job",
            )

    async def _answer_with_status(
        self, intent: CreateIntent, job: Job, reply: InteractionReply | None, locale: LocaleLike
    ) -> bool:
        position = await self._store.queue_position(job.akool_id)
        content = await self.status_text(job, position=position, locale=locale)
        message_id = None
        if reply is not None and reply.by is ReplyBy.EDIT:
            message_id = await self._by_webhook(
                intent,
                interaction_webhook.edit_original(
                    self._client, reply, content, discord.AllowedMentions.none()
                ),
            )
        if message_id is None:
            parent = await self._store.get_job(job.parent_akool_id) if job.parent_akool_id else None
            reference = None
            if parent is not None and parent.result_message_id is not None:
                # The grid may have been deleted since: then a plain message rather than none.
                reference = discord.MessageReference(
                    message_id=parent.result_message_id,
                    channel_id=job.channel_id,
                    fail_if_not_exists=False,
                )
            message_id = await self._in_channel(intent, content, reference=reference)
        if message_id is None:
            return False
        await self._store.set_status_message(job.akool_id, message_id, now=self._clock())
        return True

    async def _answer_with_sentence(
        self, intent: CreateIntent, content: str, reply: InteractionReply | None
    ) -> bool:
        if reply is not None:
            none = discord.AllowedMentions.none()
            if reply.by is ReplyBy.EDIT:
                send = interaction_webhook.edit_original(self._client, reply, content, none)
            else:
                send = interaction_webhook.follow_up(
                    self._client, reply, content, ephemeral=True, allowed_mentions=none
                )
            if await self._by_webhook(intent, send) is not None:
                return True
        return await self._in_channel(intent, content) is not None

    async def _by_webhook(self, intent: CreateIntent, send: Awaitable[int]) -> int | None:
        """The message id, or ``None`` when Discord refuses the interaction's webhook for good."""
        try:
            return await send
        except discord.HTTPException as exc:
            if not interaction_webhook.refused_for_good(exc):
                raise RetryLater(describe(exc)) from exc
            log.warning(
                "Could not answer the interaction of create %s (%s); telling the channel",
                intent.id,
                describe(exc),
            )
            return None

    async def _in_channel(
        self,
        intent: CreateIntent,
        content: str,
        *,
        reference: discord.MessageReference | None = None,
    ) -> int | None:
        """Post ``content`` pinging the member; ``None`` if Discord refuses it for good."""
        channel = self._client.get_partial_messageable(intent.channel_id, guild_id=intent.guild_id)
        try:
            message = await channel.send(
                content,
                # A retry after a crash mid-answer gets the first notice back, not a second one.
                nonce=f"intent-{intent.id}"[:25],
                reference=reference,  # type: ignore[arg-type]
                allowed_mentions=discord.AllowedMentions(
                    everyone=False,
                    roles=False,
                    replied_user=False,
                    users=[discord.Object(intent.requester_id)],
                ),
            )
        except discord.HTTPException as exc:
            if may_pass(exc):
                raise RetryLater(describe(exc)) from exc
            log.error(
                "Could not tell %s about create %s: %s",
                intent.requester_id,
                intent.id,
                describe(exc),
            )
            return None
        return message.id

    async def repost(self, job: Job, channel: discord.abc.Messageable) -> discord.Message:
        """Post a finished job again (``/status`` → Post here) with live buttons. No nonce.

        The image comes from the post that keeps it on Discord, else from AKOOL (for 7 days);
        raises :class:`ImageGone` when neither has it any more.
        """
        parent = await self._store.get_job(job.parent_akool_id) if job.parent_akool_id else None
        image = await self._kept.result_image(job)
        kept = image is not None
        problem = None
        if image is None:
            image, problem = await self._image(job, final=True, gone=ImageGone(RESULT_GONE))
        locale = await self.languages.of(job.guild_id)
        kwargs = await self._post(
            job, parent, image, problem, limit=self._upload_limit(job), locale=locale
        )
        message = await channel.send(allowed_mentions=discord.AllowedMentions.none(), **kwargs)
        if image is not None and not kept:
            # The post that kept it is gone (or never kept it): this one keeps it from now on.
            await self._kept.keep(job.akool_id, ImageRole.RESULT, kept_on(message))
        return message

    async def post_batch_image(
        self,
        lead: Job,
        image: Job,
        number: int,
        channel: discord.abc.Messageable,
        *,
        presser_id: int,
        kept: discord.Attachment | None,
        full_size_kept: bool,
        reply_to: int | None,
    ) -> discord.Message:
        """U n of a v4 batch's post: image ``number`` alone, full size, as a reply to the post.

        The image is the file the post keeps (``kept``, just fetched), unless that is a preview
        and AKOOL still has the original; else AKOOL's, while it has it. Shrunk, with AKOOL's
        link, only where it is over the server's limit. Raises :class:`ImageGone` when neither
        has it. No buttons but 🗑️: the batch's own post has them.
        """
        data: DownloadedImage | None = None
        if kept is not None and full_size_kept:
            data = await kept_images.read(kept)
        if (
            data is None
            and image.image_url
            and render.expires_at(image).timestamp() > self._clock()
        ):
            try:
                data, _ = await self._image(image, final=True, gone=ImageGone(RESULT_GONE))
            except ImageGone:
                data = None
        if data is None and kept is not None:
            data = await kept_images.read(kept)  # the preview the post keeps: the best there is
        if data is None:
            raise ImageGone(RESULT_GONE)
        locale = await self.languages.of(lead.guild_id)
        note: render.Note | None = None
        limit = self._upload_limit(lead)
        if len(data.data) > limit:
            shrunk = await make_preview(data, limit)
            if shrunk is None:
                raise ImageGone(RESULT_GONE)
            data, note = shrunk, render.preview_note(image, locale)
        content = render.batch_image_content(
            lead, number, presser_id, note=note.line if note else None, locale=locale
        )
        embed = render.result_embed(
            image,
            filename=data.filename,
            now=self._clock(),
            description=note.below if note else None,
            locale=locale,
        )
        reference = None
        if reply_to is not None:
            # The post may have been deleted since: then a plain message rather than none.
            reference = discord.MessageReference(
                message_id=reply_to, channel_id=lead.channel_id, fail_if_not_exists=False
            )
        kwargs: dict[str, Any] = {
            "content": _fit(lead, content),
            "embed": embed,
            "file": discord.File(io.BytesIO(data.data), filename=data.filename),
        }
        view = render.grid_view(image)
        if view is not None:
            kwargs["view"] = view
        message = await channel.send(
            reference=reference,  # type: ignore[arg-type]
            allowed_mentions=discord.AllowedMentions(
                everyone=False, roles=False, replied_user=False, users=[discord.Object(presser_id)]
            ),
            **kwargs,
        )
        if kept is None:
            # The file the batch's post kept is gone: this post keeps the image from now on.
            await self._kept.keep(image.akool_id, ImageRole.RESULT, kept_on(message))
        return message

    async def _post(
        self,
        job: Job,
        parent: Job | None,
        image: DownloadedImage | None,
        problem: Text | None,
        *,
        limit: int,
        locale: LocaleLike,
        by_dm: bool = False,
    ) -> dict[str, Any]:
        """Content, embed, file and buttons of a job's post; a fresh file object every call.

        discord.py rewinds a file only between its own retries, so a file already sent once
        would go out empty: the DM fallback needs a new one.
        """
        if job.status is not JobStatus.COMPLETED:
            kwargs: dict[str, Any] = {
                "content": render.failure_content(job, locale),
                "embed": render.failure_embed(job, locale),
            }
            view = render.grid_view(job)  # 🗑️ only: a failure can be cleared away too
            if view is not None:
                kwargs["view"] = view
        else:
            kwargs = await self._result_post(
                job, parent, image, problem, limit=limit, locale=locale
            )
        if by_dm:
            # Buttons only work in the job's server (presses are checked against it).
            kwargs.pop("view", None)
            kwargs["content"] = f"{render.dm_fallback_note(job, locale)}\n{kwargs['content']}"
        kwargs["content"] = _fit(job, kwargs["content"])
        return kwargs

    async def _result_post(
        self,
        job: Job,
        parent: Job | None,
        image: DownloadedImage | None,
        problem: Text | None,
        *,
        limit: int,
        locale: LocaleLike,
    ) -> dict[str, Any]:
        """Content, embed, file and buttons of a completed job's post.

        AKOOL's link, when the post needs it (a preview, or no image), goes where its length
        fits Discord's limits: see :func:`render.preview_note`.
        """
        view = render.grid_view(job)
        note: render.Note | None = None
        if image is not None and len(image.data) > limit:
            image = await make_preview(image, limit)
            if image is None:
                problem = lazy("The image is too large to upload here and could not be shrunk.")
            else:
                note = render.preview_note(job, locale)
        if problem is not None:
            note = render.problem_note(job, problem, locale)
        content = render.result_content(
            job, parent, note=note.line if note else None, locale=locale
        )
        embed = render.result_embed(
            job,
            filename=image.filename if image else None,
            now=self._clock(),
            description=note.below if note else None,
            locale=locale,
        )
        kwargs: dict[str, Any] = {"content": content, "embed": embed}
        if image is not None:
            kwargs["file"] = discord.File(io.BytesIO(image.data), filename=image.filename)
        if view is not None:
            kwargs["view"] = view
        return kwargs

    async def _image(
        self, job: Job, *, final: bool, gone: Exception | None = None
    ) -> tuple[DownloadedImage | None, Text | None]:
        """A completed job's image, or why there is none. Raises RetryLater while retries remain,
        and ``gone`` (when given) if AKOOL no longer has the image."""
        if job.status is not JobStatus.COMPLETED:
            return None, None
        if not job.image_url:
            problem = lazy("AKOOL reported the job as done but gave no image.")
            log.warning("Job %s: %s", job.akool_id, problem)
            return None, problem
        try:
            return await self._images.fetch(job.image_url, name=job.akool_id), None
        except ImageDownloadError as exc:
            if not final and exc.retryable and job.attempts + 1 < DOWNLOAD_ATTEMPTS:
                raise RetryLater(str(exc.reason)) from exc
            if exc.gone and gone is not None:
                raise gone from None
            log.warning("Job %s is posted without its image: %s", job.akool_id, exc.reason)
            return None, exc.reason


@dataclass(frozen=True, slots=True)
class _BatchPost:
    """What a batch's post is made of: its rows (the lead's first), the grid or batch it was
    re-rolled from, and each image's download (or why there is none)."""

    lead: Job
    batch: Sequence[Job]
    parent: Job | None
    downloads: list[tuple[DownloadedImage | None, Text | None]]


def _fit(job: Job, content: str) -> str:
    """``content`` within Discord's 2,000 characters. Its parts are bounded so that it always
    is; this only keeps a mistake there from making the job undeliverable."""
    if len(content) <= render.CONTENT_MAX:
        return content
    log.warning("Job %s: the post's text is %d characters; cut to fit", job.akool_id, len(content))
    return render.cut(content, render.CONTENT_MAX)


def _reply_target(job: Job, parent: Job | None) -> int | None:
    """A derived job replies to its grid; any other job to its status message."""
    if parent is not None and parent.result_message_id is not None:
        return parent.result_message_id
    return job.status_message_id
