"""A create intent's id is never given again: a job names its intent by id, so a reused id made
a create lost in a crash look fulfilled by an older job, and it vanished unreported."""

from __future__ import annotations

from bot.store.base import JobStore
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
