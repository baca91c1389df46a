"""The invite link: the bot's scopes and exactly the permissions it needs in a channel."""

from __future__ import annotations

from typing import Final

import discord

SCOPES: Final = ("bot", "applications.commands")
PERMISSIONS: Final = discord.Permissions(
    view_channel=True,
    send_messages=True,
    # Jobs started in a thread are posted in that thread.
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,
    # To reply to a grid with its upscale or variation.
    read_message_history=True,
)


def invite_url(application_id: int | str) -> str:
    """The link that adds the bot to a server with :data:`PERMISSIONS`."""
    return discord.utils.oauth_url(application_id, permissions=PERMISSIONS, scopes=SCOPES)
