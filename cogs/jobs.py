"""/track and /status: follow jobs made elsewhere, and look any job up.

A job stored for another server, or for a channel the member cannot view, is answered exactly as
an id AKOOL does not know (see ``bot.lookups``); a finished job is shown from the store, and
only unfinished or unknown ones are looked up live, each member in turn.
"""

from __future__ import annotations

import logging
from typing import Final

import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n, languages, policy, render
from bot.akool import AkoolError, ImageJob
from bot.budget import RequestKind
from bot.components import ShowButton
from bot.core import AkoolBot
from bot.custom_ids import ButtonRef, normalise_job_id
from bot.errors import UserFacingError
from bot.jobs import Origin
from bot.lookups import UNKNOWN_JOB, belongs_here
from bot.store import Job, JobStatus, StatusUpdate

log = logging.getLogger(__name__)

BAD_ID: Final = i18n.lazy("That is not an AKOOL job id: an id is 24 characters from 0-9 and a-f.")
_CHOICE_MAX: Final = 100  # Discord's limit on an autocomplete choice name


def parse_job_id(text: str) -> str:
    job_id = normalise_job_id(text)
    if job_id is None:
        raise UserFacingError(BAD_ID)
    return job_id


def choice_name(job: Job, locale: i18n.LocaleLike = None) -> str:
    tail = f" · {render.status_word(job.status, locale)} · {job.akool_id}"
    what = job.prompt or i18n.gettext(locale, "job")
    return render.excerpt(what, _CHOICE_MAX - len(tail)) + tail


