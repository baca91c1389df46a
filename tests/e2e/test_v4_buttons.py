"""The buttons of a v4 batch's post end to end: U n, V n, 🔄 and 🗑️ as members know them.

A batch is one post of its images with U1-Un 🔄 / V1-Vn 🗑️, every button naming the lead (the
first image). U n posts image n alone without asking AKOOL; V n is a v4 image-to-image create of
image n, once per button, for whoever presses first; 🔄 makes the same order again.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque

import pytest

from bot.akool import ImageStatus
from bot.core import AkoolBot
from bot.kept_images import SOURCE_GONE
from bot.server_settings import ServerSettings
from bot.store import ImageRole, Job, JobKind
from tests.clock import DAY
from tests.e2e.conftest import World, pinged, replied_to
from tests.e2e.test_kept_images import served
from tests.fakes.akool import SourceFetch, Timeline
from tests.fakes.discord import FakeMessage

V4 = {"akool_create_api": "v4"}
PROMPT = "a red fox in snow"


def custom_id(job_id: str, action: str) -> str:
    return f"akool:v1:{job_id}:{action}"


async def batch_post(
    world: World, prompt: str = PROMPT, *, timeout: float = 5.0, **options: object
) -> FakeMessage:
    """/imagine through v4, and the batch's one post (its nonce is the lead's id)."""
    ix = await world.discord.slash_command(
        world.alice, world.channel, "imagine", {"prompt": prompt, **options}
    )
    await ix.wait_response()
    return await world.wait_for_post(
        lambda m: world.is_post(m) and bool(m.components), timeout=timeout
    )


async def images_of(bot: AkoolBot, post: FakeMessage) -> list[Job]:
    return await bot.store.batch(str(post.nonce))


async def stored(bot: AkoolBot, job_id: str) -> Job:
    job = await bot.store.get_job(job_id)
    assert job is not None
    return job


def is_batch_post_besides(world: World, *before: FakeMessage):
    """A batch's post (a job's nonce, with buttons) other than those ``before``."""
    seen = {m.id for m in before}
    return lambda m: world.is_post(m) and bool(m.components) and m.id not in seen


async def test_u2_posts_image_2_alone_as_a_reply_without_asking_akool(world: World):
    async with world.running(**V4) as bot:
        post = await batch_post(world)
        lead = str(post.nonce)
        images = await images_of(bot, post)
        calls = Counter(world.akool.calls)
        # Two members press U2 at once: one posts image 2, the other hears who did.
        pressers = [world.bob, world.users[0]]
        presses = await asyncio.gather(
            *(world.discord.click(user, post, custom_id(lead, "U2")) for user in pressers)
        )
        answers = await asyncio.gather(*(ix.wait_response() for ix in presses))
        alone = await world.wait_for_post(
            lambda m: replied_to(m) == post.id and bool(m.attachments)
        )
        edited = await world.discord.wait_for_edit(
            post, lambda m: world.discord.button(m, custom_id(lead, "U2")).get("disabled", False)
        )
        other = await world.discord.click(world.users[1], edited, custom_id(lead, "U1"))
        assert (await other.wait_response()).type == 6
        await world.wait_for_post(lambda m: replied_to(m) == post.id and m.id != alone.id)
        replies = [m for m in world.discord.messages(world.channel) if replied_to(m) == post.id]

    assert len(images) == 4
    (won,) = [a for a in answers if a.type == 6]  # deferred within Discord's 3 seconds
    (lost,) = [a for a in answers if a.type == 4]
    winner = pressers[answers.index(won)]
    # Image 2 alone, full size, the very file the batch's post keeps; AKOOL was asked nothing
    # (not even for the image) and nothing was spent.
    (attachment,) = alone.attachments
    assert attachment.data == world.akool.png(images[1].akool_id) == post.attachments[1].data
    assert Counter(world.akool.calls) == calls
    assert f"Image 2 by <@{winner.id}>, from <@{world.alice.id}>'s batch" in alone.content
    assert pinged(alone) == [winner.id]
    assert world.custom_ids_of(alone) == [custom_id(images[1].akool_id, "delete")]
    u2 = world.discord.button(edited, custom_id(lead, "U2"))
    assert u2["style"] == 3  # green: used
    # Once per button per post: the other press of U2 hears who pressed it, privately.
    assert lost.ephemeral
    assert f"U2 was pressed by <@{winner.id}>" in lost.content or (
        f"U2 was already pressed by <@{winner.id}>" in lost.content
    )
    assert len(replies) == 2  # image 2 once, and image 1 for the member who pressed U1


async def test_v3_is_a_v4_image_to_image_of_image_3_with_the_servers_similarity(world: World):
    async with world.running(**V4) as bot:
        assert world.guild.id is not None
        settings = ServerSettings(variation_similarity=0.8)
        await bot.store.save_server_settings(world.guild.id, settings, now=bot.clock())
        post = await batch_post(
            world, aspect="16:9", count=3, resolution="1080p", negative="blurry edges"
        )
        lead = str(post.nonce)
        images = await images_of(bot, post)
        press = await world.discord.click(world.bob, post, custom_id(lead, "V3"))
        ack = await press.wait_response()
        child_post = await world.wait_for_post(is_batch_post_besides(world, post))
        child_lead = str(child_post.nonce)
        child = await stored(bot, child_lead)
        children = await bot.store.batch(child_lead)
        kept = await bot.store.kept_image(images[2].akool_id, ImageRole.RESULT)
        edited = world.discord.get_message(world.channel.id, post.id)

    first, variation = world.akool.requests_to("createBySourcePrompt")
    assert ack.type == 6
    assert kept is not None
    source = variation.body["source_images"]
    assert len(source) == 1
    # Image 3's file on the post, by a link Discord signed at the press.
    assert f"/{kept.attachment_id}/" in source[0]
    assert post.attachments[2].id == kept.attachment_id
    assert world.akool.source_fetches[-1] == SourceFetch(source[0], 200)
    assert variation.body["similar"] == 0.8
    for same in ("prompt", "scale", "resolution", "batch_quantity", "negative_prompt"):
        assert variation.body[same] == first.body[same]
    assert (variation.body["scale"], variation.body["resolution"]) == ("16:9", "1080p")
    assert (variation.body["batch_quantity"], variation.body["negative_prompt"]) == (
        3,
        "blurry edges",
    )
    # The variation is a batch of its own, for the presser, a reply to the post, with its buttons.
    assert len(images) == len(children) == 3
    assert child.kind is JobKind.BUTTON
    assert (child.parent_akool_id, child.button, child.requester_id) == (lead, "V3", world.bob.id)
    assert replied_to(child_post) == post.id
    assert custom_id(child_lead, "V1") in world.custom_ids_of(child_post)
    assert edited is not None
    assert world.discord.button(edited, custom_id(lead, "V3"))["disabled"]


async def test_ten_members_pressing_v1_at_once_start_exactly_one_variation(world: World):
    async with world.running(**V4) as bot:
        post = await batch_post(world)
        lead = str(post.nonce)
        # The variation stays unfinished, so every loser is told of the same running job.
        world.akool.next_timelines.extend(Timeline(processing_after=0, hold=True) for _ in range(4))
        presses = await asyncio.gather(
            *(world.discord.click(user, post, custom_id(lead, "V1")) for user in world.users)
        )
        acks = await asyncio.gather(*(ix.wait_response() for ix in presses))
        announced = await world.wait_for_post(
            lambda m: replied_to(m) == post.id and "job `" in m.content
        )
        (child,) = [j for j in await bot.store.children(lead) if j.is_batch_lead]
        winner = child.requester_id
        losers = [ix for ix, user in zip(presses, world.users, strict=True) if user.id != winner]
        notes = await asyncio.gather(*(ix.wait_followup() for ix in losers))
        (won,) = [ix for ix, user in zip(presses, world.users, strict=True) if user.id == winner]
        announcements = [
            m for m in world.discord.messages(world.channel) if replied_to(m) == post.id
        ]

    assert world.akool.calls["createBySourcePrompt"] == 2  # the batch, then one variation
    assert all(ack.type == 6 for ack in acks)
    assert winner in {user.id for user in world.users}
    assert child.akool_id in announced.content
    assert pinged(announced) == [winner]
    assert len(announcements) == 1
    assert len(losers) == 9
    for note in notes:
        assert note.ephemeral
        assert f"V1 was already pressed by <@{winner}>" in note.content
    assert won.followups == []


async def test_a_variation_pressed_31_days_later_starts_from_the_image_discord_keeps(
    world: World,
):
    async with world.running(**V4) as bot:
        post = await batch_post(world)
        lead = str(post.nonce)
        images = await images_of(bot, post)
        old_link = post.attachments[1].url
        akool_link = world.akool.image_url(images[1].akool_id)
        world.clock.advance(31 * DAY)
        press = await world.discord.click(world.bob, post, custom_id(lead, "V2"))
        await press.wait_response()
        child_post = await world.wait_for_post(is_batch_post_besides(world, post), timeout=10)
        child = await stored(bot, str(child_post.nonce))

    # Both the post's first link to image 2 and AKOOL's have died with the month.
    assert await served(old_link) == 404
    assert await served(akool_link) == 404
    variation = world.akool.requests_to("createBySourcePrompt")[1]
    (link,) = variation.body["source_images"]
    assert link != old_link
    assert f"/{post.attachments[1].id}/" in link
    assert world.akool.source_fetches[-1] == SourceFetch(link, 200)
    assert child.requester_id == world.bob.id
    assert replied_to(child_post) == post.id
    assert child_post.attachments[0].data == world.akool.png(child.akool_id)


async def test_reroll_of_a_batch_repeats_its_order(world: World):
    async with world.running(**V4):
        post = await batch_post(world, aspect="3:2", count=2, resolution="1080p", negative="fog")
        lead = str(post.nonce)
        press = await world.discord.click(world.bob, post, custom_id(lead, "reroll"))
        await press.wait_response()
        again = await world.wait_for_post(is_batch_post_besides(world, post))
        announced = next(
            m
            for m in world.discord.messages(world.channel)
            if replied_to(m) == post.id and not world.is_post(m)
        )

    first, repeat = world.akool.requests_to("createBySourcePrompt")
    assert {k: v for k, v in repeat.body.items() if k != "webhookurl"} == {
        k: v for k, v in first.body.items() if k != "webhookurl"
    }
    assert (repeat.body["scale"], repeat.body["batch_quantity"]) == ("3:2", 2)
    assert (repeat.body["resolution"], repeat.body["negative_prompt"]) == ("1080p", "fog")
    assert replied_to(again) == post.id
    assert len(again.attachments) == len(post.attachments)
    # Announced as the batch it is, from its first words: "0 of 2 images ready" at the start.
    first_words = announced.edits[0].previous["content"] if announced.edits else announced.content
    assert "0 of 2 images ready" in first_words


@pytest.mark.parametrize("button", ["reroll", "V1"])
async def test_a_repeat_whose_negative_prompt_holds_a_word_banned_since_is_refused(
    world: World, button: str
):
    # 🔄 and V send the batch's negative prompt to AKOOL again: a word the server banned after
    # the batch was made is refused there too, privately, before anything is spent.
    async with world.running(**V4) as bot:
        post = await batch_post(world, count=2, negative="fog and gore")
        assert world.guild.id is not None
        settings = await bot.store.server_settings(world.guild.id)
        await bot.store.save_server_settings(
            world.guild.id, settings.with_banned_word("gore"), now=bot.clock()
        )
        calls = world.akool.calls["createBySourcePrompt"]
        press = await world.discord.click(world.bob, post, custom_id(str(post.nonce), button))
        refusal = await press.wait_response()
        intents = await bot.store.lost_create_intents(bot.clock() + 1)

    assert refusal.ephemeral
    assert "gore" in refusal.content
    assert world.akool.calls["createBySourcePrompt"] == calls
    assert intents == []


async def test_reroll_of_a_variation_repeats_its_source_and_similarity(world: World):
    async with world.running(**V4) as bot:
        assert world.guild.id is not None
        settings = ServerSettings(variation_similarity=0.3)
        await bot.store.save_server_settings(world.guild.id, settings, now=bot.clock())
        post = await batch_post(world)
        lead = str(post.nonce)
        press = await world.discord.click(world.bob, post, custom_id(lead, "V4"))
        await press.wait_response()
        varied = await world.wait_for_post(is_batch_post_besides(world, post))
        world.clock.advance(31 * DAY)
        reroll = await world.discord.click(
            world.alice, varied, custom_id(str(varied.nonce), "reroll")
        )
        await reroll.wait_response()
        await world.wait_for_post(is_batch_post_besides(world, post, varied), timeout=10)

    _, variation, repeat = world.akool.requests_to("createBySourcePrompt")
    assert repeat.body["similar"] == variation.body["similar"] == 0.3
    (link,) = repeat.body["source_images"]
    # Image 4 again, by a link Discord signed at the re-roll, a month on.
    assert link != variation.body["source_images"][0]
    assert f"/{post.attachments[3].id}/" in link
    assert world.akool.source_fetches[-1] == SourceFetch(link, 200)


async def test_a_press_whose_image_is_kept_nowhere_is_refused_privately_and_spends_nothing(
    world: World,
):
    async with world.running(**V4) as bot:
        post = await batch_post(world)
        lead = str(post.nonce)
        # A copy of the post's buttons elsewhere (as a repost carries), then the post that kept
        # the images is deleted, and AKOOL's copies die with the week.
        body = {"content": "copy", "components": post.components}
        copy = world.discord.create_message(world.channel, world.discord.bot_user, body)
        world.discord.delete_message(post)
        world.clock.advance(8 * DAY)
        calls = sum(world.akool.calls.values())
        answers = []
        for button in ("V1", "U1"):
            press = await world.discord.click(world.bob, copy, custom_id(lead, button))
            answers.append(await press.wait_response())
        presses = [await bot.store.get_press(lead, b) for b in ("V1", "U1")]
        intents = await bot.store.lost_create_intents(bot.clock() + 1)

    for answer in answers:
        assert answer.type == 4  # said at once, nothing deferred
        assert answer.ephemeral
        assert "Image 1 of this batch is no longer kept anywhere" in answer.content
    assert sum(world.akool.calls.values()) == calls  # AKOOL was asked nothing
    assert presses == [None, None]  # nothing claimed: both may be pressed again
    assert intents == []  # no credit was reserved either
    assert [m.id for m in world.discord.messages(world.channel)][-1] == copy.id


async def test_reroll_of_a_variation_whose_image_post_was_deleted_is_refused_privately(
    world: World,
):
    async with world.running(**V4) as bot:
        post = await batch_post(world)
        lead = str(post.nonce)
        press = await world.discord.click(world.bob, post, custom_id(lead, "V1"))
        await press.wait_response()
        varied = await world.wait_for_post(is_batch_post_besides(world, post))
        world.discord.delete_message(post)  # image 1 was kept there
        calls = sum(world.akool.calls.values())
        reroll = await world.discord.click(
            world.bob, varied, custom_id(str(varied.nonce), "reroll")
        )
        refusal = await reroll.wait_response()
        intents = await bot.store.lost_create_intents(bot.clock() + 1)

    assert refusal.type == 4
    assert refusal.ephemeral
    assert refusal.content == str(SOURCE_GONE)
    assert sum(world.akool.calls.values()) == calls
    assert intents == []


async def test_a_variation_is_held_to_the_caps_at_its_images_cost(world: World):
    async with world.running(**V4) as bot:
        assert world.guild.id is not None
        # One image spent 1 credit; a V of it is one more v4 image, expected to cost 1: it
        # fits a cap of 2 (a grid's V, expected at 2 credits, would not).
        settings = ServerSettings().with_credit_limit(2, ceiling=None)
        await bot.store.save_server_settings(world.guild.id, settings, now=bot.clock())
        post = await batch_post(world, count=1)
        lead = str(post.nonce)
        press = await world.discord.click(world.bob, post, custom_id(lead, "V1"))
        assert (await press.wait_response()).type == 6
        varied = await world.wait_for_post(is_batch_post_besides(world, post))
        # Now 2 are spent: the next V would pass the cap, and is refused before AKOOL.
        calls = world.akool.calls["createBySourcePrompt"]
        again = await world.discord.click(world.bob, varied, custom_id(str(varied.nonce), "V1"))
        refusal = await again.wait_response()

    assert refusal.type == 4
    assert refusal.ephemeral
    assert "this server's daily credit cap" in refusal.content
    assert world.akool.calls["createBySourcePrompt"] == calls == 2


async def test_u_of_an_image_the_post_could_only_keep_as_a_preview_posts_the_original(
    world: World,
):
    # Each 4K image fits the server's limit alone; the four together do not, so the post
    # shrinks some of them.
    world.akool.v4_image_sizes = {"4k": (4096, 4096)}
    world.akool.result_pad_to = 6 * 1024 * 1024
    async with world.running(**V4) as bot:
        post = await batch_post(world, timeout=60)
        lead = str(post.nonce)
        images = await images_of(bot, post)
        (n, shrunk) = next(
            (n, a) for n, a in enumerate(post.attachments, 1) if a.filename.endswith("-preview.jpg")
        )
        press = await world.discord.click(world.bob, post, custom_id(lead, f"U{n}"))
        assert (await press.wait_response()).type == 6
        alone = await world.wait_for_post(
            lambda m: replied_to(m) == post.id and bool(m.attachments), timeout=30
        )

    image = images[n - 1]
    assert shrunk.filename.startswith(image.akool_id)
    (attachment,) = alone.attachments
    # Full size: AKOOL's original, which fits the server's limit on its own.
    assert attachment.data == world.akool.png(image.akool_id)
    assert not attachment.filename.endswith("-preview.jpg")


async def test_the_buttons_number_the_images_the_post_shows(world: World):
    done = Timeline(finished_after=0.1)
    failed = Timeline(finished_after=0.1, outcome=ImageStatus.FAILED)
    world.akool.next_timelines = deque([done, failed, done, done])
    async with world.running(**V4) as bot:
        post = await batch_post(world)
        lead = str(post.nonce)
        images = await images_of(bot, post)
        press = await world.discord.click(world.bob, post, custom_id(lead, "U2"))
        assert (await press.wait_response()).type == 6
        alone = await world.wait_for_post(
            lambda m: replied_to(m) == post.id and bool(m.attachments)
        )

    # Image 2 failed: the post shows images 1, 3 and 4 as U1-U3, and U2 is the third image.
    assert len(post.attachments) == 3
    assert custom_id(lead, "U4") not in world.custom_ids_of(post)
    assert alone.attachments[0].data == world.akool.png(images[2].akool_id)
    assert "Image 2 by" in alone.content
