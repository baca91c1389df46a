"""Credit caps in the store, on SQLite and PostgreSQL alike: what counts against them, the
expected cost of each kind of job, and creates and presses at once that cannot pass a cap
together (also from two processes, also with the member limits)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from bot.store import ButtonPress, Caps, JobKind, JobStatus, Limits, NewJob, StatusUpdate
from bot.store.base import JobStore
from tests.store.conftest import Opener

T0 = 1_700_000_000.0
DAY = 86_400.0


def caps(**overrides: Any) -> Caps:
    return dataclasses.replace(
        Caps(account=None, server=None, since=T0 - DAY, default_cost=2), **overrides
    )


def job(n: int, **overrides: Any) -> NewJob:
    base = NewJob(
        akool_id=f"{n:024x}",
        kind=JobKind.IMAGINE,
        requester_id=111,
        channel_id=222,
        guild_id=333,
        credits=2,
    )
    return dataclasses.replace(base, **overrides)


def press(button: str, n: int = 0) -> ButtonPress:
    return ButtonPress(f"{n:024x}", button, 111, T0, None)


async def test_spent_and_reserved_count_as_admission_counts_them(store: JobStore):
    await store.add_job(job(1, credits=3), now=T0 - 10, due_at=None)  # spent
    await store.add_job(job(2, credits=None), now=T0 - 10, due_at=None)  # unfinished: held 2
    await store.add_job(job(3, credits=None), now=T0 - 10, due_at=None)  # failed: costs nothing
    await store.record_status(job(3).akool_id, StatusUpdate(JobStatus.FAILED), now=T0, due_at=None)
    await store.add_job(job(4, credits=9), now=T0 - 2 * DAY, due_at=None)  # aged out
    await store.add_job(job(5, credits=9, kind=JobKind.TRACK), now=T0, due_at=None)  # free
    await store.add_job(job(6, credits=4, guild_id=444), now=T0 - 10, due_at=None)  # elsewhere
    await store.add_create_intent(111, 333, 222, "under way", now=T0)  # held: a grid, 3

    usage = await store.credit_usage(333, button=None, caps=caps())
    reported = await store.reported_credits(333, since=T0 - DAY)
    everywhere = await store.reported_credits(None, since=T0 - DAY)

    # The expected cost of a grid: the median of the reported 3, 4 (and 9 9, 9 tracked left
    # out of the window but not of the sample): 3, 4, 9 -> 4.
    assert usage.cost == 4
    assert usage.server is not None
    assert (usage.server.spent, usage.server.reserved) == (3, 4 + 4)
    assert (usage.account.spent, usage.account.reserved) == (3 + 4, 4 + 4)
    assert reported == [(T0 - 10, 3)]
    assert sorted(everywhere) == [(T0 - 10, 3), (T0 - 10, 4)]


async def test_the_expected_cost_is_the_median_of_the_recent_jobs_of_its_kind(store: JobStore):
    for n, credits in enumerate([50, 1, 1, 7]):  # the oldest is past the sample of 3
        await store.add_job(job(n, credits=credits), now=T0 + n, due_at=None)
    await store.add_job(job(10, kind=JobKind.BUTTON, button="U2", credits=6), now=T0, due_at=None)
    await store.add_job(job(11, kind=JobKind.BUTTON, button="U3", credits=8), now=T0, due_at=None)
    sample = caps(recent=3)

    grid = await store.credit_usage(333, button=None, caps=sample)
    reroll = await store.credit_usage(333, button="reroll", caps=sample)
    upscale = await store.credit_usage(333, button="U1", caps=sample)
    variation = await store.credit_usage(333, button="V1", caps=sample)

    assert (grid.cost, reroll.cost) == (1, 1)
    assert upscale.cost == 8  # the upper one of an even count
    assert variation.cost == 2  # none reported yet: the documented figure


async def test_a_create_is_written_only_within_every_cap(store: JobStore):
    await store.add_job(job(1, credits=6), now=T0 - 10, due_at=None)
    await store.add_job(job(2, credits=6, guild_id=444), now=T0 - 10, due_at=None)

    # Both servers' jobs count for the account; the median of 6 and 6 is this one's cost.
    over_account = await store.add_create_intent(111, 333, 222, "a", now=T0, caps=caps(account=17))
    within_account = await store.add_create_intent(
        111, 333, 222, "b", now=T0, caps=caps(account=18)
    )
    # Only its own server counts for a server's cap (6 + the intent above, 6, + 6).
    over_server = await store.add_create_intent(111, 333, 222, "c", now=T0, caps=caps(server=17))
    within_server = await store.add_create_intent(111, 444, 222, "d", now=T0, caps=caps(server=12))

    assert over_account is None
    assert within_account is not None
    assert over_server is None
    assert within_server is not None


async def test_a_press_costs_what_its_kind_costs(store: JobStore):
    await store.add_job(job(1, credits=2), now=T0 - 10, due_at=None)
    await store.add_job(job(2, kind=JobKind.BUTTON, button="U1", credits=5), now=T0, due_at=None)

    upscale = await store.add_create_intent(
        111, 333, 222, "U2", now=T0, caps=caps(account=11), claim=press("U2")
    )
    variation = await store.add_create_intent(
        111, 333, 222, "V1", now=T0, caps=caps(account=11), claim=press("V1")
    )

    assert upscale is None  # 7 spent + 5 expected > 11
    assert variation is not None  # 7 + the documented 2 fit


def image(n: int, **overrides: Any) -> NewJob:
    """One image of a v4 batch (the batch itself plays no part in what it costs)."""
    return job(n, api="v4", batch_akool_id=f"{n:024x}", batch_index=0, **overrides)


async def test_a_v4_order_costs_its_images_times_the_median_image(store: JobStore):
    for n, credits in enumerate([3, 1, 3]):
        await store.add_job(image(n, credits=credits), now=T0 - 10 + n, due_at=None)
    # A grid's and a v4 variation's credits are no image's (and the reverse).
    await store.add_job(job(10, credits=9), now=T0 - 5, due_at=None)
    await store.add_job(image(11, button="V2", credits=3), now=T0 - 4, due_at=None)

    four = await store.credit_usage(333, button=None, caps=caps(), images=4)
    grid = await store.credit_usage(333, button=None, caps=caps())
    pressed = await store.credit_usage(333, button="V1", caps=caps(), images=2)

    assert four.cost == 4 * 3  # the median of 1, 3, 3, 3
    assert grid.cost == 9
    assert pressed.cost == 2 * 3  # a V of a batch makes v4 images: an image's cost


async def test_before_any_v4_image_reported_one_costs_the_documented_credit(store: JobStore):
    await store.add_job(job(1, credits=5), now=T0 - 10, due_at=None)  # a grid: not an image

    usage = await store.credit_usage(333, button=None, caps=caps(), images=3)

    assert usage.cost == 3 * 1


async def test_unfinished_images_and_a_v4_order_under_way_hold_their_images(store: JobStore):
    await store.add_job(image(1, credits=2), now=T0 - 10, due_at=None)  # spent; the median
    await store.add_job(image(2, credits=None), now=T0 - 10, due_at=None)  # held: one image
    await store.add_create_intent(111, 333, 222, "four", now=T0, images=4)  # held: four

    usage = await store.credit_usage(333, button=None, caps=caps())

    assert usage.server is not None
    assert (usage.server.spent, usage.server.reserved) == (2, 2 + 4 * 2)


async def test_a_cap_holds_a_v4_order_of_n_images(store: JobStore):
    await store.add_job(job(1, credits=2), now=T0 - 10, due_at=None)  # a grid: 2 spent

    room = caps(server=5)  # room for 3 more credits: 3 images at the documented 1
    four = await store.add_create_intent(111, 333, 222, "four", now=T0, caps=room, images=4)
    three = await store.add_create_intent(111, 333, 222, "three", now=T0, caps=room, images=3)
    one = await store.add_create_intent(111, 333, 222, "one", now=T0, caps=room, images=1)

    assert four is None
    assert three is not None
    assert one is None  # the three held fill the cap


async def racing(open_store: Opener, store: JobStore, **kwargs: Any) -> list[int | None]:
    """Twenty creates and presses at once, from two processes, by twenty members."""
    async with await open_store() as other:
        return await asyncio.gather(
            *(
                (store if n % 2 else other).add_create_intent(
                    1000 + n,
                    333 if n % 4 < 2 else 444,
                    222,
                    f"p{n}",
                    now=T0,
                    claim=press(f"U{n % 4 + 1}", n) if n % 3 == 0 else None,
                    **kwargs,
                )
                for n in range(20)
            )
        )


async def test_creates_and_presses_at_once_never_pass_the_account_cap(
    open_store: Opener, store: JobStore
):
    results = await racing(open_store, store, caps=caps(account=10))

    assert len([r for r in results if r is not None]) == 5


async def test_creates_and_presses_at_once_never_pass_a_server_cap(
    open_store: Opener, store: JobStore
):
    results = await racing(open_store, store, caps=caps(server=6))
    written = [n for n, r in enumerate(results) if r is not None]

    assert len([n for n in written if n % 4 < 2]) == 3  # server 333
    assert len([n for n in written if n % 4 >= 2]) == 3  # server 444


async def test_caps_and_member_limits_at_once_pass_neither_and_never_deadlock(
    open_store: Opener, store: JobStore
):
    """Both caps and the member limits, each taking its lock: one member's six creates and
    others' at once end with nobody past a limit and nothing waiting on anything."""
    limits = Limits(active=2, daily=10, since=T0 - DAY)
    both = caps(account=16, server=10)
    async with await open_store() as other:
        results = await asyncio.wait_for(
            asyncio.gather(
                *(
                    (store if n % 2 else other).add_create_intent(
                        111 if n < 6 else 1000 + n,
                        333 if n % 3 else 444,
                        222,
                        f"p{n}",
                        now=T0,
                        limits=limits,
                        caps=both,
                    )
                    for n in range(24)
                )
            ),
            timeout=30,
        )
    written = [n for n, r in enumerate(results) if r is not None]

    assert len(written) == 8  # the account's 16 credits, 2 each
    assert len([n for n in written if n % 3]) <= 5  # server 333's 10
    # Member 111's active limit, in each of the two servers.
    assert len([n for n in written if n < 6 and n % 3]) <= 2
    assert len([n for n in written if n < 6 and not n % 3]) <= 2
