"""The fakes' holds: one request kept at an exact moment, so a test can kill the bot right there."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp

from tests.fakes.akool import API_KEY, FakeAkool
from tests.fakes.discord import FakeDiscord

PROMPT = {"prompt": "a held fox", "scale": "1:1"}


async def test_an_akool_create_held_after_it_took_effect(fake_akool: FakeAkool):
    hold = fake_akool.hold_next("createbyprompt")
    async with aiohttp.ClientSession(headers={"x-api-key": API_KEY}) as session:
        url = fake_akool.base_url + "/api/open/v3/content/image/createbyprompt"
        answer = asyncio.create_task(session.post(url, json=PROMPT))
        await hold.wait_reached()
        made = list(fake_akool.jobs)  # AKOOL made the job; the answer is still held
        waiting = not answer.done()
        hold.release()
        async with await answer as response:
            body = await response.json()

    assert waiting
    assert made == [body["data"]["_id"]]
    assert body["code"] == 1000


async def test_an_akool_create_held_before_it_took_effect(fake_akool: FakeAkool):
    hold = fake_akool.hold_next("createbyprompt", after=False)
    async with aiohttp.ClientSession(headers={"x-api-key": API_KEY}) as session:
        url = fake_akool.base_url + "/api/open/v3/content/image/createbyprompt"
        answer = asyncio.create_task(session.post(url, json=PROMPT))
        await hold.wait_reached()
        made = list(fake_akool.jobs)
        hold.release()
        async with await answer as response:
            assert response.status == 200

    assert made == []
    assert len(fake_akool.jobs) == 1


async def test_an_akool_status_request_held_for_one_job_only(fake_akool: FakeAkool):
    held, free = fake_akool.add_job(), fake_akool.add_job()
    hold = fake_akool.hold_next("infobymodelid", job_id=held.id)
    async with aiohttp.ClientSession(headers={"x-api-key": API_KEY}) as session:
        url = fake_akool.base_url + "/api/open/v3/content/image/infobymodelid"
        waiting = asyncio.create_task(session.get(url, params={"image_model_id": held.id}))
        await hold.wait_reached()
        async with session.get(url, params={"image_model_id": free.id}) as response:
            answered = (await response.json())["data"]["_id"]
        still_waiting = not waiting.done()
        hold.release()
        async with await waiting as response:
            assert response.status == 200

    assert answered == free.id
    assert still_waiting


async def test_a_discord_call_held_after_it_took_effect_and_one_whose_client_died():
    discord = FakeDiscord(token="hold-token")
    guild = discord.add_guild(name="Holds")
    channel = discord.add_channel(guild, name="general")
    await discord.start()
    url = f"{discord.rest_base}/channels/{channel.id}/messages"
    headers = {"Authorization": "Bot hold-token"}
    try:
        after = discord.hold_next("POST", r"^/channels/\d+/messages$", after=True)
        async with aiohttp.ClientSession(headers=headers) as session:
            answer = asyncio.create_task(session.post(url, json={"content": "applied"}))
            await after.wait_reached()
            seen = [m.content for m in discord.messages(channel)]
            after.release()
            async with await answer as response:
                assert response.status == 200

        before = discord.hold_next("POST", r"^/channels/\d+/messages$", after=False)
        session = aiohttp.ClientSession(headers=headers)
        dying = asyncio.create_task(session.post(url, json={"content": "never"}))
        await before.wait_reached()
        # The client dies with its call held.
        dying.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await dying
        await session.close()
        before.release()
        async with asyncio.timeout(10):
            await before.settled.wait()
    finally:
        await discord.close()

    assert seen == ["applied"]
    assert [m.content for m in discord.messages(channel)] == ["applied"]
