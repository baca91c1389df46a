"""Answering a member's interaction through its webhook, from a process that never saw it.

After a crash the ``discord.Interaction`` is gone; what is left is the application id and the
token stored with the create intent. Discord honours the token for 15 minutes. discord.py's
public ``Webhook.edit_message`` takes only a numeric message id, and the id of ``@original`` is
not known when the crash came before the acknowledgement's answer, so these requests are built
the way discord.py builds its own interaction edits, on the client's HTTP session and limits.
"""

from __future__ import annotations

from typing import Any, Final

import discord
from discord.http import Route

from bot.store import InteractionReply

# Discord keeps an interaction token for 15 minutes; a minute's margin covers the moments between
# the interaction and its intent being written, and clocks that disagree a little.
USABLE_FOR: Final = 14 * 60.0

_ORIGINAL: Final = "/webhooks/{webhook_id}/{webhook_token}/messages/@original"
_FOLLOWUP: Final = "/webhooks/{webhook_id}/{webhook_token}"


def usable(made_at: float, now: float) -> bool:
    """Whether a token handed over at ``made_at`` still works at ``now``."""
    return now - made_at < USABLE_FOR


def refused_for_good(exc: discord.HTTPException) -> bool:
    """A webhook call that will never work (unknown or expired token, message deleted): any
    client error but a rate limit. The answer then goes to the channel instead."""
    return 400 <= exc.status < 500 and exc.status != 429


async def edit_original(
    client: discord.Client,
    reply: InteractionReply,
    content: str,
    allowed_mentions: discord.AllowedMentions,
) -> int:
    """Replace the interaction's original response (its "thinking" message); the message id."""
    route = Route(
        "PATCH",
        _ORIGINAL,
        webhook_id=reply.application_id,
        webhook_token=reply.token.reveal(),
    )
    payload = {"content": content, "allowed_mentions": allowed_mentions.to_dict()}
    data: Any = await client.http.request(route, json=payload)
    return int(data["id"])


async def follow_up(
    client: discord.Client,
    reply: InteractionReply,
    content: str,
    *,
    ephemeral: bool,
    allowed_mentions: discord.AllowedMentions,
) -> int:
    """Send a follow-up message to the interaction; the message id."""
    route = Route(
        "POST",
        _FOLLOWUP,
        webhook_id=reply.application_id,
        webhook_token=reply.token.reveal(),
    )
    payload: dict[str, Any] = {"content": content, "allowed_mentions": allowed_mentions.to_dict()}
    if ephemeral:
        payload["flags"] = discord.MessageFlags(ephemeral=True).value
    data: Any = await client.http.request(route, json=payload, params={"wait": "true"})
    return int(data["id"])
