"""LOG_FORMAT=json end to end: the real bot's lines, one JSON object each, name the job, server,
channel and member of the job or interaction they are about."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from typing import Any

import pytest

from bot.logs import setup_logging
from tests.e2e.conftest import World


class Lines(io.StringIO):
    """The log stream, which a test can wait on for a line."""

    def __init__(self) -> None:
        super().__init__()
        self._written = asyncio.Event()

    def write(self, text: str) -> int:
        self._written.set()
        return super().write(text)

    async def wait_for(self, text: str, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while text not in self.getvalue():
                self._written.clear()
                await self._written.wait()


@pytest.fixture
def json_lines(world: World, restore_logging: None) -> Lines:
    stream = Lines()
    setup_logging(logging.INFO, world.settings.secrets, json_lines=True, stream=stream)
    return stream


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_lines_about_a_job_or_an_interaction_say_which(world: World, json_lines: Lines):
    async with world.running():
        await world.discord.slash_command(world.alice, world.channel, "imagine", {"prompt": "fox"})
        grid = await world.wait_for_post(lambda m: world.is_post(m) and bool(m.components))
        parent = str(grid.nonce)
        await world.discord.click(world.bob, grid, f"akool:v1:{parent}:U1")
        await world.wait_for_post(lambda m: "Upscale U1" in m.content)
        (child,) = [j for j, fake in world.akool.jobs.items() if fake.button == "U1"]
        await world.wait_for_post(world.is_post_of(child))
        # The post is recorded (and logged) just after Discord has it.
        await json_lines.wait_for(f"Delivered job {child}")

    lines = parsed(json_lines)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    where = {"server": str(world.guild.id), "channel": str(world.channel.id)}
    alice, bob = str(world.alice.id), str(world.bob.id)

    def about(job_id: str) -> list[dict[str, Any]]:
        return [
            line
            for line in lines
            if job_id in line["message"] and line["logger"].startswith(("bot.", "cogs."))
        ]

    # The bot's own lines about each job, from the command to the post, name it and its origin.
    (created,) = [line for line in about(parent) if "created by" in line["message"]]
    assert created | {**where, "job": parent, "member": alice} == created
    for job_id, member in ((parent, alice), (child, bob)):
        handled = [
            line for line in about(job_id) if line["logger"] in ("bot.job_loop", "bot.notifier")
        ]
        assert any("completed" in line["message"] for line in handled)
        assert any(line["message"].startswith("Delivered") for line in handled)
        for line in handled:
            assert line | {**where, "job": job_id, "member": member} == line, line
    # The press is logged in bob's interaction: his, in that server and channel.
    (pressed,) = [line for line in lines if "pressed U1" in line["message"]]
    assert pressed | {**where, "member": bob} == pressed
    # Lines about no job and no interaction carry none of the fields.
    (started,) = [line for line in lines if line["message"] == "Job loop started"]
    assert not {"job", "server", "channel", "member"} & set(started)
