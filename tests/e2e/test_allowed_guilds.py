"""ALLOWED_GUILD_IDS end to end: the bot leaves servers it does not serve, at start-up and on
joining, and answers nothing asked from one (no AKOOL call); unset, it serves all and warns."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bot.custom_ids import REROLL
from tests.e2e.conftest import World
from tests.fakes.discord import FakeChannel, FakeGuild, FakeInteraction, FakeMessage

NOT_AVAILABLE = "This bot is not available in this server."
LEAVE = r"^/users/@me/guilds/\d+$"


@dataclass
class Stranger:
    """A second server, not the one the bot is meant for, where alice is a member too."""

    guild: FakeGuild
    channel: FakeChannel


def add_stranger(world: World) -> Stranger:
    guild = world.discord.add_guild(name="Strangers' Den")
    channel = world.discord.add_channel(guild, name="art")
    world.discord.add_member(world.alice, guild)
    return Stranger(guild, channel)


def leaves_of(world: World, guild: FakeGuild) -> int:
    return len(world.discord.requests_matching("DELETE", rf"^/users/@me/guilds/{guild.id}$"))


async def wait_left(world: World, guild: FakeGuild) -> None:
    await world.discord.feed.wait_for(
        lambda: True if guild.bot_left else None, 10.0, f"the bot to leave {guild.name!r}"
    )


def warnings(caplog: pytest.LogCaptureFixture, containing: str) -> Iterator[str]:
    for record in caplog.records:
        if record.levelno == logging.WARNING and containing in record.getMessage():
            yield record.getMessage()


def akool_calls(world: World) -> int:
    return sum(world.akool.calls.values())


async def private_answer(ix: FakeInteraction) -> str:
    answer = await ix.wait_response()
    assert answer.type == 4, f"answered with callback type {answer.type}"
    assert answer.ephemeral, f"answered in public: {answer.content!r}"
    return answer.content


async def test_it_leaves_a_server_it_joins_that_is_not_listed(
    world: World, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO)
    async with world.running(allowed_guild_ids=frozenset({world.guild.id})):
        stranger = add_stranger(world)  # someone invites the bot while it runs
        await wait_left(world, stranger.guild)
        # It still serves its own server.
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a red fox"}
        )
        assert (await ix.wait_response()).type == 5
        await world.wait_for_post(lambda m: world.is_post(m) and bool(m.components))

    assert (leaves_of(world, stranger.guild), leaves_of(world, world.guild)) == (1, 0)
    assert not world.guild.bot_left
    (warning,) = warnings(caplog, "Leaving server")
    assert "Strangers' Den" in warning
    assert str(stranger.guild.id) in warning
    assert not list(warnings(caplog, "ALLOWED_GUILD_IDS is not set"))


async def test_at_start_up_it_leaves_the_servers_it_was_added_to_meanwhile(
    world: World, caplog: pytest.LogCaptureFixture
):
    stranger = add_stranger(world)  # joined while the bot was not running
    caplog.set_level(logging.INFO)
    async with world.running(allowed_guild_ids=frozenset({world.guild.id})) as bot:
        await wait_left(world, stranger.guild)
        await world.discord.feed.wait_for(
            lambda: True if bot.get_guild(stranger.guild.id) is None else None,
            10.0,
            "the bot to drop the server it left",
        )
        assert bot.get_guild(world.guild.id) is not None

    assert (leaves_of(world, stranger.guild), leaves_of(world, world.guild)) == (1, 0)
    (warning,) = warnings(caplog, "Leaving server")
    assert str(stranger.guild.id) in warning


async def test_unset_it_serves_every_server_and_warns_at_start_up(
    world: World, caplog: pytest.LogCaptureFixture
):
    stranger = add_stranger(world)
    caplog.set_level(logging.INFO)
    # Commands registered globally, so that the second server has them too.
    async with world.running(discord_guild_id=None):
        later = world.discord.add_guild(name="Later")
        for guild, channel in ((stranger.guild, stranger.channel), (world.guild, world.channel)):
            ix = await world.discord.slash_command(
                world.alice, channel, "imagine", {"prompt": f"a fox in {guild.name}"}
            )
            assert (await ix.wait_response()).type == 5
            await world.discord.wait_for_message(
                channel, lambda m: world.is_post(m) and bool(m.components), timeout=5.0
            )

    assert world.discord.requests_matching("DELETE", LEAVE) == []
    assert not (stranger.guild.bot_left)
    assert not (later.bot_left)
    assert world.akool.calls["createbyprompt"] == 2
    (warning,) = warnings(caplog, "ALLOWED_GUILD_IDS is not set")
    assert "every server" in warning


async def grid_in(world: World, stranger: Stranger) -> FakeMessage:
    """A grid alice made in the second server while the bot still served every server."""
    async with world.running(discord_guild_id=None):
        ix = await world.discord.slash_command(
            world.alice, stranger.channel, "imagine", {"prompt": "a grey heron"}
        )
        assert (await ix.wait_response()).type == 5
        grid = await world.discord.wait_for_message(
            stranger.channel, lambda m: world.is_post(m) and bool(m.components), timeout=5.0
        )
        await ix.wait_original_edit(lambda m: "Done" in m.content)
    return grid


async def test_nothing_asked_from_an_unlisted_server_is_answered_or_reaches_akool(
    world: World, caplog: pytest.LogCaptureFixture
):
    stranger = add_stranger(world)
    grid = await grid_in(world, stranger)
    assert isinstance(grid.nonce, str)
    job_id = grid.nonce
    # The bot is still in the other server until its leave goes through: meanwhile, members
    # there press and type.
    leave = world.discord.hold_next("DELETE", LEAVE, after=False)
    async with world.running(discord_guild_id=None, allowed_guild_ids=frozenset({world.guild.id})):
        await leave.wait_reached()
        before = akool_calls(world)
        caplog.set_level(logging.INFO)

        imagine = await world.discord.slash_command(
            world.alice, stranger.channel, "imagine", {"prompt": "a blue whale"}
        )
        status = await world.discord.slash_command(
            world.alice, stranger.channel, "status", {"job_id": job_id}
        )
        choices = await world.discord.autocomplete(
            world.alice, stranger.channel, "status", {}, "job_id"
        )
        u1 = await world.discord.click(world.alice, grid, f"akool:v1:{job_id}:U1")
        reroll = await world.discord.click(world.alice, grid, f"akool:v1:{job_id}:{REROLL}")
        # A press no button of the bot takes (a forged custom_id).
        forged = await world.discord.send_interaction(
            3,
            world.alice,
            stranger.channel,
            {"custom_id": "forged", "component_type": 2},
            message=grid,
        )

        answers = [await private_answer(ix) for ix in (imagine, status, u1, reroll, forged)]
        assert answers == [NOT_AVAILABLE] * 5
        assert choices == []
        assert akool_calls(world) == before
        # Its own server is served all the while.
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a red fox"}
        )
        assert (await ix.wait_response()).type == 5
        await world.wait_for_post(lambda m: world.is_post(m) and bool(m.components))
        leave.release()
        await wait_left(world, stranger.guild)

    assert world.akool.calls["createbybutton"] == 0
    assert [r.body["prompt"] for r in world.akool.requests_to("createbyprompt")] == [
        "a grey heron",
        "a red fox",
    ]
    refusals = list(warnings(caplog, "not in ALLOWED_GUILD_IDS"))
    assert len([r for r in refusals if str(stranger.guild.id) in r]) >= 6
