"""How jobs look in Discord: status lines, result and failure embeds, and the button rows.

Everything here is a pure function of a stored :class:`Job` and the language it is written in
(``locale``: the server's for a post in a channel, the member's for a private answer), so a
repost after a restart looks exactly like the first post. A member's prompt is shown as typed,
never translated; times are Discord timestamps, which each reader's client writes in their own
language and time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import discord

from bot import stored_text
from bot.akool import ImageJob
from bot.components import DeleteButton, GridButton, RerollButton
from bot.custom_ids import DELETE, GRID_BUTTONS, REROLL, ButtonRef
from bot.i18n import LocaleLike, Text, command, gettext, number, pgettext
from bot.shown import shown as shown
from bot.store import CreateIntent, Job, JobKind, JobStatus

# AKOOL keeps generated images for 7 days after creation.
RESULT_LIFETIME: Final = timedelta(days=7)
COLOUR_DONE: Final = discord.Colour.green()
COLOUR_FAILED: Final = discord.Colour.red()
COLOUR_PENDING: Final = discord.Colour.blurple()
_TITLE_MAX: Final = 256  # Discord's embed title limit
_DESCRIPTION_MAX: Final = 4096  # Discord's embed description limit
_FIELD_MAX: Final = 1024  # Discord's embed field value limit
CONTENT_MAX: Final = 2000  # Discord's message content limit
# AKOOL's URLs are usually ~100 characters, but nothing bounds them (one of 1,913 was seen).
# Up to this length a link goes in the content; a longer one in the embed's description, as
# long as Discord takes it in an embed (2,048 is its cap on any URL there); past that, no link.
CONTENT_URL_MAX: Final = 512
EMBED_URL_MAX: Final = 2048
_ICONS: Final = {
    JobStatus.QUEUED: "⏳",
    JobStatus.PROCESSING: "🎨",
    JobStatus.COMPLETED: "✅",
    JobStatus.FAILED: "❌",
}


def status_word(status: JobStatus, locale: LocaleLike) -> str:
    """A job's status in a word: Queued, Processing, Done, Failed."""
    match status:
        case JobStatus.QUEUED:
            return pgettext(locale, "job status", "Queued")
        case JobStatus.PROCESSING:
            return pgettext(locale, "job status", "Processing")
        case JobStatus.COMPLETED:
            return pgettext(locale, "job status", "Done")
        case JobStatus.FAILED:
            return pgettext(locale, "job status", "Failed")


def mention(user_id: int) -> str:
    """A member's mention (pinging only as each post's ``allowed_mentions`` allow)."""
    return f"<@{user_id}>"


def channel_mention(channel_id: int) -> str:
    return f"<#{channel_id}>"


def cut(text: str, limit: int) -> str:
    """``text`` as it is, cut to ``limit`` characters with an ellipsis if it is longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def excerpt(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def timestamp(seconds: float, style: str = "R") -> str:
    """A Discord timestamp: each reader's client renders it in their own time zone, live."""
    return f"<t:{int(seconds)}:{style}>"


def duration(seconds: float, locale: LocaleLike = None) -> str:
    seconds = max(0, int(seconds))
    minutes, seconds = divmod(seconds, 60)
    if minutes:
        return gettext(
            locale,
            "{minutes} min {seconds} s",
            minutes=number(locale, minutes),
            seconds=number(locale, seconds),
        )
    return gettext(locale, "{seconds} s", seconds=number(locale, seconds))


def is_reroll(job: Job) -> bool:
    """A grid made by 🔄 on another grid (stored with ``button`` "reroll", not an AKOOL button)."""
    return job.kind is not JobKind.BUTTON and job.button == REROLL


def what(job: Job, locale: LocaleLike = None) -> str:
    """What the job is, in a few words: the prompt, or the button pressed on a grid."""
    if is_reroll(job):
        return gettext(locale, "🔄 Re-roll of {prompt}", prompt=what_prompt(job, locale))
    if job.kind is JobKind.BUTTON and job.button:
        values = {"button": job.button, "job": job.parent_akool_id}
        if job.button.startswith("U"):
            return gettext(locale, "Upscale {button} of `{job}`", **values)
        return gettext(locale, "Variation {button} of `{job}`", **values)
    if job.prompt:
        return f"**{shown(job.prompt, 200)}**"
    return gettext(locale, "Job `{job}`", job=job.akool_id)


