"""Who may spend the server's credits, where, on what, and how much: the checks run before AKOOL
is asked for anything. Each refusal is a :class:`UserFacingError` with a sentence to show."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final

from bot import render
from bot.errors import UserFacingError
from bot.i18n import Listing, Number, Text, lazy, nlazy
from bot.server_settings import ServerSettings
from bot.store import Caps, CreditUsage, Job, Limits, MemberUsage, Spending

# The daily limit counts jobs in a rolling 24 hours.
DAY: Final = 24 * 60 * 60


# What a job is expected to cost before AKOOL has reported the credits of any job of its kind:
# AKOOL's v3 examples show ``deduction_credit: 2``, its v4 pages 1 an image, and others say more
# (the API reference counts the cost as uncertain). Once jobs of a kind report credits, the
# median of the last RECENT_COSTS of them is used instead.
DOCUMENTED_CREDITS: Final = 2
# One v4 image: AKOOL's v4 pages charge 1 credit an image, at 1080p and 4K alike. A v4 order of
# n images is expected to cost n times the median of the recent v4 images (else this).
DOCUMENTED_IMAGE_CREDITS: Final = 1
RECENT_COSTS: Final = 50


class LimitReached(UserFacingError):
    """A member is at one of the server's fair-use limits."""


class CapReached(LimitReached):
    """Starting the job would pass a daily credit cap (the account's, or the server's)."""


@dataclass(frozen=True, slots=True)
class OperatorCaps:
    """The operator's credit caps: the whole account's, and every server's (``None``: none)."""

    account: int | None = None
    server: int | None = None


class Cap(Enum):
    ACCOUNT = "account"
    SERVER = "server"


def caps(operator: OperatorCaps, settings: ServerSettings | None, now: float) -> Caps | None:
    """The caps a job started now must stay within (``settings``: its server's, if any);
    ``None`` when there is none."""
    found = window(operator, settings, now)
    return None if found.account is None and found.server is None else found


def window(operator: OperatorCaps, settings: ServerSettings | None, now: float) -> Caps:
    """The caps, each ``None`` when unset, and the window spending is counted over."""
    return Caps(
        account=operator.account,
        server=None if settings is None else settings.daily_credit_cap(operator.server),
        since=now - DAY,
        default_cost=DOCUMENTED_CREDITS,
        recent=RECENT_COSTS,
        default_image_cost=DOCUMENTED_IMAGE_CREDITS,
    )


def cap_passed(caps: Caps, usage: CreditUsage) -> Cap | None:
    """The first cap the job would pass, the account's before the server's; ``None`` if none."""
    if caps.account is not None and usage.account.total + usage.cost > caps.account:
        return Cap.ACCOUNT
    if (
        caps.server is not None
        and usage.server is not None
        and usage.server.total + usage.cost > caps.server
    ):
        return Cap.SERVER
    return None


def explain_cap(
    cap: Cap, limit: int, spending: Spending, cost: int, reported: Sequence[tuple[float, int]]
) -> Text:
    """Which cap the job would pass, how much of it is spent and held, and when it frees up.

    ``reported``: ``(created_at, credits)`` of the window's jobs AKOOL reported credits for,
    oldest first: as each ages past 24 hours, its credits come back.
    """
    values = {
        # "1 credit", "5 credits": the cap's own plural, apart from the spending's ({n}).
        "limit": nlazy("{n} credit", "{n} credits", limit),
        "cost": Number(cost),
        "held": Number(spending.reserved),
    }
    # Each cap's sentence whole, with and without credits held, so each language words it.
    if cap is Cap.ACCOUNT and spending.reserved:
        passes = nlazy(
            "This would pass the daily credit cap the bot's operator set for the whole AKOOL "
            "account of {limit}: {n} was spent in the last 24 hours and {held} held by "
            "unfinished jobs, and this job is expected to cost {cost}.",
            "This would pass the daily credit cap the bot's operator set for the whole AKOOL "
            "account of {limit}: {n} were spent in the last 24 hours and {held} held by "
            "unfinished jobs, and this job is expected to cost {cost}.",
            spending.spent,
            **values,
        )
    elif cap is Cap.ACCOUNT:
        passes = nlazy(
            "This would pass the daily credit cap the bot's operator set for the whole AKOOL "
            "account of {limit}: {n} was spent in the last 24 hours, and this job is "
            "expected to cost {cost}.",
            "This would pass the daily credit cap the bot's operator set for the whole AKOOL "
            "account of {limit}: {n} were spent in the last 24 hours, and this job is "
            "expected to cost {cost}.",
            spending.spent,
            **values,
        )
    elif spending.reserved:
        passes = nlazy(
            "This would pass this server's daily credit cap of {limit}: {n} was spent in "
            "the last 24 hours and {held} held by unfinished jobs, and this job is expected to "
            "cost {cost}.",
            "This would pass this server's daily credit cap of {limit}: {n} were spent "
            "in the last 24 hours and {held} held by unfinished jobs, and this job is expected "
            "to cost {cost}.",
            spending.spent,
            **values,
        )
    else:
        passes = nlazy(
            "This would pass this server's daily credit cap of {limit}: {n} was spent in "
            "the last 24 hours, and this job is expected to cost {cost}.",
            "This would pass this server's daily credit cap of {limit}: {n} were spent "
            "in the last 24 hours, and this job is expected to cost {cost}.",
            spending.spent,
            **values,
        )
    return lazy(
        "{passes} {frees} Nothing was spent.",
        passes=passes,
        frees=_frees(limit, spending, cost, reported),
    )


