"""/imagine: create images from a prompt, optionally starting from an image.

Without options it makes the four-image grid; ``count``, ``resolution``, ``negative``,
``similarity`` and the Original aspect are what only AKOOL's current create API has
(bot/imagine_options.py checks how they go together before anything is spent)."""

from __future__ import annotations

import logging
import unicodedata
from typing import Final

import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n, imagine_options, languages, logs, policy, render
from bot.akool import AkoolError
from bot.akool.source_prompt import ORIGINAL_SCALE
from bot.core import AkoolBot
from bot.create_api import ImageOrder
from bot.errors import UserFacingError
from bot.jobs import Origin
from bot.kept_images import kept_on, source_file
from bot.notifier import upload_limit
from bot.secret import Secret
from bot.store import ImageRole, InteractionReply, ReplyBy

log = logging.getLogger(__name__)

# AKOOL documents no prompt limit; this keeps requests sane and fits a Discord embed.
PROMPT_MAX: Final = 1500
# Source images are passed to AKOOL by URL; a huge one only slows AKOOL down.
SOURCE_IMAGE_MAX_BYTES: Final = 20 * 1024 * 1024
# The image types AKOOL takes, each with the file endings it may have. The name must agree with
# the declared type, so a renamed program or text file is refused even when the type says image.
SOURCE_IMAGE_TYPES: Final = {
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg", ".jfif"),
    "image/webp": (".webp",),
}
ASPECTS: Final = [
    app_commands.Choice(name="1:1 square", value="1:1"),
    app_commands.Choice(name="4:3 landscape", value="4:3"),
    app_commands.Choice(name="3:2 landscape", value="3:2"),
    app_commands.Choice(name="16:9 wide", value="16:9"),
    app_commands.Choice(name="3:4 portrait", value="3:4"),
    app_commands.Choice(name="2:3 portrait", value="2:3"),
    app_commands.Choice(name="9:16 tall", value="9:16"),
    # Only with an image to start from (refused without one: see bot/imagine_options.py).
    app_commands.Choice(name=imagine_options.ORIGINAL_CHOICE, value=ORIGINAL_SCALE),
]
# AKOOL spells 4K in lower case.
RESOLUTIONS: Final = [
    app_commands.Choice(name="1080p (Full HD)", value="1080p"),
    app_commands.Choice(name="4K (Ultra HD)", value="4k"),
]


def clean_prompt(prompt: str) -> str:
    """The prompt on one line, or a :class:`UserFacingError` saying what is wrong with it."""
    cleaned = " ".join(prompt.split())
    # Zero-width and control characters alone describe nothing either.
    if not any(unicodedata.category(char)[0] not in "CZ" for char in cleaned):
        raise UserFacingError(i18n.lazy("The prompt is empty. Describe the image you want."))
    if len(cleaned) > PROMPT_MAX:
        raise UserFacingError(
            i18n.nlazy(
                "The prompt is {n} character long; the limit is {limit}.",
                "The prompt is {n} characters long; the limit is {limit}.",
                len(cleaned),
                limit=PROMPT_MAX,
            )
        )
    return cleaned


def check_source_image(image: discord.Attachment) -> str:
    """The image's URL for AKOOL, or a :class:`UserFacingError` saying why it cannot be used."""
    content_type = (image.content_type or "").split(";")[0].strip().lower()
    endings = SOURCE_IMAGE_TYPES.get(content_type)
    if endings is None or not image.filename.lower().endswith(endings) or image.size <= 0:
        raise UserFacingError(i18n.lazy("The image must be a PNG, JPEG or WebP file."))
    if image.size > SOURCE_IMAGE_MAX_BYTES:
        raise UserFacingError(
            i18n.lazy(
                "The image is larger than {size} MiB, the most this bot accepts.",
                size=SOURCE_IMAGE_MAX_BYTES // (1024 * 1024),
            )
        )
    return image.url


