"""A benchmark stopped with SIGTERM stops the bot process it started, instead of leaving it
running (and polling, and holding its port) after the benchmark is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.children import CHILD_SITE

ROOT = Path(__file__).resolve().parents[1]


def _children(pid: int) -> list[int]:
    try:
        listed = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(child) for child in listed.split()]


def _is_bot(pid: int) -> bool:
    try:
        return b"bot" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigterm_stops_the_benchmarks_bot_process():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(CHILD_SITE), str(ROOT)])}
    bench = subprocess.Popen(
        [sys.executable, "-m", "bench.live", "--quick", "--only", "memory"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    bots: list[int] = []
    try:
        bots = _wait(lambda: [c for c in _children(bench.pid) if _is_bot(c)], 60, "the bot process")
        # Once a burst is served the bot is connected and working: left alone, it would go on
        # reconnecting to the vanished fake Discord for ever.
        assert bench.stderr is not None
        for line in bench.stderr:
            if line.startswith("burst 1:"):
                break
        bench.send_signal(signal.SIGTERM)
        bench.wait(timeout=60)
        _wait(lambda: not any(_alive(b) for b in bots), 30, "the bot process to stop")
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
        for pid in bots:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
