"""Result downloads end to end, as AKOOL (or a CDN in front of it) may really answer them.

Only a whole, decodable image of a bounded size is posted as the result; a broken download is
tried again a few times and then posted without the image, saying so, with AKOOL's link. Every
post fits Discord's limits however long AKOOL's URL is, and every upload fits the server's limit.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import discord
import pytest
from PIL import Image, ImageFile

from bot.core import AkoolBot
from bot.notifier import DOWNLOAD_ATTEMPTS
from bot.store import Delivery, Job
from tests.e2e.conftest import World
from tests.fakes.akool import HTML_ERROR_PAGE, ResultFile
from tests.fakes.discord import FakeMessage
from tests.fakes.png import huge_png, make_png, truncated

MIB = 1024 * 1024
KIB = 1024
# A server without boosts, like the test world's.
SERVER_LIMIT = 10 * MIB
# The 1,913-character URL that made a job undeliverable, and one past Discord's URL cap.
LONG_URL = 1913
OVERLONG_URL = 2100


async def settled(bot: AkoolBot, job_id: str, timeout: float = 20.0) -> Job:
    """The stored job once its delivery is over (the store has no events to wait on, so look
    often); it must have been delivered."""
    async with asyncio.timeout(timeout):
        while True:
            job = await bot.store.get_job(job_id)
            if job is not None and job.delivery is not Delivery.PENDING:
                break
            await asyncio.sleep(0.01)
    assert job.delivery is Delivery.DELIVERED, job.last_error
    return job


async def start(world: World, prompt: str, result: ResultFile) -> str:
    """Alice's /imagine, whose result AKOOL serves as ``result``; its id."""
    world.akool.results_by_prompt[prompt] = result
    known = set(world.akool.jobs)
    ix = await world.discord.slash_command(
        world.alice, world.channel, "imagine", {"prompt": prompt}
    )
    await ix.wait_original_edit(lambda m: "job `" in m.content)
    (job_id,) = set(world.akool.jobs) - known
    return job_id


async def imagine(
    world: World, bot: AkoolBot, prompt: str, result: ResultFile
) -> tuple[str, FakeMessage]:
    """Alice's /imagine, whose result AKOOL serves as ``result``, once delivered: its id and
    its one post."""
    job_id = await start(world, prompt, result)
    await settled(bot, job_id)
    (post,) = world.posts_for(job_id)
    return job_id, post


def shown_text(post: FakeMessage) -> str:
    """Everything a member can click or read in a post: its content and its embeds."""
    parts = [post.content]
    for embed in post.embeds:
        parts.append(str(embed.get("description") or ""))
        parts.append(str(embed.get("url") or ""))
        parts.extend(str(f.get("value")) for f in embed.get("fields") or [])
    return "\n".join(parts)


@pytest.mark.parametrize(
    ("served", "content_type"),
    [
        pytest.param(HTML_ERROR_PAGE, "text/html; charset=utf-8", id="an HTML error page"),
        pytest.param(HTML_ERROR_PAGE, "image/png", id="an HTML page called a PNG"),
        pytest.param(b"", "image/png", id="an empty body"),
        pytest.param(truncated(make_png(300, 300, "cut", noise=True)), "image/png", id="cut off"),
    ],
)
async def test_a_broken_download_is_tried_again_then_posted_without_the_image(
    world: World, served: bytes, content_type: str
):
    async with world.running() as bot:
        job_id, post = await imagine(
            world, bot, "a fox", ResultFile(body=served, content_type=content_type)
        )

    assert world.akool.calls["image"] == DOWNLOAD_ATTEMPTS
    assert post.attachments == []
    assert "image" not in post.embeds[0]
    assert "could not be fetched" in post.content
    assert f"[Open it on AKOOL]({world.akool.image_url(job_id)})" in post.content
    assert f"<@{world.alice.id}>" in post.content
    # U/V work at AKOOL whatever the download did; 🔄 and 🗑️ need no image.
    assert len(world.custom_ids_of(post)) == 10


