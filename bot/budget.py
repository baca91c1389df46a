"""AKOOL request budgets: in memory for one process, in the database for several, and the
order in which one process's requests are served from the budget.

Every AKOOL request waits for :class:`PriorityBudget`. Its slots come, one at a time, from one
underlying budget (shared by every process on a PostgreSQL store), and each slot goes, at the
moment it is granted, to the request that needs it most: a member's create or press and the poll
that confirms a callback first, due polls next, lookups last. Each kind still has a guaranteed
share of the slots while it waits, so a burst of one kind never stops the others.

The underlying budget lets a small burst go at once (two requests at least, so a request let go
a little late by a busy event loop does not push every later slot back), and keeps one more slot
of burst in reserve that only urgent requests may take: a create, a press or a callback's
confirming poll arriving while polls queue goes at once, not at the next slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from enum import IntEnum
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from bot.store import JobStore

log = logging.getLogger(__name__)


class Budget(Protocol):
    """A request budget: ``acquire`` returns when the next request may go, leaving ``headroom``
    slots of the burst untouched for more urgent requests.

    ``cancel_safe``: a cancelled ``acquire`` costs nothing (no slot is taken or booked until it
    returns), so a wait may be given up and begun again.
    """

    cancel_safe: bool

    async def acquire(self, headroom: int = 0) -> None: ...


# The burst lets this much of a second's requests go at once (at least MIN_BURST of them).
BURST_SECONDS: Final = 0.2
MIN_BURST: Final = 2
# Slots of burst beyond that which only urgent requests may take.
URGENT_RESERVE: Final = 1


# Shares are added up in floating point; so much off still counts as a whole slot.
_EPSILON = 1e-9


class RequestKind(IntEnum):
    """What an AKOOL request is for, most urgent first (ties go to the lower value)."""

    # A member waits on it: a create, a press, or the poll confirming a callback's news.
    URGENT = 0
    # A due poll of an unfinished job.
    POLL = 1
    # /status, /track of an unknown id, Post here, the credit balance.
    LOOKUP = 2


class KindOrder:
    """Which waiting kind the next slot goes to: the most urgent, unless a less urgent kind is
    owed a slot by its guaranteed share.

    Each grant, every waiting kind earns its share of a slot; a kind that has earned a whole
    slot is owed one, and the most urgent kind owed one is served (or, when none is, the most
    urgent waiting). A served kind pays a slot. So each kind is sure of its share while it
    waits, and whatever the shares leave goes by urgency. A kind that is not waiting earns
    nothing and keeps no credit, so an idle kind cannot store up a burst; debt is kept to one
    slot, so a kind that had more than its share has it back soon after it stops.
    """

    def __init__(self, shares: Mapping[RequestKind, float]) -> None:
        if set(shares) != set(RequestKind) or min(shares.values()) <= 0:
            raise ValueError("every kind of request needs a positive share")
        if sum(shares.values()) > 1 + _EPSILON:
            raise ValueError("the shares add up to more than the whole budget")
        self._shares = dict(shares)
        self._earned = dict.fromkeys(RequestKind, 0.0)

    def next(self, waiting: set[RequestKind]) -> RequestKind:
        """The kind to serve now, out of the (non-empty) ``waiting``."""
        for kind in RequestKind:
            if kind in waiting:
                self._earned[kind] += self._shares[kind]
            else:
                self._earned[kind] = 0.0
        in_order = sorted(waiting)
        owed = [kind for kind in in_order if self._earned[kind] >= 1 - _EPSILON]
        chosen = owed[0] if owed else in_order[0]
        self._earned[chosen] = max(self._earned[chosen] - 1, -1.0)
        return chosen


class PriorityBudget:
    """One process's AKOOL requests, served by kind from ``source``; ``shares`` are what each
    kind is sure of while all wait (a kind that does not wait leaves its share to the others).

    A single pump takes one slot of ``source`` at a time, and only while requests wait: with a
    shared budget each process thus holds at most one reservation, so no process's backlog can
    queue ahead of another's create for more than a slot or so. While no urgent request waits,
    the pump leaves ``reserve`` slots of the source's burst alone; an urgent request arriving
    then has the pump begin its wait again without that headroom (when the source's waits can
    be given up for nothing), so it goes at once rather than at the next slot.
    """

    def __init__(
        self,
        source: Budget,
        shares: Mapping[RequestKind, float],
        *,
        reserve: int = 0,
        waited: Callable[[RequestKind, float], None] | None = None,
    ) -> None:
        self._source = source
        self._reserve = reserve
        # The headroom the pump's current wait leaves (0 once an urgent request waits).
        self._pump_headroom = 0
        # Told how long each request waited for its slot (the metrics).
        self._waited = waited
        self._order = KindOrder(shares)
        self._queues: dict[RequestKind, deque[asyncio.Future[None]]] = {
            kind: deque() for kind in RequestKind
        }
        self._pump: asyncio.Task[None] | None = None

    def waiting(self, kind: RequestKind) -> int:
        """How many requests of ``kind`` wait for a slot."""
        return sum(not f.done() for f in self._queues[kind])

    async def acquire(self, kind: RequestKind = RequestKind.POLL) -> None:
        """Return when a request of ``kind`` may go."""
        started = time.monotonic()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queues[kind].append(future)
        if self._pump is None or self._pump.done():
            self._start_pump()
        elif kind is RequestKind.URGENT and self._pump_headroom and self._source.cancel_safe:
            # The pump waits for a slot that leaves the reserve alone: wait again, using it.
            self._pump.cancel()
            self._start_pump()
        await future
        if self._waited is not None:
            self._waited(kind, time.monotonic() - started)

    def _start_pump(self) -> None:
        self._pump = asyncio.create_task(self._serve(), name="akool-budget")

    async def close(self) -> None:
        """Stop the pump (the process is stopping); waiting requests are cancelled."""
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        for queue in self._queues.values():
            while queue:
                queue.popleft().cancel()

    async def _serve(self) -> None:
        while self._drop_cancelled():
            self._pump_headroom = 0 if self._queues[RequestKind.URGENT] else self._reserve
            try:
                await self._source.acquire(self._pump_headroom)
            except Exception as exc:
                # The shared budget could not be read (the database is away): the request that
                # would have had the slot fails with the reason, and the rest wait on.
                log.warning("The AKOOL request budget is unavailable: %s", exc)
                waiter = self._take()
                if waiter is not None:
                    waiter.set_exception(exc)
                continue
            waiter = self._take()
            if waiter is not None:
                waiter.set_result(None)

    def _drop_cancelled(self) -> bool:
        """Forget requests that stopped waiting; whether any still wait."""
        for queue in self._queues.values():
            while queue and queue[0].done():
                queue.popleft()
        return any(self._queues.values())

    def _take(self) -> asyncio.Future[None] | None:
        """The request the slot goes to, chosen at the moment the slot is granted."""
        if not self._drop_cancelled():
            return None  # every waiter gave up meanwhile; the slot goes unused
        waiting = {kind for kind, queue in self._queues.items() if queue}
        return self._queues[self._order.next(waiting)].popleft()


class LocalBudget:
    """A budget in this process's memory (GCRA): ``burst`` requests may go at once, then one
    each ``1 / per_second`` seconds.

    Nothing is taken until ``acquire`` returns, so a wait can be given up at no cost. A request
    let go a little late (the event loop was busy) does not move the next slot back while the
    burst has room for the lateness, so the rate holds on a loaded process.
    """

    cancel_safe = True

    def __init__(
        self,
        per_second: float,
        burst: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = 1 / per_second
        self._burst = burst
        self._clock = clock
        self._sleep = sleep
        # When the next request would go if the budget let one go each interval, no burst.
        self._next = -math.inf

    async def acquire(self, headroom: int = 0) -> None:
        tolerance = max(0.0, self._burst - 1 - headroom) * self._interval
        while True:
            now = self._clock()
            wait = self._next - tolerance - now
            if wait <= _EPSILON:
                self._next = max(self._next, now) + self._interval
                return
            await self._sleep(wait)


def burst_of(per_second: float) -> float:
    """How many requests of a ``per_second`` budget may go at once, the reserve aside."""
    return max(MIN_BURST, per_second * BURST_SECONDS)


def request_budget(per_second: float, *, reserve: int = 0) -> LocalBudget:
    """A budget in memory for ``per_second`` requests with a small burst, so AKOOL sees a
    steady rate rather than a second's requests at once; ``reserve`` more slots of burst for
    requests that wait with no headroom."""
    return LocalBudget(per_second, burst_of(per_second) + reserve)


def shared_budget(store: JobStore, name: str, per_second: float, *, reserve: int = 0) -> Budget:
    """The budget ``name`` shared by every process on ``store``'s database, or one in memory
    when the store serves one process only."""
    shared = store.request_budget(name, per_second, burst_of(per_second) + reserve)
    return shared or request_budget(per_second, reserve=reserve)
