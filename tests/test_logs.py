"""The log formatter scrubs secrets from messages and tracebacks."""

from __future__ import annotations

import logging

import pytest

from bot.logs import RedactingFormatter
from bot.settings import Settings


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


def _named(name: str, msg: str) -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, msg, (), None)


def test_a_short_password_that_is_a_word_does_not_mangle_lines():
    # compose once shipped POSTGRES_PASSWORD=akool: every "akool" became "[redacted]".
    settings = Settings.from_env(
        {
            "DISCORD_TOKEN": "discord-token-value",
            "AKOOL_API_KEY": "akool-key-val-16",
            "DATABASE_URL": "postgresql://akool:akool@postgres:5432/akool",
        }
    )
    formatter = RedactingFormatter("%(name)s: %(message)s", settings.secrets)

    line = formatter.format(_named("bot.akool.client", "Asked akool about job 42"))

    assert line == "bot.akool.client: Asked akool about job 42"


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        (
            "connecting to postgresql://akool:akool@postgres:5432/akool",
            "connecting to postgresql://akool:[redacted]@postgres:5432/akool",
        ),
        # A password the bot was never told about, in any scheme.
        ("proxy https://me:s3cr3t@proxy.example:3128 failed", "proxy https://me:[redacted]@proxy"),
        # No user name, only a password.
        ("redis://:pw@cache/0", "redis://:[redacted]@cache/0"),
    ],
)
def test_a_password_in_a_url_is_scrubbed_whatever_its_length(text: str, scrubbed: str):
    formatter = RedactingFormatter("%(message)s", [])

    line = formatter.format(_named("t", text))

    assert scrubbed in line
    assert "akool:akool@" not in line
    assert "s3cr3t" not in line


def test_urls_without_a_password_are_left_alone():
    formatter = RedactingFormatter("%(message)s", [])
    text = "GET https://openapi.akool.com/api/open/v3/content/image/infobymodelid?image_model_id=1"

    assert formatter.format(_named("t", text)) == text
