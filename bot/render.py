"""How jobs look in Discord: status lines, result and failure embeds, and the button rows.

Everything here is a pure function of a stored :class:`Job`, so a repost after a restart looks
exactly like the first post.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import discord

from bot.akool import ImageJob
from bot.components import DeleteButton, GridButton, RerollButton
from bot.custom_ids import DELETE, GRID_BUTTONS, REROLL, ButtonRef
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
_WORDS: Final = {
    JobStatus.QUEUED: "Queued",
    JobStatus.PROCESSING: "Processing",
    JobStatus.COMPLETED: "Done",
    JobStatus.FAILED: "Failed",
}


# What makes Discord format a member's text, or turn it into a link, a mention, a timestamp or an
# emoji: bold, italics, underline, strike, spoiler, code, a backslash, masked links ([x](url)),
# <@id> <#id> <@&id> <t:...> <:emoji:id>, @everyone, a bare URL's "://", headings and quotes.
# discord.utils.escape_markdown is not enough on its own: it escapes only the first of several
# masked links ("[a](b) [c](d)" keeps the second) and leaves mentions and mid-line # alone.
_INLINE: Final = re.compile(r"[\\*_~|`\[\]<>#@]|:(?=//)")
# These format only at the start of a line: a list item, "-#" small text, a "1." list.
_LINE_START: Final = re.compile(r"^(?:[-+]|\d+\.)")


def shown(text: str, limit: int | None = None) -> str:
    """Member-provided text (a prompt, a banned word) as the bot shows it: on one line, with
    every character Discord would format escaped, so it reads as typed and nothing in it becomes
    a link, a mention or formatting in the bot's voice. With ``limit``, it is cut (with an
    ellipsis) so that the escaped text fits in that many characters."""
    pieces = _escaped_pieces(" ".join(text.split()))
    if limit is None or sum(map(len, pieces)) <= limit:
        return "".join(pieces)
    kept: list[str] = []
    size = 0
    for piece in pieces:  # cut between characters, never inside an escape
        if size + len(piece) > limit - 1:
            break
        kept.append(piece)
        size += len(piece)
    return "".join(kept).rstrip() + "…"


def _escaped_pieces(flat: str) -> list[str]:
    """Each character of ``flat``, behind a backslash if Discord would format it."""
    marked = {m.start() for m in _INLINE.finditer(flat)}
    start = _LINE_START.match(flat)
    if start:
        marked.add(start.end() - 1)  # the "-", the "+" or the "." of "1."
    return ["\\" + c if i in marked else c for i, c in enumerate(flat)]


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


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def is_reroll(job: Job) -> bool:
    """A grid made by 🔄 on another grid (stored with ``button`` "reroll", not an AKOOL button)."""
    return job.kind is not JobKind.BUTTON and job.button == REROLL


def what(job: Job) -> str:
    """What the job is, in a few words: the prompt, or the button pressed on a grid."""
    if is_reroll(job):
        return f"🔄 Re-roll of {what_prompt(job)}"
    if job.kind is JobKind.BUTTON and job.button:
        action = "Upscale" if job.button.startswith("U") else "Variation"
        return f"{action} {job.button} of `{job.parent_akool_id}`"
    if job.prompt:
        return f"**{shown(job.prompt, 200)}**"
    return f"Job `{job.akool_id}`"


def status_line(job: Job, now: float, *, position: int | None = None) -> str:
    """The status message's text; processing shows a live 'started … ago' timestamp."""
    head = f"{_ICONS[job.status]} {_WORDS[job.status]}: {what(job)} for <@{job.requester_id}>"
    detail = f"job `{job.akool_id}`"
    if position is not None and not job.status.finished:
        detail += f", #{position} in line"
    if job.status is JobStatus.PROCESSING:
        detail += f", started {timestamp(job.updated_at)}"
    elif job.status is JobStatus.QUEUED:
        detail += f", submitted {timestamp(job.created_at)}"
    elif job.status is JobStatus.FAILED and job.error:
        detail += f": {job.error}"
    elif job.status is JobStatus.COMPLETED:
        detail += f", finished in {duration((job.finished_at or now) - job.created_at)}"
    return f"{head}\n-# {detail}"


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


