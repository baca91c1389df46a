"""The bot's own HTTP server: AKOOL's webhook receiver and a health check.

A valid webhook that says a job finished only makes it due for an immediate poll: polling stays
the baseline and the source of truth, so a forged, late or repeated callback can change nothing by
itself. One that says a job is processing moves its status message on without asking AKOOL.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Final

import discord
from aiohttp import web

from bot.job_loop import JobLoop
from bot.store import JobStore
from bot.webhook import WebhookRejected, WebhookVerifier

log = logging.getLogger(__name__)

WEBHOOK_PATH: Final = "/akool/webhook"
HEALTH_PATH: Final = "/healthz"
# An AKOOL callback is a few hundred bytes; anything far larger is not one.
MAX_BODY_BYTES: Final = 16 * 1024


class WebServer:
    """Serves ``POST /akool/webhook`` and ``GET /healthz`` on ``host:port`` (0 = a free port)."""

    def __init__(
        self,
        *,
        client: discord.Client,
        store: JobStore,
        loop: JobLoop,
        verifier: WebhookVerifier | None,
        host: str,
        port: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._store = store
        self._loop = loop
        self._verifier = verifier
        self._host = host
        self._port = port
        self._clock = clock
        self._runner: web.AppRunner | None = None
        self.port = port

    async def __aenter__(self) -> WebServer:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post(WEBHOOK_PATH, self._webhook)
        app.router.add_get(HEALTH_PATH, self._health)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        log.info("HTTP server listening on %s:%s", self._host, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _webhook(self, request: web.Request) -> web.Response:
        if self._verifier is None:
            log.warning("A webhook arrived, but AKOOL_CLIENT_ID is not set, so it cannot be read")
            return _answer(503, "webhooks are not configured")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            log.warning("Refused an oversized webhook from %s", request.remote)
            return _answer(413, "the body is too large")
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, ValueError):
            log.warning("Refused a webhook from %s: the body is not JSON", request.remote)
            return _answer(400, "the body is not JSON")
        try:
            event = self._verifier.open(body)
        except WebhookRejected as exc:
            log.warning("Refused a webhook from %s: %s", request.remote, exc.reason)
            return _answer(exc.status, exc.reason)
        now = self._clock()
        fresh = await self._store.first_sighting(
            event.signature, now=now, forget_before=now - self._verifier.max_age
        )
        if not fresh:
            log.warning("Refused a webhook from %s: it was already received", request.remote)
            return _answer(409, "this callback was already received")
        job = await self._loop.on_webhook(event.job_id, event.status)
        if job is None:
            # Unknown (not ours, or not stored yet) or already posted: polling covers the rest.
            log.info("Webhook for job %s, which has nothing left to do here", event.job_id)
        else:
            log.info("Webhook says job %s is %s", event.job_id, event.status.name)
        return _answer(200, "ok")

    async def _health(self, request: web.Request) -> web.Response:
        gateway = _gateway_connected(self._client)
        store = await self._store.ping()
        healthy = gateway and store
        body = {"status": "ok" if healthy else "unavailable", "gateway": gateway, "store": store}
        return web.json_response(body, status=200 if healthy else 503)


def _gateway_connected(client: discord.Client) -> bool:
    if client.is_closed() or not client.is_ready():
        return False
    if isinstance(client, discord.AutoShardedClient):
        shards = client.shards.values()
        return bool(shards) and not any(shard.is_closed() for shard in shards)
    socket = client.ws
    return socket is not None and socket.open


def _answer(status: int, message: str) -> web.Response:
    return web.json_response({"status": status, "message": message}, status=status)
