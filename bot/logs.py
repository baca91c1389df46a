"""Logging, configured once by the entry point: readable lines (the default) or JSON lines.

Secrets should never reach a log call, but a library might echo a header or a URL one day: the
formatter scrubs every known secret value from each formatted line as a last line of defence.

A line about one job or one member's interaction says which in JSON (``job``, ``server``,
``channel``, ``member``). Those come from a context variable set where a job or an interaction
is handled (:func:`context`), so every log call made there, in any module, carries them
without passing them along; ``extra=`` with the same keys works too and wins.

Only values long enough to be real secrets are scrubbed wherever they appear: tokens, API keys and
client ids are long random strings, while a short value (a database password such as "akool") is
also an ordinary word, and scrubbing it turned logger names into ``bot.[redacted].client``. A
password, short or long and known or not, is scrubbed where passwords show up in text: in the
``user:password@`` of a URL.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, Protocol, TextIO

_REDACTED = "[redacted]"
# Shorter values are not scrubbed on their own: they are too likely to be words in a line.
MIN_SECRET_LENGTH: Final = 8
# scheme://user:password@host -> the password part.
_URL_PASSWORD: Final = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@]*:)[^\s/@]+(@)")
# The fields a line about one job or one interaction carries in JSON, in this order.
CONTEXT_FIELDS: Final = ("job", "server", "channel", "member")

_CONTEXT: ContextVar[Mapping[str, str]] = ContextVar("log_context", default=MappingProxyType({}))


class _AboutAJob(Protocol):
    @property
    def akool_id(self) -> str: ...
    @property
    def guild_id(self) -> int | None: ...
    @property
    def channel_id(self) -> int: ...
    @property
    def requester_id(self) -> int: ...


def about(job: _AboutAJob) -> dict[str, object]:
    """A job's context fields, for :func:`context` or ``extra=``."""
    return {
        "job": job.akool_id,
        "server": job.guild_id,
        "channel": job.channel_id,
        "member": job.requester_id,
    }


@contextmanager
def context(**fields: object) -> Iterator[None]:
    """Within the block (and tasks it starts), log lines carry ``fields`` (``None`` skipped)."""
    merged = {**_CONTEXT.get(), **{k: str(v) for k, v in fields.items() if v is not None}}
    token = _CONTEXT.set(MappingProxyType(merged))
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current_context() -> Mapping[str, str]:
    return _CONTEXT.get()


class _Scrubber:
    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted(
            {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True
        )

    def __call__(self, text: str) -> str:
        text = _URL_PASSWORD.sub(rf"\g<1>{_REDACTED}\g<2>", text)
        for secret in self._secrets:
            text = text.replace(secret, _REDACTED)
        return text


class RedactingFormatter(logging.Formatter):
    """A formatter that replaces each secret value with a marker, in messages and tracebacks."""

    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        self._scrub = _Scrubber(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return self._scrub(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO 8601), ``level``, ``logger``,
    ``message``, the context fields that apply, and ``exception``/``stack`` when there are.

    Each value is scrubbed before it is encoded: a secret holding a quote or a backslash would
    no longer match once JSON had escaped it.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._scrub = _Scrubber(secrets)

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = current_context()
        for name in CONTEXT_FIELDS:
            given = record.__dict__.get(name, fields.get(name))
            if given is not None:
                line[name] = str(given)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        scrubbed = {key: self._scrub(value) for key, value in line.items()}
        return json.dumps(scrubbed, ensure_ascii=False)


def setup_logging(
    level: int,
    secrets: Iterable[str] = (),
    *,
    json_lines: bool = False,
    stream: TextIO | None = None,
) -> None:
    """Send every log line to ``stream`` (stderr): readable lines with time, level and logger
    name, or JSON lines; scrub ``secrets`` either way."""
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    formatter: logging.Formatter = (
        JsonFormatter(secrets)
        if json_lines
        else RedactingFormatter("%(asctime)s %(levelname)-8s %(name)s: %(message)s", secrets)
    )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # discord.py's HTTP and gateway chatter at DEBUG drowns the bot's own lines.
    logging.getLogger("discord.http").setLevel(max(level, logging.INFO))
    logging.getLogger("discord.gateway").setLevel(max(level, logging.INFO))