class Imagine(commands.Cog):
    def __init__(self, bot: AkoolBot) -> None:
        self.bot = bot

    @app_commands.command(name="imagine")
    @app_commands.guild_only()
    @app_commands.describe(
        prompt="What the image should show",
        aspect="Shape of the image (default 1:1 square)",
        image="An image to start from (PNG, JPEG or WebP)",
        count="How many images to make, 1 to 4 (default 4)",
        resolution="How large each image is: 1080p or 4K",
        negative="What to leave out of the image",
        similarity="With an image: 0 strays from it, 1 stays close (default 0.5)",
    )
    @app_commands.choices(aspect=ASPECTS, resolution=RESOLUTIONS)
    async def imagine(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, PROMPT_MAX],
        aspect: app_commands.Choice[str] | None = None,
        image: discord.Attachment | None = None,
        count: app_commands.Range[int, imagine_options.COUNT_MIN, imagine_options.COUNT_MAX]
        | None = None,
        resolution: app_commands.Choice[str] | None = None,
        negative: app_commands.Range[str, 1, imagine_options.NEGATIVE_MAX] | None = None,
        similarity: app_commands.Range[
            float, imagine_options.SIMILARITY_MIN, imagine_options.SIMILARITY_MAX
        ]
        | None = None,
    ) -> None:
        """Create up to four images from a prompt, with buttons to upscale or vary each one."""
        text = clean_prompt(prompt)
        source = check_source_image(image) if image is not None else None
        assert interaction.channel_id is not None
        origin = Origin(interaction.user.id, interaction.guild_id, interaction.channel_id)
        asked = imagine_options.Asked(
            text,
            aspect=aspect.value if aspect is not None else None,
            source_image=source,
            count=count,
            resolution=resolution.value if resolution is not None else None,
            negative=negative,
            similarity=similarity,
        )
        admission = await self.bot.jobs.admit(
            origin,
            policy.role_ids(interaction.user),
            text,
            parent_channel_id=policy.parent_channel_id(interaction.channel),
            # What it will cost (a grid, or so many v4 images) is known before the server's
            # default aspect is: the credit caps are checked against that.
            order=ImageOrder(
                text,
                asked.aspect or "1:1",
                source,
                count=asked.count,
                resolution=asked.resolution,
                negative=asked.negative,
                similarity=asked.similarity,
            ),
        )
        # Refused here, still privately: nothing is written down, spent or asked of AKOOL.
        order = imagine_options.order(asked, admission.settings, self.bot.jobs.creator.offers)
        if order.scale not in {c.value for c in ASPECTS}:
            raise UserFacingError(i18n.lazy("That aspect ratio is not one AKOOL offers."))
        # The "thinking" message becomes the job's public status line: the server's language.
        public = languages.server_locale(admission.settings, interaction.guild)

        reply = InteractionReply(
            interaction.application_id, Secret(interaction.token), ReplyBy.EDIT
        )
        # Written down before Discord hears back (and within the member's limits, so a refusal
        # is still private): whatever the moment of a crash from here on, the restarted bot
        # finds the intent and answers the command.
        intent = await self.bot.jobs.begin_create(
            origin, text, limits=admission.limits, reply=reply, order=order
        )
        try:
            # Discord wants a first answer within 3 seconds; AKOOL may take longer to accept it.
            await interaction.response.defer(thinking=True)
        except discord.NotFound:
            # Too late for Discord: there is no "thinking" message to answer, nothing started.
            await self.bot.jobs.forget(intent)
            raise
        try:
            job = await self.bot.jobs.imagine(origin, order, intent=intent)
        except (AkoolError, UserFacingError) as exc:
            # The public "thinking" message becomes the answer: after a public defer Discord has
            # no private reply, and the channel learns why the image is not coming.
            if isinstance(exc, AkoolError):
                log.warning("AKOOL refused a job for %s: %r", origin.requester_id, exc)
                reason = exc.user_text(public)
            else:  # the bot began stopping, or had given up on the command (see JobService)
                reason = exc.in_language(public)
            await interaction.edit_original_response(
                content=i18n.gettext(
                    public,
                    "❌ {prompt} could not be started: {reason}",
                    prompt=render.what_prompt_text(text),
                    reason=reason,
                ),
                allowed_mentions=discord.AllowedMentions.none(),
            )
            await self.bot.jobs.forget(intent)
            return
        position = await self.bot.store.queue_position(job.akool_id)
        # A batch's status line counts its images from the start.
        content = await self.bot.notifier.status_text(job, position=position, locale=public)
        # The member's image goes on the status message: Discord keeps it there, while the
        # command's own link to it soon expires and can never be had again (a 🔄 a month on).
        kept = None
        if image is not None:
            kept = await source_file(image, upload_limit(interaction.guild))
        message = await self._answer(interaction, content, kept)
        if kept is not None:
            await self.bot.kept_images.keep(job.akool_id, ImageRole.SOURCE, kept_on(message))
        await self.bot.jobs.answered(intent, job, message.id)
        log.info(
            "Job %s created by %s in %s",
            job.akool_id,
            origin.requester_id,
            origin.guild_id,
            extra=logs.about(job),
        )

    async def _answer(
        self, interaction: discord.Interaction, content: str, file: discord.File | None
    ) -> discord.InteractionMessage:
        """The "thinking" message becomes the status line, carrying ``file`` if Discord takes it."""
        none = discord.AllowedMentions.none()
        if file is not None:
            try:
                return await interaction.edit_original_response(
                    content=content, attachments=[file], allowed_mentions=none
                )
            except discord.HTTPException as exc:
                # Refused (too large for this server, say): the job goes on; only a re-roll
                # after the command's link expires will find no image.
                log.warning("Could not keep the source image on the status message: %s", exc)
        return await interaction.edit_original_response(content=content, allowed_mentions=none)


async def setup(bot: AkoolBot) -> None:
    await bot.add_cog(Imagine(bot))
