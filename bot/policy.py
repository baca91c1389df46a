"""Who may spend the server's credits, where, on what, and how much: the checks run before AKOOL
is asked for anything. Each refusal is a :class:`UserFacingError` with a sentence to show."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from bot import render
from bot.errors import UserFacingError
from bot.server_settings import ServerSettings
from bot.store import Job, Limits, MemberUsage

# The daily limit counts jobs in a rolling 24 hours.
DAY: Final = 24 * 60 * 60


class LimitReached(UserFacingError):
    """A member is at one of the server's fair-use limits."""


def parent_channel_id(channel: object) -> int | None:
    """A thread's parent channel (settings name channels; threads inherit them)."""
    parent = getattr(channel, "parent_id", None)
    return parent if isinstance(parent, int) else None


def role_ids(user: object) -> list[int]:
    """The ids of a member's roles (none for a user outside a server)."""
    return [role.id for role in getattr(user, "roles", ())]


def limits(settings: ServerSettings, now: float) -> Limits:
    return Limits(active=settings.max_active_jobs, daily=settings.max_daily_jobs, since=now - DAY)


def explain_limit(limits: Limits, usage: MemberUsage) -> str:
    """Which limit was reached, how far along the member is, and when it frees up."""
    if usage.daily >= limits.daily:
        frees = (
            f"The next one frees up {render.timestamp(usage.oldest_since + DAY)}."
            if usage.oldest_since is not None
            else "It frees up as your earlier jobs age past 24 hours."
        )
        return (
            f"You have started {_jobs(usage.daily)} in the last 24 hours, and this server allows "
            f"{limits.daily} a day. {frees}"
        )
    return (
        f"You have {_jobs(usage.active, 'unfinished job')}, and this server allows "
        f"{limits.active} at once. You can start another as soon as one of them finishes."
    )


def _jobs(count: int, noun: str = "job") -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def check_place(
    settings: ServerSettings,
    channel_id: int,
    role_ids: Iterable[int],
    *,
    parent_channel_id: int | None = None,
) -> None:
    """The channel (or, in a thread, its parent) and the member's roles against the server's
    channel and role settings: all, only the allowed ones, or all but the disallowed ones."""
    place = {channel_id} if parent_channel_id is None else {channel_id, parent_channel_id}
    if settings.channels and not settings.channels & place:
        where = ", ".join(f"<#{c}>" for c in sorted(settings.channels))
        raise UserFacingError(f"The image bot works only in {where} on this server.")
    if excluded := sorted(settings.channels_excluded & place):
        raise UserFacingError(f"The image bot does not work in <#{excluded[0]}> on this server.")
    roles = set(role_ids)
    if settings.roles and not settings.roles & roles:
        raise UserFacingError("Only members with certain roles may create images on this server.")
    if settings.roles_excluded & roles:
        raise UserFacingError("One of your roles may not create images on this server.")


def check_prompt(settings: ServerSettings, prompt: str) -> None:
    word = settings.banned_word_in(prompt)
    if word is not None:
        raise UserFacingError(
            f"The prompt contains “{render.shown(word)}”, which this server does not allow. "
            "Nothing was spent."
        )


def check_may_press(settings: ServerSettings, job: Job, user_id: int) -> None:
    if not settings.buttons_for_everyone and job.requester_id != user_id:
        raise UserFacingError(
            f"On this server only <@{job.requester_id}>, who asked for this image, may use its "
            "buttons."
        )
