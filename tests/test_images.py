"""Result downloads: only allowed hosts, no redirects, a byte cap; previews fit the limit."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from bot.images import DownloadedImage, ImageDownloadError, ImageFetcher, host_allowed, make_preview
from tests.fakes.akool import FakeAkool
from tests.fakes.png import make_png

HOSTS = ("*.cloudfront.net", "*.akool.com", "127.0.0.1")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://d1.cloudfront.net/x.png", True),
        ("https://a.b.cloudfront.net/x.png", True),
        ("https://cloudfront.net/x.png", False),
        ("https://evilcloudfront.net/x.png", False),
        ("https://cloudfront.net.evil.com/x.png", False),
        ("http://d1.cloudfront.net/x.png", False),
        ("https://static.akool.com/x.png", True),
        ("https://user:pw@d1.cloudfront.net/x.png", False),
        ("http://127.0.0.1:8000/x.png", True),
        ("https://127.0.0.1/x.png", True),
        ("http://localhost:8000/x.png", False),
        ("http://10.0.0.1/x.png", False),
        ("file:///etc/passwd", False),
        ("not a url", False),
    ],
)
def test_host_allowed(url: str, allowed: bool):
    assert host_allowed(url, HOSTS) is allowed


@pytest.fixture
def fetcher(http: aiohttp.ClientSession) -> ImageFetcher:
    return ImageFetcher(http, ("127.0.0.1",), max_bytes=1024 * 1024, timeout=2)


async def test_fetches_the_exact_bytes(fetcher: ImageFetcher, fake_akool: FakeAkool):
    job = fake_akool.add_job()

    image = await fetcher.fetch(fake_akool.image_url(job.id), name=job.id)

    assert image.data == fake_akool.png(job.id)
    assert image.content_type == "image/png"
    assert image.filename == f"{job.id}.png"


async def test_refuses_hosts_outside_the_list(http: aiohttp.ClientSession, fake_akool: FakeAkool):
    job = fake_akool.add_job()
    fetcher = ImageFetcher(http, ("*.cloudfront.net",), max_bytes=1024)

    with pytest.raises(ImageDownloadError, match="not allowed"):
        await fetcher.fetch(fake_akool.image_url(job.id), name="x")

    assert fake_akool.calls["image"] == 0


async def test_missing_image_is_reported_as_expired(fetcher: ImageFetcher, fake_akool: FakeAkool):
    with pytest.raises(ImageDownloadError, match="7 days") as caught:
        await fetcher.fetch(f"{fake_akool.base_url}/results/{'0' * 24}.png", name="x")

    assert not caught.value.retryable


async def test_cap_and_redirects(fetcher: ImageFetcher, serve):
    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (2 * 1024 * 1024), content_type="image/png")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("https://example.com/x.png")

    app = web.Application()
    app.router.add_get("/big.png", big)
    app.router.add_get("/redirect.png", redirect)
    base = await serve(app)

    with pytest.raises(ImageDownloadError, match="larger"):
        await fetcher.fetch(f"{base}/big.png", name="x")
    with pytest.raises(ImageDownloadError, match="HTTP 302"):
        await fetcher.fetch(f"{base}/redirect.png", name="x")


async def test_preview_fits_the_limit():
    original = make_png(1500, 1200, "seed", noise=True)
    limit = len(original) // 4

    preview = await make_preview(DownloadedImage(original, "image/png", "job.png"), limit)

    assert preview is not None
    assert len(preview.data) <= limit
    assert preview.data.startswith(b"\xff\xd8")  # JPEG
    assert preview.filename == "job-preview.jpg"


async def test_preview_of_garbage_is_none():
    garbage = DownloadedImage(b"not an image", "image/png", "job.png")

    assert await make_preview(garbage, 1000) is None
