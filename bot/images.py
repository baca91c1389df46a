"""Result images: downloaded only from allowed hosts with a size cap, shrunk when too big to upload.

AKOOL's result URLs expire after 7 days and Discord's CDN links are signed and expire too, so the
bot uploads the image itself rather than posting a link.
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import logging
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import aiohttp
from PIL import Image, UnidentifiedImageError

from bot.bodies import BodyTooLargeError, read_capped

log = logging.getLogger(__name__)

# Longest edges tried for a preview, largest first; JPEG at these sizes is well under 10 MiB.
_PREVIEW_EDGES: Final = (2048, 1536, 1024, 768, 512)
_PREVIEW_QUALITY: Final = 85


class ImageDownloadError(Exception):
    """The image could not be fetched; ``reason`` is a sentence for the channel."""

    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


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
                "The result is hosted somewhere the bot is not allowed to download from."
            )
        try:
            # No redirects: a redirect could lead to a host outside IMAGE_HOSTS.
            async with self._session.get(
                url, timeout=self._timeout, allow_redirects=False
            ) as response:
                if response.status in (403, 404, 410):
                    raise ImageDownloadError(
                        "The result image is no longer available (AKOOL keeps results for 7 days)."
                    )
                if response.status != 200:
                    raise ImageDownloadError(
                        f"The result image could not be downloaded (HTTP {response.status}).",
                        retryable=response.status >= 500 or response.status == 429,
                    )
                data = await read_capped(response, self._max_bytes)
                content_type = response.content_type or "application/octet-stream"
        except BodyTooLargeError:
            raise ImageDownloadError("The result image is larger than this bot accepts.") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("Downloading %s failed: %s", url, type(exc).__name__)
            raise ImageDownloadError(
                "The result image could not be downloaded.", retryable=True
            ) from None
        extension = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}.get(
            content_type, "png"
        )
        return DownloadedImage(data, content_type, f"{name}.{extension}")


async def make_preview(image: DownloadedImage, limit: int) -> DownloadedImage | None:
    """A JPEG of ``image`` under ``limit`` bytes, or ``None`` if it cannot be decoded."""
    return await asyncio.to_thread(_shrink, image, limit)


def _shrink(image: DownloadedImage, limit: int) -> DownloadedImage | None:
    try:
        with Image.open(io.BytesIO(image.data)) as opened:
            picture = opened.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
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
