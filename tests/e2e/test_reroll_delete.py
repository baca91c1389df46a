"""🔄 and 🗑️ end to end: a re-roll is a new grid for the presser; a post is deleted only by its
requester or a member who can manage messages."""

from __future__ import annotations

import asyncio

import discord

from bot.core import AkoolBot
from bot.server_settings import ServerSettings
from bot.store import Job
from tests.e2e.conftest import World, pinged, replied_to
from tests.fakes.akool import Timeline
from tests.fakes.discord import (
    FakeAttachment,
    FakeInteraction,
    FakeMessage,
    FakeUser,
    RecordedRequest,
)
from tests.fakes.png import make_png


def custom_id(job_id: str, action: str) -> str:
    return f"akool:v1:{job_id}:{action}"


def layout(job_id: str, message: FakeMessage) -> list[list[str]]:
    """The actions of a post's buttons, row by row."""
    prefix = custom_id(job_id, "")
    return [
        [c["custom_id"].removeprefix(prefix) for c in row["components"]]
        for row in message.components
    ]


async def post_grid(world: World, options: dict[str, str] | None = None, **kwargs) -> FakeMessage:
    ix = await world.discord.slash_command(
        world.alice, world.channel, "imagine", options or {"prompt": "a red fox"}, **kwargs
    )
    await ix.wait_response()
    grid = await world.wait_for_post(lambda m: world.is_post(m) and bool(m.components))
    # The status message says Done once the post is recorded as delivered.
    await ix.wait_original_edit(lambda m: "Done" in m.content)
    return grid


def first_content(message: FakeMessage) -> str:
    """What a message said when it was created (the status message is edited later)."""
    return str(message.edits[0].previous["content"]) if message.edits else message.content


async def stored(bot: AkoolBot, job_id: str) -> Job:
    job = await bot.store.get_job(job_id)
    assert job is not None
    return job


def but_the_source(body: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in body.items() if key != "source_image"}


def kept_source(world: World, grid: Job) -> FakeAttachment:
    """The member's source image as the grid's status message keeps it."""
    assert grid.status_message_id is not None
    (attachment,) = world.discord.all_messages[grid.status_message_id].attachments
    return attachment


async def wait_deleted(world: World, message: FakeMessage) -> None:
    await world.discord.feed.wait_for(
        lambda: True if message.deleted else None, 5.0, f"deletion of message {message.id}"
    )


def deletes_of(world: World, message: FakeMessage) -> list[RecordedRequest]:
    return world.discord.requests_matching(
        "DELETE", rf"^/channels/{message.channel_id}/messages/{message.id}$"
    )


async def press_delete(world: World, user: FakeUser, post: FakeMessage) -> FakeInteraction:
    assert isinstance(post.nonce, str)
    return await world.discord.click(user, post, custom_id(post.nonce, "delete"))


async def test_a_grid_has_u1_to_u4_reroll_then_v1_to_v4_delete(world: World):
    async with world.running():
        grid = await post_grid(world)
        grid_id = str(grid.nonce)
        press = await world.discord.click(world.bob, grid, custom_id(grid_id, "U1"))
        await world.wait_for_post(lambda m: "Upscale U1" in m.content)
        (child_id,) = [j for j in world.akool.jobs if j != grid_id]
        upscale = await world.wait_for_post(world.is_post_of(child_id))

    assert (await press.wait_response()).type == 6
    assert layout(grid_id, grid) == [
        ["U1", "U2", "U3", "U4", "reroll"],
        ["V1", "V2", "V3", "V4", "delete"],
    ]
    reroll, delete = (
        world.discord.button(grid, custom_id(grid_id, a)) for a in ("reroll", "delete")
    )
    assert reroll["emoji"]["name"] == "🔄"
    assert delete["emoji"]["name"] == "🗑️"
    # 🔄 stays live after a U press: unlike U/V it can be used again and again.
    assert not reroll.get("disabled", False)
    # An upscale offers no U/V at AKOOL, so nothing to re-roll: only 🗑️.
    assert layout(child_id, upscale) == [["delete"]]


