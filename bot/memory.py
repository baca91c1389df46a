"""Native memory that stays bounded under bursts.

Every thread that allocates gets a malloc arena of its own from glibc (up to eight per core),
and an arena keeps the memory freed into it for reuse rather than giving it back. Image checks
run on worker threads (``asyncio.to_thread``), so a burst of finished jobs leaves each of those
threads with an arena as large as the burst needed, and the next, larger burst spreads over more
of them: measured on the real process, 200 members at once took the resident size from 100 MiB
after the first burst to 139 MiB after the second. Two arenas (the main one and one shared by
the workers) keep what a burst leaves behind about the size of one burst's need.

Even so, glibc gives memory back to the system only from the top of its heap, and a burst's
objects are freed in no order: measured on the real process after 200 members at once, the heap
held about 32 MiB of free blocks for every 17 MiB in use, all of it still resident, and Python's
own traced allocations grew by under 0.1 MiB a burst. :class:`FreedMemory` hands the free pages
back (``malloc_trim``) every few seconds, so what stays resident is what the bot uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import sys
from collections.abc import Callable
from typing import Final

log = logging.getLogger(__name__)

# glibc's mallopt() parameter for the most arenas it may create (malloc.h: M_ARENA_MAX).
_M_ARENA_MAX: Final = -8
ARENAS: Final = 2
# How often freed memory is handed back. A trim with nothing to give back takes well under a
# millisecond; one after a burst of 200 members a few milliseconds.
TRIM_EVERY: Final = 5.0


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Ask the C library for at most ``arenas`` malloc arenas; ``True`` if it agreed.

    Call it before any thread starts. An operator's own ``MALLOC_ARENA_MAX`` is left alone, and
    so is any C library other than glibc (where the call does not exist or means nothing).
    """
    if "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)  # the C library this process already runs on
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, arenas))


def glibc_trim() -> Callable[[], object] | None:
    """glibc's ``malloc_trim(0)``: hand every wholly free page of the heap back to the system;
    ``None`` where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        malloc_trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    malloc_trim.argtypes = (ctypes.c_size_t,)
    malloc_trim.restype = ctypes.c_int
    return lambda: malloc_trim(0)


class FreedMemory:
    """Every ``every`` seconds, hands the memory a burst freed back to the system (see the
    module's docstring); does nothing where ``trim`` is ``None``."""

    def __init__(
        self, *, every: float = TRIM_EVERY, trim: Callable[[], object] | None = None
    ) -> None:
        self._every = every
        self._trim = trim
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def of_this_process(cls) -> FreedMemory:
        return cls(trim=glibc_trim())

    def start(self) -> None:
        if self._trim is not None and self._task is None:
            self._task = asyncio.create_task(self._run(), name="freed-memory")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        assert self._trim is not None
        while True:
            await asyncio.sleep(self._every)
            try:
                self._trim()
            except Exception:  # never expected of malloc_trim; the bot carries on regardless
                log.exception("Handing freed memory back failed")