def status_line(
    job: Job,
    now: float,
    *,
    position: int | None = None,
    locale: LocaleLike = None,
    progress: str | None = None,
) -> str:
    """The status message's text; processing shows a live 'started … ago' timestamp.
    ``progress`` (a batch's "2 of 4 images ready") follows the job's id."""
    head = gettext(
        locale,
        "{icon} {status}: {what} for {member}",
        icon=_ICONS[job.status],
        status=status_word(job.status, locale),
        what=what(job, locale),
        member=mention(job.requester_id),
    )
    details = [gettext(locale, "job `{job}`", job=job.akool_id)]
    if progress is not None:
        details.append(progress)
    if position is not None and not job.status.finished:
        details.append(gettext(locale, "#{position} in line", position=number(locale, position)))
    if job.status is JobStatus.PROCESSING:
        details.append(gettext(locale, "started {time}", time=timestamp(job.updated_at)))
    elif job.status is JobStatus.QUEUED:
        details.append(gettext(locale, "submitted {time}", time=timestamp(job.created_at)))
    elif job.status is JobStatus.COMPLETED:
        took = duration((job.finished_at or now) - job.created_at, locale)
        details.append(gettext(locale, "finished in {duration}", duration=took))
    detail = gettext(locale, ", ").join(details)
    if job.status is JobStatus.FAILED and job.error:
        detail += f": {error(job.error, locale)}"
    return f"{head}\n-# {detail}"


def error(stored: str | None, locale: LocaleLike) -> str:
    """Why a job failed (as the job loop stored it), in ``locale``'s language; empty if it did
    not say."""
    return stored_text.load(stored)(locale) if stored else ""


def expires_at(job: Job) -> datetime:
    """When AKOOL deletes the result (7 days after it created the job)."""
    created = job.akool_created_at if job.akool_created_at is not None else job.created_at
    return datetime.fromtimestamp(created, tz=UTC) + RESULT_LIFETIME


def mentioned_users(job: Job, parent: Job | None) -> list[int]:
    """Who the post may ping: the requester, and for a derived job the grid's requester too."""
    users = [job.requester_id]
    if parent is not None and parent.requester_id not in users:
        users.append(parent.requester_id)
    return users


def result_content(
    job: Job, parent: Job | None, *, note: str | None = None, locale: LocaleLike = None
) -> str:
    """The completion post's text; ``note`` (from :func:`preview_note` or :func:`problem_note`)
    goes on a line of its own."""
    mentions = " ".join(f"<@{user}>" for user in mentioned_users(job, parent))
    values = {
        "prompt": what_prompt(job, locale),
        "button": job.button,
        "member": f"<@{job.requester_id}>",
        "owner": f"<@{parent.requester_id}>" if parent is not None else "",
    }
    from_other = parent is not None and parent.requester_id != job.requester_id
    if job.kind is JobKind.BUTTON and job.button:
        upscale = job.button.startswith("U")
        if from_other and upscale:
            line = gettext(
                locale, "{prompt} - Upscaled ({button}) by {member}, from {owner}'s grid", **values
            )
        elif from_other:
            line = gettext(
                locale, "{prompt} - Variation ({button}) by {member}, from {owner}'s grid", **values
            )
        elif upscale:
            line = gettext(locale, "{prompt} - Upscaled ({button}) by {member}", **values)
        else:
            line = gettext(locale, "{prompt} - Variation ({button}) by {member}", **values)
    elif is_reroll(job):
        if from_other:
            line = gettext(locale, "{prompt} - Re-roll by {member}, from {owner}'s grid", **values)
        else:
            line = gettext(locale, "{prompt} - Re-roll by {member}", **values)
    else:
        line = f"{what_prompt(job, locale)} - {mentions}"
    if note:
        line += f"\n{note}"
    return line


def embeddable(url: str | None) -> bool:
    """Whether Discord takes ``url`` as an embed's image: http(s), at most 2,048 characters."""
    if not url:
        return False
    return len(url) <= EMBED_URL_MAX and url.startswith(("https://", "http://"))


@dataclass(frozen=True, slots=True)
class Note:
    """Why a post shows a preview or no image: a line for its content and, when AKOOL's link is
    too long for the content, that link for its embed's description."""

    line: str
    below: str | None = None


