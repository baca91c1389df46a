"""Settings: the environment read once into a frozen, typed object.

Every variable is listed in ``.env.example`` and in the README's table. Required values have no
default; a missing or malformed one stops start-up with a message naming the variable and where to
get it. An empty value counts as unset, wherever it comes from (``docker run --env-file`` passes a
line ``NAME=`` as an empty string). Nothing else in the code reads ``os.environ``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TypeVar
from urllib.parse import urlsplit

from dotenv import dotenv_values

from bot.secret import Secret

T = TypeVar("T")

DEFAULT_AKOOL_BASE_URL: Final = "https://openapi.akool.com"
# Which AKOOL create endpoint new jobs use: v3 (the grid of four with U/V buttons, deprecated in
# AKOOL's newer docs), v4 (createBySourcePrompt), or auto (v3 until AKOOL answers that it is
# gone, then v4 for good).
CREATE_APIS: Final = ("v3", "v4", "auto")
DEFAULT_CREATE_API: Final = "auto"
DEFAULT_DATABASE_URL: Final = "sqlite:///data/bot.sqlite3"
DEFAULT_HTTP_HOST: Final = "127.0.0.1"
DEFAULT_HTTP_PORT: Final = 8080
# AKOOL serves results from CloudFront and its own domain (see the API reference, section 1.1).
DEFAULT_IMAGE_HOSTS: Final = ("*.cloudfront.net", "*.akool.com")

WHERE_TO_GET: Final[Mapping[str, str]] = {
    "DISCORD_TOKEN": (
        "create an application at https://discord.com/developers/applications, "
        "then Bot -> Reset Token"
    ),
    "AKOOL_API_KEY": (
        "sign in at https://akool.com, then API -> API Credentials "
        "(https://akool.com/workspace/current/api/credentials)"
    ),
}

_LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS: Final = ("text", "json")
# AKOOL encrypts callbacks with AES keyed by the API key's bytes: AES-128, -192 or -256.
_WEBHOOK_KEY_BYTES: Final = (16, 24, 32)


class SettingsError(Exception):
    """The environment is incomplete or malformed; ``problems`` has one line per variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the bot is configured with. Secrets are :class:`Secret`, masked in ``repr``."""

    discord_token: Secret
    akool_api_key: Secret
    discord_guild_id: int | None = None
    # The servers this bot serves; it leaves any other. ``None``: every server it is invited to.
    allowed_guild_ids: frozenset[int] | None = None
    akool_client_id: Secret | None = None
    akool_base_url: str = DEFAULT_AKOOL_BASE_URL
    akool_create_api: str = DEFAULT_CREATE_API
    # Not in repr: a PostgreSQL URL may carry a password.
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)
    http_host: str = DEFAULT_HTTP_HOST
    http_port: int = DEFAULT_HTTP_PORT
    webhook_public_url: str | None = None
    image_hosts: tuple[str, ...] = DEFAULT_IMAGE_HOSTS
    log_level: str = "INFO"
    # "text": one readable line per record; "json": one JSON object per line, for a log system.
    log_format: str = "text"
    # When set, GET /metrics needs it as a bearer token.
    metrics_token: Secret | None = None
    # The base gap between polls of one job (AKOOL's own demo polls every 3 s); the schedule
    # learns from finished jobs when polls are worth making and stretches or shrinks it.
    poll_interval: float = 3.0
    # Requests per second to AKOOL, shared by polls, button presses and creates.
    akool_requests_per_second: float = 5.0
    # A job unfinished after this many seconds is failed with a message suggesting /status later.
    job_timeout: float = 900.0
    # How many AKOOL status requests the job loop keeps in flight at once.
    poll_concurrency: int = 4
    # Seconds one AKOOL request may take before it counts as failed.
    akool_timeout: float = 30.0
    # Largest result image the bot downloads, in bytes.
    max_image_bytes: int = 50 * 1024 * 1024
    # A webhook whose timestamp is further than this from now (seconds) is refused as a replay.
    webhook_max_age: float = 300.0
    # Discord's REST root and gateway: for an HTTP proxy in front of Discord, and for the tests.
    discord_api_base_url: str | None = None
    discord_gateway_url: str | None = None
    # Several processes: how many Discord shards in all, and which of them this process runs
    # (all of them when unset). Every process polls and delivers any job.
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    # Seconds a process holds a due job it is looking at; if it dies, another takes the job
    # over once the hold runs out.
    claim_hold: float = 120.0
    # Credits the whole AKOOL account may spend in a rolling 24 hours, over every server and
    # process; and each server (its admins may set less). ``None``: no cap.
    credits_per_day: int | None = None
    server_credits_per_day: int | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from an environment mapping, reporting every problem at once."""
        reading = cls.read(env)
        if reading.problems:
            raise SettingsError(reading.problems)
        return reading.settings

    @classmethod
    def read(cls, env: Mapping[str, str]) -> SettingsReading:
        """Read every variable, collecting problems instead of raising (``akool-bot check``).

        A variable that is missing or malformed takes its default in the settings returned and
        is named in :attr:`SettingsReading.unusable`, so that nothing is checked against a value
        the operator did not give.
        """
        reader = _Reader(env)
        settings = cls(
            discord_token=reader.secret("DISCORD_TOKEN"),
            akool_api_key=reader.secret("AKOOL_API_KEY"),
            discord_guild_id=reader.optional("DISCORD_GUILD_ID", _snowflake),
            allowed_guild_ids=reader.optional("ALLOWED_GUILD_IDS", _snowflakes),
            akool_client_id=reader.optional("AKOOL_CLIENT_ID", Secret),
            akool_base_url=reader.value("AKOOL_BASE_URL", _http_url, DEFAULT_AKOOL_BASE_URL),
            akool_create_api=reader.value("AKOOL_CREATE_API", _create_api, DEFAULT_CREATE_API),
            database_url=reader.value("DATABASE_URL", _database_url, DEFAULT_DATABASE_URL),
            http_host=reader.value("HTTP_HOST", str, DEFAULT_HTTP_HOST),
            http_port=reader.value("HTTP_PORT", _port, DEFAULT_HTTP_PORT),
            webhook_public_url=reader.optional("WEBHOOK_PUBLIC_URL", _http_url),
            image_hosts=reader.value("IMAGE_HOSTS", _host_list, DEFAULT_IMAGE_HOSTS),
            log_level=reader.value("LOG_LEVEL", _log_level, "INFO"),
            log_format=reader.value("LOG_FORMAT", _log_format, "text"),
            metrics_token=reader.optional("METRICS_TOKEN", Secret),
            poll_interval=reader.value("POLL_INTERVAL", _positive_float, 3.0),
            akool_requests_per_second=reader.value(
                "AKOOL_REQUESTS_PER_SECOND", _positive_float, 5.0
            ),
            job_timeout=reader.value("JOB_TIMEOUT", _positive_float, 900.0),
            poll_concurrency=reader.value("POLL_CONCURRENCY", _positive_int, 4),
            akool_timeout=reader.value("AKOOL_TIMEOUT", _positive_float, 30.0),
            max_image_bytes=reader.value("MAX_IMAGE_BYTES", _positive_int, 50 * 1024 * 1024),
            webhook_max_age=reader.value("WEBHOOK_MAX_AGE", _positive_float, 300.0),
            discord_api_base_url=reader.optional("DISCORD_API_BASE_URL", _http_url),
            discord_gateway_url=reader.optional("DISCORD_GATEWAY_URL", _ws_url),
            shard_count=reader.optional("SHARD_COUNT", _positive_int),
            shard_ids=reader.optional("SHARD_IDS", _shard_ids),
            claim_hold=reader.value("CLAIM_HOLD", _positive_float, 120.0),
            credits_per_day=reader.optional("CREDITS_PER_DAY", _credits),
            server_credits_per_day=reader.optional("SERVER_CREDITS_PER_DAY", _credits),
        )
        reader.problems.extend(_conflicts(settings))
        if settings.shard_ids is not None:
            if settings.shard_count is None:
                reader.problems.append("SHARD_IDS needs SHARD_COUNT: how many shards in all.")
            elif max(settings.shard_ids) >= settings.shard_count:
                reader.problems.append(
                    f"SHARD_IDS must be below SHARD_COUNT ({settings.shard_count}): shards "
                    f"are numbered from 0."
                )
        return SettingsReading(settings, reader.problems, frozenset(reader.unusable))

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file named by ``DATABASE_URL``, or ``None`` for another backend."""
        return sqlite_path(self.database_url)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value, for the log filter that scrubs them should one ever slip through."""
        values = [self.discord_token.reveal(), self.akool_api_key.reveal()]
        if self.akool_client_id is not None:
            values.append(self.akool_client_id.reveal())
        if self.metrics_token is not None:
            values.append(self.metrics_token.reveal())
        password = urlsplit(self.database_url).password
        if password:
            values.append(password)
        return tuple(v for v in values if v)