async def test_another_member_rerolls_a_grid(world: World):
    options = {"prompt": "a red fox in snow", "aspect": "16:9"}
    image = {"image": ("fox.png", make_png(8, 8, "fox"))}
    async with world.running() as bot:
        grid = await post_grid(world, options, attachments=image)
        grid_id = str(grid.nonce)
        ix = await world.discord.click(world.bob, grid, custom_id(grid_id, "reroll"))
        ack = await ix.wait_response()
        announced = await world.wait_for_post(lambda m: "Re-roll" in m.content)
        (child_id,) = [j for j in world.akool.jobs if j != grid_id]
        child_post = await world.wait_for_post(world.is_post_of(child_id))
        done = await world.discord.wait_for_edit(announced, lambda m: "Done" in m.content)
        child = await stored(bot, child_id)
        source = kept_source(world, await stored(bot, grid_id))

    assert ack.type == 6  # deferred, within Discord's 3 seconds; nothing private to say
    assert ack.elapsed < 3.0
    first, again = world.akool.requests_to("createbyprompt")
    assert but_the_source(again.body) == but_the_source(first.body)
    assert first.body["prompt"] == "a red fox in snow"
    assert first.body["scale"] == "16:9"
    assert first.body["source_image"].startswith("http://127.0.0.1:")
    # The re-roll starts from the copy the grid's status message keeps, the same picture.
    assert f"/{source.id}/" in again.body["source_image"]
    assert source.data == make_png(8, 8, "fox")
    assert world.akool.calls["createbybutton"] == 0
    # Credited to the presser; the announcement is the new job's status message.
    assert child.requester_id == world.bob.id
    assert child.parent_akool_id == grid_id
    assert child.status_message_id == announced.id == done.id
    assert first_content(announced).startswith(
        f"⏳ Queued: 🔄 Re-roll of **a red fox in snow** for <@{world.bob.id}>"
    )
    assert child_id in announced.content
    assert pinged(announced) == [world.bob.id]
    assert replied_to(announced) == grid.id
    # The result: a reply to the grid that pings the presser, a grid with buttons of its own.
    assert replied_to(child_post) == grid.id
    assert world.bob.id in pinged(child_post)
    assert f"Re-roll by <@{world.bob.id}>" in child_post.content
    assert child_post.attachments[0].data == world.akool.png(child_id)
    assert layout(child_id, child_post)[0][-1] == "reroll"
    assert len(world.posts_for(child_id)) == 1


async def test_a_reroll_of_a_variation_keeps_the_first_grids_source_image(world: World):
    options = {"prompt": "make it blue", "aspect": "4:3"}
    image = {"image": ("cat.png", make_png(8, 8, "cat"))}
    async with world.running() as bot:
        grid = await post_grid(world, options, attachments=image)
        grid_id = str(grid.nonce)
        await world.discord.click(world.bob, grid, custom_id(grid_id, "V3"))
        await world.wait_for_post(lambda m: "Variation V3" in m.content)
        (variation_id,) = [j for j in world.akool.jobs if j != grid_id]
        variation = await world.wait_for_post(world.is_post_of(variation_id))
        await world.discord.click(world.alice, variation, custom_id(variation_id, "reroll"))
        await world.wait_for_post(lambda m: "Re-roll of" in m.content)
        (child_id,) = [j for j in world.akool.jobs if j not in (grid_id, variation_id)]
        child_post = await world.wait_for_post(world.is_post_of(child_id))
        child = await stored(bot, child_id)
        source = kept_source(world, await stored(bot, grid_id))

    first, again = world.akool.requests_to("createbyprompt")
    assert but_the_source(again.body) == but_the_source(first.body)
    assert first.body["source_image"].startswith("http://127.0.0.1:")
    assert f"/{source.id}/" in again.body["source_image"]
    # Credited to alice, and a reply to the variation grid it was pressed on.
    assert child.requester_id == world.alice.id
    assert child.parent_akool_id == variation_id
    assert replied_to(child_post) == variation.id


async def test_pressing_reroll_twice_starts_two_jobs(world: World):
    async with world.running() as bot:
        grid = await post_grid(world)
        grid_id = str(grid.nonce)
        presses = await asyncio.gather(
            *(world.discord.click(world.bob, grid, custom_id(grid_id, "reroll")) for _ in range(2))
        )
        for press in presses:
            await press.wait_response()
        await world.akool.wait_for_calls("createbyprompt", 3)
        children = [j for j in world.akool.jobs if j != grid_id]
        posts = [await world.wait_for_post(world.is_post_of(j)) for j in children]
        jobs = [await stored(bot, j) for j in children]

    assert world.akool.calls["createbyprompt"] == 3
    assert len(children) == 2
    assert {j.requester_id for j in jobs} == {world.bob.id}
    assert {j.parent_akool_id for j in jobs} == {grid_id}
    assert [replied_to(p) for p in posts] == [grid.id, grid.id]
    announcements = [m for m in world.discord.messages(world.channel) if "Re-roll of" in m.content]
    assert sorted(j.status_message_id or 0 for j in jobs) == sorted(m.id for m in announcements)