def preview_note(job: Job, locale: LocaleLike = None) -> Note:
    """The note on a post whose image is a preview: where the original is, and until when."""
    until = timestamp(expires_at(job).timestamp(), "f")
    url = job.image_url
    if not url:
        return Note(gettext(locale, "The full-size image is too large to upload here."))
    if len(url) <= CONTENT_URL_MAX:
        return Note(
            gettext(
                locale,
                "The full-size image is too large to upload here: [original]({url}), "
                "available until {time}.",
                url=url,
                time=until,
            )
        )
    if len(url) <= EMBED_URL_MAX:
        return Note(
            gettext(
                locale,
                "The full-size image is too large to upload here: the original is linked below, "
                "available until {time}.",
                time=until,
            ),
            below=gettext(locale, "[Full-size original on AKOOL]({url})", url=url),
        )
    return Note(
        gettext(
            locale,
            "The full-size image is too large to upload here, and AKOOL's link to the original "
            "is too long to post.",
        )
    )


def problem_note(job: Job, problem: str | Text, locale: LocaleLike = None) -> Note:
    """The note on a post without its image: ``problem``, then AKOOL's link where it fits."""
    said = problem(locale) if isinstance(problem, Text) else problem
    url = job.image_url
    if not url:
        return Note(said)
    if len(url) <= CONTENT_URL_MAX:
        return Note(gettext(locale, "{problem} [Open it on AKOOL]({url}).", problem=said, url=url))
    if len(url) <= EMBED_URL_MAX:
        return Note(
            gettext(locale, "{problem} AKOOL's link to it is below.", problem=said),
            below=gettext(locale, "[Open it on AKOOL]({url})", url=url),
        )
    return Note(
        gettext(locale, "{problem} AKOOL's link to it is too long to post here.", problem=said)
    )


def what_prompt(job: Job, locale: LocaleLike = None) -> str:
    if job.prompt:
        return what_prompt_text(job.prompt)
    return gettext(locale, "Job `{job}`", job=job.akool_id)


def what_prompt_text(prompt: str) -> str:
    return f"**{shown(prompt, 300)}**"


def result_embed(
    job: Job,
    *,
    filename: str | None,
    now: float,
    description: str | None = None,
    locale: LocaleLike = None,
) -> discord.Embed:
    embed = discord.Embed(
        title=shown(job.prompt, _TITLE_MAX) if job.prompt else gettext(locale, "AKOOL image"),
        description=description,
        colour=COLOUR_DONE,
    )
    embed.add_field(name=gettext(locale, "Job"), value=f"`{job.akool_id}`", inline=True)
    if job.credits is not None:
        embed.add_field(
            name=gettext(locale, "Credits"), value=number(locale, job.credits), inline=True
        )
    embed.add_field(
        name=gettext(locale, "Time"),
        value=duration((job.finished_at or now) - job.created_at, locale),
        inline=True,
    )
    if job.parent_akool_id:
        how = gettext(locale, "re-roll") if is_reroll(job) else job.button
        embed.add_field(
            name=gettext(locale, "From"), value=f"`{job.parent_akool_id}` {how}", inline=True
        )
    if filename is not None:
        embed.set_image(url=f"attachment://{filename}")
    return embed


def failure_embed(job: Job, locale: LocaleLike = None) -> discord.Embed:
    embed = discord.Embed(
        title=gettext(locale, "The image could not be made"),
        description=cut(
            error(job.error, locale)
            or gettext(locale, "AKOOL reported the job as failed. Check the prompt and image."),
            _DESCRIPTION_MAX,
        ),
        colour=COLOUR_FAILED,
    )
    embed.add_field(name=gettext(locale, "Job"), value=f"`{job.akool_id}`", inline=True)
    if job.prompt:
        embed.add_field(name=gettext(locale, "Prompt"), value=shown(job.prompt, 1000), inline=False)
    return embed


def failure_content(job: Job, locale: LocaleLike = None) -> str:
    return gettext(
        locale, "{member} {what} failed.", member=mention(job.requester_id), what=what(job, locale)
    )


def lost_create_content(intent: CreateIntent, locale: LocaleLike = None) -> str:
    """A crash came while AKOOL was being asked: it may have made the job, unseen by the bot."""
    return gettext(
        locale,
        "{member} The bot restarted while AKOOL was starting {prompt}, so it cannot follow that "
        "job. AKOOL may have made it anyway: check your AKOOL dashboard before trying again.",
        member=mention(intent.requester_id),
        prompt=what_prompt_text(intent.prompt),
    )


def nothing_started_content(intent: CreateIntent, locale: LocaleLike = None) -> str:
    """A crash came after the command was acknowledged but before AKOOL was asked."""
    return gettext(
        locale,
        "{member} The bot restarted before it asked AKOOL for {prompt}: nothing was started and "
        "nothing was charged. Please try again.",
        member=mention(intent.requester_id),
        prompt=what_prompt_text(intent.prompt),
    )


