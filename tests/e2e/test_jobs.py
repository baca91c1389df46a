"""/track and /status end to end, and the job timeout."""

from __future__ import annotations

import discord

from tests.e2e.conftest import World
from tests.fakes.akool import FaultKind, Timeline
from tests.fakes.discord import FakeUser

MANAGE_SERVER = discord.Permissions(manage_guild=True)


def grid_buttons(job_id: str) -> list[str]:
    """A grid's buttons: U1-U4 🔄 on the first row, V1-V4 🗑️ on the second."""
    layout = ("U1", "U2", "U3", "U4", "reroll", "V1", "V2", "V3", "V4", "delete")
    return [f"akool:v1:{job_id}:{b}" for b in layout]


async def test_track_refuses_a_malformed_id_without_asking_akool(world: World):
    async with world.running():
        answers = []
        for bad in ["12345", "zz" * 12, "' OR 1=1; --", "a" * 25]:
            ix = await world.discord.slash_command(
                world.alice, world.channel, "track", {"job_id": bad}
            )
            answers.append(await ix.wait_response())

    assert all(a.ephemeral and "not an AKOOL job id" in a.content for a in answers)
    assert world.akool.calls["infobymodelid"] == 0


def admin_of(world: World) -> FakeUser:
    """A member who may manage the server: ids the bot never stored are theirs to look up."""
    return world.discord.add_user(name="admin", guild=world.guild, permissions=MANAGE_SERVER)


async def test_track_of_an_unknown_id_stores_nothing(world: World):
    admin = admin_of(world)
    async with world.running() as bot:
        ix = await world.discord.slash_command(
            admin, world.channel, "track", {"job_id": "0123456789abcdef01234567"}
        )
        answer = await ix.wait_followup()
        stored = await bot.store.get_job("0123456789abcdef01234567")

    assert answer.ephemeral
    assert "does not know that job" in answer.content
    assert stored is None
    assert [m for m in world.discord.messages(world.channel) if not m.ephemeral] == []


async def test_track_of_a_finished_job_posts_it_once(world: World):
    job = world.akool.add_job(prompt="made in the web app")
    admin = admin_of(world)
    async with world.running():
        first = await world.discord.slash_command(
            admin, world.channel, "track", {"job_id": job.id.upper()}
        )
        note = await first.wait_followup()
        post = await world.wait_for_post(lambda m: m.nonce == job.id)
        again = await world.discord.slash_command(
            world.bob, world.channel, "track", {"job_id": job.id}
        )
        refusal = await again.wait_response()

    assert "already done; posting it here" in note.content
    assert post.attachments[0].data == world.akool.png(job.id)
    assert "made in the web app" in post.content
    assert world.custom_ids_of(post) == grid_buttons(job.id)
    assert refusal.ephemeral
    assert "already followed in this channel" in refusal.content
    assert len(world.posts_for(job.id)) == 1


async def test_track_of_a_running_job_shows_status_then_result(world: World):
    world.akool.timeline = Timeline(processing_after=0, hold=True)
    job = world.akool.add_job(status=None)
    admin = admin_of(world)
    async with world.running():
        ix = await world.discord.slash_command(admin, world.channel, "track", {"job_id": job.id})
        await ix.wait_followup()
        status = await world.wait_for_post(
            lambda m: job.id in m.content and "Processing" in m.content
        )
        world.akool.finish(job.id)
        post = await world.wait_for_post(lambda m: m.nonce == job.id)

    assert post.message_reference is not None
    assert int(post.message_reference["message_id"]) == status.id


