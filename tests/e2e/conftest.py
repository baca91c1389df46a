"""End-to-end world: the real bot, assembled as in production, against fake Discord and AKOOL.

The bot talks to a fake Discord (REST + gateway) and a fake AKOOL, both on 127.0.0.1. Tests drive
members through the fake Discord and assert on what the bot sent there and asked AKOOL.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.core import AkoolBot
from bot.runner import Runtime, assemble
from bot.secret import Secret
from bot.settings import Settings
from tests.clock import ShiftedClock
from tests.fakes.akool import FakeAkool, Timeline
from tests.fakes.discord import FakeChannel, FakeDiscord, FakeGuild, FakeMessage, FakeUser, run_bot
from tests.ports import reserved_port

# Quick polls keep the suite fast; the flows are the same at production timing.
POLL_INTERVAL = 0.05


@dataclass
class World:
    discord: FakeDiscord
    akool: FakeAkool
    guild: FakeGuild
    channel: FakeChannel
    alice: FakeUser
    bob: FakeUser
    db_path: Path
    settings: Settings
    users: list[FakeUser] = field(default_factory=list)
    runtime: Runtime | None = None
    # The bot's, the fake Discord's and the fake AKOOL's Unix time: ``clock.advance`` ages
    # everything at once (links expire, days pass) without waiting.
    clock: ShiftedClock = field(default_factory=ShiftedClock)

    @contextlib.asynccontextmanager
    async def running(self, **overrides: Any) -> AsyncIterator[AkoolBot]:
        """The bot, connected and ready, for the length of the ``async with``."""
        settings = dataclasses.replace(self.settings, **overrides)
        async with (
            assemble(settings, clock=self.clock) as runtime,
            run_bot(self.discord, runtime.bot),
        ):
            self.runtime = runtime
            yield runtime.bot

    @property
    def http_base(self) -> str:
        """The running bot's own HTTP server (webhook receiver, health)."""
        assert self.runtime is not None
        return f"http://127.0.0.1:{self.runtime.web.port}"

    async def wait_for_post(
        self, check: Callable[[FakeMessage], bool], timeout: float = 5.0
    ) -> FakeMessage:
        return await self.discord.wait_for_message(self.channel, check, timeout=timeout)

    def custom_ids_of(self, message: FakeMessage) -> list[str]:
        return self.discord.custom_ids(message)

    def is_post(self, message: FakeMessage) -> bool:
        """A completion or failure post: its nonce is the id of a job at the fake AKOOL.

        (discord.py gives every other message a random numeric nonce.)
        """
        return message.nonce in self.akool.jobs

    def is_post_of(self, job_id: str) -> Callable[[FakeMessage], bool]:
        return lambda message: message.nonce == job_id

    def posts_for(self, job_id: str) -> list[FakeMessage]:
        """Completion or failure posts of one job (they carry its id as the nonce)."""
        return [m for m in self.discord.messages(self.channel) if m.nonce == job_id]


class CrashOnceAfterPosting:
    """Stands in for ``store.mark_delivered``: the first call fails as if the process died just
    after Discord created the post and before the store recorded it; later calls go through."""

    def __init__(self, store: Any) -> None:
        self._original = store.mark_delivered
        self.calls = 0
        store.mark_delivered = self

    async def __call__(self, akool_id: str, message_id: int, *, now: float) -> bool:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("simulated crash after the post")
        result: bool = await self._original(akool_id, message_id, now=now)
        return result


def replied_to(message: FakeMessage) -> int | None:
    """The id of the message this one replies to."""
    reference = message.message_reference
    return None if reference is None else int(reference["message_id"])


def pinged(message: FakeMessage) -> list[int]:
    """Who the message pinged when it was created (later edits do not ping again)."""
    if not message.edits:
        return message.mention_ids
    return [int(u["id"]) for u in message.edits[0].previous.get("mentions", [])]


def unwanted_pings(discord: FakeDiscord) -> list[str]:
    """Every ping by the bot beyond the people its message names: any @everyone/@here or role
    ping, and any user pinged without being named by id in that message's
    ``allowed_mentions.users`` (so never by ``parse``)."""
    found = []
    for message in discord.all_messages.values():
        if message.author is not discord.bot_user:
            continue
        for ping in message.pings:
            what = []
            if ping.everyone:
                what.append("@everyone/@here")
            if ping.roles:
                what.append(f"roles {list(ping.roles)}")
            unnamed = [u for u in ping.users if u not in ping.named_users]
            if unnamed:
                what.append(f"users {unnamed} not named in allowed_mentions.users")
            if what:
                found.append(
                    f"message {message.id} ({ping.source}) pinged {', '.join(what)}: "
                    f"{ping.content[:200]!r} with allowed_mentions={ping.allowed_mentions}"
                )
    return found


@pytest.fixture(autouse=True)
def pings_only_the_people_named() -> Iterator[None]:
    """After every end-to-end test: no message the bot sent anywhere (posts, edits, interaction
    responses, follow-ups, DMs) pinged more than the people it names."""
    FakeDiscord.made.clear()
    yield
    made, FakeDiscord.made[:] = list(FakeDiscord.made), []
    problems = [problem for discord in made for problem in unwanted_pings(discord)]
    assert not problems, "\n".join(problems)


@contextlib.asynccontextmanager
async def make_world(
    akool: FakeAkool, tmp_path: Path, *, token: str = "test-token"
) -> AsyncIterator[World]:
    """A server with a channel and members, a fake Discord serving it, and the bot's settings."""
    discord = FakeDiscord(token=token)
    guild = discord.add_guild(name="Art Club")
    channel = discord.add_channel(guild, name="images")
    alice = discord.add_user(name="alice", guild=guild)
    bob = discord.add_user(name="bob", guild=guild)
    users = [discord.add_user(name=f"member{n}", guild=guild) for n in range(10)]
    await discord.start()
    akool.timeline = Timeline(processing_after=0.05, finished_after=0.15)
    db_path = tmp_path / "bot.sqlite3"
    settings = Settings(
        discord_token=Secret(discord.token),
        akool_api_key=Secret(akool.api_key),
        discord_guild_id=guild.id,
        akool_base_url=akool.base_url,
        database_url=f"sqlite:///{db_path}",
        image_hosts=("127.0.0.1",),
        poll_interval=POLL_INTERVAL,
        job_timeout=30.0,
        akool_timeout=2.0,
        http_port=0,
        # The budget is proven in its own tests; here it would only slow the flows down.
        akool_requests_per_second=1000.0,
    )
    clock = ShiftedClock()
    discord.wall_clock = akool.wall_clock = clock
    try:
        yield World(
            discord, akool, guild, channel, alice, bob, db_path, settings, users, clock=clock
        )
    finally:
        await discord.close()


@pytest.fixture
async def world(fake_akool: FakeAkool, tmp_path: Path) -> AsyncIterator[World]:
    async with make_world(fake_akool, tmp_path) as built:
        yield built


# Polls so rare that only the webhook can explain a quick delivery.
SLOW_POLL = 30.0


@pytest.fixture
def hooked(world: World) -> World:
    """The world with webhooks on: AKOOL is told the bot's URL and the client id is set."""
    port = reserved_port()
    world.settings = dataclasses.replace(
        world.settings,
        http_port=port,
        webhook_public_url=f"http://127.0.0.1:{port}/akool/webhook",
        akool_client_id=Secret(world.akool.client_id),
        poll_interval=SLOW_POLL,
    )
    return world
