"""The one place that turns a finished job into a Discord message, exactly once.

The post carries a nonce derived from the job id; discord.py sends it with ``enforce_nonce``, so if
the process dies after Discord created the message but before the store recorded it, the retry
after a restart gets the same message back instead of a second post.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from typing import Any, Final

import discord

from bot import render
from bot.images import DownloadedImage, ImageDownloadError, ImageFetcher, make_preview
from bot.store import Job, JobStatus, JobStore

log = logging.getLogger(__name__)

# Discord's upload cap on servers without boosts; used when the guild is not cached.
DEFAULT_UPLOAD_LIMIT: Final = 10 * 1024 * 1024
# Room for the multipart envelope and the embed next to the file.
_UPLOAD_MARGIN: Final = 64 * 1024
# A download that keeps failing is reported in the post after this many tries, not retried forever.
DOWNLOAD_ATTEMPTS: Final = 3


class RetryLater(Exception):
    """Delivery failed for a reason that may pass (Discord 5xx, a network error)."""


def nonce_for(job: Job) -> str:
    """The completion post's nonce: Discord allows 25 characters; an AKOOL id has 24."""
    return job.akool_id[:25]


class Notifier:
    """Edits status messages and posts results and failures."""

    def __init__(
        self,
        client: discord.Client,
        store: JobStore,
        images: ImageFetcher,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._store = store
        self._images = images
        self._clock = clock

    def _channel(self, job: Job) -> discord.PartialMessageable:
        return self._client.get_partial_messageable(job.channel_id, guild_id=job.guild_id)

    def _upload_limit(self, job: Job) -> int:
        guild = self._client.get_guild(job.guild_id) if job.guild_id else None
        limit = guild.filesize_limit if guild is not None else DEFAULT_UPLOAD_LIMIT
        return limit - _UPLOAD_MARGIN

    async def show_progress(self, job: Job) -> None:
        """Edit the job's status message to its current state. Failing to is never fatal."""
        if job.status_message_id is None:
            return
        message = self._channel(job).get_partial_message(job.status_message_id)
        try:
            await message.edit(content=render.status_line(job, self._clock()))
        except discord.NotFound:
            log.info("Status message of job %s is gone; not editing it", job.akool_id)
        except discord.HTTPException as exc:
            log.warning("Could not edit the status of job %s: %s", job.akool_id, exc)

    async def deliver(self, job: Job) -> None:
        """Post a finished job's result or failure and record it. Raises :class:`RetryLater`."""
        parent = await self._store.get_job(job.parent_akool_id) if job.parent_akool_id else None
        if job.status is JobStatus.COMPLETED:
            kwargs = await self._result_post(job, parent)
        else:
            kwargs = {
                "content": render.failure_content(job),
                "embed": render.failure_embed(job),
            }
        channel = self._channel(job)
        reply_to = _reply_target(job, parent)
        if reply_to is not None:
            kwargs["reference"] = discord.MessageReference(
                message_id=reply_to, channel_id=job.channel_id, fail_if_not_exists=False
            )
        try:
            message = await channel.send(
                nonce=nonce_for(job),
                allowed_mentions=discord.AllowedMentions(
                    everyone=False,
                    roles=False,
                    replied_user=False,
                    users=[discord.Object(u) for u in render.mentioned_users(job, parent)],
                ),
                **kwargs,
            )
        except (discord.Forbidden, discord.NotFound) as exc:
            reason = f"cannot post in channel {job.channel_id}: {exc.text or exc.status}"
            log.warning("Job %s is undeliverable: %s", job.akool_id, reason)
            await self._store.mark_undeliverable(job.akool_id, reason, now=self._clock())
            return
        except discord.HTTPException as exc:
            raise RetryLater(f"Discord answered {exc.status}: {exc.text}") from exc
        if await self._store.mark_delivered(job.akool_id, message.id, now=self._clock()):
            log.info("Delivered job %s as message %s", job.akool_id, message.id)
        await self.show_progress(job)

    async def repost(self, job: Job, channel: discord.abc.Messageable) -> discord.Message:
        """Post a finished job again (``/status`` → Post here) with live buttons. No nonce."""
        parent = await self._store.get_job(job.parent_akool_id) if job.parent_akool_id else None
        kwargs = await self._result_post(job, parent, final=True)
        return await channel.send(allowed_mentions=discord.AllowedMentions.none(), **kwargs)

    async def _result_post(
        self, job: Job, parent: Job | None, *, final: bool = False
    ) -> dict[str, Any]:
        """Content, embed, file and buttons of a completed job's post."""
        view = render.grid_view(job)
        image, problem = await self._image(job, final=final)
        original_link = False
        if image is not None and len(image.data) > self._upload_limit(job):
            preview = await make_preview(image, self._upload_limit(job))
            original_link = True
            image = preview
            if preview is None:
                problem = "The image is too large to upload here and could not be shrunk."
        content = render.result_content(job, parent, original_link=original_link)
        if problem is not None:
            content += f"\n{problem}"
            if job.image_url:
                content += f" [Open it on AKOOL]({job.image_url})."
        embed = render.result_embed(
            job, filename=image.filename if image else None, now=self._clock()
        )
        kwargs: dict[str, Any] = {"content": content, "embed": embed}
        if image is not None:
            kwargs["file"] = discord.File(io.BytesIO(image.data), filename=image.filename)
        if view is not None:
            kwargs["view"] = view
        return kwargs

    async def _image(self, job: Job, *, final: bool) -> tuple[DownloadedImage | None, str | None]:
        """The result image, or why there is none. Raises RetryLater while retries remain."""
        if not job.image_url:
            return None, "AKOOL reported the job as done but gave no image."
        try:
            return await self._images.fetch(job.image_url, name=job.akool_id), None
        except ImageDownloadError as exc:
            if not final and exc.retryable and job.attempts + 1 < DOWNLOAD_ATTEMPTS:
                raise RetryLater(exc.reason) from exc
            return None, exc.reason


def _reply_target(job: Job, parent: Job | None) -> int | None:
    """A derived job replies to its grid; any other job to its status message."""
    if parent is not None and parent.result_message_id is not None:
        return parent.result_message_id
    return job.status_message_id
