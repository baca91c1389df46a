"""AKOOL's webhook end to end: it speeds delivery up, and nothing it carries is trusted."""

from __future__ import annotations

import json
import time

import aiohttp
import pytest

from bot.akool import ImageStatus
from bot.job_loop import JobLoop
from bot.runner import assemble
from bot.secret import Secret
from bot.store import Job, JobStatus
from bot.webhook import TEST_JOB_PREFIX, seal
from tests.clock import ShiftedClock
from tests.e2e.conftest import World
from tests.fakes.akool import Timeline
from tests.fakes.discord import run_bot


class ReachedTheLoop:
    """Stands in for the job loop's ``on_webhook``: notes each callback the receiver passed on,
    and what the loop made of it (the job, or None when there was nothing left to do)."""

    def __init__(self, loop: JobLoop) -> None:
        self._original = loop.on_webhook
        self.calls: list[tuple[str, ImageStatus, Job | None]] = []
        loop.on_webhook = self  # type: ignore[method-assign]

    async def __call__(self, akool_id: str, status: ImageStatus) -> Job | None:
        job = await self._original(akool_id, status)
        self.calls.append((akool_id, status, job))
        return job


async def post_webhook(world: World, body: object, *, raw: bytes | None = None) -> int:
    async with aiohttp.ClientSession() as http:
        data = raw if raw is not None else None
        async with http.post(
            f"{world.http_base}/akool/webhook",
            json=None if raw is not None else body,
            data=data,
            headers={"Content-Type": "application/json"},
        ) as response:
            return response.status


async def test_a_webhook_brings_the_result_at_once(hooked: World):
    world = hooked
    async with world.running():
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "quick"}
        )
        await ix.wait_original_edit(lambda m: "job `" in m.content)
        (job_id,) = world.akool.jobs
        post = await world.wait_for_post(world.is_post_of(job_id))

    (create,) = world.akool.requests_to("createbyprompt")
    assert create.body["webhookUrl"] == world.settings.webhook_public_url
    assert len(world.akool.webhooks_sent) == 1
    # One confirming status request (the webhook's word is never taken alone).
    assert world.akool.calls["infobymodelid"] == 1
    assert post.attachments[0].data == world.akool.png(job_id)


async def test_a_progress_webhook_moves_the_status_on_without_asking_akool(hooked: World):
    world = hooked
    world.akool.progress_webhooks = True
    world.akool.timeline = Timeline(processing_after=0.05, finished_after=1.0)
    async with world.running():
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "slow"}
        )
        await ix.wait_original_edit(lambda m: "Processing" in m.content)
        calls_while_processing = world.akool.calls["infobymodelid"]
        (job_id,) = world.akool.jobs
        await world.wait_for_post(world.is_post_of(job_id))

    assert len(world.akool.webhooks_sent) == 2
    assert calls_while_processing == 0
    assert world.akool.calls["infobymodelid"] == 1  # the final webhook's confirmation


async def test_forged_stale_replayed_and_broken_callbacks_change_nothing(hooked: World):
    world = hooked
    world.akool.timeline = Timeline(hold=True)
    async with world.running() as bot:
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "wait"}
        )
        await ix.wait_original_edit(lambda m: "job `" in m.content)
        (job_id,) = world.akool.jobs
        before = await bot.store.get_job(job_id)
        reached = ReachedTheLoop(bot.job_loop)
        payload = {"_id": job_id, "status": 3, "type": "image", "url": "https://evil.example/x.png"}
        now_ms = int(time.time() * 1000)

        valid_once = world.akool.webhook_body(payload, nonce="1111")
        forged = dict(world.akool.webhook_body(payload), signature="0" * 40)
        stale = world.akool.webhook_body(payload, timestamp=now_ms - 3_600_000)
        truncated = json.dumps(world.akool.webhook_body(payload)).encode()[:60]
        tampered = dict(world.akool.webhook_body(payload))
        tampered["dataEncrypt"] = tampered["dataEncrypt"][:10]
        statuses = {
            "forged": await post_webhook(world, forged),
            "stale": await post_webhook(world, stale),
            "truncated": await post_webhook(world, None, raw=truncated),
            "tampered": await post_webhook(world, tampered),
            "garbage": await post_webhook(world, None, raw=b"\x00\xffnot json"),
            "not an object": await post_webhook(world, [1, 2, 3]),
            "oversized": await post_webhook(world, {"pad": "x" * 100_000}),
            "first": await post_webhook(world, valid_once),
            "replayed": await post_webhook(world, valid_once),
        }
        # The valid callback made the job due: the bot asks AKOOL instead of believing it.
        await world.akool.wait_for_calls("infobymodelid", 1)
        after = await bot.store.get_job(job_id)

    assert statuses == {
        "forged": 401,
        "stale": 401,
        "truncated": 400,
        "tampered": 401,
        "garbage": 400,
        "not an object": 400,
        "oversized": 413,
        "first": 200,
        "replayed": 409,
    }
    # Only the one genuine callback got past the receiver, once.
    assert [(akool_id, status) for akool_id, status, _ in reached.calls] == [
        (job_id, ImageStatus.COMPLETED)
    ]
    assert before is not None
    assert after is not None
    assert after.status in (JobStatus.QUEUED, JobStatus.PROCESSING)
    assert after.image_url is None
    assert world.posts_for(job_id) == []


