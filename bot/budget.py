"""AKOOL request budgets: in memory for one process, in the database for several."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from aiolimiter import AsyncLimiter

if TYPE_CHECKING:
    from bot.store import JobStore


class Budget(Protocol):
    """A request budget: ``acquire`` returns when the next request may go."""

    async def acquire(self) -> None: ...


def request_budget(per_second: float) -> AsyncLimiter:
    """A leaky bucket for ``per_second`` requests with a small burst (a fifth of a second's
    worth), so AKOOL sees a steady rate rather than a second's requests at once."""
    burst = max(1.0, per_second / 5)
    return AsyncLimiter(burst, burst / per_second)


def shared_budget(store: JobStore, name: str, per_second: float) -> Budget:
    """The budget ``name`` shared by every process on ``store``'s database, or one in memory
    when the store serves one process only."""
    burst = max(1.0, per_second / 5)
    return store.request_budget(name, per_second, burst) or request_budget(per_second)
