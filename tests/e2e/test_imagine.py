"""/imagine end to end: quick ack with the job id, status edits, the completion post."""

from __future__ import annotations

from bot.akool import ImageStatus
from bot.custom_ids import GRID_BUTTONS, ButtonRef
from tests.e2e.conftest import World, replied_to
from tests.fakes.akool import FaultKind, Timeline


async def test_imagine_acks_edits_status_and_posts_the_grid(world: World):
    world.akool.timeline = Timeline(processing_after=0.3, hold=True)
    async with world.running():
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a red fox in snow", "aspect": "16:9"}
        )
        ack = await ix.wait_response()
        assert ack.type == 5  # deferred: "thinking", then the status message
        assert ack.elapsed < 3.0

        queued = await ix.wait_original_edit(lambda m: "Queued" in m.content)
        (job_id,) = world.akool.jobs
        assert job_id in queued.content
        assert world.akool.requests_to("createbyprompt")[0].body == {
            "prompt": "a red fox in snow",
            "scale": "16:9",
        }

        processing = await ix.wait_original_edit(lambda m: "Processing" in m.content)
        assert processing.id == queued.id
        world.akool.finish(job_id)
        post = await world.wait_for_post(lambda m: m.nonce == job_id)
        done = await ix.wait_original_edit(lambda m: "Done" in m.content)

    (attachment,) = post.attachments
    assert attachment.data == world.akool.png(job_id)
    assert post.embeds[0]["image"]["url"] == f"attachment://{attachment.filename}"
    assert post.embeds[0]["title"] == "a red fox in snow"
    assert f"<@{world.alice.id}>" in post.content
    assert post.mention_ids == [world.alice.id]
    assert post.message_reference is not None
    assert replied_to(post) == done.id
    refs = [ButtonRef.parse(c) for c in world.discord.custom_ids(post)]
    layout = [*GRID_BUTTONS[:4], "reroll", *GRID_BUTTONS[4:], "delete"]
    assert refs == [ButtonRef(job_id, b) for b in layout]
    # One edit per status change: queued, processing, done.
    texts = [e.changes["content"] for e in done.edits if "content" in e.changes]
    assert sum("Processing" in t for t in texts) == 1
    assert sum("Done" in t for t in texts) == 1


async def test_imagine_with_a_source_image(world: World):
    from tests.fakes.png import make_png

    async with world.running():
        ix = await world.discord.slash_command(
            world.alice,
            world.channel,
            "imagine",
            {"prompt": "make it blue"},
            attachments={"image": ("cat.png", make_png(8, 8, "cat"))},
        )
        await ix.wait_original_edit(lambda m: "Queued" in m.content or "Processing" in m.content)

    (request,) = world.akool.requests_to("createbyprompt")
    assert request.body["source_image"].startswith("http://127.0.0.1:")
    assert request.body["scale"] == "1:1"


async def test_failed_job_gets_a_red_embed_and_a_ping(world: World):
    world.akool.timeline = Timeline(finished_after=0.1, outcome=ImageStatus.FAILED)
    async with world.running():
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "forbidden thing"}
        )
        await ix.wait_response()
        post = await world.wait_for_post(lambda m: world.is_post(m))

    embed = post.embeds[0]
    assert embed["color"] == 0xE74C3C
    assert "could not be made" in embed["title"]
    assert "Check the prompt" in embed["description"]
    assert post.mention_ids == [world.alice.id]
    assert post.attachments == []
    (job_id,) = world.akool.jobs
    assert world.custom_ids_of(post) == [f"akool:v1:{job_id}:delete"]


async def test_a_result_over_the_upload_limit_becomes_a_preview_with_a_link(world: World):
    # About 10.8 MB of incompressible pixels: over the 10 MiB cap of a server without boosts.
    world.akool.image_size = (2000, 1800)
    world.akool.noise_images = True
    async with world.running(max_image_bytes=64 * 1024 * 1024):
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "static"}
        )
        await ix.wait_response()
        post = await world.wait_for_post(lambda m: world.is_post(m), timeout=20)

    (job_id,) = world.akool.jobs
    assert len(world.akool.png(job_id)) > 10 * 1024 * 1024
    (attachment,) = post.attachments
    assert attachment.filename.endswith("-preview.jpg")
    assert attachment.size < 10 * 1024 * 1024
    assert world.akool.image_url(job_id) in post.content
    assert "<t:" in post.content  # the expiry date, in each reader's time zone


async def test_akool_refusal_is_said_in_the_status_message(world: World):
    world.akool.inject(FaultKind.CODE, code=1104)
    async with world.running() as bot:
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a fox"}
        )
        answer = await ix.wait_original_edit(lambda m: "could not be started" in m.content)
        stored = await bot.store.recent_jobs(world.guild.id, world.alice.id, limit=5)

    assert "no credits left" in answer.content
    assert world.akool.jobs == {}
    assert stored == []


async def test_blank_prompt_is_refused_before_akool(world: World):
    async with world.running():
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "   "}
        )
        answer = await ix.wait_response()

    assert answer.type == 4
    assert answer.ephemeral
    assert "prompt is empty" in answer.content
    assert world.akool.calls["createbyprompt"] == 0
