"""Images that outlive their links, end to end: a press a month later still finds its image.

AKOOL's result links die after 7 days and Discord's attachment links are signed and expire (a
slash command's attachment is on no message, so its link can never be renewed). The fake Discord
signs and expires its links and the fake AKOOL deletes results after 7 days and downloads a
create's source image itself, so only a link Discord has just given works.
"""

from __future__ import annotations

import aiohttp

from bot.core import AkoolBot
from bot.kept_images import SOURCE_GONE
from bot.notifier import RESULT_GONE
from bot.store import ImageRole, Job
from tests.clock import DAY
from tests.e2e.conftest import World, replied_to
from tests.fakes.akool import SourceFetch
from tests.fakes.discord import FakeInteraction, FakeMessage
from tests.fakes.png import make_png

FOX = make_png(8, 8, "fox")


def custom_id(job_id: str, action: str) -> str:
    return f"akool:v1:{job_id}:{action}"


async def stored(bot: AkoolBot, job_id: str) -> Job:
    job = await bot.store.get_job(job_id)
    assert job is not None
    return job


async def image_to_image_grid(world: World) -> tuple[FakeMessage, FakeMessage]:
    """A grid made with /imagine from a member's image: its post and its status message."""
    ix = await world.discord.slash_command(
        world.alice,
        world.channel,
        "imagine",
        {"prompt": "a red fox in snow"},
        attachments={"image": ("fox.png", FOX)},
    )
    grid = await world.wait_for_post(lambda m: world.is_post(m) and bool(m.components))
    status = await ix.wait_original_edit(lambda m: "Done" in m.content)
    return grid, status


async def text_grid(world: World) -> FakeMessage:
    ix = await world.discord.slash_command(
        world.alice, world.channel, "imagine", {"prompt": "an old fox"}
    )
    grid = await world.wait_for_post(lambda m: world.is_post(m) and bool(m.components))
    await ix.wait_original_edit(lambda m: "Done" in m.content)
    return grid


async def served(url: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status


def is_repost(world: World, message: FakeMessage, job_id: str, *before: FakeMessage) -> bool:
    """A post of ``job_id`` with its buttons, other than those ``before``."""
    fresh = message.id not in {m.id for m in before}
    return fresh and custom_id(job_id, "U1") in world.custom_ids_of(message)


async def post_here(world: World, job_id: str) -> FakeInteraction:
    """/status of ``job_id``, then its Post here button; the press."""
    status = await world.discord.slash_command(
        world.alice, world.channel, "status", {"job_id": job_id}
    )
    shown = await status.wait_followup()
    return await world.discord.click(world.alice, shown, custom_id(job_id, "show"))


async def test_a_reroll_a_month_later_starts_from_the_image_the_status_message_keeps(
    world: World,
):
    async with world.running() as bot:
        grid, status = await image_to_image_grid(world)
        grid_id = str(grid.nonce)
        (first,) = world.akool.requests_to("createbyprompt")
        command_link = first.body["source_image"]
        world.clock.advance(31 * DAY)
        press = await world.discord.click(world.bob, grid, custom_id(grid_id, "reroll"))
        child_post = await world.wait_for_post(lambda m: world.is_post(m) and m.id != grid.id)
        child_id = str(child_post.nonce)
        child = await stored(bot, child_id)
        kept = await bot.store.kept_image(child_id, ImageRole.SOURCE)

    # The member's image is on the bot's status message, where Discord keeps it.
    (keeper,) = status.attachments
    assert keeper.data == FOX
    # The command's own link expired with the month: AKOOL could not have used it.
    assert await served(command_link) == 404
    again = world.akool.requests_to("createbyprompt")[1]
    link = again.body["source_image"]
    assert link != command_link
    assert f"/{keeper.id}/" in link
    # AKOOL fetched that link, freshly signed by Discord at the press, and got the image.
    assert world.akool.source_fetches[-1] == SourceFetch(link, 200)
    assert (await press.wait_response()).type == 6
    assert child.requester_id == world.bob.id
    assert child.source_image == link
    # The new grid's own 🔄 finds the same kept image.
    assert kept is not None
    assert (kept.message_id, kept.attachment_id) == (status.id, keeper.id)
    assert replied_to(child_post) == grid.id
    assert child_post.attachments[0].data == world.akool.png(child_id)


async def test_post_here_a_month_later_shows_the_image_discord_keeps(world: World):
    async with world.running():
        grid = await text_grid(world)
        job_id = str(grid.nonce)
        akool_link = world.akool.image_url(job_id)
        world.clock.advance(31 * DAY)
        press = await post_here(world, job_id)
        await press.wait_followup(lambda m: "Posted" in m.content)
        repost = await world.wait_for_post(lambda m: is_repost(world, m, job_id, grid))

    # AKOOL deleted the result after 7 days; the image came from the post Discord keeps.
    assert await served(akool_link) == 404
    assert repost.attachments[0].data == world.akool.png(job_id)
    assert world.akool.calls["image"] == 1  # the first delivery only
    assert (grid.attachments[0].id, 200) in world.discord.cdn_requests
    assert repost.embeds[0]["image"]["url"] == f"attachment://{repost.attachments[0].filename}"


async def test_a_reroll_whose_kept_image_was_deleted_is_refused_privately_and_spends_nothing(
    world: World,
):
    async with world.running() as bot:
        grid, status = await image_to_image_grid(world)
        grid_id = str(grid.nonce)
        world.discord.delete_message(status)  # a member tidies the channel
        calls = sum(world.akool.calls.values())
        press = await world.discord.click(world.bob, grid, custom_id(grid_id, "reroll"))
        refusal = await press.wait_response()
        intents = await bot.store.lost_create_intents(bot.clock() + 1)

    assert refusal.type == 4  # said at once, nothing deferred
    assert refusal.ephemeral
    assert refusal.content == str(SOURCE_GONE)
    assert sum(world.akool.calls.values()) == calls  # AKOOL was asked nothing
    assert list(world.akool.jobs) == [grid_id]
    assert intents == []  # no credit was reserved for it either
    assert [m.id for m in world.discord.messages(world.channel)] == [grid.id]


async def test_post_here_of_a_deleted_post_takes_akools_copy_which_then_is_kept(world: World):
    async with world.running():
        grid = await text_grid(world)
        job_id = str(grid.nonce)
        world.discord.delete_message(grid)
        press = await post_here(world, job_id)
        await press.wait_followup(lambda m: "Posted" in m.content)
        repost = await world.wait_for_post(lambda m: is_repost(world, m, job_id, grid))
        world.clock.advance(31 * DAY)
        later = await post_here(world, job_id)
        await later.wait_followup(lambda m: "Posted" in m.content)
        again = await world.wait_for_post(lambda m: is_repost(world, m, job_id, grid, repost))

    assert repost.attachments[0].data == world.akool.png(job_id)
    assert world.akool.calls["image"] == 2  # the first post, then the repost within 7 days
    # A month on, the repost keeps the image.
    assert again.attachments[0].data == world.akool.png(job_id)
    assert (repost.attachments[0].id, 200) in world.discord.cdn_requests


async def test_post_here_of_an_image_kept_nowhere_is_refused_privately(world: World):
    async with world.running():
        grid = await text_grid(world)
        job_id = str(grid.nonce)
        world.discord.delete_message(grid)
        world.clock.advance(31 * DAY)
        posts = len(world.discord.messages(world.channel))
        press = await post_here(world, job_id)
        answer = await press.wait_followup()

    assert answer.ephemeral
    assert str(RESULT_GONE) in answer.content
    assert len(world.discord.messages(world.channel)) == posts  # nothing posted
