"""The notifier's decisions with a spec'd Discord client and image fetcher and a real store:
which refusals are retried, when the requester gets a DM, when a job is given up on."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any
from unittest.mock import MagicMock, create_autospec

import discord
import pytest

from bot import notifier as notifier_module
from bot import render
from bot.custom_ids import GRID_BUTTONS
from bot.i18n import Text
from bot.images import DownloadedImage, ImageDownloadError, ImageFetcher
from bot.notifier import DOWNLOAD_ATTEMPTS, Notifier, RetryLater, may_pass
from bot.store import Delivery, Job, JobKind, JobStatus, NewJob, StatusUpdate
from bot.store.sqlite import SqliteJobStore
from tests.fakes.discord_server.validation import validate_message
from tests.fakes.png import make_png

NOW = 1_700_000_000.0
JOB_ID = "0123456789abcdef01234567"
GUILD, CHANNEL, ALICE = 11, 22, 33
URL = f"https://cdn.akool.example/{JOB_ID}.png"
PNG = make_png(8, 8, "result")


def http_error(
    cls: type[discord.HTTPException], status: int, code: int = 0, text: str = "refused"
) -> discord.HTTPException:
    response = MagicMock(status=status, reason=text)
    return cls(response, {"code": code, "message": text})


def sent_message(message_id: int, channel_id: int) -> Any:
    message = create_autospec(discord.Message, instance=True)
    message.id = message_id
    message.channel = MagicMock(id=channel_id)
    attachment = create_autospec(discord.Attachment, instance=True)
    attachment.id, attachment.filename = message_id + 1, f"{JOB_ID}.png"
    message.attachments = [attachment]
    return message


def kwargs_of(send: Any) -> dict[str, Any]:
    (call,) = send.await_args_list
    return dict(call.kwargs)


@pytest.fixture
def channel() -> Any:
    return create_autospec(discord.PartialMessageable, instance=True)


@pytest.fixture
def dm() -> Any:
    return create_autospec(discord.DMChannel, instance=True)


@pytest.fixture
def client(channel: Any, dm: Any) -> Any:
    client = create_autospec(discord.Client, instance=True)
    client.get_partial_messageable.return_value = channel
    client.get_guild.return_value = None
    client.create_dm.return_value = dm
    return client


@pytest.fixture
def images() -> Any:
    images = create_autospec(ImageFetcher, instance=True)
    images.fetch.return_value = DownloadedImage(PNG, "image/png", f"{JOB_ID}.png")
    return images


@pytest.fixture
def notifier(client: Any, store: SqliteJobStore, images: Any) -> Notifier:
    return Notifier(client, store, images, clock=lambda: NOW)


async def finished(
    store: SqliteJobStore,
    *,
    status: JobStatus = JobStatus.COMPLETED,
    guild_id: int | None = GUILD,
    url: str = URL,
    prompt: str = "a fox",
) -> Job:
    new = NewJob(
        akool_id=JOB_ID,
        kind=JobKind.IMAGINE,
        requester_id=ALICE,
        channel_id=CHANNEL,
        guild_id=guild_id,
        prompt=prompt,
    )
    await store.add_job(new, now=NOW, due_at=NOW)
    failed = status is JobStatus.FAILED
    update = StatusUpdate(
        status,
        image_url=None if failed else url,
        buttons=() if failed else GRID_BUTTONS,
        error="AKOOL said no." if failed else None,
    )
    job = await store.record_status(JOB_ID, update, now=NOW, due_at=NOW)
    assert job is not None
    return job


@pytest.mark.parametrize(
    ("status", "retry"),
    [
        (500, True),
        (502, True),
        (503, True),
        (429, True),  # only after discord.py's own waits gave up
        (401, True),  # the token was reset: pending jobs go out with the new one
        (400, False),
        (403, False),
        (404, False),
        (413, False),
    ],
)
def test_which_discord_refusals_may_pass(status: int, retry: bool):
    assert may_pass(http_error(discord.HTTPException, status)) is retry


async def test_a_post_in_the_channel_is_recorded(
    notifier: Notifier, store: SqliteJobStore, channel: Any, client: Any
):
    channel.send.return_value = sent_message(99, CHANNEL)
    await notifier.deliver(await finished(store))

    sent = kwargs_of(channel.send)
    assert sent["nonce"] == JOB_ID
    assert sent["file"].fp.read() == PNG
    assert "view" in sent
    client.create_dm.assert_not_awaited()
    stored = await store.get_job(JOB_ID)
    assert stored is not None
    assert stored.delivery is Delivery.DELIVERED
    assert stored.result_message_id == 99


@pytest.mark.parametrize(
    "refusal",
    [
        http_error(discord.Forbidden, 403, 50013, "Missing Permissions"),
        http_error(discord.Forbidden, 403, 50001, "Missing Access"),
        http_error(discord.NotFound, 404, 10003, "Unknown Channel"),
    ],
)
async def test_an_unusable_channel_sends_the_post_by_dm(
    notifier: Notifier,
    store: SqliteJobStore,
    channel: Any,
    dm: Any,
    client: Any,
    refusal: discord.HTTPException,
    caplog: pytest.LogCaptureFixture,
):
    async def refuse(**kwargs: Any) -> discord.Message:
        kwargs["file"].fp.read()  # as discord.py does while uploading
        raise refusal

    channel.send.side_effect = refuse
    dm.send.return_value = sent_message(77, 555)
    await notifier.deliver(await finished(store))

    (user,) = client.create_dm.await_args.args
    assert user.id == ALICE
    sent = kwargs_of(dm.send)
    # A file that was read for the refused post would go out empty: the DM gets its own.
    assert sent["file"].fp.read() == PNG
    assert "view" not in sent  # presses are checked against the server
    assert "reference" not in sent
    assert sent["nonce"] == JOB_ID
    assert sent["content"].startswith(
        f"-# Sent to you directly: the bot can no longer post in <#{CHANNEL}>."
    )
    assert f"/status {JOB_ID}" in sent["content"]
    stored = await store.get_job(JOB_ID)
    assert stored is not None
    assert stored.delivery is Delivery.DELIVERED
    assert stored.result_message_id == 77
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert JOB_ID in warning.getMessage()
    assert str(refusal.code) in warning.getMessage()


async def test_a_failure_goes_by_dm_too(
    notifier: Notifier, store: SqliteJobStore, channel: Any, dm: Any, images: Any
):
    channel.send.side_effect = http_error(discord.NotFound, 404, 10003, "Unknown Channel")
    dm.send.return_value = sent_message(78, 555)
    await notifier.deliver(await finished(store, status=JobStatus.FAILED))

    sent = kwargs_of(dm.send)
    assert "failed" in sent["content"]
    assert "/status" not in sent["content"]  # no buttons to point at
    assert sent["embed"].description == "AKOOL said no."
    assert "file" not in sent
    images.fetch.assert_not_awaited()


async def test_when_the_dm_is_refused_too_the_job_is_undeliverable(
    notifier: Notifier,
    store: SqliteJobStore,
    channel: Any,
    dm: Any,
    caplog: pytest.LogCaptureFixture,
):
    channel.send.side_effect = http_error(discord.NotFound, 404, 10003, "Unknown Channel")
    dm.send.side_effect = http_error(discord.Forbidden, 403, 50007, "Cannot send messages")
    await notifier.deliver(await finished(store))

    stored = await store.get_job(JOB_ID)
    assert stored is not None
    assert stored.delivery is Delivery.UNDELIVERABLE
    assert stored.due_at is None
    assert stored.last_error is not None
    assert "10003" in stored.last_error
    assert "50007" in stored.last_error
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert JOB_ID in error.getMessage()
    assert stored.last_error in error.getMessage()


async def test_a_dm_that_fails_for_a_passing_reason_is_retried(
    notifier: Notifier, store: SqliteJobStore, channel: Any, client: Any
):
    channel.send.side_effect = http_error(discord.Forbidden, 403, 50013, "Missing Permissions")
    client.create_dm.side_effect = http_error(discord.DiscordServerError, 503, 0, "Unavailable")
    with pytest.raises(RetryLater, match="503"):
        await notifier.deliver(await finished(store))

    stored = await store.get_job(JOB_ID)
    assert stored is not None
    assert stored.delivery is Delivery.PENDING


async def test_a_job_from_a_private_channel_has_nowhere_else_to_go(
    notifier: Notifier, store: SqliteJobStore, channel: Any, client: Any
):
    channel.send.side_effect = http_error(discord.Forbidden, 403, 50007, "Cannot send messages")
    await notifier.deliver(await finished(store, guild_id=None))

    client.create_dm.assert_not_awaited()
    stored = await store.get_job(JOB_ID)
    assert stored is not None
    assert stored.delivery is Delivery.UNDELIVERABLE


@pytest.mark.parametrize(
    ("refusal", "outcome"),
    [
        (http_error(discord.DiscordServerError, 500, 0, "Internal Server Error"), "retry"),
        (http_error(discord.HTTPException, 429, 0, "You are being rate limited."), "retry"),
        (http_error(discord.HTTPException, 400, 50035, "Invalid Form Body"), "give up"),
        (http_error(discord.HTTPException, 413, 40005, "Request entity too large"), "give up"),
    ],
)
async def test_a_refused_post_is_retried_only_when_that_can_help(
    notifier: Notifier,
    store: SqliteJobStore,
    channel: Any,
    client: Any,
    refusal: discord.HTTPException,
    outcome: str,
):
    channel.send.side_effect = refusal
    job = await finished(store)
    if outcome == "retry":
        with pytest.raises(RetryLater):
            await notifier.deliver(job)
    else:
        await notifier.deliver(job)

    client.create_dm.assert_not_awaited()  # the channel works; the message is the problem
    stored = await store.get_job(JOB_ID)
    assert stored is not None
    expected = Delivery.PENDING if outcome == "retry" else Delivery.UNDELIVERABLE
    assert stored.delivery is expected


@pytest.mark.parametrize(
    ("retryable", "attempts", "outcome"),
    [
        (True, 0, "retry"),
        (True, DOWNLOAD_ATTEMPTS - 2, "retry"),
        (True, DOWNLOAD_ATTEMPTS - 1, "post"),
        (False, 0, "post"),
    ],
)
async def test_a_failing_download_is_retried_a_few_times_then_reported(
    notifier: Notifier,
    store: SqliteJobStore,
    channel: Any,
    images: Any,
    retryable: bool,
    attempts: int,
    outcome: str,
):
    images.fetch.side_effect = ImageDownloadError(Text("It broke."), retryable=retryable)
    channel.send.return_value = sent_message(99, CHANNEL)
    job = dataclasses.replace(await finished(store), attempts=attempts)
    if outcome == "retry":
        with pytest.raises(RetryLater, match="It broke"):
            await notifier.deliver(job)
        channel.send.assert_not_awaited()
        return
    await notifier.deliver(job)

    sent = kwargs_of(channel.send)
    assert f"It broke. [Open it on AKOOL]({URL})." in sent["content"]
    assert "file" not in sent


async def test_the_dm_gets_a_preview_when_the_image_fits_only_the_server(
    notifier: Notifier,
    store: SqliteJobStore,
    channel: Any,
    dm: Any,
    client: Any,
    images: Any,
    monkeypatch: pytest.MonkeyPatch,
):
    # A boosted server takes 50 MiB; a DM only the default. Scaled down to keep the test quick.
    monkeypatch.setattr(notifier_module, "DEFAULT_UPLOAD_LIMIT", 164 * 1024)
    big = make_png(200, 200, "noise", noise=True)
    assert len(big) > 100 * 1024
    images.fetch.return_value = DownloadedImage(big, "image/png", f"{JOB_ID}.png")
    client.get_guild.return_value = MagicMock(filesize_limit=50 * 1024 * 1024)
    channel.send.side_effect = http_error(discord.NotFound, 404, 10003, "Unknown Channel")
    dm.send.return_value = sent_message(77, 555)
    await notifier.deliver(await finished(store))

    assert kwargs_of(channel.send)["file"].filename == f"{JOB_ID}.png"
    sent = kwargs_of(dm.send)
    assert sent["file"].filename == f"{JOB_ID}-preview.jpg"
    assert len(sent["file"].fp.read()) <= 100 * 1024
    assert f"[original]({URL})" in sent["content"]


async def test_a_status_message_that_is_gone_is_harmless(
    notifier: Notifier, store: SqliteJobStore, channel: Any, caplog: pytest.LogCaptureFixture
):
    job = await finished(store)
    await store.set_status_message(JOB_ID, 1234, now=NOW)
    job = dataclasses.replace(job, status_message_id=1234)
    status = create_autospec(discord.PartialMessage, instance=True)
    status.edit.side_effect = http_error(discord.NotFound, 404, 10008, "Unknown Message")
    channel.get_partial_message.return_value = status
    await notifier.show_progress(job)

    (edited,) = channel.get_partial_message.call_args_list
    assert edited.args == (1234,)
    assert "Done" in status.edit.await_args.kwargs["content"]

    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert JOB_ID in warning.getMessage()
    assert "10008" in warning.getMessage()


# The DM copy for members who asked for one (/notify dm:on)


async def test_a_member_who_asked_gets_a_dm_copy_after_the_post(
    notifier: Notifier, store: SqliteJobStore, channel: Any, dm: Any, client: Any
):
    await store.set_dm_notify(ALICE, True, now=NOW)
    channel.send.return_value = sent_message(99, CHANNEL)
    dm.send.return_value = sent_message(100, 555)
    await notifier.deliver(await finished(store))

    assert kwargs_of(channel.send)["nonce"] == JOB_ID
    (user,) = client.create_dm.await_args.args
    assert user.id == ALICE
    sent = kwargs_of(dm.send)
    assert sent["nonce"] == f"d{JOB_ID}"  # its own, so it never dedupes into the post
    assert sent["file"].fp.read() == PNG
    assert "view" not in sent  # presses are checked against the server
    assert f"https://discord.com/channels/{GUILD}/{CHANNEL}/99" in sent["content"]
    assert sent["allowed_mentions"].users is False
    stored = await store.get_job(JOB_ID)
    assert stored is not None
    assert stored.delivery is Delivery.DELIVERED
    assert stored.result_message_id == 99


async def test_a_failure_is_copied_by_dm_too(
    notifier: Notifier, store: SqliteJobStore, channel: Any, dm: Any
):
    await store.set_dm_notify(ALICE, True, now=NOW)
    channel.send.return_value = sent_message(99, CHANNEL)
    dm.send.return_value = sent_message(100, 555)
    await notifier.deliver(await finished(store, status=JobStatus.FAILED))

    sent = kwargs_of(dm.send)
    assert "failed" in sent["content"]
    assert sent["embed"].description == "AKOOL said no."
    assert "file" not in sent


@pytest.mark.parametrize(
    "refusal",
    [
        http_error(discord.Forbidden, 403, 50007, "Cannot send messages to this user"),
        # Even a refusal that may pass is not retried: the job is already delivered.
        http_error(discord.DiscordServerError, 503, 0, "Unavailable"),
    ],
)
async def test_a_refused_dm_copy_is_logged_and_never_retried(
    notifier: Notifier,
    store: SqliteJobStore,
    channel: Any,
    dm: Any,
    refusal: discord.HTTPException,
    caplog: pytest.LogCaptureFixture,
):
    await store.set_dm_notify(ALICE, True, now=NOW)
    channel.send.return_value = sent_message(99, CHANNEL)
    dm.send.side_effect = refusal
    await notifier.deliver(await finished(store))  # no RetryLater

    dm.send.assert_awaited_once()
    stored = await store.get_job(JOB_ID)
    assert stored is not None
    assert stored.delivery is Delivery.DELIVERED
    assert stored.due_at is None
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert JOB_ID in warning.getMessage()
    assert str(refusal.status) in warning.getMessage()


async def test_only_the_delivery_that_records_the_post_sends_the_copy(
    notifier: Notifier, store: SqliteJobStore, channel: Any, client: Any
):
    # Another process (or an earlier attempt) already recorded the post; this one's send got
    # the same message back by its nonce.
    await store.set_dm_notify(ALICE, True, now=NOW)
    job = await finished(store)
    assert await store.mark_delivered(JOB_ID, 99, now=NOW)
    channel.send.return_value = sent_message(99, CHANNEL)
    await notifier.deliver(job)

    client.create_dm.assert_not_awaited()


async def test_a_post_that_went_by_dm_gets_no_second_copy(
    notifier: Notifier, store: SqliteJobStore, channel: Any, dm: Any
):
    await store.set_dm_notify(ALICE, True, now=NOW)
    channel.send.side_effect = http_error(discord.NotFound, 404, 10003, "Unknown Channel")
    dm.send.return_value = sent_message(77, 555)
    await notifier.deliver(await finished(store))

    assert kwargs_of(dm.send)["nonce"] == JOB_ID  # the fallback post, and nothing else


def as_sent(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The message body discord.py sends for ``send(**kwargs)``, as Discord checks it."""
    body: dict[str, Any] = {"content": kwargs.get("content")}
    if "embed" in kwargs:
        body["embeds"] = [kwargs["embed"].to_dict()]
    if "view" in kwargs:
        body["components"] = kwargs["view"].to_components()
    return body


