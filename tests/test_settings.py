"""Settings: required values, defaults, malformed values, and secrets kept out of repr."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.secret import Secret
from bot.settings import DEFAULT_IMAGE_HOSTS, Settings, SettingsError, environment
from tests.variables import every_variable

REQUIRED = {"DISCORD_TOKEN": "discord-token-value", "AKOOL_API_KEY": "akool-key-val-16"}


def test_defaults():
    settings = Settings.from_env(REQUIRED)

    assert settings.discord_token.reveal() == "discord-token-value"
    assert settings.akool_api_key.reveal() == "akool-key-val-16"
    assert settings.discord_guild_id is None
    assert settings.allowed_guild_ids is None  # every server, with a warning at start-up
    assert settings.akool_client_id is None
    assert settings.akool_base_url == "https://openapi.akool.com"
    assert settings.database_url == "sqlite:///data/bot.sqlite3"
    assert settings.sqlite_path == Path("data/bot.sqlite3")
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8080)
    assert settings.webhook_public_url is None
    assert settings.image_hosts == DEFAULT_IMAGE_HOSTS
    assert settings.log_level == "INFO"
    assert settings.akool_create_api == "auto"
    assert settings.log_format == "text"
    assert settings.metrics_token is None


def test_every_variable_is_read():
    env = {
        **REQUIRED,
        "DISCORD_GUILD_ID": "123456789012345678",
        "ALLOWED_GUILD_IDS": "123456789012345678, 234567890123456789,",
        "AKOOL_CLIENT_ID": "client-id-value",
        "AKOOL_BASE_URL": "http://127.0.0.1:9999/",
        "DATABASE_URL": "sqlite:////var/lib/bot/jobs.sqlite3",
        "HTTP_HOST": "::1",
        "HTTP_PORT": "9000",
        "WEBHOOK_PUBLIC_URL": "https://bot.example.org/akool/webhook",
        "IMAGE_HOSTS": "127.0.0.1, *.Example.com",
        "LOG_LEVEL": "debug",
        "POLL_INTERVAL": "2.5",
        "JOB_TIMEOUT": "60",
        "POLL_CONCURRENCY": "8",
        "AKOOL_TIMEOUT": "10",
        "MAX_IMAGE_BYTES": "1000",
        "LOG_FORMAT": "JSON",
        "METRICS_TOKEN": "metrics-token-value",
    }

    settings = Settings.from_env(env)

    assert settings.discord_guild_id == 123456789012345678
    assert settings.allowed_guild_ids == frozenset({123456789012345678, 234567890123456789})
    assert settings.akool_client_id == Secret("client-id-value")
    assert settings.akool_base_url == "http://127.0.0.1:9999"
    assert settings.sqlite_path == Path("/var/lib/bot/jobs.sqlite3")
    assert (settings.http_host, settings.http_port) == ("::1", 9000)
    assert settings.webhook_public_url == "https://bot.example.org/akool/webhook"
    assert settings.image_hosts == ("127.0.0.1", "*.example.com")
    assert settings.log_level == "DEBUG"
    assert (settings.poll_interval, settings.job_timeout) == (2.5, 60.0)
    assert (settings.poll_concurrency, settings.akool_timeout) == (8, 10.0)
    assert settings.max_image_bytes == 1000
    assert settings.log_format == "json"
    assert settings.metrics_token == Secret("metrics-token-value")


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_missing_required_values_are_all_named_with_where_to_get_them(blank):
    env = {} if blank is None else {"DISCORD_TOKEN": blank, "AKOOL_API_KEY": blank}

    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)

    problems = caught.value.problems
    assert len(problems) == 2
    assert problems[0].startswith("DISCORD_TOKEN is missing")
    assert "discord.com/developers/applications" in problems[0]
    assert problems[1].startswith("AKOOL_API_KEY is missing")
    assert "akool.com" in problems[1]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DISCORD_GUILD_ID", "my-server"),
        ("DISCORD_GUILD_ID", "-5"),
        ("AKOOL_BASE_URL", "openapi.akool.com"),
        ("AKOOL_BASE_URL", "ftp://x"),
        ("DATABASE_URL", "mysql://x"),
        ("DATABASE_URL", "sqlite::memory:"),
        ("HTTP_PORT", "http"),
        ("HTTP_PORT", "70000"),
        ("HTTP_PORT", "0"),
        ("WEBHOOK_PUBLIC_URL", "bot.example.org/hook"),
        ("IMAGE_HOSTS", ","),
        ("IMAGE_HOSTS", "https://cdn.example.com/"),
        ("IMAGE_HOSTS", "a.*.example.com"),
        ("ALLOWED_GUILD_IDS", "123456789012345678;234567890123456789"),
        ("ALLOWED_GUILD_IDS", "my-server"),
        ("ALLOWED_GUILD_IDS", ", ,"),
        ("LOG_LEVEL", "LOUD"),
        ("AKOOL_CREATE_API", "v5"),
        ("AKOOL_CREATE_API", "both"),
        ("LOG_FORMAT", "yaml"),
        ("POLL_INTERVAL", "soon"),
        ("POLL_INTERVAL", "0"),
        ("JOB_TIMEOUT", "-1"),
        ("JOB_TIMEOUT", "inf"),
        ("JOB_TIMEOUT", "nan"),
        ("POLL_CONCURRENCY", "1.5"),
        ("MAX_IMAGE_BYTES", "0"),
    ],
)
def test_malformed_values_are_named_without_echoing_them(name: str, value: str):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**REQUIRED, name: value})

    (problem,) = caught.value.problems
    assert problem.startswith(f"{name} is not valid")
    # A value might be a secret pasted into the wrong line; host names are echoed to help find
    # the bad entry in a list.
    if len(value) > 3 and name != "IMAGE_HOSTS":
        assert value not in problem


@pytest.mark.parametrize(
    ("raw", "api"), [("v3", "v3"), ("v4", "v4"), ("auto", "auto"), (" V4 ", "v4"), ("AUTO", "auto")]
)
def test_the_create_api_is_one_of_three(raw: str, api: str):
    assert Settings.from_env({**REQUIRED, "AKOOL_CREATE_API": raw}).akool_create_api == api


def test_missing_and_malformed_are_reported_together():
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"AKOOL_API_KEY": "k", "HTTP_PORT": "x"})

    assert [p.split(" ")[0] for p in caught.value.problems] == ["DISCORD_TOKEN", "HTTP_PORT"]


def test_settings_are_frozen():
    settings = Settings.from_env(REQUIRED)

    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'http_port'"):
        settings.http_port = 1  # type: ignore[misc]


def test_secrets_never_appear_in_repr_or_str():
    settings = Settings.from_env({**REQUIRED, "AKOOL_CLIENT_ID": "client-id-value"})

    shown = repr(settings) + str(settings) + f"{settings.discord_token}"
    for secret in ("discord-token-value", "akool-key-val-16", "client-id-value"):
        assert secret not in shown
    assert set(settings.secrets) == {"discord-token-value", "akool-key-val-16", "client-id-value"}


def test_secret_cannot_be_pickled():
    import pickle

    with pytest.raises(TypeError, match="Secret values cannot be pickled"):
        pickle.dumps(Secret("x"))


def test_several_processes_name_their_shards():
    settings = Settings.from_env(
        {
            **REQUIRED,
            "DATABASE_URL": "postgresql://bot:pw@db/akool",
            "SHARD_COUNT": "3",
            "SHARD_IDS": "2, 0",
            "CLAIM_HOLD": "45",
        }
    )

    assert (settings.shard_count, settings.shard_ids, settings.claim_hold) == (3, (0, 2), 45.0)


@pytest.mark.parametrize(
    ("extra", "complaint"),
    [
        ({"SHARD_IDS": "0"}, "SHARD_IDS needs SHARD_COUNT"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "0,2"}, "SHARD_IDS must be below SHARD_COUNT (2)"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "one"}, "SHARD_IDS is not valid"),
        ({"SHARD_COUNT": "0"}, "SHARD_COUNT is not valid"),
    ],
)
def test_shard_settings_that_cannot_work_are_refused(extra: dict[str, str], complaint: str):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**REQUIRED, **extra})

    assert any(complaint in problem for problem in caught.value.problems)


def test_a_database_password_stays_out_of_repr_and_is_scrubbed_from_logs():
    settings = Settings.from_env({**REQUIRED, "DATABASE_URL": "postgresql://bot:hunter22@db/x"})

    assert "hunter22" not in repr(settings)
    assert "hunter22" in settings.secrets


def test_the_metrics_token_stays_out_of_repr_and_is_scrubbed_from_logs():
    settings = Settings.from_env({**REQUIRED, "METRICS_TOKEN": "scrape-token-77"})

    assert "scrape-token-77" not in repr(settings)
    assert "scrape-token-77" in settings.secrets


@pytest.mark.parametrize(
    ("extra", "complaint"),
    [
        # Every callback would be answered 503: the bot cannot read one without the client id.
        ({"WEBHOOK_PUBLIC_URL": "https://bot.example.org/akool/webhook"}, "WEBHOOK_PUBLIC_URL"),
        # AES takes a 16, 24 or 32 byte key; this one is 15.
        (
            {"AKOOL_API_KEY": "fifteen-bytes!!", "AKOOL_CLIENT_ID": "client-id-value"},
            "AKOOL_API_KEY must be 16, 24 or 32 characters long",
        ),
    ],
)
def test_settings_that_cannot_work_together_are_refused_in_one_line(
    extra: dict[str, str], complaint: str
):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**REQUIRED, **extra})

    (problem,) = caught.value.problems
    assert problem.startswith(complaint)
    assert "\n" not in problem
    assert "fifteen-bytes!!" not in problem
    assert "client-id-value" not in problem


@pytest.mark.parametrize("key", ["k" * 16, "k" * 24, "k" * 32])
def test_webhooks_take_an_api_key_of_an_aes_length(key: str):
    settings = Settings.from_env(
        {
            "DISCORD_TOKEN": "t",
            "AKOOL_API_KEY": key,
            "AKOOL_CLIENT_ID": "client-id-value",
            "WEBHOOK_PUBLIC_URL": "https://bot.example.org/akool/webhook",
        }
    )

    assert settings.webhook_public_url == "https://bot.example.org/akool/webhook"


def test_an_api_key_of_any_length_is_fine_without_webhooks():
    assert Settings.from_env({**REQUIRED, "AKOOL_API_KEY": "short"}).akool_client_id is None


@pytest.mark.parametrize("blank", ["", "  "])
def test_every_optional_setting_given_empty_counts_as_unset(blank: str):
    # docker run --env-file and compose's env_file pass a line "NAME=" as an empty string.
    optional = [name for name in every_variable() if name not in REQUIRED]
    env = {**REQUIRED, **dict.fromkeys(optional, blank)}

    assert len(optional) >= 20
    assert Settings.from_env(env) == Settings.from_env(REQUIRED)


def test_an_empty_variable_does_not_hide_the_env_file(tmp_path: Path, monkeypatch):
    dotenv = tmp_path / ".env"
    dotenv.write_text("HTTP_PORT=9999\nLOG_LEVEL=DEBUG\nHTTP_HOST=\n")
    monkeypatch.setenv("HTTP_PORT", "")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.delenv("HTTP_HOST", raising=False)

    env = environment(dotenv)

    assert env["HTTP_PORT"] == "9999"  # empty in the environment: the file's value
    assert env["LOG_LEVEL"] == "WARNING"  # set in the environment: it wins
    assert "HTTP_HOST" not in env  # empty everywhere: unset


def test_read_collects_every_problem_and_names_the_unusable_variables():
    env = {"DISCORD_TOKEN": "t", "HTTP_PORT": "abc", "DATABASE_URL": "mysql://x"}

    reading = Settings.read(env)

    assert reading.unusable == {"AKOOL_API_KEY", "HTTP_PORT", "DATABASE_URL"}
    assert len(reading.problems) == 3
    # The unusable values take their defaults; the usable ones are kept.
    assert reading.settings.http_port == 8080
    assert reading.settings.discord_token.reveal() == "t"
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env)
    assert raised.value.problems == reading.problems


def test_the_readme_invite_link_asks_for_exactly_the_permissions_the_bot_needs():
    from bot.invite import CHANNEL_PERMISSIONS, permission_label, required_permissions

    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())

    assert f"permissions={required_permissions().value}`" in readme
    for name, _why in CHANNEL_PERMISSIONS:
        assert permission_label(name) in readme


def test_credit_caps_are_read_and_unset_means_none():
    capped = Settings.from_env(
        {**REQUIRED, "CREDITS_PER_DAY": "500", "SERVER_CREDITS_PER_DAY": "80"}
    )
    open_ = Settings.from_env(REQUIRED)

    assert (capped.credits_per_day, capped.server_credits_per_day) == (500, 80)
    assert (open_.credits_per_day, open_.server_credits_per_day) == (None, None)


@pytest.mark.parametrize("name", ["CREDITS_PER_DAY", "SERVER_CREDITS_PER_DAY"])
@pytest.mark.parametrize("raw", ["0", "-5", "ten", "2.5"])
def test_a_credit_cap_that_is_not_a_positive_whole_number_is_refused(name: str, raw: str):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**REQUIRED, name: raw})

    (problem,) = caught.value.problems
    assert problem.startswith(f"{name} is not valid: expected")
