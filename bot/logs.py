"""Logging, configured once by the entry point.

Secrets should never reach a log call, but a library might echo a header or a URL one day: the
formatter scrubs every known secret value from each formatted line as a last line of defence.

Only values long enough to be real secrets are scrubbed wherever they appear: tokens, API keys and
client ids are long random strings, while a short value (a database password such as "akool") is
also an ordinary word, and scrubbing it turned logger names into ``bot.[redacted].client``. A
password, short or long and known or not, is scrubbed where passwords show up in text: in the
``user:password@`` of a URL.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import Final

_REDACTED = "[redacted]"
# Shorter values are not scrubbed on their own: they are too likely to be words in a line.
MIN_SECRET_LENGTH: Final = 8
# scheme://user:password@host -> the password part.
_URL_PASSWORD: Final = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@]*:)[^\s/@]+(@)")


class RedactingFormatter(logging.Formatter):
    """A formatter that replaces each secret value with a marker, in messages and tracebacks."""

    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted(
            {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True
        )

    def format(self, record: logging.LogRecord) -> str:
        text = _URL_PASSWORD.sub(rf"\g<1>{_REDACTED}\g<2>", super().format(record))
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
