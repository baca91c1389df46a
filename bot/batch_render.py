"""How a v4 batch looks in Discord: one status line with its progress, one post with every
image it made, and the buttons of that post.

A batch of n images is n stored jobs (see :class:`bot.store.Job`); to the member it is one job,
its lead (the first image), whose id the status line and the post name. Everything here is a
pure function of the batch's rows, as :mod:`bot.render` is of one job's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import discord

from bot import render
from bot.components import DeleteButton, GridButton, RerollButton
from bot.custom_ids import DELETE, REROLL, ButtonRef
from bot.i18n import LocaleLike, gettext, ngettext, number
from bot.store import Job, JobStatus

# What a post of several images may say below them: Discord's embed description limit.
_DESCRIPTION_MAX: Final = 4096


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a batch stands: its images, how many are ready, how many failed."""

    total: int
    ready: int
    failed: int
    status: JobStatus

    @classmethod
    def of(cls, batch: Sequence[Job]) -> Progress:
        ready = sum(job.status is JobStatus.COMPLETED for job in batch)
        failed = sum(job.status is JobStatus.FAILED for job in batch)
        if ready + failed == len(batch):
            status = JobStatus.COMPLETED if ready else JobStatus.FAILED
        elif ready or failed or any(job.status is JobStatus.PROCESSING for job in batch):
            status = JobStatus.PROCESSING
        else:
            status = JobStatus.QUEUED
        return cls(total=len(batch), ready=ready, failed=failed, status=status)

    @property
    def finished(self) -> bool:
        return self.ready + self.failed == self.total


def as_one(lead: Job, batch: Sequence[Job]) -> Job:
    """The lead as the member sees the batch: its status the batch's, its time the batch's
    (from the lead's creation to the last image's end)."""
    progress = Progress.of(batch)
    ends = [job.finished_at for job in batch if job.finished_at is not None]
    finished_at = max(ends) if progress.finished and ends else None
    starts = [job.updated_at for job in batch if job.status is JobStatus.PROCESSING]
    updated_at = min(starts) if starts else lead.updated_at
    return dataclasses.replace(
        lead, status=progress.status, finished_at=finished_at, updated_at=updated_at
    )


def status_line(
    lead: Job,
    batch: Sequence[Job],
    now: float,
    *,
    position: int | None = None,
    locale: LocaleLike = None,
) -> str:
    """The batch's status message: the lead's status line for the whole batch, and how many of
    its images are ready (and failed)."""
    progress = Progress.of(batch)
    ready = ngettext(
        locale,
        "{ready} of {total} image ready",
        "{ready} of {total} images ready",
        progress.total,
        ready=number(locale, progress.ready),
        total=number(locale, progress.total),
    )
    if progress.failed:
        ready += gettext(locale, ", ") + gettext(
            locale, "{failed} failed", failed=number(locale, progress.failed)
        )
    whole = as_one(lead, batch)
    return render.status_line(whole, now, position=position, locale=locale, progress=ready)


def failed_note(batch: Sequence[Job], locale: LocaleLike = None) -> str | None:
    """What a post of the finished images says of those that failed, and why."""
    failed = [job for job in batch if job.status is JobStatus.FAILED]
    if not failed:
        return None
    reasons = list(dict.fromkeys(render.error(job.error, locale) for job in failed if job.error))
    said = gettext(
        locale,
        "{failed} of {total} images could not be made.",
        failed=number(locale, len(failed)),
        total=number(locale, len(batch)),
    )
    if reasons:
        said += " " + render.cut(" ".join(reasons), 300)
    return f"❌ {said}"


def originals_below(
    lead: Job, previews: Sequence[tuple[int, Job]], locale: LocaleLike = None
) -> tuple[str, str | None]:
    """Where the full-size images of a post's previews are: a line for the content and the
    links for the embed's description (``previews``: each image's number in the post, and its
    job). A link too long for what is left of the description is said, not posted."""
    until = render.timestamp(render.expires_at(lead).timestamp(), "f")
    line = ngettext(
        locale,
        "The full-size image is too large to upload here with the others: the original is "
        "linked below, available until {time}.",
        "The full-size images are too large to upload here together: the originals are linked "
        "below, available until {time}.",
        len(previews),
        time=until,
    )
    links: list[str] = []
    left = _DESCRIPTION_MAX
    for shown_as, job in previews:
        url = job.image_url
        link = (
            gettext(locale, "[Image {n}: full-size original]({url})", n=shown_as, url=url)
            if url and render.embeddable(url)
            else None
        )
        if link is None or len(link) + 1 > left - 200:
            link = gettext(
                locale, "Image {n}: AKOOL's link to the original is too long to post.", n=shown_as
            )
        links.append(link)
        left -= len(link) + 1
    return line, "\n".join(links) or None


def result_embed(
    lead: Job,
    batch: Sequence[Job],
    *,
    now: float,
    description: str | None = None,
    locale: LocaleLike = None,
) -> discord.Embed:
    """The embed under a batch's images: the prompt, the job (the lead's id), how many images,
    their credits together and the time the batch took."""
    whole = as_one(lead, batch)
    progress = Progress.of(batch)
    embed = discord.Embed(
        title=render.shown(lead.prompt, 256) if lead.prompt else gettext(locale, "AKOOL image"),
        description=description,
        colour=render.COLOUR_DONE,
    )
    embed.add_field(name=gettext(locale, "Job"), value=f"`{lead.akool_id}`", inline=True)
    embed.add_field(
        name=gettext(locale, "Images"),
        value=gettext(
            locale,
            "{ready} of {total}",
            ready=number(locale, progress.ready),
            total=number(locale, progress.total),
        ),
        inline=True,
    )
    credits = [job.credits for job in batch]
    if all(credit is not None for credit in credits):
        spent = sum(credit for credit in credits if credit is not None)
        embed.add_field(name=gettext(locale, "Credits"), value=number(locale, spent), inline=True)
    embed.add_field(
        name=gettext(locale, "Time"),
        value=render.duration((whole.finished_at or now) - lead.created_at, locale),
        inline=True,
    )
    if lead.parent_akool_id:
        how = gettext(locale, "re-roll") if render.is_reroll(lead) else lead.button
        embed.add_field(
            name=gettext(locale, "From"), value=f"`{lead.parent_akool_id}` {how}", inline=True
        )
    return embed


def failure_job(lead: Job, batch: Sequence[Job]) -> Job:
    """The lead as a failed job, with the first reason an image of the batch gave."""
    reason = next((job.error for job in batch if job.error), None)
    return dataclasses.replace(lead, status=JobStatus.FAILED, error=reason)


def view(lead: Job, count: int) -> discord.ui.View:
    """The buttons of a batch's post of ``count`` images, laid out like a grid's: U1-Un and 🔄
    on the first row, V1-Vn and 🗑️ on the second, each naming the lead. A used V is green and
    disabled (the lead's ``used_buttons``); with no image there is only 🗑️."""
    view = discord.ui.View(timeout=None)
    used = set(lead.used_buttons)
    if count:
        for n in range(1, count + 1):
            view.add_item(GridButton(ButtonRef(lead.akool_id, f"U{n}"), used=f"U{n}" in used))
        if lead.prompt.strip():
            view.add_item(RerollButton(ButtonRef(lead.akool_id, REROLL)))
        for n in range(1, count + 1):
            view.add_item(GridButton(ButtonRef(lead.akool_id, f"V{n}"), used=f"V{n}" in used))
    view.add_item(DeleteButton(ButtonRef(lead.akool_id, DELETE)))
    return view
