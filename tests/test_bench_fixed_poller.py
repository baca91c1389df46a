"""The benchmark's yardstick: its fixed poller pays for the same creates as the bot."""

from __future__ import annotations

import pytest

from bench.live import fixed_poller


def test_unlimited_it_looks_every_interval_from_the_start():
    delays, calls = fixed_poller([(0.0, 7.0)], 3.0, None)
    # Looks at 3, 6 and 9: the one at 9 sees it, 2 s after it finished.
    assert delays == [pytest.approx(2.0)]
    assert calls == [3]


def test_creates_take_their_slots_before_polls():
    # One request a second. Job 0 starts at 0 and finishes at 3; at 3 its first poll is due,
    # but the creates of jobs 1-3 arrived at 2.5 and take the slots at 2.5, 3.5 and 4.5 first.
    jobs = [(0.0, 3.0), (2.5, 100.0), (2.5, 100.0), (2.5, 100.0)]
    delays, _ = fixed_poller(jobs, 3.0, 1.0)
    assert delays[0] == pytest.approx(2.5)  # seen at 5.5, not at 3


def test_an_offset_moves_every_look():
    delays, calls = fixed_poller([(0.0, 7.0)], 3.0, None, offset=1.5)
    # Looks at 4.5 and 7.5: the one at 7.5 sees it, half a second after it finished.
    assert delays == [pytest.approx(0.5)]
    assert calls == [2]
