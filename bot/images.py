"""Result images: downloaded only from allowed hosts with a size cap, shrunk when too big to upload.

AKOOL's result URLs expire after 7 days and Discord's CDN links are signed and expire too, so the
bot uploads the image itself rather than posting a link. What it uploads is checked first: a
download is a result only if it decodes whole as a PNG, JPEG, WebP or GIF of at most
:data:`MAX_PIXELS`, and the file is named by what the bytes are, whatever the server called them.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import ipaddress
import logging
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import aiohttp
from PIL import Image, UnidentifiedImageError

from bot.bodies import BodyTooLargeError, read_capped
from bot.i18n import Text, lazy

log = logging.getLogger(__name__)

# The most pixels the bot decodes: twice a 4096 x 4096 "4K" square. Pillow holds about four bytes
# a pixel (some 130 MB here). Its own guard, Image.MAX_IMAGE_PIXELS (89 MP), only warns, and
# refuses only past twice that: a 12000 x 12000 picture took 1.5 GB to shrink into a preview.
MAX_PIXELS: Final = 2 * 4096 * 4096
# Pillow warns when it opens a picture over its own limit. Every such picture is over
# MAX_PIXELS, so the bot refuses it before decoding and says so in its own log line.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
# What Discord shows inline, by Pillow's format name: the file extension and the MIME type.
_FORMATS: Final = {
    "PNG": ("png", "image/png"),
    "JPEG": ("jpg", "image/jpeg"),
    "MPO": ("jpg", "image/jpeg"),  # a camera's multi-picture JPEG, shown as its first picture
    "WEBP": ("webp", "image/webp"),
    "GIF": ("gif", "image/gif"),
}
_PARSERS: Final = ("PNG", "JPEG", "WEBP", "GIF")
# Decodes at once in this process, whatever the number of jobs being delivered, so memory stays
# bounded at a few times the most that one decode takes. Taken in the worker thread.
_DECODE_SLOTS: Final = threading.BoundedSemaphore(2)
# Longest edges tried for a preview, largest first; JPEG at these sizes is well under 10 MiB.
_PREVIEW_EDGES: Final = (2048, 1536, 1024, 768, 512)
_PREVIEW_QUALITY: Final = 85

# Why a download is not an image to post. The first three may pass (a CDN that answers an error
# page for a moment, a transfer cut short); the same bytes would come back for the others.
EMPTY: Final = lazy("The image could not be fetched: AKOOL sent an empty file.")
NOT_AN_IMAGE: Final = lazy(
    "The image could not be fetched: AKOOL sent something that is not a PNG, JPEG, WebP or GIF "
    "image."
)
DAMAGED: Final = lazy("The image could not be fetched: what AKOOL sent is damaged or incomplete.")


class ImageDownloadError(Exception):
    """The image could not be fetched; ``reason`` is a sentence for the channel, written in its
    language when it is posted (``str(reason)``: English, for the log)."""

    def __init__(self, reason: Text, *, retryable: bool = False, gone: bool = False) -> None:
        super().__init__(str(reason))
        self.reason = reason
        self.retryable = retryable
        # The host no longer has it (AKOOL deletes results after 7 days): no retry brings it back.
        self.gone = gone


@dataclass(frozen=True, slots=True)
class DownloadedImage:
    data: bytes
    content_type: str
    filename: str


def host_allowed(url: str, allowed: tuple[str, ...]) -> bool:
    """True for https on an allowed host (plain http only for an allowed loopback host)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password:
        return False
    if not any(_matches(host, pattern) for pattern in allowed):
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and _is_loopback(host)


