"""/usage and /credits: what the server's members spent, and what the AKOOL account has left."""

from __future__ import annotations

import logging
from typing import Final

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import AkoolBot
from bot.i18n import LocaleLike, Text, command, gettext, lazy, ngettext, number
from bot.policy import DAY
from bot.store import Caps, CreditUsage
from bot.store import Spending as Counted

log = logging.getLogger(__name__)

# (title, how far back; None = ever). "Today" is the last 24 hours, like the daily limit.
WINDOWS: Final = (
    (lazy("Last 24 hours"), DAY),
    (lazy("Last 7 days"), 7 * DAY),
    (lazy("All time"), None),
)
_FIELD_MAX: Final = 1024  # Discord's limit on an embed field's value

Spent = dict[int, int]

NOT_THE_OWNER: Final = lazy(
    "Only the bot's owner can see the AKOOL account's balance. Use {command} for what this "
    "server spent.",
    command=command("usage"),
)


def cap_line(what: Text, spending: Counted, cap: int | None, locale: LocaleLike) -> str:
    """``what``'s spending in the last 24 hours against its daily cap."""
    values = {
        "what": what(locale),
        "spent": number(locale, spending.spent),
        "held": number(locale, spending.reserved),
    }
    # Each sentence whole (and written out, so that the catalogs find it).
    if cap is None:
        if spending.reserved:
            return gettext(
                locale,
                "{what}: {spent} spent + {held} held by unfinished jobs, no daily cap",
                **values,
            )
        return gettext(locale, "{what}: {spent} spent, no daily cap", **values)
    values["cap"] = number(locale, cap)
    values["left"] = number(locale, max(0, cap - spending.total))
    if spending.reserved:
        return gettext(
            locale,
            "{what}: {spent} spent + {held} held by unfinished jobs of a daily cap of {cap} "
            "({left} left)",
            **values,
        )
    return gettext(locale, "{what}: {spent} spent of a daily cap of {cap} ({left} left)", **values)


def caps_text(caps: Caps, usage: CreditUsage, *, operator: bool, locale: LocaleLike) -> str:
    """This server's line; the whole account's too for the operator (their business alone)."""
    assert usage.server is not None
    lines = [cap_line(lazy("This server"), usage.server, caps.server, locale)]
    if operator:
        account = lazy("The whole AKOOL account")
        lines.append(cap_line(account, usage.account, caps.account, locale))
    return "\n".join(lines)


def usage_embed(windows: list[Spent], caps: str | None, locale: LocaleLike) -> discord.Embed:
    """Totals per window, then each member's credits in every window, biggest spender first;
    ``caps``: the last 24 hours' spending against the daily credit caps."""
    embed = discord.Embed(
        title=gettext(locale, "Credits spent on this server"), colour=discord.Colour.blurple()
    )
    for (title, _), spent in zip(WINDOWS, windows, strict=True):
        embed.add_field(name=title(locale), value=number(locale, sum(spent.values())), inline=True)
    if caps is not None:
        embed.add_field(
            name=gettext(locale, "Daily credit caps (last 24 hours)"), value=caps, inline=False
        )
    everyone = windows[-1]
    if not everyone:
        embed.description = gettext(locale, "No credits spent yet.")
        return embed
    members = sorted(everyone, key=lambda member: (-everyone[member], member))
    embed.add_field(
        name=gettext(locale, "By member (24 hours · 7 days · all time)"),
        value=_member_lines(members, windows, locale),
        inline=False,
    )
    embed.set_footer(
        text=gettext(
            locale,
            "Credits AKOOL charged for the jobs started or tracked on this server. The daily "
            "caps count only jobs started here, and hold the expected cost of unfinished ones.",
        )
    )
    return embed


def _member_lines(members: list[int], windows: list[Spent], locale: LocaleLike) -> str:
    """One line per member, cut short with "…and N more" to fit in an embed field."""

    def more(n: int) -> str:
        return ngettext(locale, "…and {n} more", "…and {n} more", n)

    lines: list[str] = []
    for shown, member in enumerate(members):
        spent = " · ".join(number(locale, spent.get(member, 0)) for spent in windows)
        line = f"<@{member}>: {spent}"
        rest = len(members) - shown - 1
        candidate = [*lines, line] + ([more(rest)] if rest else [])
        if len("\n".join(candidate)) > _FIELD_MAX:
            return "\n".join([*lines, more(len(members) - shown)])
        lines.append(line)
    return "\n".join(lines)


def credit_text(balance: float, locale: LocaleLike) -> str:
    whole = balance.is_integer()
    amount = number(locale, int(balance) if whole else balance, decimals=None if whole else 2)
    return gettext(
        locale, "The AKOOL account behind this bot has {amount} credits left.", amount=amount
    )


class Spending(commands.Cog):
    def __init__(self, bot: AkoolBot) -> None:
        self.bot = bot

    @app_commands.command(name="usage")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def usage(self, interaction: discord.Interaction) -> None:
        """Show the credits spent on this server, per member and in total."""
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        now = self.bot.clock()
        windows = [
            dict(
                await self.bot.store.credits_spent(
                    interaction.guild_id, since=None if back is None else now - back
                )
            )
            for _, back in WINDOWS
        ]
        caps, spending = await self.bot.jobs.spending(interaction.guild_id)
        # The account's cap and spending over every server are the operator's business.
        operator = await self.bot.is_owner(interaction.user)
        locale = interaction.locale
        text = caps_text(caps, spending, operator=operator, locale=locale)
        await interaction.followup.send(embed=usage_embed(windows, text, locale), ephemeral=True)

    @app_commands.command(name="credits")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def credits(self, interaction: discord.Interaction) -> None:
        """Show how many credits the bot's AKOOL account has left (for the bot's owner)."""
        # AKOOL may take longer than Discord's 3 seconds to answer, with retries.
        await interaction.response.defer(ephemeral=True, thinking=True)
        # One AKOOL account pays for every server the bot is in: its balance is the operator's
        # business, not that of each server's admins. is_owner asks Discord who owns the
        # application (its owner, or a team's admins and developers) once, then remembers.
        if not await self.bot.is_owner(interaction.user):
            await interaction.followup.send(NOT_THE_OWNER(interaction.locale), ephemeral=True)
            return
        credit = await self.bot.akool.get_credit()
        await interaction.followup.send(
            credit_text(credit.balance, interaction.locale), ephemeral=True
        )
