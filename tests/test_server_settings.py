"""Server settings: validation with reasons, banned-word matching, tolerant storage."""

from __future__ import annotations

import json

import pytest

from bot.server_settings import InvalidSetting, Kind, Mode, Scope, ServerSettings


@pytest.mark.parametrize(
    ("active", "daily", "message"),
    [
        (0, None, "from 1 to 20"),
        (21, None, "from 1 to 20"),
        (None, 0, "from 1 to 1000"),
        (None, 1001, "from 1 to 1000"),
    ],
)
def test_limits_out_of_range_are_refused(active, daily, message):
    with pytest.raises(InvalidSetting, match=message):
        ServerSettings().with_limits(active=active, daily=daily)


def test_limits_in_range():
    settings = ServerSettings().with_limits(active=5, daily=None)

    assert (settings.max_active_jobs, settings.max_daily_jobs) == (5, 25)


@pytest.mark.parametrize(
    ("words", "prompt", "found"),
    [
        (["gore"], "a GORE scene", "gore"),
        (["gore"], "a gorest forest", None),
        (["gore"], "gore.", "gore"),
        (["blood bath"], "a Blood   Bath", "blood bath"),
        (["blood bath"], "a blood bath", "blood bath"),
        (["c++"], "learn c++ now", "c++"),
        ([], "anything", None),
    ],
)
def test_banned_words_match_whole_words_in_any_case(words, prompt, found):
    settings = ServerSettings()
    for word in words:
        settings = settings.with_banned_word(word)

    assert settings.banned_word_in(prompt) == found


@pytest.mark.parametrize(
    ("word", "message"),
    [("   ", "at least one"), ("x" * 51, "at most 50")],
)
def test_bad_banned_words_are_refused(word, message):
    with pytest.raises(InvalidSetting, match=message):
        ServerSettings().with_banned_word(word)


def test_banned_word_add_remove():
    settings = ServerSettings().with_banned_word("Gore")

    with pytest.raises(InvalidSetting, match="already"):
        settings.with_banned_word("gore")
    assert settings.without_banned_word("GORE").banned_words == ()
    with pytest.raises(InvalidSetting, match="not on the banned list"):
        ServerSettings().without_banned_word("gore")


def test_aspect_must_be_one_akool_offers():
    assert ServerSettings().with_aspect("16:9").default_aspect == "16:9"
    with pytest.raises(InvalidSetting, match="not an aspect ratio"):
        ServerSettings().with_aspect("5:1")


def test_json_round_trip():
    settings = ServerSettings(
        channels=frozenset({1, 2}),
        roles=frozenset({3}),
        max_active_jobs=4,
        max_daily_jobs=40,
        banned_words=("gore",),
        buttons_for_everyone=False,
        default_aspect="9:16",
        variation_similarity=0.25,
    )

    assert ServerSettings.from_json(settings.to_json()) == settings


@pytest.mark.parametrize(
    "raw",
    ["not json", "[]", '{"max_active_jobs": "many", "channels": ["x"], "unknown": 1}'],
)
def test_unusable_stored_values_fall_back_to_defaults(raw):
    assert ServerSettings.from_json(raw) == ServerSettings()


@pytest.mark.parametrize(
    ("stored", "loaded"),
    [("1", 1.0), ("0", 0.0), ("0.7", 0.7), ("1.5", 0.5), ("-0.1", 0.5), ("true", 0.5)],
)
def test_a_stored_similarity_of_variations_is_a_fraction_or_the_default(stored, loaded):
    raw = f'{{"variation_similarity": {stored}}}'

    assert ServerSettings.from_json(raw).variation_similarity == loaded


@pytest.mark.parametrize("value", [-0.01, 1.01, float("nan")])
def test_a_similarity_of_variations_outside_0_to_1_is_refused(value):
    with pytest.raises(InvalidSetting, match="must be from 0 to 1"):
        ServerSettings().with_variation_similarity(value)


def test_the_similarity_of_variations_defaults_to_akools():
    assert ServerSettings().variation_similarity == 0.5
    assert ServerSettings().with_variation_similarity(1).variation_similarity == 1.0


def test_a_banned_word_needs_a_letter_or_digit():
    with pytest.raises(InvalidSetting, match="letter or digit"):
        ServerSettings().with_banned_word("!!!")


def test_json_round_trip_of_exclusions():
    settings = ServerSettings(channels_excluded=frozenset({5, 6}), roles_excluded=frozenset({7}))

    assert ServerSettings.from_json(settings.to_json()) == settings