class Jobs(commands.Cog):
    def __init__(self, bot: AkoolBot) -> None:
        self.bot = bot

    @app_commands.command(name="track")
    @app_commands.guild_only()
    @app_commands.describe(job_id="The AKOOL job id (24 characters), e.g. from the AKOOL web app")
    async def track(self, interaction: discord.Interaction, job_id: str) -> None:
        """Follow an AKOOL job created elsewhere and post its result in this channel."""
        akool_id = parse_job_id(job_id)
        assert interaction.channel_id is not None
        # The channel and role rules, before anything is looked up: the result is posted here.
        settings = await self.bot.lookups.check_place(interaction)
        existing = await self.bot.store.get_job(akool_id)
        if existing is not None and belongs_here(interaction, existing):
            raise UserFacingError(_already_tracked(existing, interaction.channel_id))
        await interaction.response.defer(ephemeral=True, thinking=True)
        # Someone else's job takes the same turn an unknown id does, and ends as one AKOOL does
        # not know, so nothing tells the two apart.
        await self.bot.lookups.unknown(interaction)
        if existing is not None:
            raise UserFacingError(UNKNOWN_JOB)
        origin = Origin(interaction.user.id, interaction.guild_id, interaction.channel_id)
        # A prompt with a banned word is not followed: its result would be posted here, in
        # public. AKOOL has to be asked once to learn the prompt, and nothing more.
        job, created = await self.bot.jobs.track(
            origin, akool_id, prompt_rule=lambda prompt: policy.check_prompt(settings, prompt)
        )
        if not created:
            if not belongs_here(interaction, job):
                raise UserFacingError(UNKNOWN_JOB)
            raise UserFacingError(_already_tracked(job, interaction.channel_id))
        locale = interaction.locale
        if job.status.finished:
            if job.status is JobStatus.COMPLETED:
                answer = i18n.gettext(
                    locale, "Job `{job}` is already done; posting it here.", job=akool_id
                )
            else:
                answer = i18n.gettext(
                    locale, "Job `{job}` has already failed; posting it here.", job=akool_id
                )
            await interaction.followup.send(answer, ephemeral=True)
            return
        channel = interaction.channel
        assert isinstance(channel, discord.abc.Messageable)
        public = languages.server_locale(settings, interaction.guild)
        message = await channel.send(
            render.status_line(job, self.bot.clock(), locale=public),
            allowed_mentions=discord.AllowedMentions.none(),
        )
        await self.bot.store.set_status_message(akool_id, message.id, now=self.bot.clock())
        await interaction.followup.send(
            i18n.gettext(
                locale, "Tracking job `{job}`: its result will be posted here.", job=akool_id
            ),
            ephemeral=True,
        )

    @app_commands.command(name="status")
    @app_commands.guild_only()
    @app_commands.describe(job_id="The AKOOL job id; start typing to pick one of your recent jobs")
    async def status(self, interaction: discord.Interaction, job_id: str) -> None:
        """Show a job's live status, its image when done, and a button to post it here."""
        akool_id = parse_job_id(job_id)
        # The channel and role rules where it is asked, before anything is looked up. (Its
        # answer is private, so banned words in a prompt it shows are not checked.)
        await self.bot.lookups.check_place(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        stored = await self.bot.store.get_job(akool_id)
        if stored is not None and not belongs_here(interaction, stored):
            await self.bot.lookups.unknown(interaction)
            raise UserFacingError(UNKNOWN_JOB)
        if stored is not None and stored.status.finished:
            # A finished job no longer changes at AKOOL: the store has all there is to show.
            await self._show(interaction, render.Snapshot.of(akool_id, None, stored), stored)
            return
        if stored is None:
            await self.bot.lookups.unknown(interaction)
        else:
            await self.bot.lookups.live(interaction.user.id)
        live: ImageJob | None = None
        note = None
        try:
            live = await self.bot.akool.get_result(akool_id, kind=RequestKind.LOOKUP)
        except AkoolError as exc:
            if stored is None:
                raise
            log.warning("Live status of %s unavailable: %s", akool_id, exc)
            note = i18n.gettext(
                interaction.locale,
                "AKOOL could not be reached just now; this is what the bot last saw.",
            )
        if live is not None and stored is not None:
            refreshed = await self.bot.store.record_status(
                akool_id, StatusUpdate.from_akool(live), now=self.bot.clock(), due_at=stored.due_at
            )
            self.bot.metrics.job_ended(stored, refreshed)
            stored = refreshed or stored
        await self._show(interaction, render.Snapshot.of(akool_id, live, stored), stored, note)

    async def _show(
        self,
        interaction: discord.Interaction,
        snapshot: render.Snapshot,
        stored: Job | None,
        note: str | None = None,
    ) -> None:
        view = discord.ui.View(timeout=None)
        if snapshot.status is JobStatus.COMPLETED:
            view.add_item(ShowButton(ButtonRef(snapshot.job_id, "show"), locale=interaction.locale))
        # An image of a v4 batch says which image of which batch it is (the lead: how the whole
        # batch stands); the image shown is its own.
        batch = []
        if stored is not None and stored.batch_akool_id is not None:
            batch = await self.bot.store.batch(stored.batch_akool_id)
        embed = render.status_embed(snapshot, stored, note, interaction.locale, batch)
        await interaction.followup.send(embed=embed, view=view, ephemeral=True)

    @status.autocomplete("job_id")
    async def status_job_ids(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        jobs = await self.bot.store.recent_jobs(
            interaction.guild_id, interaction.user.id, limit=25, prefix=current.strip().lower()
        )
        return [
            app_commands.Choice(name=choice_name(job, interaction.locale), value=job.akool_id)
            for job in jobs
            if belongs_here(interaction, job)
        ]


def _already_tracked(job: Job, channel_id: int) -> i18n.Text:
    if job.channel_id == channel_id:
        return i18n.lazy(
            "Job `{job}` is already followed in this channel. Use {command} {job}.",
            job=job.akool_id,
            command=i18n.command("status"),
        )
    channel = f"<#{job.channel_id}>"
    return i18n.lazy(
        "Job `{job}` is already followed in {channel}. Use {command} {job}.",
        job=job.akool_id,
        channel=channel,
        command=i18n.command("status"),
    )


async def setup(bot: AkoolBot) -> None:
    await bot.add_cog(Jobs(bot))
