"""Images Discord keeps for the bot, and links to them that work at the moment they are needed.

AKOOL deletes a result after 7 days. Discord's links to a file are signed and expire (in about a
day), and a slash command's attachment is on no message at all, so no link to it can be had
again. What lasts is a file attached to one of the bot's own messages: while the message stands,
fetching it over REST answers with freshly signed links. So every image the bot may need later
is kept on such a message (a result on its post; a member's source image on the job's status
message), the store remembers which message and attachment (:class:`KeptImage`), and a press a
month later fetches that message and uses the link Discord gives now.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Callable
from typing import Final
from urllib.parse import parse_qs, urlsplit

import discord

from bot.errors import UserFacingError
from bot.i18n import command, lazy
from bot.images import DownloadedImage, ImageDownloadError, check_image, make_preview
from bot.store import ImageRole, Job, JobStore, KeptImage

log = logging.getLogger(__name__)

SOURCE_GONE: Final = lazy(
    "The image this grid started from is no longer on Discord (the message that kept it was "
    "deleted), so it cannot be re-rolled. Nothing was spent; start again with {command}.",
    command=command("imagine"),
)


class ImageGone(UserFacingError):
    """The image a press needs is kept nowhere any more; nothing was started or spent."""


def kept_on(message: discord.Message) -> KeptImage | None:
    """Where ``message`` keeps its (first) file, or ``None`` if it carries none."""
    if not message.attachments:
        return None
    attachment = message.attachments[0]
    return KeptImage(message.channel.id, message.id, attachment.id, attachment.filename)


def link_expired(url: str, now: float) -> bool:
    """Whether ``url`` is a signed Discord link past its expiry (``ex``, Unix time in hex).

    A link without a signature (an AKOOL one, say) is not judged here.
    """
    query = parse_qs(urlsplit(url).query)
    if not (query.get("ex") and query.get("hm")):
        return False
    try:
        return int(query["ex"][0], 16) <= now
    except ValueError:
        return False


async def source_file(attachment: discord.Attachment, limit: int) -> discord.File | None:
    """The member's source image as a file for the bot's own message, shrunk to a preview when
    it is over ``limit`` (the member may upload more than the bot may); ``None`` if it cannot
    be read now."""
    try:
        data = await attachment.read()
    except discord.HTTPException as exc:
        log.warning("Could not read the source image %s: HTTP %s", attachment.id, exc.status)
        return None
    image = DownloadedImage(data, attachment.content_type or "", attachment.filename)
    if len(data) > limit:
        shrunk = await make_preview(image, limit)
        if shrunk is None:
            log.warning("The source image %s is too large to keep", attachment.id)
            return None
        image = shrunk
    return discord.File(io.BytesIO(image.data), filename=image.filename)


class KeptImages:
    """Records where images are kept and finds them again through Discord's REST API."""

    def __init__(
        self,
        client: discord.Client,
        store: JobStore,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._store = store
        self._clock = clock

    async def keep(self, akool_id: str, role: ImageRole, kept: KeptImage | None) -> None:
        if kept is not None:
            await self._store.keep_image(akool_id, role, kept, now=self._clock())

    async def find(self, kept: KeptImage) -> discord.Attachment | None:
        """The kept file as Discord has it now (its links freshly signed), or ``None`` once its
        message or the file in it is gone. Other failures (Discord 5xx) propagate."""
        channel = self._client.get_partial_messageable(kept.channel_id)
        try:
            message = await channel.fetch_message(kept.message_id)
        except (discord.NotFound, discord.Forbidden) as exc:
            log.info(
                "The message %s keeping an image is out of reach: HTTP %s",
                kept.message_id,
                exc.status,
            )
            return None
        return next((a for a in message.attachments if a.id == kept.attachment_id), None)

    async def source_link(self, job: Job) -> tuple[str | None, KeptImage | None]:
        """A link to ``job``'s source image that works now, and where it is kept; raises
        :class:`ImageGone` (before anything is spent) when it is kept nowhere any more.

        A job with no kept copy (made before the bot kept them, or answered by a restarted
        process) has only the link it was made with: used while it works.
        """
        if not job.source_image:
            return None, None
        kept = await self._store.kept_image(job.akool_id, ImageRole.SOURCE)
        if kept is None:
            if link_expired(job.source_image, self._clock()):
                raise ImageGone(SOURCE_GONE)
            return job.source_image, None
        attachment = await self.find(kept)
        if attachment is None:
            raise ImageGone(SOURCE_GONE)
        return attachment.url, kept

    async def result_image(self, job: Job) -> DownloadedImage | None:
        """``job``'s image from the post that keeps it, or ``None`` when none does any more."""
        kept = await self._store.kept_image(job.akool_id, ImageRole.RESULT)
        if kept is None:
            return None
        attachment = await self.find(kept)
        if attachment is None:
            return None
        return await read(attachment)


async def read(attachment: discord.Attachment) -> DownloadedImage | None:
    """A file Discord keeps for the bot, or ``None`` if it cannot be read now (or is no image)."""
    try:
        data = await attachment.read()
        _extension, content_type = await asyncio.to_thread(check_image, data)
    except discord.HTTPException as exc:
        log.warning("Could not read the kept image %s: HTTP %s", attachment.id, exc.status)
        return None
    except ImageDownloadError as exc:
        log.warning("The kept file %s is not an image: %s", attachment.id, exc.reason)
        return None
    return DownloadedImage(data, content_type, attachment.filename)