def result_content(job: Job, parent: Job | None, *, note: str | None = None) -> str:
    """The completion post's text; ``note`` (from :func:`preview_note` or :func:`problem_note`)
    goes on a line of its own."""
    mentions = " ".join(f"<@{user}>" for user in mentioned_users(job, parent))
    if job.kind is JobKind.BUTTON and job.button:
        action = "Upscaled" if job.button.startswith("U") else "Variation"
        line = f"{what_prompt(job)} - {action} ({job.button}) by <@{job.requester_id}>"
        if parent is not None and parent.requester_id != job.requester_id:
            line += f", from <@{parent.requester_id}>'s grid"
    elif is_reroll(job):
        line = f"{what_prompt(job)} - Re-roll by <@{job.requester_id}>"
        if parent is not None and parent.requester_id != job.requester_id:
            line += f", from <@{parent.requester_id}>'s grid"
    else:
        line = f"{what_prompt(job)} - {mentions}"
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


def preview_note(job: Job) -> Note:
    """The note on a post whose image is a preview: where the original is, and until when."""
    until = timestamp(expires_at(job).timestamp(), "f")
    head = "The full-size image is too large to upload here"
    url = job.image_url
    if not url:
        return Note(f"{head}.")
    if len(url) <= CONTENT_URL_MAX:
        return Note(f"{head}: [original]({url}), available until {until}.")
    if len(url) <= EMBED_URL_MAX:
        return Note(
            f"{head}: the original is linked below, available until {until}.",
            below=f"[Full-size original on AKOOL]({url})",
        )
    return Note(f"{head}, and AKOOL's link to the original is too long to post.")


def problem_note(job: Job, problem: str) -> Note:
    """The note on a post without its image: ``problem``, then AKOOL's link where it fits."""
    url = job.image_url
    if not url:
        return Note(problem)
    if len(url) <= CONTENT_URL_MAX:
        return Note(f"{problem} [Open it on AKOOL]({url}).")
    if len(url) <= EMBED_URL_MAX:
        return Note(f"{problem} AKOOL's link to it is below.", below=f"[Open it on AKOOL]({url})")
    return Note(f"{problem} AKOOL's link to it is too long to post here.")


def what_prompt(job: Job) -> str:
    return what_prompt_text(job.prompt) if job.prompt else f"Job `{job.akool_id}`"


def what_prompt_text(prompt: str) -> str:
    return f"**{shown(prompt, 300)}**"


def result_embed(
    job: Job, *, filename: str | None, now: float, description: str | None = None
) -> discord.Embed:
    embed = discord.Embed(
        title=shown(job.prompt, _TITLE_MAX) if job.prompt else "AKOOL image",
        description=description,
        colour=COLOUR_DONE,
    )
    embed.add_field(name="Job", value=f"`{job.akool_id}`", inline=True)
    if job.credits is not None:
        embed.add_field(name="Credits", value=str(job.credits), inline=True)
    embed.add_field(
        name="Time", value=duration((job.finished_at or now) - job.created_at), inline=True
    )
    if job.parent_akool_id:
        how = "re-roll" if is_reroll(job) else job.button
        embed.add_field(name="From", value=f"`{job.parent_akool_id}` {how}", inline=True)
    if filename is not None:
        embed.set_image(url=f"attachment://{filename}")
    return embed


def failure_embed(job: Job) -> discord.Embed:
    embed = discord.Embed(
        title="The image could not be made",
        description=cut(
            job.error or "AKOOL reported the job as failed. Check the prompt and image.",
            _DESCRIPTION_MAX,
        ),
        colour=COLOUR_FAILED,
    )
    embed.add_field(name="Job", value=f"`{job.akool_id}`", inline=True)
    if job.prompt:
        embed.add_field(name="Prompt", value=shown(job.prompt, 1000), inline=False)
    return embed


def failure_content(job: Job) -> str:
    return f"<@{job.requester_id}> {what(job)} failed."


def lost_create_content(intent: CreateIntent) -> str:
    """A crash came while AKOOL was being asked: it may have made the job, unseen by the bot."""
    return (
        f"<@{intent.requester_id}> The bot restarted while AKOOL was starting "
        f"{what_prompt_text(intent.prompt)}, so it cannot follow that job. AKOOL may have made it "
        "anyway: check your AKOOL dashboard before trying again."
    )


