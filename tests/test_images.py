"""Result downloads: only allowed hosts, no redirects, a byte cap, only whole images of a bounded
size, named by what they are; previews fit the limit."""

from __future__ import annotations

import io
import logging
import socket
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from PIL import Image, ImageFile

from bot.images import (
    MAX_PIXELS,
    DownloadedImage,
    ImageDownloadError,
    ImageFetcher,
    check_image,
    fit_together,
    host_allowed,
    make_preview,
)
from tests.fakes.akool import HTML_ERROR_PAGE, FakeAkool, ResultFile
from tests.fakes.png import huge_png, make_png, truncated

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


def encoded(format: str, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (24, 16), "orange" if mode == "RGB" else 1).save(buffer, format=format)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "extension", "content_type"),
    [
        (make_png(8, 8, "png"), "png", "image/png"),
        (encoded("JPEG"), "jpg", "image/jpeg"),
        (encoded("WEBP"), "webp", "image/webp"),
        (encoded("GIF", "P"), "gif", "image/gif"),
    ],
)
def test_a_whole_image_is_known_by_its_bytes(data: bytes, extension: str, content_type: str):
    assert check_image(data) == (extension, content_type)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (HTML_ERROR_PAGE, "not a PNG, JPEG, WebP or GIF"),
        (b'{"code": 1000}', "not a PNG, JPEG, WebP or GIF"),
        (encoded("BMP"), "not a PNG, JPEG, WebP or GIF"),  # Discord does not show it inline
        (truncated(make_png(300, 300, "cut", noise=True)), "damaged or incomplete"),
        (encoded("JPEG")[:-200], "damaged or incomplete"),
    ],
)
def test_anything_but_a_whole_image_is_refused(data: bytes, reason: str):
    with pytest.raises(ImageDownloadError, match=reason) as caught:
        check_image(data)

    assert str(caught.value.reason).startswith("The image could not be fetched")
    assert caught.value.retryable  # an error page or a cut transfer may pass


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The sizes of the pictures Pillow decodes (a huge one is refused rather than decoded)."""
    sizes: list[tuple[int, int]] = []
    original = ImageFile.ImageFile.load

    def load(self: ImageFile.ImageFile) -> Any:
        sizes.append(self.size)
        if self.size[0] * self.size[1] > MAX_PIXELS:
            raise AssertionError(f"decoding a {self.size} picture")
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return sizes


# Pillow warns when it opens these; pytest sets aside the filter bot.images adds at import.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    ("width", "height", "reason"),
    [
        (12000, 12000, r"too large to show here \(12000x12000 pixels\)"),  # Pillow only warns
        (14000, 14000, "too many pixels"),  # Pillow refuses it itself
        (8193, 4096, r"\(8193x4096 pixels\)"),  # just over the bot's own cap
    ],
)
def test_a_huge_picture_is_refused_from_its_header(
    decoded: list[tuple[int, int]], width: int, height: int, reason: str
):
    with pytest.raises(ImageDownloadError, match=reason) as caught:
        check_image(huge_png(width, height))

    assert not caught.value.retryable  # the same bytes would come back
    assert decoded == []


def test_a_picture_at_the_cap_is_decoded(decoded: list[tuple[int, int]]):
    assert check_image(huge_png(8192, 4096)) == ("png", "image/png")
    assert decoded == [(8192, 4096)]


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
async def test_a_huge_picture_gets_no_preview_and_is_never_decoded(
    decoded: list[tuple[int, int]],
):
    # 144 megapixels in 11 MiB: this took 1.5 GB to shrink before the bound.
    bomb = DownloadedImage(huge_png(12000, 12000, pad_to=11 * 1024 * 1024), "image/png", "j.png")

    assert await make_preview(bomb, 10 * 1024 * 1024) is None
    assert decoded == []


async def test_a_preview_decodes_a_jpeg_at_a_reduced_scale(decoded: list[tuple[int, int]]):
    buffer = io.BytesIO()
    Image.new("RGB", (4096, 4096), "teal").save(buffer, format="JPEG")
    original = DownloadedImage(buffer.getvalue(), "image/jpeg", "job.jpg")

    preview = await make_preview(original, len(original.data) - 1)

    assert preview is not None
    assert set(decoded) == {(2048, 2048)}  # never the full 4096 x 4096
    with Image.open(io.BytesIO(preview.data)) as opened:
        assert opened.size == (2048, 2048)


async def test_a_download_is_named_by_what_it_is(fetcher: ImageFetcher, fake_akool: FakeAkool):
    jpeg = encoded("JPEG")
    job = fake_akool.add_job(result=ResultFile(body=jpeg, content_type="image/png"))

    image = await fetcher.fetch(fake_akool.image_url(job.id), name=job.id)

    assert image == DownloadedImage(jpeg, "image/jpeg", f"{job.id}.jpg")


@pytest.mark.parametrize("content_type", ["text/html", "image/png", "application/octet-stream"])
async def test_an_error_page_is_no_result(
    fetcher: ImageFetcher, fake_akool: FakeAkool, content_type: str
):
    job = fake_akool.add_job(result=ResultFile(body=HTML_ERROR_PAGE, content_type=content_type))

    with pytest.raises(ImageDownloadError, match="not a PNG") as caught:
        await fetcher.fetch(fake_akool.image_url(job.id), name=job.id)

    assert caught.value.retryable


SIGNED_QUERY = "?Expires=1700000000&Signature=c2lnbmF0dXJlLXRoYXQtZ3JhbnRz&Key-Pair-Id=KPSECRET"


async def test_logs_name_only_the_host_of_a_signed_result_url(
    fetcher: ImageFetcher, serve, caplog: pytest.LogCaptureFixture
):
    """A result URL's query signs the download for whoever holds it: no log line carries it."""

    async def html(request: web.Request) -> web.Response:
        return web.Response(body=HTML_ERROR_PAGE, content_type="text/html")

    async def mislabelled(request: web.Request) -> web.Response:
        return web.Response(body=make_png(4, 4, "c"), content_type="application/octet-stream")

    app = web.Application()
    app.router.add_get("/error.png", html)
    app.router.add_get("/mislabelled.png", mislabelled)
    base = await serve(app)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    caplog.set_level(logging.DEBUG, logger="bot")

    with pytest.raises(ImageDownloadError, match="could not be downloaded"):
        await fetcher.fetch(f"{closed}/x.png{SIGNED_QUERY}", name="job-a")
    with pytest.raises(ImageDownloadError, match="not a PNG"):
        await fetcher.fetch(f"{base}/error.png{SIGNED_QUERY}", name="job-b")
    await fetcher.fetch(f"{base}/mislabelled.png{SIGNED_QUERY}", name="job-c")

    lines = [r.getMessage() for r in caplog.records if r.name.startswith("bot")]
    for line in lines:
        assert "Signature" not in line, line
        assert "KPSECRET" not in line, line
        assert "/x.png" not in line, line
        assert "error.png" not in line, line
    assert [n for n in ("job-a", "job-b", "job-c") if any(n in line for line in lines)] == [
        "job-a",
        "job-b",
        "job-c",
    ], lines
    assert all("127.0.0.1" in line for line in lines if "job-" in line), lines


async def test_images_fit_one_message_together():
    small = DownloadedImage(make_png(32, 32, "small"), "image/png", "small.png")
    big = [
        DownloadedImage(make_png(300, 300, f"big{n}", noise=True), "image/png", f"big{n}.png")
        for n in range(3)
    ]
    # Each big one alone fits; all four together do not.
    limit = len(big[0].data) * 2
    assert all(len(image.data) < limit for image in big)

    fitted = await fit_together([big[0], small, big[1], big[2]], limit)

    assert fitted[1] is small  # small enough to go as it is
    assert all(image is not None for image in fitted)
    names = [image.filename for image in fitted if image is not None]
    # Shrunk largest-share first until the rest fit as they are.
    assert "big0-preview.jpg" in names
    assert sum(len(image.data) for image in fitted if image is not None) <= limit


async def test_images_that_fit_together_go_as_they_are():
    images = [
        DownloadedImage(make_png(64, 64, f"i{n}"), "image/png", f"i{n}.png") for n in range(4)
    ]

    fitted = await fit_together(images, sum(len(image.data) for image in images))

    assert all(a is b for a, b in zip(fitted, images, strict=True))