@pytest.mark.parametrize(
    ("raw", "channels", "roles"),
    [
        # Rows stored before the exclusions existed keep their meaning.
        ('{"channels": [], "roles": [], "max_active_jobs": 4}', Mode.ALL, Mode.ALL),
        ('{"channels": [1, 2], "roles": [3]}', Mode.ONLY, Mode.ONLY),
        ('{"channels_excluded": [1], "roles_excluded": [3]}', Mode.EXCEPT, Mode.EXCEPT),
    ],
)
def test_stored_rows_load_in_their_mode(raw, channels, roles):
    settings = ServerSettings.from_json(raw)

    assert (settings.channel_scope.mode, settings.role_scope.mode) == (channels, roles)


ALL = Scope()
ONLY_1_2 = Scope(only=frozenset({1, 2}))
ONLY_1 = Scope(only=frozenset({1}))
EXCEPT_1_2 = Scope(excluded=frozenset({1, 2}))
EXCEPT_1 = Scope(excluded=frozenset({1}))


# (scope, action, item) -> the scope after, or the words of the refusal.
@pytest.mark.parametrize(
    ("scope", "action", "item", "after"),
    [
        (ALL, "allow", 1, ONLY_1),
        (ALL, "disallow", 1, EXCEPT_1),
        (ONLY_1, "allow", 2, ONLY_1_2),
        (ONLY_1, "allow", 1, "already allowed"),
        (ONLY_1_2, "disallow", 2, ONLY_1),
        (ONLY_1, "disallow", 1, "is the only channel allowed"),
        (ONLY_1, "disallow", 3, "already disallowed"),
        (EXCEPT_1, "disallow", 2, EXCEPT_1_2),
        (EXCEPT_1, "disallow", 1, "already disallowed"),
        (EXCEPT_1_2, "allow", 2, EXCEPT_1),
        (EXCEPT_1, "allow", 1, ALL),
        (EXCEPT_1, "allow", 3, "already allowed"),
    ],
)
def test_allowing_and_disallowing_move_between_modes(scope: Scope, action, item, after):
    def act() -> Scope:
        if action == "allow":
            return scope.allowing(item, "#x", kind=Kind.CHANNEL)
        return scope.disallowing(item, "#x", kind=Kind.CHANNEL)

    if isinstance(after, str):
        with pytest.raises(InvalidSetting, match=after):
            act()
    else:
        assert act() == after


def test_a_servers_credit_limit_stays_at_or_below_the_operators_cap():
    lowered = ServerSettings().with_credit_limit(40, ceiling=40)

    assert lowered.max_daily_credits == 40
    assert lowered.daily_credit_cap(40) == 40
    with pytest.raises(InvalidSetting, match="caps every server at 40 credits a day"):
        lowered.with_credit_limit(41, ceiling=40)
    assert lowered.with_credit_limit(0, ceiling=40).max_daily_credits is None  # cleared
    assert ServerSettings().with_credit_limit(5_000, ceiling=None).daily_credit_cap(None) == 5_000
    assert ServerSettings().daily_credit_cap(None) is None
    with pytest.raises(InvalidSetting, match="must be from 0 to"):
        ServerSettings().with_credit_limit(-1, ceiling=None)


@pytest.mark.parametrize(
    ("stored", "loaded"), [(25, 25), (None, None), (0, None), (-3, None), ("9", None), (True, None)]
)
def test_a_stored_credit_limit_is_a_positive_whole_number_or_none(stored, loaded):
    raw = (
        ServerSettings()
        .to_json()
        .replace('"max_daily_credits": null', f'"max_daily_credits": {json.dumps(stored)}')
    )

    assert ServerSettings.from_json(raw).max_daily_credits == loaded
    assert ServerSettings.from_json(ServerSettings(max_daily_credits=25).to_json()) == (
        ServerSettings(max_daily_credits=25)
    )


@pytest.mark.parametrize(
    ("locale", "sentence"),
    [
        ("en-US", "caps every server at 1 credit a day"),
        ("de", "jeden Server auf 1 Credit am Tag"),
        ("fr", "chaque serveur à 1 crédit par jour"),
    ],
)
def test_an_operators_cap_of_one_credit_is_said_in_the_singular(locale: str, sentence: str):
    with pytest.raises(InvalidSetting) as refused:
        ServerSettings().with_credit_limit(2, ceiling=1)

    assert sentence in refused.value.text(locale)
