"""Answering a command a crash left unanswered (``Notifier.report_lost_create``), with a spec'd
Discord client and a real store: which answer, by which way, and when the channel gets it instead.
"""

from __future__ import annotations

from typing import Any
from unittest.mock import AsyncMock, MagicMock, create_autospec

import discord
import pytest

from bot.images import ImageFetcher
from bot.interaction_webhook import USABLE_FOR
from bot.notifier import Notifier, RetryLater
from bot.secret import Secret
from bot.store import CreateIntent, InteractionReply, JobKind, NewJob, ReplyBy
from bot.store.sqlite import SqliteJobStore

NOW = 1_700_000_000.0
APP, TOKEN = 555, "interaction-token-0123456789"
GUILD, CHANNEL, ALICE = 11, 22, 33
JOB_ID, GRID_ID = "0123456789abcdef01234567", "fedcba9876543210fedcba98"
EDIT = InteractionReply(APP, Secret(TOKEN), ReplyBy.EDIT)
FOLLOWUP = InteractionReply(APP, Secret(TOKEN), ReplyBy.FOLLOWUP)


def http_error(status: int) -> discord.HTTPException:
    return discord.HTTPException(
        MagicMock(status=status, reason="no"), {"code": 0, "message": "no"}
    )


def intent(
    reply: InteractionReply | None = EDIT,
    *,
    asked: bool = True,
    age: float = 10.0,
    akool_id: str | None = None,
) -> CreateIntent:
    return CreateIntent(
        id=7,
        requester_id=ALICE,
        guild_id=GUILD,
        channel_id=CHANNEL,
        prompt="a fox",
        started_at=NOW - age,
        reply=reply,
        akool_called_at=NOW - age if asked else None,
        akool_id=akool_id,
    )


@pytest.fixture
def channel() -> Any:
    channel = create_autospec(discord.PartialMessageable, instance=True)
    channel.send.return_value = MagicMock(id=4242)
    return channel


@pytest.fixture
def client(channel: Any) -> Any:
    client = create_autospec(discord.Client, instance=True)
    client.get_partial_messageable.return_value = channel
    client.http = MagicMock()
    client.http.request = AsyncMock(return_value={"id": "9001"})
    return client


@pytest.fixture
def notifier(client: Any, store: SqliteJobStore) -> Notifier:
    return Notifier(client, store, create_autospec(ImageFetcher, instance=True), clock=lambda: NOW)


def webhook_calls(client: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """``(method, url, json)`` of each call to the interaction's webhook."""
    return [
        (call.args[0].method, call.args[0].url, call.kwargs["json"])
        for call in client.http.request.await_args_list
    ]


@pytest.mark.parametrize(
    ("asked", "sentence"),
    [
        (False, "nothing was started and nothing was charged"),
        (True, "AKOOL may have made it anyway"),
    ],
)
async def test_without_a_job_the_thinking_response_says_what_is_known(
    notifier: Notifier, client: Any, channel: Any, asked: bool, sentence: str
):
    await notifier.report_lost_create(intent(asked=asked))

    ((method, url, body),) = webhook_calls(client)
    assert method == "PATCH"
    assert url.endswith(f"/webhooks/{APP}/{TOKEN}/messages/@original")
    assert sentence in body["content"]
    assert "a fox" in body["content"]
    channel.send.assert_not_awaited()


async def test_a_button_is_answered_privately_never_by_editing_the_grid(
    notifier: Notifier, client: Any, channel: Any
):
    await notifier.report_lost_create(intent(FOLLOWUP, asked=False))

    ((method, url, body),) = webhook_calls(client)
    assert (method, url.rsplit("/api/v10", 1)[-1]) == ("POST", f"/webhooks/{APP}/{TOKEN}")
    assert body["flags"] == discord.MessageFlags(ephemeral=True).value
    assert "nothing was started" in body["content"]
    channel.send.assert_not_awaited()


@pytest.mark.parametrize(
    ("reply", "age", "refusal"),
    [
        (None, 10.0, None),  # a press: nothing to answer it by
        (EDIT, USABLE_FOR + 1, None),  # Discord forgets the token after 15 minutes
        (EDIT, 10.0, 404),  # the "thinking" message was deleted, or the token is unknown
        (EDIT, 10.0, 401),  # an invalid webhook token
        (FOLLOWUP, 10.0, 403),
    ],
)
async def test_otherwise_the_channel_is_told_and_the_member_pinged(
    notifier: Notifier,
    client: Any,
    channel: Any,
    reply: InteractionReply | None,
    age: float,
    refusal: int | None,
):
    if refusal is not None:
        client.http.request.side_effect = http_error(refusal)

    await notifier.report_lost_create(intent(reply, age=age))

    assert len(webhook_calls(client)) == (0 if refusal is None else 1)
    (call,) = channel.send.await_args_list
    assert "AKOOL may have made it anyway" in call.args[0]
    assert [u.id for u in call.kwargs["allowed_mentions"].users] == [ALICE]


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_a_passing_refusal_is_retried_later(
    notifier: Notifier, client: Any, channel: Any, status: int
):
    client.http.request.side_effect = http_error(status)

    with pytest.raises(RetryLater):
        await notifier.report_lost_create(intent())

    channel.send.assert_not_awaited()


async def add_job(store: SqliteJobStore, akool_id: str = JOB_ID, **fields: Any) -> Any:
    new = NewJob(
        akool_id=akool_id,
        kind=JobKind.IMAGINE,
        requester_id=ALICE,
        channel_id=CHANNEL,
        guild_id=GUILD,
        prompt="a fox",
        **fields,
    )
    job, _ = await store.add_job(new, now=NOW, due_at=NOW)
    return job


async def test_a_stored_job_answers_with_its_status_line_and_keeps_it_as_status_message(
    notifier: Notifier, client: Any, channel: Any, store: SqliteJobStore
):
    job = await add_job(store)

    await notifier.report_lost_create(intent(akool_id=JOB_ID), job)

    ((method, url, body),) = webhook_calls(client)
    assert method == "PATCH"
    assert url.endswith("/messages/@original")
    assert f"job `{JOB_ID}`" in body["content"]
    assert body["allowed_mentions"]["parse"] == []
    stored = await store.get_job(JOB_ID)
    assert stored is not None
    assert stored.status_message_id == 9001
    channel.send.assert_not_awaited()


@pytest.mark.parametrize("reply", [FOLLOWUP, None])
async def test_a_derived_job_is_announced_as_a_reply_to_its_grid(
    notifier: Notifier, client: Any, channel: Any, store: SqliteJobStore, reply: Any
):
    await add_job(store, GRID_ID)
    await store.mark_delivered(GRID_ID, 777, now=NOW)
    child = await add_job(store, parent_akool_id=GRID_ID, button="reroll")

    await notifier.report_lost_create(intent(reply, akool_id=JOB_ID), child)

    assert webhook_calls(client) == []
    (call,) = channel.send.await_args_list
    assert f"job `{JOB_ID}`" in call.args[0]
    assert call.kwargs["reference"].message_id == 777
    stored = await store.get_job(JOB_ID)
    assert stored is not None
    assert stored.status_message_id == 4242


async def test_the_token_never_shows_in_the_intent_or_the_log(
    notifier: Notifier, client: Any, caplog: pytest.LogCaptureFixture
):
    client.http.request.side_effect = http_error(404)

    with caplog.at_level("DEBUG"):
        await notifier.report_lost_create(intent())

    assert TOKEN not in repr(intent())
    assert TOKEN not in caplog.text
