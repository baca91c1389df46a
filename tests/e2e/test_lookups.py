"""Lookups wait their turn: a finished job is shown from the store, a member looks jobs up live
one at a time, and a flood of /status leaves deliveries as fast as without it."""

from __future__ import annotations

import asyncio
import re
import time

from bot.core import LOOKUP_SHARE, AkoolBot
from bot.lookups import BUSY, LOOKUP_COOLDOWN, LOOKUP_QUEUE, UNKNOWN_JOB
from bot.server_settings import ServerSettings
from tests.e2e.conftest import World
from tests.fakes.akool import Timeline
from tests.fakes.discord import FakeInteraction, FakeUser


def lookups_of(world: World, job_id: str) -> int:
    """How often AKOOL was asked about ``job_id``."""
    return sum(job_id in r.query.values() for r in world.akool.requests_to("infobymodelid"))


def unknown_id(n: int) -> str:
    """An id neither the bot nor AKOOL has seen."""
    return f"{n:024x}"


async def open_lookups(bot: AkoolBot, world: World) -> None:
    """Every member may look up ids the bot never stored (the flood needs no admins)."""
    await bot.store.save_server_settings(
        world.guild.id, ServerSettings(lookups_for_everyone=True), now=time.time()
    )


async def status_text(ix: FakeInteraction) -> str:
    first = await ix.wait_response()
    if first.type == 4:
        return first.content
    followup = await ix.wait_followup(timeout=15)
    return followup.content + (str(followup.embeds) if followup.embeds else "")


async def test_a_finished_job_is_shown_from_the_store(world: World):
    async with world.running():
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a quiet fox"}
        )
        await ix.wait_original_edit(lambda m: "Done" in m.content)
        (job_id,) = world.akool.jobs
        asked = lookups_of(world, job_id)
        # Twice in a row: a finished job is no live lookup, so no cooldown either.
        answers = []
        for _ in range(2):
            status = await world.discord.slash_command(
                world.alice, world.channel, "status", {"job_id": job_id}
            )
            answers.append(await status.wait_followup())

    assert lookups_of(world, job_id) == asked
    for shown in answers:
        assert shown.ephemeral
        assert "a quiet fox" in str(shown.embeds)
        assert world.custom_ids_of(shown) == [f"akool:v1:{job_id}:show"]


async def test_a_member_looks_jobs_up_live_one_at_a_time(world: World):
    world.akool.timeline = Timeline(processing_after=0, hold=True)
    async with world.running() as bot:
        await open_lookups(bot, world)
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a slow fox"}
        )
        await ix.wait_original_edit(lambda m: "job `" in m.content)
        (running,) = world.akool.jobs
        first = await world.discord.slash_command(
            world.alice, world.channel, "status", {"job_id": running}
        )
        live = await first.wait_followup()
        asked_at = time.time()
        again = {}
        for command in ("status", "track"):
            ix = await world.discord.slash_command(
                world.alice, world.channel, command, {"job_id": unknown_id(1)}
            )
            again[command] = await status_text(ix)
        other = await world.discord.slash_command(
            world.bob, world.channel, "status", {"job_id": unknown_id(1)}
        )
        bobs = await status_text(other)

    assert "a slow fox" in str(live.embeds)
    for command, text in again.items():
        match = re.fullmatch(r"You can look up another job <t:(\d+):R>\.", text)
        assert match, f"/{command} got {text!r}"
        assert asked_at - 1 <= int(match[1]) <= asked_at + LOOKUP_COOLDOWN + 1
    assert str(UNKNOWN_JOB) in bobs  # the cooldown is each member's own
    assert lookups_of(world, unknown_id(1)) == 1  # Bob's only


async def _deliveries(world: World, members: list[FakeUser], prompt: str) -> list[float]:
    """Each member's /imagine at once; the seconds from each command to its post."""

    async def one(member: FakeUser) -> float:
        wanted = f"{prompt} by {member.name}"
        started = time.monotonic()
        ix = await world.discord.slash_command(member, world.channel, "imagine", {"prompt": wanted})
        await ix.wait_original_edit(lambda m: "job `" in m.content, timeout=30)
        job_id = next(j for j, job in world.akool.jobs.items() if job.prompt == wanted)
        await world.wait_for_post(world.is_post_of(job_id), timeout=30)
        return time.monotonic() - started

    return list(await asyncio.gather(*(one(m) for m in members)))


async def test_a_status_flood_does_not_delay_deliveries(world: World):
    # The default budget: a flood on the whole of it would hold deliveries back some 12 s, far
    # beyond what a loaded machine's pauses (a few seconds) can add to either measurement.
    per_second = 5.0
    flood = [world.discord.add_user(name=f"flood{n}", guild=world.guild) for n in range(60)]
    async with world.running(akool_requests_per_second=per_second) as bot:
        await open_lookups(bot, world)
        quiet = await _deliveries(world, world.users[:3], "a calm fox")
        started = time.monotonic()
        lookups = await asyncio.gather(
            *(
                world.discord.slash_command(
                    member, world.channel, "status", {"job_id": unknown_id(n)}
                )
                for n, member in enumerate(flood)
            )
        )
        busy = await _deliveries(world, world.users[3:6], "a busy fox")
        answers = await asyncio.gather(*(status_text(ix) for ix in lookups))
        elapsed = time.monotonic() - started
        asked = sum(lookups_of(world, unknown_id(n)) for n in range(len(flood)))

    # Sharing the whole budget, the flood would hold polls and creates back by about
    # len(flood) / per_second seconds; with a share of its own, deliveries stay well within
    # half of that of their pace without it.
    allowance = len(flood) / per_second / 2
    assert max(busy) <= max(quiet) + allowance, (quiet, busy)
    # The flood itself: no faster than its share of the budget, and the rest told to retry.
    share = per_second * LOOKUP_SHARE
    assert asked <= share * elapsed + LOOKUP_QUEUE + 1, (asked, elapsed)
    assert sum(str(UNKNOWN_JOB) in a for a in answers) == asked
    assert sum(str(BUSY) in a for a in answers) == len(flood) - asked