async def test_a_download_that_comes_back_whole_is_posted_with_the_image(world: World):
    cut = truncated(make_png(300, 300, "cut", noise=True))
    async with world.running() as bot:
        job_id, post = await imagine(world, bot, "a patient fox", ResultFile(body=cut, times=2))

    assert world.akool.calls["image"] == 3
    (attachment,) = post.attachments
    assert attachment.data == world.akool.png(job_id)
    assert attachment.filename == f"{job_id}.png"
    assert post.embeds[0]["image"]["url"] == f"attachment://{job_id}.png"
    assert "could not" not in post.content


async def test_an_image_is_named_by_what_it_really_is(world: World):
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "orange").save(buffer, format="JPEG")
    jpeg = buffer.getvalue()
    async with world.running() as bot:
        # A CDN that labels every object image/png.
        job_id, post = await imagine(world, bot, "a jpeg fox", ResultFile(body=jpeg))

    (attachment,) = post.attachments
    assert attachment.data == jpeg
    assert attachment.filename == f"{job_id}.jpg"
    assert post.embeds[0]["image"]["url"] == f"attachment://{job_id}.jpg"


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The sizes of the pictures Pillow decodes; a huge one is refused instead of decoded, so a
    test that fails does not take the machine's memory with it."""
    sizes: list[tuple[int, int]] = []
    original = ImageFile.ImageFile.load

    def load(self: ImageFile.ImageFile) -> Any:
        sizes.append(self.size)
        if self.size[0] * self.size[1] > 50_000_000:
            raise AssertionError(f"decoding a {self.size} picture")
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return sizes


# Pillow warns when it opens it; pytest sets aside the filter bot.images adds at import.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
async def test_a_huge_picture_is_never_decoded_and_is_posted_as_a_link(
    world: World, decoded: list[tuple[int, int]]
):
    # 144 megapixels padded to 11 MiB: over the upload limit, so before the fix it went
    # straight to the preview, which decoded it whole (Pillow only warns below 179 MP).
    bomb = huge_png(12000, 12000, pad_to=11 * MIB)
    async with world.running() as bot:
        job_id, post = await imagine(world, bot, "a vast fox", ResultFile(body=bomb))

    assert (12000, 12000) not in decoded
    assert world.akool.calls["image"] == 1  # the same bytes would come back: no retries
    assert post.attachments == []
    assert "too large" in post.content
    assert "12000x12000" in post.content
    assert f"[Open it on AKOOL]({world.akool.image_url(job_id)})" in post.content


@pytest.mark.parametrize(
    ("offset", "as_is"),
    [
        pytest.param(-64 * KIB, True, id="64 KiB under"),
        pytest.param(-64 * KIB + 1, False, id="under, without room for the message"),
        pytest.param(-1 * KIB, False, id="1 KiB under"),
        pytest.param(0, False, id="at the limit"),
        pytest.param(1, False, id="1 byte over"),
        pytest.param(64 * KIB, False, id="64 KiB over"),
    ],
)
async def test_a_result_near_the_upload_limit_is_attached_or_previewed(
    world: World, offset: int, as_is: bool
):
    assert world.guild.filesize_limit == SERVER_LIMIT
    original = make_png(64, 64, "edge", pad_to=SERVER_LIMIT + offset)
    async with world.running() as bot:
        job_id, post = await imagine(world, bot, "a fox at the edge", ResultFile(body=original))

    (attachment,) = post.attachments
    url = world.akool.image_url(job_id)
    if as_is:
        assert attachment.filename == f"{job_id}.png"
        assert attachment.data == original
        assert url not in post.content
    else:
        assert attachment.filename == f"{job_id}-preview.jpg"
        assert attachment.size < SERVER_LIMIT - 64 * KIB
        assert f"[original]({url})" in post.content