def environment(dotenv_path: Path | str = ".env") -> dict[str, str]:
    """The process environment over the ``.env`` file in the working folder, if there is one.

    Values already in the environment win, as operators expect from containers; but an empty one
    counts as unset, so it neither hides the file's value nor stands for a value of its own.
    """
    found = {k: v for k, v in dotenv_values(dotenv_path).items() if v is not None and v.strip()}
    found.update({k: v for k, v in os.environ.items() if v.strip()})
    return found


def database_url_from(env: Mapping[str, str]) -> str:
    """Only ``DATABASE_URL`` (for commands that need nothing else), checked as :meth:`from_env`
    checks it."""
    reader = _Reader(env)
    url = reader.value("DATABASE_URL", _database_url, DEFAULT_DATABASE_URL)
    if reader.problems:
        raise SettingsError(reader.problems)
    return url


def http_address_from(env: Mapping[str, str]) -> tuple[str, int]:
    """Only ``HTTP_HOST`` and ``HTTP_PORT`` (for the health probe), checked as :meth:`from_env`
    checks them."""
    reader = _Reader(env)
    address = (
        reader.value("HTTP_HOST", str, DEFAULT_HTTP_HOST),
        reader.value("HTTP_PORT", _port, DEFAULT_HTTP_PORT),
    )
    if reader.problems:
        raise SettingsError(reader.problems)
    return address


