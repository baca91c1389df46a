"""Reading an HTTP body with a byte cap, so a hostile or broken server cannot exhaust memory."""

from __future__ import annotations

import aiohttp


class BodyTooLargeError(Exception):
    """The body is longer than the cap allows."""


async def read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, or :class:`BodyTooLargeError` as soon as it passes ``limit`` bytes."""
    if response.content_length is not None and response.content_length > limit:
        raise BodyTooLargeError(f"{response.content_length} bytes announced, limit {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(f"more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
