"""Grid buttons end to end: anyone can press, each button starts exactly one AKOOL job."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.akool.errors import USER_MESSAGES
from bot.jobs import STALE_CLAIM
from bot.server_settings import ServerSettings
from bot.store import PressClaim
from tests.e2e.conftest import World, pinged, replied_to
from tests.fakes.akool import Fault, FaultKind, Timeline
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
    async with world.running() as bot:
        job_id, grid = await post_grid(world)
        # The variation stays unfinished, so every loser is told of the same running job.
        world.akool.next_timelines.append(Timeline(processing_after=0, hold=True))
        presses = await asyncio.gather(
            *(world.discord.click(user, grid, custom_id(job_id, "V3")) for user in world.users)
        )
        acks = await asyncio.gather(*(ix.wait_response() for ix in presses))
        announced = await world.wait_for_post(lambda m: "Variation V3" in m.content)
        (child,) = [j for j in world.akool.jobs.values() if j.parent_id == job_id]
        stored = await bot.store.get_job(child.id)
        assert stored is not None
        winner = stored.requester_id
        losers = [ix for ix, user in zip(presses, world.users, strict=True) if user.id != winner]
        notes = await asyncio.gather(*(ix.wait_followup() for ix in losers))
        (won,) = [ix for ix, user in zip(presses, world.users, strict=True) if user.id == winner]

    assert world.akool.calls["createbybutton"] == 1
    assert all(ack.type == 6 for ack in acks)  # every press deferred within Discord's 3 s
    assert child.id in announced.content
    assert pinged(announced) == [winner]
    assert len(losers) == 9
    for note in notes:
        assert note.ephemeral
        assert f"V3 was already pressed by <@{winner}>" in note.content
        assert f"job `{child.id}` is " in note.content
    assert won.followups == []  # the winner's answer is the announcement in the channel


class LostClaims:
    """Stands in for ``store.claim_press`` and counts the presses that lost their claim."""

    def __init__(self, store: Any) -> None:
        self._original = store.claim_press
        self.count = 0
        self._changed = asyncio.Event()
        store.claim_press = self

    async def __call__(self, *args: Any, **kwargs: Any) -> PressClaim:
        claim: PressClaim = await self._original(*args, **kwargs)
        if not claim.won:
            self.count += 1
            self._changed.set()
        return claim

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while self.count < count:
                self._changed.clear()
                await self._changed.wait()


async def test_presses_during_a_press_that_fails_hear_so_and_can_press_again(world: World):
    members = [world.bob, *world.users[:2]]
    # Time enough for the held press to outlast the others arriving, however loaded the machine.
    async with world.running(akool_timeout=10.0) as bot:
        job_id, grid = await post_grid(world)
        lost = LostClaims(bot.store)
        # AKOOL holds the first press until both others have lost to it, then fails it.
        answer = asyncio.Event()
        world.akool.inject(
            Fault(FaultKind.CODE, code=1108, endpoint="createbybutton", until=answer)
        )
        presses = await asyncio.gather(
            *(world.discord.click(m, grid, custom_id(job_id, "V2")) for m in members)
        )
        await world.akool.wait_for_calls("createbybutton", 1)
        await lost.wait_for(2)
        first = await bot.store.get_press(job_id, "V2")
        assert first is not None
        answer.set()
        notes = await asyncio.gather(*(ix.wait_followup() for ix in presses))
        losers = [m for m in members if m.id != first.presser_id]
        # Both losers press again at once: one of them starts the job, the other hears of it.
        again = await asyncio.gather(
            *(world.discord.click(m, grid, custom_id(job_id, "V2")) for m in losers)
        )
        announced = await world.wait_for_post(lambda m: "Variation V2" in m.content)
        (child,) = [j for j in world.akool.jobs.values() if j.parent_id == job_id]
        stored = await bot.store.get_job(child.id)
        assert stored is not None
        (late,) = [ix for ix, m in zip(again, losers, strict=True) if m.id != stored.requester_id]
        told = await late.wait_followup()

    assert lost.count == 3  # the two at once, then the one too late the second time
    assert first.presser_id in {m.id for m in members}
    by_member = dict(zip((m.id for m in members), notes, strict=True))
    failed = by_member.pop(first.presser_id)
    assert failed.ephemeral
    assert str(USER_MESSAGES[1108]) in failed.content
    for note in by_member.values():
        assert note.ephemeral
        assert f"V2 was pressed by <@{first.presser_id}>" in note.content
        assert "that press did not start a job. " + str(USER_MESSAGES[1108]) in note.content
        assert note.content.endswith("You can press V2 again.")
        assert "starting" not in note.content
    assert world.akool.calls["createbybutton"] == 2
    assert stored.requester_id in {m.id for m in losers}
    assert pinged(announced) == [stored.requester_id]
    assert told.ephemeral
    assert f"V2 was already pressed by <@{stored.requester_id}>" in told.content
    assert f"job `{child.id}`" in told.content


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


async def test_an_unanswered_press_that_akool_took_is_never_sent_again(world: World):
    async with world.running() as bot:
        job_id, grid = await post_grid(world)
        # AKOOL starts the upscale, but its answer never arrives; nor does the grid's refresh
        # (the press's interaction expired meanwhile), so U3 still looks pressable.
        world.akool.inject(Fault(FaultKind.TIMEOUT, after=True, endpoint="createbybutton"))
        world.discord.fail_next(
            "PATCH", r"/messages/@original$", status=404, body={"code": 10062, "message": "x"}
        )
        first = await world.discord.click(world.bob, grid, custom_id(job_id, "U3"))
        unanswered = await first.wait_followup(timeout=15)
        u3 = dict(world.discord.button(grid, custom_id(job_id, "U3")))
        second = await world.discord.click(world.alice, grid, custom_id(job_id, "U3"))
        told = await second.wait_followup()
        press = await bot.store.get_press(job_id, "U3")

    assert "may or may not have been created" in unanswered.content
    assert not u3.get("disabled", False)
    assert world.akool.calls["createbybutton"] == 1  # never a second, paid, call
    assert "U3" in world.akool.jobs[job_id].used_buttons
    assert press is not None
    assert press.presser_id == world.bob.id
    assert told.ephemeral
    assert f"U3 was pressed by <@{world.bob.id}>" in told.content
    assert "did not start a job this bot can follow. AKOOL did not answer it in time." in (
        told.content
    )
    assert told.content.endswith("AKOOL counts U3 as used, so it cannot be pressed again.")


async def test_a_stale_claim_is_not_taken_over_by_a_member_the_buttons_refuse(world: World):
    async with world.running() as bot:
        job_id, grid = await post_grid(world)
        assert world.guild.id is not None
        only_requester = ServerSettings(buttons_for_everyone=False)
        await bot.store.save_server_settings(world.guild.id, only_requester, now=bot.clock())
        # Alice's own press of U1, left long ago by a process that died before asking AKOOL.
        await bot.store.claim_press(job_id, "U1", world.alice.id, now=bot.clock() - 2 * STALE_CLAIM)
        other = await world.discord.click(world.bob, grid, custom_id(job_id, "U1"))
        refusal = await other.wait_followup()
        presses = world.akool.calls["createbybutton"]
        own = await world.discord.click(world.alice, grid, custom_id(job_id, "U1"))
        announced = await world.wait_for_post(lambda m: "Upscale U1" in m.content)

    assert refusal.ephemeral
    assert f"only <@{world.alice.id}>" in refusal.content
    assert presses == 0
    assert (await own.wait_response()).type == 6
    assert world.akool.calls["createbybutton"] == 1
    assert pinged(announced) == [world.alice.id]


async def test_forged_button_for_an_unknown_job_is_refused(world: World):
    async with world.running() as bot:
        job_id, grid = await post_grid(world)
        # Point a real-looking button at a job this bot never stored.
        for row in grid.components:
            for component in row["components"]:
                component["custom_id"] = component["custom_id"].replace(job_id, "f" * 24)
        ix = await world.discord.click(world.bob, grid, custom_id("f" * 24, "U1"))
        answer = await ix.wait_response()
        claims = [await bot.store.get_press(job, "U1") for job in (job_id, "f" * 24)]

    assert answer.type == 4  # refused at once, nothing deferred
    assert answer.ephemeral
    assert "no record of that job" in answer.content
    assert world.akool.calls["createbybutton"] == 0
    assert claims == [None, None]
    assert world.akool.jobs[job_id].used_buttons == []
