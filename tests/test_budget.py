"""The request budget's order of service: which kind of request each slot goes to."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from bot.budget import KindOrder, LocalBudget, PriorityBudget, RequestKind, burst_of

URGENT, POLL, LOOKUP = RequestKind.URGENT, RequestKind.POLL, RequestKind.LOOKUP
SHARES = {URGENT: 0.5, POLL: 0.4, LOOKUP: 0.1}


class Slots:
    """A budget whose slots the test hands out one by one; ``asked`` is the headroom of each
    wait. Like the shared budget, a wait given up is not free (it books its slot first)."""

    cancel_safe = False

    def __init__(self) -> None:
        self._slots = asyncio.Semaphore(0)
        self.failure: Exception | None = None
        self.asked: list[int] = []

    async def acquire(self, headroom: int = 0) -> None:
        self.asked.append(headroom)
        await self._slots.acquire()
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure

    def give(self, count: int = 1) -> None:
        for _ in range(count):
            self._slots.release()


class FakeTime:
    """A clock that moves only when the test says, and a sleep that waits for it."""

    def __init__(self) -> None:
        self.now = 0.0
        self._moved = asyncio.Condition()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        until = self.now + seconds
        async with self._moved:
            await self._moved.wait_for(lambda: self.now >= until)

    async def move_to(self, now: float) -> None:
        self.now = now
        async with self._moved:
            self._moved.notify_all()


class Requests:
    """Requests waiting on a budget; ``served`` lists them in the order they were let go."""

    def __init__(self, budget: PriorityBudget) -> None:
        self._budget = budget
        self.served: list[str] = []
        self.failed: list[str] = []
        self._changed = asyncio.Condition()
        self.tasks: dict[str, asyncio.Task[None]] = {}

    async def start(self, name: str, kind: RequestKind) -> None:
        """A request that has reached the budget and waits for a slot."""
        reached = asyncio.Event()
        self.tasks[name] = asyncio.create_task(self._one(name, kind, reached))
        await reached.wait()

    async def _one(self, name: str, kind: RequestKind, reached: asyncio.Event) -> None:
        # acquire() joins the queue before it first waits, so once the test sees ``reached``
        # again, this request is in the queue.
        reached.set()
        try:
            await self._budget.acquire(kind)
        except RuntimeError:
            self.failed.append(name)
        else:
            self.served.append(name)
        async with self._changed:
            self._changed.notify_all()

    async def until_done(self, count: int) -> None:
        async with asyncio.timeout(5), self._changed:
            await self._changed.wait_for(lambda: len(self.served) + len(self.failed) >= count)


def grants(order: KindOrder, waiting: set[RequestKind], count: int) -> Counter[RequestKind]:
    return Counter(order.next(waiting) for _ in range(count))


@pytest.mark.parametrize(
    ("waiting", "expected"),
    [
        # Each its share (the lookups' first slot comes on the eleventh grant).
        ({URGENT, POLL, LOOKUP}, {URGENT: 51, POLL: 40, LOOKUP: 9}),
        # What the shares leave goes to the most urgent.
        ({URGENT, POLL}, {URGENT: 60, POLL: 40}),
        ({POLL, LOOKUP}, {POLL: 90, LOOKUP: 10}),
        ({LOOKUP}, {LOOKUP: 100}),  # alone, a kind has every slot
    ],
)
def test_each_waiting_kind_gets_its_share_and_the_rest_goes_by_urgency(waiting, expected):
    assert grants(KindOrder(SHARES), waiting, 100) == expected


def test_a_create_joining_a_poll_backlog_is_served_first_and_polls_keep_their_share():
    order = KindOrder(SHARES)
    grants(order, {POLL}, 50)  # a long poll backlog alone

    first = order.next({URGENT, POLL})
    then = grants(order, {URGENT, POLL}, 20)

    assert first is URGENT
    assert then[POLL] >= 7  # 40 % of 20, but for the slot the create took first


def test_a_kind_that_was_idle_stored_up_nothing():
    order = KindOrder(SHARES)
    grants(order, {URGENT, POLL}, 100)

    then = grants(order, {URGENT, POLL, LOOKUP}, 10)

    assert then[LOOKUP] <= 1


def test_shares_must_cover_every_kind_and_no_more_than_the_budget():
    with pytest.raises(ValueError, match="share"):
        KindOrder({URGENT: 0.5, POLL: 0.5})
    with pytest.raises(ValueError, match="more than the whole budget"):
        KindOrder({URGENT: 0.5, POLL: 0.5, LOOKUP: 0.1})


async def test_a_slot_goes_to_the_most_urgent_request_waiting_when_it_is_granted():
    slots = Slots()
    budget = PriorityBudget(slots, SHARES)
    requests = Requests(budget)
    for n in range(10):
        await requests.start(f"poll {n}", POLL)
    await requests.start("lookup", LOOKUP)
    await requests.start("create", URGENT)

    slots.give()
    await requests.until_done(1)
    slots.give(2)
    await requests.until_done(3)

    assert requests.served == ["create", "poll 0", "poll 1"]
    await budget.close()


async def test_a_request_that_stops_waiting_takes_no_slot():
    slots = Slots()
    budget = PriorityBudget(slots, SHARES)
    requests = Requests(budget)
    await requests.start("create", URGENT)
    await requests.start("poll", POLL)
    requests.tasks["create"].cancel()

    slots.give()
    await requests.until_done(1)

    assert requests.served == ["poll"]
    await budget.close()


async def test_a_budget_that_cannot_be_read_fails_one_request_and_serves_the_rest():
    slots = Slots()
    budget = PriorityBudget(slots, SHARES)
    requests = Requests(budget)
    await requests.start("create", URGENT)
    await requests.start("poll", POLL)
    slots.failure = RuntimeError("database away")

    slots.give(2)
    await requests.until_done(2)

    assert requests.failed == ["create"]
    assert requests.served == ["poll"]
    await budget.close()


async def test_a_request_let_go_late_does_not_push_the_next_slots_back():
    time = FakeTime()
    budget = LocalBudget(5, burst_of(5), clock=time.clock, sleep=time.sleep)

    # The slots are 0.2 s apart; the 0.2 s one is let go 50 ms late (a busy event loop), and the
    # ones after still go on their moments, none waiting for the clock to move.
    for now in (0.0, 0.0, 0.25, 0.4, 0.6, 0.8):
        await time.move_to(now)
        async with asyncio.timeout(2):
            await budget.acquire()


async def test_only_a_request_leaving_no_headroom_takes_the_reserve():
    time = FakeTime()
    budget = LocalBudget(5, 3, clock=time.clock, sleep=time.sleep)
    await budget.acquire(headroom=1)
    await budget.acquire(headroom=1)

    third = asyncio.create_task(budget.acquire(headroom=1))
    async with asyncio.timeout(2):
        await budget.acquire(headroom=0)  # the reserve, at once
    await asyncio.sleep(0)

    assert not third.done()  # waits for the next slot
    await time.move_to(0.5)
    async with asyncio.timeout(2):
        await third


async def test_a_create_joining_a_poll_backlog_takes_the_reserve_at_once():
    time = FakeTime()
    budget = PriorityBudget(
        LocalBudget(5, burst_of(5) + 1, clock=time.clock, sleep=time.sleep), SHARES, reserve=1
    )
    requests = Requests(budget)
    for n in range(5):
        await requests.start(f"poll {n}", POLL)
    await requests.until_done(2)  # the burst; the reserve is left alone for polls

    await requests.start("create", URGENT)
    await requests.until_done(3)

    assert requests.served == ["poll 0", "poll 1", "create"]
    assert time.now == 0.0  # no slot had to come round
    await budget.close()


async def test_a_budget_whose_waits_cost_their_slot_keeps_its_wait_for_a_create():
    slots = Slots()
    budget = PriorityBudget(slots, SHARES, reserve=1)
    requests = Requests(budget)
    await requests.start("poll", POLL)
    await requests.start("create", URGENT)

    slots.give()
    await requests.until_done(1)
    slots.give()
    await requests.until_done(2)

    # Polls alone leave the reserve; the one wait under way is kept (not given up) when the
    # create arrives, and its slot goes to the create.
    assert slots.asked == [1, 1]
    assert requests.served == ["create", "poll"]
    await budget.close()


async def test_a_create_waiting_has_the_pump_wait_with_no_headroom():
    slots = Slots()
    budget = PriorityBudget(slots, SHARES, reserve=1)
    requests = Requests(budget)
    await requests.start("create", URGENT)
    await requests.start("poll", POLL)

    slots.give(2)
    await requests.until_done(2)

    assert slots.asked == [0, 1]