def lost_press_content(
    intent: CreateIntent, *, button_used: bool | None, locale: LocaleLike = None
) -> str:
    """A crash came during a press of a grid's button, before its job was stored.

    ``button_used``: whether AKOOL counts the button as used (``None``: AKOOL cannot say). A
    button AKOOL never used was given back, so it may be pressed again.
    """
    claim = intent.claim
    assert claim is not None
    button = claim.button
    # Named by its button and the grid's job id, words of no language (the intent's own name,
    # "<button> of <job id>", is English).
    what = f"{button} (`{claim.parent_akool_id}`)"
    if button.startswith("U"):
        press = gettext(locale, "the upscale {what}", what=what)
    else:
        press = gettext(locale, "the variation {what}", what=what)
    values = {"member": f"<@{intent.requester_id}>", "press": press, "button": button}
    if intent.akool_called_at is None:
        return gettext(
            locale,
            "{member} The bot restarted before it asked AKOOL for {press}: nothing was started "
            "and nothing was charged; you can press {button} again.",
            **values,
        )
    if button_used is False:
        return gettext(
            locale,
            "{member} The bot restarted while AKOOL was starting {press}, and AKOOL did not use "
            "{button}: nothing was started and nothing was charged; you can press {button} again.",
            **values,
        )
    if button_used:
        return gettext(
            locale,
            "{member} The bot restarted while AKOOL was starting {press}, so it cannot follow "
            "that job. AKOOL counts {button} as used, so it may have made the image: check your "
            "AKOOL dashboard. {button} cannot be pressed again.",
            **values,
        )
    return gettext(
        locale,
        "{member} The bot restarted while AKOOL was starting {press}, so it cannot follow "
        "that job, and AKOOL cannot say now whether it made it: check your AKOOL dashboard "
        "before pressing it again.",
        **values,
    )


def dm_fallback_note(job: Job, locale: LocaleLike = None) -> str:
    """Heads a post sent to the requester by DM because its channel cannot be posted in."""
    channel = f"<#{job.channel_id}>"
    if not job.buttons:
        return gettext(
            locale,
            "-# Sent to you directly: the bot can no longer post in {channel}.",
            channel=channel,
        )
    # A press is checked against the job's server, so the buttons would not work in a DM.
    return gettext(
        locale,
        "-# Sent to you directly: the bot can no longer post in {channel}. For the buttons, use "
        "`{command} {job}` in the server and press Post here.",
        channel=channel,
        command=command("status"),
        job=job.akool_id,
    )


def single_v4_image(job: Job) -> bool:
    """A v4 image on its own (a tracked one): no candidates to upscale or vary, whatever AKOOL
    lists (it is UNCERTAIN whether v4 jobs ever list buttons), and no 🔄 either, since AKOOL's
    answer does not say the aspect or resolution it was made at."""
    return job.api == "v4" and not job.in_batch


def offers_reroll(job: Job) -> bool:
    """Whether 🔄 goes on this job's post: a grid (AKOOL lists U/V buttons) or a v4 batch (its
    lead), with a prompt."""
    if single_v4_image(job):
        return False
    has_grid = any(b in GRID_BUTTONS for b in (*job.buttons, *job.used_buttons))
    return (has_grid or job.is_batch_lead) and bool(job.prompt.strip())


def grid_view(job: Job) -> discord.ui.View | None:
    """The buttons of a finished job's post, laid out as Midjourney does.

    A grid gets U1-U4 🔄 on the first row and V1-V4 🗑️ on the second, for the U/V buttons AKOOL
    offers (used ones green and disabled); any other finished post, failed ones included, gets
    only 🗑️. A job that has not finished has no buttons.
    """
    if not job.status.finished:
        return None
    offered = set(job.buttons)
    used = set(job.used_buttons)
    present = [] if single_v4_image(job) else [b for b in GRID_BUTTONS if b in offered or b in used]
    view = discord.ui.View(timeout=None)
    # discord.py keeps the order of adding within a row: U1-U4 then 🔄; V1-V4 then 🗑️.
    for button in present:
        if button.startswith("U"):
            view.add_item(GridButton(ButtonRef(job.akool_id, button), used=button in used))
    if offers_reroll(job):
        view.add_item(RerollButton(ButtonRef(job.akool_id, REROLL)))
    for button in present:
        if button.startswith("V"):
            view.add_item(GridButton(ButtonRef(job.akool_id, button), used=button in used))
    view.add_item(DeleteButton(ButtonRef(job.akool_id, DELETE)))
    return view


