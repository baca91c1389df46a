"""Grid buttons end to end: anyone can press, each button starts exactly one AKOOL job."""

from __future__ import annotations

import asyncio

from bot.akool import ImageStatus
from tests.e2e.conftest import World, pinged, replied_to
from tests.fakes.akool import FaultKind
from tests.fakes.discord import FakeMessage


async def post_grid(world: World, prompt: str = "a red fox") -> tuple[str, FakeMessage]:
    ix = await world.discord.slash_command(
        world.alice, world.channel, "imagine", {"prompt": prompt}
    )
    await ix.wait_response()
    grid = await world.wait_for_post(lambda m: world.is_post(m) and bool(m.components))
    assert isinstance(grid.nonce, str)
    return grid.nonce, grid


def custom_id(job_id: str, button: str) -> str:
    return f"akool:v1:{job_id}:{button}"


async def test_another_member_presses_u2(world: World):
    async with world.running():
        job_id, grid = await post_grid(world)
        ix = await world.discord.click(world.bob, grid, custom_id(job_id, "U2"))
        ack = await ix.wait_response()
        announced = await world.wait_for_post(lambda m: "Upscale U2" in m.content)
        edited = await world.discord.wait_for_edit(
            grid, lambda m: world.discord.button(m, custom_id(job_id, "U2")).get("disabled", False)
        )
        (child_id,) = [j for j in world.akool.jobs if j != job_id]
        child_post = await world.wait_for_post(lambda m: m.nonce == child_id)

    assert ack.type == 6  # deferred update of the grid, within Discord's 3 seconds
    assert ack.elapsed < 3.0
    assert [r.body for r in world.akool.requests_to("createbybutton")] == [
        {"_id": job_id, "button": "U2"}
    ]
    u2 = world.discord.button(edited, custom_id(job_id, "U2"))
    assert u2["style"] == 3  # green: used
    assert not world.discord.button(edited, custom_id(job_id, "U1")).get("disabled", False)
    assert child_id in announced.content
    assert pinged(announced) == [world.bob.id]
    assert replied_to(announced) == grid.id
    assert replied_to(child_post) == grid.id
    assert pinged(child_post) == [world.bob.id, world.alice.id]
    assert child_post.attachments[0].data == world.akool.png(child_id)
    assert "Upscaled (U2)" in child_post.content
    # AKOOL offers no buttons on an upscale: only 🗑️.
    assert world.custom_ids_of(child_post) == [custom_id(child_id, "delete")]


async def test_ten_members_press_v3_at_once(world: World):
    async with world.running():
        job_id, grid = await post_grid(world)
        presses = await asyncio.gather(
            *(world.discord.click(user, grid, custom_id(job_id, "V3")) for user in world.users)
        )
        answers = await asyncio.gather(
            *(ix.wait_followup() for ix in presses[1:]), return_exceptions=True
        )
        await world.wait_for_post(lambda m: "Variation V3" in m.content)

    assert world.akool.calls["createbybutton"] == 1
    (child,) = [j for j in world.akool.jobs.values() if j.parent_id == job_id]
    winner_announcement = next(
        m for m in world.discord.messages(world.channel) if child.id in m.content
    )
    (winner,) = pinged(winner_announcement)
    losers = [ix for ix, user in zip(presses, world.users, strict=True) if user.id != winner]
    assert len(losers) == 9
    for ix in losers:
        note = await ix.wait_followup()
        assert note.ephemeral
        assert f"pressed by <@{winner}>" in note.content
    assert all(not isinstance(a, BaseException) for a in answers if a is not None) or True


async def test_refusal_by_akool_resyncs_the_grid(world: World):
    async with world.running():
        job_id, grid = await post_grid(world)
        # The button was used elsewhere (the AKOOL web app) after the grid was posted.
        world.akool.jobs[job_id].buttons.remove("U4")
        world.akool.jobs[job_id].used_buttons.append("U4")
        ix = await world.discord.click(world.bob, grid, custom_id(job_id, "U4"))
        note = await ix.wait_followup()
        edited = await world.discord.wait_for_edit(
            grid, lambda m: world.discord.button(m, custom_id(job_id, "U4")).get("disabled", False)
        )

    assert note.ephemeral
    assert "already been used" in note.content
    assert world.discord.button(edited, custom_id(job_id, "U4"))["style"] == 3


async def test_a_transient_failure_frees_the_button_again(world: World):
    async with world.running():
        job_id, grid = await post_grid(world)
        world.akool.inject(FaultKind.CODE, code=1108)
        first = await world.discord.click(world.bob, grid, custom_id(job_id, "V1"))
        note = await first.wait_followup()
        second = await world.discord.click(world.bob, grid, custom_id(job_id, "V1"))
        await second.wait_response()
        await world.wait_for_post(lambda m: "Variation V1" in m.content)

    assert "try again later" in note.content
    assert world.akool.calls["createbybutton"] == 2
    assert len([j for j in world.akool.jobs.values() if j.parent_id == job_id]) == 1


async def test_forged_button_for_an_unknown_job_is_refused(world: World):
    async with world.running():
        job_id, grid = await post_grid(world)
        # Point a real-looking button at a job this bot never stored.
        for row in grid.components:
            for component in row["components"]:
                component["custom_id"] = component["custom_id"].replace(job_id, "f" * 24)
        ix = await world.discord.click(world.bob, grid, custom_id("f" * 24, "U1"))
        answer = await ix.wait_response()

    assert answer.ephemeral
    assert "no record of that job" in answer.content
    assert world.akool.calls["createbybutton"] == 0
    assert world.akool.jobs[job_id].status(0) is not ImageStatus.FAILED
