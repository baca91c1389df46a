"""The buttons the bot posts, as discord.py ``DynamicItem``s that survive restarts.

What a press does is a feature, so it lives in a cog: each cog registers its handlers on the bot
(``bot.button_handlers[family] = handler``) and these items hand every press to them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Final, Self

import discord
from discord.ext import commands

from bot import in_flight
from bot.custom_ids import (
    DELETE,
    DELETE_TEMPLATE,
    GRID_TEMPLATE,
    HISTORY_TEMPLATE,
    REROLL,
    REROLL_TEMPLATE,
    SHOW,
    SHOW_TEMPLATE,
    ButtonRef,
    HistoryRef,
)
from bot.errors import answer_privately, report
from bot.guilds import refused_here
from bot.i18n import LocaleLike, gettext

log = logging.getLogger(__name__)

# The handler families a cog may register, one per kind of button.
GRID: Final = "grid"
HISTORY: Final = "history"

JobButtonHandler = Callable[[discord.Interaction, ButtonRef], Awaitable[None]]
HistoryHandler = Callable[[discord.Interaction, HistoryRef], Awaitable[None]]


class ButtonCog(commands.Cog):
    """A cog that handles a family of the bot's buttons: its handlers are registered on the bot
    while the cog is loaded, and the dynamic items hand presses to them."""

    def __init__(self, registry: dict[str, Callable[..., Awaitable[None]]]) -> None:
        self._registry = registry

    def button_handlers(self) -> dict[str, Callable[..., Awaitable[None]]]:
        raise NotImplementedError

    async def cog_load(self) -> None:
        self._registry.update(self.button_handlers())

    async def cog_unload(self) -> None:
        for family in self.button_handlers():
            self._registry.pop(family, None)


async def _dispatch(interaction: discord.Interaction, family: str, ref: Any, what: str) -> None:
    # discord.py logs and swallows exceptions from dynamic items, so they are answered here.
    handlers: dict[str, Callable[..., Awaitable[None]]] = getattr(
        interaction.client, "button_handlers", {}
    )
    handler = handlers.get(family)
    if handler is None:
        await answer_privately(
            interaction, gettext(interaction.locale, "That button is not available right now.")
        )
        return
    try:
        await handler(interaction, ref)
    except Exception as error:  # every failure gets an answer and, if unexpected, a log line
        await report(interaction, error, what=f"button {what}")


class _JobButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"(?!)"):
    """A button naming a job and an action; subclasses set the template, family and look."""

    family: str = GRID

    def __init__(self, ref: ButtonRef, *, used: bool = False) -> None:
        super().__init__(self.look(ref, used), row=self.row_of(ref))
        self.ref = ref

    @classmethod
    def look(cls, ref: ButtonRef, used: bool) -> discord.ui.Button[Any]:
        raise NotImplementedError

    @classmethod
    def row_of(cls, ref: ButtonRef) -> int:
        return 0

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        ref = ButtonRef.parse(match.string)
        assert ref is not None  # the template matched, so the id parses
        return cls(ref)

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        in_flight.track(interaction)
        # A press from a server the bot does not serve is answered there and goes no further.
        return not await refused_here(interaction)

    async def callback(self, interaction: discord.Interaction) -> None:
        await _dispatch(interaction, self.family, self.ref, self.ref.custom_id)


class GridButton(_JobButton, template=GRID_TEMPLATE):
    """U1-U4 / V1-V4 on a finished grid; a used one is green and disabled."""

    family = GRID

    @classmethod
    def look(cls, ref: ButtonRef, used: bool) -> discord.ui.Button[Any]:
        style = discord.ButtonStyle.success if used else discord.ButtonStyle.secondary
        return discord.ui.Button(
            label=ref.action, style=style, disabled=used, custom_id=ref.custom_id
        )

    @classmethod
    def row_of(cls, ref: ButtonRef) -> int:
        return 0 if ref.action.startswith("U") else 1


class ShowButton(_JobButton, template=SHOW_TEMPLATE):
    """Repost a finished job in the channel with live buttons (like Midjourney's /show); it is
    on a private answer, so its label is in the member's language."""

    family = SHOW

    def __init__(self, ref: ButtonRef, *, used: bool = False, locale: LocaleLike = None) -> None:
        super().__init__(ref, used=used)
        self.item.label = gettext(locale, "Post here")

    @classmethod
    def look(cls, ref: ButtonRef, used: bool) -> discord.ui.Button[Any]:
        return discord.ui.Button(
            label=gettext(None, "Post here"),
            style=discord.ButtonStyle.primary,
            custom_id=ref.custom_id,
        )


class RerollButton(_JobButton, template=REROLL_TEMPLATE):
    """🔄 A new grid from the same prompt; unlike U/V, it can be pressed again and again."""

    family = REROLL

    @classmethod
    def look(cls, ref: ButtonRef, used: bool) -> discord.ui.Button[Any]:
        return discord.ui.Button(
            emoji="🔄", style=discord.ButtonStyle.secondary, custom_id=ref.custom_id
        )


class DeleteButton(_JobButton, template=DELETE_TEMPLATE):
    """🗑️ Deletes the result message; only its requester and the server's moderators may."""

    family = DELETE

    @classmethod
    def look(cls, ref: ButtonRef, used: bool) -> discord.ui.Button[Any]:
        return discord.ui.Button(
            emoji="🗑️", style=discord.ButtonStyle.secondary, custom_id=ref.custom_id
        )

    @classmethod
    def row_of(cls, ref: ButtonRef) -> int:
        return 1


class HistoryPageButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=HISTORY_TEMPLATE):
    """◀ / ▶ on a /history page."""

    def __init__(self, ref: HistoryRef, *, label: str, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                disabled=disabled,
                custom_id=ref.custom_id,
            )
        )
        self.ref = ref

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> HistoryPageButton:
        ref = HistoryRef(int(match["user"]), int(match["page"]))
        return cls(ref, label=getattr(item, "label", None) or "page")

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        in_flight.track(interaction)
        return not await refused_here(interaction)

    async def callback(self, interaction: discord.Interaction) -> None:
        await _dispatch(interaction, HISTORY, self.ref, self.ref.custom_id)


DYNAMIC_ITEMS = (GridButton, ShowButton, RerollButton, DeleteButton, HistoryPageButton)