@pytest.mark.parametrize(
    ("ahead", "first"),
    [
        # Stamped far ahead: refused on arrival, so it is not remembered then forgotten while
        # still fresh (it is taken once it is due, as any first sighting would be).
        (290.0, 401),
        # Stamped a little ahead (clock drift): accepted, and remembered while it stays fresh.
        (20.0, 200),
    ],
)
async def test_a_callback_stamped_ahead_cannot_be_replayed_later(
    hooked: World, ahead: float, first: int
):
    world = hooked
    clock = ShiftedClock()
    async with (
        assemble(world.settings, clock=clock) as runtime,
        run_bot(world.discord, runtime.bot),
    ):
        world.runtime = runtime
        stamp = int((time.time() + ahead) * 1000)
        callback = world.akool.webhook_body({"_id": "b" * 24, "status": 3}, timestamp=stamp)
        statuses = [await post_webhook(world, callback)]
        # Later, but with the stamp still within WEBHOOK_MAX_AGE (300 s) of the bot's clock:
        # past the 300 s after arrival the ledger would remember it for by arrival time alone.
        for later in (301.0, 305.0, ahead + 299.0):
            clock.offset = later
            statuses.append(await post_webhook(world, callback))

    assert statuses[0] == first
    # However the clock moves, the one callback gets past the receiver at most once.
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 401, 409}, statuses


async def test_a_webhook_for_a_job_already_delivered_or_unknown_is_acknowledged(hooked: World):
    world = hooked
    world.akool.auto_webhooks = False
    world.akool.timeline = Timeline(finished_after=0.0)
    async with world.running(poll_interval=0.05) as bot:
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "done"}
        )
        await ix.wait_original_edit(lambda m: "Done" in m.content)
        (job_id,) = world.akool.jobs
        polls = world.akool.calls["infobymodelid"]
        reached = ReachedTheLoop(bot.job_loop)
        repeat = await post_webhook(
            world, world.akool.webhook_body(world.akool.webhook_payload(job_id))
        )
        unknown = await post_webhook(
            world, world.akool.webhook_body({"_id": "e" * 24, "status": 3, "type": "image"})
        )

    assert (repeat, unknown) == (200, 200)
    # Both reached the loop, which found nothing to do: neither made a job due for a poll.
    assert reached.calls == [
        (job_id, ImageStatus.COMPLETED, None),
        ("e" * 24, ImageStatus.COMPLETED, None),
    ]
    assert world.akool.calls["infobymodelid"] == polls
    assert len(world.posts_for(job_id)) == 1


async def test_a_webhook_before_the_job_is_stored_is_harmless(hooked: World):
    world = hooked
    world.akool.auto_webhooks = False
    async with world.running(poll_interval=0.05):
        # AKOOL can call back before the create answer is stored: the id is not known yet.
        early = world.akool.webhook_body({"_id": "d" * 24, "status": 2, "type": "image"})
        status = await post_webhook(world, early)
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "x"}
        )
        await ix.wait_original_edit(lambda m: "job `" in m.content)
        (job_id,) = world.akool.jobs
        await world.wait_for_post(world.is_post_of(job_id))

    assert status == 200
    assert len(world.posts_for(job_id)) == 1


async def test_webhooks_without_a_client_id_are_refused(world: World):
    async with world.running():
        status = await post_webhook(world, world.akool.webhook_body({"_id": "a" * 24, "status": 3}))

    assert status == 503


async def health(http: aiohttp.ClientSession, port: int) -> tuple[int, dict[str, object]]:
    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
        return response.status, await response.json()


async def test_health_reports_gateway_and_store(world: World):
    async with aiohttp.ClientSession() as http:
        async with assemble(world.settings) as runtime:
            # Assembled but not yet connected to Discord.
            before_login = await health(http, runtime.web.port)
        async with world.running() as bot:
            assert world.runtime is not None
            port = world.runtime.web.port
            healthy = await health(http, port)
            await bot.store.close()
            broken = await health(http, port)

    assert before_login == (503, {"status": "unavailable", "gateway": False, "store": True})
    assert healthy == (200, {"status": "ok", "gateway": True, "store": True})
    assert broken == (503, {"status": "unavailable", "gateway": True, "store": False})


async def test_the_check_command_s_test_callback_is_answered_and_touches_nothing(hooked: World):
    world = hooked
    test_id = f"{TEST_JOB_PREFIX}0123abcd"
    async with world.running() as bot, aiohttp.ClientSession() as http:
        reached = ReachedTheLoop(bot.job_loop)
        sealed = seal(
            Secret(world.akool.client_id),
            Secret(world.akool.api_key),
            {"_id": test_id, "status": 2, "type": "check"},
            timestamp_ms=int(time.time() * 1000),
        )
        async with http.post(f"{world.http_base}/akool/webhook", json=sealed) as response:
            status, answer = response.status, await response.json()
        # A forged one (signed without the client id) is refused like any other.
        forged = world.akool.webhook_body({"_id": test_id, "status": 2})
        forged["signature"] = "0" * 40
        refused = await post_webhook(world, forged)

    assert (status, answer["_id"]) == (200, test_id)
    assert refused == 401
    assert reached.calls == []  # no job was looked up or woken
    assert world.akool.calls["infobymodelid"] == 0
