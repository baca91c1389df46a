"""The buttons the bot posts, as discord.py ``DynamicItem``s that survive restarts.

What a press does is a feature, so it lives in a cog: the cog registers a :class:`ButtonHandler`
on the bot, and these items hand every press to it.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Protocol

import discord

from bot.custom_ids import GRID_TEMPLATE, SHOW_TEMPLATE, ButtonRef
from bot.errors import answer_privately, report

log = logging.getLogger(__name__)


class ButtonHandler(Protocol):
    async def on_grid_button(self, interaction: discord.Interaction, ref: ButtonRef) -> None: ...

    async def on_show_button(self, interaction: discord.Interaction, ref: ButtonRef) -> None: ...


def _handler(interaction: discord.Interaction) -> ButtonHandler | None:
    return getattr(interaction.client, "button_handler", None)


async def _dispatch(interaction: discord.Interaction, ref: ButtonRef, *, show: bool) -> None:
    # discord.py logs and swallows exceptions from dynamic items, so they are answered here.
    handler = _handler(interaction)
    if handler is None:
        await answer_privately(interaction, "Buttons are not available right now.")
        return
    try:
        if show:
            await handler.on_show_button(interaction, ref)
        else:
            await handler.on_grid_button(interaction, ref)
    except Exception as error:  # every failure gets an answer and, if unexpected, a log line
        await report(interaction, error, what=f"button {ref.custom_id}")


class GridButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=GRID_TEMPLATE):
    """U1-U4 / V1-V4 on a finished grid; a used one is green and disabled."""

    def __init__(self, ref: ButtonRef, *, used: bool = False) -> None:
        row = 0 if ref.action.startswith("U") else 1
        super().__init__(
            discord.ui.Button(
                label=ref.action,
                style=discord.ButtonStyle.success if used else discord.ButtonStyle.secondary,
                disabled=used,
                custom_id=ref.custom_id,
            ),
            row=row,
        )
        self.ref = ref

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> GridButton:
        return cls(ButtonRef(match["job"], match["button"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await _dispatch(interaction, self.ref, show=False)


class ShowButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=SHOW_TEMPLATE):
    """Repost a finished job in the channel with live buttons (like Midjourney's /show)."""

    def __init__(self, ref: ButtonRef) -> None:
        super().__init__(
            discord.ui.Button(
                label="Post here", style=discord.ButtonStyle.primary, custom_id=ref.custom_id
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
    ) -> ShowButton:
        return cls(ButtonRef(match["job"], "show"))

    async def callback(self, interaction: discord.Interaction) -> None:
        await _dispatch(interaction, self.ref, show=True)


DYNAMIC_ITEMS = (GridButton, ShowButton)