def _frees(
    limit: int, spending: Spending, cost: int, reported: Sequence[tuple[float, int]]
) -> Text:
    if cost > limit:
        return lazy("A job like this is expected to cost more than the whole cap.")
    need = spending.total + cost - limit
    freed = 0
    for created_at, credits in reported:
        freed += credits
        if freed >= need:
            return lazy("Enough frees up {time}.", time=render.timestamp(created_at + DAY))
    return lazy(
        "Unfinished jobs hold part of it: it frees up as they finish (and cost what AKOOL "
        "reports), and as the day's spending ages past 24 hours."
    )


def parent_channel_id(channel: object) -> int | None:
    """A thread's parent channel (settings name channels; threads inherit them)."""
    parent = getattr(channel, "parent_id", None)
    return parent if isinstance(parent, int) else None


def role_ids(user: object) -> list[int]:
    """The ids of a member's roles (none for a user outside a server)."""
    return [role.id for role in getattr(user, "roles", ())]


def limits(settings: ServerSettings, now: float) -> Limits:
    return Limits(active=settings.max_active_jobs, daily=settings.max_daily_jobs, since=now - DAY)


def explain_limit(limits: Limits, usage: MemberUsage) -> Text:
    """Which limit was reached, how far along the member is, and when it frees up."""
    if usage.daily >= limits.daily:
        frees = (
            lazy(
                "The next one frees up {time}.",
                time=render.timestamp(usage.oldest_since + DAY),
            )
            if usage.oldest_since is not None
            else lazy("It frees up as your earlier jobs age past 24 hours.")
        )
        return nlazy(
            "You have started {n} job in the last 24 hours, and this server allows {limit} a "
            "day. {frees}",
            "You have started {n} jobs in the last 24 hours, and this server allows {limit} a "
            "day. {frees}",
            usage.daily,
            limit=Number(limits.daily),
            frees=frees,
        )
    return nlazy(
        "You have {n} unfinished job, and this server allows {limit} at once. You can start "
        "another as soon as one of them finishes.",
        "You have {n} unfinished jobs, and this server allows {limit} at once. You can start "
        "another as soon as one of them finishes.",
        usage.active,
        limit=Number(limits.active),
    )


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
        where = Listing(tuple(map(render.channel_mention, sorted(settings.channels))))
        raise UserFacingError(
            lazy("The image bot works only in {channels} on this server.", channels=where)
        )
    if excluded := sorted(settings.channels_excluded & place):
        raise UserFacingError(
            lazy(
                "The image bot does not work in {channel} on this server.",
                channel=render.channel_mention(excluded[0]),
            )
        )
    roles = set(role_ids)
    if settings.roles and not settings.roles & roles:
        raise UserFacingError(
            lazy("Only members with certain roles may create images on this server.")
        )
    if settings.roles_excluded & roles:
        raise UserFacingError(lazy("One of your roles may not create images on this server."))


def check_prompt(settings: ServerSettings, prompt: str) -> None:
    word = settings.banned_word_in(prompt)
    if word is not None:
        raise UserFacingError(
            lazy(
                "The prompt contains “{word}”, which this server does not allow. Nothing was "
                "spent.",
                word=render.shown(word),
            )
        )


def check_may_press(settings: ServerSettings, job: Job, user_id: int) -> None:
    if not settings.buttons_for_everyone and job.requester_id != user_id:
        raise UserFacingError(
            lazy(
                "On this server only {member}, who asked for this image, may use its buttons.",
                member=render.mention(job.requester_id),
            )
        )