async def test_discord_refuses_an_upload_over_the_limit_with_its_message(world: World):
    # What the margin is for: the limit holds for the whole request, not only the file.
    async with world.running() as bot:
        channel = bot.get_partial_messageable(world.channel.id, guild_id=world.guild.id)
        for size in (SERVER_LIMIT + 1, SERVER_LIMIT - 100):
            file = discord.File(io.BytesIO(bytes(size)), "big.png")
            with pytest.raises(discord.HTTPException) as caught:
                await channel.send("x" * 200, file=file)
            assert (caught.value.status, caught.value.code) == (413, 40005)
        fits = discord.File(io.BytesIO(bytes(SERVER_LIMIT - 64 * KIB)), "fits.png")
        sent = await channel.send("x" * 200, file=fits)

    assert sent.attachments[0].size == SERVER_LIMIT - 64 * KIB


def over_the_limit(seed: str, url_length: int) -> ResultFile:
    return ResultFile(body=make_png(64, 64, seed, pad_to=SERVER_LIMIT + 1), url_length=url_length)


def broken(url_length: int) -> ResultFile:
    return ResultFile(body=HTML_ERROR_PAGE, content_type="text/html", url_length=url_length)


@pytest.mark.parametrize(
    ("result", "preview"),
    [
        pytest.param(over_the_limit("long", LONG_URL), True, id="preview, original linked"),
        pytest.param(broken(LONG_URL), False, id="download failed, linked"),
    ],
)
async def test_a_long_result_url_still_gets_its_post(
    world: World, result: ResultFile, preview: bool
):
    async with world.running() as bot:
        job_id, post = await imagine(world, bot, "a fox with a long address", result)

    url = world.akool.image_url(job_id)
    assert len(url) == LONG_URL
    assert url not in post.content
    assert f"]({url})" in post.embeds[0]["description"]
    assert len(world.custom_ids_of(post)) == 10
    if preview:
        assert post.attachments[0].filename == f"{job_id}-preview.jpg"
    else:
        assert post.attachments == []
        assert "could not be fetched" in post.content


async def test_a_url_too_long_for_discord_is_left_out_and_said(world: World):
    async with world.running() as bot:
        job_id, post = await imagine(world, bot, "a fox lost in links", broken(OVERLONG_URL))

    url = world.akool.image_url(job_id)
    assert len(url) == OVERLONG_URL
    assert url not in shown_text(post)
    assert "could not be fetched" in post.content
    assert "too long" in shown_text(post)


async def test_a_long_url_fits_the_dm_copy_and_the_dm_fallback(world: World):
    async with world.running() as bot:
        ix = await world.discord.slash_command(world.alice, world.channel, "notify", {"dm": "on"})
        await ix.wait_response()
        dm = world.discord.dm_channel(world.alice)

        # The channel post goes out, and a copy follows by DM.
        copied, post = await imagine(world, bot, "a fox to copy", over_the_limit("copy", LONG_URL))
        copy = await world.discord.wait_for_message(dm, lambda m: copied in str(m.nonce))

        # The channel refuses the bot: the post itself goes by DM.
        world.discord.fail_next(
            "POST", rf"^/channels/{world.channel.id}/messages$", status=403, times=100
        )
        moved = await start(world, "a fox to move", over_the_limit("moved", LONG_URL))
        await settled(bot, moved)
        by_dm = await world.discord.wait_for_message(dm, world.is_post_of(moved))

    assert post.attachments[0].filename == f"{copied}-preview.jpg"
    for message, job_id in ((copy, copied), (by_dm, moved)):
        url = world.akool.image_url(job_id)
        assert len(url) == LONG_URL
        assert url not in message.content
        assert f"]({url})" in message.embeds[0]["description"]
        assert message.attachments[0].filename == f"{job_id}-preview.jpg"
    assert "A copy for you" in copy.content
    assert f"<#{world.channel.id}>" in by_dm.content
    assert world.posts_for(moved) == []
