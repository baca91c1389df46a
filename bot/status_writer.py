"""Writes AKOOL's answers to the store as they come: at once when the store is idle, and those
that arrive while a write is under way together in the next one, so each job waits for at most
one write before its own and a busy tick still costs few statements."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from bot.store import Job, JobStore, StatusUpdate

_Pending = tuple[tuple[str, StatusUpdate, float | None], "asyncio.Future[Job | None]"]


class StatusWriter:
    """Group commit for :meth:`JobStore.record_statuses`."""

    def __init__(self, store: JobStore, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock
        self._pending: list[_Pending] = []
        self._writing: asyncio.Task[None] | None = None

    async def record(self, akool_id: str, update: StatusUpdate, due_at: float | None) -> Job | None:
        """:meth:`JobStore.record_status`, in whichever write comes next."""
        future: asyncio.Future[Job | None] = asyncio.get_running_loop().create_future()
        self._pending.append(((akool_id, update, due_at), future))
        if self._writing is None:
            self._writing = asyncio.create_task(self._write(), name="status-writer")
        return await future

    async def close(self) -> None:
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writing

    async def _write(self) -> None:
        batch: list[_Pending] = []
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    recorded = await self._store.record_statuses(
                        [update for update, _ in batch], now=self._clock()
                    )
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), job in zip(batch, recorded, strict=True):
                    if not future.done():
                        future.set_result(job)
            batch = []
        finally:
            self._writing = None
            # Left only when cancelled (the loop is stopping): nobody waits for these any more.
            for _, future in batch + self._pending:
                future.cancel()
            self._pending = []
