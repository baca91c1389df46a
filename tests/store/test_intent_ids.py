"""A create intent's id is never given again: a job names its intent by id, so a reused id made
a create lost in a crash look fulfilled by an older job, and it vanished unreported."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store import migrations
from bot.store.base import JobStore
from bot.store.sqlite import SqliteJobStore
from tests.store.test_store import T0, new_job


async def test_a_lost_create_is_reported_after_a_fulfilled_one_was_dropped(store: JobStore):
    fulfilled = await store.add_create_intent(111, 333, 222, "fulfilled fox", now=T0)
    assert fulfilled is not None
    await store.add_job(new_job(intent_id=fulfilled), now=T0, due_at=None)
    await store.drop_create_intent(fulfilled)
    lost = await store.add_create_intent(111, 333, 222, "lost fox", now=T0)

    found = await store.lost_create_intents(started_before=T0 + 50)

    assert lost != fulfilled
    assert [(i.id, i.prompt) for i in found] == [(lost, "lost fox")]
    assert (await store.member_usage(333, 111, since=T0 - 10)).active == 2  # the job and "lost"


async def test_the_migration_starts_new_ids_above_those_jobs_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "bot.sqlite3"
    every = migrations.load("sqlite")
    before = [m for m in every if m.name != "intent_ids_never_reused"]
    assert len(before) == len(every) - 1
    # A database from before the fix: job 7's intent is gone, the ids below it too.
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "load", lambda dialect: before)
        async with await SqliteJobStore.open(path) as old:
            for n in range(7):
                await old.add_create_intent(111, 333, 222, f"fox {n}", now=T0)
            await old.add_job(new_job(intent_id=7), now=T0, due_at=None)
            for n in range(1, 8):
                await old.drop_create_intent(n)

    async with await SqliteJobStore.open(path) as store:
        lost = await store.add_create_intent(111, 333, 222, "lost fox", now=T0)
        found = await store.lost_create_intents(started_before=T0 + 50)

    assert lost is not None
    assert lost > 7
    assert [i.prompt for i in found] == ["lost fox"]
