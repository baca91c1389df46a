"""A fake Discord (REST + gateway on 127.0.0.1) for end-to-end tests of real discord.py bots.

Usage::

    fake = FakeDiscord()
    guild = fake.add_guild(name="Test Guild")
    channel = fake.add_channel(guild, name="general")
    alice = fake.add_user(name="alice", guild=guild)
    await fake.start()
    async with run_bot(fake, bot):            # patches discord.py, starts, waits for on_ready
        ix = await fake.slash_command(alice, channel, "ping")
        response = await ix.wait_response()   # .type, .data, .elapsed since dispatch
    await fake.close()

Discord behaviour the fake reproduces on purpose (each one has bitten real bots):

* ``on_ready`` comes ``guild_ready_timeout`` (2 s default) after the last GUILD_CREATE; there is
  no "all guilds received" shortcut in discord.py 2.7. The fake sends every GUILD_CREATE in the
  READY burst and ``run_bot`` lowers the timeout to 50 ms (see ``run_bot``).
* The first response to an interaction must arrive within 3 s
  (``fake.interaction_response_deadline``); later ones get 404 ``10062 Unknown interaction``.
* After a "thinking" defer (callback type 5) the first follow-up *becomes* the deferred
  message (same id, the defer's ephemerality); later follow-ups are new messages.
* Without the MESSAGE_CONTENT intent, MESSAGE_CREATE for other users' messages has no content;
  without GUILD_MEMBERS, GUILD_CREATE only carries the bot's own member.
* A guild's upload limit follows its ``premium_tier`` (10/10/50/100 MiB) and oversize files get
  413 ``40005``; ``enforce_nonce`` re-sends return the original message; ephemeral messages are
  never visible through the channel; deleted messages/channels answer 404 ``10008``/``10003``.
* Attachment links are signed and expire (``?ex=&is=&hm=``, a day after they are given out, by
  ``fake.wall_clock``); the CDN answers 404 for an expired, unsigned or altered link and for a
  file whose message was deleted, and every message fetch or event carries freshly signed links.
* Interactions go to the live gateway session whose shard owns the guild
  (``(guild_id >> 22) % shard_count``), DMs to shard 0.

Anything the fake does not implement is logged, recorded in ``fake.unimplemented`` and answered
with a Discord-style 404, so gaps show up instead of silently passing.

The implementation lives in :mod:`tests.fakes.discord_server`. This module is called ``discord``
only inside the ``tests.fakes`` package; import it absolutely
(``from tests.fakes.discord import FakeDiscord``) so it never shadows discord.py.
"""

from __future__ import annotations

from tests.fakes.discord_server.core import FakeDiscord
from tests.fakes.discord_server.interaction import FakeInteraction
from tests.fakes.discord_server.models import (
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    InteractionCallback,
    MessageEdit,
    Ping,
    RecordedRequest,
)
from tests.fakes.discord_server.rest_base import Fault, Hold
from tests.fakes.discord_server.runner import FAST_GUILD_READY_TIMEOUT, run_bot

__all__ = [
    "FAST_GUILD_READY_TIMEOUT",
    "FakeAttachment",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeInteraction",
    "FakeMember",
    "FakeMessage",
    "FakeRole",
    "FakeUser",
    "Fault",
    "Hold",
    "InteractionCallback",
    "MessageEdit",
    "Ping",
    "RecordedRequest",
    "run_bot",
]
