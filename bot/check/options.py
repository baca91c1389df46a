"""How ``akool-bot check`` runs: what it was asked on the command line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# Seconds each remote party (Discord, AKOOL, the database, the webhook URL) may take to answer.
DEFAULT_TIMEOUT: Final = 10.0


@dataclass(frozen=True, slots=True)
class Options:
    timeout: float = DEFAULT_TIMEOUT
