"""The permissions the bot needs in a channel, and the invite link that asks for exactly them.

One definition: the README's invite link, ``akool-bot check``'s invite link and its per-channel
check all come from :data:`CHANNEL_PERMISSIONS`.
"""

from __future__ import annotations

from typing import Final

import discord

# Each permission with why the bot needs it, in the order the check reports them.
CHANNEL_PERMISSIONS: Final[tuple[tuple[str, str], ...]] = (
    ("view_channel", "to see the channel at all"),
    ("send_messages", "to post results and status messages"),
    ("attach_files", "to attach the images"),
    ("embed_links", "to show job details and links"),
    ("read_message_history", "to reply to a grid with its upscales and variations"),
    ("send_messages_in_threads", "to post results of jobs started in a thread"),
)

# Slash commands need applications.commands; bot makes it a member with the permissions.
SCOPES: Final = ("bot", "applications.commands")


def required_permissions() -> discord.Permissions:
    """Every permission in :data:`CHANNEL_PERMISSIONS`, as one set."""
    return discord.Permissions(**dict.fromkeys((name for name, _ in CHANNEL_PERMISSIONS), True))


def permission_label(name: str) -> str:
    """Discord's own name for a permission flag, as the server settings show it."""
    return _LABELS.get(name, name.replace("_", " ").title())


_LABELS: Final = {
    "view_channel": "View Channels",
    "send_messages_in_threads": "Send Messages in Threads",
    "read_message_history": "Read Message History",
}


def invite_url(application_id: int) -> str:
    """The link that adds the bot to a server with exactly the permissions it needs."""
    return discord.utils.oauth_url(
        application_id, permissions=required_permissions(), scopes=SCOPES
    )
