"""/history: a member's recent jobs in a server, a page at a time.

The page buttons are ``HistoryPageButton`` dynamic items: the member and the page live in the
``custom_id``, the jobs in the database, so a history opened before a restart still turns.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import discord
from discord import app_commands

from bot import render
from bot.components import HISTORY, ButtonCog, HistoryPageButton
from bot.core import AkoolBot
from bot.custom_ids import HistoryRef
from bot.errors import UserFacingError
from bot.store import Delivery, Job, JobKind, JobStatus

log = logging.getLogger(__name__)

PAGE_SIZE: Final = 10
# The custom_id template allows pages 0-9999, and ▶ names the page after the one shown.
MAX_PAGES: Final = 9_999
_PROMPT_EXCERPT: Final = 80
# Discord refuses an embed whose description is longer.
_DESCRIPTION_MAX: Final = 4096

EMPTY: Final = "You have no jobs in this server yet. Start one with /imagine."
NOT_YOURS: Final = "This is someone else's history; use /history to see yours."

_STATUS: Final = {
    JobStatus.QUEUED: "⏳ Queued",
    JobStatus.PROCESSING: "🎨 Processing",
    JobStatus.COMPLETED: "✅ Done",
    JobStatus.FAILED: "❌ Failed",
}


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of a member's history, ready to send or to edit into the message."""

    embed: discord.Embed
    view: discord.ui.View | None


def page_count(total: int) -> int:
    """How many pages ``total`` jobs fill (at least one, at most what a custom_id can name)."""
    return max(1, min(MAX_PAGES, -(-total // PAGE_SIZE)))


def describe_job(job: Job, *, akool_link: bool = True) -> str:
    """Two lines for one job: its status and what it is; then credits, result link and id.

    ``akool_link=False`` leaves out AKOOL's own link to an image not posted here (a long one
    would not fit ten to a page; ``/status`` shows it).
    """
    if job.kind is JobKind.BUTTON and job.button:
        what = f"{job.button} of `{job.parent_akool_id}`"
    elif job.prompt:
        # The prompt is the member's own text: shown as text, never as links or formatting.
        what = f"**{render.shown(job.prompt, _PROMPT_EXCERPT)}**"
    else:
        what = f"job `{job.akool_id}`"
    if job.credits is None:
        credits = "? credits"
    else:
        credits = f"{job.credits} credit" + ("" if job.credits == 1 else "s")
    details = [credits]
    if job.result_message_id is not None:
        link = render.message_link(job.guild_id, job.channel_id, job.result_message_id)
        details.append(f"[result]({link})")
    elif job.delivery is Delivery.UNDELIVERABLE:
        details.append("could not be posted")
    if job.result_message_id is None and job.status is JobStatus.COMPLETED and job.image_url:
        # Not posted (yet): AKOOL's own link, which expires 7 days after the job was made.
        if akool_link and len(job.image_url) <= render.CONTENT_URL_MAX:
            details.append(f"[image on AKOOL]({job.image_url})")
        else:
            details.append(f"image: `/status {job.akool_id}`")
    details.append(f"`{job.akool_id}`")
    details.append(render.timestamp(job.created_at))
    return f"{_STATUS[job.status]} · {what}\n{' · '.join(details)}"


def history_page(jobs: list[Job], user_id: int, page: int, total: int) -> HistoryPage:
    """The embed listing ``jobs`` (page ``page``, 0 = newest) and its ◀ / ▶ buttons."""
    pages = page_count(total)
    description = "\n\n".join(describe_job(job) for job in jobs)
    if len(description) > _DESCRIPTION_MAX:
        # AKOOL's URLs are what can make a page too long for Discord's embed description.
        description = "\n\n".join(describe_job(job, akool_link=False) for job in jobs)
    embed = discord.Embed(
        title="Your jobs in this server",
        description=description[:_DESCRIPTION_MAX],
        colour=render.COLOUR_PENDING,
    )
    plural = "job" if total == 1 else "jobs"
    embed.set_footer(text=f"Page {page + 1} of {pages} · {total} {plural}, newest first")
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

    async def _page(self, guild_id: int | None, user_id: int, page: int) -> HistoryPage | None:
        """Page ``page`` of a member's history (the last, if it shrank); ``None`` if empty."""
        total = await self.bot.store.count_jobs(guild_id, user_id)
        if total == 0:
            return None
        page = min(page, page_count(total) - 1)
        jobs = await self.bot.store.recent_jobs(
            guild_id, user_id, limit=PAGE_SIZE, offset=page * PAGE_SIZE
        )
        return history_page(jobs, user_id, page, total)

    @app_commands.command(name="history")
    @app_commands.guild_only()
    async def history(self, interaction: discord.Interaction) -> None:
        """List your recent jobs in this server with their status, credits and results."""
        shown = await self._page(interaction.guild_id, interaction.user.id, 0)
        if shown is None:
            await interaction.response.send_message(EMPTY, ephemeral=True)
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
        shown = await self._page(interaction.guild_id, ref.user_id, ref.page)
        if shown is None:
            await interaction.response.edit_message(content=EMPTY, embed=None, view=None)
            return
        await interaction.response.edit_message(embed=shown.embed, view=shown.view)


async def setup(bot: AkoolBot) -> None:
    await bot.add_cog(History(bot))