async def test_a_reroll_over_the_limit_is_refused_privately(world: World):
    async with world.running():
        grid = await post_grid(world)
        grid_id = str(grid.nonce)
        world.akool.timeline = Timeline(hold=True)
        for n in range(3):  # the default limit is 3 unfinished jobs
            ix = await world.discord.slash_command(
                world.bob, world.channel, "imagine", {"prompt": f"bob {n}"}
            )
            await ix.wait_original_edit(lambda m: "job `" in m.content)
        press = await world.discord.click(world.bob, grid, custom_id(grid_id, "reroll"))
        refusal = await press.wait_response()

    assert refusal.type == 4  # said at once, not deferred
    assert refusal.ephemeral
    assert "You have 3 unfinished jobs" in refusal.content
    assert world.akool.calls["createbyprompt"] == 4  # alice's grid and bob's three
    assert not [m for m in world.discord.messages(world.channel) if "Re-roll" in m.content]


async def settings_command(
    world: World, bot: AkoolBot, sub: str, options: dict[str, str]
) -> ServerSettings:
    """An admin's ``/settings sub``; the server's settings once it is answered."""
    admin = world.discord.add_user(
        "admin", guild=world.guild, permissions=discord.Permissions(manage_guild=True)
    )
    ix = await world.discord.slash_command(admin, world.channel, f"settings {sub}", options)
    await ix.wait_response()
    assert world.guild.id is not None
    return await bot.store.server_settings(world.guild.id)


async def test_a_reroll_after_its_prompt_word_was_banned_is_refused_privately(world: World):
    async with world.running() as bot:
        grid = await post_grid(world, {"prompt": "a red fox"})
        grid_id = str(grid.nonce)
        settings = await settings_command(world, bot, "banned-word add", {"word": "fox"})
        press = await world.discord.click(world.bob, grid, custom_id(grid_id, "reroll"))
        refusal = await press.wait_response()
        own = await world.discord.click(world.alice, grid, custom_id(grid_id, "reroll"))
        own_refusal = await own.wait_response()

    assert settings.banned_words == ("fox",)
    for answer in (refusal, own_refusal):
        assert answer.type == 4  # said at once, not deferred
        assert answer.ephemeral
        assert "“fox”" in answer.content
    assert world.akool.calls["createbyprompt"] == 1  # the grid itself, before the ban
    assert not [m for m in world.discord.messages(world.channel) if "Re-roll" in m.content]


async def test_a_reroll_by_another_member_is_refused_when_buttons_are_the_requesters(
    world: World,
):
    async with world.running() as bot:
        grid = await post_grid(world)
        grid_id = str(grid.nonce)
        settings = await settings_command(world, bot, "buttons", {"who": "requester"})
        press = await world.discord.click(world.bob, grid, custom_id(grid_id, "reroll"))
        refusal = await press.wait_response()
        calls = dict(world.akool.calls)
        own = await world.discord.click(world.alice, grid, custom_id(grid_id, "reroll"))
        await world.wait_for_post(lambda m: "Re-roll of" in m.content)

    assert not settings.buttons_for_everyone
    assert refusal.type == 4
    assert refusal.ephemeral
    assert f"only <@{world.alice.id}>" in refusal.content
    assert (calls["createbyprompt"], calls.get("createbybutton", 0)) == (1, 0)
    assert (await own.wait_response()).type == 6
    assert world.akool.calls["createbyprompt"] == 2  # the requester's own re-roll


