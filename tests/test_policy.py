"""Fair-use and place checks: the sentences members see."""

from __future__ import annotations

import pytest

from bot import i18n, lookalikes, policy
from bot.errors import UserFacingError
from bot.server_settings import InvalidSetting, ServerSettings
from bot.store import Caps, CreditUsage, Limits, MemberUsage, Spending

LIMITS = Limits(active=3, daily=25, since=1_000.0)


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (MemberUsage(1, 25, 1_500.0), "You have started 25 jobs in the last 24 hours"),
        (MemberUsage(3, 4, 1_500.0), "You have 3 unfinished jobs, and this server allows 3"),
        (MemberUsage(1, 1, 1_500.0), "You have 1 unfinished job,"),
    ],
)
def test_limit_sentences(usage, expected):
    limits = LIMITS if usage.daily != 1 else Limits(active=1, daily=25, since=1_000.0)

    assert expected in str(policy.explain_limit(limits, usage))


def test_the_daily_refusal_says_when_it_frees_up():
    text = str(policy.explain_limit(LIMITS, MemberUsage(0, 25, 1_500.0)))

    assert f"<t:{1_500 + policy.DAY}:R>" in text


def test_a_thread_inherits_its_channel():
    settings = ServerSettings(channels=frozenset({10}))

    policy.check_place(settings, 99, [], parent_channel_id=10)
    with pytest.raises(UserFacingError, match="works only in <#10>"):
        policy.check_place(settings, 99, [], parent_channel_id=11)


def test_the_channels_allowed_are_listed_as_the_readers_language_lists():
    settings = ServerSettings(channels=frozenset({10, 11}))

    with pytest.raises(UserFacingError) as refused:
        policy.check_place(settings, 99, [])

    assert "works only in <#10>, <#11> on" in refused.value.in_language("en-US")
    assert "<#10>、<#11>" in refused.value.in_language("ja")


def test_the_aspects_offered_are_listed_as_the_readers_language_lists():
    with pytest.raises(InvalidSetting) as refused:
        ServerSettings().with_aspect("5:4")

    assert "(1:1, 4:3, 3:2," in refused.value.text("en-US")
    assert "1:1、4:3、3:2、" in refused.value.text("ja")


@pytest.mark.parametrize(
    ("channel", "parent", "refused"),
    [(99, None, False), (10, None, True), (99, 10, True), (99, 11, False)],
)
def test_a_thread_of_a_disallowed_channel_is_disallowed(channel, parent, refused):
    settings = ServerSettings(channels_excluded=frozenset({10}))

    if refused:
        with pytest.raises(UserFacingError, match="does not work in <#10>"):
            policy.check_place(settings, channel, [], parent_channel_id=parent)
    else:
        policy.check_place(settings, channel, [], parent_channel_id=parent)


def test_a_disallowed_role_refuses_whatever_other_roles_a_member_has():
    settings = ServerSettings(roles_excluded=frozenset({5}))

    policy.check_place(settings, 1, [4])
    policy.check_place(settings, 1, [])
    with pytest.raises(UserFacingError, match="One of your roles"):
        policy.check_place(settings, 1, [4, 5])


def test_roles():
    settings = ServerSettings(roles=frozenset({5}))

    policy.check_place(settings, 1, [4, 5])
    with pytest.raises(UserFacingError, match="certain roles"):
        policy.check_place(settings, 1, [4])


# Each prompt spells the banned word "gore" (or "free nitro") the way a member dodging the filter
# might; the check must see through every one, and must still match whole words only.
@pytest.mark.parametrize(
    ("banned", "prompt", "found"),
    [
        ("gore", "a gore scene", "gore"),
        ("gore", "a GORE scene", "gore"),
        ("gore", "a go\u200bre scene", "gore"),  # zero-width space
        ("gore", "a g\u200co\u200dre scene", "gore"),  # zero-width non-joiner and joiner
        ("gore", "a go\u2060re scene", "gore"),  # word joiner
        ("gore", "a \ufeffgore scene", "gore"),  # byte-order mark
        ("gore", "a go\u00adre scene", "gore"),  # soft hyphen
        ("gore", "a g\u043ere scene", "gore"),  # Cyrillic small o
        ("gore", "a g\u03bfre scene", "gore"),  # Greek omicron
        ("gore", "a \u0261ore scene", None),  # Latin script g: same script, not folded
        ("gore", "a G\u041eRE scene", "gore"),  # Cyrillic capital o
        ("gore", "a \uff47\uff4f\uff52\uff45 scene", "gore"),  # full-width
        ("gore", "a \U0001d420\U0001d428\U0001d42b\U0001d41e scene", "gore"),  # mathematical bold
        ("gore", "a g\u00f3r\u00e9 scene", "gore"),  # accents
        ("gore", "a go\u0335re scene", "gore"),  # combining overlay
        ("g\u043ere", "a gore scene", "g\u043ere"),  # the stored word is folded too
        ("free nitro", "get fr\u0435e  n\u0456tro now", "free nitro"),  # Cyrillic ie and i
        ("gore", "a gorey scene", None),  # whole words only
        ("gore", "a g\u043erey scene", None),
        ("gore", "gorgeous", None),
        ("gore", "a gore.", "gore"),
    ],
)
def test_banned_words_match_after_normalisation(banned, prompt, found):
    settings = ServerSettings().with_banned_word(banned)

    assert settings.banned_word_in(prompt) == found
    if found is None:
        policy.check_prompt(settings, prompt)
    else:
        with pytest.raises(UserFacingError, match="which this server does not allow"):
            policy.check_prompt(settings, prompt)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("G\u043eRE", "gore"),
        ("go\u200b\u200c\u200d\u2060\ufeff\u00adre", "gore"),
        ("\uff27\uff4f\uff52\uff45", "gore"),
        ("caf\u00e9", "cafe"),
        ("l1m rn", "l1m rn"),  # ASCII is never folded into other ASCII
        # Greek gamma and iota look like y and i; epsilon has no Latin twin and stays.
        ("\u0393\u03b5\u03b9\u03ac", "y\u03b5ia"),
    ],
)
def test_comparable_form(text, expected):
    assert lookalikes.comparable(text) == expected


