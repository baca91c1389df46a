"""The log formatter scrubs secrets from messages and tracebacks."""

from __future__ import annotations

import logging

from bot.logs import RedactingFormatter


def _record(msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("t", logging.ERROR, __file__, 1, msg, args, exc_info)


def test_secrets_are_replaced_in_messages_and_tracebacks():
    formatter = RedactingFormatter("%(message)s", ["sekrit-token-1", "key-2222"])
    try:
        raise ValueError("header x-api-key: key-2222")
    except ValueError as error:
        text = formatter.format(_record("token=%s", "sekrit-token-1", exc=error))

    assert "sekrit-token-1" not in text
    assert "key-2222" not in text
    assert "[redacted]" in text


def test_short_values_are_not_treated_as_secrets():
    formatter = RedactingFormatter("%(message)s", ["ab", ""])

    assert formatter.format(_record("about a cab")) == "about a cab"