async def test_the_requester_deletes_the_post_and_nothing_breaks(world: World):
    async with world.running() as bot:
        grid = await post_grid(world)
        grid_id = str(grid.nonce)
        # Bob's upscale is still running when alice deletes the grid it will reply to.
        world.akool.next_timelines.append(Timeline(processing_after=0, hold=True))
        press = await world.discord.click(world.bob, grid, custom_id(grid_id, "U2"))
        await world.wait_for_post(lambda m: "Upscale U2" in m.content)
        (child_id,) = [j for j in world.akool.jobs if j != grid_id]
        delete = await press_delete(world, world.alice, grid)
        await wait_deleted(world, grid)
        note = await delete.wait_followup()
        world.akool.finish(child_id)
        child_post = await world.wait_for_post(world.is_post_of(child_id))
        # The job can still be looked up, and posted again with live buttons.
        status = await world.discord.slash_command(
            world.alice, world.channel, "status", {"job_id": grid_id}
        )
        shown = await status.wait_followup()
        show = await world.discord.click(world.alice, shown, custom_id(grid_id, "show"))
        await show.wait_followup(lambda m: "Posted" in m.content)
        repost = await world.wait_for_post(
            lambda m: m.id != grid.id and custom_id(grid_id, "delete") in world.custom_ids_of(m)
        )
        grid_job = await stored(bot, grid_id)

    assert (await press.wait_response()).type == 6
    assert (await delete.wait_response()).type == 6
    assert len(deletes_of(world, grid)) == 1
    assert grid not in world.discord.messages(world.channel)
    assert note.ephemeral
    assert "Deleted." in note.content
    assert f"/status {grid_id}" in note.content
    # The upscale of the deleted grid is still posted, once.
    assert len(world.posts_for(child_id)) == 1
    assert "Upscaled (U2)" in child_post.content
    assert pinged(child_post) == [world.bob.id, world.alice.id]
    field = {f["name"]: f["value"] for f in shown.embeds[0]["fields"]}["Result"]
    assert str(grid.id) in field  # links the deleted post: harmless
    assert grid_job.result_message_id == grid.id
    assert layout(grid_id, repost) == [
        ["U1", "U2", "U3", "U4", "reroll"],
        ["V1", "V2", "V3", "V4", "delete"],
    ]
    assert world.discord.button(repost, custom_id(grid_id, "U2"))["disabled"] is True


async def test_a_member_who_can_manage_messages_deletes_any_post(world: World):
    moderator = world.discord.add_user(
        "moderator", guild=world.guild, permissions=discord.Permissions(manage_messages=True)
    )
    async with world.running():
        grid = await post_grid(world)
        delete = await press_delete(world, moderator, grid)
        await wait_deleted(world, grid)
        note = await delete.wait_followup()

    assert len(deletes_of(world, grid)) == 1
    assert note.ephemeral
    assert "Deleted." in note.content


async def test_anyone_else_is_refused_and_the_post_stays(world: World):
    async with world.running():
        grid = await post_grid(world)
        grid_id = str(grid.nonce)
        # Bob's own upscale is his to delete, but alice's grid is not.
        await world.discord.click(world.bob, grid, custom_id(grid_id, "U1"))
        await world.wait_for_post(lambda m: "Upscale U1" in m.content)
        (child_id,) = [j for j in world.akool.jobs if j != grid_id]
        upscale = await world.wait_for_post(world.is_post_of(child_id))
        refused = await press_delete(world, world.bob, grid)
        refusal = await refused.wait_response()
        alice_refused = await press_delete(world, world.alice, upscale)
        alice_refusal = await alice_refused.wait_response()
        own = await press_delete(world, world.bob, upscale)
        await wait_deleted(world, upscale)

    for answer in (refusal, alice_refusal):
        assert answer.type == 4
        assert answer.ephemeral
        assert "may delete it" in answer.content
    assert f"<@{world.alice.id}>" in refusal.content
    assert f"<@{world.bob.id}>" in alice_refusal.content
    assert not grid.deleted
    assert deletes_of(world, grid) == []
    assert grid in world.discord.messages(world.channel)
    assert (await own.wait_response()).type == 6
    assert len(deletes_of(world, upscale)) == 1


async def test_reroll_and_delete_work_after_a_restart(world: World):
    async with world.running():
        grid = await post_grid(world)
    grid_id = str(grid.nonce)

    async with world.running() as bot:
        press = await world.discord.click(world.bob, grid, custom_id(grid_id, "reroll"))
        await world.wait_for_post(lambda m: "Re-roll of" in m.content)
        (child_id,) = [j for j in world.akool.jobs if j != grid_id]
        child_post = await world.wait_for_post(world.is_post_of(child_id))
        delete = await press_delete(world, world.alice, grid)
        await wait_deleted(world, grid)
        child = await stored(bot, child_id)

    assert (await press.wait_response()).type == 6
    assert child.requester_id == world.bob.id
    assert replied_to(child_post) == grid.id
    assert (await delete.wait_response()).type == 6
    assert len(deletes_of(world, grid)) == 1
    assert len(world.posts_for(grid_id)) == 0
    assert len(world.posts_for(child_id)) == 1
