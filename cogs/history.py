"""/history: a member's recent jobs in a server, a page at a time.

The page buttons are ``HistoryPageButton`` dynamic items: the member and the page live in the
``custom_id``, the jobs in the database, so a history opened before a restart still turns.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import discord
from discord import app_commands

from bot import i18n, render
from bot.components import HISTORY, ButtonCog, HistoryPageButton
from bot.core import AkoolBot
from bot.custom_ids import HistoryRef
from bot.errors import UserFacingError
from bot.i18n import LocaleLike, gettext, ngettext
from bot.store import Delivery, Job, JobKind, JobStatus

log = logging.getLogger(__name__)

PAGE_SIZE: Final = 10
# The custom_id template allows pages 0-9999, and ▶ names the page after the one shown.
MAX_PAGES: Final = 9_999
_PROMPT_EXCERPT: Final = 80
# Discord refuses an embed whose description is longer.
_DESCRIPTION_MAX: Final = 4096

EMPTY: Final = i18n.lazy(
    "You have no jobs in this server yet. Start one with {command}.",
    command=i18n.command("imagine"),
)
NOT_YOURS: Final = i18n.lazy(
    "This is someone else's history; use {command} to see yours.",
    command=i18n.command("history"),
)

_ICONS: Final = {
    JobStatus.QUEUED: "⏳",
    JobStatus.PROCESSING: "🎨",
    JobStatus.COMPLETED: "✅",
    JobStatus.FAILED: "❌",
}


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of a member's history, ready to send or to edit into the message."""

    embed: discord.Embed
    view: discord.ui.View | None