def _matches(host: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def host_of(url: str) -> str:
    """The host of ``url``, all a log line names: a result URL's query is a signature that
    grants the download to whoever holds it."""
    return urlsplit(url).hostname or "an unnamed host"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ImageFetcher:
    """Downloads result images under the operator's rules (hosts, size cap, timeout)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        allowed_hosts: tuple[str, ...],
        *,
        max_bytes: int,
        timeout: float = 60.0,
    ) -> None:
        self._session = session
        self._allowed = allowed_hosts
        self._max_bytes = max_bytes
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def fetch(self, url: str, *, name: str) -> DownloadedImage:
        if not host_allowed(url, self._allowed):
            raise ImageDownloadError(
                lazy("The result is hosted somewhere the bot is not allowed to download from.")
            )
        try:
            # No redirects: a redirect could lead to a host outside IMAGE_HOSTS.
            async with self._session.get(
                url, timeout=self._timeout, allow_redirects=False
            ) as response:
                if response.status in (403, 404, 410):
                    raise ImageDownloadError(
                        lazy(
                            "The result image is no longer available (AKOOL keeps results for 7 "
                            "days)."
                        ),
                        gone=True,
                    )
                if response.status != 200:
                    raise ImageDownloadError(
                        lazy(
                            "The result image could not be downloaded (HTTP {status}).",
                            status=response.status,
                        ),
                        retryable=response.status >= 500 or response.status == 429,
                    )
                data = await read_capped(response, self._max_bytes)
                declared = response.content_type or "application/octet-stream"
        except BodyTooLargeError:
            raise ImageDownloadError(
                lazy("The result image is larger than this bot accepts.")
            ) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning(
                "Downloading the result of %s from %s failed: %s",
                name,
                host_of(url),
                type(exc).__name__,
            )
            raise ImageDownloadError(
                lazy("The result image could not be downloaded."), retryable=True
            ) from None
        try:
            extension, content_type = await asyncio.to_thread(check_image, data)
        except ImageDownloadError as exc:
            log.warning(
                "The download of %s from %s (%d bytes, declared %.60s) is not a result: %s",
                name,
                host_of(url),
                len(data),
                declared,
                exc.reason,
            )
            raise
        if declared != content_type:
            # A CDN may label every object alike; the bytes are what Discord will show.
            log.info(
                "The download of %s from %s is declared %.60s but is %s",
                name,
                host_of(url),
                declared,
                content_type,
            )
        return DownloadedImage(data, content_type, f"{name}.{extension}")


def check_image(data: bytes) -> tuple[str, str]:
    """The file extension and MIME type of ``data`` once it has decoded whole.

    Raises :class:`ImageDownloadError` for anything else: empty, not an image Discord shows,
    damaged or cut short, or over :data:`MAX_PIXELS` (refused from its header, never decoded).
    """
    with _opened(data) as opened:
        try:
            opened.load()
        except Exception as exc:  # a decoder may raise almost anything on broken bytes
            log.debug("Decoding failed: %s: %s", type(exc).__name__, exc)
            raise ImageDownloadError(DAMAGED, retryable=True) from None
        kind = _FORMATS.get(opened.format or "")
        if kind is None:  # a format plugin that names itself otherwise: not what was asked for
            raise ImageDownloadError(NOT_AN_IMAGE)
        return kind


@contextlib.contextmanager
def _opened(data: bytes) -> Iterator[Image.Image]:
    """``data`` opened (its header read, nothing decoded yet) once its pixel count is allowed.

    Held for the length of the ``with``: one of the few decode slots.
    """
    if not data:
        raise ImageDownloadError(EMPTY, retryable=True)
    with _DECODE_SLOTS:
        try:
            # Only the parsers of what Discord shows ever read AKOOL's bytes.
            opened = Image.open(io.BytesIO(data), formats=_PARSERS)
        except Image.DecompressionBombError:
            # Over twice Pillow's limit, so over MAX_PIXELS too; Pillow does not say the size.
            raise ImageDownloadError(lazy("The image has too many pixels to show here.")) from None
        except UnidentifiedImageError:
            raise ImageDownloadError(NOT_AN_IMAGE, retryable=True) from None
        except Exception as exc:  # a header that starts like an image and then breaks
            log.debug("Opening failed: %s: %s", type(exc).__name__, exc)
            raise ImageDownloadError(DAMAGED, retryable=True) from None
        with opened:
            width, height = opened.size
            if width * height > MAX_PIXELS:
                raise ImageDownloadError(
                    lazy(
                        "The image is too large to show here ({width}x{height} pixels).",
                        width=width,
                        height=height,
                    )
                )
            yield opened


async def fit_together(
    images: Sequence[DownloadedImage], limit: int
) -> list[DownloadedImage | None]:
    """``images`` as the files of one message, together at most ``limit`` bytes: Discord counts
    a message's files together against the server's upload limit, not each on its own.

    The smaller images go as they are while they fit; each larger one is shrunk to a preview
    within an even share of the room still left, so small images leave their room to the big
    ones. ``None`` where an image cannot be shrunk that far (or decoded); same order as given.
    """
    fitted: list[DownloadedImage | None] = list(images)
    left = limit
    by_size = sorted(range(len(images)), key=lambda i: len(images[i].data))
    for done, index in enumerate(by_size):
        share = left // (len(images) - done)
        image: DownloadedImage | None = images[index]
        if image is not None and len(image.data) > share:
            image = await make_preview(image, share)
        fitted[index] = image
        left -= 0 if image is None else len(image.data)
    return fitted


async def make_preview(image: DownloadedImage, limit: int) -> DownloadedImage | None:
    """A JPEG of ``image`` under ``limit`` bytes, or ``None`` if it cannot be decoded."""
    return await asyncio.to_thread(_shrink, image, limit)


def _shrink(image: DownloadedImage, limit: int) -> DownloadedImage | None:
    largest = _PREVIEW_EDGES[0]
    try:
        with _opened(image.data) as opened:
            # Shrunk once to the largest preview before anything else: a JPEG decodes straight
            # to about that size, and an RGB picture is shrunk in place, not copied.
            opened.draft("RGB", (largest, largest))
            picture = opened if opened.mode in ("RGB", "RGBA", "L") else opened.convert("RGB")
            picture.thumbnail((largest, largest))
            picture = picture.convert("RGB")
    except ImageDownloadError as exc:
        log.warning("No preview of %s: %s", image.filename, exc.reason)
        return None
    except Exception as exc:  # a decoder may raise almost anything on broken bytes
        log.warning("No preview of %s: %s: %s", image.filename, type(exc).__name__, exc)
        return None
    stem = image.filename.rsplit(".", 1)[0]
    for edge in _PREVIEW_EDGES:
        copy = picture.copy()
        copy.thumbnail((edge, edge))
        buffer = io.BytesIO()
        copy.save(buffer, format="JPEG", quality=_PREVIEW_QUALITY, optimize=True)
        if buffer.tell() <= limit:
            return DownloadedImage(buffer.getvalue(), "image/jpeg", f"{stem}-preview.jpg")
    return None