@dataclass(frozen=True, slots=True)
class SettingsReading:
    """What :meth:`Settings.read` found: the settings, one line per problem, and the variables
    whose values could not be used (missing when required, or malformed)."""

    settings: Settings
    problems: list[str]
    unusable: frozenset[str]


def sqlite_path(database_url: str) -> Path | None:
    """``sqlite:///relative/file`` or ``sqlite:////absolute/file`` to a path; else ``None``."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        return None
    return Path(database_url[len(prefix) :])


class _Reader:
    """Reads variables, collecting problems instead of stopping at the first one."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []
        self.unusable: set[str] = set()

    def _raw(self, name: str) -> str | None:
        raw = self.env.get(name)
        if raw is None or not raw.strip():
            return None
        return raw.strip()

    def secret(self, name: str) -> Secret:
        raw = self._raw(name)
        if raw is None:
            self.problems.append(f"{name} is missing: {WHERE_TO_GET[name]}.")
            self.unusable.add(name)
            return Secret("")
        return Secret(raw)

    def optional(self, name: str, parse: Callable[[str], T]) -> T | None:
        raw = self._raw(name)
        if raw is None:
            return None
        return self._parse(name, raw, parse)

    def value(self, name: str, parse: Callable[[str], T], default: T) -> T:
        raw = self._raw(name)
        if raw is None:
            return default
        parsed = self._parse(name, raw, parse)
        return default if parsed is None else parsed

    def _parse(self, name: str, raw: str, parse: Callable[[str], T]) -> T | None:
        try:
            return parse(raw)
        except ValueError as exc:
            # The value itself is not echoed: it might be a secret pasted into the wrong line.
            self.problems.append(f"{name} is not valid: {exc}.")
            self.unusable.add(name)
            return None