def message_link(guild_id: int | None, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What /status shows: AKOOL's live answer when there is one, else what the bot last saw."""

    job_id: str
    status: JobStatus
    prompt: str
    credits: int | None
    used_buttons: tuple[str, ...]
    image_url: str | None

    @classmethod
    def of(cls, job_id: str, live: ImageJob | None, stored: Job | None) -> Snapshot:
        if live is not None:
            return cls(
                job_id=job_id,
                status=JobStatus.from_akool(live.status),
                prompt=live.prompt or (stored.prompt if stored else ""),
                credits=live.credits,
                used_buttons=live.used_buttons,
                image_url=live.image_url,
            )
        if stored is None:
            raise ValueError("a snapshot needs a live answer or a stored job")
        return cls(
            job_id=job_id,
            status=stored.status,
            prompt=stored.prompt,
            credits=stored.credits,
            used_buttons=stored.used_buttons,
            image_url=stored.image_url,
        )


def batch_lines(job: Job, batch: Sequence[Job], locale: LocaleLike = None) -> list[tuple[str, str]]:
    """The /status fields (name, value) placing an image of a v4 batch: which image of which
    batch it is; for the lead (the job to the member) also how the whole batch stands and its
    credits. ``batch``: every image of it, in order (``job`` as last seen, in place of its row)."""
    images = [job if image.akool_id == job.akool_id else image for image in batch]
    if not job.in_batch or not images:
        return []
    values = {
        "n": number(locale, (job.batch_index or 0) + 1),
        "count": number(locale, len(images)),
        "batch": job.batch_akool_id,
    }
    if not job.is_batch_lead:
        return [
            (
                gettext(locale, "Batch"),
                gettext(locale, "Image {n} of {count} of batch `{batch}`", **values),
            )
        ]
    done = sum(image.status is JobStatus.COMPLETED for image in images)
    failed = sum(image.status is JobStatus.FAILED for image in images)
    place = gettext(
        locale,
        "Image {n} of {count}, the batch's first · {done} done, {failed} failed, {waiting} "
        "unfinished",
        done=number(locale, done),
        failed=number(locale, failed),
        waiting=number(locale, len(images) - done - failed),
        **values,
    )
    lines = [(gettext(locale, "Batch"), place)]
    charged = [image.credits for image in images if image.credits is not None]
    if charged:
        lines.append((gettext(locale, "Batch credits"), number(locale, sum(charged))))
    return lines


def status_embed(
    snapshot: Snapshot,
    stored: Job | None,
    note: str | None,
    locale: LocaleLike = None,
    batch: Sequence[Job] = (),
) -> discord.Embed:
    colour = {JobStatus.COMPLETED: COLOUR_DONE, JobStatus.FAILED: COLOUR_FAILED}.get(
        snapshot.status, COLOUR_PENDING
    )
    if snapshot.prompt:
        title = shown(snapshot.prompt, _TITLE_MAX)
    else:
        title = gettext(locale, "Job {job}", job=snapshot.job_id)
    embed = discord.Embed(title=title, colour=colour)
    embed.add_field(name=gettext(locale, "Job"), value=f"`{snapshot.job_id}`", inline=True)
    embed.add_field(
        name=gettext(locale, "Status"),
        value=f"{_ICONS[snapshot.status]} {status_word(snapshot.status, locale)}",
        inline=True,
    )
    if snapshot.credits is not None:
        embed.add_field(
            name=gettext(locale, "Credits"), value=number(locale, snapshot.credits), inline=True
        )
    if stored is not None:
        embed.add_field(
            name=gettext(locale, "Requested by"), value=mention(stored.requester_id), inline=True
        )
        if stored.result_message_id is not None:
            link = message_link(stored.guild_id, stored.channel_id, stored.result_message_id)
            embed.add_field(
                name=gettext(locale, "Result"),
                value=gettext(locale, "[posted here]({link})", link=link),
                inline=True,
            )
        if stored.error:
            embed.add_field(
                name=gettext(locale, "Error"),
                value=cut(error(stored.error, locale), _FIELD_MAX),
                inline=False,
            )
        for name, value in batch_lines(stored, batch, locale):
            embed.add_field(name=name, value=value, inline=False)
    if snapshot.used_buttons:
        embed.add_field(
            name=gettext(locale, "Buttons used"),
            value=gettext(locale, ", ").join(snapshot.used_buttons),
            inline=False,
        )
    if snapshot.status is JobStatus.COMPLETED and embeddable(snapshot.image_url):
        embed.set_image(url=snapshot.image_url)
    if note:
        embed.set_footer(text=note)
    return embed
