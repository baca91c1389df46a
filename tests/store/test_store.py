"""The job store, on SQLite and PostgreSQL alike: forward-only status, one winner per button,
claims that one process holds at a time, durable, shared replay and request ledgers."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from typing import Any

import asyncpg
import pytest

from bot.store import (
    Delivery,
    ImageRole,
    JobKind,
    JobStatus,
    KeptImage,
    Limits,
    NewJob,
    StatusUpdate,
)
from bot.store.base import JobStore
from tests.store.conftest import Opener

T0 = 1_700_000_000.0


def new_job(akool_id: str = "a" * 24, **overrides: Any) -> NewJob:
    base = NewJob(
        akool_id=akool_id,
        kind=JobKind.IMAGINE,
        requester_id=111,
        channel_id=222,
        guild_id=333,
        prompt="a red fox",
        scale="1:1",
    )
    return dataclasses.replace(base, **overrides)


async def test_add_job_returns_the_row_and_is_idempotent(store: JobStore):
    job, created = await store.add_job(new_job(), now=T0, due_at=T0 + 5)
    again, created_again = await store.add_job(
        new_job(prompt="other", channel_id=999), now=T0 + 1, due_at=None
    )

    assert created
    assert not created_again
    assert again == job
    assert job.status is JobStatus.QUEUED
    assert job.delivery is Delivery.PENDING
    assert job.kind is JobKind.IMAGINE
    assert (job.prompt, job.channel_id, job.due_at, job.created_at) == (
        "a red fox",
        222,
        T0 + 5,
        T0,
    )


ORDER = [JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.COMPLETED, JobStatus.FAILED]


@pytest.mark.parametrize(
    ("stored", "incoming", "applies"),
    [
        (JobStatus.QUEUED, JobStatus.QUEUED, True),
        (JobStatus.QUEUED, JobStatus.PROCESSING, True),
        (JobStatus.QUEUED, JobStatus.COMPLETED, True),
        (JobStatus.QUEUED, JobStatus.FAILED, True),
        (JobStatus.PROCESSING, JobStatus.QUEUED, False),
        (JobStatus.PROCESSING, JobStatus.PROCESSING, True),
        (JobStatus.PROCESSING, JobStatus.COMPLETED, True),
        (JobStatus.COMPLETED, JobStatus.QUEUED, False),
        (JobStatus.COMPLETED, JobStatus.PROCESSING, False),
        (JobStatus.COMPLETED, JobStatus.FAILED, False),
        (JobStatus.COMPLETED, JobStatus.COMPLETED, True),
        (JobStatus.FAILED, JobStatus.COMPLETED, False),
        (JobStatus.FAILED, JobStatus.PROCESSING, False),
    ],
)
async def test_status_only_moves_forward(store, stored, incoming, applies):
    await store.add_job(new_job(status=stored), now=T0, due_at=T0)

    result = await store.record_status(
        "a" * 24, StatusUpdate(incoming, image_url="https://x/1.png"), now=T0 + 1, due_at=T0 + 9
    )
    job = await store.get_job("a" * 24)

    assert (result is not None) is applies
    assert job is not None
    assert job.status is (incoming if applies else stored)
    assert job.due_at == (T0 + 9 if applies else T0)


async def test_same_status_refreshes_details(store: JobStore):
    await store.add_job(new_job(), now=T0, due_at=T0)
    done = StatusUpdate(JobStatus.COMPLETED, image_url="https://x/1.png", buttons=("U1", "V1"))
    await store.record_status("a" * 24, done, now=T0 + 1, due_at=T0 + 1)

    later = StatusUpdate(
        JobStatus.COMPLETED,
        upscaled_urls=("https://x/a.png",),
        buttons=("V1",),
        used_buttons=("U1",),
        credits=2,
    )
    job = await store.record_status("a" * 24, later, now=T0 + 2, due_at=T0 + 2)

    assert job is not None
    assert job.image_url == "https://x/1.png"  # kept: the later answer did not repeat it
    assert job.upscaled_urls == ("https://x/a.png",)
    assert job.buttons == ("V1",)
    assert job.used_buttons == ("U1",)
    assert job.credits == 2
    assert job.finished_at == T0 + 1  # the first time it finished


async def test_delivery_is_forward_only_and_clears_the_due_time(store: JobStore):
    await store.add_job(new_job(), now=T0, due_at=T0)
    await store.record_status("a" * 24, StatusUpdate(JobStatus.COMPLETED), now=T0, due_at=T0)

    first = await store.mark_delivered("a" * 24, 555, now=T0 + 1)
    second = await store.mark_delivered("a" * 24, 666, now=T0 + 2)
    undeliverable = await store.mark_undeliverable("a" * 24, "gone", now=T0 + 3)
    # A late poll after delivery must not make the job due again.
    await store.record_status("a" * 24, StatusUpdate(JobStatus.COMPLETED), now=T0 + 4, due_at=T0)
    job = await store.get_job("a" * 24)

    assert (first, second, undeliverable) == (True, False, False)
    assert job is not None
    assert job.delivery is Delivery.DELIVERED
    assert job.result_message_id == 555
    assert job.due_at is None
    assert await store.due_jobs(T0 + 100, 10) == []


async def test_record_failure_counts_attempts(store: JobStore):
    await store.add_job(new_job(), now=T0, due_at=T0)

    await store.record_failure("a" * 24, "HTTP 500", now=T0 + 1, due_at=T0 + 2)
    job = await store.record_failure("a" * 24, "timeout", now=T0 + 2, due_at=T0 + 4)
    ok = await store.record_status(
        "a" * 24, StatusUpdate(JobStatus.PROCESSING), now=T0 + 5, due_at=T0 + 6
    )

    assert job is not None
    assert (job.attempts, job.last_error, job.due_at) == (2, "timeout", T0 + 4)
    assert ok is not None
    assert (ok.attempts, ok.last_error) == (0, None)


async def test_due_jobs_in_due_order_with_limit(store: JobStore):
    for n, due_at in enumerate([T0 + 30, T0 + 10, None, T0 + 20, T0 + 99]):
        await store.add_job(new_job(f"{n:024x}"), now=T0, due_at=due_at)

    due = await store.due_jobs(T0 + 30, 2)

    assert [j.akool_id for j in due] == [f"{1:024x}", f"{3:024x}"]
    assert len(await store.due_jobs(T0 + 30, 10)) == 3
    assert await store.next_due_at() == T0 + 10


async def test_running_ages_are_the_newest_jobs_still_at_akool(store: JobStore):
    kinds = [JobKind.IMAGINE, JobKind.TRACK, JobKind.IMAGINE, JobKind.IMAGINE, JobKind.IMAGINE]
    for n, kind in enumerate(kinds):
        created = T0 + 10 * n
        await store.add_job(new_job(f"{n:024x}", kind=kind), now=created, due_at=created)
    await store.record_status(
        f"{3:024x}", StatusUpdate(JobStatus.COMPLETED), now=T0 + 50, due_at=T0 + 50
    )
    await store.record_status(
        f"{4:024x}", StatusUpdate(JobStatus.PROCESSING), now=T0 + 50, due_at=T0 + 55
    )

    # Finished and tracked jobs aside, newest first.
    assert await store.running_ages(T0 + 100, 10) == [60.0, 80.0, 100.0]
    assert await store.running_ages(T0 + 100, 2) == [60.0, 80.0]


async def test_next_due_at_is_none_when_idle(store: JobStore):
    assert await store.next_due_at() is None


async def test_status_message_is_remembered(store: JobStore):
    await store.add_job(new_job(), now=T0, due_at=T0)

    await store.set_status_message("a" * 24, 777, now=T0 + 1)

    job = await store.get_job("a" * 24)
    assert job is not None
    assert job.status_message_id == 777


async def test_recent_jobs_are_per_member_and_server_newest_first(store: JobStore):
    await store.add_job(new_job("a" * 24), now=T0, due_at=None)
    await store.add_job(new_job("ab" + "0" * 22), now=T0 + 1, due_at=None)
    await store.add_job(new_job("b" * 24), now=T0 + 2, due_at=None)
    await store.add_job(new_job("c" * 24, requester_id=999), now=T0 + 3, due_at=None)
    await store.add_job(new_job("d" * 24, guild_id=444), now=T0 + 4, due_at=None)

    recent = await store.recent_jobs(333, 111, limit=10)
    prefixed = await store.recent_jobs(333, 111, limit=10, prefix="a")
    wildcard = await store.recent_jobs(333, 111, limit=10, prefix="%")

    assert [j.akool_id for j in recent] == ["b" * 24, "ab" + "0" * 22, "a" * 24]
    assert [j.akool_id for j in prefixed] == ["ab" + "0" * 22, "a" * 24]
    assert wildcard == []


async def test_children_of_a_grid(store: JobStore):
    await store.add_job(new_job("a" * 24), now=T0, due_at=None)
    for n, button in enumerate(["U2", "V1"]):
        child = new_job(f"{n:024x}", kind=JobKind.BUTTON, parent_akool_id="a" * 24, button=button)
        await store.add_job(child, now=T0 + n, due_at=T0)

    children = await store.children("a" * 24)

    assert [(c.button, c.kind) for c in children] == [
        ("U2", JobKind.BUTTON),
        ("V1", JobKind.BUTTON),
    ]


async def test_child_needs_a_stored_parent(store: JobStore):
    orphan = new_job(kind=JobKind.BUTTON, parent_akool_id="f" * 24, button="U1")

    with pytest.raises(
        (sqlite3.IntegrityError, asyncpg.ForeignKeyViolationError), match=r"(?i)foreign key"
    ):
        await store.add_job(orphan, now=T0, due_at=None)


async def test_exactly_one_of_many_concurrent_presses_wins(open_store: Opener, store: JobStore):
    await store.add_job(new_job(), now=T0, due_at=None)
    # Two connections to one database, as two processes would have, pressing at once.
    async with await open_store() as other:
        claims = await asyncio.gather(
            *(
                (store if n % 2 else other).claim_press("a" * 24, "V3", 1000 + n, now=T0 + n)
                for n in range(20)
            )
        )

    winners = [c for c in claims if c.won]
    assert len(winners) == 1
    presser = winners[0].press.presser_id
    assert all(c.press.presser_id == presser for c in claims)


async def test_press_child_and_release(store: JobStore):
    await store.add_job(new_job(), now=T0, due_at=None)
    await store.claim_press("a" * 24, "U1", 1, now=T0)
    await store.claim_press("a" * 24, "U2", 2, now=T0)

    await store.set_press_child("a" * 24, "U1", "c" * 24)
    await store.release_press("a" * 24, "U1")  # started a job: must stay claimed
    await store.release_press("a" * 24, "U2")  # started nothing: free again
    again = await store.claim_press("a" * 24, "U2", 3, now=T0 + 1)
    u1 = await store.get_press("a" * 24, "U1")

    assert u1 is not None
    assert u1.child_akool_id == "c" * 24
    assert again.won
    assert again.press.presser_id == 3


async def test_data_survives_a_reopen(open_store: Opener):
    async with await open_store() as first:
        await first.add_job(new_job(), now=T0, due_at=T0 + 5)
        await first.record_status(
            "a" * 24,
            StatusUpdate(JobStatus.PROCESSING, buttons=("U1",)),
            now=T0 + 1,
            due_at=T0 + 6,
        )
        await first.claim_press("a" * 24, "U1", 42, now=T0 + 2)

    async with await open_store() as second:
        job = await second.get_job("a" * 24)
        press = await second.get_press("a" * 24, "U1")
        due = await second.due_jobs(T0 + 10, 10)

    assert job is not None
    assert (job.status, job.buttons, job.due_at) == (JobStatus.PROCESSING, ("U1",), T0 + 6)
    assert press is not None
    assert press.presser_id == 42
    assert [j.akool_id for j in due] == ["a" * 24]


async def test_ping(store: JobStore):
    assert await store.ping()
    await store.close()
    assert not await store.ping()


async def test_make_due_only_for_jobs_with_work_left(store: JobStore):
    await store.add_job(new_job("a" * 24), now=T0, due_at=T0 + 60)
    await store.add_job(new_job("b" * 24), now=T0, due_at=T0)
    await store.mark_delivered("b" * 24, 1, now=T0)

    woken = await store.make_due("a" * 24, now=T0 + 1)
    finished = await store.make_due("b" * 24, now=T0 + 1)
    unknown = await store.make_due("c" * 24, now=T0 + 1)

    assert woken is not None
    assert woken.due_at == T0 + 1
    assert finished is None
    assert unknown is None
    assert [j.akool_id for j in await store.due_jobs(T0 + 1, 10)] == ["a" * 24]


async def test_a_webhooks_word_stays_on_the_job_through_claim_and_record(store: JobStore):
    await store.add_job(new_job("a" * 24), now=T0, due_at=T0 + 60)
    await store.add_job(new_job("b" * 24), now=T0, due_at=T0)

    fresh = await store.get_job("a" * 24)
    await store.make_due("a" * 24, now=T0 + 1)
    claimed = await store.claim_due_jobs(T0 + 1, 10, hold=60)
    recorded = await store.record_statuses(
        [(job.akool_id, StatusUpdate(JobStatus.COMPLETED), T0 + 2) for job in claimed], now=T0 + 2
    )

    assert fresh is not None
    assert not fresh.announced
    assert {job.akool_id: job.announced for job in claimed} == {"a" * 24: True, "b" * 24: False}
    assert {job.akool_id: job.announced for job in recorded if job} == {
        "a" * 24: True,
        "b" * 24: False,
    }


async def test_lost_intents_are_the_commands_left_unanswered(store: JobStore):
    never_asked = await store.add_create_intent(111, 333, 222, "never asked", now=T0)
    asked = await store.add_create_intent(111, 333, 222, "asked", now=T0, akool_called_at=T0)
    stored = await store.add_create_intent(111, 333, 222, "stored", now=T0, akool_called_at=T0)
    answered = await store.add_create_intent(111, 333, 222, "answered", now=T0, akool_called_at=T0)
    recent = await store.add_create_intent(111, 333, 222, "recent", now=T0 + 100)
    assert None not in (never_asked, asked, stored, answered, recent)
    # "stored": its job was stored, but not its status message (the command's answer), when the
    # process died; "answered": the process died after answering, before dropping the intent.
    await store.add_job(new_job("s" * 24, intent_id=stored), now=T0, due_at=None)
    await store.add_job(new_job("d" * 24, intent_id=answered), now=T0, due_at=None)
    await store.set_status_message("d" * 24, 42, now=T0)

    found = await store.lost_create_intents(started_before=T0 + 50)
    for intent in found:
        await store.drop_create_intent(intent.id)
    after = await store.lost_create_intents(started_before=T0 + 200)

    assert [(i.id, i.prompt, i.akool_called_at, i.akool_id) for i in found] == [
        (never_asked, "never asked", None, None),
        (asked, "asked", T0, None),
        (stored, "stored", T0, "s" * 24),
    ]
    assert [(i.requester_id, i.guild_id, i.channel_id) for i in found] == [(111, 333, 222)] * 3
    # The answered intent went with the first look; only the recent one is left.
    assert [i.id for i in after] == [recent]


async def test_an_intent_keeps_its_interaction_reply_out_of_repr(store: JobStore):
    from bot.secret import Secret
    from bot.store import InteractionReply, ReplyBy

    token = "interaction-token-that-is-a-credential"
    reply = InteractionReply(98765, Secret(token), ReplyBy.EDIT)
    with_reply = await store.add_create_intent(
        111, 333, 222, "fox", now=T0, limits=LIMITS, reply=reply
    )
    without = await store.add_create_intent(111, 333, 222, "owl", now=T0)
    assert with_reply is not None
    assert without is not None

    found = {i.id: i for i in await store.lost_create_intents(started_before=T0 + 1)}

    assert found[with_reply].reply == reply
    assert found[with_reply].reply.token.reveal() == token  # type: ignore[union-attr]
    assert found[without].reply is None
    assert token not in repr(found[with_reply])


async def test_an_intent_ages_from_its_akool_call(store: JobStore):
    intent = await store.add_create_intent(111, 333, 222, "fox", now=T0)
    assert intent is not None
    assert await store.next_lost_intent_at(grace=5, press_grace=20) == T0 + 5

    marked = await store.mark_akool_call(intent, at=T0 + 60)
    # Asked of AKOOL a minute after the command: a look at T0 + 50 finds it under way.
    under_way = await store.lost_create_intents(started_before=T0 + 50)
    earliest = await store.next_lost_intent_at(grace=5, press_grace=20)
    assert await store.mark_akool_call(intent, at=None)  # AKOOL refused: it started nothing
    (lost,) = await store.lost_create_intents(started_before=T0 + 50)
    await store.drop_create_intent(intent)

    assert marked
    assert under_way == []
    assert earliest == T0 + 65
    assert lost.akool_called_at is None
    assert not await store.mark_akool_call(intent, at=T0 + 70)  # gone: AKOOL must not be asked
    assert await store.next_lost_intent_at(grace=5, press_grace=20) is None


async def test_an_intent_id_is_never_given_twice(store: JobStore):
    first = await store.add_create_intent(111, 333, 222, "first", now=T0, akool_called_at=T0)
    await store.add_job(new_job(intent_id=first), now=T0, due_at=None)
    await store.set_status_message("a" * 24, 42, now=T0)
    assert first is not None
    await store.drop_create_intent(first)  # answered

    second = await store.add_create_intent(111, 333, 222, "second", now=T0, akool_called_at=T0)
    lost = await store.lost_create_intents(started_before=T0 + 50)

    # Were the id given again, the first job would seem to answer the second command.
    assert second != first
    assert [(i.id, i.akool_id) for i in lost] == [(second, None)]


async def test_a_lost_intent_is_taken_up_by_exactly_one_process(
    open_store: Opener, store: JobStore
):
    ids = [await store.add_create_intent(111, 333, 222, f"p{n}", now=T0) for n in range(12)]
    async with await open_store() as other:
        # Every process's job loop looks at once, again and again.
        takes = await asyncio.gather(
            *(
                (store if n % 2 else other).claim_lost_intents(
                    started_before=T0 + 50, pressed_before=T0 + 50, now=T0 + 60, hold=30
                )
                for n in range(8)
            )
        )
        taken = [intent.id for take in takes for intent in take]
        held = await other.claim_lost_intents(
            started_before=T0 + 50, pressed_before=T0 + 50, now=T0 + 89, hold=30
        )
        # Answering one failed (Discord 5xx): it may be taken up again from T0 + 70.
        await store.retry_intent_answer(ids[0], at=T0 + 70)  # type: ignore[arg-type]
        too_soon = await other.claim_lost_intents(
            started_before=T0 + 50, pressed_before=T0 + 50, now=T0 + 69, hold=30
        )
        retried = await other.claim_lost_intents(
            started_before=T0 + 50, pressed_before=T0 + 50, now=T0 + 70, hold=30
        )
        # The answerers died: once the hold runs out, the rest are taken over, once.
        taken_over = await asyncio.gather(
            store.claim_lost_intents(
                started_before=T0 + 50, pressed_before=T0 + 50, now=T0 + 90, hold=30
            ),
            other.claim_lost_intents(
                started_before=T0 + 50, pressed_before=T0 + 50, now=T0 + 90, hold=30
            ),
        )

    assert sorted(taken) == sorted(ids)  # type: ignore[type-var]
    assert held == too_soon == []
    assert [intent.id for intent in retried] == [ids[0]]
    assert sorted(i.id for take in taken_over for i in take) == sorted(ids[1:])  # type: ignore[type-var]
    # Being answered: the member hears that nothing started, so AKOOL must never be asked.
    assert not await store.mark_akool_call(ids[1], at=T0 + 91)  # type: ignore[arg-type]


async def test_a_press_intent_keeps_its_claim_and_is_given_longer(store: JobStore):
    from bot.store import ButtonPress

    await store.add_job(new_job(), now=T0, due_at=None)
    claim = (await store.claim_press("a" * 24, "U2", 111, now=T0)).press
    never_asked = await store.add_create_intent(111, 333, 222, "a red fox", now=T0, claim=claim)
    asked = await store.add_create_intent(
        111, 333, 222, "a red fox", now=T0, claim=claim, akool_called_at=T0
    )
    create = await store.add_create_intent(111, 333, 222, "a red fox", now=T0, akool_called_at=T0)

    # A press asked of AKOOL may settle for longer than a create: it is lost only later.
    early = await store.claim_lost_intents(
        started_before=T0 + 10, pressed_before=T0 - 5, now=T0 + 10, hold=30
    )
    next_at = await store.next_lost_intent_at(grace=10, press_grace=25)
    late = await store.claim_lost_intents(
        started_before=T0 + 10, pressed_before=T0 + 10, now=T0 + 10, hold=30
    )
    all_held = await store.next_lost_intent_at(grace=10, press_grace=25)

    assert {i.id for i in early} == {never_asked, create}
    assert [i.id for i in late] == [asked]
    assert late[0].claim == ButtonPress("a" * 24, "U2", 111, T0, None)
    assert [i.claim for i in early if i.id == create] == [None]
    # The soonest was the press being asked (T0 + 25); those taken up wait for their holds.
    assert next_at == T0 + 25
    assert all_held == T0 + 40


async def test_a_release_at_a_moment_spares_a_later_claim(store: JobStore):
    await store.add_job(new_job(), now=T0, due_at=None)
    first = (await store.claim_press("a" * 24, "V1", 111, now=T0)).press
    await store.release_press("a" * 24, "V1", pressed_at=first.pressed_at)
    second = await store.claim_press("a" * 24, "V1", 222, now=T0 + 1)

    # A retry of the first release (its answer failed, say) must not free the second claim.
    await store.release_press("a" * 24, "V1", pressed_at=first.pressed_at)
    stands = await store.get_press("a" * 24, "V1")

    assert second.won
    assert stands == second.press


LIMITS = Limits(active=2, daily=3, since=T0 - 10)


async def test_intents_respect_the_active_limit(store: JobStore):
    first = await store.add_create_intent(111, 333, 222, "a", now=T0, limits=LIMITS)
    second = await store.add_create_intent(111, 333, 222, "b", now=T0, limits=LIMITS)
    third = await store.add_create_intent(111, 333, 222, "c", now=T0, limits=LIMITS)
    other_member = await store.add_create_intent(999, 333, 222, "d", now=T0, limits=LIMITS)
    other_server = await store.add_create_intent(111, 444, 222, "e", now=T0, limits=LIMITS)

    assert first is not None
    assert second is not None
    assert third is None
    assert other_member is not None
    assert other_server is not None
    usage = await store.member_usage(333, 111, since=LIMITS.since)
    assert (usage.active, usage.daily) == (2, 2)


async def test_finished_jobs_free_the_active_limit_but_not_the_daily_one(store: JobStore):
    for n in range(2):
        await store.add_job(new_job(f"{n:024x}"), now=T0 + n, due_at=None)
    assert await store.add_create_intent(111, 333, 222, "x", now=T0, limits=LIMITS) is None

    await store.record_status(f"{0:024x}", StatusUpdate(JobStatus.COMPLETED), now=T0, due_at=None)
    allowed = await store.add_create_intent(111, 333, 222, "y", now=T0, limits=LIMITS)
    await store.record_status(f"{1:024x}", StatusUpdate(JobStatus.FAILED), now=T0, due_at=None)
    over_daily = await store.add_create_intent(111, 333, 222, "z", now=T0, limits=LIMITS)
    usage = await store.member_usage(333, 111, since=LIMITS.since)

    assert allowed is not None
    assert over_daily is None
    assert (usage.active, usage.daily, usage.oldest_since) == (1, 3, T0)


async def test_tracked_jobs_do_not_count(store: JobStore):
    for n in range(5):
        await store.add_job(new_job(f"{n:024x}", kind=JobKind.TRACK), now=T0, due_at=None)

    assert await store.add_create_intent(111, 333, 222, "x", now=T0, limits=LIMITS) is not None


async def test_many_concurrent_intents_never_pass_the_limit(open_store: Opener, store: JobStore):
    async with await open_store() as other:
        results = await asyncio.gather(
            *(
                (store if n % 2 else other).add_create_intent(
                    111, 333, 222, f"p{n}", now=T0, limits=LIMITS
                )
                for n in range(20)
            )
        )

    assert len([r for r in results if r is not None]) == 2


async def test_queue_position_counts_unfinished_jobs_oldest_first(store: JobStore):
    for n in range(4):
        await store.add_job(new_job(f"{n:024x}", requester_id=n), now=T0 + n, due_at=None)
    await store.record_status(f"{0:024x}", StatusUpdate(JobStatus.COMPLETED), now=T0, due_at=None)

    positions = [await store.queue_position(f"{n:024x}") for n in range(4)]

    assert positions == [None, 1, 2, 3]


async def test_unfinished_jobs_are_those_not_posted_by_kind_and_status(store: JobStore):
    ids = [f"{n:024x}" for n in range(6)]
    await store.add_job(new_job(ids[0]), now=T0, due_at=T0)
    await store.add_job(new_job(ids[1]), now=T0, due_at=T0)
    await store.add_job(new_job(ids[2], kind=JobKind.BUTTON), now=T0, due_at=T0)
    await store.add_job(new_job(ids[3], kind=JobKind.TRACK), now=T0, due_at=T0)
    await store.add_job(new_job(ids[4]), now=T0, due_at=T0)
    await store.add_job(new_job(ids[5]), now=T0, due_at=T0)
    for job_id in ids[2:]:
        await store.record_status(job_id, StatusUpdate(JobStatus.COMPLETED), now=T0, due_at=T0)
    await store.record_status(ids[1], StatusUpdate(JobStatus.PROCESSING), now=T0, due_at=T0)
    await store.mark_delivered(ids[4], 1, now=T0)
    await store.mark_undeliverable(ids[5], "gone", now=T0)

    unfinished = await store.unfinished_jobs()

    assert sorted(unfinished) == sorted(
        [
            (JobKind.IMAGINE, JobStatus.QUEUED, 1),
            (JobKind.IMAGINE, JobStatus.PROCESSING, 1),
            (JobKind.BUTTON, JobStatus.COMPLETED, 1),
            (JobKind.TRACK, JobStatus.COMPLETED, 1),
        ]
    )


async def test_credits_spent_per_member(store: JobStore):
    await store.add_job(new_job("a" * 24, credits=2), now=T0 - 8 * 86400, due_at=None)
    await store.add_job(new_job("b" * 24, credits=2), now=T0, due_at=None)
    await store.add_job(new_job("c" * 24, credits=4, requester_id=5), now=T0, due_at=None)
    await store.add_job(new_job("d" * 24, credits=9, guild_id=444), now=T0, due_at=None)

    week = await store.credits_spent(333, since=T0 - 7 * 86400)
    ever = await store.credits_spent(333, since=None)

    assert week == [(5, 4), (111, 2)]
    assert ever == [(5, 4), (111, 4)]


async def test_server_settings_and_preferences_round_trip(store: JobStore):
    from bot.server_settings import ServerSettings

    default = await store.server_settings(333)
    changed = default.with_limits(active=5, daily=9).with_banned_word("Gore")
    await store.save_server_settings(333, changed, now=T0)
    await store.set_dm_notify(111, True, now=T0)

    assert default == ServerSettings()
    assert await store.server_settings(333) == changed
    assert await store.server_settings(444) == ServerSettings()
    assert await store.dm_notify(111) is True
    assert await store.dm_notify(112) is False
    await store.set_dm_notify(111, False, now=T0 + 1)
    assert await store.dm_notify(111) is False


async def test_history_pages(store: JobStore):
    for n in range(12):
        await store.add_job(new_job(f"{n:024x}"), now=T0 + n, due_at=None)

    first = await store.recent_jobs(333, 111, limit=10)
    second = await store.recent_jobs(333, 111, limit=10, offset=10)

    assert [j.akool_id for j in first][:2] == [f"{11:024x}", f"{10:024x}"]
    assert [j.akool_id for j in second] == [f"{1:024x}", f"{0:024x}"]
    assert await store.count_jobs(333, 111) == 12


async def test_a_claimed_job_is_nobody_elses_until_recorded(open_store: Opener, store: JobStore):
    for n in range(4):
        await store.add_job(new_job(f"{n:024x}"), now=T0, due_at=T0)
    other = await open_store()

    mine, theirs = await asyncio.gather(
        store.claim_due_jobs(T0, 3, hold=60), other.claim_due_jobs(T0, 3, hold=60)
    )
    left = await other.claim_due_jobs(T0 + 1, 10, hold=60)

    ids = [j.akool_id for j in [*mine, *theirs]]
    assert sorted(ids) == [f"{n:024x}" for n in range(4)]  # each job went to one claim
    assert left == []
    recorded = await store.record_status(
        ids[0], StatusUpdate(JobStatus.PROCESSING), now=T0 + 2, due_at=T0 + 5
    )
    assert recorded is not None
    assert recorded.due_at == T0 + 5  # released, due at its own next time
    assert [j.akool_id for j in await other.claim_due_jobs(T0 + 5, 10, hold=60)] == [ids[0]]


async def test_a_dead_holders_jobs_come_due_when_the_hold_runs_out(store: JobStore):
    await store.add_job(new_job(), now=T0, due_at=T0)
    await store.claim_due_jobs(T0, 10, hold=60)

    assert await store.claim_due_jobs(T0 + 59, 10, hold=60) == []
    assert await store.next_due_at() == T0 + 60
    assert [j.akool_id for j in await store.claim_due_jobs(T0 + 60, 10, hold=60)] == ["a" * 24]


async def test_a_webhook_for_a_held_job_has_it_looked_at_again_on_release(store: JobStore):
    await store.add_job(new_job(), now=T0, due_at=T0)
    await store.claim_due_jobs(T0, 10, hold=60)

    woken = await store.make_due("a" * 24, now=T0 + 1)
    still_held = await store.claim_due_jobs(T0 + 1, 10, hold=60)
    # The holder's poll began before the webhook and saw the job still processing.
    recorded = await store.record_status(
        "a" * 24, StatusUpdate(JobStatus.PROCESSING), now=T0 + 2, due_at=T0 + 30
    )

    assert woken is not None
    assert still_held == []
    assert recorded is not None
    assert recorded.due_at == T0 + 2  # due at once, not at T0 + 30


async def test_one_job_is_claimed_only_when_due_and_nobody_holds_it(
    open_store: Opener, store: JobStore
):
    other = await open_store()
    await store.add_job(new_job("a" * 24), now=T0, due_at=T0 + 10)

    early = await store.claim_job("a" * 24, now=T0 + 1, hold=60)
    await store.make_due("a" * 24, now=T0 + 1)  # a webhook said it finished
    claimed = await store.claim_job("a" * 24, now=T0 + 1, hold=60)
    again = await other.claim_job("a" * 24, now=T0 + 2, hold=60)
    in_batch = await other.claim_due_jobs(T0 + 2, 10, hold=60)
    unknown = await store.claim_job("b" * 24, now=T0 + 2, hold=60)

    assert early is None
    assert claimed is not None
    assert claimed.announced
    assert (again, in_batch, unknown) == (None, [], None)


async def test_a_failure_releases_the_hold(store: JobStore):
    await store.add_job(new_job(), now=T0, due_at=T0)
    await store.claim_due_jobs(T0, 10, hold=60)

    await store.record_failure("a" * 24, "timeout", now=T0 + 1, due_at=T0 + 4)

    assert [j.akool_id for j in await store.claim_due_jobs(T0 + 4, 10, hold=60)] == ["a" * 24]


async def test_a_callback_is_first_seen_once_per_window(open_store: Opener, store: JobStore):
    other = await open_store()

    first = await store.first_sighting("sig-1", now=T0, forget_before=T0 - 300)
    replay = await other.first_sighting("sig-1", now=T0 + 1, forget_before=T0 - 299)
    different = await other.first_sighting("sig-2", now=T0 + 1, forget_before=T0 - 299)
    long_after = await store.first_sighting("sig-1", now=T0 + 400, forget_before=T0 + 100)

    assert (first, replay, different, long_after) == (True, False, True, True)


async def test_a_claim_given_up_is_due_again_at_the_given_time(store: JobStore):
    await store.add_job(new_job(), now=T0, due_at=T0)
    await store.claim_due_jobs(T0, 10, hold=60)

    await store.release_claim("a" * 24, now=T0 + 1, due_at=T0 + 4)

    assert await store.next_due_at() == T0 + 4
    assert [j.akool_id for j in await store.claim_due_jobs(T0 + 4, 10, hold=60)] == ["a" * 24]


async def test_v3_create_gone_is_noted_once_for_every_process(open_store: Opener, store: JobStore):
    other = await open_store()
    assert not await store.v3_create_gone()

    noted = await asyncio.gather(*(s.note_v3_create_gone(now=T0) for s in (store, other, store)))
    restarted = await open_store()

    assert sorted(noted) == [False, False, True]  # one process learns it first, and logs it
    assert await other.v3_create_gone()
    assert await restarted.v3_create_gone()
    assert not await restarted.note_v3_create_gone(now=T0 + 5)


async def test_where_an_image_is_kept_is_remembered_per_job_and_role(
    open_store: Opener, store: JobStore
):
    await store.add_job(new_job("a" * 24), now=T0, due_at=None)
    await store.add_job(new_job("b" * 24), now=T0, due_at=None)
    # Discord's ids are 64-bit snowflakes, past what a 32-bit column holds.
    source = KeptImage(1 << 60, (1 << 60) + 1, (1 << 60) + 2, "fox.png")
    post = KeptImage(7, 8, 9, "a.png")
    repost = KeptImage(7, 10, 11, "a.png")

    await store.keep_image("a" * 24, ImageRole.SOURCE, source, now=T0)
    await store.keep_image("a" * 24, ImageRole.RESULT, post, now=T0)
    await store.keep_image("a" * 24, ImageRole.RESULT, repost, now=T0 + 1)  # the post went
    restarted = await open_store()

    assert await restarted.kept_image("a" * 24, ImageRole.SOURCE) == source
    assert await restarted.kept_image("a" * 24, ImageRole.RESULT) == repost
    assert await restarted.kept_image("b" * 24, ImageRole.SOURCE) is None