def nothing_started_content(intent: CreateIntent) -> str:
    """A crash came after the command was acknowledged but before AKOOL was asked."""
    return (
        f"<@{intent.requester_id}> The bot restarted before it asked AKOOL for "
        f"{what_prompt_text(intent.prompt)}: nothing was started and nothing was charged. "
        "Please try again."
    )


def lost_press_content(intent: CreateIntent, *, button_used: bool | None) -> str:
    """A crash came during a press of a grid's button, before its job was stored.

    ``button_used``: whether AKOOL counts the button as used (``None``: AKOOL cannot say). A
    button AKOOL never used was given back, so it may be pressed again.
    """
    claim = intent.claim
    assert claim is not None
    button = claim.button
    action = "upscale" if button.startswith("U") else "variation"
    # A press's intent is named "<button> of <grid's job id>".
    press = f"the {action} {excerpt(intent.prompt, 100)}"
    who = f"<@{intent.requester_id}>"
    if intent.akool_called_at is None:
        return (
            f"{who} The bot restarted before it asked AKOOL for {press}: nothing was started "
            f"and nothing was charged; you can press {button} again."
        )
    if button_used is False:
        return (
            f"{who} The bot restarted while AKOOL was starting {press}, and AKOOL did not use "
            f"{button}: nothing was started and nothing was charged; you can press {button} "
            "again."
        )
    if button_used:
        return (
            f"{who} The bot restarted while AKOOL was starting {press}, so it cannot follow "
            f"that job. AKOOL counts {button} as used, so it may have made the image: check "
            f"your AKOOL dashboard. {button} cannot be pressed again."
        )
    return (
        f"{who} The bot restarted while AKOOL was starting {press}, so it cannot follow that "
        f"job, and AKOOL cannot say now whether it made it: check your AKOOL dashboard "
        "before pressing it again."
    )


def dm_fallback_note(job: Job) -> str:
    """Heads a post sent to the requester by DM because its channel cannot be posted in."""
    note = f"-# Sent to you directly: the bot can no longer post in <#{job.channel_id}>."
    if job.buttons:
        # A press is checked against the job's server, so the buttons would not work in a DM.
        note += f" For the buttons, use `/status {job.akool_id}` in the server and press Post here."
    return note


def offers_reroll(job: Job) -> bool:
    """Whether 🔄 goes on this job's post: a grid (AKOOL lists U/V buttons) with a prompt."""
    has_grid = any(b in GRID_BUTTONS for b in (*job.buttons, *job.used_buttons))
    return has_grid and bool(job.prompt.strip())


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
    present = [b for b in GRID_BUTTONS if b in offered or b in used]
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


def status_embed(snapshot: Snapshot, stored: Job | None, note: str | None) -> discord.Embed:
    colour = {JobStatus.COMPLETED: COLOUR_DONE, JobStatus.FAILED: COLOUR_FAILED}.get(
        snapshot.status, COLOUR_PENDING
    )
    title = shown(snapshot.prompt, _TITLE_MAX) if snapshot.prompt else f"Job {snapshot.job_id}"
    embed = discord.Embed(title=title, colour=colour)
    embed.add_field(name="Job", value=f"`{snapshot.job_id}`", inline=True)
    embed.add_field(
        name="Status", value=f"{_ICONS[snapshot.status]} {_WORDS[snapshot.status]}", inline=True
    )
    if snapshot.credits is not None:
        embed.add_field(name="Credits", value=str(snapshot.credits), inline=True)
    if stored is not None:
        embed.add_field(name="Requested by", value=f"<@{stored.requester_id}>", inline=True)
        if stored.result_message_id is not None:
            link = message_link(stored.guild_id, stored.channel_id, stored.result_message_id)
            embed.add_field(name="Result", value=f"[posted here]({link})", inline=True)
        if stored.error:
            embed.add_field(name="Error", value=cut(stored.error, _FIELD_MAX), inline=False)
    if snapshot.used_buttons:
        embed.add_field(name="Buttons used", value=", ".join(snapshot.used_buttons), inline=False)
    if snapshot.status is JobStatus.COMPLETED and embeddable(snapshot.image_url):
        embed.set_image(url=snapshot.image_url)
    if note:
        embed.set_footer(text=note)
    return embed
