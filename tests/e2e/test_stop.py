"""A stop lets the members being answered be answered before it closes what their answers use.

Each test holds the one request that marks the moment (the fake Discord keeps the bot's answer
waiting) and stops the bot while it waits, as a deploy's SIGTERM would.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from bot.core import DRAIN_TIMEOUT
from tests.e2e.conftest import World, replied_to

ORIGINAL = r"^/webhooks/\d+/[^/]+/messages/@original$"
CHANNEL_POST = r"^/channels/\d+/messages$"
WITHIN = 10.0


class StopNotes(logging.Handler):
    """What ``bot.in_flight`` says while the bot stops."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.waiting = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        if record.getMessage().startswith("Waiting for"):
            self.waiting.set()


@pytest.fixture
def notes() -> Iterator[StopNotes]:
    logger = logging.getLogger("bot.in_flight")
    handler, level = StopNotes(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_a_stop_lets_a_command_being_answered_finish_its_answer(
    world: World, notes: StopNotes
):
    async with world.running() as bot:
        # The job is made and recorded; the member's "Queued" answer is on its way.
        held = world.discord.hold_next("PATCH", ORIGINAL, after=False)
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a fox at closing time"}
        )
        await held.wait_reached()
        stopping = asyncio.create_task(bot.close())
        async with asyncio.timeout(WITHIN):
            await notes.waiting.wait()
        assert not stopping.done()

        held.release()
        async with asyncio.timeout(WITHIN):
            await stopping
        queued = await ix.wait_original_edit(lambda m: "Queued" in m.content)

    (job_id,) = world.akool.jobs
    assert job_id in queued.content
    assert notes.lines == ["Waiting for 1 interaction(s) to be answered"]


async def test_a_stop_lets_a_press_being_answered_finish_its_answer(world: World, notes: StopNotes):
    async with world.running() as bot:
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a fox to press"}
        )
        await ix.wait_original_edit(lambda m: "Queued" in m.content)
        (job_id,) = world.akool.jobs
        world.akool.finish(job_id)
        post = await world.wait_for_post(world.is_post_of(job_id))
        # The variation is made and recorded; the reply announcing it is on its way.
        held = world.discord.hold_next(
            "POST", CHANNEL_POST, after=False, when=lambda body: "Variation V2" in str(body)
        )
        press = await world.discord.click(world.bob, post, f"akool:v1:{job_id}:V2")
        await held.wait_reached()
        stopping = asyncio.create_task(bot.close())
        async with asyncio.timeout(WITHIN):
            await notes.waiting.wait()

        held.release()
        async with asyncio.timeout(WITHIN):
            await stopping
        announced = await world.wait_for_post(lambda m: "Variation V2" in m.content)

    assert (await press.wait_response()).type == 6
    assert replied_to(announced) == post.id
    assert notes.lines == ["Waiting for 1 interaction(s) to be answered"]


async def test_a_stop_waits_no_longer_than_its_grace_for_an_answer_that_never_ends(
    world: World, notes: StopNotes
):
    async with world.running() as bot:
        held = world.discord.hold_next("PATCH", ORIGINAL, after=False)
        await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a fox that never hears back"}
        )
        await held.wait_reached()
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with asyncio.timeout(WITHIN):
            await bot.close()
        took = loop.time() - started

    assert notes.lines == [
        "Waiting for 1 interaction(s) to be answered",
        "Stopping with 1 interaction(s) not yet answered",
    ]
    assert took >= DRAIN_TIMEOUT  # it did wait, for the grace and no more than WITHIN
