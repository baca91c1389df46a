"""Native memory after bursts: worker threads do not each keep a malloc arena of their own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from unittest.mock import create_autospec

import pytest

import bot.cli
from bot import memory

ROOT = Path(__file__).resolve().parents[1]

# Eight threads at once each allocate and free some 12 MB in blocks malloc serves itself (too
# large for Python's own small-object allocator), keeping a few alive, as image checks on
# worker threads do in a burst; then the process's resident size.
_BURST = """
import sys, threading
from bot.memory import limit_malloc_arenas
if sys.argv[1] == "limited":
    assert limit_malloc_arenas()
def work(start, done):
    start.wait()
    blocks = [bytes(3000 + i % 512) for i in range(4000)]
    done.append(blocks[::50])
start = threading.Barrier(8)
done = []
threads = [threading.Thread(target=work, args=(start, done)) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
status = open("/proc/self/status").read()
print(next(int(l.split()[1]) for l in status.splitlines() if l.startswith("VmRSS:")))
"""


def _rss_after_burst(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(  # noqa: S603 - this interpreter on a script of this file
        [sys.executable, "-c", _BURST, mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return int(result.stdout)


def test_a_burst_on_many_threads_leaves_less_behind_with_few_arenas():
    plain = _rss_after_burst("plain")
    limited = _rss_after_burst("limited")

    # One arena per thread keeps each thread's share: tens of MiB more.
    assert limited < 0.8 * plain


def test_an_operators_own_arena_limit_is_left_alone(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")

    assert memory.limit_malloc_arenas() is False


def test_the_entry_point_limits_arenas_before_anything_else(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    limit = create_autospec(memory.limit_malloc_arenas, return_value=True)
    monkeypatch.setattr(bot.cli, "limit_malloc_arenas", limit)
    monkeypatch.chdir(tmp_path)  # no .env here
    for name in ("DISCORD_TOKEN", "AKOOL_API_KEY"):
        monkeypatch.delenv(name, raising=False)

    assert bot.cli.main([]) == 2  # settings missing: it stops before starting anything

    limit.assert_called_once_with()