def page_count(total: int) -> int:
    """How many pages ``total`` jobs fill (at least one, at most what a custom_id can name)."""
    return max(1, min(MAX_PAGES, -(-total // PAGE_SIZE)))


def batch_status(images: Sequence[Job]) -> JobStatus:
    """How a v4 batch stands as one job: unfinished while any image is (processing once any
    is); done if any image is, else failed."""
    if any(not image.status.finished for image in images):
        if any(image.status is JobStatus.PROCESSING for image in images):
            return JobStatus.PROCESSING
        return JobStatus.QUEUED
    if any(image.status is JobStatus.COMPLETED for image in images):
        return JobStatus.COMPLETED
    return JobStatus.FAILED


def describe_job(
    job: Job,
    *,
    akool_link: bool = True,
    locale: LocaleLike = None,
    batch: Sequence[Job] = (),
) -> str:
    """Two lines for one job: its status and what it is; then credits, result link and id.

    ``akool_link=False`` leaves out AKOOL's own link to an image not posted here (a long one
    would not fit ten to a page; ``/status`` shows it). ``batch``: every image of the v4 batch
    ``job`` leads, which is one line, with its images' status and credits together.
    """
    images = list(batch) if job.is_batch_lead and batch else [job]
    status_of = batch_status(images) if len(images) > 1 else job.status
    if job.kind is JobKind.BUTTON and job.button:
        what = gettext(locale, "{button} of `{job}`", button=job.button, job=job.parent_akool_id)
    elif job.prompt:
        # The prompt is the member's own text: shown as text, never as links or formatting.
        what = f"**{render.shown(job.prompt, _PROMPT_EXCERPT)}**"
    else:
        what = gettext(locale, "job `{job}`", job=job.akool_id)
    charged = [image.credits for image in images if image.credits is not None]
    if not charged:
        credits = gettext(locale, "? credits")
    else:
        credits = ngettext(locale, "{n} credit", "{n} credits", sum(charged))
    details = [credits]
    if len(images) > 1:
        details.insert(0, ngettext(locale, "{n} image", "{n} images", len(images)))
    if job.result_message_id is not None:
        link = render.message_link(job.guild_id, job.channel_id, job.result_message_id)
        details.append(gettext(locale, "[result]({link})", link=link))
    elif job.delivery is Delivery.UNDELIVERABLE:
        details.append(gettext(locale, "could not be posted"))
    if job.result_message_id is None and job.status is JobStatus.COMPLETED and job.image_url:
        # Not posted (yet): AKOOL's own link, which expires 7 days after the job was made.
        if akool_link and len(job.image_url) <= render.CONTENT_URL_MAX:
            details.append(gettext(locale, "[image on AKOOL]({url})", url=job.image_url))
        else:
            details.append(
                gettext(
                    locale,
                    "image: `{command} {job}`",
                    command=i18n.command("status"),
                    job=job.akool_id,
                )
            )
    details.append(f"`{job.akool_id}`")
    details.append(render.timestamp(job.created_at))
    status = f"{_ICONS[status_of]} {render.status_word(status_of, locale)}"
    return f"{status} · {what}\n{' · '.join(details)}"


def history_page(
    jobs: list[Job],
    user_id: int,
    page: int,
    total: int,
    locale: LocaleLike = None,
    batches: Mapping[str, Sequence[Job]] | None = None,
) -> HistoryPage:
    """The embed listing ``jobs`` (page ``page``, 0 = newest) and its ◀ / ▶ buttons, in the
    member's language. ``batches``: the images of each v4 batch a job of ``jobs`` leads."""
    pages = page_count(total)
    found = batches or {}

    def lines(akool_link: bool) -> str:
        return "\n\n".join(
            describe_job(
                job, akool_link=akool_link, locale=locale, batch=found.get(job.akool_id, ())
            )
            for job in jobs
        )

    description = lines(True)
    if len(description) > _DESCRIPTION_MAX:
        # AKOOL's URLs are what can make a page too long for Discord's embed description.
        description = lines(False)
    embed = discord.Embed(
        title=gettext(locale, "Your jobs in this server"),
        description=description[:_DESCRIPTION_MAX],
        colour=render.COLOUR_PENDING,
    )
    footer = ngettext(
        locale,
        "Page {page} of {pages} · {n} job, newest first",
        "Page {page} of {pages} · {n} jobs, newest first",
        total,
        page=i18n.number(locale, page + 1),
        pages=i18n.number(locale, pages),
    )
    embed.set_footer(text=footer)
    if pages == 1:
        return HistoryPage(embed, None)
    view = discord.ui.View(timeout=None)
    # A message's custom_ids must differ: on the first page the disabled ◀ names the page itself.
    previous = HistoryRef(user_id, max(page - 1, 0))
    view.add_item(HistoryPageButton(previous, label="◀", disabled=page == 0))
    view.add_item(
        HistoryPageButton(HistoryRef(user_id, page + 1), label="▶", disabled=page >= pages - 1)
    )
    return HistoryPage(embed, view)


class History(ButtonCog):
    """/history and its page buttons."""

    def __init__(self, bot: AkoolBot) -> None:
        super().__init__(bot.button_handlers)
        self.bot = bot

    def button_handlers(self) -> dict[str, Callable[..., Awaitable[None]]]:
        return {HISTORY: self.on_page_button}

    async def _page(
        self, guild_id: int | None, user_id: int, page: int, locale: LocaleLike
    ) -> HistoryPage | None:
        """Page ``page`` of a member's history (the last, if it shrank); ``None`` if empty."""
        total = await self.bot.store.count_jobs(guild_id, user_id)
        if total == 0:
            return None
        page = min(page, page_count(total) - 1)
        jobs = await self.bot.store.recent_jobs(
            guild_id, user_id, limit=PAGE_SIZE, offset=page * PAGE_SIZE
        )
        # A v4 batch is one line, by its lead, with the credits of all its images.
        batches = {
            job.akool_id: await self.bot.store.batch(job.akool_id)
            for job in jobs
            if job.is_batch_lead
        }
        return history_page(jobs, user_id, page, total, locale, batches)

    @app_commands.command(name="history")
    @app_commands.guild_only()
    async def history(self, interaction: discord.Interaction) -> None:
        """List your recent jobs in this server with their status, credits and results."""
        locale = interaction.locale
        shown = await self._page(interaction.guild_id, interaction.user.id, 0, locale)
        if shown is None:
            await interaction.response.send_message(EMPTY(locale), ephemeral=True)
            return
        kwargs: dict[str, Any] = {"embed": shown.embed}
        if shown.view is not None:
            kwargs["view"] = shown.view
        await interaction.response.send_message(ephemeral=True, **kwargs)

    async def on_page_button(self, interaction: discord.Interaction, ref: HistoryRef) -> None:
        # The message is ephemeral, but a custom_id can be forged: only its member turns pages.
        if interaction.user.id != ref.user_id:
            log.warning(
                "Refused %s turning the history of %s in guild %s",
                interaction.user.id,
                ref.user_id,
                interaction.guild_id,
            )
            raise UserFacingError(NOT_YOURS)
        locale = interaction.locale
        shown = await self._page(interaction.guild_id, ref.user_id, ref.page, locale)
        if shown is None:
            await interaction.response.edit_message(content=EMPTY(locale), embed=None, view=None)
            return
        await interaction.response.edit_message(embed=shown.embed, view=shown.view)


async def setup(bot: AkoolBot) -> None:
    await bot.add_cog(History(bot))
