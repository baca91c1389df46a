"""Answers are written as they come; those that come during a write share the next one."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest.mock import create_autospec

import pytest

from bot.status_writer import StatusWriter
from bot.store import JobStatus, StatusUpdate
from bot.store.base import JobStore
from tests.clock import Clock

PROCESSING = StatusUpdate(JobStatus.PROCESSING)


class HeldWrites:
    """``record_statuses`` that notes each write's ids and keeps the first one until released."""

    def __init__(self, store: JobStore) -> None:
        self.writes: list[list[str]] = []
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        store.record_statuses.side_effect = self.write  # type: ignore[attr-defined]

    async def write(self, updates, *, now):
        self.writes.append([akool_id for akool_id, _, _ in updates])
        if len(self.writes) == 1:
            self.started.set()
            await self.release.wait()
        return [f"recorded {akool_id}" for akool_id, _, _ in updates]


@pytest.fixture
def store() -> Any:
    return create_autospec(JobStore, instance=True)


async def test_a_lone_answer_is_written_at_once(store):
    store.record_statuses.return_value = ["recorded a"]
    writer = StatusWriter(store, Clock())

    recorded: Any = await writer.record("a", PROCESSING, 1.0)
    assert recorded == "recorded a"
    store.record_statuses.assert_awaited_once_with([("a", PROCESSING, 1.0)], now=Clock().now)


async def test_answers_that_come_during_a_write_share_the_next_one(store):
    held = HeldWrites(store)
    writer = StatusWriter(store, Clock())
    first = asyncio.create_task(writer.record("a", PROCESSING, 1.0))
    async with asyncio.timeout(5):
        await held.started.wait()
    later = [asyncio.create_task(writer.record(i, PROCESSING, 1.0)) for i in "bcde"]
    # The later answers are queued before the held write resumes: tasks run in creation order.
    held.release.set()

    results: list[Any] = await asyncio.gather(first, *later)

    assert held.writes == [["a"], ["b", "c", "d", "e"]]
    assert results == [f"recorded {i}" for i in "abcde"]


async def test_a_failed_write_fails_its_answers_only(store):
    store.record_statuses.side_effect = [RuntimeError("disk full"), ["recorded b"]]
    writer = StatusWriter(store, Clock())

    with pytest.raises(RuntimeError):
        await writer.record("a", PROCESSING, 1.0)
    recorded: Any = await writer.record("b", PROCESSING, 1.0)
    assert recorded == "recorded b"
