"""When callbacks are trusted: by the tenth finish they all announced, until two of ten were not."""

from __future__ import annotations

import pytest

from bot.webhook_trust import WebhookTrust


@pytest.mark.parametrize(
    ("announced", "trusted"),
    [
        ([True] * 9, False),  # too few seen yet
        ([True] * 10, True),
        ([True] * 10 + [False], True),  # one lost callback is forgiven
        ([True] * 10 + [False, False], False),  # two of the last ten: polling takes over
        ([True] * 10 + [False, False] + [True] * 8, False),
        ([True] * 10 + [False, False] + [True] * 9, True),  # one of the two lost has aged out
    ],
)
def test_trust_follows_the_last_ten_finishes(announced: list[bool], trusted: bool):
    trust = WebhookTrust()
    for n, said in enumerate(announced):
        trust.finished(announced=said, akool_id=f"job{n}")

    assert trust.trusted is trusted


def test_a_callback_that_came_after_the_poll_counts_for_its_job_only():
    trust = WebhookTrust()
    for n in range(10):
        trust.finished(announced=False, akool_id=f"job{n}")
    for n in range(8):
        trust.announced_late(f"job{n}")
    trust.announced_late("a job never seen")
    eight_of_ten = trust.trusted
    trust.announced_late("job8")

    assert (eight_of_ten, trust.trusted) == (False, True)
