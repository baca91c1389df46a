"""Fair-use and place checks: the sentences members see."""

from __future__ import annotations

import pytest

from bot import policy
from bot.errors import UserFacingError
from bot.server_settings import ServerSettings
from bot.store import Limits, MemberUsage

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

    assert expected in policy.explain_limit(limits, usage)


def test_the_daily_refusal_says_when_it_frees_up():
    text = policy.explain_limit(LIMITS, MemberUsage(0, 25, 1_500.0))

    assert f"<t:{1_500 + policy.DAY}:R>" in text


def test_a_thread_inherits_its_channel():
    settings = ServerSettings(channels=frozenset({10}))

    policy.check_place(settings, 99, [], parent_channel_id=10)
    with pytest.raises(UserFacingError, match="works only in <#10>"):
        policy.check_place(settings, 99, [], parent_channel_id=11)


def test_roles():
    settings = ServerSettings(roles=frozenset({5}))

    policy.check_place(settings, 1, [4, 5])
    with pytest.raises(UserFacingError, match="certain roles"):
        policy.check_place(settings, 1, [4])