def long_url(length: int) -> str:
    head = f"https://cdn.akool.example/{JOB_ID}.png?sig="
    return head + "x" * (length - len(head))


@pytest.mark.parametrize("length", [100, 512, 513, 1913, 2048, 2049, 8000])
@pytest.mark.parametrize("image", ["preview", "download failed", "failed job"])
@pytest.mark.parametrize("where", ["channel and DM copy", "DM instead of the channel"])
async def test_every_post_fits_discords_limits_whatever_akool_returns(
    notifier: Notifier,
    store: SqliteJobStore,
    channel: Any,
    dm: Any,
    images: Any,
    monkeypatch: pytest.MonkeyPatch,
    length: int,
    image: str,
    where: str,
):
    url = long_url(length)
    # The longest prompt a slash command takes, full of what renders longer than it reads.
    prompt = "<@1234> **fox** " * 375
    monkeypatch.setattr(notifier_module, "DEFAULT_UPLOAD_LIMIT", 164 * 1024)
    if image == "preview":
        big = make_png(200, 200, "noise", noise=True)
        images.fetch.return_value = DownloadedImage(big, "image/png", f"{JOB_ID}.png")
    else:
        images.fetch.side_effect = ImageDownloadError(Text("The image could not be fetched: no."))
    status = JobStatus.FAILED if image == "failed job" else JobStatus.COMPLETED
    await store.set_dm_notify(ALICE, True, now=NOW)
    if where == "channel and DM copy":
        channel.send.return_value = sent_message(99, CHANNEL)
    else:
        channel.send.side_effect = http_error(discord.Forbidden, 403, 50013, "Missing Permissions")
    dm.send.return_value = sent_message(100, 555)
    await notifier.deliver(await finished(store, status=status, url=url, prompt=prompt))

    sends = [kwargs_of(dm.send)]
    if where == "channel and DM copy":
        sends.append(kwargs_of(channel.send))
    for sent in sends:
        body = as_sent(sent)
        assert validate_message(body, file_count=1 if "file" in sent else 0) is None
        shown = "\n".join([body["content"], *(str(e.get("description")) for e in body["embeds"])])
        if status is JobStatus.COMPLETED:
            assert ("file" in sent) is (image == "preview")
            # AKOOL's link goes where it fits, or the post says why it is not there.
            assert (f"]({url})" in shown) is (length <= render.EMBED_URL_MAX)
            assert (url in body["content"]) is (length <= render.CONTENT_URL_MAX)
            if length > render.EMBED_URL_MAX:
                assert "too long to post" in body["content"]
    stored = await store.get_job(JOB_ID)
    assert stored is not None
    assert stored.delivery is Delivery.DELIVERED
