"""v4 credits end to end: a v4 order of n images holds n images' expected cost against the credit
caps before AKOOL is asked anything, and /usage and /history count what each image cost; against
the member's limits a batch is one job."""

from __future__ import annotations

from typing import Any

import discord

from tests.e2e.conftest import World
from tests.e2e.test_history import open_history
from tests.e2e.test_v4_lookups import finished_batch
from tests.fakes.akool import Timeline
from tests.fakes.discord import FakeUser, InteractionCallback

CREATES = ("createBySourcePrompt", "createbyprompt")


def creates(world: World) -> int:
    return sum(world.akool.calls[endpoint] for endpoint in CREATES)


def admin_of(world: World) -> FakeUser:
    return world.discord.add_user(
        name="admin", guild=world.guild, permissions=discord.Permissions(manage_guild=True)
    )


async def order(world: World, user: FakeUser, count: int, prompt: str) -> str:
    """/imagine of ``count`` v4 images; the lead's id once its status message shows it."""
    ix = await world.discord.slash_command(
        user, world.channel, "imagine", {"prompt": prompt, "count": count}
    )
    started = await ix.wait_original_edit(lambda m: "job `" in m.content)
    return started.content.split("job `")[1].split("`")[0]


async def refused(world: World, user: FakeUser, count: int, prompt: str) -> InteractionCallback:
    """/imagine of ``count`` images answered privately at once, with no create at AKOOL."""
    before = creates(world)
    ix = await world.discord.slash_command(
        user, world.channel, "imagine", {"prompt": prompt, "count": count}
    )
    answer = await ix.wait_response()
    assert answer.type == 4, f"answered with callback type {answer.type}: {answer.data}"
    assert answer.ephemeral, answer.content
    assert creates(world) == before
    return answer


def field(embed: dict[str, Any], prefix: str) -> str:
    (value,) = [f["value"] for f in embed["fields"] if f["name"].startswith(prefix)]
    return str(value)


async def test_a_cap_holds_the_expected_cost_of_every_image_of_a_v4_order(world: World):
    """Room for 3 credits: four images at AKOOL's documented 1 each do not fit, three do, and
    once those three are spent not even one more does. (With v4 set, since in auto a count of 4
    and nothing else only v4 has is the v3 grid.)"""
    async with world.running(akool_create_api="v4", server_credits_per_day=3):
        four = await refused(world, world.alice, 4, "four foxes")
        assert world.akool.calls["createBySourcePrompt"] == 0
        await order(world, world.alice, 3, "three foxes")
        one = await refused(world, world.bob, 1, "one more fox")

    assert "this server's daily credit cap of 3 credits" in four.content
    assert "0 were spent in the last 24 hours, and this job is expected to cost 4" in four.content
    assert "A job like this is expected to cost more than the whole cap." in four.content
    (made,) = world.akool.requests_to("createBySourcePrompt")
    assert made.body["batch_quantity"] == 3
    assert "3 were spent in the last 24 hours, and this job is expected to cost 1" in one.content
    assert world.akool.calls["createbyprompt"] == 0


async def test_usage_and_history_count_every_image_of_a_batch(world: World):
    admin = admin_of(world)
    async with world.running(akool_create_api="v4") as bot:
        lead = await order(world, world.alice, 3, "three foxes")
        await finished_batch(bot, lead, 3)
        usage = await world.discord.slash_command(admin, world.channel, "usage")
        spent = (await usage.wait_followup()).embeds[0]
        listed = (await open_history(world, world.alice)).embeds[0]

    for window in ("Last 24 hours", "Last 7 days", "All time"):
        assert field(spent, window) == "3"
    assert field(spent, "By member") == f"<@{world.alice.id}>: 3 · 3 · 3"
    assert field(spent, "Daily credit caps") == "This server: 3 spent, no daily cap"
    # One line for the batch, by its lead, with the credits of all three images.
    (line,) = listed["description"].split("\n\n")
    assert "three foxes" in line
    assert "3 images · 3 credits" in line
    assert f"`{lead}`" in line
    assert listed["footer"]["text"] == "Page 1 of 1 · 1 job, newest first"


async def test_an_unfinished_batch_is_one_job_against_the_active_limit(world: World):
    """Three unfinished jobs at once (the default): a batch of four still at AKOOL is one."""
    world.akool.timeline = Timeline(hold=True)
    async with world.running(akool_create_api="v4"):
        await order(world, world.alice, 4, "four foxes")
        await order(world, world.alice, 4, "four owls")
        await order(world, world.alice, 1, "one hare")
        over = await refused(world, world.alice, 1, "one more")

    assert "3 unfinished jobs" in over.content
    assert world.akool.calls["createBySourcePrompt"] == 3
