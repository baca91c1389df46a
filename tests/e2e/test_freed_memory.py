"""The running bot hands what bursts freed back to the system (bot.memory), until it closes."""

from __future__ import annotations

import asyncio

import pytest

from bot.memory import FreedMemory
from tests.e2e.conftest import World


async def test_the_running_bot_hands_freed_memory_back_until_it_closes(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    trimmed = asyncio.Event()

    def often(cls: type[FreedMemory]) -> FreedMemory:
        return cls(every=0.01, trim=trimmed.set)

    monkeypatch.setattr(FreedMemory, "of_this_process", classmethod(often))

    async with world.running():
        await asyncio.wait_for(trimmed.wait(), timeout=10)

    assert not [t for t in asyncio.all_tasks() if t.get_name() == "freed-memory"]
