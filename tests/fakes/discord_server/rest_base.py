"""Shared pieces of the fake REST API: JSON answers, Discord errors, faults, body parsing.

discord.py only parses a body as JSON when ``Content-Type`` is exactly ``application/json``
(aiohttp's ``json_response`` appends ``; charset=utf-8``, which would make login fail), so every
JSON answer here is built by :func:`json_response`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from tests.fakes.discord_server.messages import DiscordState
from tests.fakes.discord_server.models import (
    FakeChannel,
    RecordedRequest,
)
from tests.fakes.discord_server.state import UploadedFile

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SEND_MESSAGES = 1 << 11
VIEW_CHANNEL = 1 << 10
ATTACH_FILES = 1 << 15
EMBED_LINKS = 1 << 14

# Paths authenticated by the interaction/webhook token in the URL rather than the bot token.
TOKEN_AUTH = re.compile(r"^/(interactions/[0-9]+/[^/]+/callback|webhooks/[0-9]+/[^/]+)")


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """JSON with ``Content-Type: application/json`` exactly, plus relaxed rate-limit headers."""
    all_headers = {
        "Content-Type": "application/json",
        "X-RateLimit-Limit": "50",
        "X-RateLimit-Remaining": "49",
        "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
        "X-RateLimit-Reset-After": "1.000",
    }
    all_headers.update(headers or {})
    return web.Response(body=json.dumps(data).encode(), status=status, headers=all_headers)


def error(status: int, code: int, message: str, **extra: Any) -> web.Response:
    return json_response({"message": message, "code": code, **extra}, status=status)


def no_content() -> web.Response:
    return web.Response(status=204)


def _not_found_for(path: str) -> web.Response:
    """The 404 Discord gives for the most specific resource named by ``path``."""
    if "/messages/" in path:
        return error(404, 10008, "Unknown Message")
    if path.startswith("/interactions/"):
        return error(404, 10062, "Unknown interaction")
    if path.startswith("/webhooks/"):
        return error(404, 10015, "Unknown Webhook")
    if path.startswith("/channels/"):
        return error(404, 10003, "Unknown Channel")
    if "/members/" in path:
        return error(404, 10007, "Unknown Member")
    if path.startswith("/guilds/"):
        return error(404, 10004, "Unknown Guild")
    return error(404, 0, "404: Not Found")


@dataclass
class Fault:
    """A canned failure for the next ``times`` requests matching ``method`` and ``path_regex``."""

    method: str
    path_regex: re.Pattern[str]
    status: int
    times: int
    retry_after: float
    body: dict[str, Any] | None = None
    is_global: bool = False

    def matches(self, method: str, path: str) -> bool:
        return (
            self.times > 0 and self.method in ("*", method) and bool(self.path_regex.search(path))
        )

    def response(self, path: str) -> web.Response:
        if self.status == 429:
            # discord.py treats a 429 without ``Via`` (or with a non-JSON body) as a Cloudflare
            # ban and raises instead of sleeping ``retry_after`` and retrying.
            body = self.body or {
                "message": "You are being rate limited.",
                "retry_after": self.retry_after,
                "global": self.is_global,
                "code": 0,
            }
            return json_response(
                body,
                status=429,
                headers={
                    "Via": "1.1 google",
                    "Retry-After": str(max(1, round(self.retry_after))),
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{time.time() + self.retry_after:.3f}",
                    "X-RateLimit-Reset-After": f"{self.retry_after:.3f}",
                    "X-RateLimit-Bucket": "fake-discord-bucket",
                    "X-RateLimit-Scope": "shared" if not self.is_global else "global",
                    **({"X-RateLimit-Global": "true"} if self.is_global else {}),
                },
            )
        if self.body is not None:
            return json_response(self.body, status=self.status)
        if self.status == 403:
            return error(403, 50013, "Missing Permissions")
        if self.status == 404:
            return _not_found_for(path)
        if self.status == 413:
            return error(413, 40005, "Request entity too large")
        if self.status >= 500:
            return error(self.status, 0, f"{self.status}: Internal Server Error")
        return error(self.status, 0, f"{self.status}: fake error")


@dataclass(eq=False)
class Hold:
    """The next REST call matching ``method`` and ``path_regex``, held until :meth:`release`.

    ``after=True``: Discord does what the call asks, and only its answer waits (the bot has
    acknowledged an interaction but does not know it yet). ``after=False``: the call waits
    before Discord sees it, and if its client dies meanwhile it never arrives at all.
    """

    method: str
    path_regex: re.Pattern[str]
    after: bool
    when: Callable[[Any], bool] | None = None
    taken: bool = False
    # The call it held, once it came.
    request: RecordedRequest | None = None
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    # Set once the held call is done with: answered, or dropped because its client died.
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    _gate: asyncio.Event = field(default_factory=asyncio.Event)

    def matches(self, method: str, path: str, body: Any) -> bool:
        return (
            not self.taken
            and self.method in ("*", method)
            and bool(self.path_regex.search(path))
            and (self.when is None or self.when(body))
        )

    def release(self) -> None:
        self._gate.set()

    async def wait_reached(self, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            await self.reached.wait()

    async def keep(self) -> None:
        self.reached.set()
        await self._gate.wait()


class RestBase:
    """Request plumbing the endpoint classes share."""

    def __init__(self, state: DiscordState, *, recommended_shards: int = 1) -> None:
        self.state = state
        self.recommended_shards = recommended_shards
        # Parsed bodies by request; kept off the Request object to avoid aiohttp key warnings.
        self._bodies: dict[int, tuple[Any, list[UploadedFile]]] = {}
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self.holds: list[Hold] = []
        self.unimplemented: list[str] = []

    @staticmethod
    async def _read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
        if request.content_type.startswith("multipart/"):
            payload: Any = {}
            files: list[UploadedFile] = []
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                name = part.name or ""
                if name == "payload_json":
                    payload = json.loads(await part.text())
                elif part.filename is not None or name.startswith("files["):
                    data = bytes(await part.read(decode=False))
                    files.append((name, part.filename or name, data))
            return payload, files
        if request.can_read_body:
            text = await request.text()
            if text:
                try:
                    return json.loads(text), []
                except ValueError:
                    return text, []
        return None, []

    def _body(self, request: web.Request) -> Any:
        """The parsed JSON body (or multipart ``payload_json``) of ``request``."""
        return self._bodies.get(id(request), (None, []))[0]

    def _files(self, request: web.Request) -> list[UploadedFile]:
        """The ``files[n]`` parts of a multipart ``request``."""
        return self._bodies.get(id(request), (None, []))[1]

    async def unimplemented_route(self, request: web.Request) -> web.Response:
        what = f"{request.method} {request.path}"
        self.unimplemented.append(what)
        log.warning("fake discord: unimplemented endpoint %s", what)
        return error(404, 0, f"404: Not Found (fake discord does not implement {what})")

    def _channel(self, request: web.Request) -> FakeChannel | None:
        channel = self.state.channels.get(int(request.match_info["channel"]))
        return None if channel is None or channel.deleted else channel

    def _bot_permissions(self, channel: FakeChannel) -> int:
        if channel.guild_id is None:
            return VIEW_CHANNEL | SEND_MESSAGES | ATTACH_FILES | EMBED_LINKS
        guild = self.state.guilds[channel.guild_id]
        return guild.channel_permissions(self.state.bot_user.id, channel)

    def _too_large(
        self, request: web.Request, channel: FakeChannel, files: list[UploadedFile]
    ) -> web.Response | None:
        """Discord's 413 for an upload over the channel's limit.

        The limit holds for the files together and for the request that carries them (the
        multipart envelope and ``payload_json`` included), so a file of exactly the limit is
        refused too.
        """
        if not files:
            return None
        limit = self.state.channel_filesize_limit(channel)
        combined = sum(len(data) for _field, _filename, data in files)
        size = request.content_length
        if size is None:  # chunked: count what was read, payload_json included
            size = combined + len(json.dumps(self._body(request) or {}))
        if combined > limit or size > limit:
            names = ", ".join(filename for _field, filename, _data in files)
            log.info(
                "fake discord: %s is %d bytes (request %d) > limit %d", names, combined, size, limit
            )
            return error(413, 40005, "Request entity too large")
        return None