def _snowflake(raw: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 2**63:
        raise ValueError("expected a Discord id (digits only; right-click the server -> Copy ID)")
    return int(raw)


def _snowflakes(raw: str) -> frozenset[int]:
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if not parts:
        raise ValueError("expected Discord server ids separated by commas")
    try:
        return frozenset(_snowflake(part) for part in parts)
    except ValueError:
        raise ValueError(
            "expected Discord server ids separated by commas, like 123456789012345678,"
            "234567890123456789 (right-click each server -> Copy Server ID)"
        ) from None


def _conflicts(settings: Settings) -> list[str]:
    """Values that are each valid but cannot work together, one line each."""
    problems = []
    if settings.webhook_public_url is not None and settings.akool_client_id is None:
        problems.append(
            "WEBHOOK_PUBLIC_URL needs AKOOL_CLIENT_ID: without it the bot cannot read AKOOL's "
            "callbacks and refuses every one. Set AKOOL_CLIENT_ID (API -> API Credentials) "
            "or remove WEBHOOK_PUBLIC_URL."
        )
    key = settings.akool_api_key.reveal().encode()
    if settings.akool_client_id is not None and key and len(key) not in _WEBHOOK_KEY_BYTES:
        # The key's length is not shown: it says something about a secret.
        problems.append(
            "AKOOL_API_KEY must be 16, 24 or 32 characters long when AKOOL_CLIENT_ID is set: "
            "AKOOL encrypts its callbacks with it. Check that the whole key was copied, or "
            "remove AKOOL_CLIENT_ID (and WEBHOOK_PUBLIC_URL) to poll only."
        )
    return problems


def _positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError("expected a whole number") from None
    if value <= 0:
        raise ValueError("expected a number above 0")
    return value


def _credits(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError("expected a whole number of credits, like 500") from None
    if value <= 0:
        raise ValueError("expected a number of credits above 0 (leave it empty for no cap)")
    return value


def _positive_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("expected a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise ValueError("expected a number above 0")
    return value


def _port(raw: str) -> int:
    value = _positive_int(raw)
    if value > 65535:
        raise ValueError("expected a port from 1 to 65535")
    return value


def _http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL")
    return raw.rstrip("/")


def _ws_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError("expected a ws:// or wss:// URL")
    return raw


def _database_url(raw: str) -> str:
    if raw.startswith("sqlite:///") and len(raw) > len("sqlite:///"):
        return raw
    if raw.startswith(("postgresql://", "postgres://")):
        return raw
    raise ValueError("expected sqlite:///path/to/file.sqlite3 or postgresql://user@host/db")


def _shard_ids(raw: str) -> tuple[int, ...]:
    try:
        ids = tuple(sorted({int(part) for part in raw.split(",") if part.strip()}))
    except ValueError:
        raise ValueError("expected shard numbers separated by commas, like 0,1") from None
    if not ids or ids[0] < 0:
        raise ValueError("expected shard numbers from 0 upwards, like 0,1")
    return ids


def _host_list(raw: str) -> tuple[str, ...]:
    hosts = tuple(h.strip().lower() for h in raw.split(",") if h.strip())
    if not hosts:
        raise ValueError("expected a comma-separated list of host names")
    for host in hosts:
        bare = host.removeprefix("*.")
        if not bare or "/" in bare or "*" in bare or ":" in bare:
            raise ValueError(f"{host!r} is not a host name (use example.com or *.example.com)")
    return hosts


def _create_api(raw: str) -> str:
    api = raw.strip().lower()
    if api not in CREATE_APIS:
        raise ValueError(f"expected one of {', '.join(CREATE_APIS)}")
    return api


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in _LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(_LOG_LEVELS)}")
    return level


def _log_format(raw: str) -> str:
    value = raw.lower()
    if value not in LOG_FORMATS:
        raise ValueError(f"expected one of {', '.join(LOG_FORMATS)}")
    return value


def level_number(level: str) -> int:
    """The :mod:`logging` number for a validated level name."""
    return logging.getLevelNamesMapping()[level]
