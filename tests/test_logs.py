"""The log formatter scrubs secrets from messages and tracebacks."""

from __future__ import annotations

import io
import json
import logging
from types import SimpleNamespace

import pytest

from bot import logs
from bot.logs import JsonFormatter, RedactingFormatter
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


# JSON lines (LOG_FORMAT=json)


def _json(formatter: logging.Formatter, record: logging.LogRecord) -> dict[str, str]:
    text = formatter.format(record)
    assert "\n" not in text  # one object, one line, tracebacks included
    parsed: dict[str, str] = json.loads(text)
    return parsed


def test_a_json_line_has_time_level_logger_and_message():
    record = logging.LogRecord("bot.x", logging.WARNING, __file__, 1, "job %s is", ("a",), None)
    record.created = 1_700_000_000.25

    line = _json(JsonFormatter([]), record)

    assert line == {
        "time": "2023-11-14T22:13:20.250+00:00",
        "level": "WARNING",
        "logger": "bot.x",
        "message": "job a is",
    }


def test_the_context_reaches_every_line_logged_within_it_and_extra_wins():
    formatter = JsonFormatter([])
    job = SimpleNamespace(akool_id="abc123", guild_id=11, channel_id=22, requester_id=33)
    with logs.context(**logs.about(job)):
        inside = _json(formatter, _record("polling"))
        with logs.context(member=44):
            nested = _json(formatter, _record("pressed"))
        record = _record("told")
        record.__dict__["member"] = 55  # as extra={"member": 55} sets it
        given = _json(formatter, record)
    outside = _json(formatter, _record("idle"))

    assert {k: inside[k] for k in logs.CONTEXT_FIELDS} == {
        "job": "abc123",
        "server": "11",
        "channel": "22",
        "member": "33",
    }
    assert (nested["job"], nested["member"]) == ("abc123", "44")
    assert given["member"] == "55"
    assert not set(logs.CONTEXT_FIELDS) & set(outside)


def test_a_job_in_a_direct_message_has_no_server():
    job = SimpleNamespace(akool_id="abc123", guild_id=None, channel_id=22, requester_id=33)
    with logs.context(**logs.about(job)):
        line = _json(JsonFormatter([]), _record("x"))

    assert "server" not in line
    assert line["channel"] == "22"


def test_secrets_are_scrubbed_from_json_lines_too():
    # A database password may hold a quote or a backslash, which JSON escapes: scrubbing the
    # encoded line would miss it.
    quoted = 'pa"ss\\word-9'
    formatter = JsonFormatter(["sekrit-token-1", "key-2222", quoted])
    try:
        raise ValueError(f"header x-api-key: key-2222 and {quoted}")
    except ValueError as error:
        record = _record("token=%s", "sekrit-token-1", exc=error)
    record.__dict__["member"] = "sekrit-token-1"
    text = formatter.format(record)
    line = json.loads(text)

    for secret in ("sekrit-token-1", "key-2222", quoted, json.dumps(quoted)[1:-1]):
        assert secret not in text
    assert line["message"] == "token=[redacted]"
    assert "ValueError: header x-api-key: [redacted] and [redacted]" in line["exception"]
    assert line["member"] == "[redacted]"


def test_setup_logging_writes_json_lines_when_asked(restore_logging: None):
    stream = io.StringIO()
    logs.setup_logging(logging.INFO, ["sekrit-token-1"], json_lines=True, stream=stream)
    logging.getLogger("bot.test").info("hello %s", "sekrit-token-1")
    logs.setup_logging(logging.INFO, ["sekrit-token-1"], stream=stream)
    logging.getLogger("bot.test").info("plain %s", "sekrit-token-1")

    first, second = stream.getvalue().splitlines()
    assert json.loads(first)["message"] == "hello [redacted]"
    assert second.endswith("INFO     bot.test: plain [redacted]")


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
