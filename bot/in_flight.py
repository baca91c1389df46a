"""The interaction handlers running now, so that a stop lets them finish answering.

discord.py runs each command and each button press in a task of its own. A stop that closed the
HTTP session, the AKOOL client and the store under them would cut a member's answer off halfway
(the job is safe, since the database says what is due, but the member is left with "thinking"
and no reply until the restart). So every handler is counted from its first check, and a stop
waits a few seconds for those still running before it closes anything they use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord

log = logging.getLogger(__name__)


class InFlight:
    """The interaction handlers running now (each one's task)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[object]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def track(self) -> None:
        """Count the running task (an interaction's handler) until it ends."""
        task = asyncio.current_task()
        if task is None or task in self._tasks:
            return
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()

    async def settle(self, grace: float) -> None:
        """Wait at most ``grace`` seconds for the handlers running now to end."""
        if self._tasks:
            log.info("Waiting for %d interaction(s) to be answered", len(self._tasks))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(grace, 0.0)):
                    await self._idle.wait()
        if self._tasks:
            log.warning("Stopping with %d interaction(s) not yet answered", len(self._tasks))


def track(interaction: discord.Interaction) -> None:
    """Count the handler of ``interaction`` (the running task) among those a stop waits for."""
    in_flight = getattr(interaction.client, "in_flight", None)
    if isinstance(in_flight, InFlight):
        in_flight.track()
