"""What only the SQLite store does: its due query rides the partial index, and it releases every
hold when it opens (one process owns the file)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import sqlite as module
from bot.store.sqlite import SqliteJobStore
from tests.store.test_store import T0, new_job


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.sqlite3"


@pytest.fixture
async def sqlite_store(db_path: Path) -> AsyncIterator[SqliteJobStore]:
    async with await SqliteJobStore.open(db_path) as opened:
        yield opened


@pytest.mark.parametrize("sql", [module._DUE_JOBS, module._CLAIM_DUE])
async def test_the_due_queries_use_the_partial_index(
    sqlite_store: SqliteJobStore, db_path: Path, sql: str
):
    with sqlite3.connect(db_path) as raw:
        params = {"now": T0, "limit": 10, "until": T0 + 60} if ":now" in sql else (T0, 10)
        plan = raw.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()

    detail = " ".join(row[-1] for row in plan)
    assert "INDEX jobs_due" in detail
    assert "SCAN jobs" not in detail


@pytest.mark.parametrize("kind", ["grid", "upscale", "variation", "image"])
async def test_the_cost_sample_of_every_kind_uses_its_index(
    sqlite_store: SqliteJobStore, db_path: Path, kind: str
):
    with sqlite3.connect(db_path) as raw:
        sql = "SELECT " + module._median_cost(kind)
        plan = raw.execute("EXPLAIN QUERY PLAN " + sql, {"recent": 50}).fetchall()

    detail = " ".join(row[-1] for row in plan)
    assert "INDEX jobs_cost_sample" in detail
    assert "SCAN jobs" not in detail


async def test_opening_releases_what_a_stopped_process_held(db_path: Path):
    async with await SqliteJobStore.open(db_path) as first:
        await first.add_job(new_job(), now=T0, due_at=T0)
        held = await first.claim_due_jobs(T0, 10, hold=600)
        # The process dies here, holding the job for ten more minutes.

    async with await SqliteJobStore.open(db_path) as second:
        again = await second.claim_due_jobs(T0 + 1, 10, hold=600)

    assert [j.akool_id for j in held] == [j.akool_id for j in again] == ["a" * 24]


async def test_opening_releases_the_lost_commands_a_stopped_process_was_answering(db_path: Path):
    async with await SqliteJobStore.open(db_path) as first:
        intent = await first.add_create_intent(111, 333, 222, "a fox", now=T0, akool_called_at=T0)
        retried = await first.add_create_intent(111, 333, 222, "an owl", now=T0)
        taken = await first.claim_lost_intents(
            started_before=T0 + 10, pressed_before=T0 + 10, now=T0 + 10, hold=600
        )
        # Discord refused the one answer for now: it is to be tried again a minute later.
        await first.retry_intent_answer(retried, at=T0 + 70)  # type: ignore[arg-type]
        # The process dies here, answering the other, with ten minutes of its hold to run.

    async with await SqliteJobStore.open(db_path) as second:
        next_at = await second.next_lost_intent_at(grace=5, press_grace=20)
        # Taken up once, so the member hears that it was lost: AKOOL must still never be asked.
        asked = await second.mark_akool_call(retried, at=T0 + 11)  # type: ignore[arg-type]
        again = await second.claim_lost_intents(
            started_before=T0 + 11, pressed_before=T0 + 11, now=T0 + 11, hold=600
        )

    assert not asked
    assert next_at == T0 + 5
    assert sorted(i.id for i in taken) == sorted(i.id for i in again) == sorted([intent, retried])  # type: ignore[type-var]
