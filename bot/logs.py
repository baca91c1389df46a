"""Logging, configured once by the entry point.

Secrets should never reach a log call, but a library might echo a header or a URL one day: the
formatter scrubs every known secret value from each formatted line as a last line of defence.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

_REDACTED = "[redacted]"


class RedactingFormatter(logging.Formatter):
    """A formatter that replaces each secret value with a marker, in messages and tracebacks."""

    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, _REDACTED)
        return text


def setup_logging(level: int, secrets: Iterable[str] = ()) -> None:
    """Send every log line to stderr with time, level and logger name; scrub ``secrets``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)-8s %(name)s: %(message)s", secrets)
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # discord.py's HTTP and gateway chatter at DEBUG drowns the bot's own lines.
    logging.getLogger("discord.http").setLevel(max(level, logging.INFO))
    logging.getLogger("discord.gateway").setLevel(max(level, logging.INFO))
