"""What only the PostgreSQL store does: it wakes the other processes, and its request budget is
one for all of them."""

from __future__ import annotations

import asyncio
import time

from tests.store.conftest import Opener
from tests.store.test_store import T0, new_job


async def test_new_and_woken_jobs_wake_the_other_processes(open_postgres: Opener):
    store, listener = await open_postgres(), await open_postgres()
    woke = asyncio.Event()
    await listener.subscribe(woke.set)
    seen = []

    for change in (
        store.add_job(new_job(), now=T0, due_at=T0),
        store.make_due("a" * 24, now=T0 + 1),
    ):
        woke.clear()
        await change
        async with asyncio.timeout(5):
            await woke.wait()
        seen.append(woke.is_set())

    assert seen == [True, True]


async def test_the_request_budget_is_shared_by_every_process(open_postgres: Opener):
    stores = [await open_postgres() for _ in range(3)]
    budgets = [s.request_budget("akool-test", 50, 1) for s in stores]
    assert all(b is not None for b in budgets)

    started = time.monotonic()
    # 3 processes x 10 requests at 50 a second in all take about 0.6 s, not 0.2 s.
    await asyncio.gather(*(b.acquire() for b in budgets if b is not None for _ in range(10)))
    elapsed = time.monotonic() - started

    assert elapsed >= 29 / 50 * 0.95


async def test_only_a_request_leaving_no_headroom_takes_the_shared_reserve(open_postgres: Opener):
    store = await open_postgres()
    # One a second, three at once of which one is kept for requests with no headroom.
    budget = store.request_budget("akool-reserve", 1, 3)
    assert budget is not None
    assert not budget.cancel_safe

    started = time.monotonic()
    await budget.acquire(headroom=1)
    await budget.acquire(headroom=1)
    await budget.acquire(headroom=0)  # the reserve
    at_once = time.monotonic() - started
    await budget.acquire(headroom=1)
    then = time.monotonic() - started

    assert at_once < 0.9
    assert then >= 1.9  # the burst and the reserve spent, the next slot is two intervals on


async def test_the_sqlite_store_has_no_shared_budget(tmp_path):
    from bot.store.sqlite import SqliteJobStore

    async with await SqliteJobStore.open(tmp_path / "x.sqlite3") as store:
        # One process owns the file: a budget in memory is exact.
        assert store.request_budget("akool", 5, 1) is None


async def test_processes_starting_together_migrate_once(open_postgres: Opener):
    from bot.store import migrations

    stores = await asyncio.gather(*(open_postgres() for _ in range(3)))
    pool = stores[0]._pool  # type: ignore[attr-defined]
    versions = [row[0] for row in await pool.fetch("SELECT version FROM schema_version")]

    assert versions == [m.version for m in migrations.load("postgres")]


async def test_a_claim_skips_rows_another_process_is_claiming_and_never_waits(
    open_postgres: Opener,
):
    # Another process is part-way through claiming jobs 0 and 1 (its transaction holds their
    # rows): this process's claim takes the others at once, without waiting for it, and
    # without taking the rows it holds.
    store = await open_postgres()
    for n in range(4):
        await store.add_job(new_job(f"{n:024x}"), now=T0, due_at=T0)
    pool = store._pool  # type: ignore[attr-defined]
    async with pool.acquire() as other, other.transaction():
        await other.execute(
            "SELECT id FROM jobs WHERE akool_id = ANY($1::text[]) FOR UPDATE",
            [f"{0:024x}", f"{1:024x}"],
        )
        async with asyncio.timeout(5):
            claimed = await store.claim_due_jobs(T0, 10, hold=60)

    assert sorted(j.akool_id for j in claimed) == [f"{2:024x}", f"{3:024x}"]
