"""A torn-down world frees what it made: nothing outlives the test that built it.

Anything still reachable after a test stays on the heap for the rest of the process, so every
later full collection has to walk it. Over a few hundred tests that made gen-2 pauses of seconds,
long enough to miss Discord's 3 s interaction deadline in tests that are otherwise correct.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from tests.e2e.conftest import make_world, unwanted_pings
from tests.fakes.akool import FakeAkool
from tests.fakes.discord import FakeDiscord


async def _one_imagine(tmp_path: Path) -> list[weakref.ref[object]]:
    """Run a bot through an /imagine to its post, tear everything down, return weak refs."""
    async with FakeAkool() as akool, make_world(akool, tmp_path) as world:
        async with world.running() as bot:
            ix = await world.discord.slash_command(
                world.alice, world.channel, "imagine", {"prompt": "a red fox"}
            )
            await ix.wait_original_edit(lambda m: "Queued" in m.content)
            (job_id,) = world.akool.jobs
            await world.wait_for_post(world.is_post_of(job_id))
        assert world.runtime is not None
        refs: list[weakref.ref[object]] = [
            weakref.ref(bot),
            weakref.ref(world.runtime.web),
            weakref.ref(world.discord),
            weakref.ref(akool),
        ]
        # The autouse ping check would keep this fake alive to the end of the test: check it
        # here and let it go.
        assert unwanted_pings(world.discord) == []
        FakeDiscord.made.remove(world.discord)
    return refs


async def test_a_torn_down_world_leaves_no_bot_server_or_fake_behind(tmp_path: Path) -> None:
    refs = await _one_imagine(tmp_path)
    gc.collect()
    alive = [ref() for ref in refs if ref() is not None]
    assert alive == [], f"still reachable after teardown: {[type(o).__name__ for o in alive]}"
