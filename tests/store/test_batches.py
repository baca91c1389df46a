"""v4 batches in the store, on SQLite and PostgreSQL alike: n image rows stored together, read
back in batch order, with the API and the member's options on every row."""

from __future__ import annotations

import sqlite3
from typing import Any

import asyncpg
import pytest

from bot.store import CreateOptions, Delivery, JobKind, JobStatus, NewJob, StatusUpdate
from bot.store.base import JobStore
from tests.store.test_store import LIMITS, T0, new_job

LEAD = "b" * 24
OPTIONS = CreateOptions(count=3, resolution="4k", negative="no text", similarity=0.25)


def batch_rows(lead: str = LEAD, n: int = 3, **overrides: Any) -> list[NewJob]:
    ids = [lead, *(f"{lead[:-2]}{i:02d}" for i in range(1, n))]
    return [
        new_job(
            akool_id,
            api="v4",
            batch_akool_id=lead,
            batch_index=index,
            options=OPTIONS,
            intent_id=None,
            **overrides,
        )
        for index, akool_id in enumerate(ids)
    ]


async def test_a_batch_is_stored_and_read_back_in_order(store: JobStore):
    rows = batch_rows()
    # Stored out of order: the batch is read back by its index.
    added = await store.add_batch([rows[0], rows[2], rows[1]], now=T0, due_at=T0 + 5)

    assert [new for _, new in added] == [True, True, True]
    batch = await store.batch(LEAD)
    assert [job.akool_id for job in batch] == [row.akool_id for row in rows]
    assert [job.batch_index for job in batch] == [0, 1, 2]
    assert {(job.api, job.batch_akool_id, job.options) for job in batch} == {("v4", LEAD, OPTIONS)}
    lead = await store.get_job(LEAD)
    assert lead is not None
    assert lead.is_batch_lead
    assert lead.in_batch
    assert not batch[1].is_batch_lead
    assert batch[1].due_at == T0 + 5


async def test_storing_a_batch_again_changes_nothing(store: JobStore):
    first = await store.add_batch(batch_rows(), now=T0, due_at=T0 + 5)
    again = await store.add_batch(batch_rows(prompt="other"), now=T0 + 1, due_at=None)

    assert [new for _, new in again] == [False, False, False]
    assert [job for job, _ in again] == [job for job, _ in first]


async def test_a_batch_is_stored_whole_or_not_at_all(store: JobStore):
    rows = batch_rows()
    # The last image names a parent that does not exist: the whole batch is refused.
    broken = [*rows[:2], new_job(rows[2].akool_id, parent_akool_id="f" * 24, button="V1")]

    with pytest.raises((sqlite3.IntegrityError, asyncpg.ForeignKeyViolationError)):
        await store.add_batch(broken, now=T0, due_at=T0)

    assert await store.batch(LEAD) == []
    assert await store.get_job(LEAD) is None


async def test_a_v3_job_and_a_single_image_lead_no_batch(store: JobStore):
    grid, _ = await store.add_job(new_job("c" * 24), now=T0, due_at=None)
    single, _ = await store.add_job(
        new_job("d" * 24, kind=JobKind.TRACK, api="v4"), now=T0, due_at=None
    )

    assert (grid.api, grid.batch_akool_id, grid.batch_index, grid.options) == (
        "v3",
        None,
        None,
        None,
    )
    assert single.api == "v4"
    assert not single.in_batch
    assert await store.batch("c" * 24) == []


def test_options_survive_their_json_and_bad_json_is_none():
    assert CreateOptions.from_json(OPTIONS.to_json()) == OPTIONS
    bare = CreateOptions(count=4, resolution="1080p")
    assert CreateOptions.from_json(bare.to_json()) == bare
    assert CreateOptions.from_json(None) is None
    assert CreateOptions.from_json("not json") is None
    assert CreateOptions.from_json('{"count": 2}') is None


async def test_a_finished_image_waits_for_its_batch_out_of_the_due_index(store: JobStore):
    rows = batch_rows()
    await store.add_batch(rows, now=T0, due_at=T0)
    first = rows[1].akool_id
    await store.record_status(first, StatusUpdate(JobStatus.COMPLETED), now=T0, due_at=T0)
    # An unfinished image never waits: it is still to be polled.
    await store.wait_for_batch(LEAD, now=T0 + 1)
    await store.wait_for_batch(first, now=T0 + 1)

    due = await store.due_jobs(T0 + 100, 10)
    assert {job.akool_id for job in due} == {LEAD, rows[2].akool_id}
    waiting = await store.get_job(first)
    assert waiting is not None
    assert (waiting.due_at, waiting.delivery) == (None, Delivery.PENDING)


async def test_a_batch_is_delivered_once_on_every_image(store: JobStore):
    await store.add_batch(batch_rows(), now=T0, due_at=T0)

    first = await store.mark_batch_delivered(LEAD, 777, now=T0 + 1)
    again = await store.mark_batch_delivered(LEAD, 888, now=T0 + 2)
    late = await store.mark_batch_undeliverable(LEAD, "gone", now=T0 + 3)

    assert (first, again, late) == (True, False, False)
    batch = await store.batch(LEAD)
    assert {(job.delivery, job.result_message_id, job.due_at) for job in batch} == {
        (Delivery.DELIVERED, 777, None)
    }


async def test_a_batch_given_up_on_is_undeliverable_on_every_image(store: JobStore):
    await store.add_batch(batch_rows(), now=T0, due_at=T0)

    assert await store.mark_batch_undeliverable(LEAD, "no channel", now=T0 + 1)
    assert not await store.mark_batch_delivered(LEAD, 777, now=T0 + 2)
    assert {job.delivery for job in await store.batch(LEAD)} == {Delivery.UNDELIVERABLE}


async def test_a_batch_is_one_job_in_a_members_history(store: JobStore):
    await store.add_job(new_job("c" * 24), now=T0, due_at=None)
    await store.add_batch(batch_rows(), now=T0 + 1, due_at=None)

    recent = await store.recent_jobs(333, 111, limit=10)

    assert [job.akool_id for job in recent] == [LEAD, "c" * 24]
    assert await store.count_jobs(333, 111) == 2


async def test_a_batch_is_one_place_in_line(store: JobStore):
    await store.add_job(new_job("c" * 24), now=T0, due_at=None)
    await store.add_batch(batch_rows(), now=T0 + 1, due_at=None)
    await store.add_job(new_job("d" * 24), now=T0 + 2, due_at=None)

    assert await store.queue_position(LEAD) == 2
    assert await store.queue_position("d" * 24) == 3


async def test_a_batch_counts_once_against_the_members_limits(store: JobStore):
    # LIMITS: two unfinished, three a day.
    rows = batch_rows(n=4)
    await store.add_batch(rows, now=T0, due_at=None)
    # Its first image done, the rest still at AKOOL: the batch is still one unfinished job.
    await store.record_status(LEAD, StatusUpdate(JobStatus.COMPLETED), now=T0, due_at=None)
    usage = await store.member_usage(333, 111, since=LIMITS.since)
    second = await store.add_create_intent(111, 333, 222, "second", now=T0, limits=LIMITS)
    third = await store.add_create_intent(111, 333, 222, "third", now=T0, limits=LIMITS)

    assert (usage.active, usage.daily) == (1, 1)
    assert second is not None
    assert third is None  # the batch and "second": two unfinished
