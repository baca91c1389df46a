"""Fair use end to end: per-member limits refuse privately before AKOOL is asked, and jobs say
where they stand in line."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.server_settings import ServerSettings
from tests.e2e.conftest import World
from tests.fakes.akool import Timeline
from tests.fakes.discord import FakeMessage


async def start(world: World, user, prompt: str) -> str:
    """Run /imagine and return the job id once its status message shows it."""
    before = set(world.akool.jobs)
    ix = await world.discord.slash_command(user, world.channel, "imagine", {"prompt": prompt})
    await ix.wait_original_edit(lambda m: "job `" in m.content)
    (job_id,) = set(world.akool.jobs) - before
    return job_id


async def test_the_active_limit_refuses_privately_and_frees_up(world: World):
    world.akool.timeline = Timeline(hold=True)
    async with world.running():
        jobs = [await start(world, world.alice, f"fox {n}") for n in range(3)]
        over = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "one too many"}
        )
        refusal = await over.wait_response()
        creates_at_refusal = world.akool.calls["createbyprompt"]
        # Someone else is not affected by alice's jobs.
        await start(world, world.bob, "bob's fox")
        # One finishing frees a place.
        world.akool.finish(jobs[0])
        await world.wait_for_post(world.is_post_of(jobs[0]))
        await start(world, world.alice, "now it fits")

    assert refusal.ephemeral
    assert "You have 3 unfinished jobs" in refusal.content
    assert "allows 3 at once" in refusal.content
    assert creates_at_refusal == 3
    assert world.akool.calls["createbyprompt"] == 5


async def test_a_press_counts_for_the_presser(world: World):
    async with world.running():
        grid_id = await start(world, world.alice, "a grid to press")
        grid = await world.wait_for_post(world.is_post_of(grid_id))
        world.akool.timeline = Timeline(hold=True)
        for n in range(3):
            await start(world, world.bob, f"bob {n}")
        press = await world.discord.click(world.bob, grid, f"akool:v1:{grid_id}:U1")
        refusal = await press.wait_response()

    assert refusal.ephemeral
    assert "You have 3 unfinished jobs" in refusal.content
    assert world.akool.calls["createbybutton"] == 0


async def test_the_daily_limit_says_when_it_frees_up(world: World):
    async with world.running() as bot:
        assert world.guild.id is not None
        await bot.store.save_server_settings(
            world.guild.id, ServerSettings().with_limits(active=None, daily=2), now=bot.clock()
        )
        for n in range(2):
            job_id = await start(world, world.alice, f"daily {n}")
            await world.wait_for_post(world.is_post_of(job_id))
        over = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "third today"}
        )
        refusal = await over.wait_response()

    assert refusal.ephemeral
    assert "started 2 jobs in the last 24 hours" in refusal.content
    assert "allows 2 a day" in refusal.content
    assert "frees up <t:" in refusal.content
    assert world.akool.calls["createbyprompt"] == 2


async def settle(ix) -> str:
    """'started' or 'refused', however the refusal came (before or after the defer)."""
    first = await ix.wait_response()
    if first.ephemeral:
        return "refused"
    final = await ix.wait_original_edit(
        lambda m: "job `" in m.content or "could not be started" in m.content
    )
    return "started" if "job `" in final.content else "refused"


async def test_commands_at_once_cannot_pass_the_limit_together(world: World):
    world.akool.timeline = Timeline(hold=True)
    async with world.running():
        commands = await asyncio.gather(
            *(
                world.discord.slash_command(
                    world.alice, world.channel, "imagine", {"prompt": f"rush {n}"}
                )
                for n in range(6)
            )
        )
        outcomes = [await settle(ix) for ix in commands]

    assert len(world.akool.jobs) == 3
    assert sorted(outcomes) == ["refused"] * 3 + ["started"] * 3


async def test_a_job_says_where_it_stands_in_line(world: World):
    world.akool.timeline = Timeline(hold=True)
    async with world.running():
        await start(world, world.alice, "first")
        await start(world, world.alice, "second")
        ix = await world.discord.slash_command(
            world.bob, world.channel, "imagine", {"prompt": "third"}
        )
        status = await ix.wait_original_edit(lambda m: "job `" in m.content)

    assert "#3 in line" in status.content


async def test_a_press_says_where_its_job_stands_in_line(world: World):
    async with world.running():
        grid_id = await start(world, world.alice, "grid")
        grid = await world.wait_for_post(world.is_post_of(grid_id))
        world.akool.timeline = Timeline(hold=True)
        await start(world, world.alice, "waiting one")
        press = await world.discord.click(world.bob, grid, f"akool:v1:{grid_id}:V1")
        await press.wait_response()
        announced = await world.wait_for_post(lambda m: "Variation V1" in m.content)

    assert "#2 in line" in announced.content


async def test_presses_at_once_cannot_pass_the_limit_together(world: World):
    """Six buttons of one grid pressed by one member at the same moment: only as many start as
    the active limit (3) allows, and the others are refused privately with no AKOOL call."""
    async with world.running():
        grid_id = await start(world, world.alice, "grid")
        grid = await world.wait_for_post(world.is_post_of(grid_id))
        world.akool.timeline = Timeline(hold=True)
        buttons = ["U1", "U2", "U3", "U4", "V1", "V2"]
        presses = await asyncio.gather(
            *(
                world.discord.click(world.bob, grid, f"akool:v1:{grid_id}:{button}")
                for button in buttons
            )
        )
        answers = [await press.wait_response(timeout=10) for press in presses]
        refused = [a for a in answers if a.ephemeral]
        for answer in refused:
            assert "unfinished" in str(answer.data), answer.data
        # The three that started are announced in the channel before the bot stops.
        await world.akool.wait_for_calls("createbybutton", 3, timeout=10)
        pressed = {r.body.get("button") for r in world.akool.requests_to("createbybutton")}
        announced = [
            await world.wait_for_post(_announces(f"{b} of `{grid_id}`"), timeout=10)
            for b in buttons
            if b in pressed
        ]

    assert len(refused) == 3
    assert len(announced) == 3
    assert len(world.akool.requests_to("createbybutton")) == 3


def _announces(what: str) -> Callable[[FakeMessage], bool]:
    return lambda message: what in message.content
