"""Whether AKOOL's callbacks can be relied on, judged by how recent jobs were seen to finish.

While they are, polling is only a safety net (see ``bot.schedule``); a few finishes in a row
that no callback announced (a tunnel down, a changed URL) and polling takes over again.
"""

from __future__ import annotations

from collections import deque
from typing import Final

# Judged over this many finished jobs: so callbacks are trusted by the tenth job when all of them
# are announced, and no longer after two unannounced finishes among the last ten.
WINDOW: Final = 10
# The share of those that must have been announced.
SHARE: Final = 0.9


class WebhookTrust:
    """The last ``window`` finished jobs and whether a callback announced each."""

    def __init__(self, *, window: int = WINDOW, share: float = SHARE) -> None:
        self._window = window
        self._share = share
        # [akool_id, announced] of each finish, oldest first.
        self._finishes: deque[list[str | bool]] = deque(maxlen=window)

    @property
    def trusted(self) -> bool:
        seen = len(self._finishes)
        announced = sum(1 for _, said in self._finishes if said)
        return seen == self._window and announced >= self._share * seen

    def finished(self, *, announced: bool, akool_id: str = "") -> None:
        """A poll found a job finished; ``announced`` if a callback had said so first."""
        self._finishes.append([akool_id, announced])

    def announced_late(self, akool_id: str) -> None:
        """A callback came for a job a poll had just seen finished: the poll only won the race
        (while callbacks are not trusted, jobs are polled often), and callbacks do arrive."""
        for finish in self._finishes:
            if akool_id and finish[0] == akool_id:
                finish[1] = True
