"""Credit caps end to end: the whole account's (CREDITS_PER_DAY) over every server, each
server's (SERVER_CREDITS_PER_DAY, or lower by its admins); a job that would pass one is refused
privately, naming the cap and when it frees up, before AKOOL is asked anything."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import discord
import pytest

from bot.policy import DAY
from tests.e2e.conftest import World
from tests.fakes.akool import Timeline
from tests.fakes.discord import (
    FakeChannel,
    FakeGuild,
    FakeInteraction,
    FakeMessage,
    FakeUser,
    InteractionCallback,
)
from tests.postgres import postgres_schema

ACCOUNT_CAP = "the daily credit cap the bot's operator set for the whole AKOOL account"
SERVER_CAP = "this server's daily credit cap"
PAID = ("createbyprompt", "createbybutton")


@dataclass
class Neighbour:
    """A second server the bot serves, with a member of its own."""

    guild: FakeGuild
    channel: FakeChannel
    dana: FakeUser


def add_neighbour(world: World) -> Neighbour:
    guild = world.discord.add_guild(name="Paint Club")
    channel = world.discord.add_channel(guild, name="paint")
    dana = world.discord.add_user(name="dana", guild=guild)
    return Neighbour(guild, channel, dana)


def paid_calls(world: World) -> int:
    return sum(world.akool.calls[endpoint] for endpoint in PAID)


async def start(world: World, user: FakeUser, prompt: str, channel: FakeChannel | None = None):
    """/imagine, and the id of the job it started once its status message shows it."""
    before = set(world.akool.jobs)
    ix = await world.discord.slash_command(
        user, channel or world.channel, "imagine", {"prompt": prompt}
    )
    await ix.wait_original_edit(lambda m: "job `" in m.content)
    (job_id,) = set(world.akool.jobs) - before
    return job_id


async def refused(
    world: World, user: FakeUser, prompt: str, channel: FakeChannel | None = None
) -> InteractionCallback:
    """/imagine answered privately at once (a refusal), with no paid AKOOL call."""
    calls = paid_calls(world)
    ix = await world.discord.slash_command(
        user, channel or world.channel, "imagine", {"prompt": prompt}
    )
    answer = await ix.wait_response()
    assert answer.type == 4, f"answered with callback type {answer.type}: {answer.data}"
    assert answer.ephemeral, answer.content
    assert paid_calls(world) == calls
    return answer


async def created_at(world: World, job_id: str) -> float:
    assert world.runtime is not None
    job = await world.runtime.bot.store.get_job(job_id)
    assert job is not None
    return job.created_at


async def test_the_account_cap_holds_over_every_server(world: World):
    paint = add_neighbour(world)
    async with world.running(discord_guild_id=None, credits_per_day=4):
        first = await start(world, world.alice, "fox one")
        await start(world, paint.dana, "paint one", paint.channel)
        here = await refused(world, world.bob, "fox two")
        there = await refused(world, paint.dana, "paint two", paint.channel)
        frees = await created_at(world, first)

    for answer in (here, there):
        assert ACCOUNT_CAP in answer.content
        assert "of 4 credits: 4 were spent in the last 24 hours" in answer.content
        assert "expected to cost 2" in answer.content
        # Two credits must age out: the first job's, a day after it was made.
        assert f"Enough frees up <t:{int(frees + DAY)}:R>." in answer.content
    assert paid_calls(world) == 2


async def test_a_server_cap_leaves_other_servers_working(world: World):
    paint = add_neighbour(world)
    async with world.running(discord_guild_id=None, server_credits_per_day=2):
        first = await start(world, world.alice, "fox one")
        over = await refused(world, world.alice, "fox two")
        await start(world, paint.dana, "paint one", paint.channel)
        frees = await created_at(world, first)

    assert SERVER_CAP in over.content
    assert ACCOUNT_CAP not in over.content
    assert "of 2 credits: 2 were spent" in over.content
    assert f"Enough frees up <t:{int(frees + DAY)}:R>." in over.content
    assert paid_calls(world) == 2


@pytest.fixture
def admin(world: World) -> FakeUser:
    return world.discord.add_user(
        name="admin", guild=world.guild, permissions=discord.Permissions(manage_guild=True)
    )


async def settings_command(
    world: World, user: FakeUser, sub: str, options: dict[str, Any] | None = None
) -> InteractionCallback:
    ix = await world.discord.slash_command(user, world.channel, f"settings {sub}", options)
    return await ix.wait_response()


def field(answer: InteractionCallback | FakeMessage, name_starts: str) -> str:
    embeds = answer.embeds if isinstance(answer, FakeMessage) else (answer.data or {})["embeds"]
    (embed,) = embeds
    (value,) = [f["value"] for f in embed["fields"] if f["name"].startswith(name_starts)]
    return str(value)


async def test_admins_may_lower_the_server_cap_but_never_raise_it(world: World, admin: FakeUser):
    async with world.running(server_credits_per_day=10):
        before = await settings_command(world, admin, "show")
        lowered = await settings_command(world, admin, "limits", {"credits": 4})
        raised = await settings_command(world, admin, "limits", {"credits": 11})
        shown = await settings_command(world, admin, "show")
        await start(world, world.alice, "fox one")
        await start(world, world.bob, "fox two")
        over = await refused(world, world.alice, "fox three")

    assert field(before, "Credits the server") == (
        "10 in 24 hours (the operator's cap for every server)"
    )
    assert lowered.ephemeral
    assert field(lowered, "Credits the server") == "4 in 24 hours (the operator allows up to 10)"
    assert raised.ephemeral
    assert raised.type == 4
    assert "operator caps every server at 10 credits a day" in raised.content
    assert field(shown, "Credits the server") == "4 in 24 hours (the operator allows up to 10)"
    assert f"{SERVER_CAP} of 4 credits" in over.content
    assert paid_calls(world) == 2


async def test_without_an_operator_cap_admins_set_any_cap_and_clear_it(
    world: World, admin: FakeUser
):
    async with world.running():
        high = await settings_command(world, admin, "limits", {"credits": 50_000})
        cleared = await settings_command(world, admin, "limits", {"credits": 0})

    assert field(high, "Credits the server") == "50,000 in 24 hours"
    assert field(cleared, "Credits the server") == "No limit"


async def test_an_unfinished_jobs_expected_cost_is_held(world: World):
    """AKOOL reports a job's credits only once it finishes: until then it holds its expected
    cost (AKOOL's documented 2), so a second job cannot start under a cap of 3."""
    world.akool.credits_when_finished = True
    world.akool.timeline = Timeline(hold=True)
    async with world.running(credits_per_day=3):
        first = await start(world, world.alice, "still drawing")
        over = await refused(world, world.bob, "one more")
        # Once it finishes and costs 1, there is room.
        world.akool.jobs[first].credits = 1
        world.akool.finish(first)
        await world.wait_for_post(world.is_post_of(first))
        await start(world, world.bob, "now it fits")

    assert "0 were spent in the last 24 hours and 2 held by unfinished jobs" in over.content
    assert "Unfinished jobs hold part of it: it frees up as they finish" in over.content
    assert paid_calls(world) == 2


async def test_the_median_of_recent_jobs_is_the_expected_cost(world: World):
    """Grids that cost 1, 1 and 7 make the next one expected to cost 1: not AKOOL's documented
    2, nor their mean of 3, either of which would pass the cap of 10."""
    world.akool.next_credits.extend([1, 1, 7, 1])
    async with world.running(credits_per_day=10):
        for n in range(3):
            job_id = await start(world, world.alice, f"fox {n}")
            await world.wait_for_post(world.is_post_of(job_id))
        await start(world, world.bob, "fits at 1")
        over = await refused(world, world.bob, "does not")

    assert "10 were spent in the last 24 hours, and this job is expected to cost 1" in over.content
    assert paid_calls(world) == 4


async def answer_of(ix: FakeInteraction) -> str:
    """'started' or 'refused': a private refusal, or a job that AKOOL was asked for."""
    first = await ix.wait_response(timeout=10)
    if first.ephemeral and first.type == 4:
        return "refused"
    if first.type == 5:  # /imagine deferred: its answer is the edit
        final = await ix.wait_original_edit(
            lambda m: "job `" in m.content or "could not be started" in m.content, timeout=10
        )
        return "started" if "job `" in final.content else "refused"
    return "started"  # a press deferred: it was written down within the cap


@contextlib.asynccontextmanager
async def database(backend: str) -> AsyncIterator[dict[str, Any]]:
    """The world's own SQLite file, or a fresh PostgreSQL schema."""
    if backend == "sqlite":
        yield {}
        return
    async with postgres_schema() as url:
        yield {"database_url": url}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_creates_and_presses_at_once_cannot_pass_a_cap_together(world: World, backend: str):
    """A grid spent 2 of a cap of 8: of three creates and four presses at the same moment, by
    seven members (so no member limit is near), exactly three start."""
    async with database(backend) as store, world.running(credits_per_day=8, **store):
        grid_id = await start(world, world.alice, "grid")
        grid = await world.wait_for_post(world.is_post_of(grid_id))
        world.akool.timeline = Timeline(hold=True)
        members = world.users[:7]
        creates = [
            world.discord.slash_command(m, world.channel, "imagine", {"prompt": f"rush {n}"})
            for n, m in enumerate(members[:3])
        ]
        presses = [
            world.discord.click(m, grid, f"akool:v1:{grid_id}:{b}")
            for m, b in zip(members[3:], ["U1", "U2", "V1", "V2"], strict=True)
        ]
        calls = Counter(world.akool.calls)
        interactions = await asyncio.gather(*creates, *presses)
        outcomes = [await answer_of(ix) for ix in interactions]
        started = outcomes.count("started")
        # A press that started was acknowledged before AKOOL was asked: wait for its call.
        await world.akool.wait_until(
            lambda: sum((Counter(world.akool.calls) - calls)[e] for e in PAID) >= started, 10
        )
        made = Counter(world.akool.calls) - calls

    assert sorted(outcomes) == ["refused"] * 4 + ["started"] * 3
    assert made["createbyprompt"] + made["createbybutton"] == 3


async def usage(world: World, user: FakeUser) -> FakeMessage:
    ix = await world.discord.slash_command(user, world.channel, "usage")
    return await ix.wait_followup()


async def test_usage_shows_spending_against_the_caps(world: World, admin: FakeUser):
    """The server's admins see their server against its cap; the whole account's line is the
    operator's alone."""
    paint = add_neighbour(world)
    world.akool.credits_when_finished = True
    world.akool.timeline = Timeline(hold=True)
    async with world.running(discord_guild_id=None, credits_per_day=100, server_credits_per_day=30):
        await settings_command(world, admin, "limits", {"credits": 20})
        held = await start(world, world.alice, "unfinished")
        world.akool.credits_when_finished = False
        await start(world, world.bob, "reported at once")
        await start(world, paint.dana, "elsewhere", paint.channel)
        for_admin = await usage(world, admin)
        for_owner = await usage(world, world.discord.owner)
        assert held in world.akool.jobs

    assert field(for_admin, "Daily credit caps").splitlines() == [
        "This server: 2 spent + 2 held by unfinished jobs of a daily cap of 20 (16 left)"
    ]
    assert field(for_owner, "Daily credit caps").splitlines() == [
        "This server: 2 spent + 2 held by unfinished jobs of a daily cap of 20 (16 left)",
        "The whole AKOOL account: 4 spent + 2 held by unfinished jobs of a daily cap of 100 "
        "(94 left)",
    ]
