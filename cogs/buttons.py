"""U1-U4 / V1-V4, 🔄, 🗑️ and "Post here": what a press does.

Anyone in the channel may press a grid's button. AKOOL allows each button once, so the first press
starts the job (credited to the presser, posted as a reply to the grid) and any later press is told
who pressed it, with a link to that job, and costs nothing. A later press made while the first is
still at AKOOL waits for it to end, so it hears what really happened: that press may yet start no
job, and then the button can be pressed again. 🔄 is the bot's own button, not
AKOOL's: every press starts a new grid from the same prompt, credited to the presser. 🗑️ deletes
the post it is on, for the job's requester and members who may manage messages.

Every button the bot posts is a ``DynamicItem``. A press that none of them will take (an altered
``custom_id``, or one that is not on the pressed message) gets a private refusal here rather than
Discord's bare "This interaction failed".
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import discord
from discord.ext import commands

from bot import languages, policy, render
from bot.akool import AkoolError, AkoolUncertainCreateError
from bot.batch_press import BatchPresses, number_of, variation_order
from bot.components import GRID, ButtonCog
from bot.core import AkoolBot
from bot.custom_ids import DELETE, REROLL, SHOW, ButtonRef, reaches_dynamic_item
from bot.errors import UserFacingError, answer_privately
from bot.guilds import refused_here
from bot.i18n import LocaleLike, Localized, command, gettext, lazy
from bot.interaction_guard import component_press
from bot.jobs import Origin, PressEnd, PressResult, order_of
from bot.lookups import UNKNOWN_JOB, belongs_here
from bot.secret import Secret
from bot.server_settings import DEFAULT_SIMILARITY
from bot.store import ButtonPress, InteractionReply, Job, JobKind, JobStatus, KeptImage, ReplyBy

log = logging.getLogger(__name__)

UNKNOWN_GRID = lazy("This bot has no record of that job, so its buttons cannot be used here.")
NOT_OURS = lazy("This button does not belong to a job this bot can act on, so nothing was done.")
NO_PROMPT = lazy("Only a grid with a prompt can be re-rolled.")
# How far up a chain of variations a re-roll looks for the source image the chain began with.
_MAX_CHAIN = 20


def components_on(message: discord.Message | None) -> set[tuple[int, str]]:
    """The ``(type, custom_id)`` of every component on ``message``, nested ones included."""
    return {
        (component.type.value, custom_id)
        for component in _walk(message.components if message is not None else [])
        if isinstance(custom_id := getattr(component, "custom_id", None), str)
    }


def _walk(components: list[Any]) -> Iterator[Any]:
    for component in components:
        yield component
        yield from _walk(list(getattr(component, "children", None) or []))
        accessory = getattr(component, "accessory", None)
        if accessory is not None:
            yield accessory


class Buttons(ButtonCog):
    """Registers itself as the bot's button handler while loaded."""

    def __init__(self, bot: AkoolBot) -> None:
        super().__init__(bot.button_handlers)
        self.bot = bot
        self.batch = BatchPresses(bot.jobs, bot.kept_images, clock=bot.clock)

    def button_handlers(self) -> dict[str, Callable[..., Awaitable[None]]]:
        return {
            GRID: self.on_grid_button,
            SHOW: self.on_show_button,
            REROLL: self.on_reroll_button,
            DELETE: self.on_delete_button,
        }

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Refuse, privately, a component press that no dynamic item will take."""
        if interaction.type is not discord.InteractionType.component:
            return
        pressed = component_press(interaction.data)
        if pressed is None:
            return  # the gateway guard drops such payloads before discord.py dispatches them
        custom_id, component_type = pressed
        # Mirrors discord.py's own dispatch, so a press an item takes is never answered twice.
        if reaches_dynamic_item(custom_id, component_type, components_on(interaction.message)):
            return  # the item answers, a server the bot does not serve included
        if await refused_here(interaction):
            return
        log.warning(
            "Refused a press of %.100r by %s in guild %s: no button of this bot takes it",
            custom_id,
            interaction.user.id,
            interaction.guild_id,
        )
        await answer_privately(interaction, NOT_OURS(interaction.locale))

    async def _job_here(self, interaction: discord.Interaction, job_id: str) -> Job:
        job = await self.bot.store.get_job(job_id)
        # A custom_id can be forged: a job from another server is treated as unknown.
        if job is None or job.guild_id != interaction.guild_id:
            raise UserFacingError(UNKNOWN_GRID)
        return job

    async def on_grid_button(self, interaction: discord.Interaction, ref: ButtonRef) -> None:
        parent = await self._job_here(interaction, ref.job_id)
        button = ref.action
        if parent.in_batch:
            # The bot's own buttons on a v4 batch's post: AKOOL has none for a v4 image.
            await self._on_batch_button(interaction, parent, button)
            return
        if button not in parent.buttons and button not in parent.used_buttons:
            raise UserFacingError(lazy("AKOOL does not offer {button} on this job.", button=button))
        # A press that starts a job spends the presser's credits and counts for them; one that
        # comes too late only learns who was first, so a member refused here may still learn.
        limits = None
        refusal: UserFacingError | None = None
        # The rules of the channel pressed in apply (a repost may be far from the grid), and the
        # job belongs there: it is made where it was asked for.
        here = pressed_in(interaction)
        try:
            origin = Origin(interaction.user.id, interaction.guild_id, here)
            admission = await self.bot.jobs.admit(
                origin,
                policy.role_ids(interaction.user),
                parent_channel_id=policy.parent_channel_id(interaction.channel),
                button=button,
            )
            policy.check_may_press(admission.settings, parent, interaction.user.id)
            limits = admission.limits
        except UserFacingError as exc:
            if await self.bot.store.get_press(parent.akool_id, button) is None:
                raise  # this press would be the first: refused at once, privately
            refusal = exc
        # The claim and its intent are written down before Discord hears back (still in time for
        # a private refusal): whatever the moment of a crash from then on, the restarted bot
        # answers the press. Its original response is the grid itself, so that answer is a
        # follow-up, or the job's status line as a reply to the grid, as below.
        reply = InteractionReply(
            interaction.application_id, Secret(interaction.token), ReplyBy.FOLLOWUP
        )
        try:
            result = await self.bot.jobs.press(
                parent,
                button,
                interaction.user.id,
                limits=limits,
                refusal=refusal,
                reply=reply,
                channel_id=here,
                # Discord wants an answer within 3 seconds; pressing at AKOOL may take longer.
                acknowledge=interaction.response.defer,
            )
        except AkoolError:
            await self._refresh_grid(interaction, parent.akool_id)
            raise
        await self._pressed(interaction, parent, button, result)

    async def _pressed(
        self, interaction: discord.Interaction, parent: Job, button: str, result: PressResult
    ) -> None:
        """Answer a press of U/V that was written down: the loser privately, the winner with
        the job's status line as a reply to the post."""
        if result.child is None:
            assert result.winner is not None
            await interaction.followup.send(
                await self._pressed_already(result.winner, parent, interaction.locale),
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return
        child = result.child
        await self._refresh_grid(interaction, parent.akool_id)
        announcement = await self._announce(interaction, parent, child)
        if result.intent is not None:
            # Answered: the announcement is the job's status message.
            await self.bot.jobs.answered(result.intent, child, announcement)
        log.info(
            "%s pressed %s on %s: job %s",
            interaction.user.id,
            button,
            parent.akool_id,
            child.akool_id,
        )

    async def _on_batch_button(
        self, interaction: discord.Interaction, lead: Job, button: str
    ) -> None:
        """U n or V n on a v4 batch's post (see ``bot.batch_press``)."""
        if button.startswith("U"):
            await self._batch_upscale(interaction, lead, button)
        else:
            await self._batch_variation(interaction, lead, button)

    async def _batch_upscale(
        self, interaction: discord.Interaction, lead: Job, button: str
    ) -> None:
        # It spends nothing and asks AKOOL nothing, so no limit or cap has a say; but it posts
        # in public, as Post here does: the channel and role rules, who may press, banned words.
        settings = await self.bot.lookups.check_place(interaction)
        policy.check_may_press(settings, lead, interaction.user.id)
        policy.check_prompt(settings, lead.prompt)
        presser = interaction.user.id
        winner = await self.batch.claim_upscale(lead, button, presser)
        if winner is not None:
            await answer_privately(interaction, _upscaled_already(winner, interaction.locale))
            return
        try:
            # Found before the press is acknowledged: an image kept nowhere is refused privately.
            image = await self.batch.image(lead, button)
            await interaction.response.defer()
            channel = interaction.channel
            assert isinstance(channel, discord.abc.Messageable)
            message = await self.bot.notifier.post_batch_image(
                lead,
                image.job,
                image.number,
                channel,
                presser_id=presser,
                kept=image.attachment,
                full_size_kept=image.kept_full_size,
                reply_to=_post_to_reply_to(interaction, lead),
            )
        except BaseException:
            await self.batch.give_back(lead, button, presser)
            raise
        await self.batch.upscaled(lead, button, image)
        await self._refresh_grid(interaction, lead.akool_id)
        log.info(
            "%s pressed %s on %s: posted image %s as message %s",
            presser,
            button,
            lead.akool_id,
            image.job.akool_id,
            message.id,
        )

    async def _batch_variation(
        self, interaction: discord.Interaction, lead: Job, button: str
    ) -> None:
        # As for a grid's V: the presser's limits and caps, where pressed; and the banned words,
        # since the prompt goes to AKOOL again.
        here = pressed_in(interaction)
        limits = None
        refusal: UserFacingError | None = None
        similarity = DEFAULT_SIMILARITY
        try:
            origin = Origin(interaction.user.id, interaction.guild_id, here)
            admission = await self.bot.jobs.admit(
                origin,
                policy.role_ids(interaction.user),
                prompt=lead.prompt,
                parent_channel_id=policy.parent_channel_id(interaction.channel),
                button=button,
                # What it costs: as many v4 images as the batch asked for.
                order=variation_order(lead, "", DEFAULT_SIMILARITY),
            )
            policy.check_may_press(admission.settings, lead, interaction.user.id)
            limits = admission.limits
            similarity = admission.settings.variation_similarity
        except UserFacingError as exc:
            if await self.bot.store.get_press(lead.akool_id, button) is None:
                raise  # this press would be the first: refused at once, privately
            refusal = exc
        # Image n as Discord keeps it now: one that is gone is refused here, privately, before
        # anything is claimed or spent.
        image = await self.batch.image(lead, button)
        reply = InteractionReply(
            interaction.application_id, Secret(interaction.token), ReplyBy.FOLLOWUP
        )
        try:
            result = await self.batch.vary(
                lead,
                button,
                interaction.user.id,
                image,
                similarity=similarity,
                limits=limits,
                refusal=refusal,
                reply=reply,
                channel_id=here,
                acknowledge=interaction.response.defer,
            )
        except AkoolError:
            await self._refresh_grid(interaction, lead.akool_id)
            raise
        await self._pressed(interaction, lead, button, result)

    async def on_reroll_button(self, interaction: discord.Interaction, ref: ButtonRef) -> None:
        grid = await self._job_here(interaction, ref.job_id)
        if not render.offers_reroll(grid):
            raise UserFacingError(NO_PROMPT)
        # Every press spends the presser's credits: the server's rules and their limits apply,
        # and a refusal is private because nothing has been acknowledged yet.
        # Where pressed, as for U/V: that channel's rules, and the new grid is made there.
        here = pressed_in(interaction)
        origin = Origin(interaction.user.id, interaction.guild_id, here)
        roles = policy.role_ids(interaction.user)
        order = order_of(grid)
        admission = await self.bot.jobs.admit(
            origin,
            roles,
            prompt=grid.prompt,
            parent_channel_id=policy.parent_channel_id(interaction.channel),
            # What it costs, and its negative prompt: a batch's images, a grid otherwise.
            order=order,
        )
        policy.check_may_press(admission.settings, grid, interaction.user.id)
        # The source image as Discord keeps it now: one that is gone is refused here, privately,
        # before any credit is reserved or AKOOL is asked.
        source, kept = await self._reroll_source(grid)
        # Written down before Discord hears back: whatever the moment of a crash from here on,
        # the restarted bot answers the press. Its original response is the grid itself, so the
        # answer is a follow-up (or the status line as a reply to the grid, as below).
        reply = InteractionReply(
            interaction.application_id, Secret(interaction.token), ReplyBy.FOLLOWUP
        )
        intent = await self.bot.jobs.begin_create(
            origin, grid.prompt, limits=admission.limits, reply=reply, order=order
        )
        try:
            # Discord wants an answer within 3 seconds; AKOOL may take longer to start the job.
            await interaction.response.defer()
            child = await self.bot.jobs.reroll(
                source, interaction.user.id, intent=intent, channel_id=here, source_kept=kept
            )
        except (discord.NotFound, AkoolError, UserFacingError):
            # Nothing started (or Discord gave up on the press): the presser hears why, if
            # Discord still listens, from the error handler.
            await self.bot.jobs.forget(intent)
            raise
        announcement = await self._announce(interaction, grid, child)
        await self.bot.jobs.answered(intent, child, announcement)
        log.info("%s re-rolled %s: job %s", interaction.user.id, grid.akool_id, child.akool_id)

    async def _reroll_source(self, grid: Job) -> tuple[Job, KeptImage | None]:
        """``grid``, with a link that works now to the source image of the grid its chain of
        variations began with, and where Discord keeps that image. Raises ``ImageGone``."""
        root = grid
        for _ in range(_MAX_CHAIN):
            # A batch's variation has a source of its own: the image it varied.
            if root.kind is not JobKind.BUTTON or root.parent_akool_id is None or root.source_image:
                break
            parent = await self.bot.store.get_job(root.parent_akool_id)
            if parent is None:
                break
            root = parent
        link, kept = await self.bot.kept_images.source_link(root)
        if link == grid.source_image:
            return grid, kept
        return dataclasses.replace(grid, source_image=link), kept

    async def _announce(self, interaction: discord.Interaction, grid: Job, child: Job) -> int:
        """Tell the channel, as a reply to the grid, that ``child`` started; the message's id
        (the job's status message, recorded with :meth:`JobService.answered`)."""
        channel = interaction.channel
        assert isinstance(channel, discord.abc.Messageable)
        grid_id = grid.result_message_id
        if (
            grid_id is None or child.channel_id != grid.channel_id
        ) and interaction.message is not None:
            grid_id = interaction.message.id  # pressed on a repost: a reply to it, beside it
        reference = None
        if grid_id is not None:
            # The grid may have been deleted (🗑️) since: then a plain message rather than none.
            reference = discord.MessageReference(
                message_id=grid_id, channel_id=child.channel_id, fail_if_not_exists=False
            )
        announcement = await channel.send(
            # A batch's (🔄 of a batch) with its images' progress, as its later edits have.
            await self.bot.notifier.status_text(
                child,
                position=await self.bot.store.queue_position(child.akool_id),
                locale=await languages.interaction_server_locale(self.bot.store, interaction),
            ),
            reference=reference,  # type: ignore[arg-type]
            allowed_mentions=discord.AllowedMentions(users=[interaction.user], replied_user=False),
        )
        return announcement.id

    async def on_delete_button(self, interaction: discord.Interaction, ref: ButtonRef) -> None:
        job = await self._job_here(interaction, ref.job_id)
        if not may_delete(interaction, job):
            raise UserFacingError(
                lazy(
                    "Only {member}, who asked for this image, or a member who can manage "
                    "messages may delete it.",
                    member=render.mention(job.requester_id),
                )
            )
        message = interaction.message
        if message is None:
            raise UserFacingError(lazy("That post cannot be found any more."))
        await interaction.response.defer()
        locale = interaction.locale
        try:
            # The message the button is on: the first post, or a repost from "Post here".
            await message.delete()
        except discord.NotFound:
            note = gettext(locale, "It was already deleted.")
        else:
            log.info(
                "%s deleted message %s of job %s", interaction.user.id, message.id, job.akool_id
            )
            note = gettext(locale, "Deleted.")
        if job.status is JobStatus.COMPLETED:
            again = gettext(
                locale,
                "To post it again: `{command} {job}`, then Post here.",
                command=command("status"),
                job=job.akool_id,
            )
            note = f"{note} {again}"
        await interaction.followup.send(note, ephemeral=True)

    async def _refresh_grid(self, interaction: discord.Interaction, job_id: str) -> None:
        """Show the grid's (or batch's) buttons as the store now has them (used ones green and
        disabled)."""
        job = await self.bot.store.get_job(job_id)
        if job is None:
            return
        view = await self.batch.view(job) if job.in_batch else render.grid_view(job)
        try:
            await interaction.edit_original_response(view=view)
        except discord.HTTPException as exc:
            log.warning("Could not refresh the buttons of %s: %s", job_id, exc)

    async def _pressed_already(self, winner: ButtonPress, grid: Job, locale: LocaleLike) -> str:
        """What became of the press that won, waiting for it if it is still at AKOOL, in the
        language of the member who pressed too late."""
        values: dict[str, object] = {
            "button": winner.button,
            "member": f"<@{winner.presser_id}>",
            "time": render.timestamp(winner.pressed_at),
            "command": command("status"),
        }
        outcome = await self.bot.jobs.press_outcome(winner)
        if outcome.end is PressEnd.FREED:
            said = gettext(
                locale,
                "{button} was pressed by {member} {time}, but that press did not start a job.",
                **values,
            )
            again = gettext(locale, "You can press {button} again.", **values)
            return " ".join(filter(None, (said, _why(outcome.error, locale), again)))
        if outcome.end is PressEnd.SPENT:
            said = gettext(
                locale,
                "{button} was pressed by {member} {time}, but that press did not start a job "
                "this bot can follow.",
                **values,
            )
            used = gettext(
                locale, "AKOOL counts {button} as used, so it cannot be pressed again.", **values
            )
            return " ".join(filter(None, (said, _why(outcome.error, locale), used)))
        child = outcome.child
        if child is None:
            return gettext(
                locale,
                "{button} was pressed by {member} {time}, and AKOOL has not yet said whether that "
                "press started a job. If it did, the result is posted here; `{command} {job}` "
                "shows whether AKOOL counts {button} as used.",
                job=grid.akool_id,
                **values,
            )
        if child.result_message_id is not None:
            link = render.message_link(child.guild_id, child.channel_id, child.result_message_id)
            return gettext(
                locale,
                "{button} was already pressed by {member} {time}: [see the result]({link}).",
                link=link,
                **values,
            )
        return gettext(
            locale,
            "{button} was already pressed by {member} {time}: job `{job}` is {status} "
            "({command} {job}).",
            job=child.akool_id,
            status=render.status_word(child.status, locale).lower(),
            **values,
        )

    async def on_show_button(self, interaction: discord.Interaction, ref: ButtonRef) -> None:
        # The channel and role rules of the channel it is pressed in, where the post would go:
        # read from the store, so a refusal is private and asks AKOOL nothing.
        settings = await self.bot.lookups.check_place(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        job = await self.bot.store.get_job(ref.job_id)
        if job is None or not belongs_here(interaction, job):
            # An id this bot never stored is a lookup (its button is on a /status answer, which
            # took the member's turn); another
            # server's job, or one from a channel the member cannot view, ends as one AKOOL
            # does not know, after the same turn.
            await self.bot.lookups.unknown(interaction, cooled=False)
            if job is not None:
                raise UserFacingError(UNKNOWN_JOB)
        if job is None:
            # A job made elsewhere and never tracked: follow it here, the loop posts it.
            assert interaction.channel_id is not None
            origin = Origin(interaction.user.id, interaction.guild_id, interaction.channel_id)
            await self.bot.jobs.track(
                origin,
                ref.job_id,
                prompt_rule=lambda prompt: policy.check_prompt(settings, prompt),
            )
            await interaction.followup.send(
                gettext(interaction.locale, "Posting it here shortly."), ephemeral=True
            )
            return
        if job.status is not JobStatus.COMPLETED:
            raise UserFacingError(
                lazy(
                    "Job `{job}` has no image to post ({status}).",
                    job=job.akool_id,
                    status=_Status(job.status),
                )
            )
        # Posted in public again: a prompt with a word this server bans now is not.
        policy.check_prompt(settings, job.prompt)
        channel = interaction.channel
        assert isinstance(channel, discord.abc.Messageable)
        message = await self.bot.notifier.repost(job, channel)
        await interaction.followup.send(
            gettext(interaction.locale, "Posted: {link}", link=message.jump_url), ephemeral=True
        )


@dataclass(frozen=True, slots=True)
class _Status(Localized):
    """A job's status in a word, in the reader's language."""

    status: JobStatus

    def __call__(self, locale: LocaleLike) -> str:
        return render.status_word(self.status, locale).lower()


def _why(error: AkoolError | None, locale: LocaleLike) -> str:
    """Why AKOOL started no job for someone else's press, as a sentence (empty: no reason)."""
    if error is None:
        return ""
    if isinstance(error, AkoolUncertainCreateError):
        return gettext(locale, "AKOOL did not answer it in time.")
    return error.user_text(locale)


def _upscaled_already(winner: ButtonPress, locale: LocaleLike) -> str:
    """What a later press of a batch's U n hears: who posted image n, and when."""
    values = {
        "button": winner.button,
        "member": f"<@{winner.presser_id}>",
        "time": render.timestamp(winner.pressed_at),
        "n": number_of(winner.button),
    }
    if winner.child_akool_id is None:
        return gettext(
            locale,
            "{button} was pressed by {member} {time}: image {n} is being posted as a reply to "
            "this post.",
            **values,
        )
    return gettext(
        locale,
        "{button} was already pressed by {member} {time}: image {n} is posted as a reply to "
        "this post.",
        **values,
    )


def _post_to_reply_to(interaction: discord.Interaction, job: Job) -> int | None:
    """The post a reply to a press goes under: the job's post, or the repost pressed on when
    that is elsewhere."""
    if job.result_message_id is not None and job.channel_id == interaction.channel_id:
        return job.result_message_id
    message = interaction.message
    return message.id if message is not None else job.result_message_id


def pressed_in(interaction: discord.Interaction) -> int:
    """The channel a button was pressed in (a thread is its own channel; its parent's rules
    apply to it through ``policy.parent_channel_id``)."""
    assert interaction.channel_id is not None  # a button is always on a message in a channel
    return interaction.channel_id


def may_delete(interaction: discord.Interaction, job: Job) -> bool:
    """The job's requester, or a member allowed to delete others' messages in this channel."""
    if interaction.user.id == job.requester_id:
        return True
    return interaction.guild_id is not None and interaction.permissions.manage_messages


async def setup(bot: AkoolBot) -> None:
    await bot.add_cog(Buttons(bot))
