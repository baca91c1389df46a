"""What every benchmark shares: the machine's description, percentile arithmetic and the
command line of one benchmark run alone."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import signal
import statistics
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def machine() -> str:
    """One line naming the machine, so every figure says where it was measured."""
    return (
        f"{os.cpu_count()} cores, {platform.machine()}, Python {sys.version.split()[0]}, "
        f"{platform.system()} {platform.release()}"
    )


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, int(q) - 1))]


def cli(
    module: str, doc: str | None, run: Callable[..., Coroutine[Any, Any, str]], quick: str
) -> None:
    """``python -m bench.<module> [--quick]``: run one benchmark and print its section."""
    parser = argparse.ArgumentParser(prog=f"python -m bench.{module}", description=doc)
    parser.add_argument("--quick", action="store_true", help=quick)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    # discord.py warns that voice support is missing; this bot has no voice.
    logging.getLogger("discord.client").setLevel(logging.ERROR)
    started = time.perf_counter()
    print(run_stoppable(run(quick=args.quick)))
    print(f"(took {time.perf_counter() - started:.0f} s)", file=sys.stderr)


def run_stoppable(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, with SIGTERM (like Ctrl-C) cancelling ``main``: its ``async with``
    blocks then stop the bot processes they started, which a plain kill would leave running."""

    async def stoppable() -> T:
        task = asyncio.ensure_future(main)
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await task

    return asyncio.run(stoppable())