def test_a_spelling_of_a_banned_word_is_already_banned():
    settings = ServerSettings().with_banned_word("gore")

    with pytest.raises(InvalidSetting, match="already banned"):
        settings.with_banned_word("g\u043ere")
    assert settings.without_banned_word("G\u041eRE").banned_words == ()


def test_a_banned_word_of_invisible_characters_is_refused():
    with pytest.raises(InvalidSetting, match="at least one letter or digit"):
        ServerSettings().with_banned_word("\u200b\u200d")


# Credit caps: which one is passed, and when it frees up

CAPS = Caps(account=10, server=6, since=1_000.0, default_cost=2)


def usage(account: tuple[int, int], server: tuple[int, int], cost: int = 2) -> CreditUsage:
    return CreditUsage(Spending(*account), Spending(*server), cost)


@pytest.mark.parametrize(
    ("spending", "passed"),
    [
        (usage((8, 0), (0, 0)), None),  # 8 + 2 = 10: exactly at the account's cap is within it
        (usage((8, 1), (0, 0)), policy.Cap.ACCOUNT),  # held credits count like spent ones
        (usage((4, 0), (3, 2)), policy.Cap.SERVER),
        (usage((9, 0), (5, 0)), policy.Cap.ACCOUNT),  # both passed: the account's is named
    ],
)
def test_the_cap_a_job_would_pass(spending: CreditUsage, passed: policy.Cap | None):
    assert policy.cap_passed(CAPS, spending) is passed


def test_a_cap_frees_up_when_enough_spending_ages_out():
    # 2 + 3 + 4 spent of 10, and 2 more would need 1 back: the first job's, a day on.
    reported = [(1_100.0, 2), (1_200.0, 3), (1_300.0, 4)]
    needs_one = str(policy.explain_cap(policy.Cap.ACCOUNT, 10, Spending(9, 0), 2, reported))
    needs_four = str(policy.explain_cap(policy.Cap.ACCOUNT, 10, Spending(9, 0), 5, reported))

    assert f"Enough frees up <t:{1_100 + policy.DAY}:R>." in needs_one
    assert f"Enough frees up <t:{1_200 + policy.DAY}:R>." in needs_four  # 2 + 3 >= 4


def test_a_cap_held_by_unfinished_jobs_frees_as_they_finish():
    # 1 spent + 5 held + 2 is 2 over a cap of 6, and only 1 can age out.
    text = str(policy.explain_cap(policy.Cap.SERVER, 6, Spending(1, 5), 2, [(1_100.0, 1)]))

    assert text.startswith("This would pass this server's daily credit cap of 6 credits:")
    assert "1 was spent in the last 24 hours and 5 held by unfinished jobs" in text
    assert "Unfinished jobs hold part of it: it frees up as they finish" in text
    assert "<t:" not in text


def test_a_job_dearer_than_the_whole_cap_says_so():
    text = str(policy.explain_cap(policy.Cap.SERVER, 3, Spending(0, 0), 5, []))

    assert "expected to cost more than the whole cap" in text


def test_a_cap_of_one_credit_is_named_in_the_singular_in_each_language():
    one = policy.explain_cap(policy.Cap.SERVER, 1, Spending(0, 0), 2, [])
    two = policy.explain_cap(policy.Cap.ACCOUNT, 2, Spending(0, 0), 3, [])

    assert str(one).startswith("This would pass this server's daily credit cap of 1 credit:")
    assert "account of 2 credits:" in str(two)
    for language in ("de", "pt_BR"):
        # Followed by a space: "1 Credit " is not the start of "1 Credits".
        assert i18n.ngettext(language, "{n} credit", "{n} credits", 1) + " " in one(language)
        assert i18n.ngettext(language, "{n} credit", "{n} credits", 2) + " " in two(language)


def test_caps_take_the_lower_of_the_servers_own_limit_and_the_operators():
    operator = policy.OperatorCaps(account=None, server=50)
    lower = ServerSettings().with_credit_limit(20, ceiling=50)

    assert policy.caps(policy.OperatorCaps(), ServerSettings(), 0.0) is None
    assert policy.caps(operator, ServerSettings(), 0.0) == Caps(
        account=None, server=50, since=-policy.DAY, default_cost=policy.DOCUMENTED_CREDITS
    )
    capped = policy.caps(operator, lower, 0.0)
    assert capped is not None
    assert capped.server == 20
    # The operator lowered the cap below the server's own limit since: the operator's holds.
    later = policy.caps(policy.OperatorCaps(server=10), lower, 0.0)
    assert later is not None
    assert later.server == 10