async def test_status_autocompletes_recent_jobs_and_reposts(world: World):
    async with world.running():
        ids: list[str] = []
        for prompt in ["first fox", "second fox"]:
            ix = await world.discord.slash_command(
                world.alice, world.channel, "imagine", {"prompt": prompt}
            )
            await ix.wait_original_edit(lambda m: "job `" in m.content)
            ids.append(next(j for j in world.akool.jobs if j not in ids))
            await world.wait_for_post(world.is_post_of(ids[-1]))
        choices = await world.discord.autocomplete(
            world.alice, world.channel, "status", {"job_id": ""}, focused="job_id"
        )
        prefixed = await world.discord.autocomplete(
            world.alice, world.channel, "status", {"job_id": ids[0][:6]}, focused="job_id"
        )
        others = await world.discord.autocomplete(
            world.bob, world.channel, "status", {"job_id": ""}, focused="job_id"
        )

        ix = await world.discord.slash_command(
            world.bob, world.channel, "status", {"job_id": ids[0]}
        )
        shown = await ix.wait_followup()
        show_id = f"akool:v1:{ids[0]}:show"
        assert world.custom_ids_of(shown) == [show_id]
        press = await world.discord.click(world.bob, shown, show_id)
        await press.wait_followup(lambda m: "Posted" in m.content)
        repost = await world.wait_for_post(
            lambda m: not world.is_post(m) and "first fox" in m.content and bool(m.attachments)
        )

    assert [c["value"] for c in choices] == [ids[1], ids[0]]
    assert "second fox" in choices[0]["name"]
    assert all(len(c["name"]) <= 100 for c in choices)
    assert [c["value"] for c in prefixed] == [ids[0]]
    assert others == []
    assert shown.ephemeral
    embed = shown.embeds[0]
    assert embed["title"] == "first fox"
    assert {f["name"]: f["value"] for f in embed["fields"]}[
        "Requested by"
    ] == f"<@{world.alice.id}>"
    assert repost.attachments[0].data == world.akool.png(ids[0])
    assert world.custom_ids_of(repost) == grid_buttons(ids[0])
    assert repost.mention_ids == []


async def test_status_falls_back_to_the_stored_state_when_akool_is_down(world: World):
    world.akool.timeline = Timeline(processing_after=0, hold=True)
    async with world.running() as bot:
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a fox"}
        )
        await ix.wait_original_edit(lambda m: "job `" in m.content)
        (job_id,) = world.akool.jobs
        # Every request fails from here on: the loop's polls as well as the lookup.
        world.akool.inject(FaultKind.HTTP_500, times=1000)
        status = await world.discord.slash_command(
            world.alice, world.channel, "status", {"job_id": job_id}
        )
        shown = await status.wait_followup(timeout=10)
        stored = await bot.store.get_job(job_id)

    assert stored is not None
    assert not stored.status.finished  # an unfinished job: asked live
    assert "could not be reached" in shown.embeds[0]["footer"]["text"]


async def test_a_stuck_job_times_out_with_a_clear_message(world: World):
    world.akool.timeline = Timeline(hold=True)
    async with world.running(job_timeout=0.5):
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "slow fox"}
        )
        await ix.wait_response()
        post = await world.wait_for_post(lambda m: world.is_post(m))

    (job_id,) = world.akool.jobs
    assert "stopped waiting" in post.embeds[0]["description"]
    assert f"/status {job_id}" in post.embeds[0]["description"]
    assert post.mention_ids == [world.alice.id]


async def test_an_unexpected_error_gets_an_apology_with_a_reference(world: World, caplog):
    async with world.running() as bot:

        async def broken(akool_id: str):
            raise RuntimeError("database on fire")

        bot.store.get_job = broken  # type: ignore[method-assign]
        ix = await world.discord.slash_command(
            world.alice, world.channel, "status", {"job_id": "a" * 24}
        )
        answer = await ix.wait_followup()

    assert answer.ephemeral
    assert "something went wrong" in answer.content
    reference = answer.content.split("`")[1]
    (record,) = [r for r in caplog.records if reference in r.getMessage()]
    assert "/status" in record.getMessage()
    assert str(world.alice.id) in record.getMessage()
    assert record.exc_info is not None
    assert "database on fire" in str(record.exc_info[1])
    assert "database on fire" not in answer.content
